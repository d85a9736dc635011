"""The graph's views: the summary fits an A4 page's width, blockers are red, a legend is present, the full
view keeps every node, and the interactive page renders and filters in a real headless Chromium."""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import networkx as nx
import pytest

from tests.passes.test_graph import STATIC, TRACE
from tests.support import convert as cs
from transpile import graphview as gv
from transpile import targets as registry
from transpile.errors import DockuniError
from transpile.model.static import ElfObject, StaticEvidence
from transpile.model.trace import TraceFacts
from transpile.model.verdict import AssessFacts, TargetVerdict
from transpile.passes import compat
from transpile.passes import graph as gr
from transpile.runtime.graphviz import render

A4_WIDTH_PT = 595.3
MIN_SCALE = 0.85  # the summary may shrink to fit A4, but not so far that 10 pt text gets below 8.5 pt
CHROMIUM = shutil.which("chromium")


# --- helpers ------------------------------------------------------------------------------------------


def _svg(dot_text: str) -> str:
    # graphviz writes "-" in attribute values as "&#45;"
    return html.unescape(render(dot_text, "svg").decode())


def _size_pt(svg: str) -> tuple[float, float]:
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert m, svg[:400]
    return float(m.group(1)), float(m.group(2))


def _scale(svg: str) -> float:
    m = re.search(r'class="graph" transform="scale\(([\d.]+) ', svg)
    assert m
    return float(m.group(1))


def _png_pixels(path: Path) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit, non-interlaced RGB/RGBA PNG (what dot and Chromium
    write), decoded here so that the tests need no imaging library."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        kind, body = raw[pos + 4 : pos + 8], raw[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    data = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for y in range(height):
        row_start = y * (stride + 1)
        kind = data[row_start]
        line = bytearray(data[row_start + 1 : row_start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        pixels.extend((line[i], line[i + 1], line[i + 2]) for i in range(0, stride, bpp))
        prev = line
    return width, height, pixels


def _near(px: tuple[int, int, int], hex_colour: str, tolerance: int = 12) -> bool:
    want = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - b) <= tolerance for a, b in zip(px, want, strict=True))


def _chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None, "chromium is a declared test dependency (tools/test.sh installs it)"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        timeout=180,
        check=False,
    )


CAPS = [t.capabilities for t in registry.convertible()]


def _verdicts(g: nx.DiGraph, static: StaticEvidence, trace: TraceFacts | None) -> tuple[TargetVerdict, ...]:
    return compat.verdicts(AssessFacts(g, static, trace, ()), registry.convertible())


def _small() -> tuple[nx.DiGraph, tuple[TargetVerdict, ...]]:
    g = gr.build_graph(STATIC, TRACE, CAPS)
    return g, _verdicts(g, STATIC, TRACE)


def _non_pie() -> tuple[nx.DiGraph, tuple[TargetVerdict, ...]]:
    """The small app built as ET_EXEC: the real verdicts block the target that needs PIE."""
    program = STATIC.objects[0]
    static = StaticEvidence(
        argv=STATIC.argv,
        chain=STATIC.chain,
        objects=(
            ElfObject(program.path, "program", pie=False, interpreter=program.interpreter,
                          needed=program.needed, imports=program.imports),
            *STATIC.objects[1:],
        ),
    )
    g = gr.build_graph(static, TRACE, CAPS)
    return g, _verdicts(g, static, TRACE)


# --- on small real facts ------------------------------------------------------------------------------


