"""`dockuni parse FILE... [--format json|text]`, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from transpile.cli import main

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "dockerfiles"


def test_json_output_one_object_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = FIXTURES / "heredoc-basic.Dockerfile"
    bad = FIXTURES / "error-env-without-value.Dockerfile"
    missing = tmp_path / "missing"
    assert main(["parse", str(good), str(bad), str(missing)]) == 2
    out = json.loads(capsys.readouterr().out)
    assert [o["file"] for o in out] == [str(good), str(bad), str(missing)]
    assert out[0]["error"] is None
    run = out[0]["instructions"][1]
    assert run["cmd"] == "run"
    assert run["heredocs"][0]["content"] == "apt-get update\napt-get install -y curl\n"
    assert out[1] == {"file": str(bad), "instructions": [],
                      "error": {"line": 2, "column": 1, "message": "ENV must have two arguments"}}
    assert out[2]["error"]["message"] == "no such file"


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "onbuild-triggers.Dockerfile"
    assert main(["parse", "--format", "text", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f'{path}:1:1 FROM "python:3.12-slim"'
    assert lines[1] == f'{path}:2:1 ONBUILD COPY --chown=app "requirements.txt" "/app/"'


def test_console_script_module_entry(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\nCMD [\"/app\"]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "transpile.cli", "parse", str(dockerfile)],
        capture_output=True, text=True, cwd=REPO, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["instructions"][1]["value"] == ["/app"]
