"""What every rule shares: its metadata record, and pure helpers over the IR.

A rule is a module ``transpile/rules/duNNN_name.py`` with constants ``ID``, ``TITLE``,
``SEVERITY``, ``NEED`` (the facility it shows the app needs, from transpile/data/facilities.json),
``HINT`` and a function ``check(df, parsed) -> Iterable[Finding]``; ``transpile.rules.registry`` lists
the modules. No rule names a target: each target's capabilities decide which targets a need affects.
A rule may also define ``quiet_lines(df) -> Iterable[(first, last)]``: line ranges where the
other rules' findings do not apply (DU703: a stage that builds a unikernel itself).
Rules do no I/O: everything they know comes from the lowered Dockerfile.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType

from transpile import ir
from transpile.passes.shell import ShellScript, SimpleCommand, Word, analyze, iter_commands, shell_c_script
from transpile.syntax.ast import ParsedFile

# Where the rule pages live; SARIF's helpUri must be an absolute URI.
DOCS_BASE = "https://github.com/dockuni/dockuni/blob/main/docs/rules/"

CheckFn = Callable[[ir.Dockerfile, ParsedFile], Iterable[ir.Finding]]
QuietFn = Callable[[ir.Dockerfile], Iterable[tuple[int, int]]]


def doc_url(rule_id: str) -> str:
    return f"{DOCS_BASE}{rule_id}.md"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: ir.Severity
    need: str
    targets: tuple[str, ...]  # the registered targets whose capabilities lack the need
    hint: str
    doc: str
    check: CheckFn
    quiet_lines: QuietFn | None = None

    @classmethod
    def from_module(cls, module: ModuleType) -> Rule:
        from transpile import data
        from transpile import targets as registry

        need = str(module.NEED)
        if need and need not in data.facilities():
            raise ValueError(f"{module.__name__}: unknown need {need!r} (not in facilities.json)")
        return cls(
            id=module.ID,
            title=module.TITLE,
            severity=module.SEVERITY,
            need=need,
            targets=registry.affected(need),
            hint=module.HINT,
            doc=doc_url(module.ID),
            check=module.check,
            quiet_lines=getattr(module, "quiet_lines", None),
        )


def finding(
    module_globals: dict[str, object],
    message: str,
    span: ir.Span | None,
    *,
    evidence: str = "",
    hint: str | None = None,
) -> ir.Finding:
    """A Finding carrying the calling rule's id, severity, need, targets and hint (pass ``globals()``)."""
    from transpile import targets as registry

    severity = module_globals["SEVERITY"]
    need = str(module_globals["NEED"])
    assert isinstance(severity, str)
    return ir.Finding(
        rule=str(module_globals["ID"]),
        severity=severity,  # type: ignore[arg-type]
        message=message,
        span=span,
        need=need,
        targets=registry.affected(need),
        hint=str(module_globals["HINT"]) if hint is None else hint,
        evidence=evidence,
    )


# --- locating words in the source --------------------------------------------------------------


def locate(df: ir.Dockerfile, span: ir.Span | None, text: str, nth: int = 0) -> ir.Span | None:
    """The span of the ``nth`` occurrence of ``text`` inside the instruction at ``span``.

    Falls back to the instruction's own span when the text is not found literally (quotes or
    continuation lines may split it) or when the file's text is unknown.
    """
    if span is None or not text or not df.source_lines:
        return span
    seen = 0
    last = min(span.end_line, len(df.source_lines))
    for line_no in range(span.line, last + 1):
        line = df.source_lines[line_no - 1]
        start = span.column - 1 if line_no == span.line else 0
        while True:
            col = line.find(text, start)
            if col < 0:
                break
            if seen == nth:
                return ir.Span(span.file, line_no, col + 1, line_no, col + 1 + len(text))
            seen += 1
            start = col + 1
    return span


def locate_word(df: ir.Dockerfile, span: ir.Span | None, script: ShellScript, word: Word) -> ir.Span | None:
    """Point at one word of a shell script that came from the instruction at ``span``."""
    if word.start < 0:
        return locate(df, span, word.text)
    nth = script.source.count(word.text, 0, word.start) if word.text else 0
    return locate(df, span, word.text, nth)


