"""Unikraft recipes from real fixture facts: the Kraftfile validates against the v0.6 schema, and the
rootfs Dockerfile, built by the real engine and run the way kraft runs it (cmd, env, read-only root,
writable volumes, cwd /), serves the app: the closure plus the traced files are complete."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support import engine
from tests.support.realfacts import facts_for, probe_http, write_recipe
from transpile.model.conversion import ConversionFacts
from transpile.targets import unikraft
from transpile.targets._common import program_argv

pytestmark = pytest.mark.engine

SCHEMA = json.loads((Path(__file__).parent / "kraftfile.schema.json").read_text())


def _files(facts: ConversionFacts) -> dict[str, bytes]:
    return dict(unikraft.emit(facts).files)


def _kraftfile(facts: ConversionFacts) -> dict[str, Any]:
    doc = yaml.safe_load(_files(facts)["Kraftfile"])
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("name", ["python-http", "nginx", "redis", "static-server"])
def test_kraftfile_validates_against_v06_schema(name: str) -> None:
    facts = facts_for(name)
    doc = _kraftfile(facts)
    jsonschema.validate(doc, SCHEMA)
    assert doc["spec"] == "v0.6"
    assert doc["runtime"] == "base:latest"
    assert doc["rootfs"] == "./Dockerfile"
    # no kernel arguments needed: cmd is the app's argv, program path first
    assert "--" not in doc["cmd"]
    assert doc["cmd"][0] == program_argv(facts)[0]
    assert doc["cmd"][0].startswith("/")
    assert doc["env"] == dict(facts.config.env)


def test_schema_rejects_what_kraft_rejects() -> None:
    good = _kraftfile(facts_for("static-server"))
    for broken in (
        {k: v for k, v in good.items() if k != "spec"},  # spec is required
        {k: v for k, v in good.items() if k != "runtime"},  # runtime/unikraft/template required
        {**good, "cmd": [1, 2]},
        {**good, "env": {"A": ["x"]}},
        {**good, "volumes": ["no-destination"]},
        {**good, "targets": ["qemu"]},
        {**good, "specification": "v0.6"},  # both spellings at once
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_single_process_rewrites() -> None:
    nginx = _kraftfile(facts_for("nginx"))
    assert nginx["cmd"] == ["/usr/sbin/nginx", "-g", "daemon off; master_process off;"]
    redis = _kraftfile(facts_for("redis"))
    assert redis["cmd"][-2:] == ["--daemonize", "no"]
    py_facts = facts_for("python-http")
    py = _kraftfile(py_facts)
    assert py["cmd"][-3:] == ["-m", "http.server", "8000"]  # no rewrite shaped to one program's options
    notes = unikraft.app_argv(py_facts)[1]
    assert any("kraft ignores WORKDIR" in n and "/srv" in n for n in notes)
    # python -m asks for its working directory at start-up: on Unikraft that is a need kraft cannot meet
    verdict = py_facts.verdict("unikraft")
    assert verdict is not None
    workdir = next(b for b in verdict.details if b.need == "config:workdir")
    assert "WORKDIR /srv" in workdir.evidence[0] and "--directory" in workdir.remedy


def test_nginx_log_symlinks_become_files_and_writes_volumes() -> None:
    files = _files(facts_for("nginx"))
    dockerfile = files["Dockerfile"].decode()
    assert files["empty"] == b""
    assert 'COPY ["empty", "/var/log/nginx/access.log"]' in dockerfile
    assert "/dev/stdout" not in dockerfile
    vols = {v.split(":")[1] for v in _kraftfile(facts_for("nginx"))["volumes"]}
    assert {"/run", "/var/lib/nginx", "/var/log/nginx"} <= vols
    notes = " ".join(unikraft.emit(facts_for("nginx")).notes)
    assert "EXPOSE" in notes and "master_process off;" in notes


def test_rootfs_dockerfile_copies_exactly_closure_and_traced_files() -> None:
    facts = facts_for("python-http")
    dockerfile = _files(facts)["Dockerfile"].decode()
    copied: set[str] = set()
    for line in dockerfile.splitlines():
        if line.startswith("COPY --from=app "):
            copied |= set(json.loads(line.removeprefix("COPY --from=app "))[:-1])
    libs = {f.path for f in facts.closure.files}
    assert libs <= copied
    assert "/lib64/ld-linux-x86-64.so.2" in copied and "/etc/ld.so.cache" in copied
    assert set(facts.runtime_files) <= copied
    assert copied <= libs | set(facts.runtime_files) | {"/etc/ld.so.cache", program_argv(facts)[0]}
    assert dockerfile.startswith("#") and f"FROM {facts.image_reference} AS app" in dockerfile


def test_emit_is_deterministic_and_sorted() -> None:
    facts = facts_for("python-http")
    a, b = unikraft.emit(facts), unikraft.emit(facts)
    assert a == b
    assert [p for p, _ in a.files] == sorted(p for p, _ in a.files)


def _run_like_kraft(image_id: str, kraft: dict[str, Any]) -> str:
    """Start the rootfs image as kraft would boot it: only cmd and env, read-only root, volumes writable."""
    cmd = kraft["cmd"]
    args = [engine.DOCKER, "run", "-d", "--network", "none", "--read-only", "--workdir", "/"]
    args += ["--entrypoint", cmd[0]]
    for vol in kraft.get("volumes", []):
        args += ["--tmpfs", vol.split(":", 1)[1]]
    for key, value in (kraft.get("env") or {}).items():
        args += ["-e", f"{key}={value}"]
    out = subprocess.run([*args, image_id, *cmd[1:]], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize(
    ("name", "port", "body"),
    [
        # kraft ignores WORKDIR: http.server serves / (the verdict blocks it: config:workdir)
        ("python-http", 8000, "Directory listing for /"),
        ("static-server", 8080, "hello, dockuni"),
        ("nginx", 80, "Welcome to nginx"),  # single-process, logs as real files, volumes writable
    ],
)
def test_rootfs_image_runs_the_app(
    name: str, port: int, body: str, tmp_path: Path, docker_client: Any
) -> None:
    facts = facts_for(name)
    recipe = write_recipe(unikraft.emit(facts), tmp_path)
    image, _ = docker_client.images.build(
        path=str(recipe), dockerfile="Dockerfile", network_mode="host", rm=True, forcerm=True
    )
    try:
        # the scratch image holds only what the recipe copied: far smaller than the original
        original = docker_client.images.get(facts.image_reference).attrs["Size"]
        assert image.attrs["Size"] <= original
        cid = _run_like_kraft(image.id, yaml.safe_load((recipe / "Kraftfile").read_text()))
        try:
            assert body in probe_http(cid, port)
        finally:
            subprocess.run([engine.DOCKER, "rm", "-f", cid], capture_output=True)
    finally:
        docker_client.images.remove(image.id, force=True)
