"""BuildKit's shell lexer (moby/buildkit frontend/dockerfile/shell/lex.go), once, in both its uses.

BuildKit runs one lexer, ``Lex``, in two ways, and so does dockuni:

* **raw**: the parser splits an instruction line into words to find heredoc operators
  (``heredocsFromLine`` in parser.go) with ``RawQuotes``/``RawEscapes`` on, ``SkipUnsetEnv`` and
  an empty environment, so quotes, escapes and every ``$VAR``/``${VAR...}`` come back verbatim;
* **expanding**: the dispatcher expands ENV, ARG, LABEL, COPY/ADD, WORKDIR, USER, ... words with
  the build's variables (``ProcessWord``/``ProcessWords``): quotes and escapes are removed and
  ``$v``, ``${v}``, ``${v:-w}``, ``${v-w}``, ``${v:+w}``, ``${v+w}``, ``${v?m}``, ``${v:?m}``,
  ``${v#p}``, ``${v##p}``, ``${v%p}``, ``${v%%p}``, ``${v/p/r}``, ``${v//p/r}`` are substituted.

:class:`ShellLex` carries lex.go's options (the escape token, ``raw_quotes``, ``raw_escapes``,
``skip_unset_env``) plus ``patterns``, the one difference between BuildKit versions that matters
here: the pattern forms ``${v#p}``/``${v%p}``/``${v/p/r}`` came with Dockerfile 1.7 (BuildKit
v0.13, docker.com "new Dockerfile capabilities v1.7.0"); the v0.12 parser that the differential
oracle embeds rejects them, and reads a ``${v-w}`` word with the caller's ``raw_escapes`` where
v0.13+ reads it without.

Rules taken from lex.go and Go's standard library:

* single quotes keep everything literal; double quotes expand ``$`` and let the escape token
  escape only ``"``, ``$`` and itself; outside quotes the escape token makes the next character
  literal and a trailing one is dropped;
* words split on unquoted ``unicode.IsSpace`` white space from the source or from a ``$``
  expansion, never inside quotes or after the escape token;
* a name is ``unicode.IsLetter``/``IsDigit``/``_``; a leading digit run or one of ``@*#?-$!0`` is
  a whole name; ``$`` followed by no name is literal;
* Go's ``text/scanner`` drops a byte order mark at the very start of the input;
* a character after ``${name`` that is no modifier is ``unsupported modifier``.

Where this differs from lex.go, on purpose (each kept from the former expansion in lowering; the
parser's raw mode cannot reach any of them):

* input ending right after ``${name`` is ``syntax error: missing '}'``; lex.go reports
  ``unsupported modifier`` with U+FFFD (it prints ``string(rune(EOF))``);
* ``*`` and ``?`` in a pattern match a newline too; Go's ``.`` does not without the ``s`` flag;
* ``${v//p/r}`` inserts ``r`` as it is; lex.go's ``ReplaceAllString`` would expand ``$1`` or
  ``${x}`` left in ``r`` (only reachable through quoting, e.g. ``'$1'``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

from transpile.syntax.golike import GO_SPACE

_EOF = ""
_EOF_TEXT = "\ufffd"  # Go: string(rune(scanner.EOF))
_BOM = "\ufeff"
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_EMPTY_ENV: Mapping[str, str] = {}
_NOTHING: frozenset[str] = frozenset()
_GO_SPACES = re.compile("[" + re.escape("".join(sorted(GO_SPACE))) + "]+")


class ShellLexError(ValueError):
    """A lexing error or a ``${v?message}`` on an unset variable; ``message`` is BuildKit's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Lexed(NamedTuple):
    """What ``Lex.process`` returns: ProcessWord's string, ProcessWords' words, the names looked up."""

    result: str
    words: tuple[str, ...]
    matched: frozenset[str]
    unmatched: frozenset[str]


