"""Map what a program does (syscalls, files, sockets, processes, imported libc symbols) to OS facilities.

Pure functions over the data tables (transpile/data) and the contract dataclasses; no I/O. The static
evidence the graph and the verdicts read is gathered into ``StaticEvidence`` by the pipeline, so these
passes do not depend on how the image was inspected.
"""

from __future__ import annotations

from collections.abc import Iterable

from transpile import data
from transpile.model.trace import ProcessTrace, SocketUse, TraceFacts

# Syscalls a forked child may make without having "done work": the child just exits.
_TRIVIAL_CHILD_CALLS = frozenset(
    {"exit", "exit_group", "set_robust_list", "rseq", "close", "rt_sigprocmask", "rt_sigaction", "getpid"}
)

# Device nodes that every target provides (see facilities.json fs.devices notes).
_BASIC_DEVICES = frozenset({"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"})
_STDIO = frozenset(
    {"/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "/proc/self/fd/1", "/proc/self/fd/2"}
)
_SCRATCH_DIRS = ("/tmp/", "/run/", "/var/run/", "/var/tmp/", "/dev/shm/")








def syscalls_for_symbols(symbols: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """syscall -> the imported libc symbols that issue it (static evidence, sorted)."""
    aliases, ignore = data.libc_aliases()
    known = data.known_syscalls()
    out: dict[str, set[str]] = {}
    for raw in symbols:
        sym = raw.split("@", 1)[0]
        if sym in ignore:
            continue
        targets = aliases.get(sym)
        if targets is None:
            targets = (sym,) if sym in known else ()
        for sc in targets:
            out.setdefault(sc, set()).add(sym)
    return {sc: tuple(sorted(syms)) for sc, syms in sorted(out.items())}


def facility_of_syscall(name: str) -> str | None:
    return data.syscall_facility().get(name)


def facilities_for_file(path: str, write: bool = False) -> tuple[str, ...]:
    """The facilities that opening PATH (inside the image) relies on."""
    found: list[str] = []
    if path in _STDIO or path.startswith("/dev/pts/"):
        return ("fs.devices",)
    if path.startswith("/proc/") or path == "/proc":
        found.append("fs.procfs")
    elif path.startswith("/sys/") or path == "/sys":
        found.append("fs.sysfs")
    elif path.startswith("/dev/shm/"):
        found.append("fs.tmpfs")
    elif path.startswith("/dev/"):
        found.append("fs.devices")
        if path in ("/dev/random", "/dev/urandom"):
            found.append("random")
    elif write and path.startswith(_SCRATCH_DIRS):
        found.append("fs.tmpfs")
    elif write:
        found.append("fs.write")
    else:
        found.append("fs.read")
    return tuple(found)


def is_basic_device(path: str) -> bool:
    return path in _BASIC_DEVICES or path in _STDIO


def facilities_for_socket(sock: SocketUse) -> tuple[str, ...]:
    fam, typ = sock.family, sock.type
    out: list[str] = []
    if fam in ("AF_INET", "AF_INET6"):
        if "DGRAM" in typ:
            out.append("network.udp")
        elif sock.listening or (sock.bound and not sock.connected_to):
            out.append("network.tcp_server")
        if sock.connected_to:
            out.append("network.tcp_client")
        if fam == "AF_INET6":
            out.append("network.ipv6")
    elif fam in ("AF_UNIX", "AF_LOCAL"):
        out.append("network.unix")
    elif fam == "AF_NETLINK":
        out.append("network.netlink")
    if not out:
        out.append("network.sockets")
    return tuple(out)


def describe_socket(sock: SocketUse) -> str:
    parts = [sock.family, sock.type]
    if sock.bound:
        parts.append(f"bound {sock.bound}")
    if sock.listening:
        parts.append("listening")
    if sock.connected_to:
        parts.append(f"connected to {sock.connected_to}")
    return " ".join(parts)


def child_did_work(proc: ProcessTrace) -> bool:
    """A forked child that made calls beyond exiting: the app depends on having a second process."""
    if proc.is_thread or proc.parent == 0:
        return False
    if proc.argv:
        return True
    return any(name not in _TRIVIAL_CHILD_CALLS for name, _ in proc.syscalls)


def forked_children(trace: TraceFacts) -> tuple[ProcessTrace, ...]:
    """Processes (not threads) created after the entrypoint started."""
    return tuple(p for p in trace.processes if p.parent != 0 and not p.is_thread)


def working_children(trace: TraceFacts) -> tuple[ProcessTrace, ...]:
    return tuple(p for p in forked_children(trace) if child_did_work(p))


def later_execs(trace: TraceFacts) -> tuple[tuple[str, ...], ...]:
    """execve calls after the entrypoint's own start (the first execve is the program starting)."""
    return trace.execs[1:]


def threads(trace: TraceFacts) -> tuple[ProcessTrace, ...]:
    return tuple(p for p in trace.processes if p.is_thread)


