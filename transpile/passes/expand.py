"""Word expansion for lowering: BuildKit's lexer (transpile/syntax/shell_lex.py) with variables.

The Dockerfile dispatcher expands ENV, ARG, LABEL, COPY/ADD, WORKDIR, USER, VOLUME, EXPOSE,
STOPSIGNAL, FROM and the ``--from``/``--chown``/``--platform`` flags with ``ProcessWord`` (one
string) or ``ProcessWords`` (split on unquoted white space after expansion, for EXPOSE and
similar): quotes and escapes removed, unset names expanded to "", the ``${}`` forms of current
BuildKit (Dockerfile 1.7+) including ``${v#p}``, ``${v%p}`` and ``${v/p/r}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from transpile.syntax.shell_lex import Lexed, ShellLex
from transpile.syntax.shell_lex import ShellLexError as ExpansionError

__all__ = ["Expansion", "ExpansionError", "expand_word", "expand_words", "process"]

Expansion = Lexed

_LEXERS = {"\\": ShellLex("\\"), "`": ShellLex("`")}


def process(word: str, env: Mapping[str, str], escape: str = "\\") -> Expansion:
    """The expanded string, its words and which variable names were found and not found."""
    lexer = _LEXERS.get(escape) or ShellLex(escape)
    return lexer.process(word, env)


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word, quotes removed and variables substituted (BuildKit's ``ProcessWord``)."""
    return process(word, env, escape).result


def expand_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expanded and split on unquoted white space (BuildKit's ``ProcessWords``)."""
    return list(process(word, env, escape).words)
