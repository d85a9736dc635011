"""DU701: ONBUILD triggers run in somebody else's build."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.rules.base import finding, instructions
from transpile.syntax.ast import ParsedFile

ID = "DU701"
TITLE = "ONBUILD trigger"
SEVERITY: ir.Severity = "info"
NEED = "build.onbuild"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "write the steps into the Dockerfiles that need them; a converted image should not depend on triggers"


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    for instr in instructions(df.stages, "ONBUILD"):
        trigger = instr.onbuild
        if trigger is None:
            what = "a trigger"
        else:
            flags = [f"--{key}={value}" for key, value in trigger.flags]
            what = " ".join([trigger.kind, *flags, *trigger.args])
        yield finding(
            globals(),
            f"ONBUILD {what}: it does nothing here and runs in every build FROM this image, where "
            "dockuni cannot see it when it checks that Dockerfile",
            instr.span,
        )
