"""DU901: image config disagrees with the Dockerfile (an image rule: it reads the analysed image)."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.model.image import ImageAnalysis
from transpile.rules.image import image_finding

ID = "DU901"
TITLE = "image config disagrees with the Dockerfile"
SEVERITY: ir.Severity = "info"
NEED = ""  # "" : it matters for every target
HINT = "the built image's config is what runs; the converter uses it"


def check_image(analysis: ImageAnalysis) -> Iterator[ir.Finding]:
    for diff in analysis.differences:
        yield image_finding(globals(), diff.message, diff.evidence, span=diff.span)
