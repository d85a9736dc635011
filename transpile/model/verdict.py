"""Verdicts: per target, whether each syscall, facility or property the app needs is supported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx

from transpile.ir import Finding
from transpile.model.static import StaticEvidence
from transpile.model.trace import TraceFacts

Support = Literal["supported", "faked", "stubbable", "missing"]
# What an item is to the app (docs/verdicts.md): a need (start-up or serving), a call made only after
# dockuni's stop signal, a call that failed every time and the app survived, or a feature check.
# Only needs can block.
Category = Literal["need", "shutdown-only", "tolerated-failure", "feature-probe"]
# ok: a recipe can work; blocked: a need is missing; unknown: the evidence that decides is missing.
Status = Literal["ok", "blocked", "unknown"]


@dataclass(frozen=True)
class ItemVerdict:
    """The verdict on one syscall or facility for one target, with what it rests on."""

    item: str  # "syscall:fork", "facility:process.fork"
    support: Support
    evidence: tuple[str, ...]  # "trace: pid 7 fork()", "Dockerfile:12:1 CMD", "ELF /usr/sbin/nginx ET_DYN"
    rule: str  # which rule decided: "table:nanos", "loupe:stub_ok=34/86", "DU210", ...
    category: Category = "need"
    remedy: str = ""  # for a missing item: what the user can change so that it goes away


@dataclass(frozen=True)
class Blocker:
    """One need a target lacks, with all its evidence (several items can be one need) and a remedy."""

    need: str  # "facility:process.fork", "binary:pie", "syscall:mlockall"
    rule: str
    evidence: tuple[str, ...]
    remedy: str
    items: tuple[str, ...] = ()  # the items merged into this need

    def line(self) -> str:
        detail = next((e for e in self.evidence if not e.startswith("evidence:")), "")
        return f"{self.need}: {detail} [{self.rule}]" if detail else f"{self.need} [{self.rule}]"

    def to_json(self) -> dict[str, object]:
        return {
            "item": self.need,
            "rule": self.rule,
            "evidence": list(self.evidence),
            "remedy": self.remedy,
            "items": list(self.items),
        }


@dataclass(frozen=True)
class ProbeOutcome:
    """What fault injection showed about one injection on this app (Loupe's method)."""

    key: str  # Injection.key: "getppid:error=ENOSYS", "path:/sys/kernel/mm/transparent_hugepage"
    result: Literal["harmless", "needed", "untested"]
    detail: str = ""  # for needed: how the run differed from the baseline


@dataclass(frozen=True)
class TargetVerdict:
    target: str  # a registered target's name
    ok: bool  # a recipe can work (nothing "missing")
    items: tuple[ItemVerdict, ...]
    blockers: tuple[str, ...]  # one line each: what blocks it, with file:line or trace evidence
    score: float = 0.0  # ranking among the targets that are ok (higher is better)
    status: Status = "ok"
    details: tuple[Blocker, ...] = ()  # the blockers as structured needs (same order as ``blockers``)
    undecided: tuple[str, ...] = ()  # for "unknown": what evidence is missing and what would decide it
    verified: str = ""  # a boot of the recipe: "answered" or "failed" ("" when not booted)
    model_error: str = ""  # the model said ok and the boot failed (or the reverse): what to correct

    @property
    def label(self) -> str:
        """"ok", "ok (verified)", "blocked" or "unknown" for people."""
        if self.status == "ok" and self.verified == "answered":
            return "ok (verified)"
        return self.status



@dataclass(frozen=True)
class AssessFacts:
    """What a target assesses: the facility graph and the evidence it was built from."""

    graph: nx.DiGraph  # passes.graph.build_graph's result
    static: StaticEvidence
    trace: TraceFacts | None
    findings: tuple[Finding, ...]
    # fault injection results by Injection.key (empty: not probed)
    probes: Mapping[str, ProbeOutcome] = field(default_factory=dict)
    image: bool = True  # False when no image could be acquired: only the Dockerfile is known

    @property
    def traced(self) -> bool:
        return self.trace is not None
