"""The generic VM runner: start QEMU with a given command line, forward host ports to guest ports,
probe the app the way the trace does, time the first reply, and always stop QEMU.

Accelerator: ``detect_accel`` says "kvm" only when a probe VM really runs under KVM (a /dev/kvm
that opens is not enough: nested setups exist where every guest dies with an emulation failure),
else "tcg". ``DOCKUNI_ACCEL=kvm|tcg`` overrides the probe.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from transpile.errors import DockuniError
from transpile.runtime.payload import Payload

# The probe guest: real-mode code on a raw disk that turns on CR4.OSXSAVE, runs XGETBV (every kernel
# dockuni boots does so early; the nested KVM setups that cannot run guests fail exactly there with an
# emulation failure), then writes "ok" to port 0xe9 (QEMU's debug console) and halts.
_PROBE_MARK = b"ok"
PROBE_TIMEOUT = 3.0  # one probe's connect + reply wait
PROBE_INTERVAL = 0.2  # between probe starts
PROBES_IN_FLIGHT = 16  # per port: more than PROBE_TIMEOUT / PROBE_INTERVAL, so one always starts
_PROBE_CODE = bytes([
    0x0F, 0x20, 0xE0,  # mov eax, cr4
    0x66, 0x0D, 0x00, 0x00, 0x04, 0x00,  # or eax, 1 << 18 (OSXSAVE)
    0x0F, 0x22, 0xE0,  # mov cr4, eax
    0x66, 0x31, 0xC9,  # xor ecx, ecx
    0x0F, 0x01, 0xD0,  # xgetbv
    0xB0, ord("o"), 0xE6, 0xE9, 0xB0, ord("k"), 0xE6, 0xE9,  # out 0xe9 "ok"
    0xFA, 0xF4, 0xEB, 0xFD,  # cli; hlt; jmp back to hlt
])


def qemu_binary() -> str:
    exe = shutil.which("qemu-system-x86_64")
    if not exe:
        raise DockuniError("qemu-system-x86_64 not found: apt install qemu-system-x86", exit_code=3)
    return exe


def _probe_disk() -> bytes:
    return _PROBE_CODE + b"\0" * (510 - len(_PROBE_CODE)) + b"\x55\xaa"  # an MBR boot sector


@functools.cache
def detect_accel(timeout: float = 6.0) -> str:
    """ "kvm" when a tiny guest runs under KVM here, else "tcg" (see the module docstring)."""
    forced = os.environ.get("DOCKUNI_ACCEL", "")
    if forced in ("kvm", "tcg"):
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    with tempfile.TemporaryDirectory(prefix="dockuni-kvm-probe-") as tmp:
        disk = Path(tmp) / "probe.img"
        disk.write_bytes(_probe_disk())
        argv = [qemu_binary(), "-accel", "kvm", "-M", "pc", "-cpu", "host", "-m", "16",
                "-display", "none", "-monitor", "none", "-serial", "none", "-nodefaults",
                "-debugcon", "stdio", "-drive", f"file={disk},format=raw,if=ide"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        console = Console(proc, time.monotonic())
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < timeout and proc.poll() is None:
                if _PROBE_MARK in console.raw():
                    break
                time.sleep(0.05)
        finally:
            stop(proc, console)
        return "kvm" if _PROBE_MARK in console.raw() else "tcg"


def accel_args(accel: str) -> list[str]:
    return ["-accel", accel, "-cpu", "host" if accel == "kvm" else "max"]


def host_forwards(forwards: Sequence[tuple[int, int]]) -> str:
    """The `-netdev user` suffix that forwards each (host, guest) TCP port from 127.0.0.1 only."""
    return "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in forwards)


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


def probe_tcp(port: int, timeout: float = 3.0) -> str | None:
    """For a non-HTTP app: a connection the guest keeps open (QEMU closes at once the ones nobody
    in the guest accepts) or that sends bytes first; None otherwise."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(0.5)
            try:
                data = s.recv(256)
            except TimeoutError:
                return "tcp: connection accepted"
            if data:
                return "tcp: " + data.split(b"\n", 1)[0].decode(errors="replace").strip()
    except OSError:
        return None
    return None


