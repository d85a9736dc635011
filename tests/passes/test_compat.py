"""Per-target verdicts: the data tables, the stub classification, and real fixture images."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support import convert as cs
from transpile import data, pipeline
from transpile import targets as registry
from transpile.model.chain import ChainStep
from transpile.model.static import ElfObject, StaticEvidence
from transpile.model.trace import FileAccess, ProcessTrace, SocketUse, TraceFacts
from transpile.model.verdict import TargetVerdict
from transpile.passes import compat

pytestmark = pytest.mark.engine

# --- the tables ------------------------------------------------------------------------------------------


def test_tables_load_with_their_documented_sizes() -> None:
    assert len(data.docker_default().allowed) == 361  # the header of docker-default-allowed.txt says so
    assert "clone" in data.docker_default().conditional
    assert len(data.loupe()) == 220
    assert data.loupe()["close"].fake_ok == 86
    assert len(data.lupine_options()) == 19


def test_unikraft_table_adds_what_app_elfloader_provides() -> None:
    table = data.capabilities("unikraft").syscalls
    assert {"brk", "arch_prctl"} <= table.implemented
    assert table.support("fork") == "missing"


def test_nanos_fake_lines_are_faked() -> None:
    table = data.capabilities("nanos").syscalls
    assert table.support("setuid") == "faked"
    assert table.support("wait4") == "faked"
    assert table.support("epoll_wait") == "supported"
    assert table.support("execve") == "missing"


def test_osv_spellings_are_normalised() -> None:
    table = data.capabilities("osv").syscalls
    assert {"brk", "mmap", "clone", "newfstatat", "utimensat", "exit_group"} <= table.implemented
    assert not any(n.startswith(("sys_", "long_")) for n in table.implemented)


def test_every_facility_has_a_status_per_unikernel_and_known_syscalls() -> None:
    known = data.known_syscalls()
    unikernels = [c for c in data.all_capabilities() if c.kind == "unikernel"]
    assert {c.name for c in unikernels} == {"unikraft", "nanos", "osv"}
    for caps in data.all_capabilities():
        # every status and component names a facility that exists; unikernels list every facility
        assert set(caps.facilities) <= set(data.facilities()), caps.name
        assert set(caps.components) <= set(data.facilities()), caps.name
        if caps.kind == "unikernel":
            assert set(caps.facilities) == set(data.facilities()), caps.name
    for facility in data.facilities().values():
        assert facility.source
        for sc in facility.syscalls:
            assert sc in known or sc in ("fork", "vfork"), (facility.name, sc)
    assert set(data.facility_kconfig()) <= set(data.facilities())


def test_kconfig_table_covers_lupines_general_options() -> None:
    """Lupine's 19 options are needed by popular apps; our facilities should reach most of them."""
    ours = {opt for opts in data.facility_kconfig().values() for opt in opts}
    covered = data.lupine_options() & ours
    assert len(covered) >= 13, sorted(data.lupine_options() - ours)


# --- Loupe classification -------------------------------------------------------------------------------


def test_loupe_rule_is_conservative() -> None:
    assert compat.loupe_stubbable("close") == (True, "loupe:fake_ok=86/116")
    assert compat.loupe_stubbable("futex")[0]  # fake_ok 68/95
    assert not compat.loupe_stubbable("listen")[0]  # 0/36
    assert not compat.loupe_stubbable("execve")[0]
    assert not compat.loupe_stubbable("prlimit64")[0]  # 35/114 < half
    # thin data: one app that survived is no evidence
    ok, rule = compat.loupe_stubbable("mlockall")
    assert not ok and rule == "loupe:stub_ok=1/1"
    assert compat.loupe_stubbable("no_such_call") == (False, "loupe:no-data")


# --- verdicts on constructed traces (pure) ---------------------------------------------------------------


def _trace(
    processes: tuple[ProcessTrace, ...],
    execs: tuple[tuple[str, ...], ...] = (("/app",),),
    sockets: tuple[SocketUse, ...] = (),
    files: tuple[FileAccess, ...] = (),
) -> TraceFacts:
    totals: dict[str, int] = {}
    for p in processes:
        for name, count in p.syscalls:
            totals[name] = totals.get(name, 0) + count
    return TraceFacts(
        argv=("/app",),
        duration_s=1.0,
        exit_reason="stopped",
        exit_status=None,
        processes=processes,
        syscalls=tuple(totals.items()),
        files=files,
        execs=execs,
        dlopened=(),
        sockets=sockets,
        signals=(),
        listening_ports=(8080,),
    )


