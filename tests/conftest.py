"""Session fixtures shared by the whole suite: the real Docker engine and the fixture images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import engine as _engine


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
