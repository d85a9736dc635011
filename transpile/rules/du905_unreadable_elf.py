"""DU905: ELF truncated or unreadable (an image rule: it reads the analysed image)."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.model.image import ImageAnalysis
from transpile.rules.image import image_finding

ID = "DU905"
TITLE = "ELF truncated or unreadable"
SEVERITY: ir.Severity = "error"
NEED = ""  # "" : it matters for every target
HINT = "rebuild the image: the file is damaged"


def check_image(analysis: ImageAnalysis) -> Iterator[ir.Finding]:
    for step, why in analysis.unreadable:
        yield image_finding(globals(), why, f"entrypoint step {step}")
    for closure in analysis.closures:
        program = closure.program.path if closure.program else "?"
        for problem in closure.errors:
            yield image_finding(globals(), problem, f"closure of {program}")
