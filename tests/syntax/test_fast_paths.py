"""The parser's shortcuts around the lark grammars decide exactly as the grammars do.

``dockuni check`` reads instruction flags with the grammar's own terminals and exec forms with a
regular expression plus Python's json module instead of building lark parsers (see
transpile/syntax/parser.py and execform.py); these tests hold both to ``grammar/*.lark``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transpile.syntax import golike
from transpile.syntax.execform import NOT_STRING_ARRAY, ExecForm, parse_exec_form, parse_exec_form_lark
from transpile.syntax.parser import _FLAG, _SPACE, _split_command, _split_command_lark

pytestmark = pytest.mark.unit

GRAMMAR = Path(__file__).resolve().parents[2] / "grammar"

# Pieces of JSON-ish text: strings with and without escapes, numbers, nesting, bad tokens.
_JSON_PIECES = st.sampled_from(
    ['"a"', '"b c"', '"é"', '"\\n"', '"\\u00e9"', '"\\ud83d\\ude00"', '"\\ud800"', '"\\x"', '"\t"', '""',
     "1", "-0.5e3", "01", "1e999", "-1e400", "1" * 400, "NaN", "Infinity", "-Infinity", "true", "false",
     "null", "[", "]", "{", "}", ":", ",", " ", "\n", "\r", "\t", "\u00a0", "\u2028", "'s'", "x", '"',
     "\\", "tru", "[]", "{}", '{"k": 1}', '["n"]'])  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(_JSON_PIECES, max_size=12))
def test_exec_form_shortcut_matches_grammar(pieces: list[str]) -> None:
    rest = golike.trim_space("[" + "".join(pieces))
    text = golike.trim_left_space(rest)
    assert parse_exec_form(rest) == parse_exec_form_lark(text, rest)


def test_exec_form_shortcut_cases() -> None:
    assert parse_exec_form('["a", "b\\tc"] trailing') == ExecForm(("a", "b\tc"))
    assert parse_exec_form("[ ]") == ExecForm(())
    assert parse_exec_form('["echo", 1]') == ExecForm(None, NOT_STRING_ARRAY, 0)
    assert parse_exec_form('["a", [1e999]]') == ExecForm(None)  # Go cannot decode the number
    assert parse_exec_form("[NaN]") == ExecForm(None)
    assert parse_exec_form('["a",]') == ExecForm(None)
    deep = "[" * 5000 + "]" * 5000  # beyond Python's recursion limit: the grammar decides
    assert parse_exec_form(deep) == ExecForm(None, NOT_STRING_ARRAY, 0)


def test_flag_terminals_are_the_grammars() -> None:
    grammar = (GRAMMAR / "instruction.lark").read_text(encoding="utf-8")
    terminals = dict(re.findall(r"^(\w+): /(.*)/$", grammar, re.MULTILINE))
    assert terminals["FLAG"] == _FLAG.pattern
    assert terminals["_SPACE"] == _SPACE.pattern


_FLAG_WORDS = st.sampled_from(
    ["--mount=type=cache,target=/root/.cache", "--network=none", "--", "--from=build", "--chown=1:1",
     "--x='a b'", '--y="q r"', "--z=a\\ b", "--é=1", "--link", "-x", "arg", "--a=b\u00a0c", "\u0085",
     "--'unterminated", '--"', "--\\", "--q='it''s'", "\u00e9t\u00e9", "--", '""', "--\u2003x"]
)  # fmt: skip
_SPACES = st.sampled_from([" ", "  ", "\t", " \t ", "\v", "\f", "\u00a0", " \u0085 "])


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(["RUN", " COPY", "add", "RÜN"]),
    st.sampled_from([" ", "\t", "  "]),
    _FLAG_WORDS.filter(lambda w: w.startswith("--")),
    st.lists(st.tuples(_SPACES, _FLAG_WORDS), max_size=6),
)
def test_flag_shortcut_matches_grammar(
    keyword: str, sep: str, first: str, words: list[tuple[str, str]]
) -> None:
    # A line whose arguments start with "--": where _split_command leaves its no-flags shortcut.
    line = keyword + sep + first + "".join(space + word for space, word in words)
    trimmed = golike.trim_space(line)
    lead = len(line) - len(golike.trim_left_space(line))
    assert _split_command(line) == _split_command_lark(trimmed, lead)


def test_flag_shortcut_cases() -> None:
    line = "RUN --mount=type=cache,target=/c --network=none  pip install x"
    flags = ("--mount=type=cache,target=/c", "--network=none")
    assert _split_command(line) == ("RUN", flags, "pip install x", line.index("pip"))
    quoted = "RUN --mount=\"type=secret,id=a b\" --x='y z' -- --not-a-flag"
    assert _split_command(quoted) == (
        "RUN", ("--mount=type=secret,id=a b", "--x=y z"), "--not-a-flag", quoted.index("--not"),
    )  # fmt: skip
