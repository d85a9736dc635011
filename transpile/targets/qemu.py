"""The I/O side of the microvm target: build the initramfs, pick a kernel and accelerator, boot QEMU,
probe the app through a forwarded port, and shut everything down.

``verify(recipe_dir)`` boots the recipe's microVM and probes each exposed port the way the trace
probes it (``GET / HTTP/1.0`` on 127.0.0.1, through QEMU user networking's ``hostfwd``). Every wait has
a deadline; a failure returns ``VerifyResult(ok=False)`` with the guest's console log, and QEMU is
killed in every case.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import lzma
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from transpile.errors import DockuniError
from transpile.image.users import resolve_user
from transpile.model.image import DEFAULT_PATH
from transpile.targets import initramfs

INIT_MARKER = "dockuni-init["
GUEST_ADDR = ("10.0.2.15", "255.255.255.0", "10.0.2.2")  # QEMU user networking's defaults
STOCK_MODULES = {
    "e1000": ("e1000",),
    "virtio": ("virtio_pci", "virtio_net"),
    "virtio-mmio": ("virtio_mmio", "virtio_net"),
}


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


# --- accelerator ---------------------------------------------------------------------------------


def qemu_binary() -> str:
    exe = shutil.which("qemu-system-x86_64")
    if not exe:
        raise DockuniError("qemu-system-x86_64 not found: apt install qemu-system-x86", exit_code=3)
    return exe


@functools.cache
def detect_accel(kernel_path: str = "", timeout: float = 8.0) -> str:
    """ "kvm" when /dev/kvm is usable AND a probe boot of a real kernel reaches our init, else "tcg".

    A /dev/kvm that opens is not enough: nested setups exist where it cannot run a stock kernel
    (the boot aborts or hangs), so a tiny probe VM has to print the init's marker within TIMEOUT
    (a KVM boot of the stock kernel does it in one or two seconds). ``DOCKUNI_ACCEL=kvm|tcg``
    overrides the probe.
    """
    forced = os.environ.get("DOCKUNI_ACCEL", "")
    if forced in ("kvm", "tcg"):
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    kernel = Path(kernel_path) if kernel_path else stock_kernel().path
    with tempfile.TemporaryDirectory(prefix="dockuni-kvm-probe-") as tmp:
        initrd = Path(tmp) / "probe.cpio"
        init = compile_init(Path(tmp))
        init_entry = initramfs.regular("init", init.read_bytes(), 0o755)
        initrd.write_bytes(initramfs.newc([init_entry, initramfs.chardev("dev/console", 5, 1)]))
        launch = Launch(kernel=kernel, initrd=initrd, append="console=ttyS0 panic=-1 quiet", accel="kvm")
        argv = [a for a in qemu_argv(launch) if a]
        t0 = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        console = _Console(proc, t0)
        try:
            while time.monotonic() - t0 < timeout and console.init_at is None and proc.poll() is None:
                time.sleep(0.1)
        finally:
            _stop(proc, console)
        return "kvm" if console.init_at is not None else "tcg"


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
        raise DockuniError("no C compiler for the microVM init: apt install musl-tools", exit_code=3)
    src = out_dir / "init.c"
    src.write_bytes(source if source is not None else init_source())
    exe = out_dir / "init"
    proc = subprocess.run([cc, *flags, "-o", str(exe), str(src)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DockuniError(f"compiling the microVM init failed: {proc.stderr.strip()[:500]}", exit_code=3)
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
    """Write the app's initramfs (newc) for SPEC (``microvm.json``) from ROOTFS to DEST, atomically.

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
        raise DockuniError("the microVM has no program to run (empty argv)")
    program = str(spec.get("program") or argv[0])
    if not program.startswith("/"):
        raise DockuniError(f"the microVM's program {program!r} is not an absolute path in the image")
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


def build_recipe_initramfs(recipe_dir: Path, rootfs: Path) -> tuple[str, ...]:
    """RECIPE_DIR/initramfs.cpio from the recipe's microvm.json and the image ROOTFS (for `convert`)."""
    spec = json.loads((recipe_dir / "microvm.json").read_text())
    return build_initramfs(spec, rootfs, recipe_dir / "initramfs.cpio")


# --- launching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    kernel: Path
    initrd: Path
    append: str
    machine: str = "pc"  # "pc" | "microvm"
    accel: str = "tcg"
    memory_mb: int = 512
    nic: str = "e1000"  # "e1000" | "virtio"
    forwards: tuple[tuple[int, int], ...] = ()  # (host port on 127.0.0.1, guest port)


