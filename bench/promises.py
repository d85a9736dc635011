"""Promises benchmark: what the microvm target delivers against the container it replaces.

One run measures, for each fixture image (nginx, python-http, redis, static-server):
  - size: source image bytes vs initramfs bytes + kernel bytes
  - kernel options enabled: the app's specialized config (tinyconfig + fragment + olddefconfig) vs
    Debian's stock /boot/config-*
  - syscalls: what the trace saw the app use vs what Docker's default seccomp profile allows
  - boot-to-reply: the specialized kernel (-M microvm) vs Debian's stock kernel (-M pc, e1000 module)
    vs `docker run --network none` with the probe run inside the container's network namespace
It builds ONE specialized kernel for real (the union of the four apps' fragments, so every fixture
boots on it) with the recipe's own build-kernel.sh, and records its build time and size.

Usage: python3 bench/promises.py [--write docs/benchmarks.md] [--work DIR]
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
from transpile.model.conversion import ConversionFacts  # noqa: E402
from transpile.targets import kconfig, microvm, qemu  # noqa: E402

FIXTURES = ("nginx", "python-http", "redis", "static-server")
SECTION = "## Promises: microVM vs container"
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
BOOT_TIMEOUT = 120.0


@dataclass
class AppResult:
    name: str
    image_bytes: int = 0
    initramfs_bytes: int = 0
    initramfs_paths: int = 0
    fragment_options: int = 0
    kernel_options: int = 0  # enabled in the app's own olddefconfig'd .config
    syscalls_used: int = 0
    syscalls_outside_default: int = 0
    lupine: str = ""
    boots: dict[str, dict[str, Any]] = field(default_factory=dict)
    docker_reply_s: float | None = None
    docker_detail: str = ""


def _facts(tag: str, rootfs: Path, config: Any, reference: str, image_bytes: int) -> ConversionFacts:
    from transpile.passes.closure import compute_closure
    from transpile.passes.entrypoint import resolve_entrypoint
    from transpile.sandbox.runner import TraceOptions, run_trace

    chain = resolve_entrypoint(config, rootfs)
    program = chain.program
    closure = (
        compute_closure(rootfs, program.resolved or program.path, config.env_dict()) if program else None
    )
    trace = run_trace(rootfs, config, TraceOptions(duration_s=8.0))
    argv = config.argv
    if argv and not argv[0].startswith("/") and chain.steps and chain.steps[0].path:
        argv = (chain.steps[0].path, *argv[1:])
    return ConversionFacts(
        dockerfile_path=None,
        dockerfile=None,
        image_reference=reference,
        config=config,
        argv=argv,
        chain=chain,
        closure=closure,
        trace=trace,
        findings=(),
        verdicts=(),
        image_bytes=image_bytes,
    )


def _write_recipe(recipe: Any, dest: Path) -> None:
    for rel, data in recipe.files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(data)
    for rel in recipe.executable:
        (dest / rel).chmod(0o755)


def prepare(name: str, work: Path) -> tuple[AppResult, kconfig.KernelConfig]:
    from transpile.image import ImageSource, acquire
    from transpile.passes.compat import attack_surface

    tag = engine.fixture_image(name)
    res = AppResult(name)
    recipe_dir = work / name
    with acquire(ImageSource(kind="image", ref=tag)) as img:
        facts = _facts(tag, img.rootfs, img.config, img.reference, img.image_bytes)
        recipe = microvm.emit(facts)
        _write_recipe(recipe, recipe_dir)
        spec = json.loads((recipe_dir / "microvm.json").read_text())
        qemu.build_initramfs(spec, img.rootfs, recipe_dir / "initramfs.cpio")
    kcfg = kconfig.derive_from_trace(facts.trace)
    surface = attack_surface(facts.trace)
    res.image_bytes = facts.image_bytes
    res.initramfs_bytes = (recipe_dir / "initramfs.cpio").stat().st_size
    res.initramfs_paths = len(spec["files"])
    res.fragment_options = len(kcfg.options)
    res.syscalls_used = surface["needed"]
    res.syscalls_outside_default = surface["needed_outside_default"]
    res.lupine = kconfig.compare_with_lupine(kcfg).summary()
    return res, kcfg


def union(configs: list[kconfig.KernelConfig]) -> kconfig.KernelConfig:
    reasons: dict[str, list[str]] = {}
    for cfg in configs:
        for opt in cfg.options:
            reasons.setdefault(opt.name, []).extend(opt.reasons)
    opts = tuple(kconfig.KernelOption(n, "y", tuple(dict.fromkeys(r))) for n, r in sorted(reasons.items()))
    return kconfig.KernelConfig(opts, "union of the benchmark apps' traces")


def source_tarball() -> Path:
    found = sorted(Path("/usr/src").glob("linux-source-6.1.tar.*"))
    if not found:
        raise SystemExit("bench: apt install linux-source-6.1 bc flex bison libelf-dev libssl-dev")
    return found[-1]


def app_option_counts(fragments: dict[str, str], work: Path) -> dict[str, int]:
    """Enabled options of each app's own kernel: tinyconfig + fragment + olddefconfig (no compile)."""
    src = work / "linux-src"
    src.mkdir()
    subprocess.run(["tar", "-xf", str(source_tarball()), "-C", str(src), "--strip-components=1"], check=True)
    counts: dict[str, int] = {}
    for name, fragment in fragments.items():
        out = work / f"cfg-{name}"
        out.mkdir()
        (out / "fragment.config").write_text(fragment)
        make = ["make", "-s", "-C", str(src), f"O={out}", "ARCH=x86_64"]
        subprocess.run([*make, "tinyconfig"], check=True, capture_output=True)
        subprocess.run(
            [
                str(src / "scripts/kconfig/merge_config.sh"),
                "-m",
                "-O",
                str(out),
                str(out / ".config"),
                str(out / "fragment.config"),
            ],
            check=True,
            capture_output=True,
            cwd=src,
        )
        subprocess.run([*make, "olddefconfig"], check=True, capture_output=True)
        counts[name] = len(kconfig.enabled(kconfig.parse_config((out / ".config").read_text())))
    shutil.rmtree(src, ignore_errors=True)
    return counts


