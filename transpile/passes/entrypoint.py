"""Resolve what the image really executes: argv -> PATH lookup -> symlinks -> ``#!`` -> ELF.

Everything is resolved inside the unpacked root (:func:`resolve_in_root`), never on the host, and
nothing is executed. The chain mirrors the kernel's ``execve``: a file starting with ``#!`` runs its
interpreter with (at most) one argument and the script path; ``/usr/bin/env NAME`` finds ``NAME`` on
the image's PATH as env(1) would; nesting is limited like the kernel's binfmt recursion limit.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from transpile.image.paths import PathLoopError, lookup_program, resolve_in_root, resolve_parts
from transpile.model.chain import ChainProblem, ChainStep, EntrypointChain, StepKind
from transpile.model.image import DEFAULT_PATH, SHELLS, ImageConfig

__all__ = ["ChainStep", "EntrypointChain", "resolve_entrypoint", "resolve_in_root"]

MAX_INTERPRETER_DEPTH = 4  # Linux refuses deeper #! nesting (ELOOP)
SHEBANG_BYTES = 256  # BINPRM_BUF_SIZE since Linux 5.1
_SHELL_META = set("|&;<>()$`\\\"'*?[]#~=%{}\n")







def _problem(message: str, evidence: str) -> ChainProblem:
    return ChainProblem(message, evidence)


def _lookup(rootfs: Path, name: str, path_env: str, workdir: str) -> tuple[str, list[str]]:
    found = lookup_program(rootfs, name, path_env, workdir)
    return found.path, list(found.tried)


def _step(rootfs: Path, name: str, path: str, argv: tuple[str, ...]) -> tuple[ChainStep, bytes]:
    if not path:
        return ChainStep(name, "", "", "missing", argv=argv), b""
    try:
        parts, links, exists = resolve_parts(rootfs, path)
    except PathLoopError:
        return ChainStep(name, path, "", "loop", argv=argv), b""
    resolved = "/" + "/".join(parts)
    if not exists:
        return ChainStep(name, path, "", "missing", tuple(links), argv), b""
    host = Path(rootfs, *parts)
    st = os.stat(host)
    if stat.S_ISDIR(st.st_mode):
        return ChainStep(name, path, resolved, "directory", tuple(links), argv), b""
    with open(host, "rb") as f:
        head = f.read(SHEBANG_BYTES)
    kind: StepKind
    if not st.st_mode & 0o111 or not stat.S_ISREG(st.st_mode):
        kind = "not-executable"
    elif head.startswith(b"\x7fELF"):
        kind = "elf"
    elif head.startswith(b"#!"):
        kind = "script"
    else:
        kind = "unknown-format"
    shebang = ""
    if kind == "script":
        shebang = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    return ChainStep(name, path, resolved, kind, tuple(links), argv, st.st_size, shebang), head


def _follow(
    rootfs: Path, argv: tuple[str, ...], path_env: str, workdir: str, findings: list[ChainProblem]
) -> list[ChainStep]:
    steps: list[ChainStep] = []
    name = argv[0]
    path, tried = _lookup(rootfs, name, path_env, workdir)
    for _depth in range(MAX_INTERPRETER_DEPTH + 2):
        step, _head = _step(rootfs, name, path, argv)
        steps.append(step)
        if step.kind == "missing":
            where = f"on PATH {path_env}" if "/" not in name else "in the image"
            findings.append(
                _problem(f"entrypoint program {name!r} not found {where}",
                    "tried " + ", ".join(tried),
                )
            )
            return steps
        if step.kind in ("not-executable", "unknown-format", "directory", "loop"):
            findings.append(
                _problem(f"{step.path} cannot be executed ({step.kind})",
                    f"resolved to {step.resolved}",
                )
            )
            return steps
        if step.kind == "elf":
            return steps
        # a script: Linux passes the rest of the #! line as ONE argument
        interp, _, arg = step.shebang.partition(" ")
        arg = arg.strip()
        if not interp:
            findings.append(_problem(f"{step.path} has an empty #! line", step.shebang))
            return steps
        new_argv = (interp, *((arg,) if arg else ()), step.path, *argv[1:])
        if os.path.basename(interp) == "env" and arg:
            # /usr/bin/env [-S] NAME: env itself is the ELF exec'd; it then looks NAME up on PATH
            env_step, _ = _step(rootfs, interp, interp, new_argv)
            steps.append(env_step)
            if env_step.kind != "elf":
                findings.append(
                    _problem(f"interpreter {interp} of {step.path} is {env_step.kind}",
                        step.shebang,
                    )
                )
                return steps
            words = arg.split()
            if words and words[0] == "-S":
                words = words[1:]
            words = [w for w in words if "=" not in w and not w.startswith("-")]
            if not words:
                return steps
            name = words[0]
            argv = (name, *words[1:], step.path, *argv[1:])
            path, tried = _lookup(rootfs, name, path_env, workdir)
            continue
        name, argv = interp, new_argv
        path, tried = interp, [interp]
    findings.append(
        _problem("too many levels of #! interpreters", " -> ".join(s.path for s in steps))
    )
    return steps


def _simple_command(cmd: str) -> tuple[str, ...] | None:
    """The argv of a shell command with no shell features beyond words (after an optional exec)."""
    if any(c in _SHELL_META for c in cmd.replace("'", "").replace('"', "")):
        return None
    try:
        words = tuple(shlex.split(cmd))
    except ValueError:
        return None
    if words and words[0] == "exec":
        words = words[1:]
    return words or None


def resolve_entrypoint(config: ImageConfig, rootfs: Path) -> EntrypointChain:
    """Resolve ENTRYPOINT + CMD of ``config`` inside ``rootfs`` into a chain of programs."""
    argv = config.argv
    env = config.env_dict()
    path_env = env.get("PATH", DEFAULT_PATH)
    workdir = config.working_dir or "/"
    findings: list[ChainProblem] = []
    if not argv:
        findings.append(
            _problem("the image has neither ENTRYPOINT nor CMD", "config: Entrypoint, Cmd empty"
            )
        )
        return EntrypointChain(argv, path_env, workdir, (), problems=tuple(findings))
    steps = _follow(rootfs, argv, path_env, workdir, findings)
    shell_command = ""
    command_steps: list[ChainStep] = []
    # shell form (["/bin/sh", "-c", "CMD"]): when CMD is one simple command, the shell execs it
    if len(argv) >= 3 and os.path.basename(argv[0]) in SHELLS and argv[1] == "-c":
        shell_command = argv[2]
        words = _simple_command(shell_command)
        if words is not None:
            command_steps = _follow(rootfs, words, path_env, workdir, findings)
    return EntrypointChain(
        argv, path_env, workdir, tuple(steps), shell_command, tuple(command_steps), tuple(findings)
    )
