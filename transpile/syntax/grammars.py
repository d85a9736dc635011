"""Loading the lark grammars in ``grammar/`` and caching the built LALR parsers.

The grammars ship in the wheel as package ``transpile.grammar``; in a source checkout they sit
at the repository's top level. Parsers are built on first use (``dockuni --help`` never pays for
lark) and kept for the process; lark's own ``cache=True`` keeps the built LALR tables on disk
between processes so a cold ``dockuni check`` does not recompute them.
"""

from __future__ import annotations

import functools
import sys
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


def import_lark() -> None:
    """Import lark without its optional ``regex`` module; call before any ``from lark import``.

    lark imports ``regex`` when it is installed only to offer ``Lark(regex=True)``, which no
    grammar here uses; importing it costs ~14 ms, a tenth of ``dockuni check``'s start-up. An
    entry of None in ``sys.modules`` makes that import fail (lark then uses ``re``); it is
    removed again at once, so ``regex`` stays importable for anyone else.
    """
    if "lark" in sys.modules or "regex" in sys.modules:
        return
    sys.modules["regex"] = None  # type: ignore[assignment]
    try:
        import lark  # noqa: F401
    finally:
        del sys.modules["regex"]


def _build(name: str) -> Lark:
    import_lark()
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
