"""The shared-library closure of a program: every file the dynamic loader maps, and what it could not find."""

from __future__ import annotations

from dataclasses import dataclass

from transpile.model.elf import ElfFacts

DLOPEN_NOTE = "libraries loaded with dlopen() at run time are not visible statically; see `dockuni trace`"


@dataclass(frozen=True)
class FileRef:
    """A file in the image: the path used, where symlinks lead, and its size."""

    path: str
    realpath: str
    links: tuple[str, ...]
    size: int

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "realpath": self.realpath, "links": list(self.links), "size": self.size}


@dataclass(frozen=True)
class Library:
    name: str  # the DT_NEEDED string
    file: FileRef
    via: str  # rpath, ld_library_path, runpath, ld.so.cache, ld.so.conf, default, path, musl-path, builtin
    needed_by: str  # image path of the requesting object
    facts: ElfFacts | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            **self.file.to_json(),
            "via": self.via,
            "needed_by": self.needed_by,
            "soname": self.facts.soname if self.facts else "",
        }


@dataclass(frozen=True)
class Missing:
    name: str
    needed_by: str
    searched: tuple[str, ...]
    reason: str = "not found"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "needed_by": self.needed_by,
            "searched": list(self.searched),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Closure:
    program: FileRef | None
    loader: str  # glibc, musl, static, none
    interpreter: FileRef | None
    libraries: tuple[Library, ...]
    missing: tuple[Missing, ...]
    cycles: tuple[tuple[str, str], ...]  # (object, needed name) edges back to an ancestor
    errors: tuple[str, ...]  # unreadable ELFs
    cache: str  # "ld.so.cache", "ld.so.conf", "none", "corrupt: ..."
    notes: tuple[str, ...] = (DLOPEN_NOTE,)

    @property
    def files(self) -> tuple[FileRef, ...]:
        """Every distinct file the loader maps: program, interpreter, libraries."""
        seen: dict[str, FileRef] = {}
        for ref in (self.program, self.interpreter, *(lib.file for lib in self.libraries)):
            if ref is not None and ref.realpath not in seen:
                seen[ref.realpath] = ref
        return tuple(seen.values())

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def resolved_paths(self) -> frozenset[str]:
        """Real paths (symlinks resolved inside the image) of everything mapped, for comparisons."""
        return frozenset(f.realpath for f in self.files)

    def to_json(self) -> dict[str, object]:
        return {
            "program": self.program.to_json() if self.program else None,
            "loader": self.loader,
            "interpreter": self.interpreter.to_json() if self.interpreter else None,
            "libraries": [lib.to_json() for lib in self.libraries],
            "missing": [m.to_json() for m in self.missing],
            "cycles": [list(c) for c in self.cycles],
            "errors": list(self.errors),
            "cache": self.cache,
            "total_bytes": self.total_bytes,
            "notes": list(self.notes),
        }

