"""Shell command analysis: what a ``/bin/sh -c`` string really runs, from a real parse.

The command string of a shell-form RUN/CMD/ENTRYPOINT (or of an exec-form ``sh -c``) is split
into tokens by a quote-aware tokenizer that follows POSIX.1-2017 XCU 2.3 "Token Recognition"
(single and double quotes, backslash escapes, ``$(...)``, backquotes, ``${...}``, ``$((...))``,
comments, here-documents, IO numbers, reserved words only in command position), and the tokens are
parsed by the lark LALR grammar ``grammar/shell.lark`` (after XCU 2.10 "Shell Grammar": lists,
and-or lists, pipelines, groups, subshells, if/while/until/for/case, functions). Quoting is thus
honoured: ``echo "a & b"`` is one command with the argument ``a & b``, not a background job, and
``nginx -g 'daemon off;'`` passes one word. Each simple command is reported with its words (quotes
removed, expansions kept verbatim), the list operator before it and whether it runs in the
background (``&``, its own or an enclosing group's) or in a pipeline. Command substitutions are
parsed too and marked ``in_substitution``.

bashlex (a port of bash's parser) would do as well, but it rebuilds its LALR tables on every
import (about 0.15 s), more than the whole start-up budget of ``dockuni check``.

When a script does not parse (unterminated quotes, bash-only syntax the grammar lacks) the
fallback is Python's ``shlex`` in POSIX mode with ``punctuation_chars``, which still respects
quotes and separates ``;``, ``&``, ``&&``, ``||`` and ``|``; ``parsed`` is then False so that
rules can be more careful.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transpile.model.image import SHELLS

# Programs that only run their arguments as another command in the same process tree.
_WRAPPERS_NO_ARG = frozenset({"exec", "nohup", "setsid", "command", "nice", "ionice", "stdbuf", "time"})
_WRAPPERS_USER_ARG = frozenset({"gosu", "su-exec", "chroot"})  # wrapper USER command...
_LIST_OPERATORS = frozenset({";", "&", "&&", "||", "\n"})


@dataclass(frozen=True)
class Word:
    text: str  # quotes removed, as the shell passes it
    start: int  # offset in the analysed source, -1 when unknown
    end: int


@dataclass(frozen=True)
class SimpleCommand:
    words: tuple[Word, ...]  # assignments and redirections excluded
    assignments: tuple[str, ...] = ()
    redirect_targets: tuple[str, ...] = ()
    background: bool = False  # ended by "&" (itself or an enclosing list/pipeline/group)
    operator_before: str = ""  # "", ";", "&", "&&", "||", "|" or "\n"
    in_pipeline: bool = False
    in_substitution: bool = False  # inside $(...) or `...`

    # Cached (analyze() shares its results between rules, which ask again and again); a
    # cached_property writes the instance __dict__ directly, which a frozen dataclass allows.
    @functools.cached_property
    def argv(self) -> tuple[str, ...]:
        return tuple(w.text for w in self.words)

    @functools.cached_property
    def program(self) -> str:
        """Basename of the program actually run, after wrappers such as ``exec`` or ``nohup``."""
        argv, _ = unwrap(self.argv)
        return posixpath.basename(argv[0]) if argv else ""


@dataclass(frozen=True)
class ShellScript:
    source: str
    commands: tuple[SimpleCommand, ...]
    parsed: bool = True  # False: the shlex fallback was used
    error: str = ""

    def top_level(self) -> tuple[SimpleCommand, ...]:
        return tuple(c for c in self.commands if not c.in_substitution)


def unwrap(argv: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Strip wrappers that exec their arguments: returns (argv of the real program, wrappers seen)."""
    rest = list(argv)
    seen: list[str] = []
    while rest:
        name = posixpath.basename(rest[0])
        if name in _WRAPPERS_NO_ARG:
            seen.append(name)
            rest = rest[1:]
            while rest and rest[0].startswith("-") and name not in ("exec",):
                # nice -n 5, ionice -c2, stdbuf -oL: drop options (and a separate value for -n/-c)
                opt = rest.pop(0)
                if opt in ("-n", "-c", "-p") and rest:
                    rest.pop(0)
            while name == "exec" and rest and rest[0].startswith("-"):
                opt = rest.pop(0)
                if opt == "-a" and rest:
                    rest.pop(0)
        elif name == "env":
            seen.append(name)
            rest = rest[1:]
            while rest and (rest[0].startswith("-") or "=" in rest[0]):
                opt = rest.pop(0)
                if opt in ("-u", "-C", "-S") and rest:
                    rest.pop(0)
        elif name in _WRAPPERS_USER_ARG:
            seen.append(name)
            rest = rest[2:]
        elif name in ("sudo", "chpst", "s6-setuidgid"):
            seen.append(name)
            rest = rest[1:]
            while rest and rest[0].startswith("-"):
                opt = rest.pop(0)
                if opt in ("-u", "-g", "-U") and rest:
                    rest.pop(0)
            if name == "s6-setuidgid" and rest:
                rest.pop(0)
        else:
            break
    return tuple(rest), tuple(seen)


