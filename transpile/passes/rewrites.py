"""The single-process rewrites of the recipe's program, applied before the trace.

Unikernels run one process. Some servers fork or daemonize only because of their default configuration
and have a documented switch to serve from one foreground process; Unikraft's catalog configures them
this way (nginx ``daemon off; master_process off;``, redis ``daemonize no``). The recipes run the
rewritten argv, so the trace and the verdicts must judge that argv too: the pipeline traces
``recipe_config(config).config``. Each rewrite names itself; none is shaped to one image (no paths,
ports or file names of a particular image are involved).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace

from transpile.model.image import ImageConfig

_NGINX = re.compile(r"nginx(-[a-z]+)?")
_NGINX_DIRECTIVES = ("daemon off;", "master_process off;")


@dataclass(frozen=True)
class Rewritten:
    argv: tuple[str, ...]
    notes: tuple[str, ...]  # one line per rewrite applied ("" none)


def _nginx(args: list[str], notes: list[str]) -> None:
    if "-g" in args[1:]:
        i = args.index("-g", 1)
        if i + 1 < len(args):
            present = args[i + 1]
            extra = [d for d in _NGINX_DIRECTIVES if d.split()[0] not in present]
            if extra:
                args[i + 1] = (present.rstrip() + " " + " ".join(extra)).strip()
                notes.append(f"nginx runs single-process: added `{' '.join(extra)}` to -g")
    else:
        args += ["-g", " ".join(_NGINX_DIRECTIVES)]
        notes.append("nginx runs single-process: added `-g 'daemon off; master_process off;'`")


def single_process(argv: tuple[str, ...]) -> Rewritten:
    """ARGV rewritten so that the server stays one process in the foreground, with what was changed."""
    if not argv:
        return Rewritten(argv, ())
    prog = posixpath.basename(argv[0])
    args = list(argv)
    notes: list[str] = []
    if _NGINX.fullmatch(prog):
        _nginx(args, notes)
    elif prog == "redis-server" and "--daemonize" not in args:
        args += ["--daemonize", "no"]
        notes.append("redis runs in the foreground: added `--daemonize no`")
    return Rewritten(tuple(args), tuple(notes))


def recipe_config(config: ImageConfig) -> tuple[ImageConfig, tuple[str, ...]]:
    """CONFIG with the argv the recipes run (the rewrites applied), and the rewrites' notes.

    The rewritten argv goes into ENTRYPOINT (CMD empty) so that the sandbox runs exactly it."""
    out = single_process(config.argv)
    if out.argv == config.argv:
        return config, ()
    return replace(config, entrypoint=out.argv, cmd=()), out.notes
