"""Readable views of the facility graph, coloured by the per-target verdicts.

Three views of one graph (transpile.passes.graph) and its verdicts:

- ``summary_dot``: what a person reads first. The entrypoint chain, then one table of the facilities the
  program needs (its syscalls collapsed into their facility, with counts; libraries and files collapsed
  into counts), one column per target coloured by status, then one node per target with its verdict and
  blockers, and a legend. Laid out top to bottom so that it fits an A4 page's width.
- ``detail_dot``: every node and edge (dashed static evidence, solid traced, bold both), coloured by
  status and with a legend.
- ``interactive_html``: one self-contained page (inline SVG and inline script, nothing fetched) with both
  views, a table, hover highlighting and a filter.

The targets are those of the verdicts passed in, in their order: nothing here knows a target by name.
Pure except ``render``, which runs graphviz's ``dot``.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from transpile import data
from transpile.errors import DockuniError
from transpile.model.verdict import ItemVerdict, TargetVerdict
from transpile.report import human_size
from transpile.runtime.graphviz import render

# Worst last: a facility's status on a target is the worst status of its own item and of its syscalls.
ORDER = ("supported", "faked", "stubbable", "missing")
_RANK = {s: i for i, s in enumerate(ORDER)}

# (fill, border/text): green, amber, red, grey. The red is saturated so that a blocker stands out.
GREEN = ("#c8e6c9", "#1b5e20")
AMBER = ("#ffe0a3", "#7a4f00")
RED = ("#c62828", "#ffffff")
GREY = ("#eeeeee", "#757575")
COLOURS = {"supported": GREEN, "faked": AMBER, "stubbable": AMBER, "missing": RED}
BORDERS = {"supported": "#43a047", "faked": "#f9a825", "stubbable": "#f9a825", "missing": RED[0]}
WORDS = {"supported": "ok", "faked": "fake", "stubbable": "stub", "missing": "missing"}

A4_WIDTH_IN = 8.27  # the summary is scaled down to this width when it would be wider
WRAP = 26  # characters per line of a blocker in a target's node
MAX_BLOCKERS = 5  # per target node; the rest are counted
MAX_ITEM_ROWS = 12  # rows for items that are not facilities (binary, library, finding...); the rest merged
MAX_PROGRAMS = 4  # programs the trace saw executed, named in the summary; the rest are counted
FONT = "Helvetica"


# --- the summary model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One target's status for one row: the worst status among the row's items, and those items."""

    status: str | None  # None: the target has no verdict item for this row (does not apply)
    count: int  # items at that status other than the facility itself: its calls, or merged items
    items: tuple[str, ...]  # the items at that status, e.g. "syscall:fork"

    @property
    def text(self) -> str:
        if self.status is None:
            return "—"
        word = WORDS[self.status]
        # "ok 4" would only repeat the row's count: numbers go where something needs attention
        return f"{word} {self.count}" if self.count > 1 and self.status != "supported" else word


@dataclass(frozen=True)
class Row:
    area: str  # "network", or for items that are not facilities their kind ("binary", "library", ...)
    name: str  # "tcp_server"
    item: str  # "facility:network.tcp_server", "binary:pie", "syscall:*"
    description: str
    syscalls: int  # syscall nodes collapsed into this row
    files: int  # file nodes collapsed into this row
    static_only: bool  # traced, yet known only from static evidence (imported symbols, the image)
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class TargetSummary:
    target: str
    ok: bool
    status: str  # worst over the items: the target's colour
    counts: tuple[tuple[str, int], ...]  # (support, number of items), in ORDER
    blockers: tuple[str, ...]  # "item: why", one per missing item


@dataclass(frozen=True)
class ChainNode:
    label: str
    detail: str
    kind: str  # program | elf | script


@dataclass(frozen=True)
class Summary:
    argv: tuple[str, ...]
    traced: bool
    chain: tuple[ChainNode, ...]  # the entrypoint first
    programs: tuple[str, ...]  # other programs the trace saw executed
    libraries: int
    library_bytes: int
    libraries_unsized: int
    dlopened: int
    files: int
    targets: tuple[TargetSummary, ...]
    rows: tuple[Row, ...]
    nodes: int  # of the full graph
    edges: int


def _worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda s: _RANK.get(s, len(ORDER)), default="supported")


def _cell(items: Sequence[ItemVerdict]) -> Cell:
    if not items:
        return Cell(None, 0, ())
    worst = _worst(it.support for it in items)
    at = tuple(sorted(it.item for it in items if it.support == worst))
    return Cell(worst, sum(1 for i in at if not i.startswith("facility:")), at)


