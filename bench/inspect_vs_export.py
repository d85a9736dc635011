"""Speed of `dockuni inspect --archive` against `docker export` + `tar -x` of the same image.

One run, on the python-http fixture's `docker save` tar: the wall time of the whole
`dockuni inspect --archive TAR --format json` process (unpack every layer safely, resolve the
entrypoint, read ELFs, compute the closure, remove the rootfs) against creating a container of the
image, `docker export` piped into `tar -x` into a fresh directory, and removing both. Both write
the full root filesystem to the same disk. Results go to the `## dockuni inspect vs docker export`
section of docs/benchmarks.md (other sections are kept).

Usage: python3 bench/inspect_vs_export.py [--repeat 3] [--no-write]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchdoc import write_section  # noqa: E402
from tests.support import engine  # noqa: E402  (fixture images, built with the real engine)

SECTION = "## dockuni inspect vs docker export"
FIXTURE = "python-http"


def _time_inspect(archive: Path, work: Path) -> float:
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "transpile.cli", "inspect", "--archive", str(archive), "--format", "json"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        env={"TMPDIR": str(work), "PATH": "/usr/bin:/bin"},
    )
    return time.monotonic() - start


def _time_export(tag: str, work: Path) -> float:
    dest = Path(tempfile.mkdtemp(dir=work))
    start = time.monotonic()
    cid = subprocess.run(
        [engine.DOCKER, "create", "--network", "none", tag], check=True, capture_output=True, text=True
    ).stdout.strip()
    export = subprocess.Popen([engine.DOCKER, "export", cid], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=export.stdout, check=True)
    export.wait()
    subprocess.run([engine.DOCKER, "rm", cid], check=True, capture_output=True)
    shutil.rmtree(dest)
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    engine.engine()
    tag = engine.fixture_image(FIXTURE)
    with tempfile.TemporaryDirectory(prefix="dockuni-bench-") as tmp:
        work = Path(tmp)
        archive = work / f"{FIXTURE}.tar"
        subprocess.run([engine.DOCKER, "save", "-o", str(archive), tag], check=True)
        size = archive.stat().st_size
        _time_inspect(archive, work)  # warm-up: page cache and bytecode, for both sides alike
        _time_export(tag, work)
        ours, theirs = [], []
        for _ in range(args.repeat):  # interleaved, so that load from elsewhere hits both
            ours.append(_time_inspect(archive, work))
            theirs.append(_time_export(tag, work))
    mo, mt = statistics.median(ours), statistics.median(theirs)
    section = (
        f"{SECTION}\n\n"
        f"The {FIXTURE} fixture ({size / 2**20:.0f} MiB `docker save` tar), median of {args.repeat} "
        "interleaved runs after one warm-up. dockuni: the whole "
        "`dockuni inspect --archive TAR --format json` process "
        "(safe unpack of every layer, entrypoint, ELF facts, closure, clean-up). docker: `docker create`, "
        "`docker export | tar -x` into a fresh directory, `docker rm`, directory removed.\n\n"
        "```\npython3 bench/inspect_vs_export.py --repeat 3\n```\n\n"
        "| measure | median | min |\n| --- | --- | --- |\n"
        f"| `dockuni inspect --archive` | {mo:.2f} s | {min(ours):.2f} s |\n"
        f"| `docker export` + `tar -x` | {mt:.2f} s | {min(theirs):.2f} s |\n"
        f"| ratio dockuni / docker export | {mo / mt:.2f}x | |\n"
    )
    print(section)
    if not args.no_write:
        write_section(SECTION, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
