"""Facilities an app was seen to use -> the Linux kernel options its microVM kernel needs.

Pure: the trace facts go in, a ``KernelConfig`` (options with the evidence for each) comes out. The
result is a fragment applied on top of ``make tinyconfig`` plus ``microvm-base.config`` (the options
every microVM boot needs). Option names and what each one gates are Linux 6.1's (``init/Kconfig``,
``fs/Kconfig``, ``net/Kconfig``, ``ipc/``); the idea of deriving a per-app config from what the app
uses, and the list compared against, are Lupine Linux's (Kuo et al., EuroSys 2020: 19 options on top of
its microVM base cover the 20 most popular Docker Hub apps).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from transpile import data

if TYPE_CHECKING:
    from transpile.model.trace import TraceFacts

# syscall -> the option without which the kernel answers ENOSYS (or does not build the syscall at all)
SYSCALL_OPTIONS: Mapping[str, str] = {
    **dict.fromkeys(
        ("epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2"),
        "CONFIG_EPOLL",
    ),
    **dict.fromkeys(("eventfd", "eventfd2"), "CONFIG_EVENTFD"),
    **dict.fromkeys(("signalfd", "signalfd4"), "CONFIG_SIGNALFD"),
    **dict.fromkeys(("timerfd_create", "timerfd_settime", "timerfd_gettime"), "CONFIG_TIMERFD"),
    **dict.fromkeys(
        ("inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch"), "CONFIG_INOTIFY_USER"
    ),
    **dict.fromkeys(("fanotify_init", "fanotify_mark"), "CONFIG_FANOTIFY"),
    **dict.fromkeys(
        ("io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents"), "CONFIG_AIO"
    ),
    **dict.fromkeys(("io_uring_setup", "io_uring_enter", "io_uring_register"), "CONFIG_IO_URING"),
    "flock": "CONFIG_FILE_LOCKING",
    **dict.fromkeys(("madvise", "fadvise64", "process_madvise"), "CONFIG_ADVISE_SYSCALLS"),
    **dict.fromkeys(
        (
            "shmget",
            "shmat",
            "shmdt",
            "shmctl",
            "semget",
            "semop",
            "semctl",
            "semtimedop",
            "msgget",
            "msgsnd",
            "msgrcv",
            "msgctl",
        ),
        "CONFIG_SYSVIPC",
    ),
    **dict.fromkeys(
        ("mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr"),
        "CONFIG_POSIX_MQUEUE",
    ),
    "seccomp": "CONFIG_SECCOMP",
    "membarrier": "CONFIG_MEMBARRIER",
    "bpf": "CONFIG_BPF_SYSCALL",
    "userfaultfd": "CONFIG_USERFAULTFD",
    "kcmp": "CONFIG_KCMP",
    **dict.fromkeys(("name_to_handle_at", "open_by_handle_at"), "CONFIG_FHANDLE"),
    **dict.fromkeys(("process_vm_readv", "process_vm_writev"), "CONFIG_CROSS_MEMORY_ATTACH"),
    "sysfs": "CONFIG_SYSFS_SYSCALL",
    "uselib": "CONFIG_USELIB",
    "rseq": "CONFIG_RSEQ",
    "memfd_secret": "CONFIG_SECRETMEM",
    **dict.fromkeys(
        ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"), "CONFIG_SECURITY_LANDLOCK"
    ),
    **dict.fromkeys(("quotactl", "quotactl_fd"), "CONFIG_QUOTACTL"),
    **dict.fromkeys(("swapon", "swapoff"), "CONFIG_SWAP"),
    **dict.fromkeys(("mbind", "set_mempolicy", "get_mempolicy", "migrate_pages"), "CONFIG_NUMA"),
    "acct": "CONFIG_BSD_PROCESS_ACCT",
    **dict.fromkeys(("add_key", "request_key", "keyctl"), "CONFIG_KEYS"),
    "modify_ldt": "CONFIG_MODIFY_LDT_SYSCALL",
    "perf_event_open": "CONFIG_PERF_EVENTS",
    **dict.fromkeys(
        ("timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete"),
        "CONFIG_POSIX_TIMERS",
    ),
    **dict.fromkeys(("futex", "futex_waitv", "set_robust_list", "get_robust_list"), "CONFIG_FUTEX"),
    **dict.fromkeys(
        (
            "setuid",
            "setgid",
            "setreuid",
            "setregid",
            "setresuid",
            "setresgid",
            "setgroups",
            "getgroups",
            "setfsuid",
            "setfsgid",
            "capset",
        ),
        "CONFIG_MULTIUSER",
    ),
}

# socket family (as strace prints it) -> option
FAMILY_OPTIONS: Mapping[str, str] = {
    "AF_INET": "CONFIG_INET",
    "AF_INET6": "CONFIG_IPV6",
    "AF_UNIX": "CONFIG_UNIX",
    "AF_LOCAL": "CONFIG_UNIX",
    "AF_PACKET": "CONFIG_PACKET",
    "AF_VSOCK": "CONFIG_VSOCKETS",
    "AF_ALG": "CONFIG_CRYPTO_USER_API",
    "AF_NETLINK": "CONFIG_NET",  # netlink is part of the networking core
}

# path prefix an app opened -> option that provides it
PATH_OPTIONS: tuple[tuple[str, str], ...] = (
    ("/proc/sys/", "CONFIG_PROC_SYSCTL"),
    ("/proc/", "CONFIG_PROC_FS"),
    ("/sys/fs/cgroup", "CONFIG_CGROUPS"),
    ("/sys/", "CONFIG_SYSFS"),
    ("/dev/pts", "CONFIG_UNIX98_PTYS"),
    ("/dev/ptmx", "CONFIG_UNIX98_PTYS"),
    ("/dev/shm", "CONFIG_TMPFS"),
    ("/dev/mqueue", "CONFIG_POSIX_MQUEUE"),
    ("/dev/hugepages", "CONFIG_HUGETLBFS"),
)

# options that pull in others the merge would otherwise drop (their `depends on`)
DEPENDS: Mapping[str, tuple[str, ...]] = {
    "CONFIG_SECCOMP": ("CONFIG_SECCOMP_FILTER",),
    "CONFIG_IPV6": ("CONFIG_INET",),
    "CONFIG_PACKET": ("CONFIG_NET",),
    "CONFIG_UNIX": ("CONFIG_NET",),
    "CONFIG_INET": ("CONFIG_NET",),
    "CONFIG_VSOCKETS": ("CONFIG_NET",),
    "CONFIG_CRYPTO_USER_API": ("CONFIG_NET", "CONFIG_CRYPTO"),
    "CONFIG_PROC_SYSCTL": ("CONFIG_PROC_FS",),
    "CONFIG_POSIX_MQUEUE": ("CONFIG_NET",),
}

_LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


@dataclass(frozen=True)
class KernelOption:
    name: str  # "CONFIG_EPOLL"
    value: str  # "y"
    reasons: tuple[str, ...]  # "base", "syscall:epoll_wait", "socket:AF_INET6", "file:/proc/sys/..."


@dataclass(frozen=True)
class KernelConfig:
    options: tuple[KernelOption, ...]  # sorted by name
    derived_from: str  # "trace", "lupine-general (no trace)"

    def names(self) -> frozenset[str]:
        return frozenset(o.name for o in self.options if o.value not in ("n", ""))

    def fragment(self) -> str:
        """The ``.config`` fragment merged on top of tinyconfig, with the evidence as comments."""
        lines = [
            "# dockuni microvm kernel fragment: apply on top of `make tinyconfig` (x86_64)",
            f"# derived from: {self.derived_from}",
        ]
        for opt in self.options:
            why = ", ".join(opt.reasons[:4]) + (
                f" (+{len(opt.reasons) - 4} more)" if len(opt.reasons) > 4 else ""
            )
            lines.append(f"# {why}")
            lines.append(f"{opt.name}={opt.value}")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LupineDiff:
    common: tuple[str, ...]
    only_ours: tuple[str, ...]  # in our fragment, not in lupine-general (base options included)
    only_lupine: tuple[str, ...]  # lupine-general options this app did not need

    def summary(self) -> str:
        return (
            f"lupine-general: {len(self.common)} of its {len(self.common) + len(self.only_lupine)} options "
            f"also here; not needed by this app: {', '.join(self.only_lupine) or 'none'}; "
            f"here but not in lupine-general: {len(self.only_ours)}"
        )


def parse_config(text: str) -> dict[str, str]:
    """Options set in a ``.config`` (``=y``, ``=m``, strings, numbers); ``is not set`` lines map to ``n``."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        m = _LINE.match(line)
        if m:
            out[m.group(1)] = m.group(2)
            continue
        m = _UNSET.match(line)
        if m:
            out[m.group(1)] = "n"
    return out


