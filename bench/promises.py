"""Promises benchmark: what every target delivers against the container it replaces.

For each app (a fixture image) one run converts the image with the real pipeline and `--verify`
(`pipeline.convert(ConvertOptions(image=..., targets=<all>, verify=True))`), so every emitted recipe is
booted on its own runtime (Unikraft, Nanos, OSv, the Linux microVM) and probed as the trace probed the
app; the numbers are report.json's `verify` records. Right after, in the same run, the same image is
started with `docker run --network none` and probed with the same probe functions
(transpile.runtime.qemu.probe, then probe_tcp) from inside the container's network namespace.

Per app and target it reports:
  - image bytes: what the target boots (kernel + image) vs the container image
  - boot-to-first-reply: QEMU's start -> first reply vs `docker run` -> first reply
  - guest memory (sized from the traced peak) and the traced peak itself
  - syscalls the trace saw vs what Docker's default seccomp profile allows
  - the accelerator (kvm or tcg)
A target the model blocks is not emitted, so not booted: its first blocker is reported instead.

Usage: python3 bench/promises.py [--apps LIST] [--duration S] [--write docs/benchmarks.md] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchdoc import write_section  # noqa: E402
from tests.support import engine  # noqa: E402  (fixture images, built with the real engine)
from transpile import pipeline  # noqa: E402
from transpile import targets as registry  # noqa: E402
from transpile.errors import DockuniError  # noqa: E402
from transpile.passes.compat import attack_surface  # noqa: E402

# app -> (fixture image, what it is)
APPS: dict[str, tuple[str, str]] = {
    "static-pie": ("server-variants", "C HTTP server, glibc static-pie"),
    "dynamic-pie": ("server-pie", "the same server, dynamic glibc PIE (ld.so + libc.so.6)"),
    "python-http": ("python-http", "Debian's `python3 -m http.server`"),
    "go": ("go-pie", "Go HTTP server, PIE, CGO off"),
    "nginx-single": ("nginx-single", "Debian nginx, `daemon off; master_process off;`"),
    "redis": ("redis", "Debian redis-server"),
}
SECTION = "## Promises: every target vs the container"
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
DOCKER_TIMEOUT_S = 60.0
TCG_NOTE = ", software emulation: absolute boot times are several times what KVM gives"

# Runs as the host's python inside the container's network namespace (nsenter --net): only the probe
# runs there, no image content. The same probe functions as the VM boots, polled until a reply.
_PROBE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from transpile.runtime.qemu import probe, probe_tcp
ports = [int(p) for p in sys.argv[3].split(",")]
deadline = time.monotonic() + float(sys.argv[2])
replies = {}
while time.monotonic() < deadline and len(replies) < len(ports):
    for port in ports:
        if port not in replies:
            line = probe(port, timeout=1.0) or probe_tcp(port, timeout=1.0)
            if line:
                replies[port] = line
    time.sleep(0.02)
print("; ".join(f"port {p}: {r}" for p, r in sorted(replies.items())))
sys.exit(0 if len(replies) == len(ports) else 1)
"""


@dataclass
class AppResult:
    name: str
    fixture: str
    what: str
    image_bytes: int = 0
    ports: list[int] = field(default_factory=list)
    syscalls_used: int = 0
    docker_default: int = 0
    syscalls_outside_default: int = 0
    traced_peak_mib: float | None = None
    convert_s: float = 0.0
    exit_code: int | None = None
    error: str = ""
    verify: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_emitted: dict[str, str] = field(default_factory=dict)  # target -> why (its first blocker)
    docker_reply_s: float | None = None
    docker_detail: str = ""


def _peak_mib(facts: Any) -> float | None:
    extra = getattr(facts.trace, "extra", None) if facts.trace is not None else None
    cgroup = extra.get("cgroup") if isinstance(extra, dict) else None
    value = cgroup.get("memory_max_usage_in_bytes") if isinstance(cgroup, dict) else None
    return round(value / 2**20, 1) if isinstance(value, int) and value > 0 else None