def _reason(it: ItemVerdict) -> str:
    detail = next((e for e in it.evidence if not e.startswith("evidence:")), "")
    return f"{it.item}: {detail}" if detail else it.item


def _target_summary(v: TargetVerdict) -> TargetSummary:
    counts = {s: 0 for s in ORDER}
    for it in v.items:
        counts[it.support] = counts.get(it.support, 0) + 1
    status = "missing" if not v.ok else _worst(s for s, n in counts.items() if n)
    blockers = tuple(_reason(it) for it in v.items if it.support == "missing")
    return TargetSummary(v.target, v.ok, status, tuple(counts.items()), blockers)


def _chain(g: nx.DiGraph) -> tuple[list[str], list[str]]:
    """(node ids of the entrypoint chain, entrypoint first; ids of the other programs)."""
    entry = next((n for n, a in g.nodes(data=True) if a.get("entrypoint")), None)
    chain: list[str] = []
    if entry is not None:
        chain.append(entry)
        current = entry
        while True:
            nxt = next(
                (
                    s
                    for s in sorted(g.successors(current))
                    if s not in chain
                    and any(x.startswith("entrypoint chain") for x in g.edges[current, s].get("sources", ()))
                ),
                None,
            )
            if nxt is None:
                break
            chain.append(nxt)
            current = nxt
    others = sorted(
        n for n, a in g.nodes(data=True) if a.get("kind") in ("program", "elf") and n not in set(chain)
    )
    return chain, others


def _chain_node(g: nx.DiGraph, nid: str, is_entry: bool) -> ChainNode:
    attrs = g.nodes[nid]
    kind = str(attrs.get("kind", ""))
    if is_entry:
        argv = " ".join(str(a) for a in g.graph.get("argv", ())) or str(attrs.get("label", nid))
        return ChainNode(argv, "entrypoint", "program")
    if kind == "elf":
        bits = ["ELF", str(attrs.get("machine") or "")]
        pie = attrs.get("pie")
        if pie is not None:
            bits.append("PIE" if pie else "not PIE")
        if attrs.get("static"):
            bits.append("static")
        if attrs.get("size"):
            bits.append(human_size(int(attrs["size"])))
        return ChainNode(str(attrs.get("label", nid)), ", ".join(b for b in bits if b), "elf")
    step = str(attrs.get("step", "program"))
    return ChainNode(str(attrs.get("label", nid)), step, "script" if step == "script" else "program")


def summarize(graph: nx.DiGraph, verdicts: Sequence[TargetVerdict]) -> Summary:
    """The summary model of GRAPH coloured by VERDICTS (one column per verdict, in their order)."""
    g = graph
    by_target = [{it.item: it for it in v.items} for v in verdicts]
    chain_ids, others = _chain(g)
    chain = tuple(_chain_node(g, nid, i == 0) for i, nid in enumerate(chain_ids))
    programs = tuple(str(g.nodes[n].get("label", n)) for n in others if g.nodes[n].get("kind") == "program")

    libs = [a for _, a in g.nodes(data=True) if a.get("kind") == "library"]
    files = sum(1 for _, a in g.nodes(data=True) if a.get("kind") == "file")
    traced = bool(g.graph.get("traced"))

    def cells_for(items: Sequence[str]) -> tuple[Cell, ...]:
        return tuple(_cell([m[i] for i in items if i in m]) for m in by_target)

    described = data.facilities()
    rows: list[Row] = []

    # Items that are not syscalls or facilities (the binary, its libraries, the entrypoint, findings)
    # first: they are the blockers a facility table would hide.
    judged = ("syscall", "facility")
    other_items = sorted({it for m in by_target for it in m if it.split(":", 1)[0] not in judged})
    shown, merged = other_items[:MAX_ITEM_ROWS], other_items[MAX_ITEM_ROWS:]
    for item in shown:
        area, _, name = item.partition(":")
        reasons = sorted({_reason(m[item]) for m in by_target if item in m})
        rows.append(Row(area, name, item, "; ".join(reasons), 0, 0, False, cells_for([item])))
    if merged:
        rows.append(
            Row("more", f"{len(merged)} more items", "*", ", ".join(merged), 0, 0, False, cells_for(merged))
        )

    without_facility: list[str] = []
    for nid, attrs in sorted(g.nodes(data=True), key=lambda n: str(n[1].get("label", ""))):
        kind = attrs.get("kind")
        if kind == "syscall" and not any(g.nodes[s].get("kind") == "facility" for s in g.successors(nid)):
            without_facility.append(str(attrs["label"]))
        if kind != "facility":
            continue
        label = str(attrs["label"])
        preds = list(g.predecessors(nid))
        syscalls = sorted(str(g.nodes[p]["label"]) for p in preds if g.nodes[p].get("kind") == "syscall")
        nfiles = sum(1 for p in preds if g.nodes[p].get("kind") == "file")
        area, _, name = label.partition(".")
        entry = described.get(label)
        items = [f"facility:{label}", *(f"syscall:{s}" for s in syscalls)]
        rows.append(
            Row(
                area,
                name or area,
                f"facility:{label}",
                entry.description if entry else "",
                len(syscalls),
                nfiles,
                traced and attrs.get("evidence") == "static",
                cells_for(items),
            )
        )
    if without_facility:
        rows.append(
            Row(
                "other",
                "no facility",
                "syscall:*",
                "syscalls no facility covers: " + ", ".join(without_facility),
                len(without_facility),
                0,
                False,
                cells_for([f"syscall:{s}" for s in without_facility]),
            )
        )

    return Summary(
        argv=tuple(str(a) for a in g.graph.get("argv", ())),
        traced=traced,
        chain=chain,
        programs=programs,
        libraries=len(libs),
        library_bytes=sum(int(a.get("size") or 0) for a in libs),
        libraries_unsized=sum(1 for a in libs if not a.get("size")),
        dlopened=sum(1 for a in libs if a.get("dlopened")),
        files=files,
        targets=tuple(_target_summary(v) for v in verdicts),
        rows=tuple(rows),
        nodes=g.number_of_nodes(),
        edges=g.number_of_edges(),
    )


