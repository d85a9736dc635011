"""The microvm target: the app on a Linux kernel specialized to what it uses, booted from an initramfs.

``emit(facts)`` is pure: it returns the recipe's files. The initramfs itself is built from the image
rootfs by ``transpile.runtime.linuxvm.build_initramfs`` (I/O) from the ``microvm.json`` spec emitted
here, and ``transpile.targets.qemu.verify`` boots it. Recipe layout:

- ``microvm.json``: what goes into the initramfs and how the init starts the app (the spec)
- ``kernel.config``: the kernel fragment (base + facilities), ``build-kernel.sh`` builds it
- ``init.c``: the init (PID 1, a minimal reaper), compiled statically when the initramfs is built
- ``run.sh``: QEMU launch; ``vm_config.json``: the same VM for Firecracker (``--config-file``)
"""

from __future__ import annotations

import json
import posixpath
from importlib import resources
from pathlib import Path
from typing import Any

from transpile import data
from transpile.model.chain import EntrypointChain
from transpile.model.closure import Closure
from transpile.model.conversion import ConversionFacts, Recipe, Verification
from transpile.model.target import VerifyOptions
from transpile.runtime.qemu import host_forwards
from transpile.targets import kconfig
from transpile.targets._base import LinuxVmTarget

NAME = "microvm"
DEFAULT_MEMORY_MB = 512
# Firecracker's usual boot arguments: reboot=k makes the guest's reboot end the VM, pci=off (MMIO only)
FIRECRACKER_BOOT_ARGS = "console=ttyS0 reboot=k panic=1 pci=off"
GUEST_MAC = "06:00:0a:00:02:0f"


def _resource(name: str) -> bytes:
    return resources.files("transpile.targets").joinpath(name).read_bytes()


def _closure_paths(closure: Closure | None) -> list[str]:
    """Every file the loader maps, under the path it was found by and where its symlinks lead."""
    if closure is None:
        return []
    out: list[str] = []
    for ref in closure.files:
        out += [p for p in (ref.path, ref.realpath) if p]
    return out


def _chain_paths(chain: EntrypointChain | None) -> list[str]:
    if chain is None:
        return []
    out: list[str] = []
    for step in (*chain.steps, *chain.command_steps):
        out += [p for p in (step.path, step.resolved) if p.startswith("/")]
    return out


def _program(facts: ConversionFacts) -> str:
    """The path the init executes: argv[0] when absolute, else where the entrypoint pass found it."""
    argv = facts.argv
    if argv and argv[0].startswith("/"):
        return argv[0]
    if facts.chain is not None and facts.chain.steps and facts.chain.steps[0].path:
        return facts.chain.steps[0].path
    return argv[0] if argv else ""


def _mounts(facts: ConversionFacts) -> list[tuple[str, str]]:
    """What the init mounts: devtmpfs always (console, /dev/null); the rest as the trace shows need."""
    trace = facts.trace
    if trace is None:  # no evidence: mount all the usual pseudo file systems
        return [("devtmpfs", "/dev"), ("proc", "/proc"), ("sysfs", "/sys"), ("tmpfs", "/tmp")]
    paths = [f.path for f in trace.files]
    mounts = [("devtmpfs", "/dev")]
    # /dev/stdout and friends are symlinks into /proc/self/fd
    if any(p.startswith(("/proc/", "/dev/std", "/dev/fd")) or p == "/proc" for p in paths):
        mounts.append(("proc", "/proc"))
    if any(p.startswith("/sys/") or p == "/sys" for p in paths):
        mounts.append(("sysfs", "/sys"))
    if any(p.startswith("/tmp/") for p in paths):
        mounts.append(("tmpfs", "/tmp"))
    if any(p.startswith("/dev/shm/") for p in paths):
        mounts.append(("tmpfs", "/dev/shm"))
    return mounts


def _ports(facts: ConversionFacts) -> list[int]:
    ports = {p.number for p in facts.config.exposed_ports if p.protocol == "tcp"}
    if not ports and facts.trace is not None:
        ports = set(facts.trace.listening_ports)
    return sorted(ports)


def host_port(guest: int) -> int:
    """The port run.sh forwards on 127.0.0.1: the same number, or +8000 for privileged ones (80 -> 8080)."""
    return guest if guest >= 1024 else guest + 8000


