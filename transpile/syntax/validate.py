"""What BuildKit's instruction parser rejects before a build starts, on the parsed AST.

BuildKit turns each parsed node into a typed instruction (moby/buildkit
frontend/dockerfile/instructions/parse.go, ``ParseInstruction``, with its flag parser bflag.go)
and fails the whole build at the first node it cannot turn: an unknown instruction, a flag the
instruction does not declare, a flag without its value, a missing argument, a bad HEALTHCHECK
duration, an ONBUILD of FROM, ONBUILD or MAINTAINER. :func:`validate` does the same checks, in
the same order within an instruction and node after node, and raises the first failure as a
``DockuniError`` at ``file:line:col`` with BuildKit's message (v0.12's wording: ``Unknown flag:
frm``; newer releases write ``unknown flag: --frm``).

Which flags are known: every flag some BuildKit release accepts on that instruction, stable or
labs (``COPY --parents``/``--exclude``, ``ADD --unpack``, ``RUN --device`` are newer than v0.12),
so that a Dockerfile written for a current engine is not rejected here. Flag *values* are
checked only where parse.go checks them (HEALTHCHECK durations and retries); ``--mount``,
``--chown`` and the like are read by the build itself.

Like BuildKit, ``STOPSIGNAL`` and ``ARG`` never parse their flags, ``HEALTHCHECK NONE`` neither,
and the trigger of an ONBUILD is only checked when a later build runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from transpile.errors import DockuniError
from transpile.syntax import golike
from transpile.syntax.ast import Node, ParsedFile
from transpile.syntax.shellwords import ShellLexError, process_words

_FlagType = Literal["bool", "string", "strings"]

# instruction -> {flag name: type}; None: the instruction never parses its flags.
FLAGS: dict[str, dict[str, _FlagType] | None] = {
    "add": {
        "chown": "string", "chmod": "string", "link": "bool", "keep-git-dir": "bool",
        "checksum": "string", "exclude": "strings", "unpack": "bool",
    },
    "copy": {
        "chown": "string", "from": "string", "chmod": "string", "link": "bool",
        "exclude": "strings", "parents": "bool",
    },
    "from": {"platform": "string"},
    "run": {"mount": "strings", "network": "string", "security": "string", "device": "strings"},
    "healthcheck": {
        "interval": "string", "timeout": "string", "start-period": "string",
        "start-interval": "string", "retries": "string",
    },
    "arg": None,
    "stopsignal": None,
    **{name: {} for name in (
        "cmd", "entrypoint", "env", "expose", "label", "maintainer", "onbuild", "shell",
        "user", "volume", "workdir",
    )},
}  # fmt: skip

INSTRUCTIONS = frozenset(FLAGS)
_DURATION_FLAGS = ("interval", "timeout", "start-period", "start-interval")
_MINIMUM_DURATION_NS = 1_000_000  # container.MinimumDuration: 1ms
_VALID_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*\Z")
_HEREDOC_WORD = re.compile(r"([0-9]*)<<(-?)([^<]*)\Z")


class _Invalid(Exception):
    def __init__(self, message: str, flag: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.flag = flag  # the name of the flag to point at, when the problem is one flag


def validate(parsed: ParsedFile) -> None:
    """Raise the first problem BuildKit's instruction parser would report, or return."""
    in_stage = False
    for node in parsed.nodes:
        try:
            check_node(node)
        except _Invalid as err:
            raise DockuniError(err.message, parsed.file, *_position(node, err.flag)) from None
        if node.cmd == "from":
            in_stage = True
        elif not in_stage and node.cmd != "arg":
            # instructions.Parse: only ARG may come before the first FROM
            raise DockuniError(
                "no build stage in current context", parsed.file, node.start_line, node.start_column
            )


