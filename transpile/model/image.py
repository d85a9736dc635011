"""Facts about an image: its config, where its root filesystem was unpacked, and what analysis found in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transpile.ir import Finding, Port, Span
from transpile.model.chain import EntrypointChain
from transpile.model.closure import Closure
from transpile.model.elf import ElfFacts
from transpile.model.static import StaticEvidence

# What runc and Docker give a process when the image sets no PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Shells: a script they run starts its commands as child processes (or execs the last one). busybox
# counts because its sh applet is how minimal images run scripts.
SHELLS = frozenset({"sh", "bash", "dash", "ash", "busybox", "zsh", "ksh", "mksh"})


def is_shell(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in SHELLS


@dataclass(frozen=True)
class ImageConfig:
    """The runtime half of an OCI/Docker image config (``config`` in the image JSON)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[Port, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    architecture: str = "amd64"
    os: str = "linux"

    @property
    def argv(self) -> tuple[str, ...]:
        return self.entrypoint + self.cmd

    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    def to_json(self) -> dict[str, object]:
        return {
            "entrypoint": list(self.entrypoint),
            "cmd": list(self.cmd),
            "env": dict(self.env),
            "working_dir": self.working_dir,
            "user": self.user,
            "exposed_ports": [str(p) for p in self.exposed_ports],
            "volumes": list(self.volumes),
            "stop_signal": self.stop_signal,
            "labels": dict(self.labels),
            "architecture": self.architecture,
            "os": self.os,
        }


@dataclass(frozen=True)
class AcquiredImage:
    """An image unpacked into ``rootfs`` (a directory the caller owns and removes)."""

    source: str  # "build:PATH", "image:NAME", "archive:PATH", "oci:PATH"
    reference: str  # image id or tag, for the fallback container and reports
    config: ImageConfig
    rootfs: Path
    image_bytes: int  # sum of the uncompressed layer sizes
    layers: tuple[str, ...] = ()  # layer digests, bottom first
    warnings: tuple[str, ...] = field(default=())
    builder: str = ""  # for a build source: "buildkit" or "legacy"
    builder_reason: str = ""  # why that builder (engine and CLI versions)


def is_root_user(user: str) -> bool:
    """USER as an image config holds it: "" means root, as do uid 0 and the name root (any group)."""
    return user.split(":", 1)[0] in ("", "0", "root")


@dataclass(frozen=True)
class ConfigDifference:
    """Where the Dockerfile's runtime config and the built image's disagree (rule DU901 reports it)."""

    message: str
    span: Span | None  # the Dockerfile instruction, when the IR knows it
    evidence: str


@dataclass(frozen=True)
class ImageAnalysis:
    """What the static passes found in an acquired image, before anything runs."""

    source: str  # "archive:PATH", ...
    reference: str
    config: ImageConfig  # the image's config merged with the Dockerfile's
    image_bytes: int
    chain: EntrypointChain
    closure: Closure | None  # the program's (the ELF execve finally loads)
    static: StaticEvidence
    differences: tuple[ConfigDifference, ...] = ()  # Dockerfile vs image config
    closures: tuple[Closure, ...] = ()  # one per ELF program of the chain
    elfs: tuple[ElfFacts, ...] = ()  # every ELF reached: the chain's programs, then their libraries
    unreadable: tuple[tuple[str, str], ...] = ()  # (chain step, why its ELF could not be read)
    warnings: tuple[str, ...] = ()  # from unpacking (skipped entries, ...)
    findings: tuple[Finding, ...] = ()  # the image rules' findings (DU9xx)

    @property
    def closure_bytes(self) -> int:
        return self.closure.total_bytes if self.closure is not None else 0


@dataclass(frozen=True)
class RuntimeUsage:
    """What the traced run read from the image besides the loader's closure."""

    files: tuple[str, ...]  # regular files the app read, as found in the image
    dirs: tuple[str, ...]  # directories it listed
    extra_bytes: int  # bytes of FILES the closure does not already count
