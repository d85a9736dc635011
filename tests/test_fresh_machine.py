"""The README's first command on a bare Debian: tools/fresh-machine-test.sh, from pytest.

It installs Debian packages and the Python dependencies into a fresh minbase container (minutes, and
the Debian mirror and the package index must be reachable), so it runs when DOCKUNI_FRESH_MACHINE=1, as
tools/test.sh (CI) sets it.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import engine

pytestmark = pytest.mark.engine


@pytest.mark.skipif(
    os.environ.get("DOCKUNI_FRESH_MACHINE") != "1",
    reason="minutes long: set DOCKUNI_FRESH_MACHINE=1 (tools/test.sh, which CI runs, sets it)",
)
@pytest.mark.parametrize("suite", ["bookworm"])
def test_readme_first_command_on_a_bare_debian(suite: str) -> None:
    proc = subprocess.run(
        ["bash", str(engine.ROOT / "tools" / "fresh-machine-test.sh"), suite],
        capture_output=True, text=True, check=False, cwd=engine.ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"fresh-machine-test: {suite}: ok (recipes: " in proc.stderr
    assert "# dockuni convert: examples/hello/Dockerfile" in proc.stdout