def convert(res: AppResult, tag: str, out: Path, duration: float) -> None:
    """The real pipeline with --verify, every target asked for; fills RES from report.json."""
    from transpile.targets import _common

    opts = pipeline.ConvertOptions(
        image=tag,
        targets=registry.names(),
        output=str(out),
        force=True,
        verify=True,
        duration=duration,
    )
    t0 = time.monotonic()
    try:
        result = pipeline.convert(opts)
    except DockuniError as err:
        res.error = str(err)
        return
    res.convert_s = round(time.monotonic() - t0, 1)
    res.exit_code = result.exit_code
    facts = result.facts
    report = json.loads((out / "report.json").read_text())
    res.verify = dict(report.get("verify") or {})
    res.image_bytes = facts.image_bytes
    res.ports = [p for p, proto in _common.listening_ports(facts) if proto == "tcp"]
    surface = attack_surface(facts.trace)
    res.syscalls_used = surface.needed
    res.docker_default = surface.docker_default
    res.syscalls_outside_default = surface.needed_outside_default
    res.traced_peak_mib = _peak_mib(facts)
    for verdict in facts.verdicts:
        if verdict.target in registry.names() and verdict.target not in res.verify:
            why = verdict.blockers[0] if verdict.blockers else "not emitted"
            res.not_emitted[verdict.target] = why


