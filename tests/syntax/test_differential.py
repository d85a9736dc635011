"""The proof: our parser and BuildKit's own (PyPI ``dockerfile``) agree field by field.

Fixtures in fixtures/dockerfiles/ and hypothesis-composed inputs; "agree" includes agreeing on
which inputs are errors, and on the error message. See tests/support/oracle.py for what the
oracle cannot show. dockerfile-parse is a second oracle on the inputs where it is right.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from hypothesis import HealthCheck, assume, given, settings

from tests.support.oracle import Skip, buildkit, compare_with_buildkit
from tests.support.strategies import dockerfile_text, instruction_line
from transpile.errors import DockuniError
from transpile.syntax import parse_text
from transpile.syntax.ast import ParsedFile

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dockerfiles"
FIXTURE_FILES = sorted(FIXTURES.glob("*.Dockerfile"))


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def test_fixture_corpus_is_broad() -> None:
    assert len(FIXTURE_FILES) >= 40
    errors = [p for p in FIXTURE_FILES if isinstance(buildkit(_read(p)), str)]
    assert len(errors) >= 6, "error inputs must be part of the corpus"
    assert any(p.name.startswith("realworld-") for p in FIXTURE_FILES)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_fixture_matches_buildkit(path: Path) -> None:
    assert compare_with_buildkit(_read(path)) == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfile_text())
def test_generated_files_match_buildkit(text: str) -> None:
    try:
        problems = compare_with_buildkit(text)
    except Skip:
        assume(False)
    assert problems == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instruction_line())
def test_generated_single_instructions_match_buildkit(line: str) -> None:
    try:
        problems = compare_with_buildkit("FROM scratch\n" + line + "\n")
    except Skip:
        assume(False)
    assert problems == []


def test_differences_are_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: a wrong parse is reported field by field, a wrong verdict too."""
    real = parse_text

    def off_by_one(text: str, filename: str = "Dockerfile") -> ParsedFile:
        parsed = real(text, filename)
        node = replace(parsed.nodes[0], end_line=parsed.nodes[0].end_line + 1, value=("x",))
        return replace(parsed, nodes=(node,))

    monkeypatch.setattr("tests.support.oracle.parse_text", off_by_one)
    problems = compare_with_buildkit("FROM a\n")
    assert any("end_line" in p for p in problems) and any("value" in p for p in problems)
    monkeypatch.setattr("tests.support.oracle.parse_text", lambda text, filename="": real("FROM a\n"))
    assert compare_with_buildkit("ENV onlyname\n") == [
        "error disagreement: buildkit error 'ENV must have two arguments' ours 1 instructions"
    ]


# --- dockerfile-parse, the second oracle ------------------------------------------------------

# Where dockerfile-parse 2.0.1 is wrong (docs/parser.md lists these): heredoc bodies become
# instructions; an empty continuation line ends the instruction; a line ending in an escaped
# escape (`C:\\`) still continues; a line holding only the escape character is an instruction; a
# continuation at end of file is dropped; a UTF-8 BOM is part of the first instruction.
_ESCAPED_ESCAPE_AT_EOL = re.compile(r"(\\\\|``)[ \t]*\r?$", re.MULTILINE)
_LONE_ESCAPE_LINE = re.compile(r"^[ \t]*[\\`][ \t]*\r?$", re.MULTILINE)


def _dockerfile_parse_is_right_on(text: str, parsed: ParsedFile) -> bool:
    if text.startswith("\ufeff") or parsed.warnings:
        return False
    if any(n.heredocs for n in parsed.nodes):
        return False
    if _ESCAPED_ESCAPE_AT_EOL.search(text) or _LONE_ESCAPE_LINE.search(text):
        return False
    return not text.rstrip("\r\n \t").endswith(parsed.escape)


def _dockerfile_parse_view(text: str) -> list[tuple[str, int, int, str]]:
    dfp = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    return [
        (item["instruction"].lower(), item["startline"] + 1, item["endline"] + 1, item["value"])
        for item in dfp.structure
        if item["instruction"] != "COMMENT"
    ]


def _our_view(parsed: ParsedFile) -> list[tuple[str, int, int, str]]:
    out = []
    for n in parsed.nodes:
        parts = n.original.strip().split(None, 1)
        out.append((n.cmd, n.start_line, n.end_line, parts[1].strip() if len(parts) > 1 else ""))
    return out


def test_dockerfile_parse_agrees_where_it_is_right() -> None:
    compared = 0
    for path in FIXTURE_FILES:
        text = _read(path)
        try:
            parsed = parse_text(text)
        except DockuniError:
            continue
        if not _dockerfile_parse_is_right_on(text, parsed):
            continue
        assert _dockerfile_parse_view(text) == _our_view(parsed), path.name
        compared += 1
    assert compared >= 25


@pytest.mark.parametrize(
    "name",
    [
        "heredoc-basic.Dockerfile",
        "continuation-empty-lines.Dockerfile",
        "continuation-trailing-at-eof.Dockerfile",
        "continuation-escaped-escape.Dockerfile",
        "bom-utf8.Dockerfile",
    ],
)
def test_dockerfile_parse_is_wrong_where_documented(name: str) -> None:
    text = _read(FIXTURES / name)
    parsed = parse_text(text)
    assert not _dockerfile_parse_is_right_on(text, parsed)
    assert _dockerfile_parse_view(text) != _our_view(parsed)


# Go's text/scanner skips one byte order mark at the start of what it reads, and BuildKit lexes
# each heredoc delimiter word on its own: a U+FEFF right after << is dropped, a second one or one
# inside quotes or the word is kept.
BOM_HEREDOCS = [
    "RUN <<\ufeffEOT\nx\nEOT\n",
    "RUN <<\ufeff\ufeffEOT\nx\n\ufeffEOT\nEOT\n",
    'RUN <<"\ufeffEOT"\nx\n\ufeffEOT\n',
    'RUN <<"\ufeffEOT"\nx\nEOT\n',
    "RUN <<E\ufeffOT\nx\nE\ufeffOT\n",
    "COPY <<\ufeffa.txt /a\nhello\na.txt\n",
    "RUN <<-\ufeffEOT cat\n\tx\n\tEOT\n",
]


@pytest.mark.parametrize("text", BOM_HEREDOCS)
def test_byte_order_mark_in_heredoc_names_matches_buildkit(text: str) -> None:
    assert compare_with_buildkit(text) == []


LONG_LINES = [
    "RUN a" + " " * 65000 + "b \n",
    "# syntax=a" + " " * 65000 + "b \nRUN x\n",
    "# syntax=" + " " * 65000 + "\nRUN x\n",
    "ENV a " + " " * 65000 + "b \n",
    "RUN " + "\\ " * 32000 + "x\n",
    "CMD [" + '"a",' * 16000 + '"b"]\n',
    "RUN " + "$" * 65000 + "\n",
    "RUN " + "x" * 65536 + "\n",
]


@pytest.mark.parametrize("text", LONG_LINES, ids=lambda t: repr(t[:12]))
def test_64_kib_lines_match_buildkit(text: str) -> None:
    assert compare_with_buildkit(text) == []
