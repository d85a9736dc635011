"""Builds on the real engine: BuildKit where the engine and a docker CLI have it, legacy otherwise.

Debian's engine (20.10) has BuildKit and its CLI drives it with DOCKER_BUILDKIT=1; both of its builders
predate Dockerfile heredocs, which must give one line with the fix.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import engine
from transpile.errors import DockuniError
from transpile.image import ImageSource, acquire
from transpile.image import build as rb

pytestmark = pytest.mark.engine


@pytest.fixture
def built_images() -> Iterator[list[str]]:
    """Image ids a test built; removed afterwards (other tests share the engine)."""
    ids: list[str] = []
    yield ids
    for image_id in ids:
        subprocess.run([engine.DOCKER, "rmi", "-f", image_id], capture_output=True, check=False)


def _engine_major(client: Any) -> int:
    return int(str(client.version()["Version"]).split(".")[0])


def _dockerfile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return path


HEREDOC = f"FROM {engine.BASE_IMAGE}\nRUN <<EOT\necho hi > /hi\nEOT\n"


def test_plain_dockerfile_builds_with_buildkit_here(
    docker_client: Any, tmp_path: Path, built_images: list[str]
) -> None:
    choice = rb.choose_builder(docker_client)
    # this engine has BuildKit (API >= 1.39) and Debian's CLI drives it
    assert choice.builder == "buildkit", choice.reason
    assert choice.cli is not None
    df = _dockerfile(tmp_path, f"FROM {engine.BASE_IMAGE}\nARG WORD=none\nRUN echo $WORD > /word\n")
    result = rb.build(docker_client, df, tmp_path, {"WORD": "kit"})
    built_images.append(result.image_id)
    assert result.builder == "buildkit" and "engine" in result.reason
    out = subprocess.run(
        [engine.DOCKER, "run", "--rm", "--network", "none", result.image_id, "cat", "/word"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout == "kit\n"


def test_acquire_says_which_builder_built_the_image(docker_client: Any, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("payload\n")
    df = _dockerfile(tmp_path, f"FROM {engine.BASE_IMAGE}\nCOPY f.txt /f.txt\n")
    with acquire(ImageSource(kind="build", ref=str(df))) as img:
        assert img.builder == "buildkit" and img.builder_reason
        assert (img.rootfs / "f.txt").read_text() == "payload\n"
        subprocess.run([engine.DOCKER, "rmi", "-f", img.reference], capture_output=True, check=False)


def test_docker_buildkit_0_asks_for_the_legacy_builder(
    docker_client: Any, tmp_path: Path, built_images: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    df = _dockerfile(tmp_path, f"FROM {engine.BASE_IMAGE}\nRUN echo legacy > /b\n")
    result = rb.build(docker_client, df, tmp_path)
    built_images.append(result.image_id)
    assert result.builder == "legacy" and "DOCKER_BUILDKIT=0" in result.reason


@pytest.mark.parametrize("builder", ["buildkit", "legacy"])
def test_heredoc_on_an_older_builder_is_one_line_with_the_fix(
    docker_client: Any, tmp_path: Path, built_images: list[str], builder: rb.Builder
) -> None:
    df = _dockerfile(tmp_path, HEREDOC)
    if _engine_major(docker_client) >= 23 and builder == "buildkit":
        built_images.append(rb.build(docker_client, df, tmp_path, builder=builder).image_id)
        return  # BuildKit 0.10+ builds heredocs: nothing to report
    with pytest.raises(DockuniError) as info:
        built_images.append(rb.build(docker_client, df, tmp_path, builder=builder).image_id)
    err = info.value
    assert "\n" not in str(err)
    assert (err.file, err.line, err.column, err.exit_code) == (str(df), 2, 1, 2)
    assert "older than this Dockerfile's syntax" in err.message and "RUN heredocs" in err.message
    assert err.message.endswith("upgrade the Docker engine, or build the image yourself and pass --image")


def test_buildkit_only_flag_on_the_legacy_builder_is_one_line(docker_client: Any, tmp_path: Path) -> None:
    df = _dockerfile(tmp_path, f"FROM {engine.BASE_IMAGE}\nRUN --mount=type=tmpfs,target=/t true\n")
    with pytest.raises(DockuniError) as info:
        rb.build(docker_client, df, tmp_path, builder="legacy")
    assert "\n" not in str(info.value)
    assert "uses --mount, which the engine's legacy builder does not support" in info.value.message


def test_other_build_failures_keep_the_build_log(docker_client: Any, tmp_path: Path) -> None:
    df = _dockerfile(tmp_path, f"FROM {engine.BASE_IMAGE}\nRUN echo about-to-fail && exit 7\n")
    with pytest.raises(DockuniError) as info:
        rb.build(docker_client, df, tmp_path)
    assert info.value.message.startswith("docker build failed:")
    assert "about-to-fail" in info.value.message and "7" in info.value.message


@pytest.mark.unit
def test_version_parsing() -> None:
    assert rb._version_tuple("Docker version 20.10.24+dfsg1, build 297e128") == (20, 10, 24)
    assert rb._version_tuple("1.41") == (1, 41)
