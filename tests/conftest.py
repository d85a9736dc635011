"""Session fixtures shared by the whole suite: the real Docker engine and the fixture images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import engine as _engine


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return _engine.engine()


@pytest.fixture(scope="session")
def fixture_image(docker_client: Any) -> Callable[[str], str]:
    """Build (once) and return the tag of fixtures/images/NAME."""
    return _engine.fixture_image


@pytest.fixture(scope="session")
def fixture_archive(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`docker save` tar of fixtures/images/NAME (once per session)."""
    out = tmp_path_factory.mktemp("archives")
    return lambda name: _engine.fixture_archive(name, str(out))


LAYERS = ("unit", "engine", "vm")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test belongs to a layer (unit, engine or vm) so that `pytest -m unit` is the fast layer."""
    unmarked = [item.nodeid for item in items if not any(item.get_closest_marker(m) for m in LAYERS)]
    if unmarked:
        raise pytest.UsageError(f"tests without a layer marker ({', '.join(LAYERS)}): {unmarked[:5]}")
