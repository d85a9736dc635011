"""The parser's word splitter for heredoc detection: BuildKit's lexer as its parser runs it.

BuildKit's parser (``heredocsFromLine``/``heredocFromMatch`` in moby/buildkit
frontend/dockerfile/parser/parser.go, v0.12) runs its shell lexer (``ProcessWords``) over the
instruction line with an empty environment and ``SkipUnsetEnv``, so ``$VAR``/``${VAR...}`` come
back verbatim; with ``RawQuotes``/``RawEscapes`` quotes and escapes are kept too. Which words are
heredoc operators, the delimiter name and whether the body expands all follow from the lexer's
quirks (shell_lex.py): a space produced by a ``${...}`` expansion splits words; a lexing error on
the line means "no heredocs"; a lexing error on the delimiter word is a parse error. The escape
token is always ``\\`` here, whatever the ``# escape=`` directive says, as in BuildKit.
"""

from __future__ import annotations

from transpile.syntax.shell_lex import ShellLex, ShellLexError

__all__ = ["ShellLexError", "process_words"]

_LEXERS = {
    (quotes, escapes): ShellLex(raw_quotes=quotes, raw_escapes=escapes, skip_unset_env=True, patterns=False)
    for quotes in (False, True)
    for escapes in (False, True)
}


def process_words(src: str, *, raw_quotes: bool, raw_escapes: bool) -> list[str]:
    """``Lex.ProcessWords`` with an empty environment; raises :class:`ShellLexError`."""
    return _LEXERS[raw_quotes, raw_escapes].process_words(src)