def enabled(config: Mapping[str, str]) -> frozenset[str]:
    """Options that are built in or modules (what "options enabled" counts)."""
    return frozenset(k for k, v in config.items() if v in ("y", "m"))


def base_config_text() -> str:
    return resources.files("transpile.targets").joinpath("microvm-base.config").read_text()


def lupine_config_text() -> str:
    return resources.files("transpile.data").joinpath("lupine-general.config").read_text()


def derive(
    syscalls: Iterable[str] = (),
    families: Iterable[str] = (),
    paths: Iterable[str] = (),
    facilities: Iterable[str] = (),
    *,
    traced: bool = True,
) -> KernelConfig:
    """Base options plus the options for each facility and syscall the app was seen to use.

    FACILITIES go through the shared facility -> option table (``transpile/data/facility_kconfig.json``);
    the syscall, socket-family and path tables here add the finer evidence that table does not
    carry (one option per syscall family).

    Without a trace (``traced=False``) nothing tells which facilities the app needs, so the
    lupine-general set stands in for them: Lupine measured it to cover the most popular images.
    """
    reasons: dict[str, list[str]] = {}

    def add(option: str, why: str) -> None:
        reasons.setdefault(option, []).append(why)
        for dep in DEPENDS.get(option, ()):
            reasons.setdefault(dep, []).append(f"needed by {option}")

    for name in parse_config(base_config_text()):
        add(name, "base")
    if traced:
        table = data.facility_kconfig()
        for facility in sorted(set(facilities)):
            for option in table.get(facility, ()):
                add(option if option.startswith("CONFIG_") else f"CONFIG_{option}", f"facility:{facility}")
        for sc in sorted(set(syscalls)):
            if sc in SYSCALL_OPTIONS:
                add(SYSCALL_OPTIONS[sc], f"syscall:{sc}")
        for fam in sorted(set(families)):
            if fam in FAMILY_OPTIONS:
                add(FAMILY_OPTIONS[fam], f"socket:{fam}")
        for path in sorted(set(paths)):
            for prefix, path_option in PATH_OPTIONS:
                if path == prefix.rstrip("/") or path.startswith(prefix):
                    add(path_option, f"file:{path}")
                    break
        source = "trace"
    else:
        for name in parse_config(lupine_config_text()):
            add(name, "lupine-general (no trace)")
        source = "lupine-general (no trace)"
    options = tuple(
        KernelOption(name, "y", tuple(dict.fromkeys(why))) for name, why in sorted(reasons.items())
    )
    return KernelConfig(options, source)


