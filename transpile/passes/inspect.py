"""Assemble what ``dockuni inspect`` reports about an acquired image into one InspectFacts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from transpile.elf import ElfError, read_elf
from transpile.image.merge import merge_config
from transpile.ir import Dockerfile, Finding, Severity
from transpile.model.chain import EntrypointChain
from transpile.model.closure import Closure
from transpile.model.elf import ElfFacts
from transpile.model.image import AcquiredImage, ImageConfig
from transpile.passes.closure import compute_closure
from transpile.passes.entrypoint import resolve_entrypoint

EXPECTED_MACHINE = "EM_X86_64"


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


def _finding(rule: str, severity: Severity, message: str, evidence: str) -> Finding:
    return Finding(
        rule=rule, severity=severity, message=message, span=None,  evidence=evidence
    )


def rootfs_usage(rootfs: Path) -> tuple[int, int]:
    """(bytes, files) of regular files under ``rootfs``, counting hard-linked inodes once."""
    total = files = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, _dirs, names in os.walk(rootfs):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_mode & 61440 != 32768:
                continue
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += st.st_size
            files += 1
    return total, files


def inspect_image(img: AcquiredImage, dockerfile: Dockerfile | None = None) -> InspectFacts:
    config, findings = merge_config(img.config, dockerfile)
    chain = resolve_entrypoint(config, img.rootfs)
    findings.extend(chain.findings)
    env = config.env_dict()
    closures: list[Closure] = []
    elfs: dict[str, ElfFacts] = {}
    for step in chain.elfs:
        try:
            facts = read_elf(Path(img.rootfs, step.resolved.lstrip("/")), step.resolved)
        except ElfError as err:
            findings.append(_finding("DU905", "error", str(err), f"entrypoint step {step.path}"))
            continue
        elfs.setdefault(facts.path, facts)
        closure = compute_closure(img.rootfs, step.path, env)
        closures.append(closure)
        for lib in closure.libraries:
            if lib.facts is not None:
                elfs.setdefault(lib.file.realpath, lib.facts)
        for miss in closure.missing:
            findings.append(
                _finding(
                    "DU904",
                    "error",
                    f"{miss.name} needed by {miss.needed_by}: {miss.reason}",
                    "searched " + ", ".join(miss.searched[:12]),
                )
            )
        for problem in closure.errors:
            findings.append(_finding("DU905", "error", problem, f"closure of {step.path}"))
        for obj, name in closure.cycles:
            findings.append(
                _finding(
                    "DU909", "info", f"dependency cycle: {obj} needs {name}, which loaded it", "DT_NEEDED"
                )
            )
        for lib in closure.libraries:
            if lib.via == "ld.so.conf":
                findings.append(
                    _finding(
                        "DU908",
                        "warning",
                        f"{lib.name} is found only through ld.so.conf; the image has no ld.so.cache",
                        f"{lib.file.path}: run ldconfig in the image",
                    )
                )
    for facts in elfs.values():
        if facts.machine != EXPECTED_MACHINE or facts.elf_class != 64:
            findings.append(
                _finding(
                    "DU906",
                    "error",
                    f"{facts.path} is {facts.machine} {facts.elf_class}-bit, not x86-64",
                    "ELF header",
                )
            )
    skipped = [w for w in img.warnings if w.startswith("skipped ")]
    if skipped:
        findings.append(
            _finding(
                "DU907",
                "info",
                f"{len(skipped)} layer entries were not unpacked (device nodes, unsafe names)",
                "; ".join(skipped[:5]),
            )
        )
    used, nfiles = rootfs_usage(img.rootfs)
    return InspectFacts(
        source=img.source,
        reference=img.reference,
        config=config,
        entrypoint=chain,
        elfs=tuple(elfs.values()),
        closures=tuple(closures),
        image_bytes=img.image_bytes,
        rootfs_bytes=used,
        rootfs_files=nfiles,
        findings=tuple(findings),
        warnings=img.warnings,
    )
