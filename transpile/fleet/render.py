"""scan.json, scan.csv and index.html (one self-contained page: a sortable table and inline SVG charts
drawn with matplotlib's SVG backend; nothing is loaded from a network)."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from transpile.errors import DockuniError, ExitCode

MiB = 1 << 20


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_all(out: Path, document: dict[str, Any]) -> tuple[str, ...]:
    html_text = render_html(document)  # first: a missing plotting library leaves nothing half written
    _write(out / "scan.json", json.dumps(document, indent=2, sort_keys=True) + "\n")
    _write(out / "scan.csv", render_csv(document))
    _write(out / "index.html", html_text)
    return ("scan.json", "scan.csv", "index.html")


def render_csv(document: dict[str, Any]) -> str:
    targets: list[str] = document["targets"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "best_target", *targets, "blockers", "image_bytes", "closure_bytes",
                "syscalls", "syscalls_outside_docker_default", "seconds", "error"])  # fmt: skip
    for r in document["images"]:
        items = sorted({b["item"] for found in r["blockers"].values() for b in found})
        w.writerow([
            r["name"], r["best_target"] or "", *(r["verdicts"].get(t, "") for t in targets),
            " ".join(items), r["footprint"].get("image_bytes", ""), r["footprint"].get("closure_bytes", ""),
            r["syscalls"].get("needed", ""), r["syscalls"].get("needed_outside_default", ""),
            r["seconds"], r["error"] or "",
        ])  # fmt: skip
    return buf.getvalue()


# --- charts ----------------------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as err:
        raise DockuniError(
            "index.html's charts need matplotlib (pip install 'dockuni[fleet]')",
            file="index.html", exit_code=ExitCode.ENVIRONMENT,
        ) from err  # fmt: skip
    # text stays text (the page's fonts), and ids do not change between runs
    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["svg.hashsalt"] = "dockuni"
    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG is inline
    # and the RDF metadata block, which says only that this is an image
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)


def chart_readiness(document: dict[str, Any]) -> str:
    ready: dict[str, int] = document["totals"]["ready"]
    scanned = document["totals"]["scanned"]
    fig = _figure(6, 2.8)
    ax = fig.add_subplot()
    names = list(ready)
    ax.barh(names, [ready[n] for n in names], color="#2a7ab9")
    ax.set_xlim(0, max(scanned, 1))
    ax.invert_yaxis()
    ax.set_xlabel(f"images ready (of {scanned})")
    ax.set_title("Readiness per target")
    return _svg(fig)


def chart_blockers(document: dict[str, Any], top: int = 10) -> str:
    blockers = document["totals"]["blockers"][:top]
    fig = _figure(6, max(2.2, 0.6 + 0.32 * len(blockers)))
    ax = fig.add_subplot()
    if blockers:
        labels = [b["item"] if len(b["item"]) <= 40 else b["item"][:39] + "…" for b in blockers]
        ax.barh(labels, [b["images_blocked"] for b in blockers], color="#c0392b")
        ax.invert_yaxis()
    else:
        ax.text(0.5, 0.5, "no blockers", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("images blocked")
    ax.set_title("Top blockers")
    return _svg(fig)


def chart_histogram(values: list[float], title: str, xlabel: str) -> str:
    fig = _figure(6, 2.6)
    ax = fig.add_subplot()
    if values:
        ax.hist(values, bins=min(20, max(len(values), 1)), color="#27ae60")
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images")
    ax.set_title(title)
    return _svg(fig)


# --- the page --------------------------------------------------------------------------------------------

_STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left}
th{background:#eee;cursor:pointer;user-select:none}
td.ready{background:#d5f5e3} td.blocked{background:#fadbd8}
.charts{display:flex;flex-wrap:wrap;gap:1em} .charts>div{width:560px}
.charts svg{width:100%;height:auto}
"""

# sorts by the clicked column; numbers compare as numbers (data-v holds the raw value)
_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0];
    var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b){
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
"""


def _cell(value: Any, text: str | None = None, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    shown = html.escape(str(value) if text is None else text)
    return f'<td{attr} data-v="{html.escape(str(value), quote=True)}">{shown}</td>'


def render_html(document: dict[str, Any]) -> str:
    targets: list[str] = document["targets"]
    totals = document["totals"]
    images = document["images"]
    sizes = [r["footprint"]["image_bytes"] / MiB for r in images if r["footprint"].get("image_bytes")]
    boots = [
        float(r["verify"]["boot_to_reply_s"])
        for r in images
        if isinstance(r.get("verify"), dict) and isinstance(r["verify"].get("boot_to_reply_s"), int | float)
    ]
    charts = [
        chart_readiness(document),
        chart_blockers(document),
        chart_histogram(sizes, "Image size", "MiB"),
        chart_histogram(boots, "Boot time (verified recipes)", "seconds")
        if boots
        else chart_histogram([float(r["seconds"]) for r in images], "Scan time per image", "seconds"),
    ]
    head = ["name", "best target", *targets, "blockers", "image MiB", "closure MiB", "syscalls",
            "outside Docker default", "seconds"]  # fmt: skip
    rows = []
    for r in images:
        fp, sc = r["footprint"], r["syscalls"]
        items = sorted({b["item"] for found in r["blockers"].values() for b in found})
        best = r["best_target"] or ("error" if r["error"] else "static check only")
        cells = [_cell(r["name"]), _cell(best, r["error"] or best)]
        cells += [_cell(r["verdicts"].get(t, ""), cls=r["verdicts"].get(t, "")) for t in targets]
        shown = ", ".join(items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "")
        cells.append(_cell(len(items), shown))
        cells.append(_cell(round(fp.get("image_bytes", 0) / MiB, 1)))
        cells.append(_cell(round(fp.get("closure_bytes", 0) / MiB, 1)))
        cells.append(_cell(sc.get("needed", "")))
        cells.append(_cell(sc.get("needed_outside_default", "")))
        cells.append(_cell(r["seconds"]))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    summary = "".join(f"<li>{html.escape(b['summary'])}</li>" for b in totals["blockers"] if b["summary"])
    remedies = "".join(
        f"<li>{html.escape(r['remedy'])}: {r['images_unlocked']} image(s)</li>" for r in totals["remedies"]
    )
    ready = ", ".join(f"{html.escape(t)} {n}" for t, n in totals["ready"].items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dockuni scan</title><style>{_STYLE}</style></head>
<body>
<h1>dockuni scan: {totals['images']} images</h1>
<p id="ready">Ready per target (of {totals['scanned']} scanned): {ready}.</p>
<div class="charts">{''.join(f'<div class="chart">{c}</div>' for c in charts)}</div>
<h2>What to fix first</h2><ul id="fixes">{summary or '<li>nothing blocks a single target alone</li>'}</ul>
<h2>Remedies</h2><ul id="remedies">{remedies or '<li>no known remedy yet</li>'}</ul>
<h2>Images</h2>
<table class="sortable" id="images">
<thead><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in head)}</tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<script>{_SCRIPT}</script>
</body></html>
"""
