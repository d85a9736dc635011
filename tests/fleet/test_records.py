"""Records from report.json and the fleet totals: readiness, ranked blockers, remedies."""

from __future__ import annotations

from typing import Any

import pytest

from transpile.fleet.records import record_from_report, totals

pytestmark = pytest.mark.unit


def _report(ok: dict[str, bool], missing: dict[str, list[str]], remedies: dict[str, str] | None = None,
            ranking: list[str] | None = None, fallback: bool = False) -> dict[str, Any]:  # fmt: skip
    targets = []
    for t, good in ok.items():
        items = [{"item": i, "support": "missing", "rule": f"table:{t}", "evidence": ["trace: x"]}
                 for i in missing.get(t, [])]  # fmt: skip
        entry: dict[str, Any] = {"target": t, "ok": good, "items": items, "blockers": ["a line"]}
        if remedies is not None:
            entry["blockers"] = [dict(it, remedy=remedies.get(it["item"], "")) for it in items]
        targets.append(entry)
    return {
        "targets": targets, "ranking": ranking or [t for t, g in ok.items() if g], "fallback": fallback,
        "footprint": {"image_bytes": 10}, "attack_surface": {"needed": 3}, "traced": True,
    }  # fmt: skip


def test_record_derives_blockers_from_missing_items() -> None:
    report = _report({"t1": False, "t2": True}, {"t1": ["syscall:fork"]})
    rec = record_from_report("a", {}, report, "box", 1.0)
    assert rec["best_target"] == "t2"
    assert rec["verdicts"] == {"t1": "blocked", "t2": "ready"}
    assert rec["blockers"] == {
        "t1": [{"item": "syscall:fork", "rule": "table:t1", "evidence": ["trace: x"], "remedy": ""}]
    }


def test_record_uses_structured_blockers_with_remedies() -> None:
    report = _report({"t1": False}, {"t1": ["binary:pie"]}, {"binary:pie": "rebuild -fPIE"}, fallback=True)
    rec = record_from_report("a", {}, report, "box", 1.0)
    assert rec["best_target"] == "box"
    assert rec["blockers"]["t1"][0]["remedy"] == "rebuild -fPIE"


def test_totals_rank_blockers_and_what_fixing_each_unlocks() -> None:
    pie = _report({"t1": False}, {"t1": ["binary:pie"]}, {"binary:pie": "PIE"})
    recs = [
        record_from_report("a", {}, pie, "c", 1),
        record_from_report("b", {}, pie, "c", 1),
        record_from_report("c", {}, _report({"t1": False}, {"t1": ["binary:pie", "syscall:fork"]}), "c", 1),
        record_from_report("d", {}, _report({"t1": True}, {}), "c", 1),
    ]
    t = totals(recs, ["t1"])
    assert t["ready"] == {"t1": 1}
    assert [(b["item"], b["images_blocked"], b["unlocks"]) for b in t["blockers"]] == [
        ("binary:pie", 3, {"t1": 2}),
        ("syscall:fork", 1, {}),
    ]
    assert t["blockers"][0]["summary"] == "fix binary:pie and 2 more images are ready for t1"
    assert t["remedies"] == [{"remedy": "PIE", "images_unlocked": 2, "items": ["binary:pie"]}]


def test_findings_count_by_rule_across_images() -> None:
    ra = _report({"t1": False}, {"t1": ["finding:DU204@a/Dockerfile:4:1"]})
    rb = _report({"t1": False}, {"t1": ["finding:DU204@b/Dockerfile:9:1"]})
    a, b = record_from_report("a", {}, ra, "c", 1), record_from_report("b", {}, rb, "c", 1)
    t = totals([a, b], ["t1"])
    assert [(x["item"], x["images_blocked"], x["unlocks"]) for x in t["blockers"]] == [
        ("finding:DU204", 2, {"t1": 2})
    ]
