"""The intermediate representation: frozen dataclasses lowered from the Dockerfile AST.

Everything here is plain data (JSON-serialisable through ``to_json``); passes read it and build new
facts, they never mutate it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info", "style"]
SEVERITY_ORDER: dict[str, int] = {"style": 0, "info": 1, "warning": 2, "error": 3}

@dataclass(frozen=True)
class Span:
    """A 1-based source range in one file."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


@dataclass(frozen=True)
class Finding:
    """One static or dynamic observation that matters for at least one target."""

    rule: str  # e.g. "DU201"
    severity: Severity
    message: str
    span: Span | None  # None for findings that come from an image or a trace, not from source
    need: str = ""  # the facility it shows the app needs (facilities.json); "" when every target cares
    targets: tuple[str, ...] = ()  # the targets whose capabilities lack the need (filled from the registry)
    hint: str = ""
    evidence: str = ""  # free text: "trace: clone(flags=SIGCHLD) in pid 12", "ELF: ET_EXEC"

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "span": self.span.to_json() if self.span else None,
            "need": self.need,
            "targets": list(self.targets),
            "hint": self.hint,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Port:
    number: int
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"

    def __str__(self) -> str:
        return f"{self.number}/{self.protocol}"


@dataclass(frozen=True)
class Healthcheck:
    """HEALTHCHECK as BuildKit records it: test is ["NONE"], ["CMD", ...] or ["CMD-SHELL", cmd]."""

    test: tuple[str, ...]
    interval: str = ""
    timeout: str = ""
    start_period: str = ""
    start_interval: str = ""
    retries: int = 0
    span: Span | None = None


@dataclass(frozen=True)
class RuntimeConfig:
    """What the final stage hands to the container runtime (the image config's runtime half).

    ``argv`` is ENTRYPOINT + CMD resolved as the engine does it: shell forms already wrapped in
    ``shell`` (default ``/bin/sh -c``), CMD dropped when ENTRYPOINT is in shell form.
    """

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    entrypoint_shell_form: bool = False
    cmd_shell_form: bool = False
    env: tuple[tuple[str, str], ...] = ()  # ordered, last wins already applied
    workdir: str = "/"
    user: str = ""  # "" means root, as in the image config
    expose: tuple[Port, ...] = ()
    volumes: tuple[str, ...] = ()
    healthcheck: Healthcheck | None = None
    stopsignal: str = ""
    shell: tuple[str, ...] = ("/bin/sh", "-c")
    labels: tuple[tuple[str, str], ...] = ()
    entrypoint_span: Span | None = None
    cmd_span: Span | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "entrypoint": list(self.entrypoint),
            "cmd": list(self.cmd),
            "argv": list(self.argv),
            "entrypoint_shell_form": self.entrypoint_shell_form,
            "cmd_shell_form": self.cmd_shell_form,
            "env": dict(self.env),
            "workdir": self.workdir,
            "user": self.user,
            "expose": [str(p) for p in self.expose],
            "volumes": list(self.volumes),
            "healthcheck": list(self.healthcheck.test) if self.healthcheck else None,
            "stopsignal": self.stopsignal,
            "shell": list(self.shell),
            "labels": dict(self.labels),
        }


@dataclass(frozen=True)
class Instruction:
    """One lowered instruction. ``args`` are the BuildKit node values after word expansion where
    BuildKit expands them (never in exec form of RUN/CMD/ENTRYPOINT); ``raw`` keeps them unexpanded."""

    kind: str  # upper case: FROM, RUN, COPY, ...
    args: tuple[str, ...]
    raw: tuple[str, ...]
    json_form: bool
    flags: tuple[tuple[str, str], ...]  # ("from", "build"), ("mount", "type=cache,target=/x") ...
    span: Span
    heredocs: tuple[tuple[str, str], ...] = ()  # (delimiter name, body)
    original: str = ""
    onbuild: Instruction | None = None  # the trigger of an ONBUILD

    def flag(self, name: str) -> str | None:
        for key, value in self.flags:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class Stage:
    index: int
    name: str  # "" when unnamed
    base: str  # base image reference after ARG expansion ("scratch" allowed)
    base_stage: int | None  # index of the stage it builds FROM, if any
    platform: str  # "" when not given
    instructions: tuple[Instruction, ...]
    copy_from: tuple[str, ...] = ()  # COPY --from / RUN --mount from= references
    span: Span | None = None
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)  # this stage's config at its end


@dataclass(frozen=True)
class Dockerfile:
    file: str
    directives: tuple[tuple[str, str], ...]
    global_args: tuple[tuple[str, str | None], ...]
    stages: tuple[Stage, ...]
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    source_lines: tuple[str, ...] = ()  # the file's text, when known: lets rules point at a word

    @property
    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None
