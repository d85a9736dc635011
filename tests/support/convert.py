"""Real conversions of the fixture images for the graph, verdict and convert tests, once per session.

Each fixture is built by the real engine (tests/support/engine.py), saved with `docker save`, and converted by
the real pipeline: unpacked by transpile.image.acquire and traced for real by transpile.sandbox. The
results are cached so the suite unpacks and traces each image once.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support import engine
from transpile import pipeline
from transpile.model.static import StaticEvidence
from transpile.model.trace import TraceFacts

TRACE_SECONDS = 6.0


@functools.cache
def _session_dir() -> Path:
    path = tempfile.mkdtemp(prefix="dockuni-convert-tests-")
    atexit.register(shutil.rmtree, path, True)
    return Path(path)


def archive(name: str) -> Path:
    """`docker save` tar of fixture NAME (built once by the real engine)."""
    return engine.fixture_archive(name, str(_session_dir()))


def dockerfile(name: str) -> str:
    return str(engine.IMAGES / name / "Dockerfile")


def converted(name: str, traced: bool = True) -> pipeline.ConvertResult:
    """`dockuni convert --archive` of fixture NAME, written once per session."""
    return _converted(name, traced)


@functools.cache
def _converted(name: str, traced: bool) -> pipeline.ConvertResult:
    # fault-injection results are cached per image: keep this session's cache to itself (and only that:
    # the kernels' cache stays where CI keeps it)
    os.environ["DOCKUNI_PROBE_CACHE"] = str(_session_dir() / "probes")
    out = _session_dir() / f"{name}-{'traced' if traced else 'static'}"
    opts = pipeline.ConvertOptions(
        dockerfile=dockerfile(name),
        archive=str(archive(name)),
        trace=traced,
        duration=TRACE_SECONDS,
        output=str(out),
    )
    return pipeline.convert(opts)


def output_dir(name: str, traced: bool = True) -> Path:
    converted(name, traced)
    return _session_dir() / f"{name}-{'traced' if traced else 'static'}"


@dataclass(frozen=True)
class RealFacts:
    static: StaticEvidence
    trace: TraceFacts | None


def real_facts(name: str, traced: bool = True) -> RealFacts:
    """The static evidence and the real sandboxed trace the conversion of NAME rested on."""
    result = converted(name, traced)
    assert result.static is not None
    return RealFacts(result.static, result.facts.trace)
