"""Real Docker engine and fixture images for the tests (no mocks: the engine runs here).

``engine()`` starts Debian's dockerd if needed and makes the debootstrapped base image;
``fixture_image(name)`` builds ``fixtures/images/NAME/Dockerfile`` once per session (the engine's
layer cache makes later sessions fast). When the engine cannot be started the tests fail loudly
outside CI too: a silently skipped integration test proves nothing.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
APPS = FIXTURES / "apps"
IMAGES = FIXTURES / "images"
BASE_IMAGE = "dockuni-test/debian:bookworm"
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")  # Debian's client; a newer one may lack buildx


@functools.cache
def engine() -> Any:
    """A docker SDK client for a running engine that has the base image."""
    import docker

    subprocess.run(["bash", str(FIXTURES / "base" / "start-engine.sh")], check=True)
    subprocess.run(["bash", str(FIXTURES / "base" / "make-base.sh"), BASE_IMAGE], check=True)
    return docker.from_env(timeout=600)


def image_tag(name: str) -> str:
    return f"dockuni-test/{name}:latest"


@functools.cache
def fixture_image(name: str) -> str:
    """Build fixture image NAME with the real engine (host network for apt) and return its tag."""
    client = engine()
    dockerfile = IMAGES / name / "Dockerfile"
    if not dockerfile.is_file():
        raise FileNotFoundError(dockerfile)
    if "dockuni-test/gcc" in dockerfile.read_text() and name != "gcc":
        fixture_image("gcc")
    tag = image_tag(name) if name != "gcc" else "dockuni-test/gcc:bookworm"
    client.images.build(
        path=str(APPS),
        dockerfile=str(dockerfile),
        tag=tag,
        network_mode="host",
        rm=True,
        forcerm=True,
    )
    return tag


@functools.cache
def fixture_archive(name: str, dest_dir: str) -> Path:
    """`docker save` of a fixture image into DEST_DIR (a session-wide temp dir)."""
    tag = fixture_image(name)
    out = Path(dest_dir) / f"{name}.tar"
    if not out.exists():
        subprocess.run([DOCKER, "save", "-o", str(out), tag], check=True)
    return out
