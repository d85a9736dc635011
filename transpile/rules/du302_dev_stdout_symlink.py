"""DU302: log files symlinked to /dev/stdout or /dev/stderr."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.passes.shell import iter_commands, unwrap
from transpile.rules.base import final_lineage, finding, locate, locate_word, run_scripts
from transpile.syntax.ast import ParsedFile

ID = "DU302"
TITLE = "symlink to /dev/stdout or /dev/stderr"
SEVERITY: ir.Severity = "warning"
NEED = "fs.stdio_symlink"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "drop the symlink and let the server log to a file, or to its console through its own configuration"

_STD_TARGETS = frozenset(
    {"/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2", "/proc/self/fd/1", "/proc/self/fd/2"}
)


def _symbolic(options: list[str]) -> bool:
    for opt in options:
        if opt == "--symbolic":
            return True
        if opt.startswith("-") and not opt.startswith("--") and "s" in opt[1:]:
            return True
    return False


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    for run in run_scripts(final_lineage(df)):
        for cmd in iter_commands(run.script):
            argv, _ = unwrap(cmd.argv)
            if not argv or argv[0].rsplit("/", 1)[-1] != "ln":
                continue
            options = [a for a in argv[1:] if a.startswith("-")]
            operands = [w for w in cmd.words[len(cmd.words) - len(argv) + 1 :] if not w.text.startswith("-")]
            if not _symbolic(options) or len(operands) < 2:
                continue
            for word in operands[:-1]:  # ln -s TARGET... LINK_OR_DIR
                if word.text in _STD_TARGETS:
                    link = operands[-1].text
                    span = (
                        locate(df, run.instruction.span, word.text)
                        if run.from_heredoc
                        else (locate_word(df, run.instruction.span, run.script, word))
                    )
                    yield finding(
                        globals(),
                        f"{link} is a symlink to {word.text}: a unikernel without /dev/stdout or "
                        "/dev/stderr cannot open it, so the server fails to open its log file",
                        span,
                    )
