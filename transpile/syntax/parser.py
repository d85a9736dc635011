"""Dockerfile text -> :class:`ParsedFile`, node for node what BuildKit's parser produces.

Which BuildKit: the parser of moby/buildkit v0.12.5 (frontend/dockerfile/parser, the version the
differential-test oracle embeds), matched exactly, with one deliberate exception: ``# check=`` is
a parser directive, as in BuildKit v0.14 and later (in v0.12 an unknown key, which ends the
directives). Everything v0.13+ added beyond that - ``--flag value`` with a separate value,
``${a#b}``/``${a%b}``/``${a/b/c}`` in the heredoc lexer - is read the v0.12 way; docs/parser.md
lists the differences.

The structure follows ``Parse`` in parser.go closely, because its observable behaviour *is* the
specification: a line scanner with BuildKit's 64 KiB line limit; parser directives;
continuation lines (comment lines inside a continuation dropped, empty ones kept as warnings);
one dispatch function per instruction (line_parsers.go); heredoc bodies read after the
instruction line. The instruction head (keyword, ``--flags``, arguments) and the JSON exec form
are read by the lark grammars in ``grammar/``.

Everything here is linear in the input: lines are joined with lists, never by repeated string
concatenation, nothing rescans earlier text, whitespace is trimmed with ``str.strip`` over a
character set, and no regular expression applied to a whole line can backtrack over it more than
once (tests/syntax/test_linear.py counts the work on 64 KiB lines of many shapes).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from transpile.errors import DockuniError
from transpile.syntax import golike
from transpile.syntax.ast import Heredoc, Node, ParsedFile
from transpile.syntax.execform import parse_exec_form
from transpile.syntax.shellwords import ShellLexError, process_words

# bufio.Scanner's default limit (bufio.MaxScanTokenSize - 1 bytes of line content).
MAX_LINE_BYTES = 65535

DEFAULT_ESCAPE = "\\"
# escape and syntax are BuildKit's v0.12 directives; check came with build checks (v0.14+).
VALID_DIRECTIVES = ("escape", "syntax", "check")

_RE2_SPACE = "[\t\n\f\r ]"  # RE2's \s (no \v)
# BuildKit's `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`. Its lazy value followed by `\s*$`
# retries the tail at every character (quadratic on a long run of blanks inside the value), so the
# value is matched greedily and its trailing RE2 spaces are cut in _directive_value.
_RE_DIRECTIVE = re.compile(
    rf"#{_RE2_SPACE}*([a-zA-Z][a-zA-Z0-9]*){_RE2_SPACE}*={_RE2_SPACE}*(.+)\Z"
)


def _directive_value(matched: str) -> str:
    """The lazy group's value: the greedy group without trailing RE2 spaces, but never empty
    (an all-blank value is the one character the lazy group must take)."""
    return matched.rstrip("\t\n\f\r ") or matched
_RE_HEREDOC = re.compile(r"([0-9]*)<<(-?)([^<]*)\Z")
_HEREDOC_COMMANDS = frozenset({"add", "copy", "run"})
_HEREDOC_COMPOUND = frozenset({"onbuild"})
_UINT64_MAX = 2**64 - 1

# docker/dockerfile frontends before 1.4 (1.3-labs aside) have no heredocs.
_RE_OLD_FRONTEND = re.compile(
    r"(?:(?:docker\.io/)?docker/dockerfile(?:-upstream)?):(1\.[0-3](?:\.[0-9]+)?(?:-labs)?)(?:@sha256:[0-9a-f]+)?"
)

_WARN_EMPTY = "[WARNING]: Empty continuation line found in:\n    "
_WARN_FUTURE = "[WARNING]: Empty continuation lines will become errors in a future release."


class _LineError(Exception):
    """An error inside one logical line; ``offset`` indexes the joined line (-1: the keyword)."""

    def __init__(self, message: str, offset: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class _Raw:
    """BuildKit's Node for one instruction, flattened: the Next chain's values, and for
    ONBUILD the sub-instruction (the Next node's only child)."""

    cmd: str  # as written
    flags: tuple[str, ...]
    values: tuple[str, ...]
    json: bool = False
    sub: _Raw | None = None


# --- the scanner -----------------------------------------------------------------------------


class _Scanner:
    """bufio.Scanner with BuildKit's scanLines split: yields lines *with* their "\\n"."""

    __slots__ = ("error", "line_no", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line_no = 0  # 1-based number of the last line returned
        self.error: str | None = None

    def scan(self) -> str | None:
        if self.error is not None or self.pos >= len(self.text):
            return None
        end = self.text.find("\n", self.pos)
        stop = len(self.text) if end < 0 else end
        # Only lines that could exceed the limit are measured in bytes (UTF-8: <= 4 per char).
        long = stop - self.pos > MAX_LINE_BYTES // 4
        if long and len(self.text[self.pos : stop].encode()) > MAX_LINE_BYTES:
            self.error = f"dockerfile line greater than max allowed size of {MAX_LINE_BYTES}"
            return None
        nxt = len(self.text) if end < 0 else end + 1
        line = self.text[self.pos : nxt]
        self.pos = nxt
        self.line_no += 1
        return line


def _trim_newline(s: str) -> str:
    return s.rstrip("\r\n")


def _is_comment(raw: str) -> bool:
    return golike.trim_left_space(_trim_newline(raw)).startswith("#")


# --- directives ------------------------------------------------------------------------------


class _Directives:
    def __init__(self) -> None:
        self.escape = DEFAULT_ESCAPE
        self.done = False
        self.seen: list[tuple[str, str]] = []
        self._continuation = _continuation_regex(DEFAULT_ESCAPE)

    def possible_directive(self, line: str) -> str | None:
        """Returns an error message, or None."""
        if self.done:
            return None
        m = _RE_DIRECTIVE.match(line)
        if not m:
            self.done = True
            return None
        key = m.group(1).lower()
        if key not in VALID_DIRECTIVES:
            self.done = True
            return None
        if any(k == key for k, _ in self.seen):
            return f"only one {key} parser directive can be used"
        value = _directive_value(m.group(2))
        self.seen.append((key, value))
        if key == "escape":
            if value not in ("`", "\\"):
                # Keep the message on one line even for a value holding \r or U+2028.
                shown = value if value.isprintable() else golike.go_quote(value)[1:-1]
                return f"invalid escape token '{shown}' does not match ` or \\"
            self.escape = value
            self._continuation = _continuation_regex(value)
        return None

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """(line without its continuation escape, True when the logical line ends here)."""
        if not line.rstrip(" \t").endswith(self.escape):
            return line, True
        m = self._continuation.search(line)
        if m is None:
            return line, True
        return line[: m.start()] + (m.group(1) or ""), False


def _continuation_regex(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    # BuildKit: `([^\e])\e[ \t]*$|^\e[ \t]*$` - an escaped escape does not continue the line.
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|\A{e}[ \t]*\Z")


# --- one logical line -> _Raw ------------------------------------------------------------------


def _split_command(line: str) -> tuple[str, tuple[str, ...], str, int]:
    """splitCommand + extractBuilderFlags: (cmd, flags, args, offset of args in ``line``)."""
    trimmed = golike.trim_space(line)
    lead = len(line) - len(golike.trim_left_space(line))
    if not trimmed:
        return "", (), "", lead
    head = golike.RE_WHITESPACE.search(trimmed)
    if head is None:
        return trimmed, (), "", lead
    rest = golike.trim_left_space(trimmed[head.end() :])
    if not rest.startswith("--"):
        # No flags: the grammar's `KEYWORD _CMDSEP ARGS` production, without the parser round
        # trip (most lines; the LALR parse costs ~100 us a line, which matters for huge files).
        return trimmed[: head.start()], (), rest, lead + len(trimmed) - len(rest)
    return _split_flags(trimmed, lead)


# instruction.lark's terminals after the keyword's separator, for _split_flags. Its FLAG and
# _SPACE are copied verbatim; ARGS is "whatever else starts here, to the end of the line".
_FLAG = re.compile(
    r"""--(?:[^\t\n\v\f\r \x85\xa0'"\\]|\\[\s\S]?"""
    r"""|"(?:[^"\\]|\\[\s\S]?)*"?|'(?:[^'\\]|\\[\s\S]?)*'?)*"""
)
_SPACE = re.compile(r"[\t\n\v\f\r \x85\xa0]+")


def _split_flags(trimmed: str, lead: int) -> tuple[str, tuple[str, ...], str, int]:
    """A line whose arguments start with ``--``, tokenized as ``grammar/instruction.lark`` does
    (``_split_command_lark``) without building and running lark's parser for it.

    After the keyword and its separator, the grammar's contextual lexer can only meet FLAG,
    ARGS or _SPACE, and the three start with different bytes ("--", any other non-space byte,
    a space byte), so at each position exactly one of them applies, with its own greedy match.
    tests/syntax holds this to the grammar.
    """
    view = golike.to_byte_view(trimmed)
    sep = golike.RE_WHITESPACE.search(view)
    assert sep is not None  # the caller found the keyword's separator
    flags: list[str] = []
    pos, n = sep.end(), len(view)
    args_pos = n
    while pos < n:
        space = _SPACE.match(view, pos)
        if space is not None:
            pos = space.end()
            continue
        if not view.startswith("--", pos):
            args_pos = pos  # ARGS: the rest of the line
            break
        flag = _FLAG.match(view, pos)
        assert flag is not None  # it matches any "--"
        pos = flag.end()
        word = _flag_word(flag.group())
        if word == "--":
            args_pos = pos  # `--` ends the flags; the arguments are whatever follows it.
            break
        flags.append(word)
    return _split_result(golike.from_byte_view(view[: sep.start()]), flags, view, args_pos, lead)


def _split_result(
    cmd: str, flags: list[str], view: str, args_pos: int, lead: int
) -> tuple[str, tuple[str, ...], str, int]:
    args_view = view[args_pos:]
    args = golike.trim_space(golike.from_byte_view(args_view))
    skipped = len(args_view) - len(golike.trim_left_space(args_view))
    offset = lead + len(golike.from_byte_view(view[: args_pos + skipped]))
    return cmd, tuple(flags), args, offset


def _split_command_lark(trimmed: str, lead: int) -> tuple[str, tuple[str, ...], str, int]:
    """The head of a line with flags, read by ``grammar/instruction.lark``: the reference that
    tests/syntax holds ``_split_flags`` to (``dockuni check`` itself does not load lark for it)."""
    view = golike.to_byte_view(trimmed)
    from transpile.syntax.grammars import import_lark, instruction_parser

    import_lark()
    from lark import Token
    from lark.exceptions import LarkError

    try:
        tree = instruction_parser().parse(view)
    except LarkError as exc:  # pragma: no cover - the grammar accepts every non-empty line
        raise _LineError(f"cannot split instruction: {exc}") from None
    tokens = [t for t in tree.children if isinstance(t, Token)]
    cmd = golike.from_byte_view(str(tokens[0]))
    flags: list[str] = []
    args_pos = len(view)
    for tok in tokens[1:]:
        if tok.type == "ARGS":
            args_pos = tok.start_pos or 0
            break
        word = _flag_word(str(tok))
        if word == "--":
            # `--` ends the flags; the arguments are whatever follows it.
            args_pos = tok.end_pos or len(view)
            break
        flags.append(word)
    return _split_result(cmd, flags, view, args_pos, lead)


def _flag_word(tok: str) -> str:
    """The value of one flag word: quotes removed, backslash escapes applied (byte view)."""
    if "\\" not in tok and "'" not in tok and '"' not in tok:
        return tok
    out: list[str] = []
    quote = ""
    i, n = 0, len(tok)
    while i < n:
        ch = tok[i]
        if quote and ch == quote:
            quote = ""
            i += 1
            continue
        if not quote and ch in "'\"":
            quote = ch
            i += 1
            continue
        if ch == "\\":
            if i + 1 == n:
                break  # BuildKit skips an escape at the end of the line
            i += 1
            ch = tok[i]
        out.append(ch)
        i += 1
    return "".join(out)


def _parse_words(rest: str, escape: str) -> list[str]:
    """parseWords (line_parsers.go): words with quotes kept, for ENV, LABEL and ARG."""
    words: list[str] = []
    word: list[str] = []
    in_word = False  # else: between words
    quote = ""
    blank_ok = False
    i, n = 0, len(rest)
    while i < n:
        ch = rest[i]
        if not in_word:
            if golike.is_space(ch):
                i += 1
                continue
            in_word = True
        if not quote:
            if golike.is_space(ch):
                if blank_ok or word:
                    words.append("".join(word))
                word = []
                blank_ok = False
                in_word = False
                i += 1
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
            if ch == escape:
                if i + 1 == n:
                    i += 1
                    continue  # an escape at the very end is dropped
                word.append(ch)
                i += 1
                ch = rest[i]
            word.append(ch)
            i += 1
            continue
        # inside quotes
        if ch == quote:
            quote = ""
        if ch == escape and quote != "'":
            if i + 1 == n:
                quote = ""
                i += 1
                continue
            i += 1
            word.append(ch)
            ch = rest[i]
        word.append(ch)
        i += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def _parse_ignore(rest: str, d: _Directives) -> tuple[tuple[str, ...], bool, _Raw | None]:
    return ("",), False, None


def _parse_sub_command(rest: str, d: _Directives) -> tuple[tuple[str, ...], bool, _Raw | None]:
    if rest == "":
        return (), False, None
    return ("",), False, _new_node(rest, d)


def _parse_name_val(rest: str, key: str, d: _Directives) -> tuple[str, ...]:
    words = _parse_words(rest, d.escape)
    if not words:
        return ()
    if "=" not in words[0]:
        # Legacy `ENV name value...`: the rest of the line after the first blank is the value.
        parts = golike.split_whitespace(rest, 2)
        if len(parts) < 2:
            raise _LineError(f"{key} must have two arguments")
        return (parts[0], parts[1])
    out: list[str] = []
    for word in words:
        if "=" not in word:
            raise _LineError(
                f"Syntax error - can't find = in {golike.go_quote(word)}. Must be of the form: name=value"
            )
        k, v = word.split("=", 1)
        out += (k, v)
    return tuple(out)


def _parse_env(rest: str, d: _Directives) -> tuple[tuple[str, ...], bool, _Raw | None]:
    return _parse_name_val(rest, "ENV", d), False, None


def _parse_label(rest: str, d: _Directives) -> tuple[tuple[str, ...], bool, _Raw | None]:
    return _parse_name_val(rest, "LABEL", d), False, None


def _parse_name_or_name_val(rest: str, d: _Directives) -> tuple[tuple[str, ...], bool, _Raw | None]:
    return tuple(_parse_words(rest, d.escape)), False, None


def _parse_strings_whitespace_delimited(
    rest: str, d: _Directives
) -> tuple[tuple[str, ...], bool, _Raw | None]:
    if rest == "":
        return (), False, None
    return tuple(golike.split_whitespace(rest)), False, None


def _parse_string(rest: str, d: _Directives) -> tuple[tuple[str, ...], bool, _Raw | None]:
    if rest == "":
        return (), False, None
    return (rest,), False, None


def _parse_maybe_json(rest: str, d: _Directives) -> tuple[tuple[str, ...], bool, _Raw | None]:
    if rest == "":
        return (), False, None
    form = parse_exec_form(rest)
    if form.values is not None:
        return form.values, True, None
    if form.error:
        raise _LineError(form.error, form.offset)
    return (rest,), False, None


def _parse_maybe_json_to_list(rest: str, d: _Directives) -> tuple[tuple[str, ...], bool, _Raw | None]:
    form = parse_exec_form(rest)
    if form.values is not None:
        return form.values, True, None
    if form.error:
        raise _LineError(form.error, form.offset)
    return _parse_strings_whitespace_delimited(rest, d)


def _parse_health_config(rest: str, d: _Directives) -> tuple[tuple[str, ...], bool, _Raw | None]:
    # BuildKit scans bytes here (unicode.IsSpace(rune(rest[i]))), hence the byte view.
    view = golike.to_byte_view(rest)
    sep = 0
    while sep < len(view) and view[sep] not in golike.GO_SPACE_BYTES:
        sep += 1
    nxt = sep
    while nxt < len(view) and view[nxt] in golike.GO_SPACE_BYTES:
        nxt += 1
    if sep == 0:
        return (), False, None
    typ = golike.from_byte_view(view[:sep])
    values, is_json, _ = _parse_maybe_json(golike.from_byte_view(view[nxt:]), d)
    return (typ, *values), is_json, None


_Dispatch = Callable[[str, _Directives], tuple[tuple[str, ...], bool, "_Raw | None"]]

# BuildKit's dispatch table (parser.go init()); anything else is parsed with parseIgnore.
DISPATCH: dict[str, _Dispatch] = {
    "add": _parse_maybe_json_to_list,
    "arg": _parse_name_or_name_val,
    "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_to_list,
    "entrypoint": _parse_maybe_json,
    "env": _parse_env,
    "expose": _parse_strings_whitespace_delimited,
    "from": _parse_strings_whitespace_delimited,
    "healthcheck": _parse_health_config,
    "label": _parse_label,
    "maintainer": _parse_string,
    "onbuild": _parse_sub_command,
    "run": _parse_maybe_json,
    "shell": _parse_maybe_json,
    "stopsignal": _parse_string,
    "user": _parse_string,
    "volume": _parse_maybe_json_to_list,
    "workdir": _parse_string,
}


def _new_node(line: str, d: _Directives) -> _Raw:
    cmd, flags, args, args_offset = _split_command(line)
    fn = DISPATCH.get(golike.go_lower(cmd), _parse_ignore)
    try:
        values, is_json, sub = fn(args, d)
    except _LineError as err:
        if err.offset >= 0:
            err.offset += args_offset
        raise
    return _Raw(cmd, flags, values, is_json, sub)


def _can_contain_heredoc(raw: _Raw) -> bool:
    node = raw
    if golike.go_lower(node.cmd) in _HEREDOC_COMPOUND and node.sub is not None:
        node = node.sub
    return golike.go_lower(node.cmd) in _HEREDOC_COMMANDS and not node.json


def frontend_has_heredocs(syntax: str) -> bool:
    """Whether the frontend a ``# syntax=`` directive names parses heredocs.

    Heredocs are stable since docker/dockerfile:1.4 and were in 1.3.0-labs; the built-in
    frontend (no directive) and any other image are taken to be current.
    """
    m = _RE_OLD_FRONTEND.fullmatch(syntax.strip())
    if m is None:
        return True
    tag = m.group(1)
    return tag.endswith("-labs") and tag.startswith("1.3")


def _heredocs_from_line(line: str) -> list[Heredoc]:
    """heredocsFromLine: every word of the line that is a heredoc operator, in order."""
    if "<<" not in line:
        return []
    try:
        words = process_words(line, raw_quotes=True, raw_escapes=True)
    except ShellLexError:
        return []  # BuildKit ignores a line it cannot lex: no heredocs
    docs: list[Heredoc] = []
    for word in words:
        m = _RE_HEREDOC.match(word)
        if m is None or m.group(3) == "":
            continue
        rest = m.group(3)
        try:
            cooked = process_words(rest, raw_quotes=False, raw_escapes=False)
            if len(cooked) != 1:
                continue
            raw = process_words(rest, raw_quotes=True, raw_escapes=False)
        except ShellLexError as exc:
            raise _LineError(f"failed to process {golike.go_quote(rest)}: {exc}") from None
        if len(raw) != len(cooked):  # pragma: no cover - BuildKit's own sanity check
            raise _LineError(f"internal lexing of heredoc produced inconsistent results: {rest}")
        name = cooked[0]
        quotes = name.count("'") + name.count('"')
        raw_quotes = raw[0].count("'") + raw[0].count('"')
        fd = min(int(m.group(1)), _UINT64_MAX) if m.group(1) else 0
        docs.append(Heredoc(name, "", fd, quotes == raw_quotes, m.group(2) == "-"))
    return docs


# --- the file --------------------------------------------------------------------------------


class _Segments:
    """Maps offsets in a joined logical line back to (line, column) in the file."""

    __slots__ = ("starts",)

    def __init__(self) -> None:
        self.starts: list[tuple[int, int, int]] = []  # (offset in joined line, line_no, col0)

    def add(self, offset: int, line_no: int, col0: int) -> None:
        self.starts.append((offset, line_no, col0))

    def locate(self, offset: int) -> tuple[int, int]:
        found = self.starts[0]
        for seg in self.starts:
            if seg[0] > offset:
                break
            found = seg
        return found[1], found[2] + (offset - found[0]) + 1


def parse_text(text: str, filename: str = "Dockerfile") -> ParsedFile:
    """Parse Dockerfile text as BuildKit does; raises DockuniError(file, line, col, message)."""
    d = _Directives()
    scanner = _Scanner(text)
    nodes: list[Node] = []
    comments: list[tuple[int, str]] = []
    warnings: list[str] = []

    def fail(message: str, line: int, column: int) -> DockuniError:
        return DockuniError(message, filename, max(line, 1), max(column, 1))

    heredocs_enabled: bool | None = None  # decided at the first instruction, once directives are over

    while True:
        raw_line = scanner.scan()
        if raw_line is None:
            break
        line_no = scanner.line_no
        if line_no == 1 and raw_line.startswith("\ufeff"):
            raw_line = raw_line[1:]  # columns count from after the (invisible) BOM
        if _is_comment(raw_line):
            comments.append((line_no, golike.trim_space(golike.trim_left_space(raw_line)[1:])))
        token = golike.trim_left_space(_trim_newline(raw_line))
        err = d.possible_directive(token)
        if err:
            raise fail(err, line_no, 1)
        lead = len(raw_line) - len(golike.trim_left_space(raw_line))
        if token.startswith("#"):
            token = ""
        start_line = line_no
        line, end_of_line = d.trim_continuation(token)
        if end_of_line and line == "":
            continue

        parts = [line]
        segments = _Segments()
        segments.add(0, line_no, lead)
        joined_len = len(line)
        last_physical = raw_line
        has_empty = False
        while not end_of_line:
            nxt = scanner.scan()
            if nxt is None:
                break
            last_physical = nxt
            # processLine on a continuation line: no left trim, directives are over by now.
            processed = _trim_newline(nxt)
            err = d.possible_directive(processed)
            if err:  # pragma: no cover - d.done is always set before a continuation
                raise fail(err, scanner.line_no, 1)
            if processed.startswith("#"):
                processed = ""
            if _is_comment(nxt):
                comments.append((scanner.line_no, golike.trim_space(golike.trim_left_space(nxt)[1:])))
                continue
            if golike.trim_left_space(processed) == "":
                has_empty = True
                continue
            piece, end_of_line = d.trim_continuation(processed)
            segments.add(joined_len, scanner.line_no, 0)
            parts.append(piece)
            joined_len += len(piece)
        line = "".join(parts)
        if has_empty:
            warnings.append(_WARN_EMPTY + line)

        if heredocs_enabled is None:
            syntax = dict(d.seen).get("syntax")
            heredocs_enabled = syntax is None or frontend_has_heredocs(syntax)
        try:
            raw = _new_node(line, d)
            heredocs = _heredocs_from_line(line) if heredocs_enabled and _can_contain_heredoc(raw) else []
        except _LineError as exc:
            if exc.offset >= 0:
                el, ec = segments.locate(exc.offset)
            else:
                el, ec = start_line, lead + 1
            raise fail(exc.message, el, ec) from None

        bodies: list[Heredoc] = []
        for doc in heredocs:
            content: list[str] = []
            terminated = False
            while True:
                body_line = scanner.scan()
                if body_line is None:
                    break
                last_physical = body_line
                candidate = _trim_newline(body_line)
                if doc.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == doc.name:
                    terminated = True
                    break
                content.append(body_line)
            if not terminated:
                raise fail("unterminated heredoc", start_line, lead + 1)
            bodies.append(Heredoc(doc.name, "".join(content), doc.file_descriptor, doc.expand, doc.chomp))

        original = line
        if bodies:
            original = line + "\n" + "".join(h.content + h.name + "\n" for h in bodies)
        top = raw.sub  # only ONBUILD has a sub-instruction
        shown = top if top is not None else raw
        nodes.append(
            Node(
                cmd=golike.go_lower(raw.cmd),
                sub_cmd=golike.go_lower(top.cmd) if top is not None else "",
                json=shown.json,
                original=original,
                start_line=start_line,
                end_line=scanner.line_no,
                start_column=lead + 1,
                end_column=len(_trim_newline(last_physical)) + 1,
                flags=raw.flags,
                value=shown.values,
                heredocs=tuple(bodies),
                sub_flags=top.flags if top is not None else (),
            )
        )

    if not nodes:
        raise fail("file with no instructions", scanner.line_no, 1)
    if scanner.error is not None:
        raise fail(scanner.error, scanner.line_no + 1, 1)
    if warnings:
        warnings.append(_WARN_FUTURE)
    return ParsedFile(
        file=filename,
        directives=tuple(d.seen),
        escape=d.escape,
        nodes=tuple(nodes),
        comments=tuple(comments),
        warnings=tuple(warnings),
    )
