"""What every target module receives and returns.

A target is a pure function ``emit(facts) -> Recipe``: it reads the conversion facts and returns the
files of its recipe as bytes keyed by relative path, so that the caller can write them atomically and
identical input gives byte-identical output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from transpile.image.model import ImageConfig
    from transpile.ir import Dockerfile, Finding
    from transpile.sandbox.facts import TraceFacts

Support = Literal["supported", "faked", "stubbable", "missing"]


@dataclass(frozen=True)
class ItemVerdict:
    """The verdict on one syscall or facility for one target, with what it rests on."""

    item: str  # "syscall:fork", "facility:process.fork"
    support: Support
    evidence: tuple[str, ...]  # "trace: pid 7 fork()", "Dockerfile:12:1 CMD", "ELF /usr/sbin/nginx ET_DYN"
    rule: str  # which rule decided: "table:nanos", "loupe:stub_ok=34/86", "DU210", ...


@dataclass(frozen=True)
class TargetVerdict:
    target: str  # unikraft | nanos | osv | microvm
    ok: bool  # a recipe can work (nothing "missing")
    items: tuple[ItemVerdict, ...]
    blockers: tuple[str, ...]  # one line each: what blocks it, with file:line or trace evidence
    score: float = 0.0  # ranking among the targets that are ok (higher is better)


@dataclass(frozen=True)
class ConversionFacts:
    """Everything the passes established about one Dockerfile + image."""

    dockerfile_path: str | None
    dockerfile: Dockerfile | None
    image_reference: str  # tag or id the fallback container runs, "" when no image
    config: ImageConfig  # merged image config
    argv: tuple[str, ...]  # resolved argv (absolute program path first)
    chain: Any  # transpile.passes.entrypoint.EntrypointChain
    closure: Any  # transpile.passes.closure.Closure (files the loader needs, with sizes)
    trace: TraceFacts | None
    findings: tuple[Finding, ...]
    verdicts: tuple[TargetVerdict, ...]
    image_bytes: int = 0
    closure_bytes: int = 0
    runtime_files: tuple[str, ...] = ()  # files the trace saw opened and found (configs, data, dlopen'ed)
    extra: dict[str, Any] = field(default_factory=dict)

    def verdict(self, target: str) -> TargetVerdict | None:
        for v in self.verdicts:
            if v.target == target:
                return v
        return None


@dataclass(frozen=True)
class Recipe:
    target: str
    files: tuple[tuple[str, bytes], ...]  # (relative path, content), sorted by path
    executable: tuple[str, ...] = ()  # relative paths to chmod +x
    notes: tuple[str, ...] = ()  # what the user must know (how to build/run, what was rewritten)
    build_command: str = ""
    run_command: str = ""
