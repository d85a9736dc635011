"""DU907: layer entries not unpacked (an image rule: it reads the analysed image)."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.model.image import ImageAnalysis
from transpile.rules.image import image_finding

ID = "DU907"
TITLE = "layer entries not unpacked"
SEVERITY: ir.Severity = "info"
NEED = ""  # "" : it matters for every target
HINT = "nothing to do unless the app needs those files (device nodes come from the kernel)"


def check_image(analysis: ImageAnalysis) -> Iterator[ir.Finding]:
    skipped = [w for w in analysis.warnings if w.startswith("skipped ")]
    if skipped:
        yield image_finding(
            globals(),
            f"{len(skipped)} layer entries were not unpacked (device nodes, unsafe names)",
            "; ".join(skipped[:5]),
        )
