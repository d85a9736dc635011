"""Booting an app on a Linux kernel: the initramfs (the app's files, a compiled init and its
configuration), a stock or specialized kernel, QEMU, and a probe through a forwarded port.

``boot_and_probe`` starts QEMU and probes each guest port the way the trace probes it (``GET /
HTTP/1.0`` on 127.0.0.1, through QEMU user networking's ``hostfwd``), waiting for the init's first
console line first. Every wait has a deadline; a failure returns ``VerifyResult(ok=False)`` with the
guest's console log, and QEMU is killed in every case.
"""

from __future__ import annotations

import lzma
import re
import shutil
import subprocess
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from transpile.errors import DockuniError
from transpile.image import initramfs
from transpile.image.users import resolve_user
from transpile.model.image import DEFAULT_PATH
from transpile.runtime import qemu

INIT_MARKER = "dockuni-init["
GUEST_ADDR = ("10.0.2.15", "255.255.255.0", "10.0.2.2")  # QEMU user networking's defaults
STOCK_MODULES = {
    "e1000": ("e1000",),
    "virtio": ("virtio_pci", "virtio_net"),
    "virtio-mmio": ("virtio_mmio", "virtio_net"),
}

# QEMU's minimal x86 machine type (qemu-system-x86_64 -M help), used for specialized Linux kernels.
MICROVM_MACHINE = "microvm"


@dataclass(frozen=True)
class Kernel:
    path: Path  # bzImage or an uncompressed vmlinux (PVH boot)
    release: str  # "6.1.0-56-amd64", "" when unknown (a specialized build)
    modular: bool  # needs its NIC driver loaded from an appended modules archive
    modules_dir: Path | None = None


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    reason: str
    accel: str  # "kvm" | "tcg"
    machine: str
    kernel: str
    boot_to_init_s: float | None = None  # QEMU start -> the init's first console line
    boot_to_reply_s: float | None = None  # QEMU start -> first probe reply
    guest_uptime_at_init_s: float | None = None  # the guest's own clock when the init started
    replies: tuple[tuple[int, str], ...] = ()  # (guest port, first line of the reply)
    console: str = ""  # the guest's serial console (tail)
    exit_code: int | None = None  # QEMU's, when it stopped by itself
    extra: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "reason": self.reason,
            "accel": self.accel,
            "machine": self.machine,
            "kernel": self.kernel,
            "boot_to_init_s": self.boot_to_init_s,
            "boot_to_reply_s": self.boot_to_reply_s,
            "guest_uptime_at_init_s": self.guest_uptime_at_init_s,
            "replies": [list(r) for r in self.replies],
            "console": self.console,
            "exit_code": self.exit_code,
            "missing_files": list(self.extra.get("missing_files", [])),  # type: ignore[call-overload]
        }


# --- kernels -------------------------------------------------------------------------------------


def stock_kernel(boot: Path = Path("/boot"), modules_root: Path = Path("/lib/modules")) -> Kernel:
    """The newest Debian kernel installed on this machine (linux-image-amd64), with its modules."""
    found = sorted(
        boot.glob("vmlinuz-*"),
        key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p.name)],
    )
    if not found:
        raise DockuniError("no stock kernel: apt install linux-image-amd64", file=str(boot), exit_code=3)
    path = found[-1]
    release = path.name.removeprefix("vmlinuz-")
    mods = modules_root / release
    return Kernel(path, release, True, mods if (mods / "modules.dep").exists() else None)


