"""`dockuni trace` end to end: a `docker save` tar in, TraceFacts JSON / text and a profile out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from transpile.model.trace import TraceFacts

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]


def dockuni(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "transpile.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_trace_json_and_seccomp(fixture_archive: Callable[[str], Path], tmp_path: Path) -> None:
    tar = fixture_archive("static-server")
    profile = tmp_path / "profile.json"
    res = dockuni(
        "trace", "--archive", str(tar), "--format", "json", "--duration", "5", "--seccomp", str(profile)
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    facts = TraceFacts.from_json(data)
    assert facts.to_json() == data  # the JSON round-trips
    assert facts.argv == ("/httpd", "-p", "8080") and facts.listening_ports == (8080,)
    assert any(p["kind"] == "http" and p["ok"] for p in facts.probes)
    prof = json.loads(profile.read_text())
    names = set(prof["syscalls"][0]["names"])
    assert {"accept", "bind", "listen", "socket"} <= names and prof["defaultAction"] == "SCMP_ACT_ERRNO"
    assert [p.name for p in tmp_path.iterdir()] == ["profile.json"]  # no temp file left beside it


def test_trace_text_with_user_probe(fixture_archive: Callable[[str], Path]) -> None:
    tar = fixture_archive("static-server")
    probe = f"{sys.executable} -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:8080/').read())\""
    res = dockuni("trace", "--archive", str(tar), "--duration", "5", "--probe", probe)
    assert res.returncode == 0, res.stderr
    assert "listening:   8080" in res.stdout
    assert "probe:       command" in res.stdout and "hello, dockuni" in res.stdout


def test_bad_input_is_a_located_message(tmp_path: Path) -> None:
    res = dockuni("trace", "--archive", str(tmp_path / "missing.tar"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "missing.tar" in res.stderr
    res = dockuni("trace", "--archive", str(tmp_path / "missing.tar"), "--duration", "0")
    assert res.returncode == 2 and "--duration must be positive" in res.stderr
