"""Per-target verdicts: for every syscall and facility in the graph, is it supported, faked, safe to stub,
or missing and needed on unikraft, nanos, osv and microvm?

Pure: reads the facility graph, the static evidence, the trace and the static findings; returns
TargetVerdicts. The classification (docs/verdicts.md) is deliberately conservative and every item says
which rule decided it and on which evidence it rests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from transpile import data
from transpile.ir import TARGETS, Finding
from transpile.passes import facilities as fac
from transpile.passes import graph as gr
from transpile.sandbox.facts import TraceFacts
from transpile.targets.base import ItemVerdict, Support, TargetVerdict

# Loupe rule: a call counts as "usually safe to stub" when at least LOUPE_MIN_USED of Loupe's 116 apps made
# it and at least LOUPE_MIN_FRACTION of those still passed their workload with it stubbed (ENOSYS) or
# faked (0). Below LOUPE_MIN_USED apps the data is too thin to generalise: the call counts as needed.
LOUPE_MIN_USED = 10
LOUPE_MIN_FRACTION = 0.5

# Process-model calls are never stubbable once the trace shows the app depending on them.
PROCESS_SYSCALLS = frozenset({"fork", "vfork", "execve", "execveat"})

# Ranking for `--target auto` (docs/verdicts.md): each stub the traced workload relies on is a risk
# (STUB_WEIGHT), each faked call a smaller one (FAKE_WEIGHT); what ships besides the app is a cost
# (FOOTPRINT_WEIGHT per step of FOOTPRINT_RANK: Unikraft links only the libraries the app needs; Nanos
# and OSv are general kernels, OSv with its own libc and linker; the microvm carries a Linux kernel).
# The rank is an ordering of size classes, not a measurement. With a trace, items known only from
# imported symbols (never called while traced) do not count: the workload did not need them.
FOOTPRINT_RANK = {"unikraft": 0, "nanos": 1, "osv": 2, "microvm": 3}
STUB_WEIGHT = 10.0
FAKE_WEIGHT = 2.0
FOOTPRINT_WEIGHT = 25.0


@dataclass(frozen=True)
class _Context:
    graph: nx.DiGraph
    static: fac.StaticEvidence
    trace: TraceFacts | None
    findings: tuple[Finding, ...]

    @property
    def traced(self) -> bool:
        return self.trace is not None


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


def _evidence(ctx: _Context, kind: str, name: str) -> tuple[str, ...]:
    nid = gr.node_id(kind, name)
    if nid not in ctx.graph:
        return ()
    ev = ctx.graph.nodes[nid].get("evidence", "static")
    lines = gr.sources_into(ctx.graph, nid)
    return (f"evidence: {ev}", *lines)


def _process_dependence(ctx: _Context) -> dict[str, tuple[str, ...]]:
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
        if step.kind == "script" and fac.is_shell(step.interpreter):
            out.setdefault("process.exec", []).append(
                f"static: entrypoint {step.path} is a shell script ({step.interpreter}); "
                "it runs commands as new processes or execs its server"
            )
    return {k: tuple(v) for k, v in out.items()}


def _syscall_items(ctx: _Context, target: str, depends: dict[str, tuple[str, ...]]) -> list[ItemVerdict]:
    items: list[ItemVerdict] = []
    table = data.syscall_table(target)
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
    ctx: _Context, target: str, depends: dict[str, tuple[str, ...]], syscall_items: Sequence[ItemVerdict]
) -> list[ItemVerdict]:
    by_syscall = {it.item.split(":", 1)[1]: it for it in syscall_items}
    facilities = data.facilities()
    items: list[ItemVerdict] = []
    for name, evidence_kind in sorted(gr.needed(ctx.graph, "facility").items()):
        ev = _evidence(ctx, "facility", name)
        entry = facilities.get(name)
        status = entry.support(target) if entry else "missing"
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


def _binary_items(ctx: _Context, target: str) -> list[ItemVerdict]:
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
    program = static.program
    if target == "unikraft" and program is not None and program.pie is False:
        how = "static " if program.static else ""
        items.append(
            ItemVerdict(
                "binary:pie",
                "missing",
                (f"ELF {program.path} is {how}ET_EXEC (not PIE)",),
                "unikraft:app-elfloader-needs-PIE",
            )
        )
    # the loader refuses to start a program whose DT_NEEDED closure is incomplete, on every target
    for lib in static.missing_libraries:
        items.append(ItemVerdict(f"library:{lib.split(' ', 1)[0]}", "missing", (lib,), "loader:DT_NEEDED"))
    for step in static.chain:
        if step.kind in ("missing", "not-executable"):
            items.append(
                ItemVerdict(
                    f"entrypoint:{step.path}",
                    "missing",
                    (f"entrypoint step {step.path}: {step.kind}",),
                    "entrypoint",
                )
            )
    if static.user and static.user not in ("0", "root", "0:0", "root:root") and target != "microvm":
        where = static.user_span or "image config"
        items.append(
            ItemVerdict(
                "config:user", "faked", (f"{where}: USER {static.user}",), f"identity:{target}:single-user"
            )
        )
    return items


def _finding_items(ctx: _Context, target: str) -> list[ItemVerdict]:
    """Static findings of severity error for TARGET decide only without a trace; a trace supersedes them."""
    items: list[ItemVerdict] = []
    for f in ctx.findings:
        if target not in f.targets or f.severity != "error":
            continue
        where = f"{f.span.file}:{f.span.line}:{f.span.column}" if f.span else "image"
        ev = (f"{where}: {f.message}", *((f.evidence,) if f.evidence else ()))
        support: Support = "stubbable" if ctx.traced else "missing"
        rule = f"{f.rule}" if not ctx.traced else f"{f.rule}:superseded-by-trace"
        items.append(ItemVerdict(f"finding:{f.rule}@{where}", support, ev, rule))
    return items


def _microvm(ctx: _Context) -> TargetVerdict:
    items: list[ItemVerdict] = []
    kconfig = data.facility_kconfig()
    for name in sorted(gr.needed(ctx.graph, "syscall")):
        items.append(ItemVerdict(f"syscall:{name}", "supported", _evidence(ctx, "syscall", name), "linux"))
    for name in sorted(gr.needed(ctx.graph, "facility")):
        opts = kconfig.get(name, ())
        rule = "linux:" + ",".join(opts) if opts else "linux:base-config"
        items.append(ItemVerdict(f"facility:{name}", "supported", _evidence(ctx, "facility", name), rule))
    items.extend(_binary_items(ctx, "microvm"))
    return _finish("microvm", items, ctx.traced)


def _blocker_line(it: ItemVerdict) -> str:
    detail = next((e for e in it.evidence if not e.startswith("evidence:")), "")
    return f"{it.item}: {detail} [{it.rule}]" if detail else f"{it.item} [{it.rule}]"


def _static_only(it: ItemVerdict) -> bool:
    """Known only from imported symbols or the image, never seen in the trace."""
    return bool(it.evidence) and it.evidence[0] == "evidence: static"


def _finish(target: str, items: list[ItemVerdict], traced: bool) -> TargetVerdict:
    items.sort(key=lambda it: it.item)
    missing = [it for it in items if it.support == "missing"]
    counted = [it for it in items if not (traced and _static_only(it))]
    stubbed = sum(1 for it in counted if it.support == "stubbable")
    faked = sum(1 for it in counted if it.support == "faked")
    ok = not missing
    score = 0.0
    if ok:
        score = 1000.0 - STUB_WEIGHT * stubbed - FAKE_WEIGHT * faked
        score -= FOOTPRINT_WEIGHT * FOOTPRINT_RANK.get(target, len(FOOTPRINT_RANK))
    return TargetVerdict(
        target=target,
        ok=ok,
        items=tuple(items),
        blockers=tuple(_blocker_line(it) for it in missing),
        score=score,
    )


def verdicts(
    graph: nx.DiGraph,
    static: fac.StaticEvidence,
    trace: TraceFacts | None,
    findings: Iterable[Finding] = (),
    targets: Iterable[str] = TARGETS,
) -> tuple[TargetVerdict, ...]:
    """One TargetVerdict per requested target, in TARGETS order."""
    ctx = _Context(graph, static, trace, tuple(findings))
    wanted = set(targets)
    depends = _process_dependence(ctx)
    out: list[TargetVerdict] = []
    for target in TARGETS:
        if target not in wanted:
            continue
        if target == "microvm":
            out.append(_microvm(ctx))
            continue
        sys_items = _syscall_items(ctx, target, depends)
        items = [
            *sys_items,
            *_facility_items(ctx, target, depends, sys_items),
            *_binary_items(ctx, target),
            *_finding_items(ctx, target),
        ]
        out.append(_finish(target, items, ctx.traced))
    return tuple(out)


def rank(verdicts_: Iterable[TargetVerdict]) -> tuple[TargetVerdict, ...]:
    """The targets whose verdict is ok, best first (higher score; ties by name for determinism)."""
    return tuple(sorted((v for v in verdicts_ if v.ok), key=lambda v: (-v.score, v.target)))


def attack_surface(trace: TraceFacts | None) -> dict[str, int]:
    """Syscalls the app needs vs what Docker's default seccomp profile allows unconditionally."""
    default = data.docker_default()
    if trace is None:
        return {"needed": 0, "docker_default": len(default.allowed), "needed_outside_default": 0}
    names = trace.syscall_names
    return {
        "needed": len(names),
        "docker_default": len(default.allowed),
        "needed_outside_default": len(names - default.allowed),
    }
