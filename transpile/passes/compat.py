"""Per-target verdicts: for every syscall and facility in the graph, is it supported, faked, safe to stub,
or missing and needed on a target with the given capabilities?

Pure: reads the facility graph, the static evidence, the trace and the static findings (AssessFacts) and
a target's Capabilities; returns items and TargetVerdicts. Targets build their assessment from these
helpers and add their own rules (transpile/targets/). The classification (docs/verdicts.md) is
deliberately conservative and every item says which rule decided it and on which evidence it rests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from transpile import data
from transpile.model.conversion import AttackSurface
from transpile.model.image import is_root_user, is_shell
from transpile.model.target import Capabilities, Target
from transpile.model.trace import TraceFacts
from transpile.model.verdict import AssessFacts, ItemVerdict, Support, TargetVerdict
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


def _syscall_items(
    ctx: AssessFacts, caps: Capabilities, depends: dict[str, tuple[str, ...]]
) -> list[ItemVerdict]:
    target = caps.name
    items: list[ItemVerdict] = []
    table = caps.syscalls
    stubs = data.safe_stubs()
    for name, evidence_kind in sorted(gr.needed(ctx.graph, "syscall").items()):
        ev = _evidence(ctx, "syscall", name)
        support = table.support(name)
        facility = fac.facility_of_syscall(name) or ""
        if support == "supported" and not (name in ("clone", "clone3") and "process.fork" in depends):
            items.append(ItemVerdict(f"syscall:{name}", "supported", ev, f"table:{target}"))
            continue
        if support == "faked":
            items.append(ItemVerdict(f"syscall:{name}", "faked", ev, f"table:{target}:fake"))
            continue
        if name in PROCESS_SYSCALLS or name in ("clone", "clone3"):
            dep = depends.get("process.exec" if name.startswith("exec") else "process.fork")
            if dep:
                rule = "process-model:clone-new-process" if name.startswith("clone") else "process-model"
                items.append(ItemVerdict(f"syscall:{name}", "missing", (*dep, *ev), rule))
                continue
            if support == "supported":  # clone for threads only
                items.append(ItemVerdict(f"syscall:{name}", "supported", ev, f"table:{target}"))
                continue
            if evidence_kind == "static" and ctx.traced:
                items.append(
                    ItemVerdict(f"syscall:{name}", "stubbable", ev, "process-model:imported-never-called")
                )
                continue
            if not ctx.traced:
                items.append(ItemVerdict(f"syscall:{name}", "stubbable", ev, "static-only:unverified"))
                continue
        if name in stubs:
            items.append(
                ItemVerdict(f"syscall:{name}", "stubbable", (*ev, stubs[name]), f"libc-fallback:{name}")
            )
            continue
        ok, rule = loupe_stubbable(name)
        if ok:
            items.append(ItemVerdict(f"syscall:{name}", "stubbable", ev, rule))
        elif evidence_kind == "static" and ctx.traced:
            # Imported but never called while traced: the code path exists, the workload did not take it.
            items.append(ItemVerdict(f"syscall:{name}", "stubbable", ev, f"imported-never-called;{rule}"))
        else:
            why = f"not in {target}'s table ({facility or 'no facility'})"
            items.append(ItemVerdict(f"syscall:{name}", "missing", (*ev, why), rule))
    return items


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
        elif status == "faked":
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
            if calls and only_syscalls and all(c.support in ("stubbable", "faked") for c in calls):
                items.append(ItemVerdict(f"facility:{name}", "stubbable", ev, "facility:all-calls-stubbable"))
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


def _blocker_line(it: ItemVerdict) -> str:
    detail = next((e for e in it.evidence if not e.startswith("evidence:")), "")
    return f"{it.item}: {detail} [{it.rule}]" if detail else f"{it.item} [{it.rule}]"


def _static_only(it: ItemVerdict) -> bool:
    """Known only from imported symbols or the image, never seen in the trace."""
    return bool(it.evidence) and it.evidence[0] == "evidence: static"


def finish(caps: Capabilities, items: Iterable[ItemVerdict], traced: bool) -> TargetVerdict:
    ordered = sorted(items, key=lambda it: it.item)
    missing = [it for it in ordered if it.support == "missing"]
    counted = [it for it in ordered if not (traced and _static_only(it))]
    stubbed = sum(1 for it in counted if it.support == "stubbable")
    faked = sum(1 for it in counted if it.support == "faked")
    ok = not missing
    score = 0.0
    if ok:
        score = 1000.0 - STUB_WEIGHT * stubbed - FAKE_WEIGHT * faked
        score -= FOOTPRINT_WEIGHT * caps.footprint_rank
    return TargetVerdict(
        target=caps.name,
        ok=ok,
        items=tuple(ordered),
        blockers=tuple(_blocker_line(it) for it in missing),
        score=score,
    )


def verdicts(facts: AssessFacts, targets: Iterable[Target]) -> tuple[TargetVerdict, ...]:
    """One TargetVerdict per target, in the order given."""
    return tuple(finish(t.capabilities, t.assess(facts), facts.traced) for t in targets)


def rank(verdicts_: Iterable[TargetVerdict]) -> tuple[TargetVerdict, ...]:
    """The targets whose verdict is ok, best first (higher score; ties by name for determinism)."""
    return tuple(sorted((v for v in verdicts_ if v.ok), key=lambda v: (-v.score, v.target)))


def attack_surface(trace: TraceFacts | None) -> AttackSurface:
    """Syscalls the app needs vs what Docker's default seccomp profile allows unconditionally."""
    default = data.docker_default()
    if trace is None:
        return AttackSurface(0, len(default.allowed), 0)
    names = trace.syscall_names
    return AttackSurface(len(names), len(default.allowed), len(names - default.allowed))
