"""DU904: needed library or program interpreter not found (an image rule: it reads the analysed image)."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.model.image import ImageAnalysis
from transpile.rules.image import image_finding

ID = "DU904"
TITLE = "needed library or program interpreter not found"
SEVERITY: ir.Severity = "error"
NEED = ""  # "" : it matters for every target
HINT = "ship the library in the image (or fix RPATH/RUNPATH, LD_LIBRARY_PATH or ld.so.cache)"


def check_image(analysis: ImageAnalysis) -> Iterator[ir.Finding]:
    for closure in analysis.closures:
        for miss in closure.missing:
            yield image_finding(
                globals(),
                f"{miss.name} needed by {miss.needed_by}: {miss.reason}",
                "searched " + ", ".join(miss.searched[:12]),
            )