def qemu_argv(launch: Launch) -> list[str]:
    fwd = "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in launch.forwards)
    if launch.machine == "microvm":
        device = "virtio-net-device"
    else:
        device = "e1000" if launch.nic == "e1000" else "virtio-net-pci"
    # microvm: no ACPI tables, so QEMU puts the virtio-mmio devices on the kernel command line
    machine = "microvm,acpi=off" if launch.machine == "microvm" else launch.machine
    argv = [qemu_binary(), "-accel", launch.accel, "-M", machine, "-m", str(launch.memory_mb)]
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
    if machine == "microvm":
        args.append("earlyprintk=ttyS0")
    return " ".join([*args, extra]).strip()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def probe(port: int, timeout: float = 3.0) -> str | None:
    """First line of the app's reply to ``GET / HTTP/1.0`` on 127.0.0.1:PORT, or None.

    QEMU's user networking accepts the host-side connection before the guest does, so a connect()
    alone proves nothing: only bytes coming back from the app count.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = s.recv(4096)
    except OSError:
        return None
    if not data:
        return None
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()


class _Console:
    """Collects the guest's serial output from QEMU's stdout on a thread, noting when the init spoke."""

    def __init__(self, proc: subprocess.Popen[bytes], t0: float) -> None:
        self.proc = proc
        self.t0 = t0
        self.buf = bytearray()
        self.init_at: float | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            with self.lock:
                self.buf += line
                if self.init_at is None and INIT_MARKER.encode() in line:
                    self.init_at = time.monotonic() - self.t0

    def text(self) -> str:
        with self.lock:
            return self.buf.decode(errors="replace").replace("\r\n", "\n")


def _stop(proc: subprocess.Popen[bytes], console: _Console) -> None:
    """Kill QEMU (TERM, then KILL) and collect the console thread: no VM outlives its caller."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    console.thread.join(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


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
    forwards = tuple((free_port(), p) for p in guest_ports)
    launch = Launch(**{**launch.__dict__, "forwards": forwards})
    argv = qemu_argv(launch)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    console = _Console(proc, t0)
    replies: dict[int, str] = {}
    reply_at: float | None = None
    reason = ""
    exit_code: int | None = None
    try:
        deadline = t0 + timeout
        while True:
            if proc.poll() is not None:
                exit_code = proc.returncode
                reason = f"the microVM stopped before the app answered (qemu exit {exit_code})"
                break
            if time.monotonic() > deadline:
                reason = f"no reply within {timeout:.0f} s"
                break
            if console.init_at is None:  # nothing listens before the init has run
                time.sleep(0.2)
                continue
            for host, guest in forwards:
                if guest not in replies:
                    line = probe(host, timeout=2.0)
                    if line is not None:
                        replies[guest] = line
            if len(replies) == len(forwards):
                reply_at = time.monotonic() - t0
                break
            time.sleep(0.5)
    finally:
        _stop(proc, console)
    text = console.text()
    ok = reply_at is not None
    return VerifyResult(
        ok=ok,
        reason="every exposed port answered" if ok else reason,
        accel=launch.accel,
        machine=launch.machine,
        kernel=str(launch.kernel),
        boot_to_init_s=None if console.init_at is None else round(console.init_at, 3),
        boot_to_reply_s=None if reply_at is None else round(reply_at, 3),
        guest_uptime_at_init_s=_guest_uptime_at_init(text),
        replies=tuple(sorted(replies.items())),
        console=text[-console_tail:],
        exit_code=exit_code,
        extra={"argv": argv},
    )


def verify(
    recipe_dir: Path,
    rootfs: Path | None = None,
    kernel: Path | None = None,
    *,
    timeout: float = 120.0,
    machine: str | None = None,
    accel: str | None = None,
    pvh: bool = True,
) -> VerifyResult:
    """Boot the recipe in RECIPE_DIR and probe the app; see the module docstring.

    The initramfs is RECIPE_DIR/initramfs.cpio (built from ROOTFS first when given). The kernel is
    KERNEL, else RECIPE_DIR/bzImage when build-kernel.sh has run, else Debian's stock kernel with its
    NIC driver modules appended as a second archive.
    """
    spec = json.loads((recipe_dir / "microvm.json").read_text())
    cpio = recipe_dir / "initramfs.cpio"
    missing: tuple[str, ...] = ()
    if rootfs is not None:
        missing = build_initramfs(spec, rootfs, cpio)
    if not cpio.exists():
        raise DockuniError("no initramfs.cpio in the recipe (give the image rootfs)", file=str(recipe_dir))
    if kernel is None and (recipe_dir / "bzImage").exists():
        kernel = recipe_dir / "bzImage"
    k = stock_kernel() if kernel is None else kernel_at(kernel)
    # Debian's stock kernel hangs calibrating the TSC on -M microvm under TCG (no PIT/HPET there),
    # so it boots on -M pc; a specialized kernel boots on microvm.
    machine = machine or ("pc" if k.modular else str(spec.get("machine", "microvm")))
    nic = "virtio-mmio" if machine == "microvm" else str(spec.get("nic", "e1000"))
    ports = [int(p) for p in spec.get("ports", [])]
    with tempfile.TemporaryDirectory(prefix="dockuni-verify-") as tmp:
        work = Path(tmp)
        initrd = cpio
        if k.modular:
            if k.modules_dir is None:
                raise DockuniError(f"no modules for stock kernel {k.release}", exit_code=3)
            initrd = work / "initrd.cpio"
            with open(initrd, "wb") as f:
                f.write(cpio.read_bytes())
                f.write(initramfs.modules_archive(k.modules_dir, STOCK_MODULES[nic]))
        kpath = vmlinux_for(k.path, work) if pvh else k.path
        launch = Launch(
            kernel=kpath,
            initrd=initrd,
            append=kernel_cmdline(machine),
            machine=machine,
            accel=accel or detect_accel(str(k.path)),
            nic=nic,
        )
        if not ports:
            raise DockuniError(
                "the image exposes no TCP port to probe", file=str(recipe_dir / "microvm.json")
            )
        result = boot_and_probe(launch, ports, timeout=timeout)
    result.extra["missing_files"] = list(missing)  # listed in the spec, absent from the image
    # name the kernel the user knows, not the temporary vmlinux extracted for the PVH boot
    shown = str(k.path) + (" (as vmlinux, PVH boot)" if kpath != k.path else "")
    return dataclasses.replace(result, kernel=shown + (" + modules " + k.release if k.modular else ""))