class ShellLex:
    """``shell.Lex`` with its options; ``patterns`` chooses v0.13+ (True) or v0.12 (False)."""

    __slots__ = ("escape", "patterns", "raw_escapes", "raw_quotes", "skip_unset_env")

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset_env: bool = False,
        patterns: bool = True,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset_env = skip_unset_env
        self.patterns = patterns

    def __repr__(self) -> str:
        return (
            f"ShellLex(escape={self.escape!r}, raw_quotes={self.raw_quotes}, raw_escapes={self.raw_escapes}, "
            f"skip_unset_env={self.skip_unset_env}, patterns={self.patterns})"
        )

    def process(self, word: str, env: Mapping[str, str] = _EMPTY_ENV) -> Lexed:
        # Nothing the lexer would treat specially, and no white space but U+0020 (a printable
        # string has no other, to Go or to Python): the text, split on spaces.
        if (
            word.isprintable()
            and "$" not in word
            and "'" not in word
            and '"' not in word
            and self.escape not in word
        ):
            return Lexed(word, tuple(word.split()), _NOTHING, _NOTHING)
        if word.startswith(_BOM):
            word = word[1:]
        run = _Run(self, word, env)
        result, words = run.until(_EOF, self.raw_escapes)
        return Lexed(result, tuple(words), frozenset(run.matched), frozenset(run.unmatched))

    def process_word(self, word: str, env: Mapping[str, str] = _EMPTY_ENV) -> str:
        """``ProcessWord``: one string, quotes removed and variables substituted."""
        return self.process(word, env).result

    def process_words(self, word: str, env: Mapping[str, str] = _EMPTY_ENV) -> list[str]:
        """``ProcessWords``: the expanded text split on unquoted white space."""
        return list(self.process(word, env).words)


class _Words:
    """lex.go's ``wordsStruct``: word splitting that runs alongside the lexing."""

    __slots__ = ("size", "word", "words")

    def __init__(self) -> None:
        self.word: list[str] = []
        self.size = 0  # characters in ``word``: an empty quoted string adds a piece but no length
        self.words: list[str] = []

    def add_text(self, text: str) -> None:
        """``addString``: every white space character ends the word being built."""
        if " " not in text and text.isprintable():  # no white space at all (see ShellLex.process)
            self.word.append(text)
            self.size += len(text)
            return
        parts = _GO_SPACES.split(text)
        first = parts[0]
        if first:
            self.word.append(first)
            self.size += len(first)
        for part in parts[1:]:
            if self.size:
                self.words.append("".join(self.word))
                self.word = []
                self.size = 0
            if part:
                self.word.append(part)
                self.size += len(part)

    def add_raw(self, text: str) -> None:
        """``addRawChar``/``addRawString``: quoted or escaped text never splits."""
        self.word.append(text)
        self.size += len(text)

    def finish(self) -> list[str]:
        if self.size:
            self.words.append("".join(self.word))
        return self.words


