"""Unpacked fixture images shared by the ELF, closure and entrypoint tests (one unpack per module)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support import engine
from transpile.image import AcquiredImage, ImageSource, acquire


@contextlib.contextmanager
def unpacked(names: list[str], workdir: Path) -> Iterator[dict[str, AcquiredImage]]:
    """Acquire each fixture image (built by the real engine) from its `docker save` tar."""
    with contextlib.ExitStack() as stack:
        out: dict[str, AcquiredImage] = {}
        for name in names:
            archive = engine.fixture_archive(name, str(workdir))
            out[name] = stack.enter_context(
                acquire(ImageSource(kind="archive", ref=str(archive)), workdir=workdir / f"{name}-work")
            )
        yield out


def run_in_image(tag: str, script: str, env: dict[str, str] | None = None) -> str:
    """Run a shell script inside a container of the image (no network): the sandbox for its binaries."""
    cmd = [engine.DOCKER, "run", "--rm", "--network", "none"]
    for key, value in (env or {}).items():
        cmd += ["-e", f"{key}={value}"]
    cmd += ["--entrypoint", "/bin/sh", tag, "-c", script]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
