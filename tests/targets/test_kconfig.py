"""Facilities -> kernel options: derivation, evidence, the lupine comparison, and that every option we
can emit is a real Linux 6.1 option (checked against Debian's full x86_64 config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from transpile import data
from transpile.model.trace import FileAccess, ProcessTrace, SocketUse, TraceFacts
from transpile.targets import kconfig

pytestmark = pytest.mark.unit


def _trace(
    syscalls: tuple[str, ...],
    files: tuple[FileAccess, ...] = (),
    sockets: tuple[SocketUse, ...] = (),
) -> TraceFacts:
    calls = tuple((s, 1) for s in syscalls)
    return TraceFacts(
        argv=("/app",),
        duration_s=1.0,
        exit_reason="stopped",
        exit_status=None,
        processes=(ProcessTrace(pid=1, parent=0, argv=("/app",), is_thread=False, syscalls=calls),),
        syscalls=calls,
        files=files,
        execs=(("/app",),),
        dlopened=(),
        sockets=sockets,
        signals=(),
        listening_ports=(80,),
    )


def _debian_config() -> dict[str, str]:
    configs = sorted(Path("/boot").glob("config-*"))
    assert configs, "Debian's linux-image-amd64 (/boot/config-*) is needed"
    return kconfig.parse_config(configs[-1].read_text())


def test_base_is_always_there_and_parses_back() -> None:
    cfg = kconfig.derive(traced=True)
    base = kconfig.parse_config(kconfig.base_config_text())
    assert set(base) <= cfg.names()
    assert {
        "CONFIG_BLK_DEV_INITRD",
        "CONFIG_SERIAL_8250_CONSOLE",
        "CONFIG_PVH",
        "CONFIG_DEVTMPFS",
    } <= cfg.names()
    assert kconfig.parse_config(cfg.fragment()) == {o.name: "y" for o in cfg.options}


def test_syscalls_sockets_and_files_pick_options_with_evidence() -> None:
    trace = _trace(
        ("epoll_wait", "epoll_ctl", "eventfd2", "flock", "shmget", "read"),
        files=(FileAccess("/proc/sys/net/core/somaxconn", "open", True),),
        sockets=(SocketUse("AF_INET6", "SOCK_STREAM", "[::]:80", True), SocketUse("AF_UNIX", "SOCK_STREAM")),
    )
    cfg = kconfig.derive_from_trace(trace)
    by_name = {o.name: o for o in cfg.options}
    assert "syscall:epoll_ctl" in by_name["CONFIG_EPOLL"].reasons
    assert "syscall:eventfd2" in by_name["CONFIG_EVENTFD"].reasons
    assert "syscall:flock" in by_name["CONFIG_FILE_LOCKING"].reasons
    assert "syscall:shmget" in by_name["CONFIG_SYSVIPC"].reasons
    assert "socket:AF_INET6" in by_name["CONFIG_IPV6"].reasons
    assert "socket:AF_UNIX" in by_name["CONFIG_UNIX"].reasons
    assert any(r.startswith("file:/proc/sys/") for r in by_name["CONFIG_PROC_SYSCTL"].reasons)
    assert cfg.derived_from == "trace"
    # nothing the app did not do
    assert (
        "CONFIG_AIO" not in by_name and "CONFIG_SIGNALFD" not in by_name and "CONFIG_SECCOMP" not in by_name
    )


def test_shared_facility_table_is_applied() -> None:
    table = data.facility_kconfig()
    cfg = kconfig.derive(facilities=["events.epoll", "network.ipv6"], traced=True)
    by_name = {o.name: o for o in cfg.options}
    for facility in ("events.epoll", "network.ipv6"):
        for option in table[facility]:
            assert f"facility:{facility}" in by_name[option].reasons


def test_a_smaller_app_gets_a_smaller_kernel() -> None:
    small = kconfig.derive_from_trace(_trace(("read", "write", "socket", "bind", "listen", "accept")))
    big = kconfig.derive_from_trace(
        _trace(("epoll_wait", "io_setup", "inotify_init1", "timerfd_create", "msgget"))
    )
    assert small.names() < big.names()
    assert {
        "CONFIG_AIO",
        "CONFIG_INOTIFY_USER",
        "CONFIG_TIMERFD",
        "CONFIG_SYSVIPC",
    } <= big.names() - small.names()


def test_no_trace_falls_back_to_lupine_general() -> None:
    cfg = kconfig.derive_from_trace(None)
    lupine = kconfig.enabled(kconfig.parse_config(kconfig.lupine_config_text()))
    assert len(lupine) == 19
    assert lupine <= cfg.names()
    diff = kconfig.compare_with_lupine(cfg)
    assert diff.only_lupine == () and len(diff.common) == 19
    assert "19 of its 19" in diff.summary()


def test_lupine_diff_names_what_the_app_does_not_need() -> None:
    cfg = kconfig.derive_from_trace(_trace(("read", "futex", "epoll_wait")))
    diff = kconfig.compare_with_lupine(cfg)
    assert "CONFIG_EPOLL" in diff.common and "CONFIG_FUTEX" in diff.common
    assert "CONFIG_SYSVIPC" in diff.only_lupine and "CONFIG_AIO" in diff.only_lupine
    assert "CONFIG_PVH" in diff.only_ours


@pytest.mark.parametrize("source", ["syscalls", "families", "paths", "base", "facilities"])
def test_every_option_exists_in_linux_6_1(source: str) -> None:
    """Debian's full config lists every x86_64 option of its 6.1 kernel (set or "is not set")."""
    known = _debian_config()
    if source == "syscalls":
        options = set(kconfig.SYSCALL_OPTIONS.values())
    elif source == "families":
        options = set(kconfig.FAMILY_OPTIONS.values())
    elif source == "paths":
        options = {o for _, o in kconfig.PATH_OPTIONS}
    elif source == "facilities":
        options = {o for opts in data.facility_kconfig().values() for o in opts}
    else:
        options = set(kconfig.parse_config(kconfig.base_config_text()))
    unknown = sorted(o for o in options if o not in known)
    assert unknown == [], f"not Linux 6.1 x86_64 options: {unknown}"
