"""`dockuni scan` over eleven real images: scan.json against per-image converts, the result cache,
resume after Ctrl-C, a Dask cluster, and index.html rendered by headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import engine
from transpile.fleet import ScanOptions, read_manifest, scan
from transpile.fleet.records import SCHEMA

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ["static-server", "python-http", "nginx", "redis", "shell-script", "forking-server"]
SMALL = ["fleet-sleep", "fleet-tail", "fleet-shell-loop", "fleet-cat", "fleet-true"]
ARTIFACTS = Path(os.environ.get("DOCKUNI_TEST_ARTIFACTS", ROOT / "test-artifacts"))


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def tags() -> dict[str, str]:
    return {name: engine.fixture_image(name) for name in FIXTURES + SMALL}


@pytest.fixture(scope="module")
def manifest(tags: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifest") / "fleet.yaml"
    path.write_text("images:\n" + "".join(f"  - name: {n}\n    image: {t}\n" for n, t in tags.items()))
    return path


@pytest.fixture(scope="module")
def first(manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("scan") / "out"
    # static verdicts: a traced run's syscall set varies a little between runs; these tests compare runs
    result = scan(read_manifest(str(manifest)), ScanOptions(output=str(out), jobs=2, trace=False))
    return out, result


def _same(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("seconds", "output")}


def test_scan_json_matches_a_per_image_convert(first: tuple[Path, Any], tags: dict[str, str]) -> None:
    out, result = first
    doc = json.loads((out / "scan.json").read_text())
    assert doc["schema"] == SCHEMA
    assert [r["name"] for r in doc["images"]] == list(tags)
    assert result.converted == len(tags) and result.cached == 0
    for rec in doc["images"]:
        assert rec["error"] is None, rec
        proc = subprocess.run(
            [sys.executable, "-m", "transpile.cli", "convert", "--image", tags[rec["name"]], "--no-trace",
             "--format", "json", "-o", str(out.parent / f"single-{rec['name']}")],
            capture_output=True, text=True, env=_env(), cwd=ROOT, check=False,
        )  # fmt: skip
        assert proc.returncode in (0, 1), proc.stderr
        single = json.loads(proc.stdout)
        verdicts = {
            t["target"]: "ready" if t["ok"] else "unverified" if t["status"] == "unknown" else "blocked"
            for t in single["targets"]
        }
        assert rec["verdicts"] == verdicts, rec["name"]
        best = doc["fallback"] if single["fallback"] else single["ranking"][0]
        assert rec["best_target"] == best, rec["name"]
        missing = {t["target"]: sorted(i["item"] for i in t["items"] if i["support"] == "missing")
                   for t in single["targets"]}  # fmt: skip
        assert {t: sorted(b["item"] for b in bs) for t, bs in rec["blockers"].items()} == {
            t: items for t, items in missing.items() if items
        }
        assert rec["footprint"]["image_bytes"] == single["footprint"]["image_bytes"] > 0
        assert (out / rec["output"] / "report.json").is_file()
    ready = doc["totals"]["ready"]
    assert ready == {t: sum(r["verdicts"][t] == "ready" for r in doc["images"]) for t in doc["targets"]}
    # the static binary is ready for some unikernel; the shell loop forks and is not
    kinds = doc["kinds"]
    by_name = {r["name"]: r for r in doc["images"]}
    # without traces a unikernel is decided only by static facts: the static non-PIE server is blocked on
    # the PIE-only loader and undecided elsewhere; nothing is recommended over the container fallback
    static = by_name["static-server"]["verdicts"]
    assert static["unikraft"] == "blocked" and "unverified" in static.values()
    assert not any(v == "ready" for t, v in static.items() if kinds[t] == "unikernel")
    assert by_name["fleet-shell-loop"]["best_target"] == doc["fallback"]
    csv_rows = (out / "scan.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + len(tags)


def test_rerun_is_served_from_the_cache(first: tuple[Path, Any], manifest: Path) -> None:
    out, result = first
    again = scan(read_manifest(str(manifest)), ScanOptions(output=str(out), jobs=2, trace=False))
    # every image from the cache, none converted: far more than 5x less work
    assert (again.cached, again.converted) == (len(result.document["images"]), 0)
    assert [_same(r) for r in again.document["images"]] == [_same(r) for r in result.document["images"]]


def test_csv_manifest_with_name_and_image(
    first: tuple[Path, Any], tags: dict[str, str], tmp_path: Path
) -> None:
    _, result = first
    m = tmp_path / "fleet.csv"
    m.write_text("name,image\n" + f"fleet-sleep,{tags['fleet-sleep']}\nfleet-cat,{tags['fleet-cat']}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "transpile.cli", "scan", str(m), "--no-trace", "-o", str(tmp_path / "o"),
         "--format", "json"], capture_output=True, text=True, env=_env(), cwd=ROOT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "[2/2]" in proc.stderr  # not a TTY: one line per image
    doc = json.loads((tmp_path / "o" / "scan.json").read_text())
    want = {r["name"]: _same(r) for r in result.document["images"]}
    assert {r["name"]: _same(r) for r in doc["images"]} == {n: want[n] for n in ("fleet-sleep", "fleet-cat")}


def test_index_html_renders_in_chromium(first: tuple[Path, Any], tmp_path: Path) -> None:
    out, result = first
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (tools/test.sh installs it)"
    page = (out / "index.html").read_text()
    # nothing is fetched: no src/href to another origin, no CSS url(), no @import
    assert not re.search(r"(src|href)=\"(https?:)?//", page) and "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # the charts' clip paths refer to the page itself
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run(
        [*base, "--dump-dom", (out / "index.html").as_uri()], capture_output=True, text=True, timeout=120,
        check=True,
    ).stdout  # fmt: skip
    assert dom.count("<svg") == 4
    assert dom.count("<tr>") == 1 + len(result.document["images"])
    assert "Readiness per target" in dom and "static-server" in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "fleet-index.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1300,1400", (out / "index.html").as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ctrl_c_leaves_a_resumable_cache(tags: dict[str, str], tmp_path: Path) -> None:
    m = tmp_path / "fleet.csv"
    names = ["python-http", "nginx", "redis", "fleet-sleep"]
    m.write_text("name,image\n" + "".join(f"{n},{tags[n]}\n" for n in names))
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-m", "transpile.cli", "scan", str(m), "--no-trace", "-o", str(out)],
        env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # a test run in the background may have inherited SIGINT ignored: give the scan the default,
        # so that Python turns it into KeyboardInterrupt as in a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    cache = out / ".cache" / "results"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(cache.glob("*.json")) and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the scan finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert not (out / "scan.json").exists()
    done = len(list(cache.glob("*.json")))
    assert 1 <= done < len(names)
    resumed = scan(read_manifest(str(m)), ScanOptions(output=str(out), trace=False))
    assert resumed.cached == done and resumed.converted == len(names) - done
    assert all(r["error"] is None for r in resumed.document["images"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    # `dask scheduler` / `dask worker` from this interpreter's environment (the fleet extra)
    dask = [sys.executable, "-m", "dask"]
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], env=_env(), cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        for _ in range(2):
            procs.append(subprocess.Popen(
                [*dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_dask_run_gives_the_local_results(first: tuple[Path, Any], manifest: Path, dask_cluster: str,
                                          tmp_path: Path) -> None:  # fmt: skip
    _, result = first
    wanted = ("static-server", "fleet-tail", "redis")
    specs = tuple(s for s in read_manifest(str(manifest)) if s.name in wanted)
    dist = scan(specs, ScanOptions(output=str(tmp_path / "d"), scheduler=dask_cluster, trace=False))
    assert dist.converted == 3
    local = {r["name"]: _same(r) for r in result.document["images"]}
    assert [_same(r) for r in dist.document["images"]] == [local[s.name] for s in specs]
