"""Building blocks for target modules: the common shapes of the Target protocol.

A unikernel judges the app against its syscall table and facility statuses (transpile.passes.compat)
and adds rules of its own; a Linux VM has every syscall; the container runs the image as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from transpile.model.conversion import ConversionFacts, Recipe
from transpile.model.target import Capabilities
from transpile.model.verdict import AssessFacts, ItemVerdict
from transpile.passes import compat

Emitter = Callable[[ConversionFacts], Recipe]
Rules = Callable[[AssessFacts, Capabilities], Iterable[ItemVerdict]]
Packager = Callable[[Path, Path], tuple[str, ...]]
# A target's correction of the common items (e.g. calls a glibc program makes through OSv's own libc).
Refiner = Callable[[AssessFacts, Capabilities, tuple[ItemVerdict, ...]], tuple[ItemVerdict, ...]]


def _no_rules(_facts: AssessFacts, _caps: Capabilities) -> Iterable[ItemVerdict]:
    return ()


def _no_refining(
    _facts: AssessFacts, _caps: Capabilities, items: tuple[ItemVerdict, ...]
) -> tuple[ItemVerdict, ...]:
    return items


def _no_packaging(_recipe_dir: Path, _rootfs: Path) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class UnikernelTarget:
    """A unikernel: the common assessment plus the target's own RULES (e.g. a loader that needs PIE)."""

    capabilities: Capabilities
    emitter: Emitter
    rules: Rules = _no_rules
    packager: Packager = _no_packaging
    refine: Refiner = _no_refining

    def assess(self, facts: AssessFacts) -> tuple[ItemVerdict, ...]:
        common = self.refine(facts, self.capabilities, compat.unikernel_items(facts, self.capabilities))
        return (*common, *self.rules(facts, self.capabilities))

    def emit(self, facts: ConversionFacts) -> Recipe:
        return self.emitter(facts)

    def package(self, recipe_dir: Path, rootfs: Path) -> tuple[str, ...]:
        return self.packager(recipe_dir, rootfs)


@dataclass(frozen=True)
class LinuxVmTarget:
    """A Linux kernel in a VM: every syscall and facility exists; the binary and image still matter."""

    capabilities: Capabilities
    emitter: Emitter
    packager: Packager = _no_packaging

    def assess(self, facts: AssessFacts) -> tuple[ItemVerdict, ...]:
        return compat.linux_items(facts, self.capabilities)

    def emit(self, facts: ConversionFacts) -> Recipe:
        return self.emitter(facts)

    def package(self, recipe_dir: Path, rootfs: Path) -> tuple[str, ...]:
        return self.packager(recipe_dir, rootfs)


@dataclass(frozen=True)
class ContainerTarget:
    """The fallback: the image itself, hardened; it runs whatever the image runs."""

    capabilities: Capabilities
    emitter: Emitter

    def assess(self, facts: AssessFacts) -> tuple[ItemVerdict, ...]:
        return ()

    def emit(self, facts: ConversionFacts) -> Recipe:
        return self.emitter(facts)

    def package(self, recipe_dir: Path, rootfs: Path) -> tuple[str, ...]:
        return ()
