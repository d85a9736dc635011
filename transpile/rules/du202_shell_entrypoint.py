"""DU202: the entrypoint is a shell script or an explicit ``sh -c``."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from transpile import ir
from transpile.model.image import SHELLS
from transpile.passes.shell import unwrap
from transpile.rules.base import final_lineage, finding, instructions, locate, runtime
from transpile.syntax.ast import ParsedFile

ID = "DU202"
TITLE = "entrypoint is a shell script or sh -c"
SEVERITY: ir.Severity = "warning"
NEED = "process.exec"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "exec the server binary directly (options in CMD/ENV); `dockuni trace` shows what the script runs"


def _script_destinations(df: ir.Dockerfile) -> dict[str, str]:
    """Image paths that COPY/ADD fill from a ``*.sh`` source -> the source name."""
    out: dict[str, str] = {}
    lineage = final_lineage(df)
    for kind in ("COPY", "ADD"):
        for instr in instructions(lineage, kind):
            if instr.heredocs or len(instr.args) < 2:
                continue
            *sources, dest = instr.args
            for src in sources:
                if not src.endswith(".sh"):
                    continue
                if dest.endswith("/"):
                    out[posixpath.join(dest, posixpath.basename(src))] = src
                elif len(sources) == 1:
                    out[dest] = src
    return out


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    rt = runtime(df)
    if rt.shell_form or not rt.argv:
        return  # DU201 covers the shell form
    argv, _ = unwrap(rt.argv)
    if not argv:
        return
    prog = argv[0]
    name = posixpath.basename(prog)
    span = locate(df, rt.span, prog)
    if name in SHELLS:
        what = f"`{name} -c`" if rt.script is not None else f"the shell `{name}`"
        yield finding(
            globals(),
            f"the container starts {what}: a shell that forks and execs the real program, "
            "which a single-process unikernel cannot do",
            span,
        )
        return
    workdir = df.runtime.workdir
    path = prog if prog.startswith("/") else posixpath.join(workdir, prog)
    copied = _script_destinations(df)
    if name.endswith(".sh") or path in copied:
        source = copied.get(path)
        origin = f" (copied from {source})" if source and source != prog else ""
        yield finding(
            globals(),
            f"the entrypoint {prog}{origin} is a shell script: it needs /bin/sh in the image and "
            "usually starts the server as a child process",
            span,
        )