def trace_facilities(trace: TraceFacts) -> frozenset[str]:
    """The facilities a trace shows, named as the facility graph names them."""
    from transpile.passes import facilities as fac

    out: set[str] = set()
    for name in trace.syscall_names:
        f = fac.facility_of_syscall(name)
        if f:
            out.add(f)
    for access in trace.files:
        if access.found or access.write:
            out.update(fac.facilities_for_file(access.path, access.write))
    for sock in trace.sockets:
        out.update(fac.facilities_for_socket(sock))
    if fac.threads(trace):
        out.add("process.threads")
    return frozenset(out)


def derive_from_trace(trace: TraceFacts | None) -> KernelConfig:
    if trace is None:
        return derive(traced=False)
    return derive(
        trace.syscall_names,
        (s.family for s in trace.sockets),
        (f.path for f in trace.files if f.found),
        trace_facilities(trace),
        traced=True,
    )


def compare_with_lupine(config: KernelConfig, lupine_text: str | None = None) -> LupineDiff:
    ours = config.names()
    lupine = enabled(parse_config(lupine_text if lupine_text is not None else lupine_config_text()))
    return LupineDiff(
        common=tuple(sorted(ours & lupine)),
        only_ours=tuple(sorted(ours - lupine)),
        only_lupine=tuple(sorted(lupine - ours)),
    )
