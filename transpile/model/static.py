"""Static evidence: everything known about the app without running it, in the shape the graph and the
verdicts read."""

from __future__ import annotations

from dataclasses import dataclass

from transpile.model.chain import ChainStep


@dataclass(frozen=True)
class ElfObject:
    """The ELF facts the graph and the verdicts read, for the program or one library of its closure."""

    path: str
    role: str  # "program" | "library" | "loader"
    machine: str = "x86_64"
    pie: bool | None = None  # ET_DYN program; None when unknown
    static: bool = False
    interpreter: str = ""
    needed: tuple[str, ...] = ()  # resolved paths of its DT_NEEDED libraries
    imports: tuple[str, ...] = ()  # imported (undefined, global) symbol names
    size: int = 0


@dataclass(frozen=True)
class StaticEvidence:
    """Everything known without running the program."""

    argv: tuple[str, ...]
    chain: tuple[ChainStep, ...] = ()
    objects: tuple[ElfObject, ...] = ()
    missing_libraries: tuple[str, ...] = ()
    stdio_symlinks: tuple[tuple[str, str], ...] = ()  # (path in image, link target) for /dev/std* links
    user: str = ""
    architecture: str = "amd64"
    dockerfile: str = ""  # path of the Dockerfile, for file:line evidence
    user_span: str = ""  # "Dockerfile:7:1" of the USER instruction, when known
    workdir: str = ""  # the image's WORKDIR ("" or "/" when none)

    @property
    def program(self) -> ElfObject | None:
        for obj in self.objects:
            if obj.role == "program":
                return obj
        return None

