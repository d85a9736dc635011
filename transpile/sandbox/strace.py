"""Parse the output of ``strace -f -ttt -o FILE`` into per-process and total facts (pure: text in).

One line per event, each prefixed by the pid and an absolute timestamp::

    12 1700000000.123456 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
    12 1700000000.123500 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD <unfinished ...>
    13 1700000000.123600 set_robust_list(0x7f..., 24) = 0
    12 1700000000.123700 <... clone resumed>, child_tidptr=0x7f...) = 13
    12 1700000000.123800 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, ...} ---
    13 1700000000.123900 +++ exited with 0 +++

The sandbox's own set-up is traced too (strace starts our exec helper, which then execs the
entrypoint); everything before the helper's marker ``stat`` of :data:`EXEC_MARKER` is ignored, and the
entrypoint's life starts at the first ``execve`` after it.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from transpile.model.trace import INTERRUPTED, OK, FileAccess, ProcessTrace, SocketUse

EXEC_MARKER = "/.dockuni-sandbox-exec"  # keep in sync with _inner.EXEC_MARKER

# What the dynamic loader and libc start-up do between execve and the program's own code. A process
# is "starting up" from a successful execve until its first syscall outside this set; shared objects
# opened and mapped executable after that were loaded by dlopen (docs/trace.md).
LOADER_SYSCALLS = frozenset(
    {
        "brk", "arch_prctl", "mmap", "mprotect", "munmap", "open", "openat", "access", "faccessat",
        "faccessat2", "stat", "fstat", "lstat", "newfstatat", "statx", "read", "pread64", "close",
        "set_tid_address", "set_robust_list", "rseq", "prlimit64", "getrandom", "readlink",
        "execve", "uname",
    }
)  # fmt: skip

_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
_CALL = re.compile(r"^([a-zA-Z0-9_]+)\(")
_RESUMED = re.compile(r"^<\.\.\. ([a-zA-Z0-9_]+) resumed>(.*)$")
_RET = re.compile(r"^\s*=\s*(-?\d+|0x[0-9a-f]+|\?)(?:\s+([A-Z][A-Z0-9_]+))?")
_FLAGS = re.compile(r"flags=([A-Z0-9_|]+)")
_SOCK_FLAGS = {"SOCK_CLOEXEC", "SOCK_NONBLOCK"}
_NOT_FOUND = {"ENOENT", "ENOTDIR"}
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
_NORMAL_CONNECT_ERRORS = ("EINPROGRESS", "EAGAIN", "ENOENT", "ECONNREFUSED")
_LOCAL_ADDRS = ("127.", "[::1]", "/", "@", "[::ffff:127.")
_NO_NET = "the sandbox has only a loopback network"
_SCRATCH = ("/tmp/", "/dev/", "/proc/", "/dev/shm/")  # tmpfs/pseudo files: writes there are not image writes
# calls a contained app should not need; each use is reported with its result
_PRIVILEGED = frozenset({"chroot", "mount", "umount2", "pivot_root", "unshare", "setns", "reboot",
                         "init_module", "finit_module", "kexec_load", "swapon", "settimeofday",
                         "clock_settime", "sethostname", "bpf", "perf_event_open"})  # fmt: skip
_SO_NAME = re.compile(r"\.so(\.[0-9.]+)?$")

# syscall -> (index of the path argument, op, writes?) ; dirfd-relative calls have the dirfd before it
_PATH_CALLS: dict[str, tuple[int, str, bool]] = {
    "stat": (0, "stat", False), "lstat": (0, "stat", False), "newfstatat": (1, "stat", False),
    "statx": (1, "stat", False), "access": (0, "access", False), "faccessat": (1, "access", False),
    "faccessat2": (1, "access", False), "readlink": (0, "readlink", False),
    "readlinkat": (1, "readlink", False), "execve": (0, "exec", False), "execveat": (1, "exec", False),
    "unlink": (0, "unlink", True), "unlinkat": (1, "unlink", True), "rmdir": (0, "unlink", True),
    "mkdir": (0, "mkdir", True), "mkdirat": (1, "mkdir", True), "rename": (0, "rename", True),
    "renameat": (1, "rename", True), "renameat2": (1, "rename", True), "chmod": (0, "chmod", True),
    "fchmodat": (1, "chmod", True), "chown": (0, "chown", True), "lchown": (0, "chown", True),
    "fchownat": (1, "chown", True), "truncate": (0, "truncate", True), "utimensat": (1, "utime", True),
    "symlink": (1, "symlink", True), "symlinkat": (2, "symlink", True), "link": (1, "link", True),
    "linkat": (3, "link", True), "mknod": (0, "mknod", True), "mknodat": (1, "mknod", True),
    "statfs": (0, "stat", False), "chdir": (0, "chdir", False), "chroot": (0, "chroot", False),
    "getxattr": (0, "stat", False), "lgetxattr": (0, "stat", False), "inotify_add_watch": (1, "watch", False),
}  # fmt: skip
_DIRFD_CALLS = {"newfstatat", "statx", "faccessat", "faccessat2", "readlinkat", "unlinkat", "mkdirat",
                "renameat", "renameat2", "fchmodat", "fchownat", "utimensat", "mknodat", "execveat",
                "openat", "openat2"}  # fmt: skip


def _int(text: str) -> int | None:
    """A return value as strace prints it: decimal, 0x hex, 0-prefixed octal (umask), or ``?``."""
    try:
        return int(text, 0)
    except ValueError:
        try:
            return int(text, 8)
        except ValueError:
            return None


def split_args(text: str) -> tuple[list[str], str]:
    """Split ``a, {b, c}, "d,e")  = 3 ...`` into top-level args and the text after the closing paren.

    ``text`` starts right after the syscall's opening parenthesis. Quotes, brackets and braces nest.
    """
    args: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                piece = text[start:i].strip()
                if piece or args:
                    args.append(piece)
                return args, text[i + 1 :]
            depth -= 1
        elif c == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    piece = text[start:].strip()
    if piece:
        args.append(piece)
    return args, ""


def unquote(arg: str) -> str | None:
    """The value of a strace C string literal (``"a\\nb"``), or None when ``arg`` is not one."""
    arg = arg.strip()
    if arg.endswith("..."):
        arg = arg[:-3]
    if len(arg) < 2 or arg[0] != '"' or arg[-1] != '"':
        return None
    body = arg[1:-1]
    if "\\" not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 == len(body):
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = body[i + 1]
        simple = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, "\\": 92, '"': 34, "'": 39}
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt == "x":
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif nxt.isdigit():
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1 : j], 8) & 0xFF)
            i = j
        else:
            out += nxt.encode()
            i += 2
    return out.decode("utf-8", "surrogateescape")


def parse_str_array(arg: str) -> tuple[str, ...]:
    """``["python3", "-m", ...]`` -> ("python3", "-m")."""
    arg = arg.strip()
    if not arg.startswith("["):
        return ()
    items, _ = split_args(arg[1:])
    out = []
    for item in items:
        val = unquote(item)
        if val is not None:
            out.append(val)
    return tuple(out)


def parse_sockaddr(arg: str) -> str:
    """``{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("0.0.0.0")}`` -> "0.0.0.0:80"."""
    port = re.search(r"sin6?_port=htons\((\d+)\)", arg)
    if "AF_INET6" in arg:
        addr = re.search(r'inet_pton\(AF_INET6, "([^"]*)"', arg)
        return f"[{addr.group(1) if addr else '::'}]:{port.group(1) if port else 0}"
    if "AF_INET" in arg:
        addr = re.search(r'inet_addr\("([^"]*)"\)', arg)
        return f"{addr.group(1) if addr else '0.0.0.0'}:{port.group(1) if port else 0}"
    if "AF_UNIX" in arg:
        path = re.search(r"sun_path=(@?\"(?:[^\"\\]|\\.)*\")", arg)
        if path:
            raw = path.group(1)
            abstract = raw.startswith("@")
            val = unquote(raw.lstrip("@")) or ""
            return ("@" if abstract else "") + val
        return ""
    fam = re.search(r"sa_family=(\w+)", arg)
    return fam.group(1) if fam else ""


@dataclass
class _Sock:
    family: str
    type: str
    bound: str = ""
    listening: bool = False
    connected_to: str = ""


@dataclass
class _Proc:
    pid: int
    parent: int = 0
    tgid: int = 0
    argv: tuple[str, ...] = ()
    is_thread: bool = False
    clone_flags: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    exit_status: int | None = None
    killed_by: str = ""
    ended_at: int | None = None  # event index of its exit
    starting: bool = True  # between execve and the first non-loader syscall
    execd: bool = False


@dataclass
class ParsedTrace:
    """Everything the trace text says; the runner adds what only the host knows (probes, limits)."""

    started: bool  # the entrypoint's execve succeeded
    exec_error: str  # errno of a failed entrypoint execve ("" when it started or never tried)
    root_pid: int
    processes: tuple[ProcessTrace, ...]
    syscalls: tuple[tuple[str, int], ...]
    files: tuple[FileAccess, ...]
    execs: tuple[tuple[str, ...], ...]
    dlopened: tuple[str, ...]
    sockets: tuple[SocketUse, ...]
    signals: tuple[str, ...]
    listening_ports: tuple[int, ...]
    findings: tuple[str, ...]
    daemonized: bool
    root_exit_status: int | None
    root_killed_by: str
    first_ts: float
    last_ts: float
    lines: int
    unparsed: int
    # phase -> syscall -> outcome -> calls (facts.TraceFacts.outcomes)
    outcomes: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    start_ts: float = 0.0  # timestamp of the entrypoint's execve
    injected: tuple[tuple[str, int], ...] = ()  # calls strace's fault injection tampered with


def outcome(ret: int | None, err: str) -> str:
    """``ok``, ``interrupted`` (ERESTART*: the kernel restarts it) or the errno name of one call."""
    if err.startswith("ERESTART"):
        return INTERRUPTED
    if err and (ret is None or ret < 0):
        return err
    return OK


class _Parser:
    def __init__(self, workdir: str, serving_from: float | None, stopping_from: float | None) -> None:
        self.workdir = workdir or "/"
        self.serving_from = serving_from
        self.stopping_from = stopping_from
        self.outcomes: dict[str, dict[str, dict[str, int]]] = {}
        self.injected: dict[str, int] = {}
        self.phase = "startup"
        self.start_ts = 0.0
        self.call_ts = 0.0
        self.procs: dict[int, _Proc] = {}
        self.order: list[int] = []
        self.total: dict[str, int] = {}
        self.files: dict[tuple[str, str, bool, bool, str, str], None] = {}
        self.execs: list[tuple[str, ...]] = []
        self.dlopened: dict[str, None] = {}
        self.sockets: list[_Sock] = []
        self.fds: dict[int, dict[int, tuple[str, bool]]] = {}  # tgid -> fd -> (path, opened after start-up)
        self.sockfds: dict[int, dict[int, _Sock]] = {}  # tgid -> fd -> socket
        self.cwd: dict[int, str] = {}  # tgid -> cwd
        self.signals: dict[str, None] = {}
        self.findings: dict[str, None] = {}
        self.pending: dict[int, tuple[str, float]] = {}  # pid -> (unfinished call text, its timestamp)
        self.root = 0
        self.marker_seen = False
        self.started = False
        self.exec_error = ""
        self.index = 0
        self.first_ts = 0.0
        self.last_ts = 0.0
        self.lines = 0
        self.unparsed = 0
        self.written: dict[str, None] = {}  # paths changed by a successful call

    # -- bookkeeping ---------------------------------------------------------------------------
    def proc(self, pid: int) -> _Proc:
        p = self.procs.get(pid)
        if p is None:
            p = _Proc(pid=pid, tgid=pid)
            self.procs[pid] = p
            self.order.append(pid)
        return p

    def tracked(self, pid: int) -> bool:
        return self.started and pid in self.procs

    def note_file(
        self, path: str, op: str, found: bool, write: bool, ok: bool = False, err: str = ""
    ) -> None:
        error = "" if ok or err.startswith("ERESTART") else err
        self.files.setdefault((path, op, found, write, error, self.phase), None)
        if write and ok:
            self.written.setdefault(path, None)

    def abspath(self, tgid: int, path: str, dirfd: str | None = None) -> str:
        if path.startswith("/"):
            return "/" + posixpath.normpath(path).lstrip("/")
        base = self.cwd.get(tgid, self.workdir)
        if dirfd is not None and dirfd != "AT_FDCWD":
            with contextlib.suppress(ValueError):
                base = self.fds.get(tgid, {}).get(int(dirfd), (base, False))[0]
        return "/" + posixpath.normpath(posixpath.join(base, path)).lstrip("/") if path else base

    # -- input ----------------------------------------------------------------------------------
    def feed(self, raw: str) -> None:
        self.lines += 1
        m = _LINE.match(raw.rstrip("\n"))
        if not m:
            if raw.strip():
                self.unparsed += 1
            return
        pid = int(m.group(1))
        ts = float(m.group(2))
        rest = m.group(3)
        if not self.first_ts:
            self.first_ts = ts
        self.last_ts = ts
        if not self.root:
            self.root = pid
        if rest.endswith(" <unfinished ...>"):
            self.pending[pid] = (rest[: -len(" <unfinished ...>")], ts)
            return
        r = _RESUMED.match(rest)
        if r:
            head, ts = self.pending.pop(pid, (f"{r.group(1)}(", ts))
            rest = head + r.group(2)
        # a call belongs to the phase in which it was entered (a blocking accept started before the
        # probes is a start-up call; a handler run after the stop signal is shutdown)
        self.phase = self.phase_of(ts)
        self.call_ts = ts
        self.index += 1
        if rest.startswith("+++ "):
            self.on_exit(pid, rest)
        elif rest.startswith("--- "):
            self.on_signal(pid, rest)
        else:
            c = _CALL.match(rest)
            if not c:
                self.unparsed += 1
                return
            args, tail = split_args(rest[c.end() :])
            ret = _RET.match(tail)
            retval: int | None = None
            err = ""
            if ret:
                retval = _int(ret.group(1))
                err = ret.group(2) or ""
            self.on_call(pid, c.group(1), args, tail, retval, err)

    def phase_of(self, ts: float) -> str:
        if self.stopping_from is not None and ts >= self.stopping_from:
            return "shutdown"
        if self.serving_from is not None and ts >= self.serving_from:
            return "serving"
        return "startup"

    def on_exit(self, pid: int, rest: str) -> None:
        if not self.tracked(pid):
            return
        p = self.proc(pid)
        p.ended_at = self.index
        m = re.match(r"\+\+\+ exited with (\d+)", rest)
        if m:
            p.exit_status = int(m.group(1))
        m = re.match(r"\+\+\+ killed by (SIG\w+)", rest)
        if m:
            p.killed_by = m.group(1)

    def on_signal(self, pid: int, rest: str) -> None:
        if not self.tracked(pid):
            return
        m = re.match(r"--- (SIG\w+)", rest)
        if m:
            self.signals.setdefault(m.group(1), None)
            if m.group(1) == "SIGXFSZ":
                self.findings.setdefault("file-size limit reached: SIGXFSZ delivered", None)

    def on_call(self, pid: int, name: str, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if not self.started:
            if pid != self.root:
                return
            if not self.marker_seen:
                if any(unquote(a) == EXEC_MARKER for a in args[:2]):
                    self.marker_seen = True
                return
            if name != "execve":
                return
            if ret == 0:
                self.started = True
                self.start_ts = self.call_ts
                self.proc(pid)
            else:
                self.exec_error = err or "failed"
                return
        p = self.proc(pid)
        p.counts[name] = p.counts.get(name, 0) + 1
        self.total[name] = self.total.get(name, 0) + 1
        results = self.outcomes.setdefault(self.phase, {}).setdefault(name, {})
        key = outcome(ret, err)
        results[key] = results.get(key, 0) + 1
        if tail.rstrip().endswith("(INJECTED)"):
            self.injected[name] = self.injected.get(name, 0) + 1
        tgid = p.tgid
        if p.starting and name not in LOADER_SYSCALLS:
            self.set_started(tgid)
        if name in _PRIVILEGED:
            self.privileged(p, name, args, ret, err)
        handler = getattr(self, f"sys_{name}", None)
        if handler is not None:
            handler(p, args, tail, ret, err)
        elif name in _PATH_CALLS:
            self.path_call(p, name, args, ret, err)
        if err in ("ENOSPC", "EDQUOT", "EFBIG") and name in (
            "write",
            "pwrite64",
            "writev",
            "fallocate",
            "openat",
            "mkdir",
            "ftruncate",
            "close",
        ):
            self.findings.setdefault(f"disk limit reached: {name} failed with {err}", None)

    def set_started(self, tgid: int) -> None:
        for q in self.procs.values():
            if q.tgid == tgid:
                q.starting = False

    # -- files ----------------------------------------------------------------------------------
    def path_call(self, p: _Proc, name: str, args: list[str], ret: int | None, err: str) -> None:
        idx, op, write = _PATH_CALLS[name]
        if idx >= len(args):
            return
        path = unquote(args[idx])
        if path is None or (path == "" and name in _DIRFD_CALLS):
            return  # fstatat(fd, "", AT_EMPTY_PATH) is an fstat
        dirfd = args[idx - 1] if name in _DIRFD_CALLS and idx >= 1 else None
        full = self.abspath(p.tgid, path, dirfd)
        found = not (ret is not None and ret < 0 and err in _NOT_FOUND)
        if op == "mkdir" and err == "EEXIST":
            found = True
        self.note_file(full, op, found, write, ret is not None and ret >= 0, err)
        if op == "chdir" and ret == 0:
            self.cwd[p.tgid] = full

    def sys_execve(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        self.path_call(p, "execve", args, ret, err)
        if ret == 0:
            argv = parse_str_array(args[1]) if len(args) > 1 else ()
            p.argv = argv
            p.execd = True
            self.execs.append(argv)
            p.starting = True
            # exec closes O_CLOEXEC fds; we do not track that flag per fd, so forget mapped paths
            table = self.fds.get(p.tgid, {})
            self.fds[p.tgid] = {fd: (path, False) for fd, (path, _) in table.items()}

    def open_call(
        self, p: _Proc, path_arg: str, flags: str, dirfd: str | None, ret: int | None, err: str
    ) -> None:
        path = unquote(path_arg)
        if path is None:
            return
        full = self.abspath(p.tgid, path, dirfd)
        found = not (ret is not None and ret < 0 and err in _NOT_FOUND)
        write = any(f in flags for f in _WRITE_FLAGS)
        self.note_file(full, "open", found, write, ret is not None and ret >= 0, err)
        if ret is not None and ret >= 0:
            self.fds.setdefault(p.tgid, {})[ret] = (full, not p.starting)
            self.sockfds.get(p.tgid, {}).pop(ret, None)

    def sys_openat(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if len(args) >= 3:
            self.open_call(p, args[1], args[2], args[0], ret, err)

    def sys_openat2(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if len(args) >= 3:
            self.open_call(p, args[1], args[2], args[0], ret, err)

    def sys_open(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if len(args) >= 2:
            self.open_call(p, args[0], args[1], None, ret, err)

    def sys_creat(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if args:
            self.open_call(p, args[0], "O_CREAT|O_WRONLY|O_TRUNC", None, ret, err)

    def sys_mmap(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if len(args) < 5 or "PROT_EXEC" not in args[2]:
            return
        try:
            fd = int(args[4])
        except ValueError:
            return
        entry = self.fds.get(p.tgid, {}).get(fd)
        if entry is None:
            return
        path, late = entry
        self.note_file(path, "mmap", True, False)
        if late and _SO_NAME.search(path):
            self.dlopened.setdefault(path, None)

    def sys_close(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        try:
            fd = int(args[0])
        except (ValueError, IndexError):
            return
        self.fds.get(p.tgid, {}).pop(fd, None)
        self.sockfds.get(p.tgid, {}).pop(fd, None)

    def sys_fchdir(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        try:
            entry = self.fds.get(p.tgid, {}).get(int(args[0]))
        except (ValueError, IndexError):
            return
        if entry and ret == 0:
            self.cwd[p.tgid] = entry[0]

    # -- processes ------------------------------------------------------------------------------
    def new_child(self, p: _Proc, child: int | None, flags: str) -> None:
        if child is None or child <= 0:
            return
        c = self.proc(child)
        c.parent = p.pid
        c.clone_flags = flags
        c.is_thread = "CLONE_THREAD" in flags
        c.tgid = p.tgid if c.is_thread else child
        if not c.execd:  # its own execve may already be in the trace (printed before our return)
            c.argv = p.argv
            c.starting = p.starting
        if not c.is_thread:
            shared = "CLONE_FILES" in flags
            self.fds[child] = self.fds.get(p.tgid, {}) if shared else dict(self.fds.get(p.tgid, {}))
            socks = self.sockfds.get(p.tgid, {})
            self.sockfds[child] = socks if shared else dict(socks)
            self.cwd[child] = self.cwd.get(p.tgid, self.workdir)

    def sys_clone(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        m = _FLAGS.search(",".join(args))
        self.new_child(p, ret, m.group(1) if m else "")

    def sys_clone3(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        self.sys_clone(p, args, tail, ret, err)

    def sys_fork(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        self.new_child(p, ret, "SIGCHLD")

    def sys_vfork(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        self.new_child(p, ret, "CLONE_VM|CLONE_VFORK|SIGCHLD")

    def sys_ptrace(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        req = args[0] if args else "?"
        result = "ok" if ret is not None and ret >= 0 else err or "?"
        self.findings.setdefault(f"ptrace({req}) attempted by pid {p.pid}: {result}", None)

    def privileged(self, p: _Proc, name: str, args: list[str], ret: int | None, err: str) -> None:
        result = "ok" if ret is not None and ret >= 0 else err or "?"
        shown = ", ".join(a[:40] for a in args[:2])
        self.findings.setdefault(f"pid {p.pid} called {name}({shown}): {result}", None)

    def sys_kill(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if len(args) < 2:
            return
        target = args[0]
        try:
            t = int(target)
        except ValueError:
            return
        own = {q.pid for q in self.procs.values() if q.tgid == p.tgid}
        if t in own:
            return
        desc = "every process it can see" if t == -1 else f"pid {t}"
        if t == 0:
            desc = "its own process group"
        elif t < -1:
            desc = f"process group {-t}"
        result = "ok" if ret == 0 else err or "?"
        if t == 1:
            desc = "pid 1 (the tracer, the sandbox's init)"
            if ret == 0:
                result = "ignored by the kernel (a pid namespace's init only gets signals it handles)"
        self.findings.setdefault(f"pid {p.pid} sent {args[1]} to {desc}: {result}", None)

    # -- sockets --------------------------------------------------------------------------------
    def sock(self, p: _Proc, fd_arg: str) -> _Sock | None:
        try:
            return self.sockfds.get(p.tgid, {}).get(int(fd_arg))
        except ValueError:
            return None

    def sys_socket(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if ret is None or ret < 0 or len(args) < 2:
            return
        typ = "|".join(t for t in args[1].split("|") if t not in _SOCK_FLAGS)
        s = _Sock(family=args[0], type=typ)
        self.sockets.append(s)
        self.sockfds.setdefault(p.tgid, {})[ret] = s
        self.fds.get(p.tgid, {}).pop(ret, None)

    def sys_bind(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        s = self.sock(p, args[0]) if args else None
        if s is not None and ret == 0 and len(args) > 1:
            s.bound = parse_sockaddr(args[1])

    def sys_listen(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        s = self.sock(p, args[0]) if args else None
        if s is not None and ret == 0:
            s.listening = True

    def sys_connect(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if len(args) < 2:
            return
        addr = parse_sockaddr(args[1])
        s = self.sock(p, args[0])
        if s is not None:
            s.connected_to = addr
        failed = ret is not None and ret < 0 and err not in _NORMAL_CONNECT_ERRORS
        if failed and not addr.startswith(_LOCAL_ADDRS):
            self.findings.setdefault(f"connect to {addr} failed with {err}: {_NO_NET}", None)

    def sys_sendto(self, p: _Proc, args: list[str], tail: str, ret: int | None, err: str) -> None:
        if len(args) >= 5 and args[4].startswith("{") and err in ("ENETUNREACH", "EHOSTUNREACH"):
            where = parse_sockaddr(args[4])
            self.findings.setdefault(f"sendto {where} failed with {err}: {_NO_NET}", None)

    # -- result ---------------------------------------------------------------------------------
    def result(self) -> ParsedTrace:
        procs = []
        for pid in self.order:
            q = self.procs[pid]
            procs.append(
                ProcessTrace(
                    pid=q.pid,
                    parent=q.parent,
                    argv=q.argv,
                    is_thread=q.is_thread,
                    clone_flags=q.clone_flags,
                    syscalls=tuple(q.counts.items()),
                    exit_status=q.exit_status,
                    killed_by=q.killed_by,
                )
            )
        root = self.procs.get(self.root)
        daemonized = False
        findings = dict(self.findings)
        if root is not None and self.started and root.ended_at is not None and root.killed_by == "":
            later = [
                q
                for q in self.procs.values()
                if q.pid != self.root
                and not q.is_thread
                and (q.ended_at is None or q.ended_at > root.ended_at)
            ]
            # prefer those still running at the end (never exited, or ended by a signal: ours)
            alive = [q for q in later if q.ended_at is None or q.killed_by] or later
            if alive:
                daemonized = True
                kept = ", ".join(
                    f"pid {q.pid}" + (f" ({' '.join(q.argv)})" if q.argv else "") for q in alive[:5]
                )
                findings.setdefault(
                    f"the entrypoint daemonized: its first process (pid {self.root}) exited with "
                    f"{root.exit_status} while {kept} kept running",
                    None,
                )
        socks: dict[SocketUse, None] = {}
        ports: dict[int, None] = {}
        for s in self.sockets:
            socks.setdefault(SocketUse(s.family, s.type, s.bound, s.listening, s.connected_to), None)
            if s.family in ("AF_INET", "AF_INET6") and s.bound:
                port = int(s.bound.rsplit(":", 1)[1])
                if port and (s.listening or s.type == "SOCK_DGRAM"):
                    ports.setdefault(port, None)
        written = sorted(path for path in self.written if not path.startswith(_SCRATCH))
        if written:
            shown = ", ".join(written[:8]) + (", ..." if len(written) > 8 else "")
            findings.setdefault(
                f"wrote {len(written)} path(s) of the image filesystem (kept in the throwaway overlay): "
                + shown,
                None,
            )
        threads = sum(1 for q in self.procs.values() if q.is_thread)
        children = len(self.procs) - threads - (1 if root else 0)
        if children:
            findings.setdefault(f"created {children} child process(es) and {threads} thread(s)", None)
        return ParsedTrace(
            started=self.started,
            exec_error=self.exec_error,
            root_pid=self.root,
            processes=tuple(procs),
            syscalls=tuple(self.total.items()),
            files=tuple(FileAccess(*key) for key in self.files),
            execs=tuple(self.execs),
            dlopened=tuple(self.dlopened),
            sockets=tuple(socks),
            signals=tuple(self.signals),
            listening_ports=tuple(sorted(ports)),
            findings=tuple(findings),
            daemonized=daemonized,
            root_exit_status=root.exit_status if root else None,
            root_killed_by=root.killed_by if root else "",
            first_ts=self.first_ts,
            last_ts=self.last_ts,
            lines=self.lines,
            unparsed=self.unparsed,
            outcomes=self.outcomes,
            start_ts=self.start_ts,
            injected=tuple(self.injected.items()),
        )


def parse_strace(
    lines: Iterable[str],
    workdir: str = "/",
    serving_from: float | None = None,
    stopping_from: float | None = None,
) -> ParsedTrace:
    """Parse ``strace -f -ttt`` output (see the module doc) of one sandboxed run.

    ``serving_from`` and ``stopping_from`` are the wall-clock times (the clock of strace's ``-ttt``)
    at which the probes started and the stop signal was sent: calls entered from then on are
    ``serving`` and ``shutdown`` calls; before, ``startup``.
    """
    parser = _Parser(workdir, serving_from, stopping_from)
    for line in lines:
        parser.feed(line)
    return parser.result()
