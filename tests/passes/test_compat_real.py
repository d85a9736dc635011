"""Verdicts on real images built from Debian packages: the apps the unikernel projects document as
running must not be blocked without a real reason, and no app gets a wrong "ok".

Each image is built by the real engine, converted once per session by the real pipeline (trace, fault
injection, verdicts: tests/support/convert.py), and checked per target with the reason.
"""

from __future__ import annotations

import pytest

from tests.support import convert as cs
from transpile.model.verdict import TargetVerdict

pytestmark = pytest.mark.engine

UNIKERNELS = ("unikraft", "nanos", "osv")


def _verdicts(name: str) -> dict[str, TargetVerdict]:
    return {v.target: v for v in cs.converted(name).facts.verdicts}


def _needs(v: TargetVerdict) -> list[str]:
    return [b.need for b in v.details]


def _item(v: TargetVerdict, name: str) -> tuple[str, str, str]:
    it = next(i for i in v.items if i.item == name)
    return it.support, it.category, it.rule


def _assert_remedies(vs: dict[str, TargetVerdict]) -> None:
    for v in vs.values():
        for b in v.details:
            assert b.remedy and b.evidence, (v.target, b)


@pytest.mark.parametrize("name", ["nginx-single", "nginx"])
def test_nginx_runs_single_process_on_every_unikernel(name: str) -> None:
    result = cs.converted(name)
    vs = _verdicts(name)
    for target in (*UNIKERNELS, "microvm"):
        assert vs[target].status == "ok", (target, vs[target].blockers)
    trace = result.facts.trace
    assert trace is not None and "master_process off;" in " ".join(trace.argv)  # the recipe's program
    if name == "nginx":  # stock nginx: the rewrite is named, and the trace ran it
        assert result.facts.rewrites == ("nginx runs single-process: added `master_process off;` to -g",)
    else:
        assert result.facts.rewrites == ()
    # Loupe measured nginx: its own record (or this app's probes) decides getppid on Nanos, never the pool
    nanos_getppid = [i for i in vs["nanos"].items if i.item == "syscall:getppid"]
    for it in nanos_getppid:
        assert it.rule.startswith(("loupe-app:nginx/", "probe:")), it
    assert result.exit_code == 0 and result.ranking


def test_redis_runs_on_every_unikernel_in_the_foreground() -> None:
    result = cs.converted("redis")
    vs = _verdicts("redis")
    for target in (*UNIKERNELS, "microvm"):
        assert vs[target].status == "ok", (target, vs[target].blockers)
    assert result.facts.rewrites == ("redis runs in the foreground: added `--daemonize no`",)


def test_memcached_fails_on_a_faked_root_uid_on_nanos_only() -> None:
    vs = _verdicts("memcached")
    assert vs["unikraft"].ok and vs["osv"].ok and vs["microvm"].ok
    # Nanos answers every uid call with 0; memcached then refuses to run as root: a probe proves it
    assert _needs(vs["nanos"]) == ["facility:identity.users"], vs["nanos"].blockers
    blocker = vs["nanos"].details[0]
    assert blocker.rule == "probe:needed"
    assert any("returned 0 without running" in e and "-u switch" in e for e in blocker.evidence), blocker
    assert "-u root" in blocker.remedy
    _assert_remedies(vs)


def test_go_server_built_as_pie_runs_everywhere() -> None:
    vs = _verdicts("go-pie")
    for target in (*UNIKERNELS, "microvm"):
        assert vs[target].status == "ok", (target, vs[target].blockers)
    program = cs.real_facts("go-pie").static.program
    assert program is not None and program.pie is True


def test_go_server_not_pie_is_blocked_on_unikraft_by_the_loader_alone() -> None:
    result = cs.converted("go-exe")
    vs = _verdicts("go-exe")
    needs = _needs(vs["unikraft"])
    assert needs[0] == "binary:pie", vs["unikraft"].blockers
    assert vs["unikraft"].details[0].remedy == "rebuild as PIE: -fPIE -pie, or go build -buildmode=pie"
    # Go's runtime may preempt with tgkill while it serves; with the loader blocking anyway no probe is
    # spent on it, so such a call keeps the pooled Loupe verdict
    for b in vs["unikraft"].details[1:]:
        assert b.need.startswith("syscall:") and b.rule.startswith("loupe:"), b
    assert vs["nanos"].ok and vs["osv"].ok and vs["microvm"].ok
    assert result.exit_code == 0 and "unikraft" not in result.emitted


def test_node_runs_everywhere_and_its_feature_checks_are_not_needs() -> None:
    vs = _verdicts("node")
    for target in (*UNIKERNELS, "microvm"):
        assert vs[target].status == "ok", (target, vs[target].blockers)
    trace = cs.real_facts("node").trace
    assert trace is not None
    if "pkey_alloc" in trace.needed_syscalls:  # V8 asks for protection keys where the CPU may have them
        for target in UNIKERNELS:
            support, category, _ = _item(vs[target], "syscall:pkey_alloc")
            assert category == "feature-probe" or support == "supported"


def test_apache_prefork_traces_without_harming_dockuni_and_needs_its_children() -> None:
    result = cs.converted("apache-prefork")
    trace = result.facts.trace
    # the app killpg's its process group at shutdown: only the sandbox's processes get it
    assert trace is not None and trace.exit_reason in ("stopped", "timeout"), trace.exit_reason
    vs = _verdicts("apache-prefork")
    for target in UNIKERNELS:
        assert _needs(vs[target])[0] == "facility:process.fork", vs[target].blockers
        assert "every MPM" in vs[target].details[0].remedy
    assert vs["microvm"].ok
    assert result.exit_code == 1 and result.fallback
    assert result.emitted == ("microvm", "container")
    assert result.story[0].startswith("No unikernel can run this image")
    assert result.story[-1] == "Exit code 1."


def test_postgresql_needs_a_backend_process_per_connection() -> None:
    result = cs.converted("postgresql")
    vs = _verdicts("postgresql")
    for target in UNIKERNELS:
        assert not vs[target].ok
        assert _needs(vs[target])[0] == "facility:process.fork", vs[target].blockers
        assert "PostgreSQL" in vs[target].details[0].remedy
    assert vs["microvm"].ok and result.exit_code == 1
    # no stub can save a forking server: the probes are not spent on it
    assert result.probing is None
    _assert_remedies(vs)


# Held out: apps the unikernel projects document as running (Unikraft's catalog, Nanos' and OSv's
# application lists): nginx, redis, node and Go servers run on all three, memcached on Unikraft and OSv.
DOCUMENTED = {
    "nginx": UNIKERNELS,
    "nginx-single": UNIKERNELS,
    "redis": UNIKERNELS,
    "node": UNIKERNELS,
    "go-pie": UNIKERNELS,
    "memcached": ("unikraft", "osv"),
}
# Apps no unikernel can run as they are: a forking server, Apache prefork, PostgreSQL, a shell script.
NOT_ON_UNIKERNELS = ("forking-server", "apache-prefork", "postgresql", "shell-script")


def test_held_out_documented_apps_are_not_blocked_and_no_ok_is_wrong() -> None:
    wrong_blocked = [
        (name, t, vs[t].blockers)
        for name, targets in DOCUMENTED.items()
        for vs in [_verdicts(name)]
        for t in targets
        if vs[t].status != "ok"
    ]
    assert not wrong_blocked
    wrong_ok = [(name, t) for name in NOT_ON_UNIKERNELS for t in UNIKERNELS if _verdicts(name)[t].ok]
    assert not wrong_ok
