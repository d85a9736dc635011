"""The seccomp pass: TraceFacts -> Docker profile (pure; the engine-backed proof is in tests/sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from transpile.model.trace import TraceFacts
from transpile.passes.seccomp import NEVER_ALLOW, RUNC_INIT_SYSCALLS, profile_stats, seccomp_profile

pytestmark = pytest.mark.engine

DOCKER_DEFAULT = Path(__file__).resolve().parents[2] / "transpile" / "data" / "docker-default-allowed.txt"

# The part of Docker's profile format (moby profiles/seccomp/seccomp.go) this pass emits.
SCHEMA = {
    "type": "object",
    "required": ["defaultAction", "syscalls"],
    "properties": {
        "defaultAction": {"enum": ["SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"]},
        "defaultErrnoRet": {"type": "integer"},
        "archMap": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["architecture"],
                "properties": {"architecture": {"type": "string"}, "subArchitectures": {"type": "array"}},
            },
        },
        "syscalls": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["names", "action"],
                "properties": {
                    "names": {"type": "array", "items": {"type": "string"}},
                    "action": {"type": "string"},
                },
            },
        },
    },
}


def facts(*names: str) -> TraceFacts:
    return TraceFacts(
        argv=("/app",), duration_s=1.0, exit_reason="stopped", exit_status=None, processes=(),
        syscalls=tuple((n, 1) for n in names), files=(), execs=(), dlopened=(), sockets=(), signals=(),
        listening_ports=(),
    )  # fmt: skip


def allowed(profile: dict[str, object]) -> set[str]:
    rules = profile["syscalls"]
    assert isinstance(rules, list)
    return {n for r in rules if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}


def test_deny_by_default_x86_64_only() -> None:
    p = seccomp_profile(facts("read", "write"))
    jsonschema.validate(p, SCHEMA)
    assert p["defaultAction"] == "SCMP_ACT_ERRNO" and p["defaultErrnoRet"] == 1
    assert p["archMap"] == [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}]
    json.dumps(p)  # plain JSON


def test_observed_plus_runtime_and_nothing_else() -> None:
    p = seccomp_profile(facts("accept4", "epoll_wait", "read"))
    assert allowed(p) == {"accept4", "epoll_wait", "read"} | set(RUNC_INIT_SYSCALLS)
    assert p["syscalls"][0]["names"] == sorted(p["syscalls"][0]["names"])  # stable output


def test_runtime_set_is_what_runc_needs() -> None:
    # runc's init runs these after the filter is loaded (see the module doc and test_seccomp_real)
    assert {"execve", "futex", "capset", "setgroups", "fstatfs", "getcwd", "faccessat2"} <= set(
        RUNC_INIT_SYSCALLS
    )
    assert len(set(RUNC_INIT_SYSCALLS)) == len(RUNC_INIT_SYSCALLS)
    assert not {"mount", "ptrace", "unshare", "setns", "bpf"} & set(RUNC_INIT_SYSCALLS)


def test_drop_extra_and_never_allow() -> None:
    p = seccomp_profile(facts("socket", "ptrace", "reboot"), extra=("uname",), drop=("socket",))
    names = allowed(p)
    assert "uname" in names and "socket" not in names
    assert not names & NEVER_ALLOW


def test_smaller_than_dockers_default() -> None:
    default = [
        ln.split()[0]
        for ln in DOCKER_DEFAULT.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    p = seccomp_profile(facts("read", "write", "accept4", "socket", "bind", "listen"))
    stats = profile_stats(p, default)
    assert stats["docker_default"] > 300
    assert stats["allowed"] == len(allowed(p))
    assert stats["removed_vs_default"] > 250 and stats["not_in_default"] == 0
