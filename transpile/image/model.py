"""Facts about an acquired image: its config and where its root filesystem was unpacked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transpile.ir import Port


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
