"""DU909: dependency cycle (an image rule: it reads the analysed image)."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.model.image import ImageAnalysis
from transpile.rules.image import image_finding

ID = "DU909"
TITLE = "dependency cycle"
SEVERITY: ir.Severity = "info"
NEED = ""  # "" : it matters for every target
HINT = "nothing to do: the loader handles it; it is listed for completeness"


def check_image(analysis: ImageAnalysis) -> Iterator[ir.Finding]:
    for closure in analysis.closures:
        for obj, name in closure.cycles:
            message = f"dependency cycle: {obj} needs {name}, which loaded it"
            yield image_finding(globals(), message, "DT_NEEDED")
