"""Building blocks for target modules: the common shapes of the Target protocol.

A unikernel judges the app against its syscall table and facility statuses (transpile.passes.compat)
and adds rules of its own; a Linux VM has every syscall; the container runs the image as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from transpile.errors import DockuniError
from transpile.model.conversion import ConversionFacts, Recipe, Verification
from transpile.model.target import Capabilities, VerifyOptions
from transpile.model.verdict import AssessFacts, ItemVerdict
from transpile.passes import compat

if TYPE_CHECKING:
    from transpile.runtime.build import BuildSpec
    from transpile.runtime.payload import Payload
    from transpile.runtime.qemu import BootResult

Emitter = Callable[[ConversionFacts], Recipe]
Rules = Callable[[AssessFacts, Capabilities], Iterable[ItemVerdict]]
Packager = Callable[[Path, Path], tuple[str, ...]]
Verifier = Callable[[Path, ConversionFacts, Path, VerifyOptions], Verification]
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
class KernelRuntime:
    """How a target's kernel is built from pinned sources and how a payload boots on it (the work itself
    runs in transpile.runtime)."""

    build_spec: Callable[[], BuildSpec]
    boot: Callable[[Payload, Path, Path, float], BootResult]
    # the recipe's bootable form written into its folder: (payload, kernel dir or None, recipe dir) -> notes
    package: Callable[[Payload, Path | None, Path], tuple[str, ...]]


@dataclass(frozen=True)
class UnikernelTarget:
    """A unikernel: the common assessment plus the target's own RULES (e.g. a loader that needs PIE)."""

    capabilities: Capabilities
    emitter: Emitter
    rules: Rules = _no_rules
    packager: Packager = _no_packaging
    kernel: KernelRuntime | None = None
    refine: Refiner = _no_refining

    def assess(self, facts: AssessFacts) -> tuple[ItemVerdict, ...]:
        common = self.refine(facts, self.capabilities, compat.unikernel_items(facts, self.capabilities))
        return (*common, *self.rules(facts, self.capabilities))

    def emit(self, facts: ConversionFacts) -> Recipe:
        return self.emitter(facts)

    def package(self, recipe_dir: Path, rootfs: Path) -> tuple[str, ...]:
        notes = self.packager(recipe_dir, rootfs)
        if self.kernel is None or not (recipe_dir / "payload.json").is_file():
            return notes
        from transpile.runtime import build
        from transpile.targets import _verify

        payload, missing = _verify.payload_from_recipe(recipe_dir, rootfs)
        found = build.find_kernel(self.kernel.build_spec())
        try:
            notes = (*notes, *self.kernel.package(payload, found.path if found else None, recipe_dir))
        except DockuniError as err:  # the recipe stands without its bootable form; the note says why
            notes = (*notes, f"no bootable image: {err.message}")
        if missing:
            notes = (*notes, "not in the image, left out of the boot image: " + ", ".join(missing))
        return notes

    def verify(
        self, recipe_dir: Path, facts: ConversionFacts, rootfs: Path, options: VerifyOptions
    ) -> Verification:
        name = self.capabilities.name
        if self.kernel is None:
            return Verification(name, "skipped", detail=f"dockuni cannot boot {name} recipes")
        from transpile.targets import _verify

        return _verify.boot(name, self.kernel, recipe_dir, rootfs, options.log_dir, options.timeout_s)


@dataclass(frozen=True)
class LinuxVmTarget:
    """A Linux kernel in a VM: every syscall and facility exists; the binary and image still matter."""

    capabilities: Capabilities
    emitter: Emitter
    packager: Packager = _no_packaging
    verifier: Verifier | None = None

    def assess(self, facts: AssessFacts) -> tuple[ItemVerdict, ...]:
        return compat.linux_items(facts, self.capabilities)

    def verify(
        self, recipe_dir: Path, facts: ConversionFacts, rootfs: Path, options: VerifyOptions
    ) -> Verification:
        if self.verifier is None:
            return Verification(self.capabilities.name, "skipped", detail="no way to boot this recipe")
        return self.verifier(recipe_dir, facts, rootfs, options)

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

    def verify(
        self, recipe_dir: Path, facts: ConversionFacts, rootfs: Path, options: VerifyOptions
    ) -> Verification:
        return Verification(
            self.capabilities.name, "skipped", detail="the container runs the image as it is: nothing to boot"
        )