@pytest.mark.unit
def test_summary_columns_follow_the_verdicts_and_rows_collapse_syscalls() -> None:
    g, verdicts = _small()
    s = gv.summarize(g, verdicts)
    assert [t.target for t in s.targets] == [v.target for v in verdicts]
    assert all(len(r.cells) == len(verdicts) for r in s.rows)
    facilities = {a["label"] for _, a in g.nodes(data=True) if a["kind"] == "facility"}
    assert {f"{r.area}.{r.name}" for r in s.rows if r.item.startswith("facility:")} == facilities
    # every syscall with a facility is counted in its facility's row
    with_facility = [
        n for n, a in g.nodes(data=True)
        if a["kind"] == "syscall" and any(g.nodes[x]["kind"] == "facility" for x in g.successors(n))
    ]
    assert sum(r.syscalls for r in s.rows if r.item.startswith("facility:")) == len(with_facility)
    # fewer targets in, fewer columns out: nothing in the view names a target of its own
    dot = gv.summary_dot(g, verdicts[1:])
    assert verdicts[0].target not in dot and all(v.target in dot for v in verdicts[1:])


@pytest.mark.unit
def test_a_blocker_is_red_in_its_row_its_verdict_and_its_edge() -> None:
    g, verdicts = _non_pie()
    blocked = [v for v in verdicts if not v.ok]
    assert blocked, "an ET_EXEC program blocks at least one target"
    s = gv.summarize(g, verdicts)
    for v in blocked:
        col = [t.target for t in s.targets].index(v.target)
        row = next(r for r in s.rows if r.item == "binary:pie")
        assert row.cells[col].status == "missing" and row.cells[col].text == "missing"
        assert s.targets[col].status == "missing" and s.targets[col].blockers
    for v in verdicts:
        if v.ok:
            col = [t.target for t in s.targets].index(v.target)
            assert next(r for r in s.rows if r.item == "binary:pie").cells[col].status in (None, "supported")
    dot = gv.summary_dot(g, verdicts)
    red = gv.RED[0]
    assert dot.count(f'BGCOLOR="{red}"') >= 2 * len(blocked) + 1  # the cell, the verdict, the legend
    assert len(re.findall(rf'needs:v\d+:s -> t\d+:n \[color="{red}"', dot)) == len(blocked)
    svg = _svg(dot)
    assert f'fill="{red}"' in svg and ">blocked<" in svg


@pytest.mark.unit
def test_detail_view_keeps_every_node_and_edge_with_colours_and_a_legend() -> None:
    g, verdicts = _non_pie()
    svg = _svg(gv.detail_dot(g, verdicts))
    assert len(re.findall(r'<g id="n\d+" class="node', svg)) == g.number_of_nodes()
    assert len(re.findall(r'<g id="e\d+" class="edge', svg)) == g.number_of_edges()
    assert '<g id="legend" class="node' in svg and ">legend<" in svg
    ids, _ = gv.detail_ids(g)
    elf = ids["elf:/usr/bin/app"]
    assert re.search(rf'<g id="{elf}" class="node k-elf s-missing"', svg)
    # the evidence styles: dashed static, solid traced, bold both
    assert 'stroke-dasharray="5,2"' in svg


@pytest.mark.unit
def test_labels_from_the_image_are_escaped_everywhere() -> None:
    hostile = '/srv/</script><script>alert(1)</script>&"x\x01\udcff'
    static = StaticEvidence(argv=(hostile,), stdio_symlinks=((hostile, "/dev/stdout"),))
    g = gr.build_graph(static, None, CAPS)
    verdicts = _verdicts(g, static, None)
    for dot in (gv.summary_dot(g, verdicts), gv.detail_dot(g, verdicts)):
        assert "<svg" in _svg(dot)
    page = gv.interactive_html(g, verdicts)
    assert "<script>alert(1)" not in page and "\x01" not in page
    assert page.count("<script") == 2  # the data and the code, nothing injected
    page.encode()  # an undecodable file name does not stop the page from being written


