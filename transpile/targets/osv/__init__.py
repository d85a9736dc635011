"""OSv target: an app module (``usr.manifest`` + the boot command line), only when the verdict allows.

Facts this rests on (OSv's usr.manifest.skel and module manifests): a manifest starts with
``[manifest]`` and maps one guest path per line to a host file, ``/guest/path: host/path``;
``${MODULE_DIR}`` names the module's directory; ``->/target`` makes a symlink. The command line is
the program and its arguments, preceded by loader options such as ``--env=NAME=VALUE`` and
``--cwd=DIR``; ``;`` separates commands, so arguments holding spaces or ``;`` are double-quoted.
OSv runs one address space (no fork/execve) and loads PIEs and shared objects with its own linker.
"""

from __future__ import annotations

import re

from transpile import data
from transpile.model.conversion import ConversionFacts, Recipe
from transpile.targets import _common as c
from transpile.targets._base import KernelRuntime, UnikernelTarget
from transpile.targets.osv import runtime

MODULE = "dockuni-app"
_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def quote(arg: str) -> str:
    """One OSv command-line word: bare when safe, else double-quoted with ``\\`` escapes."""
    if arg and _PLAIN.fullmatch(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def app_argv(facts: ConversionFacts) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # the working directory is set by the manifest (cwd), so no argv rewrite is needed for it
    return c.single_process_argv(c.program_argv(facts), "/")


def cmdline(facts: ConversionFacts) -> str:
    argv, _ = app_argv(facts)
    words = [quote(f"--env={k}={v}") for k, v in c.environment(facts)]
    if c.workdir(facts) != "/":
        words.append(quote(f"--cwd={c.workdir(facts)}"))
    words += [quote(a) for a in argv]
    return " ".join(words)


def usr_manifest(facts: ConversionFacts) -> str:
    lines = ["[manifest]"]
    for path in c.shipped_files(facts):
        lines.append(f"{path}: ${{MODULE_DIR}}/rootfs{path}")
    return "\n".join(lines) + "\n"


def emit(facts: ConversionFacts) -> Recipe:
    verdict = facts.verdict("osv")
    if verdict is not None and not verdict.ok:
        # No recipe for something the verdict says cannot run: say why instead.
        why = ("not emitted: the OSv verdict is negative", *c.verdict_notes(facts, "osv"))
        return c.recipe("osv", {}, notes=why)
    _argv, rewrite_notes = app_argv(facts)
    line = cmdline(facts)
    files: dict[str, str | bytes] = {
        "usr.manifest": usr_manifest(facts),
        "cmdline.txt": line + "\n",
        "files.txt": c.files_manifest(facts, header="files of rootfs/, read by assemble.sh"),
        "assemble.sh": c.assemble_script(facts.image_reference, "rootfs", what="the OSv module's rootfs/"),
    }
    notes = list(c.verdict_notes(facts, "osv")) + list(rewrite_notes)
    notes.extend(c.dropped_user_note(facts, "OSv"))
    if facts.config.volumes:
        notes.append("VOLUME paths are not mounted: OSv's image filesystem holds them")
    # run.py's --forward takes a QEMU user-network rule.
    fwd = " ".join(f"--forward tcp::{p}-:{p}" for p, t in c.listening_ports(facts) if t == "tcp")
    return c.recipe(
        "osv",
        files,
        executable=("assemble.sh",),
        notes=notes,
        build_command=(
            f"./assemble.sh && cp -r . $OSV/apps/{MODULE} "
            f"&& (cd $OSV && ./scripts/build image={MODULE} fs=rofs)"
        ),
        run_command=" ".join(
            ["cd $OSV && ./scripts/run.py", *fwd.split(), "-e", f'"$(cat apps/{MODULE}/cmdline.txt)"']
        ),
    )


TARGET = UnikernelTarget(
    data.capabilities("osv"),
    emit,
    kernel=KernelRuntime(runtime.build_spec, runtime.boot),
)