MAIN = ProcessTrace(
    pid=1,
    parent=0,
    argv=("/app",),
    is_thread=False,
    syscalls=(("execve", 1), ("socket", 1), ("bind", 1), ("listen", 1), ("accept", 3), ("clone", 2)),
)
STATIC = StaticEvidence(
    argv=("/app",),
    chain=(ChainStep("/app", "/app", "/app", "elf"),),
    objects=(ElfObject("/app", "program", pie=True, imports=("fork", "socket", "accept")),),
)


def _verdicts(static: StaticEvidence, trace: TraceFacts | None) -> dict[str, TargetVerdict]:
    _, vs = pipeline.assess(static, trace, (), registry.convertible())
    return {v.target: v for v in vs}


def _item(v: TargetVerdict, name: str) -> str:
    return next(it.support for it in v.items if it.item == name)


def test_fork_whose_child_did_work_blocks_every_unikernel() -> None:
    child = ProcessTrace(
        2, 1, (), False, "CLONE_CHILD_SETTID|SIGCHLD", (("read", 1), ("write", 1), ("exit_group", 1))
    )
    vs = _verdicts(STATIC, _trace((MAIN, child)))
    for target in ("unikraft", "nanos", "osv"):
        assert not vs[target].ok
        assert _item(vs[target], "facility:process.fork") == "missing"
        assert any("pid 2" in b and "did work" in b for b in vs[target].blockers), vs[target].blockers
    assert vs["microvm"].ok


def test_fork_child_that_only_exits_is_not_a_dependence() -> None:
    child = ProcessTrace(2, 1, (), False, "SIGCHLD", (("exit_group", 1),))
    vs = _verdicts(STATIC, _trace((MAIN, child)))
    assert vs["nanos"].ok, vs["nanos"].blockers
    assert _item(vs["nanos"], "facility:process.fork") == "stubbable"


def test_threads_are_fine_and_imported_fork_is_stubbable_when_never_called() -> None:
    thread = ProcessTrace(2, 1, (), True, "CLONE_VM|CLONE_THREAD", (("futex", 4),))
    vs = _verdicts(STATIC, _trace((MAIN, thread)))
    for target in ("unikraft", "nanos", "osv"):
        assert vs[target].ok, vs[target].blockers
        assert _item(vs[target], "syscall:fork") == "stubbable"
        assert _item(vs[target], "syscall:clone") == "supported"


def test_exec_of_a_second_program_blocks_unikernels() -> None:
    trace = _trace((MAIN,), execs=(("/app",), ("/bin/other", "-x")))
    vs = _verdicts(STATIC, trace)
    for target in ("unikraft", "nanos", "osv"):
        assert _item(vs[target], "facility:process.exec") == "missing"
        assert any("/bin/other" in b for b in vs[target].blockers)
    assert vs["microvm"].ok


def test_first_execve_is_the_program_start_not_a_need() -> None:
    vs = _verdicts(STATIC, _trace((MAIN,)))
    assert all(it.item != "syscall:execve" for it in vs["nanos"].items)


def test_non_pie_blocks_only_unikraft() -> None:
    static = replace(STATIC, objects=(replace(STATIC.objects[0], pie=False, static=True),))
    vs = _verdicts(static, _trace((MAIN,)))
    assert not vs["unikraft"].ok
    assert vs["unikraft"].blockers == (
        "binary:pie: ELF /app is static ET_EXEC (not PIE) [unikraft:app-elfloader-needs-PIE]",
    )
    assert vs["nanos"].ok and vs["osv"].ok and vs["microvm"].ok


def test_other_architecture_blocks_everything() -> None:
    vs = _verdicts(replace(STATIC, architecture="arm64"), _trace((MAIN,)))
    assert not any(v.ok for v in vs.values())


def test_missing_library_blocks_every_target() -> None:
    # the closure pass's wording for a DT_NEEDED entry the loader would not find
    gone = "libgone.so (needed by /app): not found in /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu"
    vs = _verdicts(replace(STATIC, missing_libraries=(gone,)), _trace((MAIN,)))
    assert not any(v.ok for v in vs.values())
    assert vs["microvm"].blockers == (f"library:libgone.so: {gone} [loader:DT_NEEDED]",)


def test_non_root_user_is_faked_on_unikernels() -> None:
    vs = _verdicts(replace(STATIC, user="www-data", user_span="Dockerfile:4:1"), _trace((MAIN,)))
    item = next(it for it in vs["nanos"].items if it.item == "config:user")
    assert item.support == "faked" and "Dockerfile:4:1: USER www-data" in item.evidence
    assert all(it.item != "config:user" for it in vs["microvm"].items)


