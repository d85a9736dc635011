"""The findings renderers of transpile.report (text, JSON, SARIF) on real check results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from transpile import ir, report
from transpile.check import CheckOptions, CheckResult, FileResult, run_check
from transpile.errors import DockuniError
from transpile.report import (
    format_finding_text,
    render_findings_json,
    render_findings_sarif,
    render_findings_text,
    sarif_log,
)
from transpile.rules.registry import all_rules

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "fixtures" / "rules" / "bad"


def finding(severity: ir.Severity = "warning", span: ir.Span | None = None) -> ir.Finding:
    return ir.Finding("DU201", severity, "the message", span, targets=("unikraft", "osv"), hint="the hint")


def test_text_line_layout_and_colour() -> None:
    span = ir.Span("a/Dockerfile", 3, 7, 3, 12)
    assert format_finding_text(finding(span=span), "a/Dockerfile") == (
        "a/Dockerfile:3:7: WARNING DU201 the message [unikraft,osv] (the hint)"
    )
    coloured = format_finding_text(finding("error", span), "x", color=True)
    assert coloured.startswith("a/Dockerfile:3:7: \x1b[31;1mERROR\x1b[0m \x1b[1mDU201\x1b[0m the message")
    assert coloured.endswith("\x1b[2m (the hint)\x1b[0m")
    assert format_finding_text(finding(span=None), "b/Dockerfile").startswith("b/Dockerfile: WARNING")


def test_renderers_on_a_real_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    files = ["fixtures/rules/bad/DU302.Dockerfile", "fixtures/rules/bad/DU701.Dockerfile"]
    result = run_check(files, CheckOptions())
    text = render_findings_text(result)
    assert text.count("\n") == 3 and "\x1b" not in text
    data = json.loads(render_findings_json(result))
    assert [(d["file"], d["rule"], d["severity"]) for d in data] == [
        (files[0], "DU302", "warning"),
        (files[0], "DU302", "warning"),
        (files[1], "DU701", "info"),
    ]
    log = json.loads(render_findings_sarif(result))
    run = log["runs"][0]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == set(files)  # relative to %SRCROOT%, the working directory
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ROOT.resolve().as_uri() + "/"
    assert [r["level"] for r in run["results"]] == ["warning", "warning", "note"]
    assert run["invocations"][0]["executionSuccessful"] is True
    assert len(run["tool"]["driver"]["rules"]) == len(all_rules())


def test_sarif_for_files_outside_the_working_directory_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    outside = tmp_path / "elsewhere" / "Dockerfile"
    span = ir.Span(str(outside), 2, 1, 2, 10)
    result = CheckResult(
        (
            FileResult(str(outside), (finding("style", span),)),
            FileResult("missing", (), DockuniError("no such file", "missing")),
        ),
        all_rules(),
    )
    log = sarif_log(result)
    res = log["runs"][0]["results"][0]
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": outside.resolve().as_uri()}
    assert loc["region"] == {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 10}
    assert res["level"] == "note" and res["ruleIndex"] == 0
    note = log["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]
    assert (
        note["message"]["text"] == "no such file" and "region" not in note["locations"][0]["physicalLocation"]
    )
    assert result.exit_code == 2
    assert os.getcwd() == str(work)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("loupe:stub_ok=34/86", "34 of the 86 apps Loupe measured passed with it stubbed"),
        ("loupe:fake_ok=2/40", "2 of the 40 apps Loupe measured passed with it faked"),
        ("libc-fallback:clone3", "the C library falls back when clone3 fails"),
        ("imported-never-called;loupe:stub_ok=2/40", "in the program's code, never called while traced"),
        ("table:nanos", "in nanos's syscall table"),
    ],
)
def test_rules_are_said_in_words(rule: str, words: str) -> None:
    assert report.plain_rule(rule) == words
    assert report.plain_rule("no-such-rule:x") == "no-such-rule:x"  # unknown codes stay as they are


def test_long_evidence_is_cut_between_words() -> None:
    text = "; ".join(f"get{n}id belongs to identity.users" for n in ("e", "g", "u", "res", "fs") * 4)
    cut = report.shorten(text, 100)
    assert len(cut) <= 102 and cut.endswith(" …")
    assert cut[:-2] == text[: len(cut) - 2]  # a prefix of the text
    assert text[len(cut) - 2] in ";, "  # ended on a separator, not inside a word
