"""Speed of `dockuni scan` over a fleet of images that share a base.

Builds N small images on dockuni-test/debian:bookworm (each the base plus one layer of its own), then
scans them:
  - cold: empty caches, --jobs 1 and --jobs 2;
  - warm layers: the result cache off, the layer cache kept (the base is restored, not unpacked);
  - warm results: a rerun served from the result cache;
and, for fleets of growing size, the cold cost per image with the layer cache (the first image pays
for the base, the others do not). Results go to the `## dockuni scan` section of docs/benchmarks.md.

Usage: python3 bench/scan.py [--images 8] [--trace] [--no-write]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchdoc import write_section  # noqa: E402
from tests.support import engine  # noqa: E402
from transpile.fleet import ImageSpec, ScanOptions, scan  # noqa: E402
from transpile.fleet.runner import ScanResult  # noqa: E402

SECTION = "## dockuni scan"


def build_images(n: int, work: Path) -> list[str]:
    engine.engine()
    tags = []
    for i in range(n):
        ctx = work / f"img{i}"
        ctx.mkdir(parents=True, exist_ok=True)
        (ctx / "Dockerfile").write_text(
            f"FROM {engine.BASE_IMAGE}\nRUN echo {i} > /etc/fleet-bench\nCMD [\"sleep\", \"60\"]\n"
        )
        tag = f"dockuni-bench/scan-{i}:latest"
        subprocess.run([engine.DOCKER, "build", "-q", "-t", tag, str(ctx)], check=True, capture_output=True)
        tags.append(tag)
    return tags


def timed(specs: tuple[ImageSpec, ...], opts: ScanOptions) -> tuple[float, ScanResult]:
    start = time.monotonic()
    result = scan(specs, opts)
    return time.monotonic() - start, result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--trace", action="store_true", help="trace each image (2 s) instead of static only")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dockuni-bench-scan-"))
    try:
        tags = build_images(args.images, work)
        specs = tuple(ImageSpec(f"scan-{i}", "image", t) for i, t in enumerate(tags))
        rows: list[tuple[str, float, ScanResult]] = []

        def run(label: str, out: str, specs_: tuple[ImageSpec, ...] = specs, **kw: object) -> float:
            opts = ScanOptions(str(work / out), trace=args.trace, duration=2.0, **kw)  # type: ignore[arg-type]
            seconds, result = timed(specs_, opts)
            rows.append((label, seconds, result))
            print(f"{label}: {seconds:.1f} s, {result.converted} converted, {result.cached} cached, "
                  f"layers unpacked {result.layers_unpacked}, restored {result.layers_reused}", flush=True)
            return seconds

        cold1 = run("cold, --jobs 1", "j1")
        run("cold, --jobs 2", "j2", jobs=2)
        run("warm layer cache, result cache off, --jobs 1", "j1", use_cache=False)
        run("warm result cache (rerun), --jobs 1", "j1")
        run("cold, --jobs 1, no layer cache", "nolayers", layer_cache=False)
        growth = []
        for n in sorted({1, 2, 4, args.images}):
            if n > args.images:
                continue
            seconds = run(f"cold fleet of {n}, --jobs 1", f"grow{n}", specs[:n])
            growth.append((n, seconds))
    finally:
        for i in range(args.images):
            tag = f"dockuni-bench/scan-{i}:latest"
            subprocess.run([engine.DOCKER, "rmi", "-f", tag], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)

    mode = "traced 2 s each" if args.trace else "static analysis, no trace"
    flag = " --trace" if args.trace else ""
    lines = [
        SECTION,
        "",
        f"`python3 bench/scan.py --images {args.images}{flag}`: {args.images} images,"
        f" each `{engine.BASE_IMAGE}` plus one layer of its own, from the local engine ({mode}); 2 cores.",
        "",
        "| run | seconds | images/hour | converted | from result cache | layers unpacked | layers restored |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, seconds, r in rows:
        n = r.converted + r.cached
        # without the layer cache nothing counts layers
        layers = "n/a | n/a" if "no layer cache" in label else f"{r.layers_unpacked} | {r.layers_reused}"
        lines.append(f"| {label} | {seconds:.1f} | {3600 * n / seconds:.0f} | {r.converted} | {r.cached} | "
                     f"{layers} |")  # fmt: skip
    lines += ["", "Cold cost per image as the fleet grows (layer cache on, --jobs 1):", "",
              "| images | seconds | seconds per image |", "|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {n} | {s:.1f} | {s / n:.2f} |" for n, s in growth]
    lines.append("")
    rerun = rows[3][1] / cold1
    lines.append(f"A rerun costs {rerun:.3f} of the cold run. Timings come from a 2-core machine")
    lines.append("shared with other work: compare rows of one run, and prefer the counted work (images from")
    lines.append("the result cache, layers unpacked) to the seconds.")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
