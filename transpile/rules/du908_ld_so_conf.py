"""DU908: library found only through ld.so.conf (an image rule: it reads the analysed image)."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.model.image import ImageAnalysis
from transpile.rules.image import image_finding

ID = "DU908"
TITLE = "library found only through ld.so.conf"
SEVERITY: ir.Severity = "warning"
NEED = ""  # "" : it matters for every target
HINT = "run ldconfig in the image"


def check_image(analysis: ImageAnalysis) -> Iterator[ir.Finding]:
    for closure in analysis.closures:
        for lib in closure.libraries:
            if lib.via == "ld.so.conf":
                yield image_finding(
                    globals(),
                    f"{lib.name} is found only through ld.so.conf; the image has no ld.so.cache",
                    f"{lib.file.path}: run ldconfig in the image",
                )
