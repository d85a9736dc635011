"""Rendering of results.

Findings (``dockuni check``): ``render_findings_text``, ``render_findings_json`` and
``render_findings_sarif`` (SARIF 2.1.0, OASIS standard, as GitHub code scanning reads it).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from transpile import __version__, ir
from transpile.model.conversion import ConvertResult
from transpile.model.trace import TraceFacts
from transpile.model.verdict import TargetVerdict

if TYPE_CHECKING:
    from transpile.check import CheckResult
    from transpile.rules.base import Rule

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_URI = "https://github.com/dockuni/dockuni"

_ANSI = {"error": "31;1", "warning": "33;1", "info": "36", "style": "2"}
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note", "style": "note"}


# --- findings: text ------------------------------------------------------------------------------


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def format_finding_text(finding: ir.Finding, file: str, *, color: bool = False) -> str:
    """``file:line:col: SEVERITY DU201 message [targets] (hint)``."""
    span = finding.span
    where = f"{span.file}:{span.line}:{span.column}" if span else file  # no made-up 0:0
    severity = _paint(finding.severity.upper(), _ANSI[finding.severity], color)
    rule = _paint(finding.rule, "1", color)
    targets = f" [{','.join(finding.targets)}]" if finding.targets else ""
    hint = _paint(f" ({finding.hint})", "2", color) if finding.hint else ""
    return f"{where}: {severity} {rule} {finding.message}{targets}{hint}"


def render_findings_text(result: CheckResult, *, color: bool = False) -> str:
    lines = [format_finding_text(f, r.file, color=color) for r in result.files for f in r.findings]
    return "".join(line + "\n" for line in lines)


# --- findings: JSON ------------------------------------------------------------------------------


def findings_json(result: CheckResult) -> list[dict[str, object]]:
    docs = {rule.id: rule.doc for rule in result.rules}
    out: list[dict[str, object]] = []
    for file_result in result.files:
        for finding in file_result.findings:
            item = finding.to_json()
            item["file"] = file_result.file
            item["doc"] = docs.get(finding.rule, "")
            out.append(item)
    return out


def render_findings_json(result: CheckResult) -> str:
    return json.dumps(findings_json(result), indent=2) + "\n"


# --- findings: SARIF 2.1.0 -------------------------------------------------------------------------


def _artifact_uri(path: str) -> dict[str, str]:
    """A relative URI against %SRCROOT% (the working directory) when possible, else file://."""
    p = Path(path)
    absolute = p if p.is_absolute() else Path.cwd() / p
    try:
        relative = os.path.relpath(absolute, Path.cwd())
    except ValueError:
        relative = ""
    if relative and not relative.startswith(".."):
        return {"uri": quote(Path(relative).as_posix()), "uriBaseId": "%SRCROOT%"}
    return {"uri": absolute.resolve().as_uri()}


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.replace("/", " ").replace("-", " ").split()),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}. Matters for: {', '.join(rule.targets)}."},
        "help": {"text": rule.hint, "markdown": f"{rule.hint}\n\n[{rule.id}]({rule.doc})"},
        "helpUri": rule.doc,
        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
        "properties": {"tags": ["unikernel", *rule.targets], "targets": list(rule.targets)},
    }


def _region(span: ir.Span) -> dict[str, int]:
    region = {"startLine": max(span.line, 1), "startColumn": max(span.column, 1)}
    if span.end_line >= span.line:
        region["endLine"] = max(span.end_line, 1)
        if span.end_column > 0 and (span.end_line > span.line or span.end_column >= span.column):
            region["endColumn"] = max(span.end_column, 1)
    return region


