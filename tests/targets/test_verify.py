"""`convert --verify`: every emitted recipe booted on its real runtime and probed as the trace probed
the app (kernels built from the pinned sources, QEMU; TCG here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import engine
from tests.support.kernels import kernel_dir
from transpile import pipeline
from transpile import targets as registry

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello"


@pytest.fixture(scope="module", autouse=True)
def kernels() -> None:
    for name in registry.kernel_runtimes():
        kernel_dir(name)  # built once from the archives, then from the cache


def _report(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "report.json").read_text())
    return data


def test_a_static_pie_server_answers_on_every_target(tmp_path: Path) -> None:
    out = tmp_path / "hello"
    opts = pipeline.ConvertOptions(
        dockerfile=str(EXAMPLE / "Dockerfile"),
        archive=str(EXAMPLE / "hello.tar"),
        output=str(out),
        verify=True,
    )
    result = pipeline.convert(opts)
    verify = _report(out)["verify"]
    assert isinstance(verify, dict)
    assert set(verify) == {"unikraft", "nanos", "osv", "microvm"}
    for name, record in verify.items():
        assert record["status"] == "answered", (name, record)
        assert record["boot_to_reply_s"] > 0 and record["accelerator"] in ("kvm", "tcg")
        assert record["image_bytes"] > 0 and record["memory_mib"] >= 64
        assert (out / record["console_log"]).is_file()
    # ranked by what was measured: fastest first reply first
    times = [verify[t]["boot_to_reply_s"] for t in result.ranking]
    assert times == sorted(times) and result.exit_code == 0
    assert "## Verification" in (out / "report.md").read_text()


def test_python_http_answers_on_nanos_and_a_failed_boot_says_why(tmp_path: Path) -> None:
    out = tmp_path / "py"
    opts = pipeline.ConvertOptions(
        dockerfile=str(engine.IMAGES / "python-http" / "Dockerfile"),
        image=engine.fixture_image("python-http"),
        targets=("nanos", "osv"),
        output=str(out),
        verify=True,
    )
    result = pipeline.convert(opts)
    verify = _report(out)["verify"]
    assert isinstance(verify, dict)
    assert verify["nanos"]["status"] == "answered", verify["nanos"]
    assert "nanos" in result.ranking
    for name, record in verify.items():
        if record["status"] == "failed":
            # the console's telling lines are the blocker, and the target is no longer recommended
            assert record["detail"] and name not in result.ranking
            verdict = next(v for v in result.facts.verdicts if v.target == name)
            assert not verdict.ok and any(b.need == "boot:failed" for b in verdict.details)
            assert result.exit_code == 1


def test_a_target_without_a_runtime_is_skipped_with_the_command_that_builds_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))  # no kernel built there
    out = tmp_path / "hello"
    opts = pipeline.ConvertOptions(
        dockerfile=str(EXAMPLE / "Dockerfile"),
        archive=str(EXAMPLE / "hello.tar"),
        targets=("unikraft",),
        output=str(out),
        verify=True,
    )
    result = pipeline.convert(opts)
    record = _report(out)["verify"]["unikraft"]  # type: ignore[index]
    assert record["status"] == "skipped" and "dockuni kernels build" in record["detail"]
    assert result.exit_code == 0  # nothing failed: the recipe was just not booted


def _answer(port: int, deadline: float) -> str:
    import time
    import urllib.request

    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as reply:
                return str(reply.read(64).decode(errors="replace"))
        except OSError:
            time.sleep(0.3)
    return ""


@pytest.mark.parametrize("target", ["unikraft", "nanos", "osv"])
def test_the_recipes_run_sh_boots_the_app(target: str, tmp_path: Path) -> None:
    """The recipe itself is proof: its run.sh boots its bootable form and the app answers."""
    import os
    import signal
    import subprocess
    import time

    out = tmp_path / "hello"
    opts = pipeline.ConvertOptions(
        dockerfile=str(EXAMPLE / "Dockerfile"),
        archive=str(EXAMPLE / "hello.tar"),
        targets=(target,),
        duration=3.0,
        output=str(out),
    )
    pipeline.convert(opts)
    script = out / target / "run.sh"
    assert os.access(script, os.X_OK)
    proc = subprocess.Popen(
        [str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        reply = _answer(8080, time.monotonic() + 60)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert reply.startswith("hello from a dockuni example"), reply
