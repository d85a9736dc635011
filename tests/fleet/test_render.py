"""scan.csv and index.html from a scan document; the progress lines."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from transpile.fleet.progress import Progress
from transpile.fleet.records import record_from_report, totals
from transpile.fleet.render import render_csv, render_html

pytestmark = pytest.mark.unit


def _doc() -> dict[str, Any]:
    def report(ok: bool, missing: list[str], size: int) -> dict[str, Any]:
        items = [{"item": i, "support": "missing", "rule": "table:t1", "evidence": []} for i in missing]
        return {"targets": [{"target": "t1", "ok": ok, "items": items}], "ranking": ["t1"] if ok else [],
                "fallback": not ok, "footprint": {"image_bytes": size, "closure_bytes": size // 4},
                "attack_surface": {"needed": 40, "needed_outside_default": 1}}  # fmt: skip

    images = [
        record_from_report("<b>web</b>", {}, report(False, ["syscall:fork"], 50 << 20), "box", 3.0),
        record_from_report("api", {}, report(True, [], 10 << 20), "box", 1.5),
    ]
    return {"targets": ["t1"], "images": images, "totals": totals(images, ["t1"])}


def test_html_is_self_contained_with_four_charts_and_escaped_names() -> None:
    page = render_html(_doc())
    assert page.count("<svg") == 4
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "@import" not in page and "url(http" not in page
    assert "&lt;b&gt;web&lt;/b&gt;" in page and "<b>web</b>" not in page
    assert page.count("<tr>") == 3
    assert "fix syscall:fork and 1 more image are ready for t1" in page


def test_html_is_identical_for_identical_input() -> None:
    assert render_html(_doc()) == render_html(_doc())


def test_csv_has_a_row_per_image() -> None:
    rows = list(csv.reader(io.StringIO(render_csv(_doc()))))
    assert rows[0][:3] == ["name", "best_target", "t1"]
    assert rows[1][:4] == ["<b>web</b>", "box", "blocked", "syscall:fork"]
    assert rows[2][:3] == ["api", "t1", "ready"]


def test_progress_is_one_line_per_image_without_a_tty() -> None:
    out = io.StringIO()
    p = Progress(2, out, tty=False)
    doc = _doc()
    p.update(doc["images"][0], cached=True)
    p.update(doc["images"][1], cached=False)
    assert out.getvalue().splitlines() == [
        "[1/2] <b>web</b>: best box (cached)",
        "[2/2] api: best t1 (1.5 s)",
    ]


def test_progress_bar_with_eta_on_a_tty() -> None:
    out = io.StringIO()
    p = Progress(3, out, tty=True)
    p.update(_doc()["images"][1], cached=False)
    assert "1/3" in out.getvalue() and "ETA" in out.getvalue() and "\n" not in out.getvalue()
