"""Fixtures for the sandbox tests: fixture images unpacked once per session by ``transpile.image``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from transpile.image import AcquiredImage, ImageSource, acquire


@pytest.fixture(scope="session")
def unpacked(
    fixture_archive: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], AcquiredImage]]:
    """``unpacked(name)``: the fixture image NAME acquired from its `docker save` tar (cached)."""
    cache: dict[str, AcquiredImage] = {}
    with contextlib.ExitStack() as stack:

        def get(name: str) -> AcquiredImage:
            if name not in cache:
                src = ImageSource(kind="archive", ref=str(fixture_archive(name)))
                cache[name] = stack.enter_context(acquire(src, workdir=tmp_path_factory.mktemp(name)))
            return cache[name]

        yield get
