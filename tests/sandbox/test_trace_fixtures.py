"""Real traces of the fixture images: what the sandbox records for known applications."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from transpile.image import AcquiredImage
from transpile.sandbox import TraceFacts, TraceOptions, run_trace

pytestmark = pytest.mark.engine

OPTS = TraceOptions(duration_s=10.0)


@pytest.fixture(scope="module")
def traced(unpacked: Callable[[str], AcquiredImage]) -> Callable[[str], TraceFacts]:
    cache: dict[str, TraceFacts] = {}

    def get(name: str) -> TraceFacts:
        if name not in cache:
            img = unpacked(name)
            cache[name] = run_trace(img.rootfs, img.config, OPTS)
        return cache[name]

    return get


def _http_ok(facts: TraceFacts, port: int) -> bool:
    return any(p["kind"] == "http" and p["ok"] and p["target"].endswith(f":{port}") for p in facts.probes)


def test_python_http(traced: Callable[[str], TraceFacts]) -> None:
    facts = traced("python-http")
    assert facts.argv == ("python3", "-m", "http.server", "8000")
    assert facts.execs[0] == facts.argv and facts.extra["exec_path"] == "/usr/bin/python3"
    assert facts.listening_ports == (8000,)
    assert _http_ok(facts, 8000)
    # stopped by us with the default SIGTERM, which python does not handle
    assert facts.exit_reason == "stopped" and facts.extra["killed_by"] == "SIGTERM"
    names = facts.syscall_names
    assert {"execve", "socket", "bind", "listen", "accept4", "openat", "mmap"} <= names
    assert facts.syscalls[0][0] == "execve"  # first-call order, sandbox set-up excluded
    assert "pivot_root" not in names and "prctl" not in names  # our helper's calls are not counted
    files = {f.path for f in facts.files if f.found}
    assert "/usr/lib/python3.11/http/server.py" in files
    assert "/srv" in files or any(f.startswith("/srv/") for f in files)  # WORKDIR, where it serves from
    assert any(not f.found for f in facts.files)  # python probes many paths that do not exist
    # the HTTP probe made http.server import more modules: extension modules come through dlopen
    assert any("lib-dynload" in d for d in facts.dlopened)
    assert not any(d.endswith("libc.so.6") for d in facts.dlopened)  # loaded by ld.so at start-up
    sock = [s for s in facts.sockets if s.listening]
    assert (
        sock
        and sock[0].family == "AF_INET"
        and sock[0].type == "SOCK_STREAM"
        and sock[0].bound == "0.0.0.0:8000"
    )


def test_static_server(traced: Callable[[str], TraceFacts]) -> None:
    facts = traced("static-server")
    assert facts.listening_ports == (8080,) and _http_ok(facts, 8080)
    assert len(facts.processes) == 1 and facts.dlopened == ()
    # a static binary: no loader, no library opened
    assert not any(f.path.endswith(".so.6") for f in facts.files)
    assert len(facts.syscalls) < 30


def test_forking_server_children_are_processes(traced: Callable[[str], TraceFacts]) -> None:
    facts = traced("forking-server")
    assert _http_ok(facts, 8080)
    children = [p for p in facts.processes if p.parent == facts.processes[0].pid]
    assert children, "each connection is served in a forked child"
    assert all(not c.is_thread and "CLONE_THREAD" not in c.clone_flags for c in children)
    assert any("created" in f and "child process" in f for f in facts.findings)


def test_shell_script_entrypoint_execs(traced: Callable[[str], TraceFacts]) -> None:
    facts = traced("shell-script")
    programs = [e[0] for e in facts.execs]
    assert programs[0] == "/usr/local/bin/start.sh"
    assert "mkdir" in programs and programs[-1] == "python3"
    assert facts.listening_ports == (8000,) and _http_ok(facts, 8000)
    assert any(f.path == "/tmp/www/index.html" and f.write for f in facts.files)


def test_nginx_master_and_workers_stop_on_sigquit(traced: Callable[[str], TraceFacts]) -> None:
    facts = traced("nginx")
    assert facts.listening_ports == (80,) and _http_ok(facts, 80)
    procs = [p for p in facts.processes if not p.is_thread]
    assert len(procs) >= 2  # master + worker(s)
    assert "SIGQUIT" in facts.signals  # the image's STOPSIGNAL
    assert facts.exit_reason == "stopped" and facts.exit_status == 0