def kernel_at(path: Path, modules_root: Path = Path("/lib/modules")) -> Kernel:
    """A kernel the user named: a distribution's ``vmlinuz-RELEASE`` with installed modules is modular
    (its NIC driver gets loaded from them); anything else is taken to have its drivers built in."""
    if not path.is_file():
        raise DockuniError("kernel not found", file=str(path), exit_code=2)
    if path.name.startswith("vmlinuz-"):
        release = path.name.removeprefix("vmlinuz-")
        if (modules_root / release / "modules.dep").exists():
            return Kernel(path, release, True, modules_root / release)
    return Kernel(path, "", False)


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The uncompressed ELF kernel inside a bzImage (for PVH boot: QEMU -kernel vmlinux, Firecracker).

    The bzImage's payload is one compressed stream; find its magic and decompress to the end of the
    stream (whatever follows it is ignored), then check that an ELF came out.
    """
    candidates: list[tuple[int, str]] = []
    for magic, kind in ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b\x08", "gzip"), (b"\x5d\x00\x00", "lzma")):
        start = 0
        while (i := bzimage.find(magic, start)) != -1:
            candidates.append((i, kind))
            start = i + 1
    for offset, kind in sorted(candidates):
        data = bzimage[offset:]
        try:
            if kind == "xz":
                out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
            elif kind == "lzma":
                out = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)
            else:
                out = zlib.decompressobj(wbits=31).decompress(data)  # stops at the stream's end
        except (lzma.LZMAError, zlib.error):
            continue
        if out[:4] == b"\x7fELF":
            return out
    raise DockuniError("no ELF kernel found inside the bzImage (unsupported compression?)")


def vmlinux_for(kernel: Path, cache_dir: Path) -> Path:
    """An uncompressed copy of KERNEL (cached by name and size): PVH boot reaches /init sooner."""
    data = kernel.read_bytes()
    if data[:4] == b"\x7fELF":
        return kernel
    out = cache_dir / f"vmlinux-{kernel.name}-{len(data)}"
    if not out.exists():
        initramfs.write_atomic(out, extract_vmlinux(data))
    return out


# --- the init ------------------------------------------------------------------------------------


def init_source() -> bytes:
    return resources.files("transpile.targets").joinpath("init.c").read_bytes()


def compile_init(out_dir: Path, source: bytes | None = None) -> Path:
    """Compile the init statically (musl-gcc, else gcc -static) on the host: our code, not the image's."""
    cc = shutil.which("musl-gcc")
    flags = ["-static", "-Os", "-s"]
    if not cc:
        cc = shutil.which("gcc")
    if not cc:
        raise DockuniError("no C compiler for the VM's init: apt install musl-tools", exit_code=3)
    src = out_dir / "init.c"
    src.write_bytes(source if source is not None else init_source())
    exe = out_dir / "init"
    proc = subprocess.run([cc, *flags, "-o", str(exe), str(src)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DockuniError(f"compiling the VM's init failed: {proc.stderr.strip()[:500]}", exit_code=3)
    return exe


# --- initramfs from a rootfs and the recipe's spec -------------------------------------------------


def _resolve_user(rootfs: Path, user: str) -> tuple[int, int]:
    """uid/gid for USER ("", "name", "uid", "name:group", "uid:gid") from the image's passwd/group."""
    ids = resolve_user(rootfs, user)
    if ids.problem:
        raise DockuniError(f"USER {user}: {ids.problem}", exit_code=2)
    return ids.uid, ids.gid


def build_initramfs(
    spec: dict[str, Any], rootfs: Path, dest: Path, init_exe: Path | None = None
) -> tuple[str, ...]:
    """Write the app's initramfs (newc) for SPEC (the recipe's VM spec) from ROOTFS to DEST, atomically.

    Holds exactly: the files SPEC lists (closure + traced runtime files + the entrypoint chain) read
    from the rootfs, the compiled init at /init, its configuration at /.dockuni/init.conf, /dev/console
    and the mount points. Returns the listed paths that the rootfs does not have.
    """
    files = [str(p) for p in spec.get("files", [])]
    trees = [str(p) for p in spec.get("trees", [])]
    entries, missing = initramfs.collect(rootfs, files, trees)
    uid, gid = _resolve_user(rootfs, str(spec.get("user", "")))
    items: list[tuple[str, str]] = []
    for m in spec.get("mounts", []):
        items.append(("mount", f"{m[0]} {m[1]}"))
    if spec.get("network", True):
        items.append(("net", " ".join(GUEST_ADDR)))
    env = {str(k): str(v) for k, v in spec.get("env", [])}
    # what the container runtime adds when the image does not set them
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOME", "/root" if uid == 0 else "/")
    items += [("env", f"{k}={v}") for k, v in env.items()]
    items += [("workdir", str(spec.get("workdir") or "/")), ("uid", str(uid)), ("gid", str(gid))]
    argv = [str(a) for a in spec.get("argv", [])]
    if not argv:
        raise DockuniError("the VM has no program to run (empty argv)")
    program = str(spec.get("program") or argv[0])
    if not program.startswith("/"):
        raise DockuniError(f"the VM's program {program!r} is not an absolute path in the image")
    items.append(("path", program))
    items += [("arg", a) for a in argv]
    with tempfile.TemporaryDirectory(prefix="dockuni-init-") as tmp:
        exe = init_exe or compile_init(Path(tmp))
        init_bytes = exe.read_bytes()
    ours = [
        initramfs.regular("init", init_bytes, 0o755),
        initramfs.regular(".dockuni/init.conf", initramfs.init_conf(items)),
        initramfs.chardev("dev/console", 5, 1),
        initramfs.directory("proc", 0o555),
        initramfs.directory("sys", 0o555),
        initramfs.directory("dev"),
        initramfs.directory("tmp", 0o1777),
    ]
    # our entries win over image files of the same name ("/init" in an image is not ours to run as PID 1)
    archive = initramfs.newc([*ours, *(e for e in entries if e.name not in {o.name for o in ours})])
    initramfs.write_atomic(dest, archive)
    return missing


# --- launching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    kernel: Path
    initrd: Path
    append: str
    machine: str = "pc"  # "pc" | MICROVM_MACHINE
    accel: str = "tcg"
    memory_mb: int = 512
    nic: str = "e1000"  # "e1000" | "virtio"
    forwards: tuple[tuple[int, int], ...] = ()  # (host port on 127.0.0.1, guest port)


def qemu_argv(launch: Launch) -> list[str]:
    fwd = qemu.host_forwards(launch.forwards)
    if launch.machine == MICROVM_MACHINE:
        device = "virtio-net-device"
    else:
        device = "e1000" if launch.nic == "e1000" else "virtio-net-pci"
    # microvm: no ACPI tables, so QEMU puts the virtio-mmio devices on the kernel command line
    machine = f"{MICROVM_MACHINE},acpi=off" if launch.machine == MICROVM_MACHINE else launch.machine
    argv = [qemu.qemu_binary(), "-accel", launch.accel, "-M", machine, "-m", str(launch.memory_mb)]
    if launch.accel == "tcg":
        argv += ["-cpu", "max"]
    argv += [
        "-kernel",
        str(launch.kernel),
        "-initrd",
        str(launch.initrd),
        "-append",
        launch.append,
        "-display",
        "none",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-nodefaults",
        "-no-reboot",
        "-netdev",
        f"user,id=n0{fwd}",
        "-device",
        f"{device},netdev=n0",
    ]
    return argv


def kernel_cmdline(machine: str, extra: str = "") -> str:
    # panic=-1: reboot at once on a panic, and -no-reboot turns that into QEMU exiting
    args = ["console=ttyS0", "panic=-1", "quiet", "loglevel=3"]
    if machine == MICROVM_MACHINE:
        args.append("earlyprintk=ttyS0")
    return " ".join([*args, extra]).strip()


def _guest_uptime_at_init(console: str) -> float | None:
    m = re.search(r"dockuni-init\[(\d+\.\d+)\]: start", console)
    return float(m.group(1)) if m else None


def boot_and_probe(
    launch: Launch,
    guest_ports: Sequence[int],
    timeout: float = 120.0,
    console_tail: int = 20000,
) -> VerifyResult:
    """Start QEMU, wait until every guest port answers (or QEMU dies, or TIMEOUT), always kill QEMU."""
    forwards = tuple((qemu.free_port(), p) for p in guest_ports)
    launch = Launch(**{**launch.__dict__, "forwards": forwards})
    argv = qemu_argv(launch)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop() kills QEMU and anything it started
    )
    console = qemu.Console(proc, t0, marker=INIT_MARKER.encode())
    replies: dict[int, str] = {}
    reply_at: float | None = None
    reason = ""
    exit_code: int | None = None
    try:
        deadline = t0 + timeout
        while True:
            if proc.poll() is not None:
                exit_code = proc.returncode
                reason = f"the VM stopped before the app answered (qemu exit {exit_code})"
                break
            if time.monotonic() > deadline:
                reason = f"no reply within {timeout:.0f} s"
                break
            if console.marker_at is None:  # nothing listens before the init has run
                time.sleep(0.2)
                continue
            for host, guest in forwards:
                if guest not in replies:
                    line = qemu.probe(host, timeout=2.0)
                    if line is not None:
                        replies[guest] = line
            if len(replies) == len(forwards):
                reply_at = time.monotonic() - t0
                break
            time.sleep(0.5)
    finally:
        qemu.stop(proc, console)
    text = console.text()
    ok = reply_at is not None
    return VerifyResult(
        ok=ok,
        reason="every exposed port answered" if ok else reason,
        accel=launch.accel,
        machine=launch.machine,
        kernel=str(launch.kernel),
        boot_to_init_s=None if console.marker_at is None else round(console.marker_at, 3),
        boot_to_reply_s=None if reply_at is None else round(reply_at, 3),
        guest_uptime_at_init_s=_guest_uptime_at_init(text),
        replies=tuple(sorted(replies.items())),
        console=text[-console_tail:],
        exit_code=exit_code,
        extra={"argv": argv},
    )
