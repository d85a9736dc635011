"""Per-target verdicts: for every syscall and facility in the graph, is it supported, faked, safe to stub,
or missing and needed on a target with the given capabilities?

Pure: reads the facility graph, the static evidence, the trace and the static findings (AssessFacts) and
a target's Capabilities; returns items and TargetVerdicts. Targets build their assessment from these
helpers and add their own rules (transpile/targets/). The classification (docs/verdicts.md) is
deliberately conservative and every item says which rule decided it and on which evidence it rests.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from transpile import data
from transpile.model.conversion import AttackSurface
from transpile.model.image import is_root_user, is_shell
from transpile.model.target import Capabilities, Target
from transpile.model.trace import FileAccess, Injection, TraceFacts
from transpile.model.verdict import (
    AssessFacts,
    Blocker,
    Category,
    ItemVerdict,
    ProbeOutcome,
    Support,
    TargetVerdict,
)
from transpile.passes import facilities as fac
from transpile.passes import graph as gr

# Loupe rule: a call counts as "usually safe to stub" when at least LOUPE_MIN_USED of Loupe's 116 apps made
# it and at least LOUPE_MIN_FRACTION of those still passed their workload with it stubbed (ENOSYS) or
# faked (0). Below LOUPE_MIN_USED apps the data is too thin to generalise: the call counts as needed.
LOUPE_MIN_USED = 10
LOUPE_MIN_FRACTION = 0.5

# Process-model calls are never stubbable once the trace shows the app depending on them.
PROCESS_SYSCALLS = frozenset({"fork", "vfork", "execve", "execveat"})

# Ranking for `--target auto` (docs/verdicts.md): each stub the traced workload relies on is a risk
# (STUB_WEIGHT), each faked call a smaller one (FAKE_WEIGHT); what ships besides the app is a cost
# (FOOTPRINT_WEIGHT per step of the target's footprint rank, from its capability data).
# The rank is an ordering of size classes, not a measurement. With a trace, items known only from
# imported symbols (never called while traced) do not count: the workload did not need them.
STUB_WEIGHT = 10.0
FAKE_WEIGHT = 2.0
FOOTPRINT_WEIGHT = 25.0


def loupe_stubbable(syscall: str) -> tuple[bool, str]:
    """Loupe's verdict on SYSCALL: (stubbable?, rule text citing the counts)."""
    row = data.loupe().get(syscall)
    if row is None:
        return False, "loupe:no-data"
    if row.stub_ok >= row.fake_ok:
        best, how = row.stub_ok, "stub_ok"
    else:
        best, how = row.fake_ok, "fake_ok"
    rule = f"loupe:{how}={best}/{row.used}"
    ok = row.used >= LOUPE_MIN_USED and best >= LOUPE_MIN_FRACTION * row.used
    return ok, rule


def _evidence(ctx: AssessFacts, kind: str, name: str) -> tuple[str, ...]:
    nid = gr.node_id(kind, name)
    if nid not in ctx.graph:
        return ()
    ev = ctx.graph.nodes[nid].get("evidence", "static")
    lines = gr.sources_into(ctx.graph, nid)
    return (f"evidence: {ev}", *lines)


def _process_dependence(ctx: AssessFacts) -> dict[str, tuple[str, ...]]:
    """facility -> trace/static lines proving the app depends on it (fork, exec)."""
    out: dict[str, list[str]] = {}
    if ctx.trace is not None:
        for child in fac.working_children(ctx.trace):
            flags = child.clone_flags or "no CLONE_VM"
            out.setdefault("process.fork", []).append(
                f"trace: pid {child.pid} created by pid {child.parent} ({flags}) and did work"
            )
        for argv in fac.later_execs(ctx.trace):
            out.setdefault("process.exec", []).append(f"trace: execve {' '.join(argv)[:120]}")
    for step in ctx.static.chain:
        if step.kind == "script" and is_shell(step.interpreter):
            out.setdefault("process.exec", []).append(
                f"static: entrypoint {step.where} is a shell script ({step.interpreter}); "
                "it runs commands as new processes or execs its server"
            )
    return {k: tuple(v) for k, v in out.items()}


