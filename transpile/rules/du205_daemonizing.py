"""DU205: a server that daemonizes (forks into the background) is the container's command."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from transpile import ir
from transpile.passes.shell import SimpleCommand, unwrap
from transpile.rules.base import finding, has_flag, locate, locate_word, runtime
from transpile.syntax.ast import ParsedFile

ID = "DU205"
TITLE = "daemonizing server"
SEVERITY: ir.Severity = "error"
NEED = "process.fork"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "run it in the foreground: nginx -g 'daemon off;', redis-server --daemonize no, httpd -DFOREGROUND"


def _daemonizes(argv: tuple[str, ...]) -> str | None:
    """Why this command line daemonizes, or None."""
    name = posixpath.basename(argv[0])
    args = argv[1:]
    if name == "nginx":
        if any(a in ("-s", "-t", "-T", "-v", "-V", "-h", "-?") for a in args):
            return None  # signals or tests, not a server start
        directives = " ".join(args[i + 1] for i, a in enumerate(args[:-1]) if a == "-g")
        if "daemon off" not in " ".join(directives.split()):
            return "nginx daemonizes by default unless started with -g 'daemon off;' (or its config says so)"
        return None
    if name == "redis-server":
        for i, a in enumerate(args):
            if a == "--daemonize" and i + 1 < len(args) and args[i + 1].lower() == "yes":
                return "redis-server --daemonize yes forks into the background"
        return None
    if name in ("apachectl", "apache2ctl"):
        if "start" in args:
            return f"{name} start launches httpd in the background"
        return None
    if name in ("httpd", "apache2"):
        if "-k" in args and args[args.index("-k") + 1 : args.index("-k") + 2] == ("start",):
            return f"{name} -k start daemonizes (use -DFOREGROUND)"
        return None
    if name == "pg_ctl" and "start" in args:
        return "pg_ctl start runs postgres in the background"
    if name == "memcached" and has_flag(args, "-d", "--daemon"):
        return "memcached -d runs as a daemon"
    if name.startswith("php-fpm") and has_flag(args, "-D", "--daemonize"):
        return f"{name} -D forces daemon mode"
    if name == "haproxy" and has_flag(args, "-D"):
        return "haproxy -D runs in daemon mode"
    return None


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    rt = runtime(df)
    commands: list[SimpleCommand] = list(rt.commands())
    for cmd in commands:
        if cmd.in_substitution:
            continue
        argv, _ = unwrap(cmd.argv)
        if not argv:
            continue
        why = _daemonizes(argv)
        if why is None:
            continue
        if rt.script is not None and cmd.words and cmd.words[0].start >= 0:
            span = locate_word(df, rt.script_span, rt.script, cmd.words[len(cmd.words) - len(argv)])
        else:
            span = locate(df, rt.span, argv[0])
        yield finding(globals(), why, span)