def build_kernel(cfg: kconfig.KernelConfig, work: Path) -> dict[str, Any]:
    kdir = work / "kernel"
    kdir.mkdir()
    (kdir / "kernel.config").write_text(cfg.fragment())
    script = kdir / "build-kernel.sh"
    script.write_bytes(microvm._resource("microvm-build-kernel.sh"))
    script.chmod(0o755)
    t0 = time.monotonic()
    proc = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench: build-kernel.sh failed:\n{proc.stderr[-3000:]}")
    full = kconfig.parse_config((kdir / "kernel.full.config").read_text())
    dropped = [line for line in proc.stderr.splitlines() if "did not survive" in line]
    return {
        "bzimage": kdir / "bzImage",
        "bzimage_bytes": (kdir / "bzImage").stat().st_size,
        "vmlinux_bytes": (kdir / "vmlinux").stat().st_size,
        "build_s": round(seconds, 1),
        "cached": "unpacking" not in proc.stderr,
        "enabled": len(kconfig.enabled(full)),
        "fragment_options": len(cfg.options),
        "dropped": dropped,
    }


def docker_boot_to_reply(tag: str, port: int, timeout: float = 60.0) -> tuple[float | None, str]:
    """`docker run --network none` -> first reply, probed from inside the container's network namespace."""
    probe = (
        "import socket,sys,time\n"
        "deadline=time.monotonic()+float(sys.argv[2])\n"
        "while time.monotonic()<deadline:\n"
        "    try:\n"
        "        s=socket.create_connection(('127.0.0.1',int(sys.argv[1])),timeout=1)\n"
        "        s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); d=s.recv(200); s.close()\n"
        "        if d: print(d.split(b'\\n')[0].decode(errors='replace').strip()); sys.exit(0)\n"
        "    except OSError: pass\n"
        "    time.sleep(0.02)\n"
        "sys.exit(1)\n"
    )
    t0 = time.monotonic()
    cid = subprocess.run(
        [DOCKER, "run", "-d", "--rm", "--network", "none", tag], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        pid = subprocess.run(
            [DOCKER, "inspect", "-f", "{{.State.Pid}}", cid], capture_output=True, text=True, check=True
        ).stdout.strip()
        # the probe is the host's python in the container's network namespace: no image content runs
        out = subprocess.run(
            ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", probe, str(port), str(timeout)],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - t0
        return (round(elapsed, 3) if out.returncode == 0 else None), out.stdout.strip()
    finally:
        subprocess.run([DOCKER, "rm", "-f", cid], capture_output=True, check=False)


def boot(recipe_dir: Path, kernel: Path | None) -> dict[str, Any]:
    r = qemu.verify(recipe_dir, kernel=kernel, timeout=BOOT_TIMEOUT)
    out = {k: v for k, v in r.to_json().items() if k != "console"}
    if not r.ok:
        out["console_tail"] = r.console[-1500:]
    return out


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _s(v: Any) -> str:
    return "failed" if v is None else f"{v:.1f} s"


def render(results: list[AppResult], kernel: dict[str, Any], stock_enabled: int, stock: qemu.Kernel) -> str:
    accel = next((b.get("accel") for r in results for b in r.boots.values()), "tcg")
    lines = [
        SECTION,
        "",
        f"Measured by `bench/promises.py` in one run on this machine (2 cores; QEMU accelerator: "
        f"**{accel}**, software emulation, so absolute boot times are several times what KVM gives).",
        "",
        f"- Specialized kernel: ONE build for the union of the four apps' fragments "
        f"({kernel['fragment_options']} options on top of tinyconfig) with the recipe's `build-kernel.sh`"
        f" from Debian's linux-source-6.1: {kernel['build_s']} s"
        f"{' (cache hit: built by an earlier run)' if kernel['cached'] else ''} on 2 cores; "
        f"bzImage {_mb(kernel['bzimage_bytes'])}, vmlinux {_mb(kernel['vmlinux_bytes'])}, "
        f"{kernel['enabled']} options enabled in its final .config.",
        f"- Stock kernel: Debian {stock.release}, bzImage {_mb(stock.path.stat().st_size)}, "
        f"{stock_enabled} options enabled (=y or =m) in /boot/config-{stock.release}; its e1000 driver is a "
        "module, loaded from an appended archive of the host's kernel package.",
        "- Boot-to-reply: from starting QEMU (or `docker run`) to the first reply to `GET / HTTP/1.0` "
        "on the app's port; microVMs are probed through QEMU's user-network port forward on 127.0.0.1, "
        "the container from inside its own network namespace (`--network none`).",
        "",
        "| app | image | initramfs (+ bzImage) | kernel options: app / stock "
        "| syscalls used / Docker default | reply: specialized (microvm) | reply: stock kernel (pc) "
        "| reply: docker run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        spec_boot = r.boots.get("specialized", {})
        stock_boot = r.boots.get("stock", {})
        total = r.initramfs_bytes + kernel["bzimage_bytes"]
        lines.append(
            f"| {r.name} | {_mb(r.image_bytes)} | {_mb(r.initramfs_bytes)} ({_mb(total)}; "
            f"{total / r.image_bytes:.2f}x) | {r.kernel_options} / {stock_enabled} "
            f"({r.kernel_options / stock_enabled:.2f}x) | {r.syscalls_used} / 361 "
            f"({r.syscalls_outside_default} outside it) | {_s(spec_boot.get('boot_to_reply_s'))} "
            f"(init {_s(spec_boot.get('boot_to_init_s'))}) | {_s(stock_boot.get('boot_to_reply_s'))} "
            f"(init {_s(stock_boot.get('boot_to_init_s'))}) | {_s(r.docker_reply_s)} |"
        )
    lines += ["", "Kernel fragments against lupine-general (Kuo et al., EuroSys 2020):", ""]
    lines += [f"- {r.name}: {r.fragment_options} fragment options; {r.lupine}" for r in results]
    failed = [(r.name, k, b) for r in results for k, b in r.boots.items() if not b.get("ok")]
    if failed:
        lines += ["", "Boots that did not answer (console tails in the JSON the script prints):", ""]
        lines += [f"- {n} on the {k} kernel: {b.get('reason')}" for n, k, b in failed]
    if kernel["dropped"]:
        lines += [
            "",
            "Options the kernel's olddefconfig dropped (unmet dependencies or not user-settable):",
            "",
        ]
        lines += [f"- `{d.split('warning: ')[-1]}`" for d in kernel["dropped"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", metavar="MD", help="replace the promises section of this markdown file")
    ap.add_argument("--work", metavar="DIR", help="keep recipes, initramfs and kernel here (default: temp)")
    ap.add_argument("--fixtures", default=",".join(FIXTURES))
    args = ap.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="dockuni-promises-"))
    work.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.fixtures.split(",") if n]
    results: list[AppResult] = []
    configs: dict[str, kconfig.KernelConfig] = {}
    try:
        for name in names:
            print(f"bench: preparing {name}", file=sys.stderr, flush=True)
            res, cfg = prepare(name, work)
            results.append(res)
            configs[name] = cfg
        print("bench: per-app kernel configs", file=sys.stderr, flush=True)
        counts = app_option_counts({n: c.fragment() for n, c in configs.items()}, work)
        for r in results:
            r.kernel_options = counts[r.name]
        print("bench: building the specialized kernel", file=sys.stderr, flush=True)
        kernel = build_kernel(union(list(configs.values())), work)
        stock = qemu.stock_kernel()
        stock_enabled = len(
            kconfig.enabled(kconfig.parse_config(Path(f"/boot/config-{stock.release}").read_text()))
        )
        for r in results:
            spec = json.loads((work / r.name / "microvm.json").read_text())
            print(f"bench: booting {r.name}", file=sys.stderr, flush=True)
            r.boots["specialized"] = boot(work / r.name, kernel["bzimage"])
            r.boots["stock"] = boot(work / r.name, None)
            r.docker_reply_s, r.docker_detail = docker_boot_to_reply(
                engine.fixture_image(r.name), spec["ports"][0]
            )
        section = render(results, kernel, stock_enabled, stock)
        print(section)
        print(
            json.dumps(
                {"kernel": {k: str(v) for k, v in kernel.items()}, "apps": [r.__dict__ for r in results]},
                indent=2,
                default=str,
            )
        )
        if args.write:
            write_section(SECTION, section, Path(args.write))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