def program_name(ctx: AssessFacts) -> str:
    """The basename of the program the recipe runs (argv[0] as named, else the program ELF)."""
    argv = ctx.trace.argv if ctx.trace is not None and ctx.trace.argv else ctx.static.argv
    if argv:
        return posixpath.basename(argv[0])
    program = ctx.static.program
    return posixpath.basename(program.path) if program is not None else ""


def stub_key(syscall: str) -> str:
    return Injection(syscall, error="ENOSYS").key


def fake_key(syscall: str) -> str:
    return Injection(syscall, retval=0).key


def _outcome_text(results: Mapping[str, int]) -> str:
    return ", ".join(f"{k} x{v}" for k, v in sorted(results.items()))


def _trace_class(ctx: AssessFacts, name: str) -> tuple[Category, str, tuple[str, ...]] | None:
    """A traced call that is not a need: made only at shutdown, failed and survived, or a feature check."""
    trace = ctx.trace
    if trace is None or not trace.outcomes:
        return None
    if name in trace.shutdown_only:
        res = trace.results(("shutdown",)).get(name, {})
        return (
            "shutdown-only",
            "trace:shutdown-only",
            (f"trace: {sum(res.values())} call(s), all after dockuni's stop signal (the app's shutdown)",),
        )
    probe = data.feature_probes().get(name)
    if probe is not None:
        res = trace.results(("startup", "serving")).get(name, {})
        return (
            "feature-probe",
            f"feature-probe:{probe.kind}",
            (f"trace: {_outcome_text(res)}", f"{name} is a feature check: {probe.what} ({probe.source})"),
        )
    if name in trace.tolerated_failures:
        res = trace.results(("startup", "serving")).get(name, {})
        errs = "/".join(sorted(res))
        return (
            "tolerated-failure",
            f"trace:tolerated-failure:{errs}",
            (f"trace: every call failed ({_outcome_text(res)}) and the app served on",),
        )
    return None


def _probe_line(outcome: ProbeOutcome, what: str) -> str:
    if outcome.result == "harmless":
        return f"stub verified on this app (probes passed with {what})"
    if outcome.result == "needed":
        return f"needed: the probes failed when {what}" + (f" ({outcome.detail})" if outcome.detail else "")
    return f"not probed: the probe budget ran out before {what} was tried"


def _loupe_app_rule(ctx: AssessFacts, name: str) -> tuple[bool, str] | None:
    """Loupe's own record of this app, when Loupe measured it: (stubbable?, rule)."""
    app = data.loupe_app_for(program_name(ctx))
    if app is None:
        return None
    how = app.passes_without(name)
    if not how:
        return None
    words = {"f": "faked", "s": "stubbed", "b": "stubbed-or-faked"}
    if how == "-":
        return False, f"loupe-app:{app.name}/{app.workload}:needed"
    return True, f"loupe-app:{app.name}/{app.workload}:" + "+".join(words[c] for c in how)