def check_node(node: Node) -> None:
    """One node, as ParseInstruction turns it; raises _Invalid."""
    cmd = node.cmd
    args = _args(node)
    if cmd not in INSTRUCTIONS:
        raise _Invalid(f"unknown instruction: {_keyword(node)}")
    name = cmd.upper()
    flags = _Flags(node.flags, FLAGS[cmd])
    if cmd in ("env", "label"):
        flags.parse()
        if not args:
            raise _Invalid(f"{name} requires at least one argument")
        if any(key == "" for key in args[::2]):
            raise _Invalid(f"{name} names can not be blank")
    elif cmd in ("maintainer", "workdir", "user"):
        if len(args) != 1:
            raise _Invalid(f"{name} requires exactly one argument")
        flags.parse()
    elif cmd == "stopsignal":
        if len(args) != 1:
            raise _Invalid(f"{name} requires exactly one argument")
    elif cmd in ("add", "copy"):
        if len(args) < 2:
            raise _Invalid(
                f"{name} requires at least two arguments, but only one was provided. "
                "Destination could not be determined"
            )
        flags.parse()
        if _is_heredoc(args[-1]):
            raise _Invalid(f"{name} cannot accept a heredoc as a destination")
    elif cmd == "from":
        if len(args) == 3 and args[1].lower() == "as":
            if not _VALID_STAGE_NAME.match(golike.go_lower(args[2])):
                raise _Invalid(
                    f"invalid name for build stage: {golike.go_quote(args[2])}, name can't start "
                    "with a number or contain symbols"
                )
        elif len(args) != 1:
            raise _Invalid("FROM requires either one or three arguments")
        flags.parse()
    elif cmd == "onbuild":
        if not args:
            raise _Invalid("ONBUILD requires at least one argument")
        flags.parse()
        trigger = golike.trim_space(args[0]).upper()
        if trigger == "ONBUILD":
            raise _Invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise _Invalid(f"{trigger} isn't allowed as an ONBUILD trigger")
    elif cmd in ("run", "cmd", "entrypoint"):
        flags.parse()
    elif cmd == "healthcheck":
        _check_healthcheck(node, args, flags)
    elif cmd in ("expose", "volume"):
        if not args:
            raise _Invalid(f"{name} requires at least one argument")
        flags.parse()
        if cmd == "volume" and any(golike.trim_space(v) == "" for v in args):
            raise _Invalid("VOLUME specified can not be an empty string")
    elif cmd == "arg":
        if not args:
            raise _Invalid("ARG requires at least one argument")
        if any(arg.startswith("=") for arg in args):
            raise _Invalid("ARG names can not be blank")
    elif cmd == "shell":
        flags.parse()
        if not args:
            raise _Invalid("SHELL requires at least one argument")
        if not node.json:
            raise _Invalid("SHELL requires the arguments to be in JSON form")


def _check_healthcheck(node: Node, args: tuple[str, ...], flags: _Flags) -> None:
    if not args:
        raise _Invalid("HEALTHCHECK requires at least one argument")
    typ = args[0].upper()
    if typ == "NONE":
        if len(args) != 1:
            raise _Invalid("HEALTHCHECK NONE takes no arguments")
        return  # BuildKit declares no flags and never parses them for NONE
    values = flags.parse()
    if typ != "CMD":
        raise _Invalid(f"Unknown type {golike.go_quote(typ)} in HEALTHCHECK (try CMD)")
    if len(args) == 1:
        raise _Invalid("Missing command after HEALTHCHECK CMD")
    for name in _DURATION_FLAGS:
        value = values.get(name, "")
        if value == "":
            continue
        try:
            ns = parse_duration(value)
        except ValueError as err:
            raise _Invalid(str(err), name) from None
        if ns != 0 and ns < _MINIMUM_DURATION_NS:
            raise _Invalid(f"Interval {golike.go_quote(name)} cannot be less than 1ms", name)
    retries = values.get("retries", "")
    if retries != "":
        number = _parse_int32(retries)
        if number < 0:
            raise _Invalid(f"--retries cannot be negative ({number})", "retries")


# --- flags (bflag.go) --------------------------------------------------------------------------


@dataclass
class _Flags:
    words: tuple[str, ...]
    known: dict[str, _FlagType] | None

    def parse(self) -> dict[str, str]:
        """BFlags.Parse: the values of the flags given; raises at the first bad flag word."""
        known = self.known or {}
        used: dict[str, str] = {}
        for word in self.words:
            if word == "--":
                break  # ends the flags, and their checks
            name, sep, value = word[2:].partition("=")
            kind = known.get(name)
            if kind is None:
                raise _Invalid(f"Unknown flag: {name}", name)
            if name in used and kind != "strings":
                raise _Invalid(f"Duplicate flag specified: {name}", name)
            if kind == "bool":
                if sep and value == "":
                    raise _Invalid(f"Missing a value on flag: {name}", name)
                if value.lower() not in ("", "true", "false"):
                    raise _Invalid(f"Expecting boolean value for flag {name}, not: {value}", name)
            elif not sep:
                raise _Invalid(f"Missing a value on flag: {name}", name)
            used[name] = value
        return used


