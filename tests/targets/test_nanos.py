"""Nanos recipes from real fixture facts: ops config.json and package.manifest fields, and the
emitted assemble.sh run against the real engine builds a sysroot holding every closure file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import engine
from tests.support.realfacts import facts_for, write_recipe
from transpile.model.conversion import ConversionFacts
from transpile.targets import nanos
from transpile.targets._common import program_argv

pytestmark = pytest.mark.engine


def _json(facts: ConversionFacts, rel: str) -> Any:
    return json.loads(dict(nanos.emit(facts).files)[rel])


def test_python_http_config() -> None:
    facts = facts_for("python-http")
    cfg = _json(facts, "config.json")
    assert cfg["Program"] == "python-http_latest/python3"
    assert cfg["Args"] == ["-m", "http.server", "8000"]  # the program name comes from the package
    assert cfg["Env"]["PATH"].startswith("/usr/local/sbin")
    assert cfg["RunConfig"]["Ports"] == ["8000"]
    assert cfg["ManifestPassthrough"] == {"cwd": "/srv"}  # WORKDIR
    assert "Mounts" not in cfg and "Klibs" not in cfg
    manifest = _json(facts, "python-http_latest/package.manifest")
    assert manifest == {
        "Program": "python-http_latest/python3",
        "Args": ["python3"],
        "Version": "latest",
        "Env": cfg["Env"],
    }


def test_nginx_config_is_single_process() -> None:
    cfg = _json(facts_for("nginx"), "config.json")
    assert cfg["Args"] == ["-g", "daemon off; master_process off;"]
    assert cfg["RunConfig"]["Ports"] == ["80"]
    assert "ManifestPassthrough" not in cfg  # WORKDIR is /


def test_redis_config_foreground() -> None:
    cfg = _json(facts_for("redis"), "config.json")
    assert cfg["Program"] == "redis_latest/redis-server"
    assert cfg["Args"][-2:] == ["--daemonize", "no"]
    assert cfg["RunConfig"]["Ports"] == ["6379"]


def _assemble(tmp_path: Path, facts: ConversionFacts) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = write_recipe(nanos.emit(facts), tmp_path / "recipe")
    env = {**os.environ, "DOCKER": engine.DOCKER}
    proc = subprocess.run(["./assemble.sh"], cwd=out, env=env, capture_output=True, text=True, timeout=300)
    return out, proc


@pytest.mark.parametrize("name", ["python-http", "nginx"])
def test_assemble_builds_sysroot_with_the_closure(name: str, tmp_path: Path) -> None:
    facts = facts_for(name)
    out, proc = _assemble(tmp_path, facts)
    assert proc.returncode == 0, proc.stderr
    pkg = out / f"{name}_latest"
    sysroot = pkg / "sysroot"
    for ref in facts.closure.files:
        copied = sysroot / ref.path.lstrip("/")
        assert copied.is_file() and not copied.is_symlink(), ref.path
        assert copied.stat().st_size == ref.size
    for path in facts.runtime_files:
        assert (sysroot / path.lstrip("/")).is_file(), path
    prog = pkg / os.path.basename(program_argv(facts)[0])
    assert prog.is_file() and os.access(prog, os.X_OK)
    assert not list(out.glob(".assemble.*"))  # the temp dir was renamed into place
    listed = [line for line in (out / "files.txt").read_text().splitlines() if line.startswith("/")]
    files = [line for line in listed if not line.endswith("/")]
    assert f"assembled {len(files)} files" in proc.stdout
    for d in (line for line in listed if line.endswith("/")):
        assert (sysroot / d.strip("/")).is_dir(), d


def test_assemble_refuses_paths_outside_the_sysroot(tmp_path: Path) -> None:
    facts = facts_for("static-server")
    out = write_recipe(nanos.emit(facts), tmp_path / "recipe")
    (out / "files.txt").write_text("/httpd\n/../../etc/passwd\n")
    env = {**os.environ, "DOCKER": engine.DOCKER}
    proc = subprocess.run(["./assemble.sh"], cwd=out, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "refusing" in proc.stderr
    assert not (out / "static-server_latest" / "sysroot").exists()  # nothing half-written
    assert not list(out.glob("static-server_latest/.assemble.*"))
