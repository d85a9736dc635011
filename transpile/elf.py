"""ELF facts read with pyelftools, never by executing anything.

``read_elf`` returns a frozen :class:`ElfFacts` or raises :class:`ElfError` (not an ELF, truncated,
corrupt) with a one-line reason; callers turn that into a finding.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from transpile.model.elf import ElfFacts, ImportedSymbol

DF_1_NODEFLIB = 0x800
DF_1_PIE = 0x08000000
_FLAGS_1 = {
    0x1: "NOW",
    0x2: "GLOBAL",
    0x4: "GROUP",
    0x8: "NODELETE",
    0x10: "LOADFLTR",
    0x20: "INITFIRST",
    0x40: "NOOPEN",
    0x80: "ORIGIN",
    0x100: "DIRECT",
    0x400: "INTERPOSE",
    DF_1_NODEFLIB: "NODEFLIB",
    0x1000: "NODUMP",
    0x8000: "ENDFILTEE",
    0x10000: "DISPRELDNE",
    0x20000: "DISPRELPND",
    0x2000000: "SINGLETON",
    DF_1_PIE: "PIE",
}
MAX_SYMBOLS = 20000  # a bound on what a hostile .dynsym can make us list


class ElfError(Exception):
    """The file is not a readable ELF object."""






def is_elf(host_path: Path) -> bool:
    try:
        with open(host_path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _split_path(value: str) -> tuple[str, ...]:
    return tuple(p for p in value.split(":") if p != "") if value else ()


def read_elf(host_path: Path, image_path: str | None = None) -> ElfFacts:
    """Facts about the ELF at ``host_path`` (``image_path`` is how the image names it)."""
    from elftools.common.exceptions import ELFError

    name = image_path or str(host_path)
    try:
        size = os.stat(host_path).st_size
        with open(host_path, "rb") as f:
            if f.read(4) != b"\x7fELF":
                raise ElfError(f"{name}: not an ELF file")
            f.seek(0)
            return _read(f, name, size)
    except ElfError:
        raise
    except (ELFError, OSError, ValueError, KeyError, IndexError, AssertionError, EOFError, TypeError) as err:
        raise ElfError(f"{name}: unreadable ELF ({err.__class__.__name__}: {err})") from err
    except Exception as err:  # construct's StreamError and friends: truncated or corrupt input
        raise ElfError(f"{name}: truncated or corrupt ELF ({err.__class__.__name__}: {err})") from err


def _read(f: Any, name: str, size: int) -> ElfFacts:
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection
    from elftools.elf.sections import SymbolTableSection

    elf = ELFFile(f)
    header = elf.header
    interp = ""
    dynamic = False
    for seg in elf.iter_segments():
        ptype = seg["p_type"]
        if ptype == "PT_INTERP":
            interp = _str(seg.get_interp_name())  # type: ignore[attr-defined]
        elif ptype == "PT_DYNAMIC":
            dynamic = True
    needed: list[str] = []
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    soname = ""
    flags_1: list[str] = []
    dynsym = None
    versym = None
    verneed = None
    section_names: set[str] = set()
    comment: list[str] = []
    for sec in elf.iter_sections():
        section_names.add(sec.name)
        if isinstance(sec, DynamicSection):
            for tag in sec.iter_tags():
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED":
                    needed.append(_str(tag.needed))  # type: ignore[attr-defined]
                elif kind == "DT_RPATH":
                    rpath = _split_path(_str(tag.rpath))  # type: ignore[attr-defined]
                elif kind == "DT_RUNPATH":
                    runpath = _split_path(_str(tag.runpath))  # type: ignore[attr-defined]
                elif kind == "DT_SONAME":
                    soname = _str(tag.soname)  # type: ignore[attr-defined]
                elif kind == "DT_FLAGS_1":
                    value = int(tag.entry.d_val)
                    flags_1 = [n for bit, n in _FLAGS_1.items() if value & bit]
        elif sec.name == ".dynsym" and isinstance(sec, SymbolTableSection):
            dynsym = sec
        elif isinstance(sec, GNUVerSymSection):
            versym = sec
        elif isinstance(sec, GNUVerNeedSection):
            verneed = sec
        elif sec.name == ".comment" and sec["sh_type"] != "SHT_NOBITS" and sec["sh_size"] < (1 << 16):
            comment = [_str(s) for s in sec.data().split(b"\0") if s]

    versions: dict[int, tuple[str, str]] = {}
    version_needs: list[tuple[str, tuple[str, ...]]] = []
    if verneed is not None:
        for vn, auxes in verneed.iter_versions():
            lib = _str(vn.name)
            names = []
            for aux in auxes:
                versions[int(aux["vna_other"])] = (_str(aux.name), lib)
                names.append(_str(aux.name))
            version_needs.append((lib, tuple(names)))
    imported: list[ImportedSymbol] = []
    if dynsym is not None:
        for i, sym in enumerate(dynsym.iter_symbols()):
            if i >= MAX_SYMBOLS:
                break
            if sym["st_shndx"] != "SHN_UNDEF" or not sym.name:
                continue
            version = library = ""
            if versym is not None:
                ndx = versym.get_symbol(i)["ndx"]
                if isinstance(ndx, int) and ndx in versions:
                    version, library = versions[ndx]
            imported.append(ImportedSymbol(_str(sym.name), version, library))

    hints: list[str] = []
    if (
        ".go.buildinfo" in section_names
        or ".note.go.buildid" in section_names
        or ".gopclntab" in section_names
    ):
        hints.append("go")
    if any("rustc" in c for c in comment):
        hints.append("rust")
    if "musl" in interp or any("musl" in n for n in needed):
        hints.append("musl")
    elif (
        "ld-linux" in interp
        or "libc.so.6" in needed
        or any(v.startswith("GLIBC_") for _lib, vs in version_needs for v in vs)
        or ".note.ABI-tag" in section_names
    ):
        hints.append("glibc")
    etype = str(header["e_type"])
    if etype == "ET_DYN" and not interp and "PIE" in flags_1:
        hints.append("static-pie")
    return ElfFacts(
        path=name,
        size=size,
        elf_class=int(elf.elfclass),
        machine=str(header["e_machine"]),
        type=etype,
        interpreter=interp,
        dynamic=dynamic,
        needed=tuple(needed),
        rpath=rpath,
        runpath=runpath,
        soname=soname,
        flags_1=tuple(flags_1),
        imported=tuple(imported),
        version_needs=tuple(version_needs),
        hints=tuple(hints),
        comment=tuple(comment),
    )
