"""Loading the lark grammars in ``grammar/`` and caching the built LALR parsers.

The grammars ship in the wheel as package ``transpile.grammar``; in a source checkout they sit
at the repository's top level. Parsers are built on first use (``dockuni --help`` never pays for
lark) and kept for the process; lark's own ``cache=True`` keeps the built LALR tables on disk
between processes so a cold ``dockuni check`` does not recompute them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lark import Lark


def grammar_text(name: str) -> str:
    try:
        from importlib.resources import files

        return files("transpile.grammar").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # Source checkout: transpile/syntax/grammars.py -> <repo>/grammar/<name>
        return (Path(__file__).resolve().parents[2] / "grammar" / name).read_text(encoding="utf-8")


def _build(name: str) -> Lark:
    from lark import Lark

    try:
        return Lark(grammar_text(name), parser="lalr", lexer="contextual", cache=True)
    except OSError:
        # An unwritable temp dir only costs the table cache, never the parse.
        return Lark(grammar_text(name), parser="lalr", lexer="contextual")


@functools.cache
def instruction_parser() -> Lark:
    return _build("instruction.lark")


@functools.cache
def exec_form_parser() -> Lark:
    return _build("exec_form.lark")
