"""DU206: HEALTHCHECK CMD runs a second process inside the running container."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.rules.base import finding
from transpile.syntax.ast import ParsedFile

ID = "DU206"
TITLE = "HEALTHCHECK needs exec"
SEVERITY: ir.Severity = "warning"
NEED = "runtime.healthcheck"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "probe the service from outside (an HTTP or TCP check on the exposed port) and drop HEALTHCHECK"


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    hc = df.runtime.healthcheck
    if hc is None or not hc.test or hc.test[0] == "NONE":
        return
    command = hc.test[1] if hc.test[0] == "CMD-SHELL" else " ".join(hc.test[1:])
    yield finding(
        globals(),
        f"HEALTHCHECK runs `{command}` inside the container (like docker exec); a unikernel or "
        "VM has no way to start a second process on demand, so the check is lost",
        hc.span,
    )