@pytest.mark.unit
def test_page_without_graphviz_keeps_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g, verdicts = _small()
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot`
    page = gv.interactive_html(g, verdicts)
    assert "<svg" not in page and "No drawings" in page
    assert 'id="needs-table"' in page and all(f"<th>{v.target}</th>" in page for v in verdicts)
    with pytest.raises(DockuniError) as err:
        render("digraph{}")
    assert err.value.exit_code == 3


# --- on the python http.server image, traced for real --------------------------------------------------


@pytest.fixture(scope="module")
def python_http() -> tuple[nx.DiGraph, tuple[TargetVerdict, ...]]:
    facts = cs.real_facts("python-http")
    g = gr.build_graph(facts.static, facts.trace, CAPS)
    return g, _verdicts(g, facts.static, facts.trace)


@pytest.mark.engine
def test_python_http_summary_fits_a4_width(
    python_http: tuple[nx.DiGraph, tuple[TargetVerdict, ...]], tmp_path: Path
) -> None:
    g, verdicts = python_http
    assert g.number_of_nodes() > 300  # the graph the summary has to make readable
    full_w, full_h = _size_pt(_svg(gv.detail_dot(g, ())))
    dot = gv.summary_dot(g, verdicts)
    svg = _svg(dot)
    width, height = _size_pt(svg)
    assert width <= A4_WIDTH_PT and _scale(svg) >= MIN_SCALE, (width, _scale(svg))
    assert height < full_h / 10, (height, full_h)
    nodes = re.findall(r'<g id="[^"]+" class="node">', svg)
    assert 5 <= len(nodes) <= 15, nodes
    assert ">legend<" in svg and ">missing<" in svg and ">blocked<" in svg
    assert f'fill="{gv.RED[0]}"' in svg and f'fill="{gv.AMBER[0]}"' in svg and f'fill="{gv.GREEN[0]}"' in svg

    # the PNG a reader prints: at graphviz's 96 dpi an A4 width is 794 px
    png = tmp_path / "python-http-summary.png"
    png.write_bytes(render(dot, "png"))
    w, h, pixels = _png_pixels(png)
    assert w <= 800 and h > 600
    assert sum(1 for p in pixels if _near(p, gv.RED[0])) > 200  # the blocker cells show
    print(f"summary of {g.number_of_nodes()} nodes: {width:.0f} x {height:.0f} pt (full view "
          f"{full_w:.0f} x {full_h:.0f} pt), PNG {w} x {h} px at {png}")


@pytest.mark.engine
def test_python_http_page_renders_in_chromium(
    python_http: tuple[nx.DiGraph, tuple[TargetVerdict, ...]], tmp_path: Path
) -> None:
    g, verdicts = python_http
    page = gv.interactive_html(g, verdicts)
    # self-contained: nothing is fetched (the only URLs are the SVG namespaces)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert not re.search(r"<(link|img|iframe)\b|<script[^>]*\bsrc=|@import", page)
    html_file = tmp_path / "graph.html"
    html_file.write_text(page)

    shot = tmp_path / "graph-html.png"
    proc = _chromium("--window-size=1000,900", f"--screenshot={shot}", html_file.as_uri())
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    w, h, pixels = _png_pixels(shot)
    assert (w, h) == (1000, 900)
    white = sum(1 for p in pixels if p == (255, 255, 255))
    assert white < 0.9 * len(pixels)  # not blank
    assert sum(1 for p in pixels if _near(p, gv.GREEN[0])) > 1000  # the table's cells painted
    assert sum(1 for p in pixels if _near(p, gv.RED[0])) > 50  # and the blocker

    # the script ran and the filter keeps exactly the nodes whose name matches
    proc = _chromium("--dump-dom", html_file.as_uri() + "#view=detail-view&q=socket")
    dom = proc.stdout.decode()
    assert 'data-ready="1"' in dom, proc.stderr.decode(errors="replace")[-2000:]
    ids, _ = gv.detail_ids(g)
    nodes = dict(re.findall(r'<g id="(n\d+)" class="node ([^"]*)"', dom))
    assert len(nodes) == g.number_of_nodes()
    kept = {nid for nid, cls in nodes.items() if "dim" not in cls.split()}
    want = {ids[n] for n, a in g.nodes(data=True) if "socket" in str(a["label"]).lower()}
    assert kept == want and want
    assert re.search(r'<section id="detail-view" class="view fit on"', dom)
