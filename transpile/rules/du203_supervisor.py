"""DU203: a process supervisor or init system starts the container."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from transpile import ir
from transpile.passes.shell import unwrap
from transpile.rules.base import finding, locate, locate_word, runtime
from transpile.syntax.ast import ParsedFile

ID = "DU203"
TITLE = "process supervisor or init system"
SEVERITY: ir.Severity = "error"
NEED = "process.fork"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "run the one server process directly; a unikernel is its own init and runs a single process"

# Programs whose job is to start and watch other processes.
SUPERVISORS: dict[str, str] = {
    "supervisord": "supervisord",
    "s6-svscan": "s6",
    "s6-supervise": "s6",
    "runsvdir": "runit",
    "runsv": "runit",
    "runit": "runit",
    "systemd": "systemd",
    "init": "an init system",
    "openrc-init": "OpenRC",
    "cron": "cron",
    "crond": "cron",
    "sshd": "sshd (an SSH daemon forks a process per login)",
    "tini": "tini (an init that forks the app)",
    "dumb-init": "dumb-init (an init that forks the app)",
    "docker-init": "docker-init (tini)",
    "monit": "monit",
    "pm2": "pm2",
    "pm2-runtime": "pm2",
    "forego": "forego (Procfile runner)",
    "honcho": "honcho (Procfile runner)",
    "circusd": "circus",
    "mysqld_safe": "mysqld_safe (restarts mysqld as a child)",
}
# s6-overlay installs its init as /init.
_PATHS = {"/init": "s6-overlay's /init", "/sbin/init": "an init system", "/lib/systemd/systemd": "systemd"}


def _what(prog: str) -> str | None:
    if prog in _PATHS:
        return _PATHS[prog]
    return SUPERVISORS.get(posixpath.basename(prog))


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    rt = runtime(df)
    if rt.script is None:
        argv, _ = unwrap(rt.argv)
        what = _what(argv[0]) if argv else None
        if what:
            yield finding(
                globals(),
                f"the container starts {what}, which exists to run other processes",
                locate(df, rt.span, argv[0]),
            )
        return
    for cmd in rt.commands():
        argv, _ = unwrap(cmd.argv)
        what = _what(argv[0]) if argv else None
        if what:
            word = cmd.words[len(cmd.words) - len(argv)]
            yield finding(
                globals(),
                f"the container's command starts {what}, which exists to run other processes",
                locate_word(df, rt.script_span, rt.script, word),
            )
