"""Booting a unikernel recipe for `convert --verify`: the recipe's files as a payload, the target's
kernel from the cache, one bounded boot, and a Verification of what happened.

The work (packing, QEMU, probing) runs in transpile.runtime; this module only decides what to boot.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from transpile.model.conversion import ConversionFacts, Verification
from transpile.runtime import build
from transpile.runtime.payload import Payload, PayloadBuilder
from transpile.targets import _common as c
from transpile.targets._base import KernelRuntime

# Memory for the guest: the traced peak with this margin, never below the kernel's own floor.
MEMORY_MARGIN = 2.0
BOOT_TIMEOUT_S = 180.0


def memory_mib(facts: ConversionFacts) -> int:
    """The guest's memory sized from the sandbox's measured peak (cgroup memory.max_usage_in_bytes)."""
    peak = 0
    if facts.trace is not None:
        cgroup = facts.trace.extra.get("cgroup") if isinstance(facts.trace.extra, dict) else None
        if isinstance(cgroup, dict):
            value = cgroup.get("memory_max_usage_in_bytes", 0)
            peak = int(value) if isinstance(value, int) else 0
    return max(64, int(peak * MEMORY_MARGIN) >> 20)


def payload(facts: ConversionFacts, rootfs: Path) -> tuple[Payload, tuple[str, ...]]:
    """What the recipe ships, collected from the image's root: the program, its closure, the files the
    traced run read, the directories it needs; and the paths the image lacks."""
    builder = PayloadBuilder(rootfs)
    for path in c.shipped_files(facts):
        builder.add(path)
    for directory in (*c.runtime_dirs(facts), c.workdir(facts)):
        if directory != "/":
            builder.add(directory)
    argv, _ = c.single_process_argv(c.program_argv(facts), c.workdir(facts))
    tcp = tuple(p for p, proto in c.listening_ports(facts) if proto == "tcp")
    built = builder.payload(
        argv,
        ports=tcp,
        env=tuple(facts.config.env),
        workdir=c.workdir(facts),
        memory_mib=memory_mib(facts),
    )
    return built, tuple(builder.missing)


def boot(
    name: str, kernel: KernelRuntime, facts: ConversionFacts, rootfs: Path, log_dir: Path, timeout: float
) -> Verification:
    """Boot the recipe of target NAME on its cached kernel; the console log is kept in LOG_DIR."""
    spec = kernel.build_spec()
    found = build.find_kernel(spec)
    if found is None:
        return Verification(
            name,
            "skipped",
            detail=f"no {name} kernel built: run `dockuni kernels build --only {name}` "
            "(offline: `--from DIR` with the source archives)",
        )
    built, missing = payload(facts, rootfs)
    if not built.ports:
        return Verification(name, "skipped", detail="the app listens on no TCP port: nothing to probe")
    work = Path(tempfile.mkdtemp(prefix=f"dockuni-verify-{name}-"))
    try:
        result = kernel.boot(built, found.path, work, timeout)
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{name}-console.log"
        if result.console_log.exists():
            shutil.copyfile(result.console_log, log)
        else:
            log.write_text("")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    detail = result.detail
    if missing:
        detail += f" (not in the image, left out: {', '.join(missing[:5])})"
    return Verification(
        name,
        "answered" if result.status == "answered" else "failed",
        boot_to_reply_s=result.boot_to_reply_s,
        accelerator=result.accelerator,
        image_bytes=result.image_bytes or 0,
        memory_mib=result.memory_mib or built.memory_mib,
        console_log=str(log.relative_to(log_dir.parent)),
        detail=detail,
    )
