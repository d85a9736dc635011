"""DU301: VOLUME declares data that must outlive the instance."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.rules.base import final_lineage, finding, instructions, locate
from transpile.syntax.ast import ParsedFile

ID = "DU301"
TITLE = "VOLUME needs persistent storage"
SEVERITY: ir.Severity = "warning"
NEED = "fs.persistent"  # the facility it finds; the targets' capabilities decide whom it affects
HINT = "attach storage explicitly (a 9p volume, a mount in the unikernel config, a virtio-blk disk)"


def check(df: ir.Dockerfile, parsed: ParsedFile) -> Iterator[ir.Finding]:
    declared = set(df.runtime.volumes)
    for instr in instructions(final_lineage(df), "VOLUME"):
        for path in instr.args:
            if path not in declared:
                continue
            yield finding(
                globals(),
                f"VOLUME {path}: the unikernel's root filesystem is built into the image (often a "
                "read-only initramfs) and unikernel build tools ignore the image's VOLUMEs, so writes "
                "there are lost unless a volume is attached",
                locate(df, instr.span, path),
            )
