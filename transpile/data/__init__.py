"""The data tables dockuni decides with, and cached loaders for them.

Every table is a plain file in this package (see README.md here for sources and reasoning). Loaders parse
once per process (functools.cache) and return immutable values.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from transpile.model.target import Capabilities, FacilityStatus, SyscallTable, TargetKind


def _text(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def _lines(name: str) -> list[str]:
    return [ln.strip() for ln in _text(name).splitlines() if ln.strip() and not ln.startswith("#")]


def syscall_table(name: str, *, prefixes: Iterable[str] = (), spellings: Mapping[str, str] | None = None,
                  extra: Iterable[str] = ()) -> SyscallTable:
    """A kernel's syscall table from its text file; lines ending in ' fake' return 0 and do nothing.

    PREFIXES are dropped and SPELLINGS renamed, for tables written in a kernel's own C spellings."""
    implemented: set[str] = set(extra)
    faked: set[str] = set()
    for line in _lines(name):
        parts = line.split()
        sc = parts[0]
        for prefix in prefixes:
            if sc.startswith(prefix):
                sc = sc[len(prefix) :]
        sc = (spellings or {}).get(sc, sc)
        (faked if len(parts) > 1 and parts[1] == "fake" else implemented).add(sc)
    return SyscallTable(frozenset(implemented), frozenset(faked))


def capabilities_from(raw: Mapping[str, Any]) -> Capabilities:
    """A target's Capabilities from its parsed data file (see README.md for the keys)."""
    table_file = raw.get("syscall_table")
    if table_file:
        table = syscall_table(
            str(table_file),
            prefixes=tuple(raw.get("syscall_prefixes", ())),
            spellings=dict(raw.get("syscall_spellings", {})),
            extra=tuple(raw.get("extra_syscalls", ())),
        )
    else:
        table = SyscallTable(frozenset(), everything=True)
    statuses = {str(k): _status(str(v)) for k, v in dict(raw.get("facilities", {})).items()}
    components = {str(k): tuple(str(c) for c in v) for k, v in dict(raw.get("components", {})).items()}
    if raw.get("components_file") == "facility_kconfig.json":
        components |= facility_kconfig()
    return Capabilities(
        name=str(raw["name"]),
        title=str(raw["title"]),
        kind=_kind(str(raw["kind"])),
        footprint_rank=int(raw["footprint_rank"]),
        syscalls=table,
        facilities=statuses,
        default_facility=_status(str(raw.get("default_facility", "missing"))),
        components=components,
        single_user=bool(raw.get("single_user", True)),
        sources=tuple(str(s) for s in raw.get("sources", ())),
    )


@functools.cache
def all_capabilities() -> tuple[Capabilities, ...]:
    """The capability data of every target that has a data file here (a JSON object with "kind")."""
    found = []
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            raw = json.loads(entry.read_text(encoding="utf-8"))
            if isinstance(raw, dict) and "kind" in raw:
                found.append(capabilities_from(raw))
    return tuple(found)


@functools.cache
def capabilities(name: str) -> Capabilities:
    """The capability data of the target NAME, from NAME.json in this package."""
    raw: dict[str, Any] = json.loads(_text(f"{name}.json"))
    return capabilities_from(raw)


def _status(value: str) -> FacilityStatus:
    if value not in ("supported", "faked", "partial", "missing"):
        raise ValueError(f"unknown facility status {value!r}")
    return value  # type: ignore[return-value]


def _kind(value: str) -> TargetKind:
    if value not in ("unikernel", "linux-vm", "container"):
        raise ValueError(f"unknown target kind {value!r}")
    return value  # type: ignore[return-value]


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
    note: str
    source: str


@functools.cache
def facilities() -> dict[str, Facility]:
    raw: dict[str, Any] = json.loads(_text("facilities.json"))["facilities"]
    out: dict[str, Facility] = {}
    for name, entry in raw.items():
        out[name] = Facility(
            name=name,
            description=entry["description"],
            syscalls=tuple(entry["syscalls"]),
            note=entry.get("note", ""),
            source=entry["source"],
        )
    return out


@functools.cache
def syscall_facility() -> dict[str, str]:
    """syscall -> the one facility it belongs to (facilities.json lists each syscall once)."""
    return {sc: f.name for f in facilities().values() for sc in f.syscalls}


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
    for caps in all_capabilities():
        names |= caps.syscalls.implemented | caps.syscalls.faked
    return frozenset(names)


@dataclass(frozen=True)
class LoupeApp:
    """One app's Loupe record: syscall -> how its workload still passed ("f", "s", "b" or "-")."""

    name: str
    workload: str
    record: str
    programs: tuple[str, ...]
    calls: Mapping[str, str]

    def passes_without(self, syscall: str) -> str:
        """"" when the record does not show the call, "-" when needed, else "f", "s", "b" combinations."""
        return self.calls.get(syscall, "")


@functools.cache
def loupe_apps() -> dict[str, LoupeApp]:
    """Loupe's per-app records (loupe-apps.json), by app name."""
    raw: dict[str, Any] = json.loads(_text("loupe-apps.json"))["apps"]
    return {
        name: LoupeApp(
            name,
            str(e["workload"]),
            str(e["record"]),
            tuple(e.get("programs") or (name,)),
            {str(k): str(v) for k, v in e["calls"].items()},
        )
        for name, e in raw.items()
    }


def loupe_app_for(program: str) -> LoupeApp | None:
    """The Loupe record of the app whose executable is PROGRAM (a basename), if Loupe measured it."""
    for app in loupe_apps().values():
        if program in app.programs:
            return app
    return None


@functools.cache
def osv_libc_exports() -> frozenset[str]:
    """Syscall-wrapper functions OSv's libc exports to dynamically linked glibc programs."""
    return frozenset(_lines("osv-libc-symbols.txt"))


@dataclass(frozen=True)
class FeatureProbe:
    syscall: str
    kind: str
    what: str
    source: str


@functools.cache
def feature_probes() -> dict[str, FeatureProbe]:
    raw: dict[str, Any] = json.loads(_text("feature-probes.json"))["probes"]
    return {k: FeatureProbe(k, str(v["kind"]), str(v["what"]), str(v["source"])) for k, v in raw.items()}


@dataclass(frozen=True)
class Remedies:
    programs: Mapping[str, Mapping[str, str]]
    needs: Mapping[str, str]

    def specific(self, item: str, program: str) -> str:
        """The program-specific remedy for ITEM, "" when the table has none."""
        return self.programs.get(program, {}).get(item, "")

    def for_item(self, item: str, program: str = "") -> str:
        """The remedy for ITEM ("kind:name"), program-specific first, then by item, then by kind."""
        kind, _, name = item.partition(":")
        specific = self.programs.get(program, {}).get(item)
        if specific:
            return specific
        text = self.needs.get(item) or self.needs.get(kind, "")
        return text.replace("{name}", name)


@functools.cache
def remedies() -> Remedies:
    raw: dict[str, Any] = json.loads(_text("remedies.json"))
    return Remedies(
        {p: {str(k): str(v) for k, v in m.items()} for p, m in raw["programs"].items()},
        {str(k): str(v) for k, v in raw["needs"].items()},
    )


@functools.cache
def follow_facility() -> dict[str, str]:
    """syscall -> why its support is that of its facility rather than the syscall table's."""
    raw: dict[str, Any] = json.loads(_text("safe_stubs.json")).get("follow_facility", {})
    return {k: str(v) for k, v in raw.items()}
