"""JSON (exec) form: ``RUN ["a", "b"]``, decided exactly as BuildKit's parseJSON does.

BuildKit gives the text to Go's ``json.Unmarshal`` into ``[]any``. Three outcomes matter:

* valid JSON array of strings -> exec form;
* valid JSON array with any non-string element -> the parse error
  "when using JSON array syntax, arrays must be comprised of strings only";
* anything Go's decoder refuses -> not JSON: BuildKit silently treats the text as shell form.
  Besides syntax errors this includes nesting deeper than 10000 and a number that overflows a
  float64 (``[1e999]``), which Go reports as an UnmarshalTypeError, not as "not strings".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from transpile.syntax.golike import trim_left_space

if TYPE_CHECKING:
    from lark import Token, Tree

NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"
_GO_MAX_DEPTH = 10000


@dataclass(frozen=True)
class ExecForm:
    values: tuple[str, ...] | None  # None: not JSON (shell form); else the strings
    error: str | None = None  # set when the array holds something other than strings
    offset: int = 0  # offset of the '[' in the argument text (for error columns)


NOT_JSON = ExecForm(None)

_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def decode_string(lit: str) -> str:
    """A JSON string literal (validated by the grammar) decoded as Go does.

    Go pairs a high surrogate escape with a following low one; any surrogate left alone becomes
    U+FFFD (Python's json would keep a lone surrogate, which is not encodable text).
    """
    body = lit[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            j = body.find("\\", i)
            j = n if j < 0 else j
            out.append(body[i:j])
            i = j
            continue
        esc = body[i + 1]
        if esc != "u":
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
            continue
        cp = int(body[i + 2 : i + 6], 16)
        i += 6
        if 0xD800 <= cp < 0xE000:
            if 0xD800 <= cp < 0xDC00 and body.startswith("\\u", i):
                low = int(body[i + 2 : i + 6], 16)
                if 0xDC00 <= low < 0xE000:
                    out.append(chr(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)))
                    i += 6
                    continue
            out.append("\ufffd")
            continue
        out.append(chr(cp))
    return "".join(out)


def _number_overflows(text: str) -> bool:
    # Go's ParseFloat fails where Python's float() returns +-inf; underflow to 0 is fine in both.
    return math.isinf(float(text))


# The grammar's STRING terminal and %ignore'd whitespace, for the common case below.
_STRING = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
_WS = "[ \t\n\r]*"
_STRING_ARRAY = re.compile(rf"\[{_WS}(?:{_STRING}(?:{_WS},{_WS}{_STRING})*{_WS})?\]")
_STRING_TOKEN = re.compile(_STRING)


def parse_exec_form(rest: str) -> ExecForm:
    """Classify an instruction's argument text; ``rest`` is already TrimSpace'd by the caller."""
    text = trim_left_space(rest)
    if not text.startswith("["):
        return NOT_JSON
    # Nearly every exec form is a flat array of strings: the grammar's `top` production with
    # STRING values only, matched here without the LALR parse (anything after the "]" is the
    # grammar's _TRAILING). Everything else goes to the grammar. tests/syntax checks that both
    # agree.
    flat = _STRING_ARRAY.match(text)
    if flat is not None:
        return ExecForm(tuple(decode_string(s) for s in _STRING_TOKEN.findall(text, 0, flat.end())))
    return _classify_other(text, rest)


class _Reject(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _Reject(name)  # NaN, Infinity, -Infinity: Python's json takes them, RFC 8259 does not


def _check_number(text: str) -> Any:
    if _number_overflows(text):
        raise _Overflow(text)
    return None


class _Overflow(ValueError):
    pass


def _classify_other(text: str, rest: str) -> ExecForm:
    """Anything but a flat array of strings. Python's ``json`` reads one RFC 8259 value with the
    grammar's whitespace and number syntax (trailing text left alone, as _TRAILING), so it accepts
    and rejects what the grammar does once NaN/Infinity are refused; then the rest of
    ``parse_exec_form_lark``'s verdict follows from the value. Only nesting deeper than Python's
    recursion limit still goes to the grammar. tests/syntax holds this to the grammar."""
    import json

    decoder = json.JSONDecoder(
        parse_constant=_reject_constant, parse_float=_check_number, parse_int=_check_number
    )
    try:
        value, _ = decoder.raw_decode(text)
    except _Overflow:
        return NOT_JSON  # Go's decoder fails on a number beyond float64, wherever it is
    except (json.JSONDecodeError, _Reject):
        return NOT_JSON
    except RecursionError:
        return parse_exec_form_lark(text, rest)
    if all(isinstance(v, str) for v in value):  # pragma: no cover - _STRING_ARRAY's shape
        return parse_exec_form_lark(text, rest)
    return ExecForm(None, NOT_STRING_ARRAY, len(rest) - len(text))


def parse_exec_form_lark(text: str, rest: str) -> ExecForm:
    """``grammar/exec_form.lark``'s verdict; ``text``: ``rest`` with its leading space trimmed,
    starting with "[". The reference the shortcuts above are tested against."""
    from transpile.syntax.grammars import exec_form_parser, import_lark

    import_lark()
    from lark import Token, Tree
    from lark.exceptions import LarkError

    try:
        tree = exec_form_parser().parse(text)
    except LarkError:
        return NOT_JSON
    top = tree.children[0]
    assert isinstance(top, Tree)

    # Walk iteratively: the whole value is checked for depth and float overflow first (Go's
    # decoder finishes the value and then reports such errors), then element types.
    stack: list[tuple[Tree[Token] | Token, int]] = [(top, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Token):
            if node.type == "NUMBER" and _number_overflows(str(node)):
                return NOT_JSON
            continue
        if node.data in ("top", "array", "object"):
            if depth > _GO_MAX_DEPTH:
                return NOT_JSON
            stack.extend((c, depth + 1) for c in node.children if c is not None)
        else:  # pair
            stack.extend((c, depth) for c in node.children if c is not None)

    values: list[str] = []
    for child in top.children:
        if child is None:  # the empty array
            continue
        if isinstance(child, Token) and child.type == "STRING":
            values.append(decode_string(str(child)))
            continue
        return ExecForm(None, NOT_STRING_ARRAY, len(rest) - len(text))
    return ExecForm(tuple(values))
