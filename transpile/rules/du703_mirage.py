"""DU703: the Dockerfile builds a MirageOS (OCaml) unikernel.

A MirageOS build stage (``mirage configure -t hvt``, ``mirage build``, ``opam install mirage``, or
a ``config.ml`` built with dune or make) already produces a unikernel: the container is only the
build environment. Its RUN lines, users and caches say nothing about how the unikernel runs, so
findings of the other rules inside such a stage are dropped (``quiet_lines``). A final stage that
starts a program of its own (say, the solo5 tender that boots the unikernel) is still checked like
any other: its own ENTRYPOINT/CMD lines stay subject to every rule.

The MirageOS tool's targets (``mirage configure --help``): unix and macosx build an ordinary
process; hvt, spt, virtio, muen, genode, xen, qubes and the unikraft-* targets build a unikernel.
Without ``-t`` the target is unix.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from transpile import ir
from transpile.passes.shell import iter_commands, unwrap
from transpile.rules.base import finding, locate, run_scripts, runtime
from transpile.syntax.ast import ParsedFile

ID = "DU703"
TITLE = "MirageOS unikernel build"
SEVERITY: ir.Severity = "info"
NEED = "build.unikernel"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "nothing to convert: deploy the unikernel this stage builds (e.g. the .hvt or .xen file)"

PROCESS_TARGETS = frozenset({"unix", "macosx"})
UNIKERNEL_TARGETS = frozenset(
    {"hvt", "spt", "virtio", "muen", "genode", "xen", "qubes", "unikraft-qemu", "unikraft-firecracker"}
)
_MIRAGE_PACKAGE = re.compile(r"^mirage(\.[0-9].*)?$")
# What `mirage build` leaves in dist/ for the unikernel targets: an image to boot, not a program.
_UNIKERNEL_IMAGE = re.compile(r"\.(hvt|spt|virtio|muen|genode|xen|qubes)$")
_VAR = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


@dataclass(frozen=True)
class MirageBuild:
    stage: ir.Stage
    evidence: ir.Instruction  # the instruction that shows it
    what: str  # e.g. "mirage configure -t hvt"
    word: str  # the program word to point at in the evidence: "mirage", "opam", "dune", "make"
    targets: tuple[str, ...]  # the -t values seen, resolved where an ARG/ENV default gives them

    @property
    def unikernel(self) -> bool:
        """Only an explicit unix/macosx target makes an ordinary process; a build whose target
        is not visible (a Makefile, a variable without default) is taken to be a unikernel."""
        return not self.targets or any(t not in PROCESS_TARGETS for t in self.targets)


def _stage_defaults(df: ir.Dockerfile, stage: ir.Stage) -> dict[str, str]:
    values = {name: value for name, value in df.global_args if value is not None}
    for instr in stage.instructions:
        if instr.kind == "ARG":
            for arg in instr.args:
                name, sep, value = arg.partition("=")
                if sep:
                    values[name] = value
        elif instr.kind == "ENV":
            values.update(zip(instr.args[::2], instr.args[1::2], strict=False))
    return values


def _targets(args: tuple[str, ...], defaults: dict[str, str]) -> list[str]:
    found: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        value: str | None = None
        if arg in ("-t", "--target") and i + 1 < len(args):
            value = args[i + 1]
            i += 1
        elif arg.startswith("--target="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-t") and len(arg) > 2 and not arg.startswith("--"):
            value = arg[2:]
        i += 1
        if value is None:
            continue
        var = _VAR.match(value)
        if var is not None:
            value = defaults.get(var.group(1), value)
        found.append(value)
    return found


def _mirage_command(argv: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """("configure" | "build" | ..., its arguments) when ``argv`` runs the mirage tool, also
    through ``opam exec --`` or ``opam config exec --``."""
    argv, _ = unwrap(argv)
    if len(argv) >= 2 and posixpath.basename(argv[0]) == "opam" and "exec" in argv[1:3]:
        rest = argv[argv.index("exec") + 1 :]
        argv = rest[1:] if rest[:1] == ("--",) else rest
    if len(argv) >= 2 and posixpath.basename(argv[0]) == "mirage":
        return argv[1], tuple(argv[2:])
    return None


def _builds(argv: tuple[str, ...]) -> bool:
    argv, _ = unwrap(argv)
    if argv[:2] in (("opam", "exec"), ("opam", "config")) and "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    name = posixpath.basename(argv[0]) if argv else ""
    return (name == "dune" and "build" in argv[1:]) or name in ("make", "gmake")


def detect(df: ir.Dockerfile) -> list[MirageBuild]:
    """The stages that build a MirageOS application, in order."""
    out: list[MirageBuild] = []
    for stage in df.stages:
        defaults = _stage_defaults(df, stage)
        evidence: ir.Instruction | None = None
        what = word = ""
        build_word = ""
        targets: list[str] = []
        configured = False
        builds: ir.Instruction | None = None
        config_ml: ir.Instruction | None = None
        for instr in stage.instructions:
            if instr.kind in ("COPY", "ADD") and any(
                posixpath.basename(src.rstrip("/")) == "config.ml" for src in instr.args[:-1]
            ):
                config_ml = config_ml or instr
        for rs in run_scripts([stage]):
            for cmd in iter_commands(rs.script):
                argv = cmd.argv
                mirage = _mirage_command(argv)
                if mirage is not None and mirage[0] in ("configure", "build", "query", "describe"):
                    if mirage[0] == "configure":
                        configured = True
                        targets += _targets(mirage[1], defaults)
                    if evidence is None or (mirage[0] == "configure" and not what.startswith("mirage conf")):
                        evidence, word = rs.instruction, "mirage"
                        what = " ".join(("mirage", mirage[0], *mirage[1][:2]))
                    continue
                plain, _ = unwrap(argv)
                if (
                    plain[:1] == ("opam",)
                    and "install" in plain[1:3]
                    and any(_MIRAGE_PACKAGE.match(a) for a in plain[2:])
                ):
                    if evidence is None:
                        evidence, what, word = rs.instruction, "opam install mirage", "mirage"
                    continue
                if any(posixpath.basename(word) == "config.ml" for word in argv):
                    config_ml = config_ml or rs.instruction
                if builds is None and _builds(argv):
                    builds, build_word = rs.instruction, "make" if "make" in argv else "dune"
        if evidence is None and config_ml is not None and builds is not None:
            evidence, what, word = builds, f"a config.ml built with {build_word}", build_word
        if evidence is None:
            continue
        if configured and not targets:
            targets = ["unix"]  # mirage configure's default target
        out.append(MirageBuild(stage, evidence, what, word, tuple(dict.fromkeys(targets))))
    return out


def _stage_lines(stage: ir.Stage) -> tuple[int, int]:
    first = stage.span.line if stage.span is not None else stage.instructions[0].span.line
    last = max((i.span.end_line for i in stage.instructions), default=first)
    return first, last


def _starts_a_program(df: ir.Dockerfile) -> bool:
    """Whether the container starts an ordinary program (a tender such as solo5-hvt, a shell),
    rather than naming the unikernel image itself (which only a tender or hypervisor can boot)."""
    programs = [cmd.argv[0] for cmd in runtime(df).commands() if cmd.argv]
    return any(not _UNIKERNEL_IMAGE.search(program) for program in programs)


def quiet_lines(df: ir.Dockerfile) -> list[tuple[int, int]]:
    """Line ranges whose findings from other rules do not apply: every stage that builds a
    MirageOS unikernel, except the ENTRYPOINT/CMD lines of such a stage when it is the final one
    and starts an ordinary program (what the container runs is still checked)."""
    ranges: list[tuple[int, int]] = []
    final = df.final_stage
    for build in detect(df):
        if not build.unikernel:
            continue
        first, last = _stage_lines(build.stage)
        runs_program = build.stage is final and _starts_a_program(df)
        keep = sorted(
            (i.span.line, i.span.end_line)
            for i in build.stage.instructions
            if runs_program and i.kind in ("ENTRYPOINT", "CMD")
        )
        start = first
        for lo, hi in keep:
            if lo > start:
                ranges.append((start, lo - 1))
            start = max(start, hi + 1)
        if start <= last:
            ranges.append((start, last))
    return ranges


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    for build in detect(df):
        span = locate(df, build.evidence.span, build.word)
        name = f"stage {build.stage.name!r}" if build.stage.name else f"stage {build.stage.index + 1}"
        if build.unikernel:
            kinds = ", ".join(t for t in build.targets if t not in PROCESS_TARGETS)
            yield finding(
                globals(),
                f"{name} builds a MirageOS unikernel ({build.what}"
                + (f"; target {kinds}" if kinds else "")
                + "): the Dockerfile already produces a unikernel, and dockuni's other checks do not"
                " apply to this stage",
                span,
                evidence=build.what,
            )
        else:
            yield finding(
                globals(),
                f"{name} builds a MirageOS application for the {', '.join(build.targets)} target, an"
                " ordinary process: the same code builds as a unikernel with another target",
                span,
                evidence=build.what,
                hint="configure it with `mirage configure -t hvt` (or spt, virtio, xen, unikraft-qemu)"
                " and deploy the unikernel instead of converting the container",
            )
