"""The runner's host side: cgroup limits, and the rlimits that stand in when cgroups cannot be used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import leftovers
from transpile.image import AcquiredImage, ImageConfig
from transpile.sandbox import TraceFacts, TraceOptions, run_trace

LIMITS = TraceOptions(duration_s=3.0, grace_s=2.0, memory_bytes=96 << 20, pids_max=24)


def _fallback(facts: TraceFacts) -> str:
    lines = [f for f in facts.findings if f.startswith("cgroup limits not set")]
    assert len(lines) == 1, facts.findings
    return lines[0]


@pytest.fixture(scope="module")
def hostile(unpacked: Callable[[str], AcquiredImage]) -> AcquiredImage:
    return unpacked("hostile-c")


@pytest.mark.engine
def test_missing_cgroup_root_falls_back_to_rlimits(hostile: AcquiredImage, tmp_path: Path) -> None:
    """No cgroup hierarchy there: the memory limit becomes RLIMIT_AS, and the app's huge allocations
    fail instead of being OOM-killed."""
    opts = TraceOptions(**{**LIMITS.__dict__, "cgroup_root": tmp_path / "no-cgroups", "workdir": tmp_path})
    facts = run_trace(hostile.rootfs, ImageConfig(entrypoint=("/hostile", "memory")), opts)
    line = _fallback(facts)
    assert "pids.max" in line and "RLIMIT_NPROC=24" in line and "does not stop root" in line
    assert "memory.limit_in_bytes" in line and "RLIMIT_AS=96 MiB" in line
    assert "mmap: Cannot allocate memory" in facts.stdout_tail
    assert facts.exit_reason == "stopped"
    assert leftovers.processes(facts.extra["sandbox"]) == [] and leftovers.processes(str(tmp_path)) == []


@pytest.mark.engine
def test_a_plain_directory_is_not_a_cgroup_hierarchy(hostile: AcquiredImage, tmp_path: Path) -> None:
    """A directory that looks like the cgroup root but is no cgroup file system: nothing is limited by
    it, so the run says so and uses rlimits; RLIMIT_NPROC contains a fork bomb of a non-root user."""
    fake = tmp_path / "fake-cgroup"
    for ctrl in ("pids", "memory"):
        (fake / ctrl).mkdir(parents=True)
        (fake / ctrl / "cgroup.procs").write_text("")
    opts = TraceOptions(**{**LIMITS.__dict__, "cgroup_root": fake, "workdir": tmp_path / "work"})
    (tmp_path / "work").mkdir()
    bomb = ImageConfig(entrypoint=("/hostile", "fork-bomb"), user="4242:4242")
    facts = run_trace(hostile.rootfs, bomb, opts)
    line = _fallback(facts)
    assert "not a cgroup v1 hierarchy" in line
    forks = facts.results().get("fork", {}) | facts.results().get("clone", {})
    assert forks.get("EAGAIN", 0) > 0  # refused by RLIMIT_NPROC
    assert len([p for p in facts.processes if not p.is_thread]) <= 4 * LIMITS.pids_max
    assert leftovers.processes(facts.extra["sandbox"]) == []
    assert sorted(p.name for p in (fake / "pids").iterdir()) == ["cgroup.procs"]  # nothing left behind