class Console:
    """Collects QEMU's stdout (the guest's serial console) on a thread, optionally into a log file,
    noting when a MARKER first appears."""

    def __init__(
        self, proc: subprocess.Popen[bytes], t0: float, log: Path | None = None, marker: bytes = b""
    ) -> None:
        self.proc = proc
        self.t0 = t0
        self.buf = bytearray()
        self.marker = marker
        self.marker_at: float | None = None
        self.lock = threading.Lock()
        self.log = open(log, "wb") if log is not None else None  # noqa: SIM115 - closed in join()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        out = self.proc.stdout
        assert out is not None
        fd = out.fileno()
        for chunk in iter(lambda: os.read(fd, 65536), b""):
            with self.lock:
                self.buf += chunk
                if self.log is not None:
                    self.log.write(chunk)
                    self.log.flush()
                if self.marker and self.marker_at is None and self.marker in self.buf:
                    self.marker_at = time.monotonic() - self.t0

    def raw(self) -> bytes:
        with self.lock:
            return bytes(self.buf)

    def text(self) -> str:
        return self.raw().decode(errors="replace").replace("\r\n", "\n")

    def join(self) -> None:
        self.thread.join(timeout=5)
        if self.log is not None:
            self.log.close()


def stop(proc: subprocess.Popen[bytes], console: Console) -> None:
    """Kill QEMU's process group (TERM, then KILL) and collect the console: no VM outlives its caller."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    console.join()
    if proc.stdout is not None:
        proc.stdout.close()


# --- one boot --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootResult:
    status: str  # "answered" | "failed"
    boot_to_reply_s: float | None  # QEMU start -> the first reply on every guest port
    accelerator: str  # "kvm" | "tcg"
    console_log: Path  # the guest's serial console
    detail: str  # the reply's first line, or why not (the telling console lines)
    replies: tuple[tuple[int, str], ...] = ()  # (guest port, first line of the reply)
    exit_code: int | None = None  # QEMU's, when it stopped by itself
    image_bytes: int | None = None  # what was booted (kernel + image), filled in by the packer
    memory_mib: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "boot_to_reply_s": self.boot_to_reply_s,
            "accelerator": self.accelerator,
            "console_log": str(self.console_log),
            "detail": self.detail,
            "replies": [list(r) for r in self.replies],
            "exit_code": self.exit_code,
            "image_bytes": self.image_bytes,
            "memory_mib": self.memory_mib,
        }


# Console lines that explain a failed boot, across the kernels dockuni boots.
TELLING = re.compile(
    r"(ERR|error|Error|ERROR|fail|Fail|FAIL|not found|No such file|unimplemented|not implemented|"
    r"panic|Panic|PANIC|fault|Fault|abort|Abort|cannot|Cannot|unable|Unable|refused|Exec format|"
    r"position-independent|missing|Traceback|Exception|killed|exit status|exited)"
)


def telling_lines(console: str, limit: int = 8) -> str:
    lines = [ln.strip() for ln in console.splitlines() if ln.strip()]
    hits = [ln for ln in lines if TELLING.search(ln)]
    chosen = hits[:limit] if hits else lines[-3:]
    return " | ".join(ln[:300] for ln in chosen)


def boot(
    argv_for: Callable[[Sequence[tuple[int, int]], str], Sequence[str]],
    guest_ports: Sequence[int],
    console_log: Path,
    *,
    timeout: float = 120.0,
    accel: str | None = None,
    http: bool = True,
    ready: Callable[[str], bool] | None = None,
    image_bytes: int | None = None,
    memory_mib: int | None = None,
) -> BootResult:
    """Boot a VM and probe it: ``argv_for(forwards, accel)`` gives QEMU's command line for the
    (host port, guest port) forwards chosen here; QEMU's console goes to CONSOLE_LOG.

    Every guest port is probed with HTTP GET / (then, when HTTP is off or gets no bytes, a plain TCP
    check) until each answers, QEMU stops, or TIMEOUT. Probing waits for READY(console) when given.
    QEMU runs in its own process group and is killed on every path.
    """
    accel = accel or detect_accel()
    forwards = tuple((free_port(), p) for p in guest_ports)
    argv = list(argv_for(forwards, accel))
    console_log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    console = Console(proc, t0, console_log)
    replies: dict[int, str] = {}
    reply_at: float | None = None
    reason = ""
    exit_code: int | None = None
    # Overlapping probes: QEMU accepts the host side at once and a connection made before the guest
    # listens just waits, so one probe at a time would see the reply only at its own timeout.
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=PROBES_IN_FLIGHT * len(forwards) or 1)
    inflight: dict[int, list[concurrent.futures.Future[tuple[str | None, float]]]] = {}

    def attempt(host: int) -> tuple[str | None, float]:
        line = probe(host, timeout=PROBE_TIMEOUT) if http else probe_tcp(host, timeout=PROBE_TIMEOUT)
        return line, time.monotonic()

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
            if ready is not None and not ready(console.text()):
                time.sleep(0.1)
                continue
            last = 0.0
            for host, guest in forwards:
                if guest in replies:
                    continue
                futures = inflight.setdefault(guest, [])
                for f in [f for f in futures if f.done()]:
                    futures.remove(f)
                    line, at = f.result()
                    if line is not None and guest not in replies:
                        replies[guest] = line
                        last = max(last, at)
                if guest not in replies and len(futures) < PROBES_IN_FLIGHT:
                    futures.append(pool.submit(attempt, host))
            if len(replies) == len(forwards):
                reply_at = last - t0
                break
            time.sleep(PROBE_INTERVAL)
    finally:
        stop(proc, console)  # in-flight probes end with QEMU's sockets
        pool.shutdown(wait=True, cancel_futures=True)
    text = console.text()
    if reply_at is not None:
        return BootResult("answered", round(reply_at, 3), accel, console_log,
                          "; ".join(f"{g}: {r}" for g, r in sorted(replies.items())),
                          tuple(sorted(replies.items())), exit_code, image_bytes, memory_mib)
    detail = reason
    told = telling_lines(text)
    if told:
        detail += ": " + told
    return BootResult("failed", None, accel, console_log, detail, tuple(sorted(replies.items())), exit_code,
                      image_bytes, memory_mib)


def run_script(words: Sequence[str], variables: Mapping[str, str], what: str) -> str:
    """A POSIX sh script that runs the QEMU command WORDS (its first word is replaced by
    qemu-system-x86_64 from PATH). A word equal to a key of VARIABLES becomes that shell variable, whose
    default is the value: the recipe's files are found beside the script; ACCEL picks kvm or tcg."""
    lines = [
        "#!/bin/sh",
        f"# Generated by dockuni: boot {what} under QEMU (ACCEL=kvm where KVM works, tcg otherwise).",
        "set -eu",
        'here=$(cd "$(dirname "$0")" && pwd)',
        "accel=${ACCEL:-tcg}",
    ]
    lines += [f"{name.lower()}=${{{name}:-{default}}}" for name, default in variables.items()]
    quoted = []
    for i, word in enumerate(words):
        if i == 0:
            quoted.append("qemu-system-x86_64")
        elif any(name in word for name in variables):
            # a variable inside a word (file=IMAGE): double quotes with the variable expanded
            text = "".join("\\" + ch if ch in '"$`\\' else ch for ch in word)
            for name in variables:
                text = text.replace(name, "${" + name.lower() + "}")
            quoted.append(f'"{text}"')
        elif word == "@ACCEL@":
            quoted.append('"$accel"')
        else:
            quoted.append(shlex.quote(word))
    # one option and its value per line
    grouped: list[str] = [quoted[0]]
    for word in quoted[1:]:
        if word.startswith("-") or grouped[-1].count(" ") or not grouped[-1].startswith("-"):
            grouped.append(word)
        else:
            grouped[-1] += " " + word
    lines.append("exec " + " \\\n    ".join(grouped))
    return "\n".join(lines) + "\n"


