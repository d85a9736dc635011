"""Image config JSON (Docker/OCI ``application/vnd.oci.image.config.v1+json``) -> ImageConfig."""

from __future__ import annotations

import json
from typing import Any

from transpile.errors import DockuniError
from transpile.ir import Port
from transpile.model.image import ImageConfig

SUPPORTED_PLATFORM = ("linux", "amd64")


def _strs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def _port(spec: str) -> Port | None:
    num, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if not num.isdigit() or proto not in ("tcp", "udp", "sctp"):
        return None
    return Port(int(num), proto)  # type: ignore[arg-type]


def parse_config(raw: bytes, where: str) -> tuple[ImageConfig, tuple[str, ...]]:
    """Parse an image config blob; return the config and its ``rootfs.diff_ids``."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise DockuniError(f"image config is not JSON: {err}", file=where) from err
    if not isinstance(doc, dict):
        raise DockuniError("image config is not a JSON object", file=where)
    cfg = doc.get("config") or doc.get("Config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    env: list[tuple[str, str]] = []
    for item in _strs(cfg.get("Env")):
        key, _, value = item.partition("=")
        env.append((key, value))
    ports = []
    for spec in sorted((cfg.get("ExposedPorts") or {}).keys()):
        port = _port(str(spec))
        if port is not None:
            ports.append(port)
    labels = cfg.get("Labels") or {}
    rootfs = doc.get("rootfs") or {}
    diff_ids = _strs(rootfs.get("diff_ids")) if isinstance(rootfs, dict) else ()
    config = ImageConfig(
        entrypoint=_strs(cfg.get("Entrypoint")),
        cmd=_strs(cfg.get("Cmd")),
        env=tuple(env),
        working_dir=str(cfg.get("WorkingDir") or ""),
        user=str(cfg.get("User") or ""),
        exposed_ports=tuple(ports),
        volumes=tuple(sorted(str(v) for v in (cfg.get("Volumes") or {}))),
        stop_signal=str(cfg.get("StopSignal") or ""),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())) if isinstance(labels, dict) else (),
        architecture=str(doc.get("architecture") or "amd64"),
        os=str(doc.get("os") or "linux"),
    )
    return config, diff_ids


def check_platform(config: ImageConfig, where: str) -> None:
    """dockuni analyses x86-64 Linux images only (the targets it emits for are x86-64)."""
    if (config.os, config.architecture) != SUPPORTED_PLATFORM:
        raise DockuniError(
            f"image is for {config.os}/{config.architecture}; dockuni analyses linux/amd64 images only",
            file=where,
        )