def sarif_log(result: CheckResult) -> dict[str, Any]:
    rules: Sequence[Rule] = result.rules
    index = {rule.id: i for i, rule in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for file_result in result.files:
        for finding in file_result.findings:
            location: dict[str, Any] = {"artifactLocation": _artifact_uri(file_result.file)}
            if finding.span is not None:
                location["region"] = _region(finding.span)
            item: dict[str, Any] = {
                "ruleId": finding.rule,
                "level": _SARIF_LEVEL[finding.severity],
                "message": {
                    "text": f"{finding.message} ({finding.hint})" if finding.hint else finding.message
                },
                "locations": [{"physicalLocation": location}],
                "properties": {"targets": list(finding.targets)},
            }
            if finding.rule in index:
                item["ruleIndex"] = index[finding.rule]
            results.append(item)
    notifications: list[dict[str, Any]] = []
    for err in result.errors:
        note: dict[str, Any] = {"level": "error", "message": {"text": err.message}}
        physical: dict[str, Any] = {"artifactLocation": _artifact_uri(err.file)}
        if err.line > 0:
            physical["region"] = {"startLine": err.line, "startColumn": max(err.column, 1)}
        note["locations"] = [{"physicalLocation": physical}]
        notifications.append(note)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "dockuni",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": TOOL_URI,
                "rules": [_sarif_rule(rule) for rule in rules],
            }
        },
        "invocations": [
            {"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}
        ],
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().resolve().as_uri() + "/"}},
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_findings_sarif(result: CheckResult) -> str:
    return json.dumps(sarif_log(result), indent=2) + "\n"


# --- convert reports (dockuni convert: report.json, report.md, the text summary) ------------------------
# Rendered from a transpile.model.conversion.ConvertResult. Deterministic: sorted keys and items, no
# timestamps, no temp paths, so identical facts give byte-identical files.


def _convert_target_json(result: ConvertResult, verdict: TargetVerdict) -> dict[str, Any]:
    counts = {"supported": 0, "faked": 0, "stubbable": 0, "missing": 0, "imported_only": 0}
    for it in verdict.items:
        counts[it.support] += 1
        # stubbed or faked, known only from imported symbols, never called while traced
        static_only = it.evidence[:1] == ("evidence: static",)
        if result.facts.trace is not None and it.support in ("stubbable", "faked") and static_only:
            counts["imported_only"] += 1
    classes = {"shutdown-only": 0, "tolerated-failure": 0, "feature-probe": 0}
    for it in verdict.items:
        if it.category in classes:
            classes[it.category] += 1
    counts.update({k.replace("-", "_"): v for k, v in classes.items()})
    rank = result.ranking.index(verdict.target) + 1 if verdict.target in result.ranking else None
    return {
        "target": verdict.target,
        "ok": verdict.ok,
        "status": verdict.status,
        "label": verdict.label,
        "emitted": verdict.target in result.emitted,
        "rank": rank,
        "score": verdict.score,
        "counts": counts,
        "blockers": list(verdict.blockers),
        "blocker_details": [b.to_json() for b in verdict.details],
        "undecided": list(verdict.undecided),
        "verified": verdict.verified or None,
        "model_error": verdict.model_error or None,
        "items": [
            {
                "item": it.item,
                "support": it.support,
                "category": it.category,
                "rule": it.rule,
                "evidence": list(it.evidence),
            }
            for it in verdict.items
        ],
    }


def _convert_trace_json(trace: TraceFacts | None) -> dict[str, Any] | None:
    if trace is None:
        return None
    return {
        "argv": list(trace.argv),
        "exit_reason": trace.exit_reason,
        "syscalls": sorted(trace.syscall_names),
        "needed_syscalls": sorted(trace.needed_syscalls),
        "shutdown_only": sorted(trace.shutdown_only),
        "tolerated_failures": sorted(trace.tolerated_failures),
        "processes": sum(1 for p in trace.processes if not p.is_thread),
        "threads": sum(1 for p in trace.processes if p.is_thread),
        "execs": [list(e) for e in trace.execs],
        "listening_ports": sorted(trace.listening_ports),
        "files_found": len({f.path for f in trace.files if f.found}),
        "findings": list(trace.findings),
    }


