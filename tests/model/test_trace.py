"""TraceFacts as data: JSON round trip of every field, old JSON still loads, the derived call classes."""

from __future__ import annotations

import json

import pytest

from transpile.model.trace import FileAccess, Injection, ProcessTrace, SocketUse, TraceFacts

pytestmark = pytest.mark.unit


def _facts(**over: object) -> TraceFacts:
    base: dict[str, object] = {
        "argv": ("/srv",),
        "duration_s": 3.5,
        "exit_reason": "stopped",
        "exit_status": None,
        "processes": (ProcessTrace(4, 0, ("/srv",), False, "", (("read", 2),), None, "SIGTERM"),),
        "syscalls": (("openat", 3), ("getppid", 1), ("accept4", 2), ("rt_sigreturn", 1)),
        "files": (
            FileAccess("/sys/devices/system/cpu/online", "open", False, False, "ENOENT", "startup"),
            FileAccess("/etc/shadow", "open", True, False, "EACCES", "startup"),
        ),
        "execs": (("/srv",),),
        "dlopened": (),
        "sockets": (SocketUse("AF_INET", "SOCK_STREAM", "0.0.0.0:80", True),),
        "signals": ("SIGTERM",),
        "listening_ports": (80,),
        "probes": ({"kind": "tcp", "target": "127.0.0.1:80", "ok": True, "detail": "connected"},),
        "outcomes": {
            "startup": {"openat": {"ok": 1, "ENOENT": 1, "EACCES": 1}, "pkey_alloc": {"EINVAL": 1}},
            "serving": {"accept4": {"ok": 1, "interrupted": 1}, "getppid": {"ENOSYS": 1}},
            "shutdown": {"rt_sigreturn": {"ok": 1}, "accept4": {"EINTR": 1}},
        },
        "phase_bounds": {"startup": 10.0, "serving": 20.0, "shutdown": 30.0},
        "injections": (Injection("getppid", error="ENOSYS"), Injection(path="/etc/x")),
        "injected": (("getppid", 1),),
    }
    base.update(over)
    return TraceFacts(**base)  # type: ignore[arg-type]


def test_round_trip_of_every_field() -> None:
    facts = _facts()
    again = TraceFacts.from_json(json.loads(json.dumps(facts.to_json())))
    assert again == facts


def test_old_json_without_the_new_fields_loads() -> None:
    data = _facts().to_json()
    for key in ("outcomes", "phase_bounds", "injections", "injected"):
        del data[key]
    for f in data["files"]:
        del f["error"], f["phase"]
    old = TraceFacts.from_json(data)
    assert old.outcomes == {} and old.phase_bounds == {} and old.injections == () and old.injected == ()
    assert old.files[0] == FileAccess("/sys/devices/system/cpu/online", "open", False)
    assert old.shutdown_only == frozenset() and old.failure_only == frozenset()


def test_call_classes() -> None:
    facts = _facts()
    assert facts.needed_syscalls == {"openat", "pkey_alloc", "accept4", "getppid"}
    assert facts.shutdown_only == {"rt_sigreturn"}
    assert facts.failure_only == {"pkey_alloc", "getppid"}  # accept4 succeeded while serving
    assert facts.tolerated_failures == {"pkey_alloc", "getppid"}
    assert facts.phase_counts()["accept4"] == {"serving": 2, "shutdown": 1}
    assert facts.results(("serving", "shutdown"))["accept4"] == {"ok": 1, "interrupted": 1, "EINTR": 1}


def test_a_run_that_died_tolerates_nothing() -> None:
    died = _facts(exit_reason="exited", exit_status=1)
    assert not died.app_ran and died.tolerated_failures == frozenset()
    assert died.failure_only == {"pkey_alloc", "getppid"}
