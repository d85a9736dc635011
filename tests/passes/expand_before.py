"""Word expansion as lowering did it before BuildKit's lexer was unified (test oracle only).

This is the former transpile/passes/expand.py, kept unchanged so that tests/passes/test_expand.py
can check, on generated words, that transpile/syntax/shell_lex.py's expanding mode behaves as it
did. It differs from BuildKit (and from the unified lexer) in three documented places that the
generated words avoid: Python's white space (U+001C..U+001F split words), Python's ``isdigit``/
``isalnum`` in names (``²`` or ``Ⅳ`` continue a name) and a leading byte order mark (kept).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_SPECIAL_PARAMS = frozenset("@*#?-$!0")


class ExpansionError(ValueError):
    """A syntax error or a ``${v?msg}`` on an unset variable; ``message`` is BuildKit-like."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Expansion:
    result: str
    words: tuple[str, ...]
    matched: frozenset[str]
    unmatched: frozenset[str]


@dataclass
class _Words:
    """Word splitting that runs alongside expansion (BuildKit's ``wordsStruct``)."""

    word: str = ""
    words: list[str] = field(default_factory=list)
    in_word: bool = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.word += ch
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def finish(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.raw_escapes = False
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    # -- scanner -------------------------------------------------------------------------------
    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    # -- the grammar ---------------------------------------------------------------------------
    def process_until(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Process up to ``stop`` (consumed) or the end when ``stop`` is ""."""
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            out: list[str] = []
            words = _Words()
            while self.peek():
                ch = self.peek()
                if stop and ch == stop:
                    self.next()
                    return "".join(out), words.finish()
                if ch == "$":
                    value = self.dollar()
                    out.append(value)
                    words.add_string(value)
                elif ch == "'":
                    value = self.single_quote()
                    out.append(value)
                    words.add_raw_string(value)
                elif ch == '"':
                    value = self.double_quote()
                    out.append(value)
                    words.add_raw_string(value)
                else:
                    ch = self.next()
                    if ch == self.escape:
                        if self.raw_escapes:
                            words.add_raw_char(ch)
                            out.append(ch)
                        ch = self.next()
                        if not ch:  # a trailing escape disappears
                            break
                        words.add_raw_char(ch)
                    else:
                        words.add_char(ch)
                    out.append(ch)
            if stop:
                raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(out), words.finish()
        finally:
            self.raw_escapes = saved

    def single_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.next()
            if not ch:
                raise ExpansionError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise ExpansionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        ch = self.peek()
        if ch and ch.isdigit():
            start = self.pos
            while self.peek() and self.peek().isdigit():
                self.next()
            return self.text[start : self.pos]
        if ch and ch in _SPECIAL_PARAMS:
            return self.next()
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.text[start : self.pos]

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def dollar(self) -> str:
        self.next()  # the "$"
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.lookup(name)[0]
        self.next()  # the "{"
        if not self.peek():
            raise ExpansionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        if not op:
            raise ExpansionError("syntax error: missing '}'")
        if op == "}":
            return self.lookup(name)[0]
        if op == ":" or (op and op in "+-?#%"):
            null_is_unset = op == ":"
            if null_is_unset:
                op = self.next()
            modifier = (":" if null_is_unset else "") + op
            word = self._until_brace(raw=op in ("#", "%"))
            value, is_set = self.lookup(name)
            empty = not is_set or (null_is_unset and value == "")
            if op == "-":
                return word if empty else value
            if op == "+":
                return "" if empty else word
            if op == "?":
                if not is_set:
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            if op in ("#", "%"):
                greedy = word.startswith(op)
                pattern = word[1:] if greedy else word
                if op == "#":
                    return _trim_prefix(pattern, value, greedy)
                return _trim_suffix(pattern, value, greedy)
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        if op == "/":
            replace_all = self.peek() == "/"
            if replace_all:
                self.next()
            try:
                pattern, _ = self.process_until("/", True)
            except ExpansionError:
                if not self.peek():
                    raise ExpansionError("syntax error: missing '/' in ${}") from None
                raise
            replacement = self._until_brace(raw=True)
            value, _ = self.lookup(name)
            regex = _pattern_regex(pattern, greedy=True, anchored=False)
            if replace_all:
                return regex.sub(lambda _m: replacement, value)
            return regex.sub(lambda _m: replacement, value, count=1)
        raise ExpansionError(f"unsupported modifier ({op}) in substitution")

    def _until_brace(self, raw: bool) -> str:
        try:
            word, _ = self.process_until("}", raw)
        except ExpansionError:
            if not self.peek():
                raise ExpansionError("syntax error: missing '}'") from None
            raise
        return word


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
            if nxt in ("}", "/"):
                continue
            if nxt not in ("*", "?", "\\"):
                raise ExpansionError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            out.append(re.escape(nxt))
            i += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def _reverse_pattern(pattern: str) -> str:
    # Reverse, keeping each backslash escape in front of the character it escapes.
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
    # The shortest/longest *suffix* match is a prefix match on the reversed strings.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def process(word: str, env: Mapping[str, str], escape: str = "\\") -> Expansion:
    if "$" not in word and "'" not in word and '"' not in word and escape not in word:
        # nothing to expand or unquote: the lexer would copy it and split on white space
        return Expansion(word, tuple(word.split()), frozenset(), frozenset())
    lexer = _Lexer(word, env, escape)
    result, words = lexer.process_until("", False)
    return Expansion(result, tuple(words), frozenset(lexer.matched), frozenset(lexer.unmatched))


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word, quotes removed and variables substituted (BuildKit's ``ProcessWord``)."""
    return process(word, env, escape).result


def expand_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expanded and split on unquoted white space (BuildKit's ``ProcessWords``)."""
    return list(process(word, env, escape).words)
