"""The target registry: every conversion target, found by looking, never by a list written elsewhere.

A target is a module or a small package in this package that defines ``TARGET`` (an object satisfying
``transpile.model.target.Target``). Names starting with ``_`` are helpers, not targets. The CLI's
``--target`` choices, the report, the ranking and the docs' target list all come from here, so adding
a target is its module, its data file, its doc page and its tests.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
from collections.abc import Iterable

from transpile.errors import DockuniError
from transpile.ir import Finding
from transpile.model.target import Target
from transpile.targets._base import KernelRuntime

_EXTRA: dict[str, Target] = {}


@functools.cache
def _discovered() -> tuple[Target, ...]:
    found: list[Target] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        target = getattr(module, "TARGET", None)
        if isinstance(target, Target):
            found.append(target)
    return tuple(found)


def all_targets() -> tuple[Target, ...]:
    """Every registered target, ordered by kind (unikernels, then VMs, then the container fallback) and
    footprint rank, so that lists read the same everywhere."""
    order = {"unikernel": 0, "linux-vm": 1, "container": 2}
    targets = {t.capabilities.name: t for t in _discovered()} | _EXTRA
    return tuple(
        sorted(
            targets.values(),
            key=lambda t: (order[t.capabilities.kind], t.capabilities.footprint_rank, t.capabilities.name),
        )
    )


def register(target: Target) -> None:
    """Add a target from outside this package (a plug-in, or a test's toy target)."""
    _EXTRA[target.capabilities.name] = target


def unregister(name: str) -> None:
    _EXTRA.pop(name, None)


def convertible() -> tuple[Target, ...]:
    """The targets a conversion chooses among: everything but the container fallback."""
    return tuple(t for t in all_targets() if t.capabilities.kind != "container")


def names() -> tuple[str, ...]:
    return tuple(t.capabilities.name for t in convertible())


def fallback() -> Target:
    """The target that always runs the image: the hardened container."""
    for t in all_targets():
        if t.capabilities.kind == "container":
            return t
    raise DockuniError("no container fallback target is registered")


def get(name: str) -> Target:
    for t in all_targets():
        if t.capabilities.name == name:
            return t
    raise DockuniError(f"unknown target {name!r} (choose from {', '.join(names())})", file="--target")


def parse_names(spec: str, option: str = "--target") -> tuple[str, ...]:
    """`auto` (or "") -> (); otherwise a validated, de-duplicated tuple in registry order."""
    spec = spec.strip()
    if spec in ("", "auto"):
        return ()
    wanted = [t.strip() for t in spec.split(",") if t.strip()]
    known = names()
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise DockuniError(
            f"unknown target {', '.join(map(repr, unknown))} (choose auto or from {', '.join(known)})",
            file=option,
        )
    return tuple(t for t in known if t in wanted)


def affected(need: str) -> tuple[str, ...]:
    """The targets whose capabilities lack NEED (a facility); every target when NEED is ""."""
    return tuple(t.capabilities.name for t in convertible() if t.capabilities.affected_by(need))


def kinds() -> dict[str, str]:
    """target name -> kind, for renderers that group targets."""
    return {t.capabilities.name: t.capabilities.kind for t in all_targets()}


def attach(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """FINDINGS with the targets each one affects filled in from its need."""
    return tuple(dataclasses.replace(f, targets=affected(f.need)) for f in findings)


def kernel_runtimes() -> dict[str, KernelRuntime]:
    """target name -> how its kernel builds and boots, for the targets that have one (build order:
    the registry's, fastest first)."""
    out: dict[str, KernelRuntime] = {}
    for t in all_targets():
        kernel = getattr(t, "kernel", None)
        if isinstance(kernel, KernelRuntime):
            out[t.capabilities.name] = kernel
    return out
