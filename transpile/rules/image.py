"""What image rules share: the finding constructor for rules that read an analysed image.

An image rule is a module ``transpile/rules/du9NN_name.py`` with ``ID``, ``TITLE``, ``SEVERITY``,
``NEED``, ``HINT`` and ``check_image(analysis) -> Iterable[Finding]``: it reads the facts the image
passes established (transpile.model.image.ImageAnalysis), never the image itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from transpile import ir
from transpile.model.image import ImageAnalysis
from transpile.rules.base import finding

ImageCheckFn = Callable[[ImageAnalysis], Iterable[ir.Finding]]


def image_finding(
    module_globals: dict[str, object],
    message: str,
    evidence: str,
    *,
    span: ir.Span | None = None,
    hint: str | None = None,
) -> ir.Finding:
    """A Finding with the calling image rule's metadata (pass ``globals()``); image facts usually have
    no Dockerfile position, so the evidence comes first."""
    return finding(module_globals, message, span, evidence=evidence, hint=hint)
