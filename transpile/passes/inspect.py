"""What ``dockuni inspect`` reports about an analysed image, as one InspectFacts."""

from __future__ import annotations

from dataclasses import dataclass

from transpile.ir import Finding
from transpile.model.chain import EntrypointChain
from transpile.model.closure import Closure
from transpile.model.elf import ElfFacts
from transpile.model.image import ImageAnalysis, ImageConfig


@dataclass(frozen=True)
class InspectFacts:
    source: str
    reference: str
    config: ImageConfig
    entrypoint: EntrypointChain
    elfs: tuple[ElfFacts, ...]  # every ELF reached: the chain's programs, then their libraries
    closures: tuple[Closure, ...]  # one per ELF program in the chain
    image_bytes: int  # uncompressed layer tars
    rootfs_bytes: int  # regular-file bytes in the unpacked root (hard links once)
    rootfs_files: int
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...]

    @property
    def closure_bytes(self) -> int:
        seen: dict[str, int] = {}
        for c in self.closures:
            for f in c.files:
                seen[f.realpath] = f.size
        return sum(seen.values())

    @property
    def ratio(self) -> float:
        """Closure bytes over image bytes: how much of the image the program's loader maps."""
        return self.closure_bytes / self.image_bytes if self.image_bytes else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "reference": self.reference,
            "config": self.config.to_json(),
            "entrypoint": self.entrypoint.to_json(),
            "elfs": [e.to_json() for e in self.elfs],
            "closures": [c.to_json() for c in self.closures],
            "image_bytes": self.image_bytes,
            "rootfs_bytes": self.rootfs_bytes,
            "rootfs_files": self.rootfs_files,
            "closure_bytes": self.closure_bytes,
            "closure_ratio": round(self.ratio, 6),
            "findings": [f.to_json() for f in self.findings],
            "warnings": list(self.warnings),
        }


def inspect_facts(analysis: ImageAnalysis, rootfs_usage: tuple[int, int]) -> InspectFacts:
    """The inspect view of ANALYSIS; ROOTFS_USAGE is (bytes, files) of the unpacked root."""
    used, nfiles = rootfs_usage
    return InspectFacts(
        source=analysis.source,
        reference=analysis.reference,
        config=analysis.config,
        entrypoint=analysis.chain,
        elfs=analysis.elfs,
        closures=analysis.closures,
        image_bytes=analysis.image_bytes,
        rootfs_bytes=used,
        rootfs_files=nfiles,
        findings=analysis.findings,
        warnings=analysis.warnings,
    )
