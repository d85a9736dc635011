"""DU903: entrypoint cannot be executed (an image rule: it reads the analysed image)."""

from __future__ import annotations

from collections.abc import Iterator

from transpile import ir
from transpile.model.image import ImageAnalysis
from transpile.rules.image import image_finding

ID = "DU903"
TITLE = "entrypoint cannot be executed"
SEVERITY: ir.Severity = "error"
NEED = ""  # "" : it matters for every target
HINT = "fix the ENTRYPOINT/CMD or the file it names (its path, mode, #! line)"


def check_image(analysis: ImageAnalysis) -> Iterator[ir.Finding]:
    for problem in analysis.chain.problems:
        yield image_finding(globals(), problem.message, problem.evidence)
