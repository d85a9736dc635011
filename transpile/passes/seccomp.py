"""TraceFacts -> a Docker seccomp profile: deny by default, allow what the trace saw plus runc's needs.

A pure function (no I/O). The profile uses Docker's JSON format (``defaultAction``,
``defaultErrnoRet``, ``archMap``, ``syscalls``); it allows only x86-64 syscalls (no x86/x32
sub-architectures), by name, unconditionally.

Why runc needs extra syscalls: Docker does not set ``no-new-privileges`` by default, so runc's
container init loads the filter *before* it drops privileges (runc PR #789 "If possible, apply seccomp
rules immediately before exec": without NoNewPrivileges loading a filter needs CAP_SYS_ADMIN, so it
happens before capabilities are dropped). Everything runc's init does after that point runs under the
app's profile: closing inherited fds (``openat``/``getdents64``/``fcntl``/``close`` on
/proc/self/fd), capability and user changes (``prctl``, ``capget``, ``capset``, ``setgroups``,
``setgid``, ``setuid``), ``fchown`` of stdio, ``chdir`` to the working directory and ``getcwd`` to
check it, ``fstatfs`` to check /proc is procfs, ``newfstatat`` and ``faccessat2`` for the PATH
lookup, the exec fifo handshake (``openat``, ``write``), ``getppid`` (parent check) and finally
``execve``; the Go runtime under it uses ``futex``, signals and memory calls. moby issue #22252
lists most of the set for the old ordering; runc issue #2097 asks for it to be documented; the four
marked below were found with the real engine. ``tests/sandbox/test_seccomp_real.py`` proves the
profile is enough for the fixtures, and that it is enforced.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from transpile.model.trace import TraceFacts

RUNC_INIT_SYSCALLS: tuple[str, ...] = (
    # runc init (libcontainer/standard_init_linux.go, finalizeNamespace) after the filter is loaded
    "capget", "capset", "chdir", "close", "execve", "fchown", "fcntl", "fstat", "getdents64",
    "getppid", "newfstatat", "openat", "prctl", "read", "setgid", "setgroups", "setuid", "write",
    # found with the real engine (runc 1.1): fstatfs checks /proc/self/fd is on procfs before the
    # fds are closed, getcwd verifies the working directory is safe, faccessat2 (faccessat on older
    # kernels) checks the program is executable before execve
    "fstatfs", "getcwd", "faccessat2", "faccessat",
    # the Go runtime it runs on (scheduler, signals, memory, netpoller for os.File)
    "brk", "epoll_ctl", "epoll_pwait", "exit", "exit_group", "futex", "getpid", "gettid", "madvise",
    "mmap", "munmap", "nanosleep", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_yield",
    "sigaltstack", "tgkill",
)  # fmt: skip

# Observed syscalls that are never worth allowing in a profile derived from a sandboxed trace: the
# sandbox's own set-up is excluded by the parser already, these would only come from hostile images.
NEVER_ALLOW: frozenset[str] = frozenset(
    {"ptrace", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
     "swapon", "swapoff"}
)  # fmt: skip


def seccomp_profile(
    facts: TraceFacts,
    *,
    runtime: Iterable[str] = RUNC_INIT_SYSCALLS,
    extra: Iterable[str] = (),
    drop: Iterable[str] = (),
) -> dict[str, Any]:
    """A Docker seccomp profile allowing the traced syscalls plus ``runtime`` and ``extra``.

    ``drop`` removes names (after everything else is added); tests use it to show the profile is
    enforced.
    """
    names = set(facts.syscall_names) - NEVER_ALLOW
    names |= set(runtime)
    names |= set(extra)
    names -= set(drop)
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,  # EPERM, as Docker's own default profile
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}],
        "syscalls": [{"names": sorted(names), "action": "SCMP_ACT_ALLOW"}],
    }


def profile_stats(profile: dict[str, Any], docker_default: Iterable[str]) -> dict[str, int]:
    """How many syscalls the profile allows versus Docker's default profile (the attack-surface cut)."""
    allowed = {n for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for n in rule["names"]}
    default = set(docker_default)
    return {
        "allowed": len(allowed),
        "docker_default": len(default),
        "removed_vs_default": len(default - allowed),
        "not_in_default": len(allowed - default),
    }
