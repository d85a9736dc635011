"""DU501: EXPOSE of an SCTP port."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.rules.base import final_lineage, finding, instructions, locate
from transpile.syntax.ast import ParsedFile

ID = "DU501"
TITLE = "SCTP port"
SEVERITY: ir.Severity = "error"
NEED = "network.sctp"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "serve over TCP or UDP, or keep a target whose network stack has SCTP (a Linux VM, the container)"


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    for instr in instructions(final_lineage(df), "EXPOSE"):
        for word in instr.args:
            if word.lower().endswith("/sctp"):
                yield finding(
                    globals(),
                    f"EXPOSE {word}: lwIP, the network stack of several unikernels, has no SCTP",
                    locate(df, instr.span, word),
                )
