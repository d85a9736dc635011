"""DU501: EXPOSE of an SCTP port."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.rules.base import final_lineage, finding, instructions, locate
from transpile.syntax.ast import ParsedFile

ID = "DU501"
TITLE = "SCTP port"
SEVERITY: ir.Severity = "error"
TARGETS = ("unikraft", "nanos")
HINT = "serve over TCP or UDP, or keep the container/microVM target"


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    for instr in instructions(final_lineage(df), "EXPOSE"):
        for word in instr.args:
            if word.lower().endswith("/sctp"):
                yield finding(
                    globals(),
                    f"EXPOSE {word}: the network stack of Unikraft and Nanos (lwIP) has no SCTP",
                    locate(df, instr.span, word),
                )