def spec(facts: ConversionFacts) -> dict[str, Any]:
    """The initramfs and init description (``microvm.json``)."""
    files: set[str] = set()
    argv = list(facts.argv)
    program = _program(facts)
    if program:
        files.add(program)
    files.update(_chain_paths(facts.chain))
    files.update(_closure_paths(facts.closure))
    files.update(p for p in facts.runtime_files if p.startswith("/"))
    files.update(p for p in facts.runtime_dirs if p.startswith("/"))
    trace = facts.trace
    if trace is not None:
        for ex in trace.execs:
            if ex and ex[0].startswith("/"):
                files.add(ex[0])
        files.update(trace.dlopened)
        # everything the app opened, stat'ed or mapped and found (Python finds modules by stat)
        files.update(a.path for a in trace.files if a.found and not a.write)
        # directories the app writes into must exist (the initramfs root is writable)
        for access in trace.files:
            if access.write and not access.path.startswith(("/proc/", "/sys/", "/dev/")):
                files.add(posixpath.dirname(access.path))
    # pseudo file systems are mounted, not copied
    files = {f for f in files if f and not f.startswith(("/proc/", "/sys/", "/dev/")) and f != "/"}
    workdir = facts.config.working_dir or "/"
    if workdir != "/":
        files.add(workdir)
    return {
        "program": program,
        "argv": argv,
        "env": [list(kv) for kv in facts.config.env],
        "workdir": workdir,
        "user": facts.config.user,
        "files": sorted(files),
        "trees": [],
        "mounts": [list(m) for m in _mounts(facts)],
        "ports": _ports(facts),
        "network": True,
        "machine": "microvm",
        "nic": "e1000",
        "memory_mb": DEFAULT_MEMORY_MB,
        "stop_signal": facts.config.stop_signal or "SIGTERM",
    }


def run_script(ports: list[int], memory_mb: int = DEFAULT_MEMORY_MB) -> str:
    fwd = host_forwards([(host_port(p), p) for p in ports])
    lines = [
        "#!/bin/sh",
        "# Boot the app's microVM in QEMU (serial console on this terminal; Ctrl-A X quits).",
        "#   KERNEL=...  a kernel with e1000 built in (default ./bzImage from ./build-kernel.sh)",
        "#   INITRD=...  default ./initramfs.cpio;  ACCEL=kvm|tcg  default: kvm when /dev/kvm is usable",
        "#   MACHINE=microvm|pc  (microvm: virtio-mmio NIC, no ACPI; pc: e1000 on PCI)",
        "set -eu",
        'here=$(cd "$(dirname "$0")" && pwd)',
        "kernel=${KERNEL:-$here/bzImage}",
        "initrd=${INITRD:-$here/initramfs.cpio}",
        "machine=${MACHINE:-microvm}",
        '[ -f "$kernel" ] || {',
        '    echo "run.sh: no kernel at $kernel: run ./build-kernel.sh or set KERNEL=" >&2; exit 3; }',
        '[ -f "$initrd" ] || { echo "run.sh: no initramfs at $initrd" >&2; exit 3; }',
        "accel=${ACCEL:-}",
        'if [ -z "$accel" ]; then',
        "    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then accel=kvm; else accel=tcg; fi",
        "fi",
        'append="console=ttyS0 panic=-1"',
        'if [ "$machine" = microvm ]; then nic=virtio-net-device; mflags=microvm,acpi=off;',
        '    append="$append earlyprintk=ttyS0"',
        "else nic=e1000; mflags=$machine; fi",
        'echo "run.sh: QEMU -M $machine, accelerator $accel (ACCEL=tcg if KVM fails on this host)" >&2',
        'exec qemu-system-x86_64 -accel "$accel" -M "$mflags" -m ' + str(memory_mb) + " -cpu max \\",
        '    -kernel "$kernel" -initrd "$initrd" -append "$append" \\',
        "    -nographic -no-reboot -nodefaults -serial mon:stdio \\",
        f'    -netdev user,id=n0{fwd} -device "$nic,netdev=n0"',
    ]
    return "\n".join(lines) + "\n"


def firecracker_config(memory_mb: int = DEFAULT_MEMORY_MB) -> dict[str, Any]:
    """Firecracker's ``--config-file`` document: boot-source, machine-config, network-interfaces."""
    return {
        "boot-source": {
            "kernel_image_path": "vmlinux",  # Firecracker boots the uncompressed ELF kernel
            "initrd_path": "initramfs.cpio",
            "boot_args": FIRECRACKER_BOOT_ARGS,
        },
        "drives": [],
        "machine-config": {"vcpu_count": 1, "mem_size_mib": memory_mb, "smt": False},
        "network-interfaces": [{"iface_id": "eth0", "guest_mac": GUEST_MAC, "host_dev_name": "tap0"}],
    }


