"""The lark side of the shell parser: a lexer class that feeds pre-made tokens to lark's LALR parser.

Kept in its own module (imported lazily by ``transpile.passes.shell``) because lark's on-disk
table cache pickles the lexer class, which must therefore live at module level.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lark import Lark
from lark.lexer import Lexer, Token


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
