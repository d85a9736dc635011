"""DU601: a stage is built for a platform other than linux/amd64."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.rules.base import finding, locate
from transpile.syntax.ast import ParsedFile

ID = "DU601"
TITLE = "non-x86_64 platform"
SEVERITY: ir.Severity = "error"
NEED = "arch.foreign"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "build for linux/amd64 (drop --platform or use $BUILDPLATFORM / $TARGETPLATFORM)"

_X86_64 = frozenset({"amd64", "x86_64", "x86-64"})


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    for stage in df.stages:
        if not stage.platform:
            continue
        if stage.base_stage is not None and stage.platform == df.stages[stage.base_stage].platform:
            continue  # inherited: reported once, at the stage that sets it
        parts = stage.platform.lower().split("/")
        arch = parts[1] if len(parts) >= 2 else parts[0]
        os_name = parts[0] if len(parts) >= 2 else "linux"
        if arch in _X86_64 and os_name == "linux":
            continue
        span = stage.span
        first = stage.instructions[0] if stage.instructions else None
        if first is not None:
            raw = first.flag("platform")
            span = locate(df, first.span, "--platform") if raw is not None else first.span
        yield finding(
            globals(),
            f"stage {stage.name or stage.index} is built for {stage.platform}: dockuni's unikernel and "
            "VM targets are x86_64 only (their loaders and kernels boot x86_64 ELF files)",
            span,
        )
