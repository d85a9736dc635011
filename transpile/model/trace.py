"""What a sandboxed run of the entrypoint showed: the dynamic facts every later pass reads.

Plain frozen data; ``to_json``/``from_json`` round-trip so ``dockuni graph --trace FILE`` can reuse a
recorded trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FileAccess:
    path: str  # as seen inside the sandbox (absolute, normalised)
    op: str  # "open", "stat", "exec", "mmap", "readlink", "access", "unlink", "mkdir", ...
    found: bool  # False when the call failed with ENOENT/ENOTDIR
    write: bool = False  # opened for writing / created / modified


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

    @property
    def syscall_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.syscalls)

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
            "files": [{"path": f.path, "op": f.op, "found": f.found, "write": f.write} for f in self.files],
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
                FileAccess(str(f["path"]), str(f["op"]), bool(f["found"]), bool(f.get("write", False)))
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
        )
