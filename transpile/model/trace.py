"""What a sandboxed run of the entrypoint showed: the dynamic facts every later pass reads.

Plain frozen data; ``to_json``/``from_json`` round-trip so ``dockuni graph --trace FILE`` can reuse a
recorded trace.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field
from typing import Any

# The three phases of a run (docs/trace.md): from the entrypoint's execve until the probes start,
# while they run and until dockuni sends its stop signal, and after that signal.
PHASES = ("startup", "serving", "shutdown")
OK = "ok"  # outcome key of a call that returned a non-negative value (or no value: exit_group)
# a call the kernel restarts after a signal handler (strace prints ERESTART*): not a failure
INTERRUPTED = "interrupted"
_SYSCALL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_ERRNO_NAMES = frozenset(errno.errorcode.values())


@dataclass(frozen=True)
class Injection:
    """One fault injected into a run (Loupe's method): a syscall fails or is faked, or a path is absent.

    Exactly one form: ``syscall`` with ``error`` (the call fails with that errno, e.g. ENOSYS: a
    stub), ``syscall`` with ``retval`` (the call is not made and returns that value: a fake), or
    ``path`` (the file or directory does not exist in the sandbox).
    """

    syscall: str = ""
    error: str = ""
    retval: int | None = None
    path: str = ""

    def __post_init__(self) -> None:
        if self.path:
            if self.syscall or self.error or self.retval is not None:
                raise ValueError(f"injection {self.key}: a path injection takes no syscall, error or retval")
            if not self.path.startswith("/") or "\0" in self.path:
                raise ValueError(f"injection {self.path!r}: the path must be absolute")
            return
        if not _SYSCALL_NAME.match(self.syscall):
            raise ValueError(f"injection {self.syscall!r}: not a syscall name")
        if (self.error == "") == (self.retval is None):
            raise ValueError(f"injection {self.syscall}: give either an errno or a return value")
        if self.error and self.error not in _ERRNO_NAMES:
            raise ValueError(f"injection {self.syscall}: unknown errno {self.error!r}")

    @property
    def key(self) -> str:
        """``SYSCALL:error=ENOSYS``, ``SYSCALL:retval=0`` or ``path:/sys/...`` (unique per injection)."""
        if self.path:
            return f"path:{self.path}"
        if self.error:
            return f"{self.syscall}:error={self.error}"
        return f"{self.syscall}:retval={self.retval}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.path:
            out["path"] = self.path
        else:
            out["syscall"] = self.syscall
            if self.error:
                out["error"] = self.error
            else:
                out["retval"] = self.retval
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Injection:
        retval = data.get("retval")
        return cls(
            syscall=str(data.get("syscall", "")),
            error=str(data.get("error", "")),
            retval=None if retval is None else int(retval),
            path=str(data.get("path", "")),
        )


@dataclass(frozen=True)
class FileAccess:
    path: str  # as seen inside the sandbox (absolute, normalised)
    op: str  # "open", "stat", "exec", "mmap", "readlink", "access", "unlink", "mkdir", ...
    found: bool  # False when the call failed with ENOENT/ENOTDIR
    write: bool = False  # opened for writing / created / modified
    error: str = ""  # errno name when the call failed (ENOENT, EACCES, ...), "" when it succeeded
    phase: str = ""  # "startup", "serving" or "shutdown" ("" in traces recorded before phases)


@dataclass(frozen=True)
class SocketUse:
    family: str  # "AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK", ...
    type: str  # "SOCK_STREAM", "SOCK_DGRAM", ...
    bound: str = ""  # "0.0.0.0:80", "[::]:80", "/run/x.sock"
    listening: bool = False
    connected_to: str = ""


@dataclass(frozen=True)
class ProcessTrace:
    pid: int  # pid inside the sandbox's pid namespace
    parent: int  # 0 for the entrypoint
    argv: tuple[str, ...]  # last execve'd argv ("" when it never exec'd)
    is_thread: bool  # created by clone with CLONE_THREAD
    clone_flags: str = ""  # decoded flags of the clone that created it
    syscalls: tuple[tuple[str, int], ...] = ()  # (name, count), in first-call order
    exit_status: int | None = None
    killed_by: str = ""  # signal name when it died by a signal


@dataclass(frozen=True)
class TraceFacts:
    argv: tuple[str, ...]  # what was started
    duration_s: float
    exit_reason: str  # "stopped" (we stopped it), "exited", "killed", "timeout", "failed-to-start"
    exit_status: int | None
    processes: tuple[ProcessTrace, ...]
    syscalls: tuple[tuple[str, int], ...]  # total (name, count), in first-call order over all processes
    files: tuple[FileAccess, ...]
    execs: tuple[tuple[str, ...], ...]  # every execve'd argv, in order (the first is the entrypoint)
    dlopened: tuple[str, ...]  # libraries mapped after start-up (dlopen), absolute paths
    sockets: tuple[SocketUse, ...]
    signals: tuple[str, ...]  # signals delivered (names)
    listening_ports: tuple[int, ...]  # TCP/UDP ports the app listened on
    probes: tuple[dict[str, Any], ...] = ()  # one record per probe: {"kind", "target", "ok", "detail"}
    findings: tuple[str, ...] = ()  # e.g. "the entrypoint daemonized", "fork bomb contained"
    tracer: str = "strace"
    stdout_tail: str = ""
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # phase -> syscall -> outcome ("ok", "interrupted" or an errno name) -> number of calls
    outcomes: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    # wall-clock times (epoch seconds, the trace's clock) where phases begin: "startup" (the
    # entrypoint's execve), "serving" (the probes started), "shutdown" (dockuni's stop signal sent)
    phase_bounds: dict[str, float] = field(default_factory=dict)
    injections: tuple[Injection, ...] = ()  # faults injected into this run
    injected: tuple[tuple[str, int], ...] = ()  # (syscall, calls strace marked INJECTED)

    @property
    def syscall_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.syscalls)

    def phase_counts(self) -> dict[str, dict[str, int]]:
        """syscall -> phase -> number of calls (phases without calls left out)."""
        out: dict[str, dict[str, int]] = {}
        for phase, calls in self.outcomes.items():
            for name, results in calls.items():
                out.setdefault(name, {})[phase] = sum(results.values())
        return out

    def results(self, phases: tuple[str, ...] = PHASES) -> dict[str, dict[str, int]]:
        """syscall -> outcome -> number of calls, summed over ``phases``."""
        out: dict[str, dict[str, int]] = {}
        for phase in phases:
            for name, results in self.outcomes.get(phase, {}).items():
                slot = out.setdefault(name, {})
                for result, count in results.items():
                    slot[result] = slot.get(result, 0) + count
        return out

    @property
    def needed_syscalls(self) -> frozenset[str]:
        """Calls made during start-up or while serving (whatever their outcome)."""
        return frozenset(self.results(("startup", "serving")))

    @property
    def shutdown_only(self) -> frozenset[str]:
        """Calls made only after dockuni's stop signal: the app's shutdown, never a need."""
        return frozenset(self.results(("shutdown",))) - self.needed_syscalls

    @property
    def failure_only(self) -> frozenset[str]:
        """Calls made during start-up or serving that failed every time (with an errno)."""
        return frozenset(
            name
            for name, res in self.results(("startup", "serving")).items()
            if OK not in res and INTERRUPTED not in res and res
        )

    @property
    def app_ran(self) -> bool:
        """The entrypoint started and kept running until stopped (or finished with status 0)."""
        if self.exit_reason in ("stopped", "timeout"):
            return True
        return self.exit_reason == "exited" and self.exit_status == 0

    @property
    def passed_probes(self) -> frozenset[tuple[str, str]]:
        """(kind, target) of every probe that passed."""
        return frozenset((str(p.get("kind")), str(p.get("target"))) for p in self.probes if p.get("ok"))

    @property
    def tolerated_failures(self) -> frozenset[str]:
        """Failure-only calls of a run the app survived (it ran and no probe failed)."""
        if not self.app_ran or any(not p.get("ok") for p in self.probes if p.get("kind") == "tcp"):
            return frozenset()
        return self.failure_only

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data; ``from_json(to_json())`` gives back an equal object."""
        return {
            "argv": list(self.argv),
            "duration_s": self.duration_s,
            "exit_reason": self.exit_reason,
            "exit_status": self.exit_status,
            "processes": [
                {
                    "pid": p.pid,
                    "parent": p.parent,
                    "argv": list(p.argv),
                    "is_thread": p.is_thread,
                    "clone_flags": p.clone_flags,
                    "syscalls": [[n, c] for n, c in p.syscalls],
                    "exit_status": p.exit_status,
                    "killed_by": p.killed_by,
                }
                for p in self.processes
            ],
            "syscalls": [[n, c] for n, c in self.syscalls],
            "files": [
                {
                    "path": f.path,
                    "op": f.op,
                    "found": f.found,
                    "write": f.write,
                    "error": f.error,
                    "phase": f.phase,
                }
                for f in self.files
            ],
            "execs": [list(e) for e in self.execs],
            "dlopened": list(self.dlopened),
            "sockets": [
                {
                    "family": s.family,
                    "type": s.type,
                    "bound": s.bound,
                    "listening": s.listening,
                    "connected_to": s.connected_to,
                }
                for s in self.sockets
            ],
            "signals": list(self.signals),
            "listening_ports": list(self.listening_ports),
            "probes": [dict(p) for p in self.probes],
            "findings": list(self.findings),
            "tracer": self.tracer,
            "stdout_tail": self.stdout_tail,
            "stderr_tail": self.stderr_tail,
            "extra": self.extra,
            "outcomes": {
                phase: {name: dict(res) for name, res in calls.items()}
                for phase, calls in self.outcomes.items()
            },
            "phase_bounds": dict(self.phase_bounds),
            "injections": [i.to_json() for i in self.injections],
            "injected": [[n, c] for n, c in self.injected],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TraceFacts:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/ValueError on malformed data."""
        return cls(
            argv=tuple(data["argv"]),
            duration_s=float(data["duration_s"]),
            exit_reason=str(data["exit_reason"]),
            exit_status=data["exit_status"],
            processes=tuple(
                ProcessTrace(
                    pid=int(p["pid"]),
                    parent=int(p["parent"]),
                    argv=tuple(p["argv"]),
                    is_thread=bool(p["is_thread"]),
                    clone_flags=str(p.get("clone_flags", "")),
                    syscalls=tuple((str(n), int(c)) for n, c in p.get("syscalls", [])),
                    exit_status=p.get("exit_status"),
                    killed_by=str(p.get("killed_by", "")),
                )
                for p in data["processes"]
            ),
            syscalls=tuple((str(n), int(c)) for n, c in data["syscalls"]),
            files=tuple(
                FileAccess(
                    str(f["path"]),
                    str(f["op"]),
                    bool(f["found"]),
                    bool(f.get("write", False)),
                    str(f.get("error", "")),
                    str(f.get("phase", "")),
                )
                for f in data["files"]
            ),
            execs=tuple(tuple(e) for e in data["execs"]),
            dlopened=tuple(data["dlopened"]),
            sockets=tuple(
                SocketUse(
                    family=str(s["family"]),
                    type=str(s["type"]),
                    bound=str(s.get("bound", "")),
                    listening=bool(s.get("listening", False)),
                    connected_to=str(s.get("connected_to", "")),
                )
                for s in data["sockets"]
            ),
            signals=tuple(data["signals"]),
            listening_ports=tuple(int(p) for p in data["listening_ports"]),
            probes=tuple(dict(p) for p in data.get("probes", [])),
            findings=tuple(data.get("findings", [])),
            tracer=str(data.get("tracer", "strace")),
            stdout_tail=str(data.get("stdout_tail", "")),
            stderr_tail=str(data.get("stderr_tail", "")),
            extra=dict(data.get("extra", {})),
            outcomes={
                str(phase): {
                    str(name): {str(r): int(c) for r, c in res.items()} for name, res in calls.items()
                }
                for phase, calls in data.get("outcomes", {}).items()
            },
            phase_bounds={str(k): float(v) for k, v in data.get("phase_bounds", {}).items()},
            injections=tuple(Injection.from_json(i) for i in data.get("injections", [])),
            injected=tuple((str(n), int(c)) for n, c in data.get("injected", [])),
        )
