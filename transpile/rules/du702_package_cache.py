"""DU702: a package manager's cache is left in the final image."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from transpile import ir
from transpile.passes.shell import SimpleCommand, iter_commands, unwrap
from transpile.rules.base import RunScript, final_lineage, finding, has_flag, locate, locate_word, run_scripts
from transpile.syntax.ast import ParsedFile

ID = "DU702"
TITLE = "package manager cache in the final image"
SEVERITY: ir.Severity = "info"
NEED = "image.package_cache"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = (
    "clean up in the same RUN (apt-get ... && rm -rf /var/lib/apt/lists/*, apk add --no-cache, "
    "pip install --no-cache-dir), or install in a build stage and COPY only what runs"
)


_TRUE = ("1", "true", "yes", "on")


def _removes(cmds: list[SimpleCommand], prefix: str) -> bool:
    for cmd in cmds:
        argv, _ = unwrap(cmd.argv)
        if argv and posixpath.basename(argv[0]) == "rm" and any(a.startswith(prefix) for a in argv[1:]):
            return True
    return False


def _installs(argv: tuple[str, ...], verbs: tuple[str, ...]) -> bool:
    return any(a in verbs for a in argv[1:3]) or (len(argv) > 1 and argv[1] in verbs)


def _problem(argv: tuple[str, ...], cmds: list[SimpleCommand], env: dict[str, str]) -> str | None:
    name = posixpath.basename(argv[0])
    if name in ("apt-get", "apt", "aptitude") and "install" in argv[1:]:
        if not _removes(cmds, "/var/lib/apt/lists"):
            return f"{name} install without removing /var/lib/apt/lists leaves the package lists in the image"
        return None
    if name == "apk" and "add" in argv[1:]:
        if not has_flag(argv[1:], "--no-cache") and not _removes(cmds, "/var/cache/apk"):
            return "apk add without --no-cache leaves the package index in /var/cache/apk"
        return None
    is_pip = name.startswith("pip") or (
        name.startswith("python") and len(argv) >= 3 and argv[1] == "-m" and argv[2].startswith("pip")
    )
    if is_pip and "install" in argv[1:]:
        if has_flag(argv[1:], "--no-cache-dir") or env.get("PIP_NO_CACHE_DIR", "").lower() in _TRUE:
            return None
        if _removes(cmds, "/root/.cache"):
            return None
        return f"{name} install without --no-cache-dir keeps downloaded wheels in /root/.cache/pip"
    return None


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    final = df.final_stage
    if final is None:
        return
    env = dict(final.runtime.env)
    run: RunScript
    for run in run_scripts(final_lineage(df)):
        cmds = list(iter_commands(run.script))
        for cmd in cmds:
            argv, _ = unwrap(cmd.argv)
            if not argv:
                continue
            why = _problem(argv, cmds, env)
            if why is None:
                continue
            word = cmd.words[len(cmd.words) - len(argv)]
            span = (
                locate(df, run.instruction.span, word.text)
                if run.from_heredoc
                else locate_word(df, run.instruction.span, run.script, word)
            )
            yield finding(
                globals(),
                f"{why}; every file of the final image goes into the unikernel's root filesystem "
                "(an initramfs is loaded into memory whole)",
                span,
            )
