"""The result cache: one JSON record per (image digest, dockuni version, scan settings).

A record is written as soon as its image finishes (write to a temporary file, then rename), so a scan
stopped with Ctrl-C keeps every image it finished and the next run starts where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from transpile import __version__
from transpile.fleet.manifest import ImageSpec


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def image_digest(spec: ImageSpec, client: Any = None) -> str | None:
    """What identifies the image's content: the engine's image id, the archive's sha256, the OCI
    layout's index; None when the image is made by this scan (a build), which is never served from cache.
    A missing image gives None too: its conversion reports the error."""
    try:
        if spec.kind == "image":
            if client is None:
                from transpile.image.sources import docker_client

                client = docker_client()
            return str(client.images.get(spec.ref).id)
        if spec.kind == "archive":
            return file_digest(Path(spec.ref))
        if spec.kind == "oci":
            p = Path(spec.ref)
            return file_digest(p / "index.json") if p.is_dir() else file_digest(p)
        if spec.kind == "static":
            return file_digest(Path(spec.ref))
    except Exception:
        return None
    return None


class ResultCache:
    """Records in DIRECTORY, keyed by digest + dockuni version + the settings that change a result."""

    def __init__(self, directory: Path, settings: str):
        self.directory = directory
        self.settings = settings

    def key(self, spec: ImageSpec, digest: str) -> str:
        # the dockerfile is part of the key: it changes the merged config and the static findings
        material = "\0".join([digest, __version__, self.settings, spec.kind, spec.dockerfile or ""])
        return hashlib.sha256(material.encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, record: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".rec-", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f, sort_keys=True)
            os.replace(tmp, self.directory / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
