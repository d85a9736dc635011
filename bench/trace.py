"""Speed of `dockuni trace`, and what strace costs.

One run measures, on the python-http fixture:
  - the wall time of `dockuni trace --archive python-http.tar` as a user runs it (image unpacking
    included), and of the trace alone (`run_trace` on an already unpacked rootfs);
  - strace's overhead: the same sandbox and the same probe workload (N sequential HTTP GETs from
    inside the sandbox's network namespace) with and without strace; the ratio traced/untraced of
    the workload's time.
Results go to the `## dockuni trace` section of docs/benchmarks.md (other sections are kept).

Usage: python3 bench/trace.py [--requests 200] [--repeat 3] [--no-write]
"""

from __future__ import annotations

import argparse
import os
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
from transpile.image import ImageSource, acquire  # noqa: E402
from transpile.sandbox import TraceOptions, run_trace  # noqa: E402

SECTION = "## dockuni trace"
DOCS = ROOT / "docs" / "benchmarks.md"
FIXTURE = "python-http"


def load_seconds(rootfs: Path, config: object, requests: int, traced: bool) -> float:
    opts = TraceOptions(duration_s=60.0, settle_s=0.2, probe_repeat=requests, trace=traced)
    facts = run_trace(rootfs, config, opts)  # type: ignore[arg-type]
    load = [p for p in facts.probes if p["kind"] == "load"]
    if not load or not load[0]["ok"]:
        raise SystemExit(
            f"load probe failed ({'traced' if traced else 'untraced'}): {facts.probes} {facts.findings}"
        )
    return float(load[0]["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=200, help="HTTP GETs in the probe workload (default 200)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dockuni-bench-") as tmp:
        tag = engine.fixture_image(FIXTURE)
        tar = Path(tmp) / f"{FIXTURE}.tar"
        subprocess.run([engine.DOCKER, "save", "-o", str(tar), tag], check=True)
        cli = [sys.executable, "-m", "transpile.cli", "trace", "--archive", str(tar), "--format", "json"]
        walls = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            if res.returncode != 0:
                raise SystemExit(f"dockuni trace failed: {res.stderr}")
        with acquire(ImageSource(kind="archive", ref=str(tar)), workdir=Path(tmp) / "img") as img:
            trace_only = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                run_trace(img.rootfs, img.config, TraceOptions())
                trace_only.append(time.perf_counter() - t0)
            traced = [load_seconds(img.rootfs, img.config, args.requests, True) for _ in range(args.repeat)]
            untraced = [
                load_seconds(img.rootfs, img.config, args.requests, False) for _ in range(args.repeat)
            ]
    ratio = statistics.median(traced) / statistics.median(untraced)
    wall = statistics.median(walls)
    unpack = wall - statistics.median(trace_only)
    lines = [
        f"dockuni trace --archive {FIXTURE}.tar: median {wall:.2f} s (min {min(walls):.2f} s)  target < 15 s",
        f"run_trace on the unpacked rootfs:   median {statistics.median(trace_only):.2f} s",
        f"{args.requests} HTTP GETs traced:   median {statistics.median(traced):.3f} s",
        f"{args.requests} HTTP GETs untraced: median {statistics.median(untraced):.3f} s",
        f"strace overhead (traced/untraced): {ratio:.2f}x",
    ]
    print("\n".join(lines))
    if not args.no_write:
        cores = os.cpu_count()
        section = (
            f"{SECTION}\n\n"
            f"The python-http fixture on {cores} cores, median of {args.repeat} runs each. The wall time is\n"
            "the whole command as a user runs it (unpacking the `docker save` tar included); the trace\n"
            "alone is `run_trace` on the unpacked rootfs (sandbox set-up, start, probes, 1 s settle,\n"
            f"stop, clean-up). The overhead is the time of the same workload ({args.requests} sequential\n"
            "HTTP GETs from inside the sandbox's network namespace) with and without strace in the same\n"
            "sandbox.\n\n"
            f"```\npython3 bench/trace.py --requests {args.requests} --repeat {args.repeat}\n```\n\n"
            "| measure | result | target |\n| --- | --- | --- |\n"
            f"| `dockuni trace --archive` (min / median) | {min(walls):.2f} s / {wall:.2f} s | < 15 s |\n"
            f"| trace alone, unpacked rootfs (median) | {statistics.median(trace_only):.2f} s | |\n"
            f"| {args.requests} GETs traced (median) | {statistics.median(traced):.3f} s | |\n"
            f"| {args.requests} GETs untraced (median) | {statistics.median(untraced):.3f} s | |\n"
            f"| strace overhead, traced/untraced | {ratio:.2f}x | |\n\n"
            f"The difference between the first two rows ({unpack:.1f} s) is mostly unpacking the image's\n"
            "layers (`transpile.image`), which is bound by the disk here.\n\n"
        )
        write_section(SECTION, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
