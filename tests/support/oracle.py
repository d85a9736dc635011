"""Differential-test oracles: BuildKit's own Go parser (PyPI ``dockerfile``) and dockerfile-parse.

Test-only. ``compare_with_buildkit(text)`` returns a list of human-readable mismatches between
``parse_text`` and BuildKit's parser, field by field, including whether the input is an error.

What the BuildKit wrapper (``dockerfile`` 3.4.0, BuildKit v0.12.5) cannot show, and how we
account for it:

* it hands the text to Go as a C string, so it stops at the first NUL: such inputs are skipped;
* it builds Python str from Go strings, so where BuildKit produced invalid UTF-8 (a byte-wise
  walker cutting a multi-byte character) it raises UnicodeDecodeError: such inputs are skipped;
* it reports an ONBUILD node's fields from the trigger node, whose heredocs are empty (BuildKit
  attaches them to the ONBUILD node itself), so for ONBUILD we compare heredocs as absent and
  ``original`` up to the first newline;
* it reports the instruction name as written; ours is lower-case (compared lower-cased, Go's way);
* it has no columns, no directives list, no warnings and no error line numbers;
* v0.12.5 predates the ``# check=`` directive, and always parses heredocs where we follow a
  ``# syntax=docker/dockerfile:1.2``-style directive: the generators produce neither (unit tests
  in test_parser.py cover both).
"""

from __future__ import annotations

from typing import Any

import dockerfile

from transpile.errors import DockuniError
from transpile.syntax import golike
from transpile.syntax.ast import Node, ParsedFile
from transpile.syntax.parser import parse_text

_UINT64 = 2**64


class Skip(Exception):
    """The oracle cannot express this input."""


def buildkit(text: str) -> tuple[Any, ...] | str:
    """The oracle's commands, or its error message (a str)."""
    if "\x00" in text:
        raise Skip("NUL byte: the wrapper passes a C string")
    try:
        return tuple(dockerfile.parse_string(text))
    except dockerfile.GoParseError as exc:
        return str(exc)
    except UnicodeDecodeError as exc:
        raise Skip("BuildKit produced a non-UTF-8 string") from exc


def ours(text: str) -> ParsedFile | str:
    try:
        return parse_text(text)
    except DockuniError as err:
        return err.message


def _expect(node: Node) -> dict[str, Any]:
    """Our node, projected onto what the oracle can show."""
    original = node.original
    heredocs = [(h.name, h.file_descriptor, h.content) for h in node.heredocs]
    if node.cmd == "onbuild":
        original = original.split("\n", 1)[0]
        heredocs = []
    return {
        "cmd": node.cmd,
        "sub_cmd": node.sub_cmd,
        "json": node.json,
        "original": original,
        "start_line": node.start_line,
        "end_line": node.end_line,
        "flags": list(node.flags),
        "value": list(node.value),
        "heredocs": heredocs,
    }


def _actual(cmd: Any) -> dict[str, Any]:
    return {
        "cmd": golike.go_lower(cmd.cmd or ""),
        "sub_cmd": golike.go_lower(cmd.sub_cmd or ""),
        "json": cmd.json,
        "original": cmd.original or "",
        "start_line": cmd.start_line,
        "end_line": cmd.end_line,
        "flags": list(cmd.flags),
        "value": list(cmd.value),
        "heredocs": [(h.name, h.file_descriptor % _UINT64, h.content) for h in cmd.heredocs],
    }


def compare_with_buildkit(text: str) -> list[str]:
    theirs = buildkit(text)
    mine = ours(text)
    if isinstance(theirs, str) or isinstance(mine, str):
        if isinstance(theirs, str) and isinstance(mine, str):
            return [] if theirs == mine else [f"error message: buildkit {theirs!r} ours {mine!r}"]
        return [f"error disagreement: buildkit {_short(theirs)} ours {_short(mine)}"]
    problems: list[str] = []
    if len(theirs) != len(mine.nodes):
        problems.append(f"{len(theirs)} instructions in buildkit, {len(mine.nodes)} in ours")
    for i, (cmd, node) in enumerate(zip(theirs, mine.nodes, strict=False)):
        exp, act = _expect(node), _actual(cmd)
        for key in exp:
            if exp[key] != act[key]:
                problems.append(f"instruction {i + 1} {key}: buildkit {act[key]!r} ours {exp[key]!r}")
    return problems


def _short(x: object) -> str:
    if isinstance(x, str):
        return f"error {x!r}"
    if isinstance(x, ParsedFile):
        return f"{len(x.nodes)} instructions"
    return f"{len(x)} instructions"  # type: ignore[arg-type]