def test_shell_script_entrypoint_needs_exec_statically() -> None:
    static = StaticEvidence(
        argv=("/start.sh",),
        chain=(
            ChainStep("/start.sh", "/start.sh", "/start.sh", "script", interpreter="/bin/dash"),
            ChainStep("/bin/dash", "/bin/dash", "/bin/dash", "elf"),
        ),
    )
    vs = _verdicts(static, None)
    for target in ("unikraft", "nanos", "osv"):
        assert not vs[target].ok
        assert any("shell script" in b for b in vs[target].blockers)


def test_missing_call_with_trace_evidence_blocks_and_cites_loupe() -> None:
    main = replace(MAIN, syscalls=(*MAIN.syscalls, ("inotify_init1", 1), ("inotify_add_watch", 2)))
    vs = _verdicts(STATIC, _trace((main,)))
    item = next(it for it in vs["unikraft"].items if it.item == "syscall:inotify_add_watch")
    assert item.support == "missing" and item.rule.startswith("loupe:")
    assert _item(vs["nanos"], "syscall:inotify_add_watch") == "supported"
    assert vs["nanos"].ok and not vs["unikraft"].ok


def test_netlink_socket_is_stubbable_by_glibc_fallback() -> None:
    sock = SocketUse("AF_NETLINK", "SOCK_RAW")
    vs = _verdicts(STATIC, _trace((MAIN,), sockets=(sock,)))
    item = next(it for it in vs["unikraft"].items if it.item == "facility:network.netlink")
    assert item.support == "stubbable" and item.rule == "libc-fallback:network.netlink"


def test_ranking_prefers_fewer_stubs_then_footprint() -> None:
    vs = _verdicts(STATIC, _trace((MAIN,)))
    ranked = [v.target for v in compat.rank(vs.values())]
    assert ranked[0] == "unikraft"  # nothing stubbed here, smallest footprint class
    assert ranked[-1] == "microvm"
    assert all(v.score > 0 for v in vs.values())


def test_no_trace_static_findings_of_error_severity_block() -> None:
    from transpile.ir import Finding, Span

    # a need osv's capabilities have and nanos' lack: the finding blocks nanos alone
    finding = Finding("DU501", "error", "sctp", Span("Dockerfile", 3, 1, 3, 10), need="network.sctp")
    _, found = pipeline.assess(STATIC, None, (finding,), registry.convertible())
    vs = {v.target: v for v in found}
    assert vs["nanos"].status == "blocked"
    assert vs["osv"].status == "unknown"  # nothing blocks it, but without a trace nothing decides it
    assert "Dockerfile:3:1" in vs["nanos"].blockers[0]
    traced = _trace((MAIN,))
    _, found2 = pipeline.assess(STATIC, traced, (finding,), registry.convertible())
    vs2 = {v.target: v for v in found2}
    assert vs2["nanos"].ok  # the trace supersedes a static guess


def test_attack_surface_counts_against_dockers_default() -> None:
    surface = compat.attack_surface(_trace((MAIN,)))
    assert surface.docker_default == 361
    # clone and socket are allowed only conditionally (capabilities, argument filters)
    assert surface.needed == 6 and surface.needed_outside_default == 2


# --- real fixture images (real engine, real sandboxed trace) ---------------------------------------------


def _real(name: str) -> dict[str, TargetVerdict]:
    facts = cs.real_facts(name)
    return _verdicts(facts.static, facts.trace)


def test_static_server_blocks_unikraft_by_non_pie_and_runs_on_nanos() -> None:
    vs = _real("static-server")
    assert not vs["unikraft"].ok
    assert any("binary:pie" in b and "ET_EXEC" in b for b in vs["unikraft"].blockers)
    assert len(vs["unikraft"].blockers) == 1, vs["unikraft"].blockers
    assert vs["nanos"].ok, vs["nanos"].blockers
    assert vs["microvm"].ok


def test_forking_server_needs_fork_everywhere_but_linux() -> None:
    vs = _real("forking-server")
    for target in ("unikraft", "nanos", "osv"):
        assert not vs[target].ok
        assert any("process.fork" in b and "did work" in b for b in vs[target].blockers), vs[target].blockers
    assert vs["microvm"].ok


def test_python_http_verdicts_rest_on_the_trace() -> None:
    facts = cs.real_facts("python-http")
    assert facts.trace is not None and 8000 in facts.trace.listening_ports
    vs = _verdicts(facts.static, facts.trace)
    assert vs["nanos"].ok, vs["nanos"].blockers
    # Debian builds python3.11 as ET_EXEC: Unikraft's loader cannot load it
    assert any("binary:pie" in b for b in vs["unikraft"].blockers)
    socket = next(it for it in vs["nanos"].items if it.item == "syscall:socket")
    assert socket.support == "supported" and socket.evidence[0] == "evidence: both"
