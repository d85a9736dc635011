"""Proof that a trace-derived seccomp profile is enough, and enforced, with the real Docker engine.

For each fixture: trace -> profile -> ``docker run -d --network none --security-opt seccomp=PROFILE``,
then a request from inside the container's network namespace must be answered. The request is made
by the host's Python through ``nsenter --net`` rather than ``docker exec``: an exec'd process runs under
the container's seccomp filter too, so a probe tool's own syscalls would have to be added to the
profile and the proof would no longer be about the app's profile alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import engine
from transpile.image import AcquiredImage
from transpile.passes.seccomp import seccomp_profile
from transpile.sandbox import TraceFacts, TraceOptions, run_trace

pytestmark = pytest.mark.engine

# the fixture, its port, the request and what the answer starts with
APPS = {
    "static-server": (8080, b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.0 200"),
    "python-http": (8000, b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.0 200"),
    "nginx": (80, b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.1 200"),
    "redis": (6379, b"PING\r\n", b"+PONG"),
}

_CLIENT = """
import socket, sys, time
port, request = int(sys.argv[1]), sys.argv[2].encode().decode('unicode_escape').encode('latin-1')
deadline = time.monotonic() + float(sys.argv[3])
while True:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(request)
            sys.stdout.write(s.recv(64).decode("latin-1"))
            break
    except OSError as err:
        if time.monotonic() > deadline:
            sys.stdout.write(f"ERROR {err}")
            break
        time.sleep(0.2)
"""


def _ask_container(cid: str, port: int, request: bytes, wait_s: float = 10.0) -> str:
    """Send ``request`` to 127.0.0.1:PORT in the container's network namespace; return the answer."""
    pid = subprocess.run(
        [engine.DOCKER, "inspect", "-f", "{{.State.Pid}}", cid], capture_output=True, text=True, check=True
    ).stdout.strip()
    if pid in ("", "0"):
        return "ERROR container not running"
    res = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", _CLIENT, str(port),
         request.decode("latin-1").encode("unicode_escape").decode(), str(wait_s)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return res.stdout + res.stderr


@pytest.fixture
def run_container(
    fixture_image: Callable[[str], str], tmp_path: Path
) -> Iterator[Callable[[str, dict[str, object]], str]]:
    started: list[str] = []

    def go(name: str, profile: dict[str, object]) -> str:
        path = tmp_path / f"{name}-seccomp.json"
        path.write_text(json.dumps(profile))
        res = subprocess.run(
            [engine.DOCKER, "run", "-d", "--network", "none", "--security-opt", f"seccomp={path}",
             fixture_image(name)],
            capture_output=True, text=True,
        )  # fmt: skip
        if res.returncode != 0:
            return f"ERROR docker run: {res.stderr.strip()}"
        cid = res.stdout.strip()
        started.append(cid)
        port, request, _ = APPS[name]
        return _ask_container(cid, port, request)

    yield go
    for cid in started:
        subprocess.run([engine.DOCKER, "rm", "-f", cid], capture_output=True)


@pytest.fixture(scope="module")
def traces(unpacked: Callable[[str], AcquiredImage]) -> Callable[[str], TraceFacts]:
    cache: dict[str, TraceFacts] = {}

    def get(name: str) -> TraceFacts:
        if name not in cache:
            img = unpacked(name)
            cache[name] = run_trace(img.rootfs, img.config, TraceOptions(duration_s=10.0))
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(APPS))
def test_derived_profile_serves(
    name: str, traces: Callable[[str], TraceFacts], run_container: Callable[[str, dict[str, object]], str]
) -> None:
    facts = traces(name)
    assert facts.listening_ports, facts.findings
    profile = seccomp_profile(facts)
    answer = run_container(name, profile)
    assert answer.startswith(APPS[name][2].decode()), answer


def test_profile_is_enforced_without_socket(
    traces: Callable[[str], TraceFacts], fixture_image: Callable[[str], str], tmp_path: Path
) -> None:
    """The same profile minus ``socket``: the server cannot create its listening socket and exits.

    Waiting for the container's exit (rather than asking it) leaves no race: a container that exits
    at once would otherwise be gone before a request could be sent.
    """
    profile = seccomp_profile(traces("static-server"), drop=("socket",))
    path = tmp_path / "no-socket.json"
    path.write_text(json.dumps(profile))
    res = subprocess.run(
        [engine.DOCKER, "run", "-d", "--network", "none", "--security-opt", f"seccomp={path}",
         fixture_image("static-server")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    cid = res.stdout.strip()
    try:
        waited = subprocess.run([engine.DOCKER, "wait", cid], capture_output=True, text=True, timeout=60)
        logs = subprocess.run([engine.DOCKER, "logs", cid], capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run([engine.DOCKER, "rm", "-f", cid], capture_output=True)
    assert waited.stdout.strip() == "1"  # the server gave up...
    assert "bind/listen: Bad file descriptor" in logs.stderr  # ...because socket() was refused
    assert "listening on" not in logs.stdout


def test_profile_without_runtime_needs_does_not_start(
    traces: Callable[[str], TraceFacts], fixture_image: Callable[[str], str], tmp_path: Path
) -> None:
    """Without runc's own post-filter syscalls the container cannot even reach the app's execve."""
    profile = seccomp_profile(traces("static-server"), runtime=())
    path = tmp_path / "no-runtime.json"
    path.write_text(json.dumps(profile))
    res = subprocess.run(
        [engine.DOCKER, "run", "--rm", "--network", "none", "--security-opt", f"seccomp={path}",
         fixture_image("static-server")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode != 0
    assert "operation not permitted" in res.stderr.lower()
