"""DU906: ELF is not x86-64 (an image rule: it reads the analysed image)."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.model.image import ImageAnalysis
from transpile.rules.image import image_finding

ID = "DU906"
TITLE = "ELF is not x86-64"
SEVERITY: ir.Severity = "error"
NEED = "arch.foreign"  # "" : it matters for every target
HINT = "build the image for linux/amd64"


def check_image(analysis: ImageAnalysis) -> Iterator[ir.Finding]:
    for facts in analysis.elfs:
        if facts.machine != "EM_X86_64" or facts.elf_class != 64:
            yield image_finding(
                globals(), f"{facts.path} is {facts.machine} {facts.elf_class}-bit, not x86-64", "ELF header"
            )