def convert_to_json(result: ConvertResult) -> dict[str, Any]:
    """The content of report.json (schema described in docs/convert.md)."""
    facts = result.facts
    image_bytes = facts.image_bytes
    closure_bytes = facts.closure_bytes
    runtime_bytes = facts.runtime_bytes
    return {
        "dockerfile": facts.dockerfile_path,
        "image": facts.image_reference,
        "argv": list(facts.argv),
        "story": list(result.story),
        "rewrites": list(facts.rewrites),
        # timings and cache hits vary between identical runs: the console shows them, the report does not
        "probing": (
            {k: v for k, v in result.probing.items() if k not in ("seconds", "cached")}
            if result.probing
            else None
        ),
        "traced": facts.trace is not None,
        "trace": _convert_trace_json(facts.trace),
        "unverified": list(result.unverified),
        "footprint": {
            "image_bytes": image_bytes,
            "closure_bytes": closure_bytes,
            "runtime_files_bytes": runtime_bytes,
            "runtime_files": len(facts.runtime_files),
            "closure_to_image": round(closure_bytes / image_bytes, 4) if image_bytes else None,
            "shipped_to_image": (
                round((closure_bytes + runtime_bytes) / image_bytes, 4) if image_bytes else None
            ),
        },
        "attack_surface": facts.attack_surface.to_json(),
        "findings": [f.to_json() for f in facts.findings],
        "targets": [_convert_target_json(result, v) for v in facts.verdicts],
        "ranking": list(result.ranking),
        "emitted": list(result.emitted),
        "fallback": result.fallback,
        "notes": {target: list(notes) for target, notes in result.notes},
        "files": list(result.files),
        "verify": {v.target: v.to_json() for v in result.verifications} if result.verifications else None,
        "exit_code": result.exit_code,
    }


def human_size(n: int) -> str:
    # small images (a static binary in scratch) would all print as "0.0 MiB"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} B"


