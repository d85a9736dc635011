"""DU401: USER other than root."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.rules.base import final_lineage, finding, instructions, locate
from transpile.syntax.ast import ParsedFile

ID = "DU401"
TITLE = "USER other than root"
SEVERITY: ir.Severity = "warning"
NEED = "identity.users"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "drop USER for the unikernel build (isolation comes from the VM boundary) or keep the container target"

_ROOT = frozenset({"", "root", "0", "root:root", "0:0", "root:0", "0:root"})


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    user = df.runtime.user
    if user in _ROOT:
        return
    last = None
    for instr in instructions(final_lineage(df), "USER"):
        last = instr
    span = locate(df, last.span, last.raw[0]) if last and last.raw else None
    yield finding(
        globals(),
        f"USER {user}: a unikernel has a single address space and no user accounts; the app runs "
        "with every privilege the kernel has, and setuid/setgid calls are stubs",
        span,
    )
