"""The hardened-container fallback: the emitted run.sh really runs each app under the real engine
with exactly the emitted options (read-only root, tmpfs, dropped capabilities, no-new-privileges,
the trace's seccomp profile) and the app answers a probe; compose.yaml says the same thing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import engine
from tests.support.realfacts import facts_for, probe_http, write_recipe
from transpile.model.conversion import ConversionFacts
from transpile.targets import container

pytestmark = pytest.mark.engine

CASES = [
    ("python-http", 8000, "hello from python"),
    ("nginx", 80, "Welcome to nginx"),
    ("forking-server", 8080, "hello, dockuni"),
]


def _inspect(cid: str) -> dict[str, Any]:
    out = subprocess.run([engine.DOCKER, "inspect", cid], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)[0]
    assert isinstance(info, dict)
    return info


@pytest.mark.parametrize(("name", "port", "body"), CASES)
def test_run_sh_runs_the_app_hardened(name: str, port: int, body: str, tmp_path: Path) -> None:
    facts = facts_for(name)
    recipe = container.emit(facts)
    out = write_recipe(recipe, tmp_path)
    env = {**os.environ, "DOCKER": engine.DOCKER}
    # the tests' engine has no bridge: --network none, probed from a container sharing the netns
    started = subprocess.run(
        [str(out / "run.sh"), "-d", "--network", "none"], env=env, capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    try:
        assert body in probe_http(cid, port)
        host = _inspect(cid)["HostConfig"]
        opts = container.options(facts)
        assert host["ReadonlyRootfs"] is opts.read_only
        assert set(host.get("Tmpfs") or {}) == set(opts.tmpfs)
        assert host["CapDrop"] == ["ALL"]
        assert sorted(host["CapAdd"] or []) == sorted(opts.cap_add)
        assert "no-new-privileges" in host["SecurityOpt"]
        seccomp = [s for s in host["SecurityOpt"] if s.startswith("seccomp=")]
        assert len(seccomp) == 1
        # the daemon stores the profile's content: it is exactly the emitted seccomp.json
        assert json.loads(seccomp[0].removeprefix("seccomp=")) == json.loads(
            (out / "seccomp.json").read_text()
        )
    finally:
        subprocess.run([engine.DOCKER, "rm", "-f", cid], capture_output=True)


def test_decisions_rest_on_the_trace() -> None:
    nginx = container.options(facts_for("nginx"))
    assert nginx.read_only and set(nginx.tmpfs) == {"/run", "/var/lib/nginx"}  # logs go to stdout
    assert {"CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE"} <= set(nginx.cap_add)
    python = container.options(facts_for("python-http"))
    assert python.read_only and python.tmpfs == () and python.cap_add == ()
    assert python.publish == ((8000, "tcp"),)
    forking = container.options(facts_for("forking-server"))
    assert forking.cap_add == () and forking.network == ""


def test_seccomp_profile_is_trace_derived_and_smaller_than_docker_default() -> None:
    facts = facts_for("python-http")
    profile = json.loads(dict(container.emit(facts).files)["seccomp.json"])
    allowed = set(profile["syscalls"][0]["names"])
    assert facts.trace is not None and facts.trace.syscall_names <= allowed
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    default = Path(__file__).resolve().parents[2] / "transpile" / "data" / "docker-default-allowed.txt"
    docker_default = [
        ln for ln in default.read_text().split("\n\n")[0].splitlines() if ln and not ln.startswith("#")
    ]
    assert len(allowed) < len(docker_default) / 2


def test_seccomp_pass_profile_wins(tmp_path: Path) -> None:
    import dataclasses

    facts = facts_for("static-server")
    given = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
    recipe = container.emit(dataclasses.replace(facts, seccomp_profile=given))
    assert json.loads(dict(recipe.files)["seccomp.json"]) == given


def _compose(facts: ConversionFacts) -> dict[str, Any]:
    doc = yaml.safe_load(dict(container.emit(facts).files)["compose.yaml"])
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("name", ["python-http", "nginx", "forking-server"])
def test_compose_matches_run_sh(name: str) -> None:
    facts = facts_for(name)
    opts = container.options(facts)
    (service,) = _compose(facts)["services"].values()
    assert service["image"] == facts.image_reference
    assert service["read_only"] is opts.read_only
    assert set(service.get("tmpfs", [])) == set(opts.tmpfs)
    assert service["cap_drop"] == ["ALL"]
    assert service.get("cap_add", []) == list(opts.cap_add)
    assert service["security_opt"] == ["no-new-privileges:true", "seccomp:./seccomp.json"]
    assert service["ports"] == [f"{p}:{p}" for p, _ in opts.publish]
    run_sh = dict(container.emit(facts).files)["run.sh"].decode()
    for port, _ in opts.publish:
        assert f"-p {port}:{port}" in run_sh


def test_no_trace_means_no_read_only_and_docker_default_seccomp() -> None:
    import dataclasses

    real = facts_for("python-http")
    facts = dataclasses.replace(real, trace=None, seccomp_profile=None)
    opts = container.options(facts)
    assert not opts.read_only and not opts.seccomp
    assert opts.publish == ((8000, "tcp"),)  # from EXPOSE
    assert "seccomp.json" not in dict(container.emit(facts).files)
