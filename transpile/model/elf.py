"""ELF facts read with pyelftools (never by running the file)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImportedSymbol:
    name: str
    version: str = ""  # e.g. GLIBC_2.34
    library: str = ""  # the DT_NEEDED the version belongs to (from .gnu.version_r)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "library": self.library}


@dataclass(frozen=True)
class ElfFacts:
    path: str  # inside the image
    size: int
    elf_class: int  # 32 or 64
    machine: str  # EM_X86_64 ...
    type: str  # ET_EXEC, ET_DYN, ET_REL, ET_CORE
    interpreter: str  # PT_INTERP, "" when none
    dynamic: bool  # has a PT_DYNAMIC segment
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    soname: str = ""
    flags_1: tuple[str, ...] = ()
    imported: tuple[ImportedSymbol, ...] = ()
    version_needs: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (library, versions)
    hints: tuple[str, ...] = ()  # go, rust, musl, glibc, static-pie ...
    comment: tuple[str, ...] = ()  # .comment strings (compiler ids)

    @property
    def pie(self) -> bool:
        """A position-independent *executable* (not a plain shared library)."""
        if self.type != "ET_DYN":
            return False
        return "PIE" in self.flags_1 or bool(self.interpreter)

    @property
    def shared_object(self) -> bool:
        return self.type == "ET_DYN" and not self.pie

    @property
    def static(self) -> bool:
        """An executable with no program interpreter and nothing needed: the kernel maps it and jumps in."""
        executable = self.type == "ET_EXEC" or "PIE" in self.flags_1
        return executable and not self.interpreter and not self.needed

    @property
    def nodeflib(self) -> bool:
        return "NODEFLIB" in self.flags_1

    @property
    def linkage(self) -> str:
        if self.shared_object:
            return "shared"
        if self.static:
            return "static-pie" if self.type == "ET_DYN" else "static"
        return "dynamic"

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "size": self.size,
            "class": self.elf_class,
            "machine": self.machine,
            "type": self.type,
            "pie": self.pie,
            "linkage": self.linkage,
            "interpreter": self.interpreter,
            "needed": list(self.needed),
            "rpath": list(self.rpath),
            "runpath": list(self.runpath),
            "soname": self.soname,
            "flags_1": list(self.flags_1),
            "imported": [s.to_json() for s in self.imported],
            "version_needs": {lib: list(v) for lib, v in self.version_needs},
            "hints": list(self.hints),
            "comment": list(self.comment),
        }