def shorten(text: str, limit: int) -> str:
    """TEXT cut at a word boundary (a separator or a space) before LIMIT characters, never mid-word."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for sep in ("; ", ", ", " "):
        at = cut.rfind(sep)
        if at > limit // 2:
            cut = cut[:at]
            break
    return cut.rstrip(" ;,") + " …"


def _evidence(items: Sequence[str], limit: int) -> str:
    shown = [e for e in items if not e.startswith("evidence:")]
    text = shorten("; ".join(shown), limit)
    return text + (" (full evidence in report.json)" if text.endswith("…") else "")


_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"loupe:stub_ok=(\d+)/(\d+)"), "{0} of the {1} apps Loupe measured passed with it stubbed"),
    (re.compile(r"loupe:fake_ok=(\d+)/(\d+)"), "{0} of the {1} apps Loupe measured passed with it faked"),
    (re.compile(r"loupe-app:([^/]+)/([^:]+):needed"), "Loupe's run of {0} ({1}) needed it"),
    (re.compile(r"loupe-app:([^/]+)/([^:]+):(.+)"), "Loupe's run of {0} ({1}) passed with it failing ({2})"),
    (re.compile(r"loupe:no-data"), "no measurement in Loupe's data"),
    (re.compile(r"table:([\w-]+):fake"), "{0} registers it as a no-op"),
    (re.compile(r"table:([\w-]+)"), "in {0}'s syscall table"),
    (re.compile(r"facility:([\w-]+):fake"), "{0} fakes this facility"),
    (re.compile(r"facility:([\w-]+):partial"), "{0} provides part of this facility"),
    (re.compile(r"facility:all-calls-stubbable"), "every call of it can be stubbed"),
    (re.compile(r"facility:([\w-]+)"), "{0}'s facility data"),
    (re.compile(r"libc-fallback:(.+)"), "the C library falls back when {0} fails"),
    (re.compile(r"probe:stub-verified"), "stubbed on this app: the probes still passed"),
    (re.compile(r"probe:absence-verified"), "made absent on this app: the probes still passed"),
    (re.compile(r"probe:needed"), "the probes failed without it"),
    (
        re.compile(r"(?:process-model:)?imported-never-called.*"),
        "in the program's code, never called while traced",
    ),
    (re.compile(r"process-model:no-dependence-traced"), "no forked process did work while traced"),
    (re.compile(r"process-model.*"), "the app starts processes"),
    (re.compile(r"static-only:unverified"), "known from the image only (no trace)"),
    (re.compile(r"recipe-rewrite:.*"), "the recipe rewrites it"),
    (re.compile(r"arch:x86_64-only"), "x86_64 only"),
    (re.compile(r"([\w-]+):app-elfloader-needs-PIE"), "{0}'s ELF loader runs only position-independent code"),
    (re.compile(r"loader:DT_NEEDED"), "the loader needs every DT_NEEDED library"),
)


def plain_rule(rule: str) -> str:
    """A rule code (report.json keeps it) said in words a developer can act on."""
    for pattern, words in _RULES:
        m = pattern.fullmatch(rule)
        if m:
            return words.format(*m.groups())
    return rule


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_convert_markdown(result: ConvertResult) -> str:
    """report.md: per target the verdict, footprint, attack surface and what blocks it, with evidence."""
    data = convert_to_json(result)
    out: list[str] = []
    name = data["dockerfile"] or data["image"] or "image"
    out.append(f"# dockuni convert: {name}\n")
    out.append(f"Entrypoint: `{' '.join(data['argv'])}`" if data["argv"] else "Entrypoint: (none)")
    if data["image"]:
        out.append(f"Image: `{data['image']}`")
    out.append("")
    story = [_md_escape(line) for line in data["story"]]
    out.extend(f"**{line}**" if i == 0 else line for i, line in enumerate(story))
    out.append("")
    if data["rewrites"]:
        out.append("## Rewrites (the recipes run, and the trace ran, this argv)\n")
        out.extend(f"- {_md_escape(r)}" for r in data["rewrites"])
        out.append("")
    probing = data["probing"]
    if probing:
        out.append("## Active probing\n")
        out.append(
            f"{len(probing['injections'])} item(s) tried by fault injection in {probing['runs']} run(s): "
            f"{len(probing['harmless'])} harmless, "
            f"{len(probing['needed'])} needed, {len(probing['untested'])} untested "
            f"(budget {probing['budget']})."
        )
        out.append("")
    if data["unverified"]:
        out.append("## Not verified\n")
        out.extend(f"- {u}" for u in data["unverified"])
        out.append("")
    fp, surf = data["footprint"], data["attack_surface"]
    out.append("## Summary\n")
    out.append("| target | verdict | rank | supported | faked | stubbed | missing |")
    out.append("|---|---|---|---|---|---|---|")
    for t in data["targets"]:
        c = t["counts"]
        verdict = t["label"]
        rank = str(t["rank"]) if t["rank"] else "-"
        out.append(
            f"| {t['target']} | {verdict} | {rank} | {c['supported']} | {c['faked']} | "
            f"{c['stubbable']} | {c['missing']} |"
        )
    out.append("")
    if fp["image_bytes"]:
        out.append(
            f"Footprint: closure {human_size(fp['closure_bytes'])} + "
            f"runtime files {human_size(fp['runtime_files_bytes'])} "
            f"of a {human_size(fp['image_bytes'])} image (closure/image = {fp['closure_to_image']}, "
            f"shipped/image = {fp['shipped_to_image']})."
        )
    if data["traced"]:
        out.append(
            f"Attack surface: {surf.get('needed', 0)} syscalls needed vs {surf.get('docker_default', 0)} "
            f"allowed by Docker's default seccomp profile ({surf.get('needed_outside_default', 0)} needed "
            "outside it)."
        )
    out.append("")
    for t in data["targets"]:
        out.append(f"## {t['target']}: {t['label']}\n")
        if t["model_error"]:
            out.append(f"Model error: {_md_escape(t['model_error'])}\n")
        for u in t["undecided"]:
            out.append(f"Unknown: {_md_escape(u)}\n")
        if t["blocker_details"]:
            out.append("Blocked by:\n")
            for b in t["blocker_details"]:
                ev = _evidence(b["evidence"], 400)
                out.append(f"- **{b['item']}** ({_md_escape(plain_rule(b['rule']))}): {_md_escape(ev)}")
                out.append(f"  - remedy: {_md_escape(b['remedy'])}")
            out.append("")
        apart = [i for i in t["items"] if i["category"] != "need"]
        if apart:
            out.append("Not needs (never block):\n")
            for i in apart:
                ev = _evidence(i["evidence"], 200)
                why = _md_escape(plain_rule(i["rule"]))
                out.append(f"- {i['item']}: {i['category'].replace('-', ' ')} ({why}): {_md_escape(ev)}")
            out.append("")
        shown = [
            i for i in t["items"] if i["support"] in ("stubbable", "faked") and i["category"] == "need"
        ]
        imported_only = [i for i in shown if data["traced"] and i["evidence"][:1] == ["evidence: static"]]
        shown = [i for i in shown if i not in imported_only]
        if shown:
            out.append("Stubbed or faked:\n")
            out.append("| item | how | why it is safe | evidence |")
            out.append("|---|---|---|---|")
            for i in shown:
                ev = _md_escape(_evidence(i["evidence"], 240))
                why = _md_escape(plain_rule(i["rule"]))
                out.append(f"| {i['item']} | {i['support']} | {why} | {ev} |")
            out.append("")
        if imported_only:
            names = ", ".join(i["item"] for i in imported_only)
            out.append(
                f"In the program's code but never called while traced ({len(imported_only)}; a stub is "
                f"enough): {names}\n"
            )
        notes = data["notes"].get(t["target"])
        if notes:
            out.append("Recipe notes:\n")
            out.extend(f"- {_md_escape(n)}" for n in notes)
            out.append("")
    if "container" in data["notes"]:
        out.append("## container (fallback)\n")
        out.extend(f"- {_md_escape(n)}" for n in data["notes"]["container"])
        out.append("")
    if data["findings"]:
        out.append("## Static findings\n")
        for f in data["findings"]:
            span = f["span"]
            where = f"{span['file']}:{span['line']}:{span['column']}" if span else "image"
            out.append(f"- {where}: {f['severity']} {f['rule']} {_md_escape(f['message'])}")
        out.append("")
    if data["verify"] is not None:
        out.append("## Verification: each recipe booted and probed\n")
        out.append("| target | result | boot to first reply | accelerator | image | memory | console |")
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        for target, v in data["verify"].items():
            secs = f"{v['boot_to_reply_s']:.2f} s" if v["boot_to_reply_s"] is not None else "—"
            size = human_size(v["image_bytes"]) if v["image_bytes"] else "—"
            mem = f"{v['memory_mib']} MiB" if v["memory_mib"] else "—"
            log = f"`{v['console_log']}`" if v["console_log"] else "—"
            accel = v["accelerator"] or "—"
            out.append(f"| {target} | {v['status']} | {secs} | {accel} | {size} | {mem} | {log} |")
        out.append("")
        for target, v in data["verify"].items():
            out.append(f"- {target}: {_md_escape(v['detail'])}")
        out.append("")
    out.append("Files: " + ", ".join(f"`{f}`" for f in data["files"]))
    return "\n".join(out).rstrip() + "\n"


def render_convert_text(result: ConvertResult) -> str:
    """The short stdout summary of `dockuni convert --format text`."""
    data = convert_to_json(result)
    lines: list[str] = []
    for t in data["targets"]:
        state = t["label"]
        mark = f" (rank {t['rank']})" if t["rank"] else ""
        c = t["counts"]
        lines.append(
            f"{t['target']}: {state}{mark}  {c['missing']} missing, {c['stubbable']} stubbed, "
            f"{c['faked']} faked, {c['supported']} provided"
            + (f" ({c['imported_only']} of them never called while traced)" if c["imported_only"] else "")
        )
        for b in t["blocker_details"][:5]:
            lines.append(f"  - {b['item']}: {plain_rule(b['rule'])}")
            lines.append(f"    remedy: {b['remedy']}")
        if len(t["blocker_details"]) > 5:
            lines.append(f"  ... and {len(t['blocker_details']) - 5} more (report.md)")
        if t["model_error"]:
            lines.append(f"  model error: {t['model_error']}")
        v = (data["verify"] or {}).get(t["target"])
        if v is not None and v["status"] == "answered":
            lines.append(f"  booted: first reply after {v['boot_to_reply_s']:.2f} s ({v['accelerator']})")
        elif v is not None and v["status"] == "skipped":
            lines.append(f"  not booted: {v['detail']}")
    for r in data["rewrites"]:
        lines.append(f"rewrite: {r}")
    probing = result.probing
    if probing:
        injections = probing.get("injections")
        lines.append(
            f"probed {len(injections) if isinstance(injections, list) else 0} item(s) by fault injection in "
            f"{probing.get('runs')} run(s), {probing.get('seconds')} s"
            + (" (cached)" if probing.get("cached") else "")
        )
    for u in data["unverified"]:
        lines.append(f"not verified: {u}")
    lines.extend(data["story"])
    if data["emitted"]:
        lines.append(f"wrote {', '.join(data['emitted'])} to {result.output}/")
    else:
        lines.append(f"wrote the report to {result.output}/")
    return "\n".join(lines) + "\n"