# --- the final image's lineage and its commands --------------------------------------------------


def final_lineage(df: ir.Dockerfile) -> list[ir.Stage]:
    """The final stage and the stages it builds FROM (their files and config end up in the image)."""
    chain: list[ir.Stage] = []
    stage = df.final_stage
    while stage is not None:
        chain.append(stage)
        stage = df.stages[stage.base_stage] if stage.base_stage is not None else None
    return list(reversed(chain))


def instructions(stages: Iterable[ir.Stage], kind: str) -> Iterator[ir.Instruction]:
    for stage in stages:
        for instr in stage.instructions:
            if instr.kind == kind:
                yield instr


@dataclass(frozen=True)
class RunScript:
    instruction: ir.Instruction
    script: ShellScript
    from_heredoc: bool  # the script is a here-document body (its words are not on the RUN line)


def run_scripts(stages: Iterable[ir.Stage]) -> Iterator[RunScript]:
    """The shell scripts that the RUN instructions of ``stages`` execute."""
    for instr in instructions(stages, "RUN"):
        if instr.json_form:
            inner = shell_c_script(instr.raw)
            if inner is not None:
                yield RunScript(instr, analyze(inner), False)
            else:
                yield RunScript(instr, ShellScript(" ".join(instr.raw), (_exec_command(instr.raw),)), False)
            continue
        command = " ".join(instr.raw)
        if instr.heredocs and _HEREDOC_ONLY.match(command):
            # RUN <<EOF alone: BuildKit runs the body as the script, with the shell unless the
            # body starts with a #! line naming another interpreter.
            for _, body in instr.heredocs:
                first = body.split("\n", 1)[0]
                if first.startswith("#!") and not _SHELL_SHEBANG.match(first):
                    continue
                yield RunScript(instr, analyze(body), True)
            continue
        yield RunScript(instr, analyze(command), False)


_HEREDOC_ONLY = re.compile(r"""^\s*<<-?\s*["']?[A-Za-z0-9_]+["']?\s*$""")
_SHELL_SHEBANG = re.compile(r"^#!\s*(/usr)?/bin/(env\s+)?(ba|da|a|k|z)?sh\b")


def _exec_command(argv: tuple[str, ...]) -> SimpleCommand:
    return SimpleCommand(words=tuple(Word(a, -1, -1) for a in argv))


@dataclass(frozen=True)
class Runtime:
    """What the container starts, as rules see it."""

    argv: tuple[str, ...]
    span: ir.Span | None  # the ENTRYPOINT or CMD that supplies argv[0]
    shell_form: bool  # argv is SHELL + a shell-form string
    script: ShellScript | None  # the shell script run, for shell forms and exec-form ``sh -c``
    script_span: ir.Span | None  # the instruction the script text comes from

    def commands(self) -> Iterator[SimpleCommand]:
        """The commands the container runs: the script's commands, or argv itself."""
        if self.script is not None:
            yield from iter_commands(self.script)
        elif self.argv:
            yield _exec_command(self.argv)


def runtime(df: ir.Dockerfile) -> Runtime:
    rc = df.runtime
    if rc.entrypoint:
        span, shell_form = rc.entrypoint_span, rc.entrypoint_shell_form
    else:
        span, shell_form = rc.cmd_span, rc.cmd_shell_form
    script: ShellScript | None = None
    script_span = span
    inner = shell_c_script(rc.argv)
    if inner is not None:
        script = analyze(inner)
        # CMD ["sh", "-c", "..."] after an exec-form ENTRYPOINT: the script is in the CMD
        if rc.entrypoint and not rc.entrypoint_shell_form and rc.cmd and shell_c_script(rc.cmd) is not None:
            script_span = rc.cmd_span
    return Runtime(rc.argv, span, shell_form, script, script_span)


def program_name(argv: tuple[str, ...]) -> str:
    return posixpath.basename(argv[0]) if argv else ""


def has_flag(words: Iterable[str], *names: str) -> bool:
    """True if any of ``names`` (``-d``, ``--daemon``) is among ``words``, also as ``--x=value``."""
    return any(word in names or word.split("=", 1)[0] in names for word in words)