# --- DOT helpers --------------------------------------------------------------------------------------

# control characters, and the lone surrogates that undecodable file names become
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _clean(text: str) -> str:
    """Image content may hold any byte: keep what graphviz and XML can carry."""
    return _UNPRINTABLE.sub("?", text)


def _h(text: str) -> str:
    """Text inside a graphviz HTML-like label."""
    return html.escape(_clean(text), quote=True)


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + _clean(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _td(text: str, *, fill: tuple[str, str] | None = None, bold: bool = False, **attrs: str) -> str:
    extra = "".join(f' {k.upper()}="{_h(v)}"' for k, v in attrs.items())
    body = _h(text) or " "
    if bold:
        body = f"<B>{body}</B>"
    if fill is not None:
        body = f'<FONT COLOR="{fill[1]}">{body}</FONT>'
        extra += f' BGCOLOR="{fill[0]}"'
    return f"<TD{extra}>{body}</TD>"


def _wrap_lines(text: str, width: int = WRAP) -> list[str]:
    return textwrap.wrap(_clean(text), width, break_long_words=True, break_on_hyphens=False) or [""]


# --- the summary view ---------------------------------------------------------------------------------


def _needs_table(s: Summary) -> str:
    names = [t.target for t in s.targets]
    head = [
        _td("area", bold=True, align="left"),
        _td("needs", bold=True, align="left"),
        _td("calls", bold=True),
        _td("files", bold=True),
        *(_td(n, bold=True, port=f"h{i}") for i, n in enumerate(names)),
    ]
    rows = ["<TR>" + "".join(head) + "</TR>"]
    for i, r in enumerate(s.rows):
        tds: list[str] = []
        if i == 0 or s.rows[i - 1].area != r.area:
            # one cell for each run of rows of one area
            span = next((j for j in range(i, len(s.rows)) if s.rows[j].area != r.area), len(s.rows)) - i
            tds.append(_td(r.area, bold=True, align="left", valign="top", rowspan=str(span)))
        name = _h(_short(r.name, 26))
        if r.static_only:
            name = f'<I><FONT COLOR="#616161">{name}</FONT></I>'
        tds.append(f'<TD ALIGN="LEFT">{name}</TD>')
        tds.append(_td(str(r.syscalls) if r.syscalls else "", align="right"))
        tds.append(_td(str(r.files) if r.files else "", align="right"))
        for c in r.cells:
            fill = COLOURS[c.status] if c.status else GREY
            tds.append(_td(c.text, fill=fill, bold=c.status == "missing"))
        rows.append("<TR>" + "".join(tds) + "</TR>")
    verdict = [_td("verdict", bold=True, align="right", colspan="4")]
    for i, t in enumerate(s.targets):
        word = "blocked" if not t.ok else "runs"
        verdict.append(_td(word, fill=COLOURS[t.status], bold=True, port=f"v{i}"))
    rows.append("<TR>" + "".join(verdict) + "</TR>")
    return (
        '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="2" COLOR="#9e9e9e">'
        + "".join(rows)
        + "</TABLE>>"
    )


def _target_table(t: TargetSummary) -> str:
    counts = dict(t.counts)
    parts = [f"{counts[s]} {WORDS[s]}" for s in ORDER if counts.get(s)]
    lines = [
        f'<TR><TD BGCOLOR="{COLOURS[t.status][0]}"><FONT COLOR="{COLOURS[t.status][1]}" POINT-SIZE="11">'
        f"<B>{_h(t.target)}</B> {'blocked' if not t.ok else 'runs'}</FONT></TD></TR>",
        f'<TR><TD ALIGN="LEFT">{_h(", ".join(parts))}</TD></TR>',
    ]
    if t.blockers:
        lines.append(f'<TR><TD ALIGN="LEFT"><B>blocked by {len(t.blockers)}:</B></TD></TR>')
        for b in t.blockers[:MAX_BLOCKERS]:
            text = '<BR ALIGN="LEFT"/>'.join(_h(x) for x in _wrap_lines(b))
            lines.append(
                f'<TR><TD ALIGN="LEFT"><FONT COLOR="{RED[0]}">{text}<BR ALIGN="LEFT"/></FONT></TD></TR>'
            )
        if len(t.blockers) > MAX_BLOCKERS:
            lines.append(f'<TR><TD ALIGN="LEFT">and {len(t.blockers) - MAX_BLOCKERS} more</TD></TR>')
    border = COLOURS[t.status][0] if t.status != "supported" else GREEN[1]
    return (
        f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" COLOR="{border}">'
        + "".join(lines)
        + "</TABLE>>"
    )


def _swatch(fill: tuple[str, str], text: str, meaning: str) -> str:
    return f'<TR>{_td(text, fill=fill)}<TD ALIGN="LEFT">{_h(meaning)}</TD></TR>'


def _legend(s: Summary) -> str:
    evidence = "trace and imported symbols" if s.traced else "imported symbols only (no trace)"
    rows = [
        '<TR><TD COLSPAN="2" ALIGN="LEFT"><B>legend</B></TD></TR>',
        _swatch(GREEN, "ok", "the target provides it"),
        _swatch(AMBER, "stub N", "works with N calls stubbed (ENOSYS) or faked (0)"),
        _swatch(RED, "missing", "needed and not provided: blocks the target"),
        _swatch(GREY, "—", "does not apply to this target"),
        '<TR><TD><I><FONT COLOR="#616161">name</FONT></I></TD>'
        '<TD ALIGN="LEFT">static evidence only: not seen in the trace</TD></TR>',
        '<TR><TD COLSPAN="2" ALIGN="LEFT">calls: syscalls of the facility; '
        f"evidence: {_h(evidence)}</TD></TR>",
        f'<TR><TD COLSPAN="2" ALIGN="LEFT">summary of {s.nodes} nodes, {s.edges} edges; '
        "all of them with --detail</TD></TR>",
    ]
    return (
        '<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" COLOR="#9e9e9e">'
        + "".join(rows)
        + "</TABLE>>"
    )


def _box(title: str, detail: str, *, fill: str = "#e3f2fd") -> str:
    lines = "<BR/>".join(_h(x) for x in _wrap_lines(title, 36))
    out = (
        f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" BGCOLOR="{fill}" COLOR="#546e7a">'
    )
    out += f"<TR><TD><B>{lines}</B></TD></TR>"
    if detail:
        out += f'<TR><TD><FONT POINT-SIZE="9">{_h(detail)}</FONT></TD></TR>'
    return out + "</TABLE>>"


def summary_dot(graph: nx.DiGraph, verdicts: Sequence[TargetVerdict]) -> str:
    """The summary view as DOT: readable at A4 width however large the graph is."""
    s = summarize(graph, verdicts)
    out = [
        "digraph summary {",
        f'  graph [rankdir=TB, nodesep=0.15, ranksep=0.3, pad=0.1, fontname="{FONT}", '
        f'size="{A4_WIDTH_IN},100", bgcolor="white", id="summary"];',
        f'  node [shape=plaintext, margin=0, fontname="{FONT}", fontsize=10];',
        '  edge [color="#546e7a", arrowsize=0.6];',
    ]
    chain_ids = [f"c{i}" for i in range(len(s.chain))]
    for nid, node in zip(chain_ids, s.chain, strict=True):
        fill = "#e3f2fd" if node.kind != "script" else "#f3e5f5"
        out.append(f'  {nid} [id="{nid}", label={_box(node.label, node.detail, fill=fill)}];')
    for a, b in itertools.pairwise(chain_ids):
        out.append(f"  {a} -> {b};")
    last = chain_ids[-1] if chain_ids else None
    side: list[str] = []
    if s.libraries:
        size = human_size(s.library_bytes) if s.library_bytes else "size unknown"
        bits = [f"{s.libraries} libraries, {size}"]
        if s.dlopened:
            bits.append(f"{s.dlopened} loaded at run time")
        out.append(f'  libs [id="libs", label={_box(bits[0], "; ".join(bits[1:]), fill="#eceff1")}];')
        side.append("libs")
    if s.files or s.programs:
        title = f"{s.files} files opened" if s.files else "files"
        detail = ""
        if s.programs:
            named = ", ".join(_short(p, 24) for p in s.programs[:MAX_PROGRAMS])
            more = f" and {len(s.programs) - MAX_PROGRAMS} more" if len(s.programs) > MAX_PROGRAMS else ""
            detail = f"runs {named}{more}"
        out.append(f'  files [id="files", label={_box(title, detail, fill="#eceff1")}];')
        side.append("files")
    if last is not None and side:
        # same rank as the program's ELF, to its right, in this order
        out.append(f"  {{rank=same; {last}; {'; '.join(side)};}}")
        if "libs" in side:
            out.append(f"  {last} -> libs [style=dashed];")
        out.append(f"  {' -> '.join([last, *side])} [style=invis];")
    out.append(f'  needs [id="needs", label={_needs_table(s)}];')
    if last is not None:
        out.append(f"  {last} -> needs;")
    out.append(f'  legend [id="legend", label={_legend(s)}];')
    target_ids = [f"t{i}" for i in range(len(s.targets))]
    for i, (nid, t) in enumerate(zip(target_ids, s.targets, strict=True)):
        out.append(f'  {nid} [id="{nid}", label={_target_table(t)}];')
        colour = RED[0] if not t.ok else "#546e7a"
        width = 2.0 if not t.ok else 1.0
        out.append(f'  needs:v{i}:s -> {nid}:n [color="{colour}", penwidth={width}];')
    if target_ids:
        out.append(f"  {{rank=same; {'; '.join(target_ids)};}}")
        if len(target_ids) > 1:
            out.append(f"  {' -> '.join(target_ids)} [style=invis];")
        # the legend last, under the verdicts
        out.append(f"  {target_ids[len(target_ids) // 2]} -> legend [style=invis];")
    else:
        out.append("  needs -> legend [style=invis];")
    out.append("}")
    return "\n".join(out) + "\n"


# --- the detail view ----------------------------------------------------------------------------------

_SHAPES = {
    "program": "box",
    "elf": "box",
    "library": "component",
    "syscall": "ellipse",
    "file": "note",
    "facility": "hexagon",
    "component": "box3d",
}
_STYLE = {"static": "dashed", "trace": "solid", "both": "bold"}


def node_statuses(graph: nx.DiGraph, verdicts: Sequence[TargetVerdict]) -> dict[str, tuple[str | None, ...]]:
    """node id -> one status per verdict (None: no item for it), for the nodes that verdicts judge."""
    g = graph
    by_target = [{it.item: it for it in v.items} for v in verdicts]
    out: dict[str, tuple[str | None, ...]] = {}
    for nid, attrs in g.nodes(data=True):
        kind = attrs.get("kind")
        label = str(attrs.get("label", ""))
        keys: list[str] = []
        if kind in ("syscall", "facility"):
            keys = [f"{kind}:{label}"]
        elif kind == "library":
            keys = [f"library:{label}"]
        elif kind == "elf":
            keys = [k for m in by_target for k in m if k.startswith("binary:")]
            keys.append(f"entrypoint:{label}")
        elif kind == "program":
            keys = [f"entrypoint:{label}"]
        if kind == "component":
            # a component's status is its facility's on the component's own target
            target = attrs.get("target")
            facilities = [str(g.nodes[p]["label"]) for p in g.predecessors(nid)]
            statuses: list[str | None] = []
            for v, m in zip(verdicts, by_target, strict=True):
                if v.target != target:
                    statuses.append(None)
                    continue
                found = [m[f"facility:{f}"].support for f in facilities if f"facility:{f}" in m]
                statuses.append(_worst(found) if found else None)
            if any(st is not None for st in statuses):
                out[nid] = tuple(statuses)
            continue
        row: list[str | None] = []
        for m in by_target:
            found = [m[k].support for k in keys if k in m]
            row.append(_worst(found) if found else None)
        if any(st is not None for st in row):
            out[nid] = tuple(row)
    return out


def _overall(statuses: Sequence[str | None]) -> str | None:
    present = [s for s in statuses if s is not None]
    return _worst(present) if present else None


def _detail_legend(targets: Sequence[str]) -> str:
    rows = [
        '<TR><TD COLSPAN="2" ALIGN="LEFT"><B>legend</B></TD></TR>',
        _swatch(GREEN, "ok", "supported"),
        _swatch(AMBER, "stub", "stubbable or faked"),
        _swatch(RED, "missing", "needed and missing: a blocker"),
        _swatch(GREY, " ", "no verdict"),
        '<TR><TD COLSPAN="2" ALIGN="LEFT">node colour: the worst status on any target; '
        "small squares, left to right: " + _h(", ".join(targets)) + "</TD></TR>",
        '<TR><TD COLSPAN="2" ALIGN="LEFT">edges: dashed static (imports, closure), solid traced, '
        "bold both</TD></TR>",
        '<TR><TD COLSPAN="2" ALIGN="LEFT">box program/ELF, component library, ellipse syscall, '
        "note file, hexagon facility, 3-D box target component</TD></TR>",
    ]
    return (
        '<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" COLOR="#9e9e9e">'
        + "".join(rows)
        + "</TABLE>>"
    )


def detail_ids(graph: nx.DiGraph) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """SVG ids of the detail view: node id -> "nI", and the edges in the order of their ids "eI"."""
    ids = {nid: f"n{i}" for i, nid in enumerate(sorted(graph.nodes))}
    edges = sorted(graph.edges, key=lambda e: (e[0], e[1]))
    return ids, edges


def detail_dot(graph: nx.DiGraph, verdicts: Sequence[TargetVerdict]) -> str:
    """Every node and edge, coloured by the verdicts, with a legend."""
    g = graph
    statuses = node_statuses(g, verdicts)
    ids, edges = detail_ids(g)
    targets = [v.target for v in verdicts]
    out = [
        "digraph dockuni {",
        f'  graph [rankdir=LR, fontname="{FONT}", id="detail"];',
        f'  node [fontname="{FONT}", fontsize=10, style=filled, fillcolor="white", color="#546e7a"];',
        f'  edge [fontname="{FONT}", fontsize=8, color="#78909c", arrowsize=0.6];',
        f'  legend [id="legend", shape=plaintext, style="", margin=0, label={_detail_legend(targets)}];',
    ]
    for nid, attrs in sorted(g.nodes(data=True)):
        kind = str(attrs.get("kind", ""))
        label = str(attrs.get("label", nid))
        if kind == "component":
            label = f"{attrs.get('target', '')}: {label}"
        shape = _SHAPES.get(kind, "ellipse")
        st = statuses.get(nid)
        overall = _overall(st) if st else None
        tip = [f"{kind} {label}"]
        if st:
            tip.extend(f"{t}: {s or 'no verdict'}" for t, s in zip(targets, st, strict=True))
        common = (
            f'id="{ids[nid]}", class="k-{kind} s-{overall or "none"}", shape={shape}, '
            f"tooltip={_q(chr(10).join(tip))}"
        )
        if st and overall and kind in ("syscall", "facility") and len(targets) > 1:
            # one square per target on white, the border in the worst status's colour
            squares = "".join(
                f'<TD WIDTH="8" HEIGHT="8" FIXEDSIZE="TRUE" BGCOLOR="{(COLOURS[s] if s else GREY)[0]}"></TD>'
                for s in st
            )
            html_label = (
                '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2" CELLPADDING="0" COLOR="#616161">'
                f'<TR><TD COLSPAN="{len(st)}" CELLPADDING="1" BORDER="0">{_h(label)}</TD></TR>'
                f"<TR>{squares}</TR></TABLE>>"
            )
            out.append(
                f'  {_q(nid)} [{common}, color="{BORDERS[overall]}", penwidth=2, margin=0.04, '
                f"label={html_label}];"
            )
        elif overall:
            fill, text = COLOURS[overall]
            out.append(
                f'  {_q(nid)} [{common}, fillcolor="{fill}", color="{BORDERS[overall]}", '
                f'fontcolor="{text}", label={_q(label)}];'
            )
        else:
            out.append(f"  {_q(nid)} [{common}, label={_q(label)}];")
    for i, (s, t) in enumerate(edges):
        attrs = g.edges[s, t]
        ev = attrs.get("evidence", "static")
        sources = "; ".join(attrs.get("sources", ()))
        st = statuses.get(t)
        colour = RED[0] if st and _overall(st) == "missing" else "#78909c"
        out.append(
            f'  {_q(s)} -> {_q(t)} [id="e{i}", style={_STYLE.get(ev, "solid")}, color="{colour}", '
            f"tooltip={_q(sources)}];"
        )
    out.append("}")
    return "\n".join(out) + "\n"


# --- rendering ----------------------------------------------------------------------------------------


# --- the interactive page -----------------------------------------------------------------------------


def _inline_svg(svg: bytes) -> str:
    """Graphviz's SVG without its XML prologue and doctype, to sit inside an HTML page."""
    text = svg.decode("utf-8", errors="replace")
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def _html_table(s: Summary) -> str:
    names = [t.target for t in s.targets]
    head = "".join(f"<th>{_h(n)}</th>" for n in names)
    out = [
        '<table id="needs-table"><thead><tr><th>area</th><th>needs</th><th>calls</th><th>files</th>'
        f"{head}</tr></thead><tbody>"
    ]
    for r in s.rows:
        cls = " ".join(sorted({f"s-{c.status}" for c in r.cells if c.status}))
        name = _h(r.name)
        if r.static_only:
            name = f'<i title="static evidence only: not seen in the trace">{name}</i>'
        cells = []
        for target, c in zip(names, r.cells, strict=True):
            status = c.status or "none"
            tip = f"{target}: {c.status or 'does not apply'}" + (
                f" ({', '.join(c.items)})" if c.items else ""
            )
            cells.append(f'<td class="c s-{status}" title="{_h(tip)}">{_h(c.text)}</td>')
        out.append(
            f'<tr class="{cls}" title="{_h(r.description)}">'
            f"<td>{_h(r.area)}</td><td>{name}</td>"
            f"<td class=n>{r.syscalls or ''}</td><td class=n>{r.files or ''}</td>{''.join(cells)}</tr>"
        )
    out.append("</tbody></table>")
    cards = []
    for t in s.targets:
        counts = ", ".join(f"{n} {WORDS[k]}" for k, n in t.counts if n)
        blockers = "".join(f"<li>{_h(b)}</li>" for b in t.blockers)
        cards.append(
            f'<div class="card s-{t.status}"><h3>{_h(t.target)}: '
            f"{'blocked' if not t.ok else 'runs'}</h3><p>{_h(counts)}</p>"
            + (f"<ul>{blockers}</ul>" if blockers else "")
            + "</div>"
        )
    out.append('<div id="cards">' + "".join(cards) + "</div>")
    return "".join(out)


_CSS = """
html,body{height:100%}
body{font:14px/1.4 Helvetica,Arial,sans-serif;margin:0;color:#212121;display:flex;flex-direction:column}
header{flex:none;background:#fafafa;border-bottom:1px solid #ccc;padding:6px 10px}
header h1{font-size:16px;margin:0 0 4px 0}
header button{margin-right:4px}header button.on{font-weight:bold;background:#cfd8dc}
header input[type=search]{width:16em}
.view{display:none;padding:8px;overflow:auto;flex:1 1 auto;min-height:0}.view.on{display:block}
.view.fit svg{max-width:100%;height:auto}
#detail-view g.node,#detail-view g.edge{transition:opacity .1s}
.dim{opacity:.12}.hit>*{stroke-width:3px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #bbb;padding:2px 6px;text-align:left}
td.n{text-align:right}td.c{text-align:center}
.s-supported{background:#c8e6c9;color:#1b5e20}.s-faked,.s-stubbable{background:#ffe0a3;color:#7a4f00}
.s-missing{background:#c62828;color:#fff;font-weight:bold}.s-none{background:#eee;color:#757575}
tr.s-missing,tr.s-stubbable,tr.s-faked,tr.s-supported{background:none;color:inherit;font-weight:normal}
tr.hide{display:none}
#cards{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #999;padding:4px 8px;max-width:24em}
.card h3{margin:2px 0;font-size:15px}
.note{color:#616161}
"""

# Hover a node of the full graph: it, its neighbours and its edges stay, the rest dims; click pins it.
# The filter dims nodes whose name does not match; "blockers only" keeps the nodes marked missing.
# The address's fragment sets the start: #view=detail-view&q=socket&blockers=1.
_JS = """
(function(){
var data=JSON.parse(document.getElementById('graph-data').textContent);
function $(s){return document.querySelector(s);}
function all(s){return Array.prototype.slice.call(document.querySelectorAll(s));}
all('header button[data-view]').forEach(function(b){b.addEventListener('click',function(){
  all('header button[data-view]').forEach(function(x){x.classList.toggle('on',x===b);});
  all('.view').forEach(function(v){v.classList.toggle('on',v.id===b.dataset.view);});});});
$('#fit').addEventListener('change',function(e){all('.view').forEach(function(v){
  v.classList.toggle('fit',e.target.checked);});});
var adj={};data.edges.forEach(function(e,i){var id='e'+i;
  (adj[e[0]]=adj[e[0]]||[]).push([id,e[1]]);(adj[e[1]]=adj[e[1]]||[]).push([id,e[0]]);});
var pinned=null;
function clear(){all('#detail-view g.node,#detail-view g.edge').forEach(function(g){
  g.classList.remove('dim');g.classList.remove('hit');});}
function focus(id){clear();if(!id){apply();return;}var keep={};keep[id]=1;
  (adj[id]||[]).forEach(function(p){keep[p[0]]=1;keep[p[1]]=1;});
  all('#detail-view g.node,#detail-view g.edge').forEach(function(g){
    if(!keep[g.id])g.classList.add('dim');});
  var n=document.getElementById(id);if(n)n.classList.add('hit');}
all('#detail-view g.node').forEach(function(g){
  g.addEventListener('mouseenter',function(){if(!pinned)focus(g.id);});
  g.addEventListener('mouseleave',function(){if(!pinned)focus(null);});
  g.addEventListener('click',function(){pinned=pinned===g.id?null:g.id;focus(pinned);});});
function apply(){var q=$('#filter').value.trim().toLowerCase();var blockers=$('#blockers').checked;
  var first=null;
  all('#detail-view g.node').forEach(function(g){var info=data.nodes[g.id];if(!info)return;
    var ok=(!q||info.label.toLowerCase().indexOf(q)>=0)&&(!blockers||info.status==='missing');
    g.classList.toggle('dim',!ok);if(ok&&!first&&(q||blockers))first=g;});
  if(first&&$('#detail-view').classList.contains('on'))first.scrollIntoView({block:'center',inline:'center'});
  all('#detail-view g.edge').forEach(function(g){g.classList.toggle('dim',!!(q||blockers));});
  all('#needs-table tbody tr').forEach(function(r){
    var ok=(!q||r.textContent.toLowerCase().indexOf(q)>=0)&&(!blockers||r.classList.contains('s-missing'));
    r.classList.toggle('hide',!ok);});}
$('#filter').addEventListener('input',function(){pinned=null;clear();apply();});
$('#blockers').addEventListener('change',function(){pinned=null;clear();apply();});
var h=new URLSearchParams(location.hash.slice(1));
if(h.get('view')){var b=$('header button[data-view="'+h.get('view')+'"]');if(b)b.click();}
if(h.get('q')!==null)$('#filter').value=h.get('q');
if(h.get('blockers')==='1')$('#blockers').checked=true;
apply();document.documentElement.setAttribute('data-ready','1');
})();
"""


def _json_script(obj: object) -> str:
    # "<" escaped so that no string in the data can close the script element
    return json.dumps(obj, sort_keys=True, ensure_ascii=False).replace("<", "\\u003c")


def interactive_html(graph: nx.DiGraph, verdicts: Sequence[TargetVerdict]) -> str:
    """One self-contained HTML page: the summary and the full graph as inline SVG, with hover, filter and
    a table. Nothing is loaded from the network. Without graphviz the page still has the table."""
    s = summarize(graph, verdicts)
    try:
        summary_svg = _inline_svg(render(summary_dot(graph, verdicts)))
        detail_svg = _inline_svg(render(detail_dot(graph, verdicts)))
        missing_dot = ""
    except DockuniError as err:
        summary_svg = detail_svg = ""
        missing_dot = f'<p class="note">No drawings: {_h(err.message)}.</p>'
    ids, edges = detail_ids(graph)
    statuses = node_statuses(graph, verdicts)
    nodes = {
        ids[nid]: {
            "label": _clean(str(attrs.get("label", nid))),
            "kind": str(attrs.get("kind", "")),
            "status": _overall(statuses[nid]) if nid in statuses else None,
        }
        for nid, attrs in graph.nodes(data=True)
    }
    payload = {"nodes": nodes, "edges": [[ids[a], ids[b]] for a, b in edges]}
    argv = _h(" ".join(s.argv))
    first = "summary-view" if summary_svg else "table-view"
    views = [
        ("summary-view", "Summary", summary_svg + missing_dot),
        ("detail-view", "Full graph", detail_svg + missing_dot),
        ("table-view", "Table", _html_table(s)),
    ]
    buttons = "".join(
        f'<button data-view="{v}"{" class=on" if v == first else ""}>{name}</button>' for v, name, _ in views
    )
    bodies = "".join(
        f'<section id="{v}" class="view fit{" on" if v == first else ""}">{body}</section>'
        for v, _, body in views
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>dockuni graph: {argv}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>dockuni facility graph: <code>{argv}</code></h1>{buttons} "
        '<input id="filter" type="search" placeholder="filter by name" aria-label="filter by name"> '
        '<label><input id="blockers" type="checkbox"> blockers only</label> '
        '<label><input id="fit" type="checkbox" checked> fit width</label> '
        f'<span class="note">{s.nodes} nodes, {s.edges} edges; '
        f"{'traced' if s.traced else 'static facts only'}</span></header>"
        f"{bodies}"
        f'<script type="application/json" id="graph-data">{_json_script(payload)}</script>'
        f"<script>{_JS}</script></body></html>\n"
    )
