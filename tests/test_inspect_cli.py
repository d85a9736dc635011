"""`dockuni inspect` end to end: formats, exit codes, and bad input without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.layers import E, docker_save, layer

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[1]


def _dockuni(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "transpile.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_inspect_json_archive(fixture_archive: Callable[[str], Path]) -> None:
    proc = _dockuni("inspect", "--archive", str(fixture_archive("c-variants")), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["config"]["cmd"] == ["cv-origin"]
    steps = doc["entrypoint"]["steps"]
    assert [(s["kind"], s["resolved"]) for s in steps] == [("elf", "/opt/cv/bin/origin")]
    (closure,) = doc["closures"]
    assert {lib["name"]: lib["via"] for lib in closure["libraries"]} == {
        "libgreet.so": "rpath",
        "libc.so.6": "ld.so.cache",
    }
    assert closure["interpreter"]["realpath"].endswith("/ld-linux-x86-64.so.2")
    assert doc["closure_bytes"] == sum(
        f["size"] for f in [closure["program"], closure["interpreter"], *closure["libraries"]]
    )
    assert 0 < doc["closure_ratio"] < 0.1
    assert doc["image_bytes"] > doc["closure_bytes"]
    assert doc["elfs"][0]["pie"] is True


def test_inspect_text_image(docker_client: object, fixture_image: Callable[[str], str]) -> None:
    proc = _dockuni("inspect", "--image", fixture_image("static-server"))
    assert proc.returncode == 0, proc.stderr
    assert "/httpd" in proc.stdout and "static" in proc.stdout
    assert "closure" in proc.stdout and "size" in proc.stdout


def test_inspect_missing_entrypoint_and_library(tmp_path: Path) -> None:
    archive = docker_save(
        [layer([E("bin/app", data=b"#!/nonexistent/interp\n", mode=0o755)])],
        tmp_path / "a.tar",
        config={"Entrypoint": ["/bin/app"]},
    )
    proc = _dockuni("inspect", "--archive", str(archive), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [f["rule"] for f in doc["findings"]] == ["DU903"]
    assert doc["entrypoint"]["steps"][-1]["kind"] == "missing"


@pytest.mark.parametrize(
    ("make", "code", "text"),
    [
        (lambda d: d / "absent.tar", 2, "no such file"),
        (lambda d: (d / "junk.tar").write_bytes(b"junk" * 300) and d / "junk.tar", 2, "not a readable tar"),
        (lambda d: docker_save([layer([E("f")])], d / "arm.tar", arch="arm64"), 2, "linux/arm64"),
        (lambda d: docker_save([layer([E("f")]), layer([E("g")])], d / "m.tar", drop_layer=0), 2, "missing"),
    ],
    ids=["absent", "corrupt", "other-arch", "missing-layer"],
)
def test_inspect_bad_input(tmp_path: Path, make: Callable[[Path], Path], code: int, text: str) -> None:
    path = make(tmp_path)
    proc = _dockuni("inspect", "--archive", str(path))
    assert proc.returncode == code
    assert text in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(str(path) + ": ")


def test_inspect_without_engine_is_exit_3(tmp_path: Path) -> None:
    proc = _dockuni("inspect", "--image", "x", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert proc.returncode == 3 and "Docker engine" in proc.stderr and "Traceback" not in proc.stderr


def test_inspect_build_reports_config_the_dockerfile_does_not_show(
    docker_client: object, tmp_path: Path
) -> None:
    # The base image's CMD is inherited: the built image runs /bin/bash although the Dockerfile names no
    # command, which DU901 points out (the base image is made by `docker import -c 'CMD ["/bin/bash"]'`).
    (tmp_path / "Dockerfile").write_text("FROM dockuni-test/debian:bookworm\nENV GREETING=hi\n")
    proc = _dockuni("inspect", "--build", str(tmp_path / "Dockerfile"), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    du901 = [f for f in doc["findings"] if f["rule"] == "DU901"]
    assert du901, doc["findings"]
    assert any("/bin/bash" in f["message"] + f["evidence"] for f in du901), du901
