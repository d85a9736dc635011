"""Go standard-library semantics that BuildKit's parser leans on, reproduced exactly.

BuildKit is written in Go, and several of its parsing decisions are really decisions of Go's
``unicode.IsSpace``, ``strings.TrimSpace``, RE2's ``\\s`` or of walking a string byte by byte.
Python's ``str.isspace``/``str.strip``/``re`` disagree on a handful of code points (e.g. U+001C..1F
are spaces to Python, not to Go; ``\\v`` is in Python's ``\\s``, not RE2's), so every such
question goes through this module.
"""

from __future__ import annotations

import re

# unicode.IsSpace: Latin-1 spaces plus the White_Space property (Go's unicode.White_Space table).
GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_GO_SPACE_CLASS = "".join(sorted(GO_SPACE))

# Byte-wise walkers (rune(line[i])) see each UTF-8 byte as a Latin-1 code point; of those, these
# count as spaces.
GO_SPACE_BYTES = frozenset("\t\n\v\f\r \x85\xa0")

# parser.go's reWhitespace / split_command.go's tokenWhitespace.
RE_WHITESPACE = re.compile(r"[\t\v\f\r ]+")



def is_space(ch: str) -> bool:
    return ch in GO_SPACE


def trim_left_space(s: str) -> str:
    """strings.TrimLeftFunc(s, unicode.IsSpace) / bytes.TrimLeftFunc."""
    # str.lstrip with a character set is one linear scan; a regex like ``[...]+$`` for the right
    # end would restart at every blank of a long blank run followed by text (quadratic).
    return s.lstrip(_GO_SPACE_CLASS)


def trim_right_space(s: str) -> str:
    """strings.TrimRightFunc(s, unicode.IsSpace)."""
    return s.rstrip(_GO_SPACE_CLASS)


def trim_space(s: str) -> str:
    """strings.TrimSpace."""
    return s.strip(_GO_SPACE_CLASS)


def split_whitespace(s: str, limit: int = -1) -> list[str]:
    """regexp.Split with reWhitespace: like re.split, but Go's n limits the *number of pieces*."""
    if limit < 0:
        return RE_WHITESPACE.split(s)
    if limit == 0:
        return []
    return RE_WHITESPACE.split(s, maxsplit=limit - 1)


def to_byte_view(s: str) -> str:
    """The UTF-8 bytes of ``s`` as Latin-1 code points: what Go code indexing ``line[i]`` sees."""
    if s.isascii():
        return s
    return s.encode("utf-8").decode("latin-1")


def from_byte_view(s: str) -> str:
    """Back from :func:`to_byte_view` for a slice of the original string (``line[pos:]``).

    A byte-wise walker may cut inside a multi-byte character; Go keeps the raw bytes, which are
    not text. We substitute U+FFFD there (the only divergence from BuildKit, and only for such
    cuts).
    """
    if s.isascii():
        return s
    return s.encode("latin-1").decode("utf-8", errors="replace")


def go_lower(s: str) -> str:
    """strings.ToLower: rune by rune, no context (Python lower-cases a final sigma to 'ς' and
    expands U+0130 to two code points; Go maps U+0130 to 'i')."""
    if s.isascii():
        return s.lower()
    return "".join("i" if c == "\u0130" else c.lower() for c in s)


def go_quote(s: str) -> str:
    """strconv.Quote (``%q``) for valid UTF-8 text: used only to reproduce BuildKit's messages."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                        "\v": "\\v"}[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)
