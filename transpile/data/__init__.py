"""The data tables dockuni decides with, and cached loaders for them.

Every table is a plain file in this package (see README.md here for sources and reasoning). Loaders parse
once per process (functools.cache) and return immutable values.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

# The unikernel targets that have a syscall table here; microvm (Linux) has no table: it has everything.
UNIKERNELS: tuple[str, ...] = ("unikraft", "nanos", "osv")

# OSv's table spells some entries after its C functions (linux.cc): map them to the x86_64 syscall names.
_OSV_SPELLINGS = {"fstatat": "newfstatat", "utimensat4": "utimensat"}
_PREFIXES = ("sys_", "long_")


def _text(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def _lines(name: str) -> list[str]:
    return [ln.strip() for ln in _text(name).splitlines() if ln.strip() and not ln.startswith("#")]


def _normalise(target: str, name: str) -> str:
    if target == "osv":
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
        name = _OSV_SPELLINGS.get(name, name)
    return name


@dataclass(frozen=True)
class SyscallTable:
    """What one unikernel registers: ``implemented`` really works, ``faked`` returns 0 and does nothing."""

    target: str
    implemented: frozenset[str]
    faked: frozenset[str]

    def support(self, syscall: str) -> str:
        if syscall in self.faked:
            return "faked"
        if syscall in self.implemented:
            return "supported"
        return "missing"


@functools.cache
def syscall_table(target: str) -> SyscallTable:
    if target not in UNIKERNELS:
        raise KeyError(f"no syscall table for {target!r}")
    implemented: set[str] = set()
    faked: set[str] = set()
    for line in _lines(f"{target}.txt"):
        parts = line.split()
        name = _normalise(target, parts[0])
        if len(parts) > 1 and parts[1] == "fake":
            faked.add(name)
        else:
            implemented.add(name)
    if target == "unikraft":
        # The table's header: app-elfloader itself provides brk and arch_prctl.
        implemented |= {"brk", "arch_prctl"}
    return SyscallTable(target, frozenset(implemented), frozenset(faked))


@dataclass(frozen=True)
class LoupeRow:
    syscall: str
    used: int
    stub_ok: int
    fake_ok: int
    either_ok: int


@functools.cache
def loupe() -> dict[str, LoupeRow]:
    rows: dict[str, LoupeRow] = {}
    lines = _lines("loupe-stubbability.tsv")
    for line in lines[1:]:  # the first non-comment line is the header
        name, used, stub_ok, fake_ok, either_ok = line.split("\t")
        rows[name] = LoupeRow(name, int(used), int(stub_ok), int(fake_ok), int(either_ok))
    return rows


@dataclass(frozen=True)
class DockerDefault:
    allowed: frozenset[str]  # unconditionally allowed
    conditional: frozenset[str]  # allowed only for some capabilities, arches, kernels or arguments


@functools.cache
def docker_default() -> DockerDefault:
    allowed: set[str] = set()
    conditional: set[str] = set()
    for line in _lines("docker-default-allowed.txt"):
        parts = line.split()
        (conditional if len(parts) > 1 and parts[1] == "conditional" else allowed).add(parts[0])
    return DockerDefault(frozenset(allowed), frozenset(conditional))


@functools.cache
def lupine_options() -> frozenset[str]:
    return frozenset(line.split("=", 1)[0] for line in _lines("lupine-general.config"))


@dataclass(frozen=True)
class Facility:
    name: str
    description: str
    syscalls: tuple[str, ...]
    status: tuple[tuple[str, str], ...]  # (target, supported|faked|partial|missing) for each unikernel
    note: str
    source: str

    def support(self, target: str) -> str:
        return dict(self.status).get(target, "missing")


@functools.cache
def facilities() -> dict[str, Facility]:
    raw: dict[str, Any] = json.loads(_text("facilities.json"))["facilities"]
    out: dict[str, Facility] = {}
    for name, entry in raw.items():
        out[name] = Facility(
            name=name,
            description=entry["description"],
            syscalls=tuple(entry["syscalls"]),
            status=tuple((t, str(entry[t])) for t in UNIKERNELS),
            note=entry.get("note", ""),
            source=entry["source"],
        )
    return out


@functools.cache
def syscall_facility() -> dict[str, str]:
    """syscall -> the one facility it belongs to (facilities.json lists each syscall once)."""
    return {sc: f.name for f in facilities().values() for sc in f.syscalls}


@functools.cache
def facility_components() -> dict[str, dict[str, tuple[str, ...]]]:
    """target -> facility -> components (Unikraft libraries/Kconfig, Nanos kernel parts, OSv modules)."""
    raw: dict[str, Any] = json.loads(_text("facility_components.json"))
    return {t: {f: tuple(c) for f, c in raw[t].items()} for t in UNIKERNELS}


@functools.cache
def facility_kconfig() -> dict[str, tuple[str, ...]]:
    """facility -> Linux CONFIG_ options (the microvm kernel). Also read by transpile.targets.kconfig."""
    raw: dict[str, Any] = json.loads(_text("facility_kconfig.json"))["facilities"]
    return {f: tuple(opts) for f, opts in raw.items()}


@functools.cache
def libc_aliases() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    raw: dict[str, Any] = json.loads(_text("libc_symbols.json"))
    return {k: tuple(v) for k, v in raw["aliases"].items()}, frozenset(raw["ignore"])


@functools.cache
def safe_stubs() -> dict[str, str]:
    """syscall -> the documented libc/runtime fallback that makes ENOSYS harmless."""
    raw: dict[str, Any] = json.loads(_text("safe_stubs.json"))["stubs"]
    return {k: str(v) for k, v in raw.items()}


@functools.cache
def safe_facility_stubs() -> dict[str, str]:
    """facility -> the documented fallback that makes its absence harmless for ordinary callers."""
    raw: dict[str, Any] = json.loads(_text("safe_stubs.json")).get("facilities", {})
    return {k: str(v) for k, v in raw.items()}


@functools.cache
def known_syscalls() -> frozenset[str]:
    """Every x86_64 syscall name any table here mentions."""
    names: set[str] = set(docker_default().allowed | docker_default().conditional)
    names |= set(loupe())
    names |= set(syscall_facility())
    for t in UNIKERNELS:
        names |= syscall_table(t).implemented | syscall_table(t).faked
    return frozenset(names)