def _syscall_items(
    ctx: AssessFacts, caps: Capabilities, depends: dict[str, tuple[str, ...]]
) -> list[ItemVerdict]:
    target = caps.name
    items: list[ItemVerdict] = []
    table = caps.syscalls
    stubs = data.safe_stubs()
    for name, evidence_kind in sorted(gr.needed(ctx.graph, "syscall").items()):
        ev = _evidence(ctx, "syscall", name)
        item = f"syscall:{name}"
        support = table.support(name)
        facility = fac.facility_of_syscall(name) or ""
        stub = ctx.probes.get(stub_key(name))
        fake = ctx.probes.get(fake_key(name))
        forked = name in ("clone", "clone3") and "process.fork" in depends
        klass = _trace_class(ctx, name) if not forked else None
        if support == "supported" and not forked:
            # a supported call keeps its class: the report lists shutdown-only calls as such
            cat: Category = klass[0] if klass else "need"
            items.append(ItemVerdict(item, "supported", ev, f"table:{target}", cat))
            continue
        if klass is not None and not (stub is not None and stub.result == "needed"):
            category, rule, lines = klass
            extra = (_probe_line(stub, f"{name} -> ENOSYS"),) if stub is not None else ()
            kept: Support = "faked" if support == "faked" else "stubbable"
            items.append(ItemVerdict(item, kept, (*ev, *lines, *extra), rule, category))
            continue
        if support == "faked":
            if fake is not None and fake.result == "needed":
                line = _probe_line(fake, f"{name} returned 0 without running")
                items.append(ItemVerdict(item, "missing", (*ev, line), "probe:needed"))
            else:
                extra = (_probe_line(fake, f"{name} -> 0"),) if fake is not None else ()
                items.append(ItemVerdict(item, "faked", (*ev, *extra), f"table:{target}:fake"))
            continue
        if name in PROCESS_SYSCALLS or name in ("clone", "clone3"):
            dep = depends.get("process.exec" if name.startswith("exec") else "process.fork")
            if dep:
                rule = "process-model:clone-new-process" if name.startswith("clone") else "process-model"
                items.append(ItemVerdict(item, "missing", (*dep, *ev), rule))
                continue
            if support == "supported":  # clone for threads only
                items.append(ItemVerdict(item, "supported", ev, f"table:{target}"))
                continue
            if evidence_kind == "static" and ctx.traced:
                items.append(ItemVerdict(item, "stubbable", ev, "process-model:imported-never-called"))
                continue
            if not ctx.traced:
                items.append(ItemVerdict(item, "stubbable", ev, "static-only:unverified"))
                continue
        follow = data.follow_facility().get(name)
        if follow is not None and facility:
            status = caps.facility(facility)
            if status in ("supported", "faked", "partial"):
                rule = f"follows:{facility}:{status}"
                items.append(ItemVerdict(item, "stubbable", (*ev, follow), rule))
                continue
        if stub is not None and stub.result != "untested":
            line = _probe_line(stub, f"{name} -> ENOSYS")
            if stub.result == "harmless":
                items.append(ItemVerdict(item, "stubbable", (*ev, line), "probe:stub-verified"))
            else:
                items.append(ItemVerdict(item, "missing", (*ev, line), "probe:needed"))
            continue
        if name in stubs:
            items.append(ItemVerdict(item, "stubbable", (*ev, stubs[name]), f"libc-fallback:{name}"))
            continue
        ok, rule = loupe_stubbable(name)
        if evidence_kind == "static" and ctx.traced:
            # Imported but never called while traced: the code path exists, the workload did not take it.
            items.append(ItemVerdict(item, "stubbable", ev, f"imported-never-called;{rule}"))
            continue
        own = _loupe_app_rule(ctx, name)
        if own is not None:  # Loupe measured this very app: its record wins over the pooled counts
            ok, rule = own
        if ok:
            items.append(ItemVerdict(item, "stubbable", ev, rule))
        else:
            why = f"not in {target}'s table ({facility or 'no facility'})"
            items.append(ItemVerdict(item, "missing", (*ev, why), rule))
    return items


def _facility_files(ctx: AssessFacts, name: str) -> tuple[FileAccess, ...]:
    """The traced file accesses that make the app rely on facility NAME."""
    if ctx.trace is None:
        return ()
    return tuple(
        f for f in ctx.trace.files if f.found and name in fac.facilities_for_file(f.path, f.write)
    )


_SHUTDOWN_FILES = ("trace: used only after the stop signal",)


