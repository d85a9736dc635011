"""A unikernel recipe's payload (payload.json: what it ships and runs) and its boot for `convert --verify`:
the recipe's files collected from the image, the target's kernel from the cache, one bounded boot, and a
Verification of what happened.

The work (packing, QEMU, probing) runs in transpile.runtime; this module only decides what to boot.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from transpile.errors import DockuniError
from transpile.model.conversion import ConversionFacts, Verification
from transpile.runtime import build
from transpile.runtime.payload import Payload, PayloadBuilder
from transpile.targets import _common as c
from transpile.targets._base import KernelRuntime

# Memory for the guest: the traced peak with this margin, never below the kernel's own floor.
MEMORY_MARGIN = 2.0


def memory_mib(facts: ConversionFacts) -> int:
    """The guest's memory sized from the sandbox's measured peak (cgroup memory.max_usage_in_bytes)."""
    peak = 0
    if facts.trace is not None:
        cgroup = facts.trace.extra.get("cgroup") if isinstance(facts.trace.extra, dict) else None
        if isinstance(cgroup, dict):
            value = cgroup.get("memory_max_usage_in_bytes", 0)
            peak = int(value) if isinstance(value, int) else 0
    return max(64, int(peak * MEMORY_MARGIN) >> 20)


def boot(
    name: str, kernel: KernelRuntime, recipe_dir: Path, rootfs: Path, log_dir: Path, timeout: float
) -> Verification:
    """Boot the recipe of target NAME (its payload.json) on the target's cached kernel; the console log
    is kept in LOG_DIR."""
    spec = kernel.build_spec()
    found = build.find_kernel(spec)
    if found is None:
        return Verification(
            name,
            "skipped",
            detail=f"no {name} kernel built: run `dockuni kernels build --only {name}` "
            "(offline: `--from DIR` with the source archives)",
        )
    built, missing = payload_from_recipe(recipe_dir, rootfs)
    if not built.ports:
        return Verification(name, "skipped", detail="the app listens on no TCP port: nothing to probe")
    work = Path(tempfile.mkdtemp(prefix=f"dockuni-verify-{name}-"))
    try:
        try:
            result = kernel.boot(built, found.path, work, timeout)
        except DockuniError as err:  # the image could not be made: nothing booted, and that is the finding
            return Verification(name, "failed", detail=f"no bootable image: {err.message}")
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


PAYLOAD_FILE = "payload.json"


def payload_spec(facts: ConversionFacts) -> dict[str, object]:
    """What a unikernel recipe boots, as data the recipe carries (payload.json): the image paths to
    ship, the directories to make, the program's argv, env, working directory, ports and memory."""
    argv, _ = c.single_process_argv(c.program_argv(facts))
    # the directories the app lists, works in, or writes into (nginx makes its temp dirs under
    # /var/lib/nginx at start-up: the directory must be there, even empty)
    dirs = sorted({*c.runtime_dirs(facts), c.workdir(facts), *c.written_dirs(facts)} - {"/"})
    return {
        "files": list(c.shipped_files(facts)),
        "directories": dirs,
        "argv": list(argv),
        "env": dict(facts.config.env),
        "workdir": c.workdir(facts),
        "ports": [p for p, proto in c.listening_ports(facts) if proto == "tcp"],
        "memory_mib": memory_mib(facts),
    }


def payload_from_recipe(recipe_dir: Path, rootfs: Path) -> tuple[Payload, tuple[str, ...]]:
    """The payload a recipe's payload.json names, collected from the image's root (never leaving it)."""
    import json

    spec = json.loads((recipe_dir / PAYLOAD_FILE).read_text())
    builder = PayloadBuilder(rootfs)
    for path in spec["files"]:
        builder.add(str(path))
    for directory in spec["directories"]:
        builder.add(str(directory))
    built = builder.payload(
        tuple(str(a) for a in spec["argv"]),
        ports=tuple(int(p) for p in spec["ports"]),
        env=tuple((str(k), str(v)) for k, v in dict(spec["env"]).items()),
        workdir=str(spec["workdir"]),
        memory_mib=int(spec["memory_mib"]),
    )
    return built, tuple(builder.missing)


def payload_json(facts: ConversionFacts) -> str:
    """payload.json's text (sorted, so identical facts give identical recipes)."""
    import json

    return json.dumps(payload_spec(facts), indent=2, sort_keys=True) + "\n"
