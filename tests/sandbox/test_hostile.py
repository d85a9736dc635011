"""Hostile and broken entrypoints: each is contained, reported, ends within its limits, leaves nothing.

The entrypoints are modes of ``fixtures/apps/hostile/hostile.c`` in the ``hostile-c`` fixture image
(a static binary in a ``FROM scratch`` image, plus a non-executable file and an AArch64 ELF).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import leftovers
from transpile.image import AcquiredImage, ImageConfig
from transpile.sandbox import TraceFacts, TraceOptions, run_trace

pytestmark = pytest.mark.engine

LIMITS = TraceOptions(
    duration_s=3.0,
    grace_s=2.0,
    memory_bytes=96 << 20,
    pids_max=48,
    disk_bytes=24 << 20,
    tmp_bytes=8 << 20,
    fsize_bytes=64 << 20,
)
# duration + grace + a generous allowance for set-up, the SIGKILL round and a loaded CI machine:
# the wall-clock bound every run must meet (a run that never ends fails here)
BOUND_S = LIMITS.duration_s + LIMITS.grace_s + 20.0


@pytest.fixture(scope="module")
def hostile(unpacked: Callable[[str], AcquiredImage]) -> AcquiredImage:
    return unpacked("hostile-c")


@pytest.fixture
def run(hostile: AcquiredImage, tmp_path: Path) -> Iterator[Callable[..., TraceFacts]]:
    """Run one mode; afterwards assert no process, mount, cgroup, temp file or rootfs change remains."""
    before = leftovers.tree_digest(hostile.rootfs)
    work = tmp_path / "work"
    work.mkdir()
    sandboxes: list[str] = []

    def go(*argv: str, options: TraceOptions = LIMITS) -> TraceFacts:
        opts = TraceOptions(**{**options.__dict__, "workdir": work})
        started = time.monotonic()
        facts = run_trace(hostile.rootfs, ImageConfig(entrypoint=argv), opts)
        assert time.monotonic() - started < BOUND_S
        sandboxes.append(facts.extra.get("sandbox", ""))
        return facts

    yield go
    for marker in (str(work), *filter(None, sandboxes)):
        assert leftovers.processes(marker) == []
        assert leftovers.mounts(marker) == []
    for sandbox in filter(None, sandboxes):
        assert leftovers.cgroups(sandbox) == []
    assert list(work.iterdir()) == []
    assert leftovers.tree_digest(hostile.rootfs) == before


def _has(facts: TraceFacts, *words: str) -> bool:
    return any(all(w in f for w in words) for f in facts.findings)


def test_connect_outside_is_unreachable(run: Callable[..., TraceFacts]) -> None:
    facts = run("/hostile", "connect-out")
    assert facts.exit_reason == "exited" and facts.exit_status == 0
    assert _has(facts, "connect to 192.0.2.1:80", "ENETUNREACH", "loopback")
    assert _has(facts, "connect to 10.0.0.1:443", "ENETUNREACH")
    assert "Network is unreachable" in facts.stdout_tail
    assert {"socket", "connect"} <= facts.syscall_names


def test_writes_stay_in_the_overlay(run: Callable[..., TraceFacts], hostile: AcquiredImage) -> None:
    name = f"dockuni-hostile-{time.monotonic_ns()}"
    facts = run("/hostile", "write-host", name)
    assert _has(facts, "wrote", f"/{name}", "throwaway overlay")
    assert f"//{name}: ok" in facts.stdout_tail  # the write at the image's root succeeded inside...
    for host_dir in ("/", "/tmp", "/etc", "/root", str(hostile.rootfs), f"{hostile.rootfs}/etc"):
        assert not Path(host_dir, name).exists()  # ...and reached neither the host nor the rootfs
    # the tracer's root and cwd are out of reach (capabilities dropped like Docker's defaults)
    assert f"/proc/1/root/{name}: Permission denied" in facts.stdout_tail
    assert f"/sys/{name}: Read-only file system" in facts.stdout_tail


def test_fork_bomb_hits_pids_max(run: Callable[..., TraceFacts]) -> None:
    facts = run("/hostile", "fork-bomb")
    assert _has(facts, "process limit reached", f"pids.max={LIMITS.pids_max}")
    procs = [p for p in facts.processes if not p.is_thread]
    assert len(procs) > 1  # distinct pids over the run; pids.max bounds how many exist at once
    assert facts.extra["cgroup"]["pids_events_max"] > 0
    assert facts.exit_reason in ("stopped", "timeout")


def test_sleep_forever_is_stopped_at_the_deadline(run: Callable[..., TraceFacts]) -> None:
    facts = run("/hostile", "sleep")
    assert facts.exit_reason == "stopped"
    assert facts.extra["killed_by"] == "SIGTERM" and "SIGTERM" in facts.signals
    assert facts.duration_s >= LIMITS.duration_s
    assert _has(facts, "never listened")


def test_double_fork_daemon_is_reported(run: Callable[..., TraceFacts]) -> None:
    facts = run("/hostile", "daemon")
    assert _has(facts, "daemonized", "exited with 0", "/hostile daemon")
    assert 8081 in facts.listening_ports
    assert any(p["kind"] == "http" and p["ok"] for p in facts.probes)  # the grandchild answered
    root = facts.processes[0]
    assert root.exit_status == 0 and root.parent == 0
    children = [p for p in facts.processes if p.parent != 0]
    assert all(not p.is_thread and "CLONE_THREAD" not in p.clone_flags for p in children)


def test_killing_everything_spares_the_tracer(run: Callable[..., TraceFacts]) -> None:
    facts = run("/hostile", "kill-tracer")
    assert _has(facts, "SIGKILL", "pid 1 (the tracer", "ignored by the kernel")
    assert _has(facts, "every process it can see")
    # the tracer survived and recorded the rest of the run, up to our stop signal
    assert facts.exit_reason == "stopped" and facts.extra["killed_by"] == "SIGTERM"
    assert facts.syscalls and dict(facts.syscalls)["kill"] >= 3


def test_ptrace_is_refused(run: Callable[..., TraceFacts]) -> None:
    facts = run("/hostile", "ptrace")
    assert _has(facts, "ptrace(PTRACE_TRACEME)", "EPERM")
    assert _has(facts, "ptrace(PTRACE_ATTACH)", "EPERM")
    assert "ptrace" in facts.syscall_names


def test_filling_the_disk_stops_at_the_tmpfs_size(run: Callable[..., TraceFacts]) -> None:
    facts = run("/hostile", "fill-disk")
    assert _has(facts, "disk limit reached", "ENOSPC")
    disk_mib, tmp_mib = LIMITS.disk_bytes >> 20, LIMITS.tmp_bytes >> 20
    assert f"/fill: {disk_mib} MiB" in facts.stdout_tail or f"/fill: {disk_mib - 1} MiB" in facts.stdout_tail
    assert (
        f"/tmp/fill: {tmp_mib} MiB" in facts.stdout_tail
        or f"/tmp/fill: {tmp_mib - 1} MiB" in facts.stdout_tail
    )


def test_huge_memory_is_oom_killed(run: Callable[..., TraceFacts]) -> None:
    facts = run("/hostile", "memory")
    assert facts.exit_reason == "killed" and facts.extra["killed_by"] == "SIGKILL"
    assert _has(facts, "memory limit reached", "OOM")
    assert facts.extra["cgroup"]["memory_max_usage_in_bytes"] <= LIMITS.memory_bytes


def test_chroot_escape_does_not_reach_the_host(run: Callable[..., TraceFacts], tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("host only\n")
    facts = run("/hostile", "escape", str(secret))
    assert _has(facts, "called chroot")
    assert f"{secret}: No such file or directory" in facts.stdout_tail  # pivot_root left no way out


def test_exits_immediately(run: Callable[..., TraceFacts]) -> None:
    facts = run("/hostile", "exit")
    assert facts.exit_reason == "exited" and facts.exit_status == 3
    assert _has(facts, "exited by itself with status 3")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("/no-such-program",), ("cannot start", "not found")),
        (("no-such-program", "x"), ("cannot start", "not found in PATH")),
        (("/not-executable",), ("cannot start", "not executable")),
        (("/wrong-arch",), ("cannot start", "wrong architecture", "AArch64")),
    ],
)
def test_bad_entrypoints_are_findings(
    run: Callable[..., TraceFacts], argv: tuple[str, ...], words: tuple[str, ...]
) -> None:
    facts = run(*argv)
    assert facts.exit_reason == "failed-to-start"
    assert _has(facts, *words)
    assert facts.processes == () and facts.syscalls == ()


def test_no_entrypoint_at_all(hostile: AcquiredImage) -> None:
    facts = run_trace(hostile.rootfs, ImageConfig(), LIMITS)
    assert facts.exit_reason == "failed-to-start"
    assert _has(facts, "neither ENTRYPOINT nor CMD")


@pytest.fixture
def sigterm_count() -> Iterator[list[int]]:
    """SIGTERMs this (dockuni's) process received during the test; a signal from the app would count."""
    got: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    yield got
    signal.signal(signal.SIGTERM, old)


def test_killpg_reaches_only_the_sandbox(run: Callable[..., TraceFacts], sigterm_count: list[int]) -> None:
    """Apache prefork's shutdown: SIGTERM to its own process group and session."""
    facts = run("/hostile", "killpg")
    assert sigterm_count == []  # dockuni was not signalled
    out = facts.stdout_tail
    assert "kill(0, SIGTERM): ok" in out and "killpg(getpgrp(), SIGTERM): ok" in out
    assert _has(facts, "sent SIGTERM to its own process group")
    # the trace went on: the app served its port after signalling, and was stopped by us
    assert any(p["kind"] == "http" and p["ok"] for p in facts.probes)
    assert facts.exit_reason == "stopped" and facts.extra["killed_by"] == "SIGTERM"
    assert facts.phase_bounds.keys() == {"startup", "serving", "shutdown"}


def test_kill_everything_reaches_only_the_sandbox(
    run: Callable[..., TraceFacts], sigterm_count: list[int]
) -> None:
    facts = run("/hostile", "kill-all")
    assert sigterm_count == []
    # nothing else in the sandbox may be signalled (the tracer is its init): ESRCH
    assert "kill(-1, SIGKILL): No such process" in facts.stdout_tail
    assert _has(facts, "SIGKILL to every process it can see", "ESRCH")
    assert any(p["kind"] == "http" and p["ok"] for p in facts.probes)
    assert facts.exit_reason == "stopped"


def test_setsid_grandchild_that_outlives_the_entrypoint(run: Callable[..., TraceFacts]) -> None:
    """The entrypoint exits at once; its setsid'd grandchild ignores SIGTERM: SIGKILL ends it, and the
    ``run`` fixture asserts that no process is left."""
    facts = run("/hostile", "orphan")
    assert _has(facts, "daemonized", "exited with 0")
    grandchildren = [p for p in facts.processes if p.parent not in (0, facts.processes[0].pid)]
    assert grandchildren and grandchildren[0].killed_by == "SIGKILL"
    assert facts.exit_reason == "timeout"
