"""Active probing, Loupe's method: run the app with faults injected and find which ones break it.

Loupe (Lefeuvre et al., ASPLOS 2024) measures whether an application still passes its workload when
a system call it makes fails with ENOSYS (a stub) or returns 0 without running (a fake). Here the
workload is the sandbox's probes: a run with injections *passes* when the app ran (it kept running
until stopped, or finished with status 0, as in the baseline) and every probe that passed in the
baseline run passes again. Injections are batched, and :func:`bisect` splits a failing batch to find
the items that break the app in few runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, TypeVar

from transpile.model.image import ImageConfig
from transpile.model.trace import Injection, TraceFacts
from transpile.sandbox.runner import TraceOptions, run_trace

T = TypeVar("T")


def run_with_injections(
    rootfs: Path, config: ImageConfig, injections: Iterable[Injection], options: TraceOptions | None = None
) -> TraceFacts:
    """One sandboxed run with every injection of the batch applied (see :class:`Injection`)."""
    return run_trace(rootfs, config, replace(options or TraceOptions(), injections=tuple(injections)))


def still_passes(baseline: TraceFacts, run: TraceFacts) -> bool:
    """The injected ``run`` did what the ``baseline`` (no injection) did: the app ran and the
    probes that passed then pass now."""
    if baseline.app_ran and not run.app_ran:
        return False
    return baseline.passed_probes <= run.passed_probes


@dataclass(frozen=True)
class Bisection(Generic[T]):
    """What :func:`bisect` found, each group in the order of the input."""

    needed: tuple[T, ...]  # the app failed with this item injected on top of the harmless ones
    harmless: tuple[T, ...]  # the probes passed with all of these injected together
    untested: tuple[T, ...]  # the run budget ran out first
    runs: int


def bisect(
    items: Sequence[T], passes: Callable[[tuple[T, ...]], bool], max_runs: int | None = None
) -> Bisection[T]:
    """Find the items that break the app, by group testing: ``passes(batch)`` runs the app with the
    whole batch injected and says whether it still passed.

    Every batch is tried on top of the items already found harmless, so the harmless set is always
    one that passed as a whole, and items that break the app only together are caught (the later of
    them is reported needed). A passing batch clears all its items in one run; a failing one is
    halved, and when its first half passes, the second is known to fail without a run. One breaking
    item among n costs at most about 2 log2(n) + 1 runs, none costs one run.
    """
    order = {id(item): i for i, item in enumerate(items)}
    needed: list[T] = []
    harmless: list[T] = []
    untested: list[T] = []
    runs = 0

    def test(group: list[T]) -> bool | None:
        """Does harmless + group pass? None when the budget is spent."""
        nonlocal runs
        if max_runs is not None and runs >= max_runs:
            return None
        runs += 1
        return passes(tuple(harmless + group))

    def search(group: list[T], known_to_fail: bool) -> None:
        if not group:
            return
        if not known_to_fail:
            ok = test(group)
            if ok is None:
                untested.extend(group)
                return
            if ok:
                harmless.extend(group)
                return
        if len(group) == 1:
            needed.append(group[0])
            return
        first, second = group[: len(group) // 2], group[len(group) // 2 :]
        ok = test(first)
        if ok is None:
            untested.extend(group)
        elif ok:
            harmless.extend(first)
            search(second, True)
        else:
            search(first, True)
            search(second, False)

    search(list(items), False)

    def sort(group: list[T]) -> tuple[T, ...]:
        return tuple(sorted(group, key=lambda item: order[id(item)]))

    return Bisection(sort(needed), sort(harmless), sort(untested), runs)


def probe_injections(
    rootfs: Path,
    config: ImageConfig,
    injections: Sequence[Injection],
    options: TraceOptions | None = None,
    baseline: TraceFacts | None = None,
    max_runs: int | None = None,
) -> tuple[Bisection[Injection], TraceFacts]:
    """Bisect ``injections`` on the real app: which of them make its probes fail.

    Returns the bisection and the baseline run (made here when not given).
    """
    opts = replace(options or TraceOptions(), injections=())
    base = baseline or run_trace(rootfs, config, opts)

    def passes(batch: tuple[Injection, ...]) -> bool:
        return still_passes(base, run_with_injections(rootfs, config, batch, opts))

    return bisect(injections, passes, max_runs), base
