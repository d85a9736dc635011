"""Active probing: group testing (pure) and fault injection into real fixture apps in the sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from transpile.errors import DockuniError
from transpile.image import AcquiredImage, ImageConfig
from transpile.sandbox import (
    Injection,
    TraceFacts,
    TraceOptions,
    bisect,
    probe_injections,
    run_trace,
    run_with_injections,
    still_passes,
)

OPTS = TraceOptions(duration_s=6.0, grace_s=2.0)


def _breakers(bad: set[int], jointly: tuple[int, int] | None = None) -> Callable[[tuple[int, ...]], bool]:
    def passes(batch: tuple[int, ...]) -> bool:
        if jointly and set(jointly) <= set(batch):
            return False
        return not (bad & set(batch))

    return passes


@pytest.mark.unit
def test_bisect_all_harmless_costs_one_run() -> None:
    res = bisect(list(range(40)), _breakers(set()))
    assert res.harmless == tuple(range(40)) and res.needed == () and res.runs == 1


@pytest.mark.unit
@pytest.mark.parametrize("bad", [{0}, {17}, {39}, {3, 30}, {5, 6, 7}])
def test_bisect_finds_exactly_the_breaking_items(bad: set[int]) -> None:
    res = bisect(list(range(40)), _breakers(bad))
    assert res.needed == tuple(sorted(bad))
    assert set(res.harmless) == set(range(40)) - bad and res.untested == ()
    # per breaker at most about 2 log2(40) runs: far fewer than one run per item
    assert res.runs <= len(bad) * 2 * 6 + 1


@pytest.mark.unit
def test_bisect_items_that_break_only_together() -> None:
    res = bisect(list(range(8)), _breakers(set(), jointly=(1, 6)))
    assert res.needed == (6,)  # with 1 injected, 6 cannot be: the later one is reported
    assert res.harmless == (0, 1, 2, 3, 4, 5, 7)


@pytest.mark.unit
def test_bisect_budget_leaves_items_untested() -> None:
    res = bisect(list(range(16)), _breakers({2, 9}), max_runs=3)
    assert res.runs == 3 and res.untested
    assert set(res.needed) | set(res.harmless) | set(res.untested) == set(range(16))


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"syscall": "getppid", "error": "ENOSYS"}, "getppid:error=ENOSYS"),
        ({"syscall": "sched_getaffinity", "retval": 0}, "sched_getaffinity:retval=0"),
        ({"path": "/sys/devices/system/cpu/online"}, "path:/sys/devices/system/cpu/online"),
    ],
)
def test_injection_forms_round_trip(kwargs: dict[str, object], key: str) -> None:
    inj = Injection(**kwargs)  # type: ignore[arg-type]
    assert inj.key == key and Injection.from_json(inj.to_json()) == inj


@pytest.mark.unit
@pytest.mark.parametrize(
    "kwargs",
    [
        {"syscall": "getppid"},
        {"syscall": "getppid", "error": "ENOSYS", "retval": 0},
        {"syscall": "getppid", "error": "EWHAT"},
        {"syscall": "get ppid", "error": "ENOSYS"},
        {"path": "relative/path"},
        {"path": "/x", "syscall": "open", "error": "ENOENT"},
    ],
)
def test_bad_injections_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Injection(**kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def static_server(unpacked: Callable[[str], AcquiredImage]) -> AcquiredImage:
    return unpacked("static-server")


@pytest.fixture(scope="module")
def baseline(static_server: AcquiredImage) -> TraceFacts:
    facts = run_trace(static_server.rootfs, static_server.config, OPTS)
    assert facts.app_ran and ("http", "127.0.0.1:8080") in facts.passed_probes
    return facts


@pytest.mark.engine
def test_stubbing_accept_breaks_the_server(static_server: AcquiredImage, baseline: TraceFacts) -> None:
    facts = run_with_injections(
        static_server.rootfs, static_server.config, [Injection("accept", error="ENOSYS")], OPTS
    )
    assert dict(facts.injected)["accept"] >= 1  # strace marked the calls INJECTED
    assert facts.results()["accept"].get("ENOSYS", 0) >= 1 and "accept" in facts.failure_only
    assert ("http", "127.0.0.1:8080") not in facts.passed_probes
    assert not still_passes(baseline, facts)
    assert facts.injections == (Injection("accept", error="ENOSYS"),)


@pytest.mark.engine
def test_stubs_and_fakes_the_server_does_not_need(static_server: AcquiredImage, baseline: TraceFacts) -> None:
    batch = [Injection("rseq", error="ENOSYS"), Injection("setsockopt", retval=0)]
    facts = run_with_injections(static_server.rootfs, static_server.config, batch, OPTS)
    assert {"rseq", "setsockopt"} <= {name for name, _ in facts.injected}
    assert facts.results()["rseq"] == {"ENOSYS": 1}
    assert still_passes(baseline, facts) and facts.app_ran


@pytest.mark.engine
def test_bisect_on_the_real_server(static_server: AcquiredImage, baseline: TraceFacts) -> None:
    items = [
        Injection("rseq", error="ENOSYS"),
        Injection("set_robust_list", error="ENOSYS"),
        Injection("accept", error="ENOSYS"),
        Injection("readlink", error="ENOSYS"),
    ]
    res, base = probe_injections(static_server.rootfs, static_server.config, items, OPTS, baseline)
    assert base is baseline
    assert res.needed == (Injection("accept", error="ENOSYS"),)
    assert len(res.harmless) == 3
    assert res.runs < 2 * len(items)


@pytest.mark.engine
def test_injection_run_costs_about_a_plain_run(static_server: AcquiredImage, baseline: TraceFacts) -> None:
    """Not a timing assertion: a passing injection run ends the same way as the plain one (probes, then
    the settle time, then the stop), so batches cost what plain traces cost."""
    started = time.monotonic()
    facts = run_with_injections(
        static_server.rootfs, static_server.config, [Injection("getrandom", error="ENOSYS")], OPTS
    )
    assert facts.exit_reason == baseline.exit_reason == "stopped"
    assert time.monotonic() - started < OPTS.duration_s + OPTS.grace_s + 20


@pytest.mark.engine
def test_unknown_syscall_is_bad_input(static_server: AcquiredImage) -> None:
    with pytest.raises(DockuniError, match="no_such_call"):
        run_with_injections(
            static_server.rootfs, static_server.config, [Injection("no_such_call", error="ENOSYS")], OPTS
        )


@pytest.mark.engine
def test_execve_cannot_be_injected(static_server: AcquiredImage) -> None:
    with pytest.raises(DockuniError, match="execve"):
        run_with_injections(
            static_server.rootfs, static_server.config, [Injection("execve", error="ENOSYS")], OPTS
        )


@pytest.mark.engine
def test_paths_made_absent(unpacked: Callable[[str], AcquiredImage]) -> None:
    """A file of the image, a directory, and a sysfs file are absent; their siblings are not, and the
    rootfs is untouched."""
    img = unpacked("python-http")
    script = (
        "for p in /etc/debian_version /etc/os-release /usr/share/doc /usr/share/man"
        " /sys/devices/system/cpu/online /sys/devices/system/cpu/possible; do"
        ' if [ -e "$p" ]; then echo "present $p"; else echo "absent $p"; fi; done'
    )
    config = ImageConfig(entrypoint=("/bin/sh", "-c", script))
    hidden = ("/etc/debian_version", "/usr/share/doc", "/sys/devices/system/cpu/online")
    facts = run_with_injections(
        img.rootfs, config, [Injection(path=p) for p in hidden], replace(OPTS, duration_s=4.0)
    )
    out = facts.stdout_tail
    for p in hidden:
        assert f"absent {p}" in out
    for p in ("/etc/os-release", "/usr/share/man", "/sys/devices/system/cpu/possible"):
        assert f"present {p}" in out
    assert (img.rootfs / "etc/debian_version").exists() and (img.rootfs / "usr/share/doc").is_dir()
    assert any(f.path == "/etc/debian_version" and not f.found for f in facts.files)


@pytest.mark.engine
def test_a_needed_file_made_absent_breaks_the_app(unpacked: Callable[[str], AcquiredImage]) -> None:
    img = unpacked("python-http")
    base = run_trace(img.rootfs, img.config, OPTS)
    gone = run_with_injections(
        img.rootfs, img.config, [Injection(path="/usr/lib/python3.11/http/server.py")], OPTS
    )
    assert not gone.app_ran and not still_passes(base, gone)
    assert "No module named http.server" in gone.stderr_tail


@pytest.mark.engine
def test_proc_entries_of_processes_cannot_be_hidden(static_server: AcquiredImage) -> None:
    with pytest.raises(DockuniError, match="/proc/self/maps"):
        run_with_injections(
            static_server.rootfs, static_server.config, [Injection(path="/proc/self/maps")], OPTS
        )
