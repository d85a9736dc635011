"""Verdicts: per target, whether each syscall, facility or property the app needs is supported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import networkx as nx

from transpile.ir import Finding
from transpile.model.static import StaticEvidence
from transpile.model.trace import TraceFacts

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
    target: str  # a registered target's name
    ok: bool  # a recipe can work (nothing "missing")
    items: tuple[ItemVerdict, ...]
    blockers: tuple[str, ...]  # one line each: what blocks it, with file:line or trace evidence
    score: float = 0.0  # ranking among the targets that are ok (higher is better)



@dataclass(frozen=True)
class AssessFacts:
    """What a target assesses: the facility graph and the evidence it was built from."""

    graph: nx.DiGraph  # passes.graph.build_graph's result
    static: StaticEvidence
    trace: TraceFacts | None
    findings: tuple[Finding, ...]

    @property
    def traced(self) -> bool:
        return self.trace is not None