# Paths the sandbox cannot hide (docs/trace.md): a process's own /proc entries and the top of /proc, /sys.
def hideable(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 and parts[:1] in (["proc"], ["sys"]):
        return False
    if parts[:1] == ["proc"] and (parts[1] == "self" or parts[1].isdigit() or parts[1] == "thread-self"):
        return False
    return bool(parts)


def _file_class(
    ctx: AssessFacts, name: str
) -> tuple[Category | None, Support | None, str, tuple[str, ...]] | None:
    """A file-backed facility judged from its accesses: shutdown-only, failed, or probed by absence."""
    accesses = _facility_files(ctx, name)
    if not accesses or ctx.trace is None:
        return None
    live = [f for f in accesses if f.phase in ("startup", "serving", "")]
    if not live:
        return "shutdown-only", "stubbable", "trace:shutdown-only", _SHUTDOWN_FILES
    if all(f.error for f in live) and ctx.trace.app_ran:
        errs = "/".join(sorted({f.error for f in live}))
        return (
            "tolerated-failure",
            "stubbable",
            f"trace:tolerated-failure:{errs}",
            (f"trace: every access failed ({errs}) and the app served on",),
        )
    used = [f for f in live if not f.error]
    if not all(hideable(f.path) for f in used):
        return None  # a path the sandbox cannot hide: the probes cannot decide
    keys = list(dict.fromkeys(Injection(path=f.path).key for f in used))
    outcomes = [ctx.probes[k] for k in keys if k in ctx.probes]
    if not outcomes or len(outcomes) < len(keys) or any(o.result == "untested" for o in outcomes):
        return None
    needed = [o for o in outcomes if o.result == "needed"]
    if needed:
        lines = tuple(_probe_line(o, f"{o.key.removeprefix('path:')} was absent") for o in needed)
        return None, "missing", "probe:needed", lines
    paths = ", ".join(o.key.removeprefix("path:") for o in outcomes[:6])
    more = f" and {len(outcomes) - 6} more" if len(outcomes) > 6 else ""
    line = f"stub verified on this app (probes passed with {paths}{more} absent)"
    return None, "stubbable", "probe:absence-verified", (line,)


def _facility_items(
    ctx: AssessFacts,
    caps: Capabilities,
    depends: dict[str, tuple[str, ...]],
    syscall_items: Sequence[ItemVerdict],
) -> list[ItemVerdict]:
    target = caps.name
    by_syscall = {it.item.split(":", 1)[1]: it for it in syscall_items}
    facilities = data.facilities()
    items: list[ItemVerdict] = []
    for name, evidence_kind in sorted(gr.needed(ctx.graph, "facility").items()):
        ev = _evidence(ctx, "facility", name)
        entry = facilities.get(name)
        status = caps.facility(name)
        note = (entry.note if entry else "") or ""
        extra = (note,) if note else ()
        if name in depends:
            if status == "supported":
                items.append(ItemVerdict(f"facility:{name}", "supported", ev, f"facility:{target}"))
            else:
                items.append(
                    ItemVerdict(f"facility:{name}", "missing", (*depends[name], *ev), "process-model")
                )
            continue
        if status == "supported":
            items.append(ItemVerdict(f"facility:{name}", "supported", ev, f"facility:{target}"))
            continue
        files = _file_class(ctx, name) if status in ("missing", "partial") else None
        if files is not None:
            file_cat, file_support, rule, lines = files
            items.append(
                ItemVerdict(
                    f"facility:{name}", file_support or "stubbable", (*ev, *lines), rule, file_cat or "need"
                )
            )
            continue
        if status == "faked":
            items.append(ItemVerdict(f"facility:{name}", "faked", (*ev, *extra), f"facility:{target}:fake"))
        elif status == "partial":
            items.append(
                ItemVerdict(f"facility:{name}", "stubbable", (*ev, *extra), f"facility:{target}:partial")
            )
        elif name == "fs.stdio_symlink":
            items.append(
                ItemVerdict(f"facility:{name}", "stubbable", (*ev, *extra), f"recipe-rewrite:{target}")
            )
        elif name in data.safe_facility_stubs():
            fallback = data.safe_facility_stubs()[name]
            items.append(
                ItemVerdict(f"facility:{name}", "stubbable", (*ev, fallback), f"libc-fallback:{name}")
            )
        elif name in ("process.fork", "process.exec"):
            # No dependence shown: a forked child that only exited, or an import never called.
            rule = "process-model:no-dependence-traced" if ctx.traced else "static-only:unverified"
            items.append(ItemVerdict(f"facility:{name}", "stubbable", ev, rule))
        else:
            # A missing facility is only as needed as its calls: stubbable when every call of it is.
            calls = [by_syscall[s] for s in (entry.syscalls if entry else ()) if s in by_syscall]
            nid = gr.node_id("facility", name)
            only_syscalls = all(ctx.graph.nodes[p]["kind"] == "syscall" for p in ctx.graph.predecessors(nid))
            cats = {c.category for c in calls}
            if calls and only_syscalls and all(c.support in ("stubbable", "faked") for c in calls):
                # every call is a shutdown call (or a tolerated failure): so is the facility
                category: Category = cats.pop() if len(cats) == 1 else "need"
                items.append(
                    ItemVerdict(f"facility:{name}", "stubbable", ev, "facility:all-calls-stubbable", category)
                )
            elif evidence_kind == "static" and ctx.traced:
                items.append(ItemVerdict(f"facility:{name}", "stubbable", ev, "imported-never-called"))
            else:
                items.append(ItemVerdict(f"facility:{name}", "missing", (*ev, *extra), f"facility:{target}"))
    return items


def _binary_items(ctx: AssessFacts, caps: Capabilities) -> list[ItemVerdict]:
    items: list[ItemVerdict] = []
    static = ctx.static
    if static.architecture not in ("amd64", "x86_64", ""):
        items.append(
            ItemVerdict(
                "binary:architecture",
                "missing",
                (f"image architecture {static.architecture}",),
                "arch:x86_64-only",
            )
        )
    for obj in static.objects:
        if obj.machine not in ("x86_64", "EM_X86_64", ""):
            items.append(
                ItemVerdict(
                    f"binary:{obj.path}",
                    "missing",
                    (f"ELF {obj.path} machine {obj.machine}",),
                    "arch:x86_64-only",
                )
            )
    # the loader refuses to start a program whose DT_NEEDED closure is incomplete, on every target
    for lib in static.missing_libraries:
        items.append(ItemVerdict(f"library:{lib.split(' ', 1)[0]}", "missing", (lib,), "loader:DT_NEEDED"))
    for step in static.chain:
        if step.kind in ("missing", "not-executable"):
            items.append(
                ItemVerdict(
                    f"entrypoint:{step.where}",
                    "missing",
                    (f"entrypoint step {step.where}: {step.kind}",),
                    "entrypoint",
                )
            )
    if caps.single_user and not is_root_user(static.user):
        where = static.user_span or "image config"
        items.append(
            ItemVerdict(
                "config:user", "faked", (f"{where}: USER {static.user}",), f"identity:{caps.name}:single-user"
            )
        )
    return items


def _finding_items(ctx: AssessFacts, caps: Capabilities) -> list[ItemVerdict]:
    """Static findings of severity error decide only without a trace; a trace supersedes them."""
    items: list[ItemVerdict] = []
    for f in ctx.findings:
        if f.severity != "error" or not caps.affected_by(f.need):
            continue
        where = f"{f.span.file}:{f.span.line}:{f.span.column}" if f.span else "image"
        ev = (f"{where}: {f.message}", *((f.evidence,) if f.evidence else ()))
        support: Support = "stubbable" if ctx.traced else "missing"
        rule = f"{f.rule}" if not ctx.traced else f"{f.rule}:superseded-by-trace"
        items.append(ItemVerdict(f"finding:{f.rule}@{where}", support, ev, rule))
    return items


def linux_items(ctx: AssessFacts, caps: Capabilities) -> tuple[ItemVerdict, ...]:
    """A Linux kernel has every syscall and facility; what can still block is the binary and the image."""
    items: list[ItemVerdict] = []
    kconfig = data.facility_kconfig()
    for name in sorted(gr.needed(ctx.graph, "syscall")):
        items.append(ItemVerdict(f"syscall:{name}", "supported", _evidence(ctx, "syscall", name), "linux"))
    for name in sorted(gr.needed(ctx.graph, "facility")):
        opts = kconfig.get(name, ())
        rule = "linux:" + ",".join(opts) if opts else "linux:base-config"
        items.append(ItemVerdict(f"facility:{name}", "supported", _evidence(ctx, "facility", name), rule))
    items.extend(_binary_items(ctx, caps))
    return tuple(items)


def unikernel_items(ctx: AssessFacts, caps: Capabilities) -> tuple[ItemVerdict, ...]:
    """Every syscall, facility, binary property and static finding, judged against CAPS."""
    depends = _process_dependence(ctx)
    sys_items = _syscall_items(ctx, caps, depends)
    return (
        *sys_items,
        *_facility_items(ctx, caps, depends, sys_items),
        *_binary_items(ctx, caps),
        *_finding_items(ctx, caps),
    )


def _static_only(it: ItemVerdict) -> bool:
    """Known only from imported symbols or the image, never seen in the trace."""
    return bool(it.evidence) and it.evidence[0] == "evidence: static"


def _need_of(it: ItemVerdict, grouped: set[str]) -> str:
    """The one need a missing item stands for: a fork is process.fork, not four blockers; calls of one
    facility (getuid and geteuid) are that facility."""
    kind, _, name = it.item.partition(":")
    if kind == "syscall":
        if it.rule.startswith("process-model"):
            return "facility:process.exec" if name.startswith("exec") else "facility:process.fork"
        facility = fac.facility_of_syscall(name)
        if facility and facility in grouped:
            return f"facility:{facility}"
    return it.item


def _grouped_facilities(missing: Sequence[ItemVerdict]) -> set[str]:
    """Facilities that are missing themselves, or that two or more missing calls belong to."""
    out = {it.item.split(":", 1)[1] for it in missing if it.item.startswith("facility:")}
    seen: dict[str, int] = {}
    for it in missing:
        if it.item.startswith("syscall:") and not it.rule.startswith("process-model"):
            facility = fac.facility_of_syscall(it.item.split(":", 1)[1])
            if facility:
                seen[facility] = seen.get(facility, 0) + 1
    return out | {f for f, n in seen.items() if n > 1}


def blockers(items: Sequence[ItemVerdict], program: str = "") -> tuple[Blocker, ...]:
    """The missing needs among ITEMS, one Blocker per need with all its evidence and a remedy."""
    missing = [it for it in items if it.support == "missing" and it.category == "need"]
    grouped = _grouped_facilities(missing)
    groups: dict[str, list[ItemVerdict]] = {}
    for it in missing:
        groups.setdefault(_need_of(it, grouped), []).append(it)
    remedies = data.remedies()
    out: list[Blocker] = []
    for need, members in groups.items():
        head = next((m for m in members if m.item == need), members[0])
        evidence = tuple(dict.fromkeys(e for m in (head, *members) for e in m.evidence))
        remedy = head.remedy or remedies.for_item(need, program)
        if need == "facility:process.exec" and any("is a shell script" in e for e in evidence):
            remedy = remedies.for_item("entrypoint:script")
        elif any("returned 0 without running" in e for e in evidence) and not remedies.specific(
            need, program
        ):
            remedy = remedies.for_item("fake:" + need.split(":", 1)[1])
        out.append(Blocker(need, head.rule, evidence, remedy, tuple(m.item for m in members)))
    # what no stub can change first: the process model, then the binary and the image, then the rest
    return tuple(sorted(out, key=_blocker_order))


def _blocker_order(b: Blocker) -> int:
    if b.rule.startswith("process-model"):
        return 0
    if not b.need.startswith(("syscall:", "facility:")):
        return 1
    return 2


def probing_can_change(v: TargetVerdict) -> bool:
    """Whether fault injection could turn V into ok: no blocker is one that no stub can change (the
    process model, the binary, the image, a static finding)."""
    return all(_blocker_order(b) == 2 for b in v.details)


def undecided(
    caps: Capabilities, traced: bool, image: bool, trace: TraceFacts | None = None
) -> tuple[str, ...]:
    """What evidence a verdict lacks, and what would decide it (empty when nothing is missing)."""
    if not image:
        return (
            "no image: nothing is known of the program but the Dockerfile; building or naming the image "
            "(with the Docker engine running) decides it",
        )
    if caps.kind == "unikernel" and not traced:
        return (
            "no trace: the calls the app makes while it starts and serves are unknown; a sandboxed trace "
            "(the Docker engine running, without --no-trace) decides it",
        )
    if caps.kind == "unikernel" and trace is not None and not trace.app_ran:
        status = f" with status {trace.exit_status}" if trace.exit_status is not None else ""
        how = trace.exit_reason + status
        return (
            f"the app did not keep running in the sandbox ({how}): the trace shows its start-up, not what "
            "it needs while serving; a run in which it serves (see the trace's stderr) decides it",
        )
    return ()


def finish(
    caps: Capabilities,
    items: Iterable[ItemVerdict],
    traced: bool,
    *,
    image: bool = True,
    program: str = "",
    trace: TraceFacts | None = None,
) -> TargetVerdict:
    ordered = sorted(items, key=lambda it: it.item)
    details = blockers(ordered, program)
    counted = [it for it in ordered if it.category == "need" and not (traced and _static_only(it))]
    stubbed = sum(1 for it in counted if it.support == "stubbable")
    faked = sum(1 for it in counted if it.support == "faked")
    missing_evidence = undecided(caps, traced, image, trace)
    status = "blocked" if details else ("unknown" if missing_evidence else "ok")
    score = 0.0
    if status == "ok":
        score = 1000.0 - STUB_WEIGHT * stubbed - FAKE_WEIGHT * faked
        score -= FOOTPRINT_WEIGHT * caps.footprint_rank
    return TargetVerdict(
        target=caps.name,
        ok=status == "ok",
        items=tuple(ordered),
        blockers=tuple(b.line() for b in details),
        score=score,
        status=status,  # type: ignore[arg-type]
        details=details,
        undecided=missing_evidence if status == "unknown" else (),
    )


def verdicts(facts: AssessFacts, targets: Iterable[Target]) -> tuple[TargetVerdict, ...]:
    """One TargetVerdict per target, in the order given."""
    program = program_name(facts)
    return tuple(
        finish(
            t.capabilities,
            t.assess(facts),
            facts.traced,
            image=facts.image,
            program=program,
            trace=facts.trace,
        )
        for t in targets
    )


def rank(verdicts_: Iterable[TargetVerdict]) -> tuple[TargetVerdict, ...]:
    """The targets whose verdict is ok, best first (higher score; ties by name for determinism)."""
    return tuple(sorted((v for v in verdicts_ if v.ok), key=lambda v: (-v.score, v.target)))


# --- active probing (Loupe's method): which items to try, per app --------------------------------------

# Never injected: the process model is decided by the trace (and execve starts the app), and the calls
# every process makes to exist at all.
_NOT_PROBED = frozenset({*PROCESS_SYSCALLS, "clone", "clone3", "exit", "exit_group", "rt_sigreturn"})
MAX_PATHS_PER_FACILITY = 16


def probe_plan(verdicts_: Iterable[TargetVerdict], trace: TraceFacts | None) -> tuple[Injection, ...]:
    """The injections that would decide or confirm the unikernel verdicts: every traced call a target
    lacks (stubbed with ENOSYS) or fakes (returns 0), and every file behind a facility a target lacks
    (made absent). Items known only statically, shutdown-only calls and the process model are left out."""
    if trace is None:
        return ()
    stubs: dict[str, Injection] = {}
    fakes: dict[str, Injection] = {}
    paths: dict[str, Injection] = {}
    needed = trace.needed_syscalls if trace.outcomes else trace.syscall_names
    for v in verdicts_:
        for it in v.items:
            kind, _, name = it.item.partition(":")
            if _static_only(it) or it.category == "shutdown-only" or it.support == "supported":
                continue
            if kind == "syscall" and name not in _NOT_PROBED and name in needed:
                if it.rule.startswith("table:") and it.support == "faked":
                    fakes.setdefault(name, Injection(name, retval=0))
                elif not it.rule.startswith("process-model"):
                    stubs.setdefault(name, Injection(name, error="ENOSYS"))
            elif kind == "facility" and it.support in ("missing", "stubbable") and it.category == "need":
                files = [
                    f.path
                    for f in trace.files
                    if f.found
                    and not f.error
                    and f.phase != "shutdown"
                    and name in fac.facilities_for_file(f.path, f.write)
                    and hideable(f.path)
                ]
                for path in list(dict.fromkeys(files))[:MAX_PATHS_PER_FACILITY]:
                    paths.setdefault(path, Injection(path=path))
    return (*stubs.values(), *fakes.values(), *paths.values())


def apply_boots(
    verdicts_: Iterable[TargetVerdict], boots: Mapping[str, Mapping[str, object]]
) -> tuple[TargetVerdict, ...]:
    """Boots as evidence: a recipe that booted and answered is "ok (verified)", whatever the model said; a
    model "ok" that failed to boot is a model error naming what to check in the data.

    BOOTS maps a target to {"status": "answered"|"failed"|"skipped", "detail": str}."""
    out: list[TargetVerdict] = []
    for v in verdicts_:
        boot = boots.get(v.target)
        status = str(boot.get("status", "")) if boot else ""
        detail = str(boot.get("detail", "")) if boot else ""
        if status == "answered":
            error = ""
            if v.status == "blocked":
                error = (
                    "the model said blocked but the recipe booted and answered: correct the data behind "
                    + "; ".join(f"{b.need} [{b.rule}]" for b in v.details)
                )
            out.append(
                replace(
                    v, ok=True, status="ok", verified="answered", model_error=error, blockers=(), details=()
                )
            )
        elif status == "failed":
            error = ""
            if v.status == "ok":
                suspects = [
                    it for it in v.items if it.category == "need" and it.support in ("stubbable", "faked")
                ]
                named = ", ".join(f"{it.item} [{it.rule}]" for it in suspects[:12]) or "the capability data"
                error = f"the model said ok but the boot failed ({detail}): check the data behind {named}"
            boot_blocker = Blocker(
                "boot:failed", "boot", (f"boot: {detail}" if detail else "boot: no answer",),
                data.remedies().for_item("boot"),
            )
            out.append(
                replace(
                    v,
                    ok=False,
                    status="blocked",
                    verified="failed",
                    model_error=error,
                    blockers=(*v.blockers, boot_blocker.line()),
                    details=(*v.details, boot_blocker),
                    score=0.0,
                )
            )
        else:
            out.append(v)
    return tuple(out)


def probe_outcomes(
    needed: Iterable[Injection],
    harmless: Iterable[Injection],
    untested: Iterable[Injection],
    detail: str = "",
) -> dict[str, ProbeOutcome]:
    """The per-injection outcomes of a bisection, by Injection.key."""
    out: dict[str, ProbeOutcome] = {}
    for inj in harmless:
        out[inj.key] = ProbeOutcome(inj.key, "harmless")
    for inj in untested:
        out[inj.key] = ProbeOutcome(inj.key, "untested")
    for inj in needed:
        out[inj.key] = ProbeOutcome(inj.key, "needed", detail)
    return out


def attack_surface(trace: TraceFacts | None) -> AttackSurface:
    """Syscalls the app needs vs what Docker's default seccomp profile allows unconditionally."""
    default = data.docker_default()
    if trace is None:
        return AttackSurface(0, len(default.allowed), 0)
    names = trace.syscall_names
    return AttackSurface(len(names), len(default.allowed), len(names - default.allowed))
