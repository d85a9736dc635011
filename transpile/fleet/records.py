"""One record per image (from its report.json) and the fleet totals: plain JSON, the scan.json schema.

scan.json schema version 1 (docs/fleet.md):
  {"schema": "dockuni-scan/1", "dockuni": VERSION, "targets": [...], "fallback": NAME,
   "images": [RECORD, ...], "totals": {...}}
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

SCHEMA = "dockuni-scan/1"
READY = "ready"
BLOCKED = "blocked"
UNVERIFIED = "unverified"  # no evidence decided it (a Dockerfile alone, no trace): nothing found against it

Record = dict[str, Any]


def _blockers(target: dict[str, Any]) -> list[dict[str, Any]]:
    """A target's blockers as (item, rule, evidence, remedy) objects: taken as they are when the report
    carries them structured, derived from its `missing` items otherwise (no remedy known then)."""
    given = target.get("blockers") or []
    if given and all(isinstance(b, dict) for b in given):
        return [
            {
                "item": str(b.get("item", "")),
                "rule": str(b.get("rule", "")),
                "evidence": [str(e) for e in b.get("evidence", [])],
                "remedy": str(b.get("remedy") or ""),
            }
            for b in given
        ]
    return [
        {
            "item": str(it["item"]),
            "rule": str(it.get("rule", "")),
            "evidence": [str(e) for e in it.get("evidence", [])],
            "remedy": str(it.get("remedy") or ""),
        }
        for it in target.get("items", [])
        if it.get("support") == "missing"
    ]


def record_from_report(
    name: str, source: dict[str, Any], report: dict[str, Any], fallback: str, seconds: float
) -> Record:
    """The scan record of one image from its report.json content."""
    verdicts: dict[str, str] = {}
    blockers: dict[str, list[dict[str, Any]]] = {}
    for t in report.get("targets", []):
        # "unknown" (no trace, no image) is no "blocked": nothing was found against the target
        status = t.get("status")
        verdicts[t["target"]] = READY if t.get("ok") else UNVERIFIED if status == "unknown" else BLOCKED
        found = _blockers(t)
        if found:
            blockers[t["target"]] = found
    ranking = list(report.get("ranking", []))
    best = fallback if report.get("fallback") or not ranking else ranking[0]
    trace = report.get("trace") or {}
    return {
        "name": name,
        "source": source,
        "image": report.get("image", ""),
        "best_target": best,
        "ranking": ranking,
        "verdicts": verdicts,
        "blockers": blockers,
        "footprint": dict(report.get("footprint", {})),
        "syscalls": dict(report.get("attack_surface", {})) | {"traced": bool(report.get("traced"))},
        "exit_reason": trace.get("exit_reason"),
        "unverified": list(report.get("unverified", [])),
        "verify": report.get("verify"),
        "exit_code": report.get("exit_code"),
        "seconds": round(seconds, 3),
        "error": None,
    }


def error_record(name: str, source: dict[str, Any], message: str, exit_code: int, seconds: float) -> Record:
    """An image the scan could not convert: no verdicts, the one-line reason."""
    return {
        "name": name,
        "source": source,
        "image": "",
        "best_target": None,
        "ranking": [],
        "verdicts": {},
        "blockers": {},
        "footprint": {},
        "syscalls": {},
        "exit_reason": None,
        "unverified": [],
        "verify": None,
        "exit_code": exit_code,
        "seconds": round(seconds, 3),
        "error": message,
    }


def fleet_item(item: str) -> str:
    """The blocker as the fleet counts it: a finding's item names its location
    (`finding:DU204@Dockerfile:4:1`), which differs in every image; the rule is what they share."""
    return item.split("@", 1)[0]


def totals(records: list[Record], targets: list[str], top: int = 20) -> dict[str, Any]:
    """Fleet totals: readiness per target, blockers ranked by images blocked (with what fixing each one
    alone makes ready), and the remedies that unlock the most images."""
    scanned = [r for r in records if r["error"] is None]
    ready = {t: sum(1 for r in scanned if r["verdicts"].get(t) == READY) for t in targets}
    best = Counter(str(r["best_target"]) for r in scanned if r["best_target"] is not None)

    blocked_images: dict[str, set[str]] = defaultdict(set)
    rules: dict[str, str] = {}
    unlocks: dict[str, Counter[str]] = defaultdict(Counter)  # item -> target -> images it alone blocks
    remedy_unlocks: dict[str, set[str]] = defaultdict(set)
    remedy_items: dict[str, set[str]] = defaultdict(set)
    for r in scanned:
        for target, found in r["blockers"].items():
            items = {fleet_item(b["item"]) for b in found}
            for b in found:
                item = fleet_item(b["item"])
                blocked_images[item].add(r["name"])
                rules.setdefault(item, b["rule"])
                if b["remedy"]:
                    remedy_items[b["remedy"]].add(item)
            if len(items) == 1:
                unlocks[next(iter(items))][target] += 1
            remedies = {b["remedy"] for b in found}
            if len(remedies) == 1 and "" not in remedies:  # one remedy covers every blocker here
                remedy_unlocks[next(iter(remedies))].add(r["name"])

    ranked = []
    for item, names in sorted(blocked_images.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        per = dict(sorted(unlocks[item].items(), key=lambda kv: (-kv[1], kv[0])))
        entry: dict[str, Any] = {
            "item": item,
            "rule": rules.get(item, ""),
            "images_blocked": len(names),
            "unlocks": per,
            "summary": "",
        }
        if per:
            target, n = next(iter(per.items()))
            entry["summary"] = f"fix {item} and {n} more image{'s' if n != 1 else ''} are ready for {target}"
        ranked.append(entry)
    remedy_list = [
        {"remedy": rem, "images_unlocked": len(names), "items": sorted(remedy_items[rem])}
        for rem, names in sorted(remedy_unlocks.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    return {
        "images": len(records),
        "scanned": len(scanned),
        "errors": len(records) - len(scanned),
        "ready": ready,
        "best_target": dict(sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))),
        "blockers": ranked[:top],
        "remedies": remedy_list[:top],
        "seconds": round(sum(float(r["seconds"]) for r in records), 3),
    }
