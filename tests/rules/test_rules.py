"""Every rule on its own fixture (exact id, line and column), the clean fixtures, negative cases."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from transpile import data, ir
from transpile.check import check_parsed
from transpile.config import Config
from transpile.rules.registry import RULE_MODULES, all_rules
from transpile.syntax import parse_text

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "rules"
DOCS = ROOT / "docs" / "rules"


def run(text: str, name: str = "Dockerfile") -> list[tuple[str, int, int]]:
    findings = check_parsed(parse_text(text, name), text, Config(), all_rules())
    return [(f.rule, f.span.line, f.span.column) for f in findings if f.span]


def run_file(path: Path) -> list[tuple[str, int, int]]:
    return run(path.read_text(), str(path))


EXPECTED: dict[str, list[tuple[str, int, int]]] = {
    "DU201": [("DU201", 4, 1)],
    "DU202": [("DU202", 5, 14)],
    "DU203": [("DU203", 7, 7)],
    "DU204": [("DU201", 6, 1), ("DU204", 6, 5)],
    "DU205": [("DU205", 4, 7)],
    "DU206": [("DU206", 4, 1)],
    "DU301": [("DU301", 4, 10)],
    "DU302": [("DU302", 3, 12), ("DU302", 4, 12)],
    "DU401": [("DU401", 3, 6)],
    "DU501": [("DU501", 3, 17)],
    "DU601": [("DU601", 2, 6)],
    "DU701": [("DU701", 4, 1)],
    "DU702": [("DU702", 2, 23), ("DU702", 3, 5)],
    "DU703": [("DU703", 7, 18)],  # and nothing about the build stage's USER
}


def test_every_rule_has_a_fixture_an_expectation_and_a_doc_page() -> None:
    ids = [rule.id for rule in all_rules()]
    assert sorted(ids) == sorted(EXPECTED)
    assert sorted(p.stem for p in (FIXTURES / "bad").glob("*.Dockerfile")) == sorted(ids)
    for rule in all_rules():
        page = DOCS / f"{rule.id}.md"
        assert page.is_file(), page
        text = page.read_text()
        assert text.startswith(f"# {rule.id}"), page
        for target in rule.targets:
            assert target in text, (page, target)
        assert rule.doc.endswith(f"docs/rules/{rule.id}.md")
    index = (DOCS / "README.md").read_text()
    for rule_id in ids:
        assert f"[{rule_id}]({rule_id}.md)" in index


def test_rule_modules_declare_their_metadata() -> None:
    for name in RULE_MODULES:
        module = importlib.import_module(f"transpile.rules.{name}")
        assert re.fullmatch(r"du\d{3}_[a-z0-9_]+", name)
        assert name[:5].upper() == module.ID
        assert module.SEVERITY in ir.SEVERITY_ORDER
        assert module.NEED in data.facilities()
        assert not hasattr(module, "TARGETS")  # no rule names a target
        assert module.TITLE and module.HINT


@pytest.mark.parametrize("rule_id", sorted(EXPECTED))
def test_rule_flags_its_fixture(rule_id: str) -> None:
    assert run_file(FIXTURES / "bad" / f"{rule_id}.Dockerfile") == EXPECTED[rule_id]


@pytest.mark.parametrize("path", sorted((FIXTURES / "clean").glob("*.Dockerfile")), ids=lambda p: p.stem)
def test_clean_fixture_has_no_finding(path: Path) -> None:
    assert run_file(path) == []


def rules_of(text: str) -> list[str]:
    return [rule for rule, _, _ in run(text)]


BASE = "FROM dockuni-test/debian:bookworm\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # quoting: a quoted & is an argument, 'daemon off;' is one word
        ("CMD echo \"a & b\" && exec nginx -g 'daemon off;'\n", ["DU201"]),
        ('CMD ["sh", "-c", "echo \'x & y\'; exec nginx -g \'daemon off;\'"]\n', ["DU202"]),
        ('CMD ["nginx", "-g", "daemon off;"]\n', []),
        ('CMD ["nginx"]\n', ["DU205"]),
        ('CMD ["nginx", "-s", "reload"]\n', []),
        ('CMD ["redis-server", "--daemonize", "no"]\n', []),
        ('CMD ["apachectl", "-k", "start"]\n', ["DU205"]),
        ('CMD ["httpd", "-DFOREGROUND"]\n', []),
        # processes
        ('ENTRYPOINT ["tini", "--"]\nCMD ["python3", "app.py"]\n', ["DU203"]),
        ('CMD ["/usr/sbin/sshd", "-D"]\n', ["DU203"]),
        ("CMD service nginx start && tail -f /dev/null\n", ["DU201", "DU204"]),
        ("CMD nginx; redis-server\n", ["DU201", "DU204", "DU205"]),
        ('CMD ["sh", "-c", "nohup worker >/dev/null 2>&1 & exec server"]\n', ["DU202", "DU204"]),
        ("CMD exec python3 -m http.server 8000\n", ["DU201"]),
        ('CMD ["bash", "/start.sh"]\n', ["DU202"]),
        ('COPY run.sh /app/\nWORKDIR /app\nENTRYPOINT ["./run.sh"]\n', ["DU202"]),
        # files and logs
        ('RUN echo "ln -s /dev/stdout /x"\n', []),
        ("RUN ln /dev/stdout /x\n", []),
        ("RUN ln --symbolic /dev/stderr /var/log/app.log\n", ["DU302"]),
        ("RUN <<EOF\nln -sf /dev/stdout /var/log/a.log\nEOF\n", ["DU302"]),
        ("RUN <<EOF\n#!/bin/bash\nln -sf /dev/stdout /var/log/a.log\nEOF\n", ["DU302"]),
        # here-documents fed to another interpreter are not shell
        ("RUN <<EOF python3\nprint('ln -s /dev/stdout /x & apt-get install y')\nEOF\n", []),
        ("RUN <<EOF\n#!/usr/bin/env python3\nprint('ln -s /dev/stdout /x')\nEOF\n", []),
        # users, ports, platforms
        ("USER root\n", []),
        ("USER 0:0\n", []),
        ("USER 1000\n", ["DU401"]),
        ("EXPOSE 53/udp 80\n", []),
        ("HEALTHCHECK NONE\n", []),
        ('VOLUME /data\nVOLUME ["/logs"]\n', ["DU301", "DU301"]),
        # package managers: conservative
        ("RUN apk add --no-cache curl\n", []),
        ("RUN apk add curl && rm -rf /var/cache/apk/*\n", []),
        ("RUN apk add curl\n", ["DU702"]),
        ("RUN pip install --no-cache-dir flask\n", []),
        ("RUN python3 -m pip install flask\n", ["DU702"]),
        ("RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n", []),
        ('RUN ["apt-get", "install", "-y", "curl"]\n', ["DU702"]),
        ("RUN echo apt-get install curl\n", []),
    ],
)
def test_cases(body: str, expected: list[str]) -> None:
    assert rules_of(BASE + body) == expected


def test_build_stage_package_installs_and_platforms_do_not_count() -> None:
    text = (
        "FROM --platform=$BUILDPLATFORM dockuni-test/gcc:bookworm AS build\n"
        "RUN apt-get update && apt-get install -y make\n"
        'FROM --platform=linux/amd64 scratch\nCOPY --from=build /app /app\nENTRYPOINT ["/app"]\n'
    )
    assert rules_of(text) == []


def test_derived_stage_inherits_what_it_is_judged_on() -> None:
    text = "FROM debian AS base\nUSER app\nVOLUME /data\nCMD nginx\nFROM base\n"
    assert run(text) == [
        ("DU401", 2, 6),
        ("DU301", 3, 8),
        ("DU201", 4, 1),
        ("DU205", 4, 5),
    ]


def test_findings_carry_rule_metadata() -> None:
    text = (FIXTURES / "bad" / "DU205.Dockerfile").read_text()
    (found,) = check_parsed(parse_text(text, "x"), text, Config(), all_rules())
    assert found.severity == "error" and found.targets == ("unikraft", "nanos", "osv")
    assert found.hint and found.span is not None
    assert (found.span.line, found.span.column, found.span.end_column) == (
        4,
        7,
        7 + len('"redis-server"') - 2,
    )
