"""The shipped LALR tables for grammar/shell.lark: up to date, and parsing exactly as lark does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Token, Tree
from lark.exceptions import LarkError

from transpile.passes import shell, shell_lark

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_tables_file_matches_grammar() -> None:
    shipped = shell.grammar_path(shell.TABLES_NAME).read_text(encoding="utf-8")
    assert shipped == shell_lark.render(shell._grammar_text()), (
        "grammar/shell.tables.json is stale: run `python3 -m transpile.passes.shell_lark`"
    )


def test_tables_are_canonical_across_hash_seeds() -> None:
    import subprocess
    import sys

    code = "from transpile.passes import shell, shell_lark; print(shell_lark.render(shell._grammar_text()))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1


def _lark_shape(node: Any) -> Any:
    if isinstance(node, Token):
        return ("TOKEN", node.type, str(node), node.start_pos)
    assert isinstance(node, Tree)
    return (node.data, [_lark_shape(c) for c in node.children])


def _our_shape(node: Any) -> Any:
    if isinstance(node, str):
        return ("TOKEN", node.type, str(node), node.start_pos)  # type: ignore[attr-defined]
    return (node.data, [_our_shape(c) for c in node.children])


def _both(toks: list[Any]) -> tuple[Any, Any]:
    """(lark's tree or error message, the tables' tree or error message)."""
    try:
        want = _lark_shape(shell._lark_parser().parse(toks))
    except LarkError as err:
        want = ("error", str(err).splitlines()[0])
    try:
        got = _our_shape(shell._tables().parse(toks))
    except shell._ShellSyntax as err:
        got = ("error", str(err))
    return want, got


SCRIPTS = [
    "a && b || c; d & e | f",
    "apt-get update && apt-get install -y nginx && rm -rf /var/lib/apt/lists/*",
    "if [ -f x ]; then a; elif b; then c; else d; fi",
    "while true; do sleep 1; done & wait",
    "until x; do y; done",
    "for i in 1 2 3; do echo $i; done",
    "for i; do :; done",
    "case $x in a|b) one ;; (c) two ;; *) three ;; esac",
    "case $x in a) one;; esac",
    "{ a; b; } > /dev/null 2>&1",
    "( cd /x && make ) | tee log",
    "f() { echo hi; }; f",
    "function g { echo; }",
    "! grep -q x file",
    "echo $(date) `id` > out",
    "x=1 y=2 cmd arg <in >out",
    "a;\nb\n\nc",
    # not shell the grammar accepts: both must reject
    "if a; then b",
    "a && && b",
    "case x in",
    "done",
    "( a",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_tables_parse_like_lark(script: str) -> None:
    toks = shell._Tokenizer(script).run()
    want, got = _both(toks)
    assert got == want


def test_tables_parse_fixture_scripts_like_lark() -> None:
    from transpile.syntax.loader import read_text
    from transpile.syntax.parser import parse_text

    seen = 0
    for path in sorted((ROOT / "fixtures").rglob("*Dockerfile*")):
        if not path.is_file():
            continue
        try:
            parsed = parse_text(read_text(str(path)), str(path))
        except Exception:
            continue
        for node in parsed.nodes:
            if node.cmd in ("run", "cmd", "entrypoint") and not node.json and node.value:
                try:
                    toks = shell._Tokenizer(node.value[0]).run()
                except shell.ShellSyntaxError:
                    continue
                if toks:
                    want, got = _both(toks)
                    assert got == want, node.value[0]
                    seen += 1
    assert seen > 20


_TYPES = [
    "WORD", "REDIR", "SEP", "AMP", "ANDOR", "PIPE", "BANG", "LBRACE", "RBRACE", "LPAREN", "RPAREN",
    "IF", "THEN", "ELIF", "ELSE", "FI", "WHILE", "UNTIL", "DO", "DONE", "FOR", "IN", "CASE", "ESAC",
    "DSEMI", "FUNCTION",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_TYPES + ["WORD"] * 8 + ["SEP"] * 3), min_size=1, max_size=14))
def test_tables_agree_with_lark_on_token_streams(types: list[str]) -> None:
    toks = [shell._Tok(t, f"{t.lower()}{i}", 3 * i, 3 * i + 2) for i, t in enumerate(types)]
    want, got = _both(toks)
    assert got == want


def test_analyze_words_errors_as_lark() -> None:
    script = shell.analyze("if a; then b")
    assert not script.parsed
    assert script.error == "Unexpected token Token('$END', '') at line None, column None."
    assert [c.argv for c in script.commands] == [("if", "a"), ("then", "b")]  # the shlex fallback
