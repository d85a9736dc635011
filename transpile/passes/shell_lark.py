"""The lark side of the shell parser: building ``grammar/shell.lark`` with lark, and writing its
LALR tables to ``grammar/shell.tables.json`` for the lark-free driver in ``transpile.passes.shell``.

``dockuni check`` does not import lark to parse shell scripts: it loads the generated tables and
runs them (importing and building lark costs about as much as checking a hundred Dockerfiles).
Regenerate the tables after any change to the grammar (a test fails until then)::

    python3 -m transpile.passes.shell_lark

Lark stays the reference: the tables are its own LALR tables, and tests/passes compares the
driver's trees and errors with lark's.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from transpile.syntax.grammars import import_lark

import_lark()

from lark import Lark  # noqa: E402 - after import_lark(), which keeps lark off `regex`
from lark.lexer import Lexer, Token  # noqa: E402

TABLES_FORMAT = 1


class TokenFeed(Lexer):
    """The 'text' handed to ``parse()`` is the tokenizer's token list; yield it as lark tokens."""

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, data: Any) -> Iterator[Token]:  # type: ignore[override]
        for tok in data:
            yield Token(tok.type, tok.text, start_pos=tok.start, end_pos=tok.end)


def build(grammar: str) -> Lark:
    try:
        return Lark(grammar, parser="lalr", lexer=TokenFeed, cache=True)
    except OSError:
        # An unwritable temp dir only costs the table cache, never the parse.
        return Lark(grammar, parser="lalr", lexer=TokenFeed)


def grammar_digest(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()


def tables(grammar: str) -> dict[str, Any]:
    """Lark's LALR table for ``grammar`` and, per rule, what lark's tree builder does on a reduce.

    rules[i] = [rule name (for the goto), tree name (the alias, else the rule name), number of
    symbols, expand a single child (``?rule`` without alias), indices of the children kept, which
    of them are spliced into the parent (``_rule``s, such as lark's generated repetitions)].
    No terminal of this grammar is filtered out (all are %declare'd).
    """
    parser = Lark(grammar, parser="lalr", lexer=TokenFeed)
    table = parser.parser.parser.parser.parse_table
    rules: list[Any] = []
    index: dict[Any, int] = {}

    def rule_id(rule: Any) -> int:
        if rule not in index:
            index[rule] = len(rules)
            name = str(rule.alias or rule.origin.name)
            keep = [
                i
                for i, sym in enumerate(rule.expansion)
                if parser.options.keep_all_tokens or not (sym.is_term and sym.filter_out)
            ]
            splice = [
                i for i in keep if not rule.expansion[i].is_term and rule.expansion[i].name.startswith("_")
            ]
            expand1 = bool(rule.options.expand1 and not rule.alias)
            rules.append([str(rule.origin.name), name, len(rule.expansion), expand1, keep, splice])
        return index[rule]

    # lark numbers states in set-iteration order, which changes with PYTHONHASHSEED; renumbering
    # them breadth-first from the start state (symbols in sorted order) makes the file canonical.
    start = table.start_states["start"]
    number = {start: 0}
    order = [start]
    states: dict[str, dict[str, list[int]]] = {}
    for state in order:
        row: dict[str, list[int]] = {}
        for symbol, (action, arg) in sorted(table.states[state].items()):
            if action.name == "Shift":
                if arg not in number:
                    number[arg] = len(order)
                    order.append(arg)
                row[symbol] = [0, number[arg]]
            else:
                row[symbol] = [1, rule_id(arg)]
        states[str(number[state])] = row
    if len(order) != len(table.states):  # pragma: no cover - every LR(0) state is reachable
        raise ValueError("unreachable parser states")
    return {
        "format": TABLES_FORMAT,
        "grammar_sha256": grammar_digest(grammar),
        "start_state": 0,
        "end_state": number[table.end_states["start"]],
        "rules": rules,
        "states": states,
    }


def render(grammar: str) -> str:
    return json.dumps(tables(grammar), sort_keys=True, separators=(",", ":")) + "\n"


def main() -> int:
    from transpile.passes.shell import TABLES_NAME, grammar_path

    source = grammar_path("shell.lark")
    out = grammar_path(TABLES_NAME)
    text = render(source.read_text(encoding="utf-8"))
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    sys.stdout.write(f"wrote {out.name} ({len(text)} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
