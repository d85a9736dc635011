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
from dataclasses import replace

from transpile import data
from transpile.model.conversion import ConversionFacts, Recipe
from transpile.model.target import Capabilities
from transpile.model.verdict import AssessFacts, ItemVerdict
from transpile.targets import _common as c
from transpile.targets import _verify
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
    return c.single_process_argv(c.program_argv(facts))


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
    files["payload.json"] = _verify.payload_json(facts)  # what run.sh and --verify boot
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


_PROCESS = frozenset({"fork", "vfork", "execve", "execveat", "clone", "clone3"})


def glibc_dynamic(facts: AssessFacts) -> bool:
    """The program is dynamically linked against glibc: OSv's linker binds its libc calls to OSv's libc."""
    program = facts.static.program
    if program is None or program.static or "ld-linux" not in program.interpreter:
        return False
    return any(posixpath_base(lib).startswith("libc.so.6") for lib in program.needed)


def posixpath_base(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _wrappers(syscall: str) -> tuple[str, ...]:
    """The libc functions that make SYSCALL: its own name and the aliases of libc_symbols.json."""
    aliases, _ = data.libc_aliases()
    return (syscall, *sorted(sym for sym, calls in aliases.items() if syscall in calls and sym != syscall))


def libc_rule(
    facts: AssessFacts, caps: Capabilities, items: tuple[ItemVerdict, ...]
) -> tuple[ItemVerdict, ...]:
    """A glibc program's calls of functions OSv's libc exports run OSv's implementation, whatever linux.cc
    registers (data/osv-libc-symbols.txt). The process model stays decided by the trace: fork and exec
    are exported and fail."""
    if not glibc_dynamic(facts):
        return items
    exports = data.osv_libc_exports()
    out: list[ItemVerdict] = []
    upgraded: set[str] = set()
    for it in items:
        kind, _, name = it.item.partition(":")
        judged = it.support in ("missing", "stubbable") and not it.rule.startswith("process-model")
        if kind == "syscall" and judged and name not in _PROCESS:
            hit = next((w for w in _wrappers(name) if w in exports), "")
            if hit:
                line = f"OSv's libc exports {hit}() to dynamically linked glibc programs"
                ev = (*it.evidence, line)
                out.append(replace(it, support="supported", evidence=ev, rule=f"osv:libc:{hit}"))
                upgraded.add(name)
                continue
        out.append(it)
    # a facility that was missing only for calls OSv's libc provides is provided too
    final: list[ItemVerdict] = []
    by_syscall = {it.item.split(":", 1)[1]: it for it in out if it.item.startswith("syscall:")}
    for it in out:
        kind, _, name = it.item.partition(":")
        entry = data.facilities().get(name) if kind == "facility" else None
        if entry is not None and it.support == "missing" and it.rule == f"facility:{caps.name}":
            calls = [by_syscall[s] for s in entry.syscalls if s in by_syscall]
            if calls and any(c.item.split(":", 1)[1] in upgraded for c in calls) and all(
                c.support != "missing" for c in calls
            ):
                final.append(replace(it, support="supported", rule="osv:libc"))
                continue
        final.append(it)
    return tuple(final)


TARGET = UnikernelTarget(
    data.capabilities("osv"),
    emit,
    refine=libc_rule,
    kernel=KernelRuntime(runtime.build_spec, runtime.boot, runtime.package),
)
