"""The facility graph: what the program needs, from its entrypoint down to the components that provide it.

A networkx DiGraph whose edges mean "needs":

    program -> elf -> library -> syscall -> facility -> component (per target)
    program -> syscall / file / facility   (trace)

Node attributes: ``kind`` (program/elf/library/syscall/file/facility/component), ``label``, ``target`` for
components, ``evidence`` for syscalls/files/facilities. Every edge has ``evidence`` in
{"static", "trace", "both"} and ``sources`` (human-readable lines), so static and traced knowledge stay
distinguishable everywhere. Pure: no I/O; drawing it is transpile/graphview.py's (pydot is not a
dependency), the SVG is rendered by the caller with graphviz.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import networkx as nx

from transpile.model.image import is_shell
from transpile.model.static import StaticEvidence
from transpile.model.target import Capabilities
from transpile.model.trace import TraceFacts
from transpile.passes import facilities as fac

MAX_SOURCES = 8  # per edge: enough to explain, bounded so huge traces stay readable


def node_id(kind: str, name: str, target: str = "") -> str:
    return f"{kind}:{target}:{name}" if target else f"{kind}:{name}"


def _merge(a: str, b: str) -> str:
    return a if a == b else "both"


def _add_node(g: nx.DiGraph, nid: str, kind: str, label: str, **attrs: Any) -> None:
    if nid not in g:
        g.add_node(nid, kind=kind, label=label, **attrs)
    else:
        for key, value in attrs.items():
            g.nodes[nid].setdefault(key, value)


def _add_edge(g: nx.DiGraph, src: str, dst: str, evidence: str, source: str) -> None:
    if g.has_edge(src, dst):
        attrs = g.edges[src, dst]
        attrs["evidence"] = _merge(attrs["evidence"], evidence)
        if source not in attrs["sources"] and len(attrs["sources"]) < MAX_SOURCES:
            attrs["sources"] = (*attrs["sources"], source)
    else:
        g.add_edge(src, dst, evidence=evidence, sources=(source,))


def _note_evidence(g: nx.DiGraph, nid: str, evidence: str) -> None:
    current = g.nodes[nid].get("evidence")
    g.nodes[nid]["evidence"] = evidence if current is None else _merge(current, evidence)


def build_graph(
    static: StaticEvidence,
    trace: TraceFacts | None,
    targets: Iterable[Capabilities] = (),
) -> nx.DiGraph:
    """Build the facility graph from static evidence and (optionally) a trace."""
    g = nx.DiGraph(name="dockuni facility graph")
    g.graph["argv"] = list(static.argv)
    g.graph["traced"] = trace is not None
    entry_name = static.argv[0] if static.argv else "?"
    entry = node_id("program", entry_name)
    _add_node(g, entry, "program", entry_name, entrypoint=True)

    _static_chain(g, entry, static)
    _static_objects(g, static)
    if trace is not None:
        _trace(g, entry, static, trace)
    _facilities(g)
    _components(g, tuple(targets))
    return g


def _static_chain(g: nx.DiGraph, entry: str, static: StaticEvidence) -> None:
    prev = entry
    for step in static.chain:
        if step.kind == "elf":
            nid = node_id("elf", step.where)
            _add_node(g, nid, "elf", step.where)
        else:
            nid = node_id("program", step.where)
            _add_node(g, nid, "program", step.where, step=step.kind)
        if nid != prev:
            _add_edge(g, prev, nid, "static", f"entrypoint chain: {step.kind} {step.where}")
        if step.kind == "script" and is_shell(step.interpreter):
            # A shell script runs its commands as child processes, or execs the last one.
            fid = node_id("facility", "process.exec")
            _add_node(g, fid, "facility", "process.exec")
            _note_evidence(g, fid, "static")
            _add_edge(g, nid, fid, "static", f"{step.where} is a shell script run by {step.interpreter}")
        prev = nid
    for link, target in static.stdio_symlinks:
        fid = node_id("file", link)
        _add_node(g, fid, "file", link, link_target=target)
        _note_evidence(g, fid, "static")
        _add_edge(g, entry, fid, "static", f"image: {link} -> {target}")
        facility = node_id("facility", "fs.stdio_symlink")
        _add_node(g, facility, "facility", "fs.stdio_symlink")
        _note_evidence(g, facility, "static")
        _add_edge(g, fid, facility, "static", f"symlink to {target}")


def _static_objects(g: nx.DiGraph, static: StaticEvidence) -> None:
    for obj in static.objects:
        kind = "elf" if obj.role == "program" else "library"
        nid = node_id(kind, obj.path)
        _add_node(g, nid, kind, obj.path, machine=obj.machine, pie=obj.pie, static=obj.static, size=obj.size)
        for lib in obj.needed:
            lid = node_id("library", lib)
            _add_node(g, lid, "library", lib)
            _add_edge(g, nid, lid, "static", f"DT_NEEDED of {obj.path}")
        if obj.interpreter:
            lid = node_id("library", obj.interpreter)
            _add_node(g, lid, "library", obj.interpreter)
            _add_edge(g, nid, lid, "static", f"PT_INTERP of {obj.path}")
        for sc, symbols in fac.syscalls_for_symbols(obj.imports).items():
            sid = node_id("syscall", sc)
            _add_node(g, sid, "syscall", sc)
            _note_evidence(g, sid, "static")
            _add_edge(g, nid, sid, "static", f"{obj.path} imports {', '.join(symbols)}")


def _program_of(g: nx.DiGraph, entry: str, argv: tuple[str, ...]) -> str:
    if not argv or not argv[0]:
        return entry
    nid = node_id("program", argv[0])
    _add_node(g, nid, "program", argv[0])
    if nid != entry:
        _add_edge(g, entry, nid, "trace", f"execve {' '.join(argv)[:120]}")
    return nid


def _trace(g: nx.DiGraph, entry: str, static: StaticEvidence, trace: TraceFacts) -> None:
    # Objects the loader mapped: confirms the static closure edges (evidence becomes "both").
    opened = {f.path for f in trace.files if f.found}
    for src, dst in list(g.edges):
        if g.nodes[dst]["kind"] in ("library", "elf") and g.nodes[dst]["label"] in opened:
            _add_edge(g, src, dst, "trace", f"trace: {g.nodes[dst]['label']} opened/mapped")
    for path in trace.dlopened:
        lid = node_id("library", path)
        _add_node(g, lid, "library", path, dlopened=True)
        _add_edge(g, entry, lid, "trace", "trace: mapped after start-up (dlopen)")

    first_exec = trace.execs[0] if trace.execs else ()
    for proc in trace.processes:
        owner = _program_of(g, entry, proc.argv if proc.argv != first_exec else ())
        for name, count in proc.syscalls:
            if name == "execve" and proc.parent == 0 and count == 1 and not fac.later_execs(trace):
                continue  # the program's own start, not a need (Loupe's note)
            sid = node_id("syscall", name)
            _add_node(g, sid, "syscall", name)
            _note_evidence(g, sid, "trace")
            what = "thread" if proc.is_thread else "process"
            _add_edge(g, owner, sid, "trace", f"trace: {what} {proc.pid} made {count} call(s)")
    if not trace.processes:  # a tracer that only reports totals
        for name, count in trace.syscalls:
            sid = node_id("syscall", name)
            _add_node(g, sid, "syscall", name)
            _note_evidence(g, sid, "trace")
            _add_edge(g, entry, sid, "trace", f"trace: {count} call(s)")

    for access in trace.files:
        if not access.found:
            continue
        fid = node_id("file", access.path)
        _add_node(g, fid, "file", access.path)
        _note_evidence(g, fid, "trace")
        _add_edge(g, entry, fid, "trace", f"trace: {access.op}{' (write)' if access.write else ''}")
        for facility in fac.facilities_for_file(access.path, access.write):
            nid = node_id("facility", facility)
            _add_node(g, nid, "facility", facility)
            _note_evidence(g, nid, "trace")
            _add_edge(g, fid, nid, "trace", f"{access.op} {access.path}")

    for sock in trace.sockets:
        for facility in fac.facilities_for_socket(sock):
            nid = node_id("facility", facility)
            _add_node(g, nid, "facility", facility)
            _note_evidence(g, nid, "trace")
            _add_edge(g, entry, nid, "trace", f"trace: socket {fac.describe_socket(sock)}")

    for child in fac.forked_children(trace):
        nid = node_id("facility", "process.fork")
        _add_node(g, nid, "facility", "process.fork")
        _note_evidence(g, nid, "trace")
        worked = "did work" if fac.child_did_work(child) else "only exited"
        flags = child.clone_flags or "?"
        _add_edge(
            g, entry, nid, "trace", f"trace: pid {child.pid} forked by {child.parent} ({flags}), {worked}"
        )
    for argv in fac.later_execs(trace):
        nid = node_id("facility", "process.exec")
        _add_node(g, nid, "facility", "process.exec")
        _note_evidence(g, nid, "trace")
        _add_edge(g, entry, nid, "trace", f"trace: execve {' '.join(argv)[:120]}")
    if fac.threads(trace):
        nid = node_id("facility", "process.threads")
        _add_node(g, nid, "facility", "process.threads")
        _note_evidence(g, nid, "trace")
        _add_edge(g, entry, nid, "trace", f"trace: {len(fac.threads(trace))} thread(s)")


def _facilities(g: nx.DiGraph) -> None:
    for nid, attrs in list(g.nodes(data=True)):
        if attrs["kind"] != "syscall":
            continue
        facility = fac.facility_of_syscall(attrs["label"])
        if facility is None:
            continue
        fid = node_id("facility", facility)
        _add_node(g, fid, "facility", facility)
        evidence = attrs.get("evidence", "static")
        _note_evidence(g, fid, evidence)
        _add_edge(g, nid, fid, evidence, f"{attrs['label']} belongs to {facility}")


def _components(g: nx.DiGraph, targets: tuple[Capabilities, ...]) -> None:
    for nid, attrs in list(g.nodes(data=True)):
        if attrs["kind"] != "facility":
            continue
        facility = attrs["label"]
        evidence = attrs.get("evidence", "static")
        for caps in targets:
            for name in caps.components.get(facility, ()):
                cid = node_id("component", name, caps.name)
                _add_node(g, cid, "component", name, target=caps.name)
                _add_edge(g, nid, cid, evidence, f"{caps.name} provides {facility} with {name}")


# --- serialisation -----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def to_node_link(g: nx.DiGraph) -> dict[str, Any]:
    """Node-link JSON (networkx's layout: directed, graph, nodes, links), sorted for byte-identical output."""
    nodes = [
        {"id": nid, **{k: _jsonable(v) for k, v in sorted(attrs.items())}}
        for nid, attrs in sorted(g.nodes(data=True))
    ]
    links = [
        {"source": s, "target": t, **{k: _jsonable(v) for k, v in sorted(attrs.items())}}
        for s, t, attrs in sorted(g.edges(data=True), key=lambda e: (e[0], e[1]))
    ]
    return {
        "directed": True,
        "multigraph": False,
        "graph": {k: _jsonable(v) for k, v in sorted(g.graph.items())},
        "nodes": nodes,
        "links": links,
    }


def from_node_link(obj: dict[str, Any]) -> nx.DiGraph:
    g = nx.DiGraph()
    g.graph.update(obj.get("graph", {}))
    for node in obj["nodes"]:
        attrs = {k: v for k, v in node.items() if k != "id"}
        g.add_node(node["id"], **attrs)
    for link in obj["links"]:
        attrs = {
            k: (tuple(v) if k == "sources" else v) for k, v in link.items() if k not in ("source", "target")
        }
        g.add_edge(link["source"], link["target"], **attrs)
    return g


def dumps(g: nx.DiGraph) -> str:
    return json.dumps(to_node_link(g), indent=2, sort_keys=True) + "\n"


def needed(g: nx.DiGraph, kind: str) -> dict[str, str]:
    """label -> evidence for every node of KIND (syscall, file, facility)."""
    return {
        attrs["label"]: attrs.get("evidence", "static")
        for _, attrs in g.nodes(data=True)
        if attrs.get("kind") == kind
    }


def sources_into(g: nx.DiGraph, nid: str) -> tuple[str, ...]:
    """The evidence lines of every edge that points at NID, sorted, for verdicts and reports."""
    out: set[str] = set()
    for src in g.predecessors(nid):
        for line in g.edges[src, nid].get("sources", ()):
            out.add(line)
    return tuple(sorted(out))