def emit(facts: ConversionFacts) -> Recipe:
    s = spec(facts)
    kcfg = kconfig.derive_from_trace(facts.trace)
    lupine = kconfig.compare_with_lupine(kcfg)
    files: dict[str, bytes] = {
        "microvm.json": (json.dumps(s, indent=2, sort_keys=True) + "\n").encode(),
        "kernel.config": kcfg.fragment().encode(),
        "build-kernel.sh": _resource("microvm-build-kernel.sh"),
        "init.c": _resource("init.c"),
        "run.sh": run_script(s["ports"], s["memory_mb"]).encode(),
        "vm_config.json": (json.dumps(firecracker_config(s["memory_mb"]), indent=2) + "\n").encode(),
    }
    fwd = (
        ", ".join(f"127.0.0.1:{host_port(p)} -> guest {p}" for p in s["ports"])
        or "none (no TCP port exposed)"
    )
    notes = [
        f"initramfs: {len(s['files'])} paths from the image (entrypoint chain, loader closure, traced files) "
        "+ /init; built by dockuni into initramfs.cpio",
        "PID 1 is dockuni's init (init.c), a minimal reaper: it forks the app, forwards "
        "SIGTERM/SIGINT/SIGQUIT/SIGHUP to it, reaps children, and reboots (QEMU exits) when the app exits",
        f"kernel: {len(kcfg.options)} options on top of tinyconfig, derived from {kcfg.derived_from}; "
        "./build-kernel.sh builds it from linux-source-6.1 (cached by the config's hash)",
        lupine.summary(),
        f"network: 10.0.2.15/24 gw 10.0.2.2 (QEMU user networking); forwarded: {fwd}",
        f"mounts: {', '.join(f'{t} on {m}' for t, m in s['mounts'])}",
        "Firecracker: firecracker --no-api --config-file vm_config.json (needs ./vmlinux from "
        "build-kernel.sh and a tap0 on the host with 10.0.2.2/24)",
    ]
    if facts.trace is None:
        notes.append(
            "no trace: the initramfs holds only the entrypoint chain and loader closure; files the app "
            "opens at run time (interpreter libraries, configs) are missing until a trace names them"
        )
    if s["user"]:
        notes.append(f"runs as USER {s['user']} (uid/gid resolved from the image's /etc/passwd)")
    verdict = facts.verdict(NAME)
    if verdict is not None and not verdict.ok:
        notes.extend(f"blocker: {b}" for b in verdict.blockers)
    return Recipe(
        target=NAME,
        files=tuple(sorted(files.items())),
        executable=("build-kernel.sh", "run.sh"),
        notes=tuple(notes),
        build_command="./build-kernel.sh",
        run_command="./run.sh"
        + ("" if not s["ports"] else f"  # then: curl http://127.0.0.1:{host_port(s['ports'][0])}/"),
    )


def package(recipe_dir: Path, rootfs: Path) -> tuple[str, ...]:
    """Build the recipe's initramfs.cpio from the image, so that its run.sh boots as written."""
    from transpile.targets import qemu

    missing = qemu.build_recipe_initramfs(recipe_dir, rootfs)
    if not missing:
        return ()
    return ("files the recipe lists but the image lacks (left out of initramfs.cpio): " + ", ".join(missing),)


def verify(recipe_dir: Path, facts: ConversionFacts, rootfs: Path, options: VerifyOptions) -> Verification:
    """Boot the recipe (its initramfs.cpio is already packaged) and probe the app's ports."""
    from transpile.errors import DockuniError
    from transpile.targets import qemu

    try:
        res = qemu.verify(recipe_dir, None, options.kernel)
    except DockuniError as err:  # no port to probe, no kernel, no QEMU: nothing booted
        return Verification(NAME, "skipped", detail=err.message)
    options.log_dir.mkdir(parents=True, exist_ok=True)
    log = options.log_dir / f"{NAME}-console.log"
    log.write_text(res.console)
    cpio = recipe_dir / "initramfs.cpio"
    spec_memory = json.loads((recipe_dir / "microvm.json").read_text()).get("memory_mb", DEFAULT_MEMORY_MB)
    replies = "; ".join(f"port {p}: {line}" for p, line in res.replies)
    return Verification(
        NAME,
        "answered" if res.ok else "failed",
        boot_to_reply_s=res.boot_to_reply_s,
        accelerator=res.accel,
        image_bytes=cpio.stat().st_size if cpio.exists() else 0,
        memory_mib=int(spec_memory),
        console_log=str(log.relative_to(options.log_dir.parent)),
        detail=f"kernel {res.kernel}: " + (replies if res.ok else res.reason),
    )


TARGET = LinuxVmTarget(data.capabilities(NAME), emit, packager=package, verifier=verify)