def docker_boot_to_reply(
    tag: str, ports: list[int], timeout: float = DOCKER_TIMEOUT_S
) -> tuple[float | None, str]:
    """`docker run -d --network none` -> first reply on every port, probed in the container's netns."""
    t0 = time.monotonic()
    cid = subprocess.run(
        [DOCKER, "run", "-d", "--rm", "--network", "none", tag], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        pid = subprocess.run(
            [DOCKER, "inspect", "-f", "{{.State.Pid}}", cid], capture_output=True, text=True, check=True
        ).stdout.strip()
        out = subprocess.run(
            [
                "nsenter",
                f"--net=/proc/{pid}/ns/net",
                sys.executable,
                "-c",
                _PROBE,
                str(ROOT),
                str(timeout),
                ",".join(map(str, ports)),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - t0
        detail = out.stdout.strip() or out.stderr.strip()[-300:]
        return (round(elapsed, 3) if out.returncode == 0 else None), detail
    finally:
        subprocess.run([DOCKER, "rm", "-f", cid], capture_output=True, check=False)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _cell(text: str, limit: int = 140) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def accelerator(results: list[AppResult]) -> str:
    seen = sorted({str(v["accelerator"]) for r in results for v in r.verify.values() if v.get("accelerator")})
    return " and ".join(seen) or "none (nothing booted)"


def render(results: list[AppResult], command: str, duration: float) -> str:
    accel = accelerator(results)
    lines = [
        SECTION,
        "",
        f"Measured by `bench/promises.py` in one run on this machine (2 cores, shared with other work; "
        f"QEMU accelerator: **{accel}**{TCG_NOTE if accel == 'tcg' else ''}"
        f"; trace duration {duration:g} s per app):",
        "",
        "```",
        command,
        "```",
        "",
        "Each app is converted by the real pipeline with `--verify` and every target asked for; a target's "
        "numbers are its report.json `verify` record. Boot-to-reply is from QEMU's start to the first reply "
        "on every port the trace saw (HTTP `GET /`, then a plain TCP check), against `docker run --network "
        "none` of the same image to the first reply from the same probe functions, run in the container's "
        "network namespace, measured right after in the same run. Image bytes are what the target boots "
        "against the container image: for a unikernel its kernel and image, for the microVM its initramfs "
        "(the kernel is the host's stock Debian kernel, not counted). Guest memory is the traced peak with a "
        "margin, never below the runtime's own floor.",
        "",
        "| app | container image | `docker run` to reply | traced peak memory "
        "| syscalls used / Docker default (outside it) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        if r.error:
            lines.append(f"| {r.name} | conversion failed: {_cell(r.error)} | | | |")
            continue
        peak = f"{r.traced_peak_mib} MiB" if r.traced_peak_mib is not None else "n/a"
        reply = f"no reply ({_cell(r.docker_detail)})"
        if r.docker_reply_s is not None:
            reply = f"{r.docker_reply_s:.2f} s"
        lines.append(
            f"| {r.name}: {r.what} | {_mb(r.image_bytes)} | {reply} | {peak} | "
            f"{r.syscalls_used} / {r.docker_default} ({r.syscalls_outside_default}) |"
        )
    lines += [
        "",
        "| app | target | result | boot-to-reply (x `docker run`) | image bytes (x container image) "
        "| guest memory | accel | detail |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for target in registry.names():
            v = r.verify.get(target)
            if v is None:
                why = r.not_emitted.get(target, r.error or "not emitted")
                lines.append(f"| {r.name} | {target} | not emitted | | | | | {_cell(why)} |")
                continue
            seconds = v.get("boot_to_reply_s")
            reply = "–"
            if isinstance(seconds, int | float):
                reply = f"{seconds:.2f} s"
                if r.docker_reply_s:
                    reply += f" ({seconds / r.docker_reply_s:.1f}x)"
            size = int(v.get("image_bytes") or 0)
            size_cell = f"{_mb(size)} ({size / r.image_bytes:.3f}x)" if size and r.image_bytes else "–"
            memory = f"{v.get('memory_mib')} MiB" if v.get("memory_mib") else "–"
            detail = "" if v.get("status") == "answered" else _cell(str(v.get("detail", "")))
            lines.append(
                f"| {r.name} | {target} | {v.get('status')} | {reply} | {size_cell} | {memory} "
                f"| {v.get('accelerator') or '–'} | {detail} |"
            )
    answered = sum(1 for r in results for v in r.verify.values() if v.get("status") == "answered")
    booted = sum(1 for r in results for v in r.verify.values() if v.get("status") != "skipped")
    lines += ["", f"{answered} of {booted} booted recipes answered."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--apps", default=",".join(APPS), help=f"comma-separated, of: {', '.join(APPS)}")
    ap.add_argument("--duration", type=float, default=8.0, help="trace duration per app, seconds")
    ap.add_argument("--write", metavar="MD", help="replace this benchmark's section of this markdown file")
    ap.add_argument("--work", metavar="DIR", help="keep each app's conversion output here (default: temp)")
    args = ap.parse_args(args_list)
    names = [n for n in args.apps.split(",") if n]
    unknown = [n for n in names if n not in APPS]
    if unknown:
        ap.error(f"unknown app(s): {', '.join(unknown)}")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="dockuni-promises-"))
    work.mkdir(parents=True, exist_ok=True)
    results: list[AppResult] = []
    try:
        for name in names:
            fixture, what = APPS[name]
            res = AppResult(name, fixture, what)
            results.append(res)
            tag = engine.fixture_image(fixture)
            print(f"bench: {name}: converting {tag} with --verify", file=sys.stderr, flush=True)
            convert(res, tag, work / name, args.duration)
            if res.ports:
                print(f"bench: {name}: docker run", file=sys.stderr, flush=True)
                res.docker_reply_s, res.docker_detail = docker_boot_to_reply(tag, res.ports)
            summary = {t: (v.get("status"), v.get("boot_to_reply_s")) for t, v in res.verify.items()}
            print(f"bench: {name}: {summary} docker {res.docker_reply_s}", file=sys.stderr, flush=True)
        command = " ".join(["python3", "bench/promises.py", *args_list])
        section = render(results, command, args.duration)
        print(section)
        print(json.dumps([r.__dict__ for r in results], indent=2, default=str))
        if args.write:
            write_section(SECTION, section, Path(args.write))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