def shell_c_script(argv: Sequence[str]) -> str | None:
    """The script of ``sh -c SCRIPT ...`` (any POSIX-ish shell, ``-ec``/``-xc`` too), else None."""
    real, _ = unwrap(argv)
    if not real or posixpath.basename(real[0]) not in SHELLS:
        return None
    for i, arg in enumerate(real[1:], start=1):
        if arg == "--":
            return None
        if arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]:
            return real[i + 1] if i + 1 < len(real) else None
        if not arg.startswith("-"):
            return None
    return None


# --- tokenizer -------------------------------------------------------------------------------


class ShellSyntaxError(ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (offset {offset})")
        self.offset = offset


@dataclass(frozen=True)
class _Tok:
    type: str
    text: str  # WORD: quotes removed (expansions kept verbatim); operators: the operator
    start: int
    end: int
    subs: tuple[tuple[str, int], ...] = ()  # command substitutions in a WORD: (body, offset)


_RESERVED = {
    "if": "IF", "then": "THEN", "elif": "ELIF", "else": "ELSE", "fi": "FI", "while": "WHILE",
    "until": "UNTIL", "do": "DO", "done": "DONE", "for": "FOR", "case": "CASE", "esac": "ESAC",
    "{": "LBRACE", "}": "RBRACE", "!": "BANG", "function": "FUNCTION",
}  # fmt: skip
# After these tokens the next word is in command position (reserved words are recognised there).
_CMD_POS_AFTER = frozenset(
    {"SEP", "AMP", "ANDOR", "PIPE", "LPAREN", "RPAREN", "DSEMI", "IF", "THEN", "ELIF", "ELSE", "WHILE",
     "UNTIL", "DO", "LBRACE", "RBRACE", "BANG", "FI", "DONE", "ESAC"}
)  # fmt: skip
# A newline after these is not a separator (the command continues or the list just opened).
_NL_SKIP_AFTER = frozenset(
    {"SEP", "AMP", "ANDOR", "PIPE", "LPAREN", "DSEMI", "IF", "THEN", "ELIF", "ELSE", "WHILE", "UNTIL",
     "DO", "LBRACE", "BANG", "IN", "FUNCTION"}
)  # fmt: skip
_META = frozenset(" \t\n;&|<>()")


class _Tokenizer:
    def __init__(self, src: str) -> None:
        self.s = src
        self.n = len(src)
        self.toks: list[_Tok] = []
        self.heredocs: list[tuple[str, bool]] = []  # pending (delimiter, strip tabs)

    # -- words ---------------------------------------------------------------------------------
    def balanced(self, i: int, close: str) -> int:
        """Index just past the ``close`` matching an opener before ``i``; quotes and nesting honoured."""
        s, n = self.s, self.n
        opener = {")": "(", "}": "{"}[close]
        depth = 1
        while i < n:
            c = s[i]
            if c == "\\":
                i += 2
                continue
            if c == "'":
                j = s.find("'", i + 1)
                if j < 0:
                    raise ShellSyntaxError("unterminated single quote", i)
                i = j + 1
                continue
            if c == '"':
                i = self.double_quoted(i + 1, [], [])
                continue
            if c == "`":
                i = self.backquoted(i, [])
                continue
            if c == opener:
                depth += 1
            elif c == close:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise ShellSyntaxError(f"missing {close!r}", i)

    def backquoted(self, i: int, subs: list[tuple[str, int]]) -> int:
        j = i + 1
        while j < self.n and self.s[j] != "`":
            j += 2 if self.s[j] == "\\" else 1
        if j >= self.n:
            raise ShellSyntaxError("unterminated backquote", i)
        subs.append((self.s[i + 1 : j], i + 1))
        return j + 1

    def dollar(self, i: int, out: list[str], subs: list[tuple[str, int]]) -> int:
        s = self.s
        nxt = s[i + 1] if i + 1 < self.n else ""
        if nxt == "(":
            if s.startswith("$((", i):
                end = self.balanced(i + 3, ")")
                end = self.balanced(end, ")") if end < self.n and s[end - 1] == ")" and False else end
                # $(( expr )): the outer pair closes right after the inner one.
                if end < self.n and s[end] == ")":
                    end += 1
                out.append(s[i:end])
                return end
            end = self.balanced(i + 2, ")")
            subs.append((s[i + 2 : end - 1], i + 2))
            out.append(s[i:end])
            return end
        if nxt == "{":
            end = self.balanced(i + 2, "}")
            out.append(s[i:end])
            return end
        out.append("$")
        return i + 1

    def double_quoted(self, i: int, out: list[str], subs: list[tuple[str, int]]) -> int:
        s = self.s
        while i < self.n:
            c = s[i]
            if c == '"':
                return i + 1
            if c == "\\" and i + 1 < self.n and s[i + 1] in '$`"\\\n':
                if s[i + 1] != "\n":
                    out.append(s[i + 1])
                i += 2
            else:
                i = self.plain_or_expansion(i, out, subs)
        raise ShellSyntaxError("unterminated double quote", i)

    def plain_or_expansion(self, i: int, out: list[str], subs: list[tuple[str, int]]) -> int:
        """What quoted and unquoted text share: `$...` and backquotes expand, anything else is itself."""
        c = self.s[i]
        if c == "$":
            return self.dollar(i, out, subs)
        if c == "`":
            end = self.backquoted(i, subs)
            out.append(self.s[i:end])
            return end
        out.append(c)
        return i + 1

    def word(self, i: int) -> tuple[int, str, tuple[tuple[str, int], ...]]:
        s = self.s
        out: list[str] = []
        subs: list[tuple[str, int]] = []
        while i < self.n:
            c = s[i]
            if c in _META:
                break
            if c == "\\":
                if i + 1 < self.n and s[i + 1] != "\n":
                    out.append(s[i + 1])
                i += 2
            elif c == "'":
                j = s.find("'", i + 1)
                if j < 0:
                    raise ShellSyntaxError("unterminated single quote", i)
                out.append(s[i + 1 : j])
                i = j + 1
            elif c == '"':
                i = self.double_quoted(i + 1, out, subs)
            else:
                i = self.plain_or_expansion(i, out, subs)
        return i, "".join(out), tuple(subs)

    # -- the token stream ----------------------------------------------------------------------
    def last_type(self) -> str:
        return self.toks[-1].type if self.toks else "SEP"

    def emit(
        self, type_: str, text: str, start: int, end: int, subs: tuple[tuple[str, int], ...] = ()
    ) -> None:
        self.toks.append(_Tok(type_, text, start, end, subs))

    def command_position(self) -> bool:
        if not self.toks:
            return True
        last = self.toks[-1]
        if last.type in _CMD_POS_AFTER:
            return True
        # after a redirection's target the position is what it was before the redirection
        if last.type == "WORD" and len(self.toks) >= 2 and self.toks[-2].type == "REDIR":
            k = len(self.toks) - 2
            while k >= 2 and self.toks[k - 1].type == "WORD" and self.toks[k - 2].type == "REDIR":
                k -= 2
            return k == 0 or self.toks[k - 1].type in _CMD_POS_AFTER
        return False

    def read_heredocs(self, i: int) -> int:
        """Skip the bodies of pending here-documents, starting at line offset ``i``."""
        for delim, strip in self.heredocs:
            while i < self.n:
                j = self.s.find("\n", i)
                line = self.s[i : j if j >= 0 else self.n]
                i = j + 1 if j >= 0 else self.n
                if (line.lstrip("\t") if strip else line) == delim:
                    break
        self.heredocs.clear()
        return i

    def run(self) -> list[_Tok]:
        s, n = self.s, self.n
        i = 0
        while i < n:
            c = s[i]
            if c in " \t":
                i += 1
            elif c == "\\" and i + 1 < n and s[i + 1] == "\n":
                i += 2
            elif c == "#" and (i == 0 or s[i - 1] in " \t\n;&|()"):
                j = s.find("\n", i)
                i = n if j < 0 else j
            elif c == "\n":
                if self.last_type() not in _NL_SKIP_AFTER:
                    self.emit("SEP", "\n", i, i + 1)
                i = self.read_heredocs(i + 1)
            elif c == ";":
                if s.startswith(";;", i) or s.startswith(";&", i):
                    self.emit("DSEMI", s[i : i + 2], i, i + 2)
                    i += 2
                else:
                    if self.last_type() not in ("SEP", "AMP"):
                        self.emit("SEP", ";", i, i + 1)
                    i += 1
            elif c == "&":
                if s.startswith("&&", i):
                    self.emit("ANDOR", "&&", i, i + 2)
                    i += 2
                elif s.startswith("&>", i):
                    op = "&>>" if s.startswith("&>>", i) else "&>"
                    self.emit("REDIR", op, i, i + len(op))
                    i += len(op)
                else:
                    self.emit("AMP", "&", i, i + 1)
                    i += 1
            elif c == "|":
                if s.startswith("||", i):
                    self.emit("ANDOR", "||", i, i + 2)
                    i += 2
                else:
                    op = "|&" if s.startswith("|&", i) else "|"
                    self.emit("PIPE", op, i, i + len(op))
                    i += len(op)
            elif c == "(":
                self.emit("LPAREN", "(", i, i + 1)
                i += 1
            elif c == ")":
                self.emit("RPAREN", ")", i, i + 1)
                i += 1
            elif c in "<>":
                i = self.redirect(i, i)
            else:
                end, text, subs = self.word(i)
                if end == i:  # a lone metacharacter the cases above do not take
                    raise ShellSyntaxError(f"unexpected {c!r}", i)
                if text.isdigit() and end < n and s[end] in "<>" and s[i:end] == text:
                    i = self.redirect(end, i)  # 2>&1: an IO number glued to its operator
                    continue
                raw = s[i:end]
                type_ = "WORD"
                if raw == text and text in _RESERVED and self.command_position():
                    type_ = _RESERVED[text]
                elif text == "in" and len(self.toks) >= 2 and self.toks[-2].type in ("FOR", "CASE"):
                    type_ = "IN"
                self.emit(type_, text, i, end, subs)
                i = end
        return self.toks

    def redirect(self, i: int, start: int) -> int:
        s = self.s
        for op in ("<<-", "<<<", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">"):
            if s.startswith(op, i):
                break
        i += len(op)
        self.emit("REDIR", s[start:i], start, i)
        while i < self.n and s[i] in " \t":
            i += 1
        end, text, subs = self.word(i)
        if end == i:
            raise ShellSyntaxError(f"missing target after {op!r}", i)
        self.emit("WORD", text, i, end, subs)
        if op in ("<<", "<<-"):
            self.heredocs.append((text, op == "<<-"))
        return end


# --- the lark grammar over those tokens ------------------------------------------------------


TABLES_NAME = "shell.tables.json"


def grammar_path(name: str) -> Path:
    """A file of the grammar package: ``transpile.grammar`` when installed, else ``<repo>/grammar``."""
    import importlib.util

    spec = importlib.util.find_spec("transpile.grammar")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / name
    # Source checkout: transpile/passes/shell.py -> <repo>/grammar/<name>
    return Path(__file__).resolve().parents[2] / "grammar" / name


def _grammar_text() -> str:
    return grammar_path("shell.lark").read_text(encoding="utf-8")


@functools.cache
def _lark_parser() -> Any:
    """lark itself on ``grammar/shell.lark``: the reference the tables are tested against."""
    from transpile.syntax.grammars import import_lark

    import_lark()  # before shell_lark imports lark
    from transpile.passes import shell_lark

    return shell_lark.build(_grammar_text())


class _Leaf(str):
    """A terminal in the parse tree: its text and where its token starts, as lark's Token."""

    __slots__ = ("start_pos", "type")

    start_pos: int
    type: str


class _Tree:
    """A rule in the parse tree, as lark's Tree: ``data`` (rule or alias name), ``children``."""

    __slots__ = ("children", "data")

    def __init__(self, data: str, children: list[Any]) -> None:
        self.data = data
        self.children = children


class _ShellSyntax(Exception):
    """The token stream does not fit the grammar; worded as lark's UnexpectedToken (first line)."""

    def __init__(self, tok: _Tok) -> None:
        super().__init__(f"Unexpected token Token({tok.type!r}, {tok.text!r}) at line None, column None.")


class _Tables:
    """lark's LALR tables for grammar/shell.lark (generated by ``transpile.passes.shell_lark``),
    run the way lark's LALR parser runs them, building the tree lark's tree builder builds."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.start: int = raw["start_state"]
        self.end: int = raw["end_state"]
        count = len(raw["states"])
        self.states: list[dict[str, tuple[int, int]]] = [{} for _ in range(count)]
        for state, row in raw["states"].items():
            self.states[int(state)] = {sym: (act[0], act[1]) for sym, act in row.items()}
        self.rules: list[tuple[str, str, int, bool, tuple[tuple[int, bool], ...]]] = [
            (origin, name, size, expand1, tuple((i, i in splice) for i in keep))
            for origin, name, size, expand1, keep, splice in raw["rules"]
        ]

    def parse(self, toks: Sequence[_Tok]) -> _Tree:
        states = self.states
        rules = self.rules
        stack = [self.start]
        values: list[Any] = []
        last = toks[-1].end if toks else 0
        for tok in [*toks, _Tok("$END", "", last, last)]:
            at_end = tok.type == "$END"
            while True:
                action = states[stack[-1]].get(tok.type)
                if action is None:
                    raise _ShellSyntax(tok)
                kind, arg = action
                if kind == 0:  # shift
                    leaf = _Leaf(tok.text)
                    leaf.start_pos = tok.start
                    leaf.type = tok.type
                    stack.append(arg)
                    values.append(leaf)
                    break
                origin, name, size, expand1, keep = rules[arg]
                children = values[-size:] if size else []
                if size:
                    del stack[-size:]
                    del values[-size:]
                kept: list[Any] = []
                for i, splice in keep:
                    if splice:
                        kept += children[i].children
                    else:
                        kept.append(children[i])
                value = kept[0] if expand1 and len(kept) == 1 else _Tree(name, kept)
                stack.append(states[stack[-1]][origin][1])
                values.append(value)
                if at_end and stack[-1] == self.end:
                    tree: _Tree = values[-1]
                    return tree
        raise AssertionError("$END always ends in a reduce to start")  # pragma: no cover


@functools.cache
def _tables() -> _Tables:
    import json

    return _Tables(json.loads(grammar_path(TABLES_NAME).read_text(encoding="utf-8")))


class _Builder:
    """Walks the parse tree and collects simple commands with their list context."""

    def __init__(self, source: str, toks: Sequence[_Tok], subst: bool, offset: int) -> None:
        self.source = source
        self.by_start = {t.start: t for t in toks}
        self.subst = subst
        self.offset = offset
        self.out: list[SimpleCommand] = []

    def term(self, tree: Any, background: bool, before: str) -> None:
        parts = tree.children
        op = before
        for i, part in enumerate(parts):
            if part.data == "sep":
                op = str(part.children[0])
                continue
            nxt = parts[i + 1] if i + 1 < len(parts) else None
            bg = background or (nxt is not None and str(nxt.children[0]) == "&")
            self.item(part, bg, op)

    def item(self, tree: Any, background: bool, before: str) -> None:
        op = before
        for child in tree.children:
            if isinstance(child, str):  # ANDOR token
                op = str(child)
                continue
            self.pipeline(child, background, op)

    def pipeline(self, tree: Any, background: bool, before: str) -> None:
        commands = [c for c in tree.children if not isinstance(c, str)]
        op = before
        for cmd in commands:
            self.command(cmd, background, op, len(commands) > 1)
            op = "|"

    def command(self, tree: Any, background: bool, before: str, pipeline: bool) -> None:
        kind = tree.data
        if kind == "simple":
            self.simple(tree, background, before, pipeline)
            return
        if kind == "redirect":
            return
        for child in tree.children:
            if isinstance(child, str):
                continue
            if child.data == "term":
                self.term(child, background, before)
            elif child.data in ("case_item", "last_case_item"):
                for sub in child.children:
                    if not isinstance(sub, str) and sub.data == "term":
                        self.term(sub, background, before)
            elif child.data in ("group", "subshell", "if_", "loop", "for_", "case", "funcdef"):
                self.command(child, background, before, pipeline)

    def simple(self, tree: Any, background: bool, before: str, pipeline: bool) -> None:
        words: list[Word] = []
        assigns: list[str] = []
        targets: list[str] = []
        for child in tree.children:
            if isinstance(child, str):
                tok = self.by_start[getattr(child, "start_pos", -1)]
                # NAME=value is an assignment only when NAME= itself is unquoted
                if not words and _is_assignment(self.source[tok.start : tok.end]):
                    assigns.append(tok.text)
                else:
                    words.append(Word(tok.text, tok.start + self.offset, tok.end + self.offset))
                self.substitutions(tok)
            else:  # redirect
                target = self.by_start[child.children[1].start_pos]
                targets.append(target.text)
                self.substitutions(target)
        self.out.append(
            SimpleCommand(
                words=tuple(words),
                assignments=tuple(assigns),
                redirect_targets=tuple(targets),
                background=background,
                operator_before=before,
                in_pipeline=pipeline,
                in_substitution=self.subst,
            )
        )

    def substitutions(self, tok: _Tok) -> None:
        for body, at in tok.subs:
            inner = _parse(body, subst=True, offset=self.offset + at)
            self.out.extend(inner)


def _is_assignment(word: str) -> bool:
    name, eq, _ = word.partition("=")
    return bool(eq) and name.isidentifier() and name.isascii()


def _parse(source: str, *, subst: bool = False, offset: int = 0) -> list[SimpleCommand]:
    toks = _Tokenizer(source).run()
    if not toks:
        return []
    tree = _tables().parse(toks)
    builder = _Builder(source, toks, subst, offset)
    for child in tree.children:
        builder.term(child, False, "")
    return builder.out


def _fallback(source: str) -> tuple[SimpleCommand, ...]:
    import shlex  # only for scripts the parser rejects: not loaded at start-up

    lexer = shlex.shlex(source, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    groups: list[tuple[str, list[str]]] = []
    current: list[str] = []
    op = ""
    try:
        tokens = list(lexer)
    except ValueError:
        tokens = source.split()
    for tok in tokens:
        if tok in _LIST_OPERATORS or tok == "|" or set(tok) <= set(";&|"):
            groups.append((op, current))
            current = []
            op = tok
        else:
            current.append(tok)
    groups.append((op, current))
    commands: list[SimpleCommand] = []
    cursor = 0
    for i, (before, toks) in enumerate(groups):
        if not toks:
            continue
        after = groups[i + 1][0] if i + 1 < len(groups) else ""
        words: list[Word] = []
        assigns: list[str] = []
        for tok in toks:
            at = source.find(tok, cursor)
            if at >= 0:
                cursor = at + len(tok)
            if not words and "=" in tok and tok.split("=", 1)[0].isidentifier():
                assigns.append(tok)
            else:
                words.append(Word(tok, at, at + len(tok) if at >= 0 else -1))
        commands.append(
            SimpleCommand(
                words=tuple(words),
                assignments=tuple(assigns),
                background=after == "&",
                operator_before=before,
                in_pipeline=before == "|" or after == "|",
            )
        )
    return tuple(commands)


_SPECIAL = frozenset(";&|()<>\n`'\"$\\#{}!")


def _plain_command(source: str) -> ShellScript | None:
    """Fast path: a script with no shell syntax at all is one simple command of blank-split words.

    Without quotes, expansions, operators, redirections or separators the grammar can only
    produce a single simple command (a leading reserved word could not be completed), so
    the full parse is skipped.
    """
    if any(ch in _SPECIAL for ch in source):
        return None
    words: list[Word] = []
    assigns: list[str] = []
    pos = 0
    for text in source.replace("\t", " ").split(" "):
        if not text:
            continue
        start = source.index(text, pos)
        pos = start + len(text)
        if not words and _is_assignment(text):
            assigns.append(text)
        else:
            words.append(Word(text, start, pos))
    if words and words[0].text in _RESERVED:
        return None
    if not words and not assigns:
        return ShellScript(source, ())
    return ShellScript(source, (SimpleCommand(words=tuple(words), assignments=tuple(assigns)),))


@functools.lru_cache(maxsize=4096)
def analyze(source: str) -> ShellScript:
    """Parse a POSIX shell script into its simple commands (cached: rules share the results)."""
    plain = _plain_command(source)
    if plain is not None:
        return plain
    try:
        commands = _parse(source)
    except (ShellSyntaxError, _ShellSyntax) as err:
        return ShellScript(source, _fallback(source), parsed=False, error=str(err).splitlines()[0])
    return ShellScript(source, tuple(commands))


def iter_commands(script: ShellScript, *, nested: bool = True) -> Iterator[SimpleCommand]:
    """Every simple command, descending into ``sh -c '...'`` arguments when ``nested``."""
    for cmd in script.commands:
        yield cmd
        if nested:
            inner = shell_c_script(cmd.argv)
            if inner is not None:
                sub = analyze(inner)
                for child in iter_commands(sub, nested=True):
                    # Offsets of nested commands do not point into the outer source.
                    yield SimpleCommand(
                        words=tuple(Word(w.text, -1, -1) for w in child.words),
                        assignments=child.assignments,
                        redirect_targets=child.redirect_targets,
                        background=child.background or cmd.background,
                        operator_before=child.operator_before,
                        in_pipeline=child.in_pipeline,
                        in_substitution=child.in_substitution,
                    )
