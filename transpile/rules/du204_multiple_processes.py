"""DU204: one CMD/ENTRYPOINT starts several processes."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from transpile import ir
from transpile.passes.shell import unwrap
from transpile.rules.base import finding, locate_word, runtime
from transpile.rules.servers import is_server
from transpile.syntax.ast import ParsedFile

ID = "DU204"
TITLE = "several processes started from one command"
SEVERITY: ir.Severity = "error"
NEED = "process.fork"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "one unikernel runs one process: split the services into separate images (one per server)"

_SERVICE_TOOLS = frozenset({"service", "rc-service"})


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    rt = runtime(df)
    if rt.script is None:
        return
    script = rt.script
    top = [c for c in script.commands if not c.in_substitution]
    for i, cmd in enumerate(top):
        argv, wrappers = unwrap(cmd.argv)
        if not argv:
            continue
        name = posixpath.basename(argv[0])
        first = cmd.words[len(cmd.words) - len(argv)]
        here = locate_word(df, rt.script_span, script, first)
        if cmd.background and script.parsed:
            yield finding(
                globals(),
                f"`{' '.join(cmd.argv)} &` runs in the background next to the rest of the command",
                here,
            )
        elif "nohup" in wrappers:
            nohup = locate_word(df, rt.script_span, script, cmd.words[0])
            yield finding(globals(), f"`nohup {' '.join(argv)}` starts a detached extra process", nohup)
        elif (name in _SERVICE_TOOLS and len(argv) >= 3 and argv[2] in ("start", "restart")) or (
            argv[0].startswith("/etc/init.d/") and len(argv) >= 2 and argv[1] in ("start", "restart")
        ):
            yield finding(
                globals(),
                f"`{' '.join(argv[:3])}` starts a background service before the main process",
                here,
            )
        elif is_server(argv) and i + 1 < len(top) and top[i + 1].operator_before in (";", "&&", "\n"):
            after = " ".join(top[i + 1].argv) or "the next command"
            yield finding(
                globals(),
                f"server `{name}` is followed by `{after}`: either it daemonizes and both run, "
                "or the rest never starts",
                here,
            )