class _Run:
    """One ``shellWord``: the scanner position and the names looked up."""

    __slots__ = ("env", "escape", "lex", "matched", "pos", "raw_escapes", "src", "unmatched")

    def __init__(self, lex: ShellLex, src: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.src = src
        self.pos = 0
        self.env = env
        self.escape = lex.escape
        self.raw_escapes = lex.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else _EOF

    def next(self) -> str:
        if self.pos < len(self.src):
            self.pos += 1
            return self.src[self.pos - 1]
        return _EOF

    def until(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """``processStopOn``: up to ``stop`` (consumed), or to the end when ``stop`` is ""."""
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._until(stop)
        finally:
            self.raw_escapes = saved

    def _until(self, stop: str) -> tuple[str, list[str]]:
        out: list[str] = []
        words = _Words()
        src = self.src
        end = len(src)
        escape = self.escape
        plain = _plain_run(escape, stop)
        while self.pos < end:
            run = plain(src, self.pos)
            if run is not None:  # ordinary characters, taken in one piece
                text = run.group()
                self.pos = run.end()
                out.append(text)
                words.add_text(text)
                continue
            ch = src[self.pos]
            if ch == stop:
                self.pos += 1
                return "".join(out), words.finish()
            if ch == "$":
                value = self.dollar()
                out.append(value)
                words.add_text(value)
            elif ch == "'" or ch == '"':
                value = self.single_quote() if ch == "'" else self.double_quote()
                out.append(value)
                words.add_raw(value)
            else:  # the escape token
                self.pos += 1
                if self.raw_escapes:
                    words.add_raw(ch)
                    out.append(ch)
                ch = self.next()
                if ch == _EOF:  # a trailing escape disappears
                    break
                words.add_raw(ch)
                out.append(ch)
        if stop:
            raise ShellLexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.finish()

    def single_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            ch = self.next()
            if ch == _EOF:
                raise ShellLexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise ShellLexError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.pos += 1
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following == _EOF:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        src = self.src
        start = self.pos
        ch = self.peek()
        if ch.isdecimal():  # unicode.IsDigit: a positional parameter, digits only
            while self.pos < len(src) and src[self.pos].isdecimal():
                self.pos += 1
            return src[start : self.pos]
        if ch in _SPECIAL_PARAMS:
            self.pos += 1
            return ch
        end = len(src)
        while self.pos < end:
            ch = src[self.pos]
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):  # unicode.IsLetter, IsDigit
                break
            self.pos += 1
        return src[start : self.pos]

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def dollar(self) -> str:
        self.pos += 1  # the "$"
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, is_set = self.lookup(name)
            if not is_set and self.lex.skip_unset_env:
                return "$" + name
            return value
        self.pos += 1  # the "{"
        ch = self.peek()
        if ch == _EOF:
            raise ShellLexError("syntax error: missing '}'")
        if ch in "{}:":
            raise ShellLexError("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        if op == "}":
            value, is_set = self.lookup(name)
            if not is_set and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        patterns = self.lex.patterns
        if op == ":" or (op != _EOF and (op in "+-?" or (patterns and op in "#%"))):
            return self.modifier(name, op)
        if op == "/" and patterns:
            return self.substitute(name)
        if op == _EOF:
            raise ShellLexError("syntax error: missing '}'")
        raise ShellLexError(f"unsupported modifier ({op}) in substitution")

    def modifier(self, name: str, op: str) -> str:
        """``${name<op>word}`` with op one of ``- + ? # %``, each optionally after ``:``."""
        modifier = op
        null_is_unset = op == ":"
        if null_is_unset:
            op = self.next()
            modifier += op or _EOF_TEXT  # any character is read here, the value decides
        # v0.13+ keeps escapes only in a pattern; v0.12 reads every word like its caller.
        raw = op in ("#", "%") if self.lex.patterns else self.raw_escapes
        word = self._until_brace(raw)
        value, is_set = self.lookup(name)
        if not is_set and self.lex.skip_unset_env:
            return "${" + name + modifier + word + "}"
        empty = not is_set or (null_is_unset and value == "")
        if op == "-":
            return word if empty else value
        if op == "+":
            return "" if empty else word
        if op == "?":
            if not is_set:
                raise ShellLexError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise ShellLexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if self.lex.patterns and op in ("#", "%"):
            greedy = word.startswith(op)
            pattern = word[1:] if greedy else word
            if op == "#":
                return _trim_prefix(pattern, value, greedy)
            return _trim_suffix(pattern, value, greedy)
        raise ShellLexError(f"unsupported modifier ({modifier}) in substitution")

    def substitute(self, name: str) -> str:
        """``${name/pattern/replacement}``, ``${name//pattern/replacement}``."""
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        try:
            pattern, _ = self.until("/", True)
        except ShellLexError:
            if self.peek() == _EOF:
                raise ShellLexError("syntax error: missing '/' in ${}") from None
            raise
        replacement = self._until_brace(True)
        value, is_set = self.lookup(name)
        if not is_set and self.lex.skip_unset_env:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        return regex.sub(lambda _m: replacement, value, count=0 if replace_all else 1)

    def _until_brace(self, raw: bool) -> str:
        try:
            word, _ = self.until("}", raw)
        except ShellLexError:
            if self.peek() == _EOF:
                raise ShellLexError("syntax error: missing '}'") from None
            raise
        return word


@functools.cache
def _plain_run(escape: str, stop: str) -> Callable[[str, int], re.Match[str] | None]:
    """Matches a run of characters that ``processStopOn`` copies as they are."""
    return re.compile("[^" + re.escape("$'\"" + escape + stop) + "]+").match


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard (``*``, ``?``, backslash escapes; no brackets) as a regular expression."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):  # escaped only to get past the ${} reader: not part of the pattern
                continue
            if nxt not in ("*", "?", "\\"):
                raise ShellLexError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            out.append(re.escape(nxt))
            i += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def _reverse_pattern(pattern: str) -> str:
    # Reversed, each backslash escape kept in front of the character it escapes.
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i : i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # The shortest/longest suffix match is a prefix match on the reversed strings.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]