# --- Go's time.ParseDuration and strconv.ParseInt -------------------------------------------------

_UNITS_NS = {
    "ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}  # fmt: skip
_INT64_MAX = 2**63 - 1


def parse_duration(text: str) -> int:
    """time.ParseDuration in nanoseconds; ValueError with Go's message."""
    invalid = ValueError(f"time: invalid duration {golike.go_quote(text)}")
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        whole = int(s[:i]) if i else 0
        if whole > 2**63:
            raise invalid  # leadingInt overflows
        pre = i > 0
        s = s[i:]
        frac, scale, post = 0, 1.0, False
        if s.startswith("."):
            s = s[1:]
            j = 0
            overflow = False
            while j < len(s) and "0" <= s[j] <= "9":
                if not overflow:
                    bigger = frac * 10 + int(s[j])
                    if frac > (2**63 - 1) // 10 or bigger > 2**63:
                        overflow = True  # leadingFraction: further digits are dropped
                    else:
                        frac = bigger
                        scale *= 10
                j += 1
            post = j > 0
            s = s[j:]
        if not pre and not post:
            raise invalid
        k = 0
        while k < len(s) and not (s[k] == "." or "0" <= s[k] <= "9"):
            k += 1
        if k == 0:
            raise ValueError(f"time: missing unit in duration {golike.go_quote(text)}")
        unit_name, s = s[:k], s[k:]
        unit = _UNITS_NS.get(unit_name)
        if unit is None:
            raise ValueError(
                f"time: unknown unit {golike.go_quote(unit_name)} in duration {golike.go_quote(text)}"
            )
        if whole > 2**63 // unit:
            raise invalid
        value = whole * unit
        if frac > 0:
            value += int(float(frac) * (float(unit) / scale))
            if value > 2**63:
                raise invalid
        total += value
        if total > 2**63:
            raise invalid
    if neg:
        return -total
    if total > _INT64_MAX:
        raise invalid
    return total


def _parse_int32(text: str) -> int:
    """strconv.ParseInt(text, 10, 32); raises _Invalid with Go's message."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not all("0" <= c <= "9" for c in digits):
        raise _Invalid(f"strconv.ParseInt: parsing {golike.go_quote(text)}: invalid syntax", "retries")
    value = int(digits) * (-1 if text.startswith("-") else 1)
    if not -(2**31) <= value <= 2**31 - 1:
        raise _Invalid(f"strconv.ParseInt: parsing {golike.go_quote(text)}: value out of range", "retries")
    return value


# --- helpers -----------------------------------------------------------------------------------


def _args(node: Node) -> tuple[str, ...]:
    """nodeArgs: the node's values; for ONBUILD the trigger's name (as written) and values."""
    if node.cmd == "onbuild":
        return (node.sub_cmd, *node.value) if node.sub_cmd else ()
    return node.value


def _keyword(node: Node) -> str:
    words = node.original.split(None, 1)
    return words[0] if words else node.cmd


def _is_heredoc(word: str) -> bool:
    """parser.MustParseHeredoc(word) != nil."""
    m = _HEREDOC_WORD.match(word)
    if m is None or m.group(3) == "":
        return False
    try:
        name = process_words(m.group(3), raw_quotes=False, raw_escapes=False)
    except ShellLexError:
        return False
    return len(name) == 1 and name[0] != ""


def _position(node: Node, flag: str | None) -> tuple[int, int]:
    """The flag's column when it is on the instruction's first line, else the keyword's."""
    if flag is not None:
        head = node.original.split("\n", 1)[0]
        body_lines = sum(h.content.count("\n") + 1 for h in node.heredocs)
        one_line = node.end_line - node.start_line == body_lines
        at = head.find("--" + flag)
        if one_line and at >= 0:
            return node.start_line, node.start_column + at
    return node.start_line, node.start_column
