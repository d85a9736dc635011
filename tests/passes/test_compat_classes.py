"""Verdicts from evidence on recorded facts: phases, outcomes, per-app Loupe records, OSv's libc, probes,
one blocker per need, unknown without evidence, boots. Pure: no engine (the real images are in
tests/test_verdicts_real.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from transpile import data, pipeline
from transpile import targets as registry
from transpile.model.chain import ChainStep
from transpile.model.static import ElfObject, StaticEvidence
from transpile.model.trace import FileAccess, Injection, ProcessTrace, TraceFacts
from transpile.model.verdict import ProbeOutcome, TargetVerdict
from transpile.passes import compat

pytestmark = pytest.mark.unit

GLIBC = "/lib64/ld-linux-x86-64.so.2"
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def _static(program: str = "/usr/sbin/app", *, glibc: bool = True, pie: bool = True) -> StaticEvidence:
    obj = ElfObject(
        program,
        "program",
        pie=pie,
        interpreter=GLIBC if glibc else "",
        needed=(LIBC,) if glibc else (),
        static=not glibc,
    )
    chain = (ChainStep(program, program, program, "elf"),)
    return StaticEvidence(argv=(program,), chain=chain, objects=(obj,))


def _trace(
    argv: tuple[str, ...],
    outcomes: dict[str, dict[str, dict[str, int]]],
    *,
    files: tuple[FileAccess, ...] = (),
    children: tuple[ProcessTrace, ...] = (),
    app_ran: bool = True,
) -> TraceFacts:
    per: dict[str, int] = {}
    for calls in outcomes.values():
        for name, res in calls.items():
            per[name] = per.get(name, 0) + sum(res.values())
    main = ProcessTrace(1, 0, argv, False, syscalls=(("execve", 1), *per.items()))
    return TraceFacts(
        argv=argv,
        duration_s=3.0,
        exit_reason="stopped" if app_ran else "exited",
        exit_status=None if app_ran else 1,
        processes=(main, *children),
        syscalls=(("execve", 1), *per.items()),
        files=files,
        execs=(argv,),
        dlopened=(),
        sockets=(),
        signals=("SIGTERM",),
        listening_ports=(80,),
        probes=({"kind": "tcp", "target": "127.0.0.1:80", "ok": True, "detail": ""},),
        outcomes=outcomes,
    )


SERVE = {"socket": {"ok": 1}, "bind": {"ok": 1}, "listen": {"ok": 1}, "accept4": {"ok": 2}}


def _verdicts(
    static: StaticEvidence, trace: TraceFacts | None, probes: dict[str, ProbeOutcome] | None = None
) -> dict[str, TargetVerdict]:
    _, vs = pipeline.assess(static, trace, (), registry.convertible(), probes=probes)
    return {v.target: v for v in vs}


def _it(v: TargetVerdict, item: str) -> compat.ItemVerdict:
    return next(it for it in v.items if it.item == item)


def test_shutdown_only_calls_are_listed_and_never_block() -> None:
    trace = _trace(
        ("/usr/sbin/app",),
        {"startup": SERVE, "shutdown": {"tgkill": {"ok": 1}, "rt_sigreturn": {"ok": 1}}},
    )
    vs = _verdicts(_static(), trace)
    for target in ("unikraft", "nanos", "osv"):
        item = _it(vs[target], "syscall:tgkill")
        assert item.category == "shutdown-only" and item.support != "missing", item
        assert vs[target].status == "ok", vs[target].blockers


def test_a_failed_call_the_app_survived_is_a_tolerated_failure() -> None:
    trace = _trace(("/usr/sbin/app",), {"startup": {**SERVE, "mlockall": {"EPERM": 1}}})
    vs = _verdicts(_static(), trace)
    item = _it(vs["unikraft"], "syscall:mlockall")
    assert item.category == "tolerated-failure" and item.rule == "trace:tolerated-failure:EPERM"
    assert vs["unikraft"].ok
    # the same call succeeding is a need: Loupe's data on mlockall is too thin to call it stubbable
    vs2 = _verdicts(_static(), _trace(("/usr/sbin/app",), {"startup": {**SERVE, "mlockall": {"ok": 1}}}))
    assert _it(vs2["unikraft"], "syscall:mlockall").support == "missing"
    # and when the app did not survive, a failure is no evidence of tolerance
    died = _trace(("/usr/sbin/app",), {"startup": {**SERVE, "mlockall": {"EPERM": 1}}}, app_ran=False)
    assert _it(_verdicts(_static(), died)["unikraft"], "syscall:mlockall").category == "need"


def test_pkey_alloc_is_a_feature_probe_from_the_data_file() -> None:
    assert data.feature_probes()["pkey_alloc"].kind == "feature-check"
    trace = _trace(("/usr/bin/node",), {"startup": {**SERVE, "pkey_alloc": {"EINVAL": 1}}})
    vs = _verdicts(_static("/usr/bin/node"), trace)
    for target in ("unikraft", "nanos", "osv"):
        item = _it(vs[target], "syscall:pkey_alloc")
        assert item.category == "feature-probe" and item.rule == "feature-probe:feature-check"
        assert vs[target].ok, vs[target].blockers


def test_sysfs_file_that_was_not_found_is_not_a_need() -> None:
    hpage = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
    files = (FileAccess(hpage, "open", False, error="ENOENT", phase="startup"),)
    vs = _verdicts(_static(), _trace(("/usr/sbin/app",), {"startup": SERVE}, files=files))
    assert all(it.item != "facility:fs.sysfs" for it in vs["unikraft"].items)


def test_loupes_record_of_the_app_wins_over_the_pooled_rule() -> None:
    nginx = data.loupe_app_for("nginx")
    assert nginx is not None and nginx.workload == "benchmark-wrk"
    assert nginx.passes_without("getppid") == "b"
    pooled, _ = compat.loupe_stubbable("getppid")
    assert not pooled  # 5 of 20 apps: the pooled rule calls it needed
    trace = _trace(("/usr/sbin/nginx",), {"startup": {**SERVE, "getppid": {"ok": 1}}})
    vs = _verdicts(_static("/usr/sbin/nginx"), trace)
    item = _it(vs["nanos"], "syscall:getppid")  # Nanos lacks getppid
    assert item.support == "stubbable" and item.rule == "loupe-app:nginx/benchmark-wrk:stubbed-or-faked"
    assert vs["nanos"].ok
    other = _verdicts(_static("/usr/sbin/other"), replace(trace, argv=("/usr/sbin/other",)))
    assert _it(other["nanos"], "syscall:getppid").support == "missing"


def test_osv_binds_a_glibc_programs_calls_to_its_own_libc() -> None:
    exported = {"setuid", "setgid", "setgroups", "setitimer", "getppid", "chown", "waitpid"}
    assert exported <= data.osv_libc_exports()
    calls = {"setitimer": {"ok": 1}, "chown": {"ok": 1}, "wait4": {"ok": 1}}
    trace = _trace(("/usr/sbin/other",), {"startup": {**SERVE, **calls}})
    glibc = _verdicts(_static("/usr/sbin/other"), trace)
    for name, function in (("setitimer", "setitimer"), ("chown", "chown"), ("wait4", "wait4")):
        item = _it(glibc["osv"], f"syscall:{name}")  # none of them is in linux.cc's table
        assert item.support == "supported" and item.rule == f"osv:libc:{function}", item
    # a static program (Go, musl) makes raw syscalls: OSv's libc is not in the way
    static = _verdicts(_static("/usr/sbin/other", glibc=False), trace)
    assert _it(static["osv"], "syscall:setitimer").support != "supported"


def _forking_nginx() -> tuple[StaticEvidence, TraceFacts]:
    child = ProcessTrace(
        2, 1, (), False, "CLONE_CHILD_SETTID|SIGCHLD", (("read", 1), ("accept4", 1), ("exit_group", 1))
    )
    trace = _trace(("/usr/sbin/nginx",), {"startup": {**SERVE, "clone": {"ok": 1}}}, children=(child,))
    return _static("/usr/sbin/nginx"), trace


def test_one_fork_is_one_blocker_with_all_its_evidence_and_a_remedy() -> None:
    static, trace = _forking_nginx()
    vs = _verdicts(static, trace)
    for target in ("unikraft", "nanos", "osv"):
        details = vs[target].details
        assert [b.need for b in details] == ["facility:process.fork"], details
        b = details[0]
        assert "syscall:clone" in b.items and "facility:process.fork" in b.items
        assert any("pid 2" in e and "did work" in e for e in b.evidence)
        assert "master_process off;" in b.remedy
        assert vs[target].blockers == (b.line(),)
    assert vs["microvm"].ok


def test_every_blocker_has_a_remedy() -> None:
    gone = "libgone.so (needed by /usr/sbin/app): not found"
    static = replace(_static(pie=False), missing_libraries=(gone,))
    trace = _trace(("/usr/sbin/app",), {"startup": {**SERVE, "mlockall": {"ok": 1}}})
    vs = _verdicts(static, trace)
    needs = {b.need: b.remedy for b in vs["unikraft"].details}
    assert needs["binary:pie"] == "rebuild as PIE: -fPIE -pie, or go build -buildmode=pie"
    assert "install the missing library" in needs["library:libgone.so"]
    assert "mlockall" in needs["syscall:mlockall"]
    assert all(b.remedy for v in vs.values() for b in v.details)


def test_missing_evidence_is_unknown_never_ok() -> None:
    vs = _verdicts(_static(), None)
    for target in ("unikraft", "nanos", "osv"):
        assert vs[target].status == "unknown" and not vs[target].ok
        assert "trace" in vs[target].undecided[0]
    assert vs["microvm"].status == "ok"  # Linux runs the x86-64 program: the ELF facts decide it
    _, none = pipeline.assess(StaticEvidence(argv=("/app",)), None, (), registry.convertible(), image=False)
    assert {v.status for v in none} == {"unknown"}
    assert all("no image" in v.undecided[0] for v in none)
    # a statically proven blocker still blocks without a trace
    vs2 = _verdicts(_static(pie=False), None)
    assert vs2["unikraft"].status == "blocked"


def test_probe_results_decide_stub_or_need() -> None:
    trace = _trace(("/usr/sbin/app",), {"startup": {**SERVE, "mlockall": {"ok": 1}, "getppid": {"ok": 1}}})
    probes = compat.probe_outcomes(
        needed=[Injection("mlockall", error="ENOSYS")],
        harmless=[Injection("getppid", error="ENOSYS")],
        untested=(),
    )
    assert probes["mlockall:error=ENOSYS"].result == "needed"
    probes["mlockall:error=ENOSYS"] = ProbeOutcome("mlockall:error=ENOSYS", "needed", "the app exited")
    vs = _verdicts(_static(), trace, probes)
    ok = _it(vs["nanos"], "syscall:getppid")
    assert ok.support == "stubbable" and ok.rule == "probe:stub-verified"
    assert "stub verified on this app (probes passed with getppid -> ENOSYS)" in ok.evidence
    bad = _it(vs["unikraft"], "syscall:mlockall")
    assert bad.support == "missing" and bad.rule == "probe:needed"
    assert any(e.startswith("needed: the probes failed when mlockall -> ENOSYS") for e in bad.evidence)


def test_probe_plan_leaves_out_shutdown_calls_the_process_model_and_imports() -> None:
    static, forked = _forking_nginx()
    trace = _trace(
        ("/usr/sbin/nginx",),
        {
            "startup": {**SERVE, "clone": {"ok": 1}, "mlockall": {"ok": 1}},
            "shutdown": {"tgkill": {"ok": 1}},
        },
        files=(
            FileAccess("/sys/devices/system/cpu/online", "open", True, phase="startup"),
            FileAccess("/proc/self/maps", "open", True, phase="startup"),
        ),
        children=forked.processes[1:],
    )
    vs = _verdicts(static, trace)
    plan = {i.key for i in compat.probe_plan([vs["unikraft"], vs["nanos"], vs["osv"]], trace)}
    assert "mlockall:error=ENOSYS" in plan
    assert "path:/sys/devices/system/cpu/online" in plan
    assert not {"clone:error=ENOSYS", "tgkill:error=ENOSYS", "path:/proc/self/maps"} & plan


def test_a_boot_that_answered_is_ok_verified_and_a_failed_ok_is_a_model_error() -> None:
    static, trace = _forking_nginx()
    vs = _verdicts(static, trace)
    booted = compat.apply_boots(
        vs.values(),
        {"nanos": {"status": "answered"}, "microvm": {"status": "failed", "detail": "no HTTP answer"}},
    )
    by = {v.target: v for v in booted}
    assert by["nanos"].label == "ok (verified)" and "facility:process.fork" in by["nanos"].model_error
    assert by["microvm"].status == "blocked" and by["microvm"].model_error.startswith("the model said ok")
    assert by["microvm"].details[-1].need == "boot:failed"
    assert by["unikraft"] == vs["unikraft"]  # no boot: the model's verdict stands


def test_rt_sigreturn_while_serving_follows_signal_delivery() -> None:
    # Go's runtime takes signals while it serves (preemption); the handler's return is rt_sigreturn
    trace = _trace(("/usr/local/bin/server",), {"startup": SERVE, "serving": {"rt_sigreturn": {"ok": 3}}})
    vs = _verdicts(_static("/usr/local/bin/server", glibc=False), trace)
    for target in ("unikraft", "osv"):  # signal delivery is partial there, the table lacks the call
        item = _it(vs[target], "syscall:rt_sigreturn")
        assert item.support == "stubbable" and item.rule == "follows:process.signals:partial", item
        assert vs[target].ok, vs[target].blockers


def test_an_app_that_did_not_keep_running_leaves_the_unikernels_unknown() -> None:
    died = replace(_trace(("/usr/sbin/app",), {"startup": SERVE}, app_ran=False), exit_status=1)
    vs = _verdicts(_static(), died)
    for target in ("unikraft", "nanos", "osv"):
        assert vs[target].status == "unknown" and not vs[target].ok
        assert "did not keep running" in vs[target].undecided[0]
    assert vs["microvm"].ok


def test_unikraft_blocks_an_app_that_asks_for_the_workdir_kraft_ignores() -> None:
    trace = _trace(("/usr/bin/python3",), {"startup": {**SERVE, "getcwd": {"ok": 1}}})
    vs = _verdicts(replace(_static("/usr/bin/python3"), workdir="/srv"), trace)
    assert [b.need for b in vs["unikraft"].details] == ["config:workdir"]
    assert vs["nanos"].ok and vs["osv"].ok  # their recipes set the working directory
    at_root = _verdicts(replace(_static("/usr/bin/python3"), workdir="/"), trace)
    assert at_root["unikraft"].ok
