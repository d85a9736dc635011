"""ConversionFacts for a fixture image, from the real conversion pipeline (no invented facts).

``transpile.pipeline.convert`` unpacks the engine's image, resolves the entrypoint, computes the
library closure, traces the app in the sandbox (real strace, probes included), derives the seccomp
profile and the per-target verdicts; the tests take the ConversionFacts it hands to the emitters.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

from tests.support import engine
from transpile.model.conversion import ConversionFacts, Recipe


@functools.cache
def facts_for(name: str, duration: float = 6.0) -> ConversionFacts:
    """Facts for fixture image NAME (built by the engine once, converted once per test session)."""
    from transpile.pipeline import ConvertOptions, convert

    tag = engine.fixture_image(name)
    work = Path(tempfile.mkdtemp(prefix="dockuni-test-facts-"))
    try:
        opts = ConvertOptions(
            dockerfile=str(engine.IMAGES / name / "Dockerfile"),
            image=tag,
            output=str(work / "out"),
            duration=duration,
        )
        return convert(opts).facts
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_recipe(recipe: Recipe, dest: Path) -> Path:
    """Write a recipe's files as the convert command would (executable bits included)."""
    for rel, data in recipe.files:
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for rel in recipe.executable:
        (dest / rel).chmod(0o755)
    return dest


def probe_http(container_id: str, port: int, *, attempts: int = 40) -> str:
    """GET http://127.0.0.1:PORT/ from a second container sharing CONTAINER_ID's network namespace.

    The prober is the python-http fixture image (it has python3); the probed container may be a
    scratch image with no tools at all. Returns the body, or raises AssertionError with the logs.
    """
    import subprocess

    prober = engine.fixture_image("python-http")
    script = (
        "import sys, time, urllib.request\n"
        f"for i in range({attempts}):\n"
        "    try:\n"
        f"        body = urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=3).read()\n"
        "        sys.stdout.write(body.decode())\n"
        "        sys.exit(0)\n"
        "    except Exception as e:\n"
        "        err = e; time.sleep(0.25)\n"
        "sys.stderr.write(repr(err)); sys.exit(1)\n"
    )
    out = subprocess.run(
        [
            engine.DOCKER,
            "run",
            "--rm",
            "--network",
            f"container:{container_id}",
            "--entrypoint",
            "python3",
            prober,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        logs = subprocess.run([engine.DOCKER, "logs", container_id], capture_output=True, text=True)
        raise AssertionError(f"probe failed: {out.stderr}\ncontainer logs:\n{logs.stdout}{logs.stderr}")
    return out.stdout
