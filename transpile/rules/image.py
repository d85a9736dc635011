"""What image rules share: the finding constructor for rules that read an analysed image.

An image rule is a module ``transpile/rules/du9NN_name.py`` with ``ID``, ``TITLE``, ``SEVERITY``,
``NEED``, ``HINT`` and ``check_image(analysis) -> Iterable[Finding]``: it reads the facts the image
passes established (transpile.model.image.ImageAnalysis), never the image itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from transpile import ir
from transpile.model.image import ImageAnalysis

ImageCheckFn = Callable[[ImageAnalysis], Iterable[ir.Finding]]


def image_finding(
    module_globals: dict[str, object],
    message: str,
    evidence: str,
    *,
    span: ir.Span | None = None,
    hint: str | None = None,
) -> ir.Finding:
    """A Finding with the calling image rule's id, severity, need and hint (pass ``globals()``)."""
    from transpile import targets as registry

    severity = module_globals["SEVERITY"]
    assert isinstance(severity, str)
    need = str(module_globals["NEED"])
    return ir.Finding(
        rule=str(module_globals["ID"]),
        severity=severity,  # type: ignore[arg-type]
        message=message,
        span=span,
        need=need,
        targets=registry.affected(need),
        hint=str(module_globals["HINT"]) if hint is None else hint,
        evidence=evidence,
    )
