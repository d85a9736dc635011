"""DU201: the container starts through a shell-form ENTRYPOINT or CMD."""

from __future__ import annotations

import json
from collections.abc import Iterator

from transpile import ir
from transpile.rules.base import finding, runtime
from transpile.syntax.ast import ParsedFile

ID = "DU201"
TITLE = "shell-form ENTRYPOINT/CMD"
SEVERITY: ir.Severity = "warning"
NEED = "process.exec"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = 'use the exec (JSON) form: CMD ["program", "arg", ...]'


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    rt = runtime(df)
    if not rt.shell_form or rt.script is None:
        return
    which = "ENTRYPOINT" if df.runtime.entrypoint else "CMD"
    shell = " ".join(df.runtime.shell)
    hint = HINT
    commands = rt.script.top_level()
    if rt.script.parsed and len(commands) == 1 and not commands[0].assignments:
        argv = list(commands[0].argv)
        if argv and argv[0] == "exec":
            argv = argv[1:]
        if argv and not any(ch in w for w in argv for ch in "$`*?"):
            hint = f"use the exec (JSON) form: {which} {json.dumps(argv)}"
    yield finding(
        globals(),
        f"shell-form {which} runs `{shell} ...`: the image needs a shell and the app starts as "
        "its child (fork + exec), which a single-process unikernel cannot do",
        rt.span,
        hint=hint,
    )
