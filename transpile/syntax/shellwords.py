"""BuildKit's shell word splitter, as far as the parser uses it: finding heredoc delimiters.

BuildKit's parser (``heredocsFromLine``/``heredocFromMatch`` in moby/buildkit
frontend/dockerfile/parser/parser.go, v0.12) runs its shell lexer (frontend/dockerfile/shell/lex.go,
``ProcessWords``) over the instruction line with an empty environment and ``SkipUnsetEnv``, so
``$VAR``/``${VAR...}`` come back verbatim; with ``RawQuotes``/``RawEscapes`` quotes and escapes are
kept too. Which words are heredoc operators, the delimiter name and whether the body expands all
follow from this lexer's quirks, so they are reproduced here: a space produced by a ``${...}``
expansion splits words; a lexing error on the line means "no heredocs"; a lexing error on the
delimiter word is a parse error.
"""

from __future__ import annotations

from transpile.syntax.golike import is_space

_EOF = ""


class ShellLexError(Exception):
    pass


class _Words:
    __slots__ = ("in_word", "size", "word", "words")

    def __init__(self) -> None:
        self.word: list[str] = []
        self.size = 0  # characters in ``word``: a quoted "" adds a piece but no length
        self.words: list[str] = []
        self.in_word = False

    def _flush(self) -> None:
        self.words.append("".join(self.word))
        self.word = []
        self.size = 0
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            if self.in_word and self.size:
                self._flush()
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.word.append(ch)
        self.size += 1
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw_string(self, s: str) -> None:
        self.word.append(s)
        self.size += len(s)
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.size:
            self._flush()
        return self.words


class _Lexer:
    """One ``shellWord`` run over ``src`` (escape token ``\\``, no variables set)."""

    def __init__(self, src: str, raw_quotes: bool, raw_escapes: bool) -> None:
        self.src = src
        self.pos = 0
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.escape = "\\"

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else _EOF

    def next(self) -> str:
        if self.pos < len(self.src):
            ch = self.src[self.pos]
            self.pos += 1
            return ch
        return _EOF

    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._process_stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _process_stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while self.peek() != _EOF:
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.get_words()
            if ch in "$'\"":
                if ch == "$":
                    tmp = self.process_dollar()
                    result.append(tmp)
                    words.add_string(tmp)
                else:
                    tmp = self.process_single_quote() if ch == "'" else self.process_double_quote()
                    result.append(tmp)
                    words.add_raw_string(tmp)
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    words.add_raw_char(ch)
                    result.append(ch)
                ch = self.next()
                if ch == _EOF:
                    break
                words.add_raw_char(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise ShellLexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get_words()

    def process_single_quote(self) -> str:
        result: list[str] = []
        ch = self.next()
        if self.raw_quotes:
            result.append(ch)
        while True:
            ch = self.next()
            if ch == _EOF:
                raise ShellLexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.raw_quotes:
                    result.append(ch)
                return "".join(result)
            result.append(ch)

    def process_double_quote(self) -> str:
        result: list[str] = []
        ch = self.next()
        if self.raw_quotes:
            result.append(ch)
        while True:
            p = self.peek()
            if p == _EOF:
                raise ShellLexError("unexpected end of statement while looking for matching double-quote")
            if p == '"':
                ch = self.next()
                if self.raw_quotes:
                    result.append(ch)
                return "".join(result)
            if p == "$":
                result.append(self.process_dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    result.append(ch)
                p = self.peek()
                if p == _EOF:
                    continue
                if p in ('"', "$", self.escape):
                    ch = self.next()
            result.append(ch)

    def process_dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.process_name()
            return "$" + name  # unset and SkipUnsetEnv: kept verbatim ("$" alone when no name)
        self.next()
        p = self.peek()
        if p == _EOF:
            raise ShellLexError("syntax error: missing '}'")
        if p in "{}:":
            raise ShellLexError("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        chs = ch if ch != _EOF else "\ufffd"  # Go: string(rune(EOF))
        if ch == "}":
            return "${" + name + "}"
        if ch == ":":
            # ${name:X...}: any X is read here; only the value lookup (never made: nothing is set)
            # would reject an unknown one.
            ch = self.next()
            chs += ch if ch != _EOF else "\ufffd"
            return self._modifier(name, chs)
        if ch != _EOF and ch in "+-?":
            return self._modifier(name, chs)
        # v0.12 knows neither ${name#pattern}/${name%pattern} nor ${name/pattern/repl}.
        raise ShellLexError(f"unsupported modifier ({chs}) in substitution")

    def _modifier(self, name: str, chs: str) -> str:
        try:
            word, _ = self.process_stop_on("}", self.raw_escapes)
        except ShellLexError:
            if self.peek() == _EOF:
                raise ShellLexError("syntax error: missing '}'") from None
            raise
        return "${" + name + chs + word + "}"

    def process_name(self) -> str:
        name: list[str] = []
        while self.peek() != _EOF:
            ch = self.peek()
            if not name and ch.isdecimal():
                while self.peek() != _EOF and self.peek().isdecimal():
                    name.append(self.next())
                return "".join(name)
            if not name and ch in "@*#?-$!0":
                return self.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name.append(self.next())
        return "".join(name)


def process_words(src: str, *, raw_quotes: bool, raw_escapes: bool) -> list[str]:
    """``Lex.ProcessWords`` with an empty environment; raises :class:`ShellLexError`."""
    # The lexer reads through Go's text/scanner, which skips a byte order mark at the very start of
    # its input (and only there): `RUN <<\ufeffEOT` names a heredoc EOT.
    if src.startswith("\ufeff"):
        src = src[1:]
    lexer = _Lexer(src, raw_quotes, raw_escapes)
    _, words = lexer.process_stop_on(_EOF, raw_escapes)
    return words
