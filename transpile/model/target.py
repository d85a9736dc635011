"""What a target is to the rest of dockuni: its capabilities (data) and the Target protocol.

Every target lives in ``transpile/targets/`` (one module or one small package) and is found through the
registry there; nothing outside ``transpile/targets/`` and ``transpile/data/`` names a target. Passes
receive targets as values of these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from transpile.model.conversion import ConversionFacts, Recipe, Verification
from transpile.model.verdict import ItemVerdict

if TYPE_CHECKING:
    from transpile.model.verdict import AssessFacts

# unikernel: runs one program without a general-purpose kernel; linux-vm: a specialized Linux VM, which
# runs anything Linux runs; container: the fallback that always runs the image as it is.
TargetKind = Literal["unikernel", "linux-vm", "container"]
FacilityStatus = Literal["supported", "faked", "partial", "missing"]


@dataclass(frozen=True)
class SyscallTable:
    """What one kernel registers: ``implemented`` really works, ``faked`` returns 0 and does nothing."""

    implemented: frozenset[str]
    faked: frozenset[str] = frozenset()
    everything: bool = False  # Linux: every syscall the trace can show exists

    def support(self, syscall: str) -> Literal["supported", "faked", "missing"]:
        if self.everything:
            return "supported"
        if syscall in self.faked:
            return "faked"
        if syscall in self.implemented:
            return "supported"
        return "missing"


@dataclass(frozen=True)
class Capabilities:
    """A target's capability data, loaded from its data file in ``transpile/data/`` (with sources)."""

    name: str
    title: str  # for people: "Unikraft (app-elfloader)"
    kind: TargetKind
    # Ordering of size classes for unverified rankings: lower ships less besides the app.
    footprint_rank: int
    syscalls: SyscallTable
    facilities: Mapping[str, FacilityStatus] = field(default_factory=dict)
    default_facility: FacilityStatus = "missing"  # status of a facility the data file does not list
    components: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # facility -> components
    single_user: bool = True  # no users: USER is dropped, identity calls are faked
    sources: tuple[str, ...] = ()

    def facility(self, name: str) -> FacilityStatus:
        return self.facilities.get(name, self.default_facility)

    def affected_by(self, need: str) -> bool:
        """Whether a finding about NEED (a facility) matters for this target."""
        return not need or self.facility(need) != "supported"


@dataclass(frozen=True)
class VerifyOptions:
    """How `convert --verify` boots: where console logs go, how long a boot may take, a kernel to use."""

    log_dir: Path
    timeout_s: float = 90.0  # a boot under TCG answers in seconds; a hung one must not hold the run
    kernel: Path | None = None  # a user's kernel for the Linux VM (`--kernel`)


@runtime_checkable
class Target(Protocol):
    """One conversion target. Emitting is pure; packaging and verification run through transpile.runtime."""

    @property
    def capabilities(self) -> Capabilities: ...

    def assess(self, facts: AssessFacts) -> tuple[ItemVerdict, ...]:
        """Every item the app needs, classified for this target (the verdict is made from them)."""
        ...

    def emit(self, facts: ConversionFacts) -> Recipe:
        """The recipe's files as bytes: a pure function of the facts."""
        ...

    def package(self, recipe_dir: Path, rootfs: Path) -> tuple[str, ...]:
        """Complete a written recipe with what needs the image's files (returns notes); may do nothing."""
        ...

    def verify(
        self, recipe_dir: Path, facts: ConversionFacts, rootfs: Path, options: VerifyOptions
    ) -> Verification:
        """Boot the written recipe and probe the app; "skipped" (with the reason) when it cannot."""
        ...