# (payload, image path or a run.sh variable name, (host, guest) port forwards, accelerator) -> QEMU argv
LaunchArgv = Callable[[Payload, str, Sequence[tuple[int, int]], str], list[str]]


def boot_image(
    launch: LaunchArgv, payload: Payload, image: Path, work_dir: Path, timeout: float
) -> BootResult:
    """Boot a disk IMAGE made for PAYLOAD with LAUNCH's command line (QEMU from PATH) and probe it."""

    def argv(forwards: Sequence[tuple[int, int]], accel: str) -> list[str]:
        return [qemu_binary(), *launch(payload, str(image), forwards, accel)[1:]]

    return boot(argv, payload.ports, work_dir / "console.log", timeout=timeout, http=payload.http,
                image_bytes=image.stat().st_size, memory_mib=payload.memory_mib)  # fmt: skip


def write_run_script(launch: LaunchArgv, payload: Payload, image: Path, recipe_dir: Path, what: str) -> None:
    """RECIPE_DIR/run.sh: boot IMAGE (beside the script) with the app's ports forwarded to 127.0.0.1."""
    words = launch(payload, "IMAGE", [(p, p) for p in payload.ports], "@ACCEL@")
    path = recipe_dir / "run.sh"
    path.write_text(run_script(words, {"IMAGE": f"$here/{image.name}"}, what))
    path.chmod(0o755)
