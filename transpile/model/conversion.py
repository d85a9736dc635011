"""Everything a target's emitter reads (ConversionFacts) and what it returns (Recipe)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from transpile.ir import Dockerfile, Finding
from transpile.model.chain import EntrypointChain
from transpile.model.closure import Closure
from transpile.model.image import ImageConfig
from transpile.model.static import StaticEvidence
from transpile.model.trace import TraceFacts
from transpile.model.verdict import TargetVerdict

# JSON as Python builds it: what a seccomp profile and the reports are made of.
JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"


@dataclass(frozen=True)
class AttackSurface:
    """Syscalls the app needs versus what Docker's default seccomp profile allows unconditionally."""

    needed: int
    docker_default: int
    needed_outside_default: int

    def to_json(self) -> dict[str, int]:
        return {
            "needed": self.needed,
            "docker_default": self.docker_default,
            "needed_outside_default": self.needed_outside_default,
        }


@dataclass(frozen=True)
class ConversionFacts:
    """Everything the passes established about one Dockerfile + image."""

    dockerfile_path: str | None
    dockerfile: Dockerfile | None
    image_reference: str  # tag or id the fallback container runs, "" when no image
    config: ImageConfig  # merged image config
    argv: tuple[str, ...]  # resolved argv (absolute program path first)
    chain: EntrypointChain | None
    closure: Closure | None  # files the loader needs, with sizes
    trace: TraceFacts | None
    findings: tuple[Finding, ...]
    verdicts: tuple[TargetVerdict, ...]
    image_bytes: int = 0
    closure_bytes: int = 0
    runtime_files: tuple[str, ...] = ()  # files the trace saw opened and found (configs, data, dlopen'ed)
    runtime_dirs: tuple[str, ...] = ()  # directories the app listed, as found in the image
    runtime_bytes: int = 0  # bytes of runtime_files the closure does not already count
    stdio_symlinks: tuple[tuple[str, str], ...] = ()  # (image path, target) of links to /dev/stdout & co
    attack_surface: AttackSurface = field(default_factory=lambda: AttackSurface(0, 0, 0))
    unverified: tuple[str, ...] = ()  # what the conversion could not check, and why
    seccomp_profile: JsonObject | None = None  # the profile derived from the trace
    rewrites: tuple[str, ...] = ()  # the single-process rewrites of argv the recipes run (and the trace ran)
    # with rewrites: the trace of the image's own argv, which the container fallback runs unchanged
    image_trace: TraceFacts | None = None

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


@dataclass(frozen=True)
class ConvertResult:
    """What `dockuni convert` did: the facts, the graph, the ranking and what it wrote."""

    facts: ConversionFacts
    graph: JsonObject  # node-link JSON
    ranking: tuple[str, ...]  # ok targets, best first
    emitted: tuple[str, ...]  # folders written (targets, or "container")
    fallback: bool
    unverified: tuple[str, ...]  # what the conversion could not check, and why
    exit_code: int
    output: str  # as the user named it (never a temp path)
    verifications: tuple[Verification, ...] = ()  # --verify: one per emitted recipe, booted
    notes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # per emitted recipe: its notes
    files: tuple[str, ...] = ()  # every file written, relative to the output dir
    static: StaticEvidence | None = None  # what the graph and verdicts rested on besides the trace
    # fault injection: {"runs", "seconds", "cached", "budget", "injections", "needed", "harmless", "untested"}
    probing: JsonObject | None = None
    story: tuple[str, ...] = ()  # the outcome in a few sentences: the report and the console say these


@dataclass(frozen=True)
class Verification:
    """One emitted recipe booted for real and probed as the trace probed the app (`convert --verify`)."""

    target: str
    status: str  # "answered" | "failed" | "skipped"
    boot_to_reply_s: float | None = None  # QEMU start -> the first reply on every probed port
    accelerator: str = ""  # "kvm" | "tcg" ("" when nothing booted)
    image_bytes: int = 0  # what was booted: kernel + image
    memory_mib: int = 0
    console_log: str = ""  # relative to the output directory
    detail: str = ""  # the first reply, or why not (the telling console lines), or how to get a runtime

    def to_json(self) -> JsonObject:
        return {
            "status": self.status,
            "boot_to_reply_s": self.boot_to_reply_s,
            "accelerator": self.accelerator,
            "image_bytes": self.image_bytes,
            "memory_mib": self.memory_mib,
            "console_log": self.console_log,
            "detail": self.detail,
        }
