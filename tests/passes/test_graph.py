"""The facility graph: typed nodes, static/trace evidence on every edge, JSON and DOT writers."""

from __future__ import annotations

import json
import shutil
import subprocess

import networkx as nx
import pytest

from tests.support import convert as cs
from transpile import targets as registry
from transpile.graphview import detail_dot
from transpile.model.chain import ChainStep
from transpile.model.static import ElfObject, StaticEvidence
from transpile.model.trace import FileAccess, ProcessTrace, SocketUse, TraceFacts
from transpile.passes import facilities as fac
from transpile.passes import graph as gr

pytestmark = pytest.mark.engine

KINDS = {"program", "elf", "library", "syscall", "file", "facility", "component"}

STATIC = StaticEvidence(
    argv=("/usr/bin/app",),
    chain=(ChainStep("/usr/bin/app", "/usr/bin/app", "/usr/bin/app", "elf"),),
    objects=(
        ElfObject(
            "/usr/bin/app",
            "program",
            pie=True,
            interpreter="/lib64/ld-linux-x86-64.so.2",
            needed=("/lib/x86_64-linux-gnu/libc.so.6",),
            imports=("socket", "epoll_create1", "fork", "pthread_create", "printf"),
        ),
        ElfObject("/lib/x86_64-linux-gnu/libc.so.6", "library"),
    ),
    stdio_symlinks=(("/var/log/app.log", "/dev/stdout"),),
)

TRACE = TraceFacts(
    argv=("/usr/bin/app",),
    duration_s=1.0,
    exit_reason="stopped",
    exit_status=None,
    processes=(
        ProcessTrace(1, 0, ("/usr/bin/app",), False, "", (("execve", 1), ("socket", 1), ("openat", 3))),
        ProcessTrace(2, 1, (), True, "CLONE_VM|CLONE_THREAD", (("futex", 2),)),
    ),
    syscalls=(("execve", 1), ("socket", 1), ("openat", 3), ("futex", 2)),
    files=(
        FileAccess("/lib/x86_64-linux-gnu/libc.so.6", "open", True),
        FileAccess("/proc/self/maps", "open", True),
        FileAccess("/tmp/cache", "open", True, write=True),
        FileAccess("/etc/missing.conf", "open", False),
    ),
    execs=(("/usr/bin/app",),),
    dlopened=(),
    sockets=(SocketUse("AF_INET6", "SOCK_STREAM", "[::]:80", True),),
    signals=(),
    listening_ports=(80,),
)


def test_symbols_map_to_syscalls() -> None:
    got = fac.syscalls_for_symbols(
        ["fork", "pthread_create", "socket@GLIBC_2.2.5", "printf", "execvp", "syscall"]
    )
    assert got["fork"] == ("fork",)
    assert got["clone3"] == ("pthread_create",) and got["clone"] == ("pthread_create",)
    assert got["socket"] == ("socket",)
    assert got["execve"] == ("execvp",)
    assert "printf" not in got and "syscall" not in got


def test_file_and_socket_facilities() -> None:
    assert fac.facilities_for_file("/proc/self/maps") == ("fs.procfs",)
    assert fac.facilities_for_file("/sys/devices/system/cpu/online") == ("fs.sysfs",)
    assert fac.facilities_for_file("/dev/urandom") == ("fs.devices", "random")
    assert fac.facilities_for_file("/tmp/x", write=True) == ("fs.tmpfs",)
    assert fac.facilities_for_file("/var/lib/x", write=True) == ("fs.write",)
    assert fac.facilities_for_file("/etc/passwd") == ("fs.read",)
    assert fac.facilities_for_socket(SocketUse("AF_INET", "SOCK_STREAM", "0.0.0.0:80", True)) == (
        "network.tcp_server",
    )
    assert fac.facilities_for_socket(SocketUse("AF_INET6", "SOCK_DGRAM", "[::]:53")) == (
        "network.udp",
        "network.ipv6",
    )
    assert fac.facilities_for_socket(SocketUse("AF_UNIX", "SOCK_STREAM", connected_to="/run/x")) == (
        "network.unix",
    )


CAPS = [t.capabilities for t in registry.convertible()]


def test_graph_is_typed_and_every_edge_carries_evidence() -> None:
    g = gr.build_graph(STATIC, TRACE, CAPS)
    assert isinstance(g, nx.DiGraph)
    for _, attrs in g.nodes(data=True):
        assert attrs["kind"] in KINDS
        if attrs["kind"] == "component":
            assert attrs["target"] in registry.names()
    for _, _, attrs in g.edges(data=True):
        assert attrs["evidence"] in ("static", "trace", "both")
        assert attrs["sources"]


def test_static_and_trace_evidence_stay_distinguishable() -> None:
    g = gr.build_graph(STATIC, TRACE, CAPS)
    nodes = g.nodes
    assert nodes["syscall:socket"]["evidence"] == "both"  # imported and called
    assert nodes["syscall:fork"]["evidence"] == "static"  # imported, never called
    assert nodes["syscall:openat"]["evidence"] == "trace"  # called through libc internals
    # the DT_NEEDED edge is confirmed by the trace opening libc
    edge = g.edges["elf:/usr/bin/app", "library:/lib/x86_64-linux-gnu/libc.so.6"]
    assert edge["evidence"] == "both"
    assert any(s.startswith("DT_NEEDED") for s in edge["sources"])
    assert any(s.startswith("trace:") for s in edge["sources"])
    # syscall -> facility edges inherit the syscall's evidence
    assert g.edges["syscall:socket", "facility:network.sockets"]["evidence"] == "both"
    assert g.edges["syscall:fork", "facility:process.fork"]["evidence"] == "static"


def test_chain_reaches_components_of_every_target() -> None:
    g = gr.build_graph(STATIC, TRACE, CAPS)
    assert nx.has_path(g, "program:/usr/bin/app", "facility:fs.procfs")
    assert g.nodes["facility:network.tcp_server"]["evidence"] == "trace"
    assert g.nodes["facility:network.ipv6"]["evidence"] == "trace"
    assert g.nodes["facility:fs.tmpfs"]["evidence"] == "trace"
    assert g.nodes["facility:process.threads"]["evidence"] in ("trace", "both")
    assert "file:/etc/missing.conf" not in g  # a failed open is no need
    targets = {attrs["target"] for _, attrs in g.nodes(data=True) if attrs["kind"] == "component"}
    assert targets == set(registry.names())
    assert g.has_edge("facility:events.epoll", "component:microvm:CONFIG_EPOLL")
    assert g.has_edge("facility:network.tcp_server", "component:unikraft:lib-lwip")
    assert g.has_edge("file:/var/log/app.log", "facility:fs.stdio_symlink")


def test_node_link_json_round_trips_and_is_sorted() -> None:
    g = gr.build_graph(STATIC, TRACE, CAPS)
    text = gr.dumps(g)
    obj = json.loads(text)
    assert [n["id"] for n in obj["nodes"]] == sorted(n["id"] for n in obj["nodes"])
    back = gr.from_node_link(obj)
    assert set(back.nodes) == set(g.nodes) and set(back.edges) == set(g.edges)
    assert gr.dumps(back) == text
    assert gr.dumps(gr.build_graph(STATIC, TRACE, CAPS)) == text  # deterministic


def test_dot_is_accepted_by_graphviz() -> None:
    dot = detail_dot(gr.build_graph(STATIC, TRACE, CAPS), ())
    assert "style=dashed" in dot and "style=solid" in dot and "style=bold" in dot
    exe = shutil.which("dot")
    assert exe is not None, "graphviz is a declared test dependency"
    proc = subprocess.run([exe, "-Tsvg"], input=dot.encode(), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"<svg" in proc.stdout


def test_static_only_graph_has_no_trace_evidence() -> None:
    g = gr.build_graph(STATIC, None)
    assert g.graph["traced"] is False
    assert {attrs["evidence"] for _, _, attrs in g.edges(data=True)} == {"static"}


def test_real_python_http_graph() -> None:
    facts = cs.real_facts("python-http")
    g = gr.build_graph(facts.static, facts.trace)
    libc = "library:/lib/x86_64-linux-gnu/libc.so.6"
    assert libc in g
    assert g.nodes["syscall:socket"]["evidence"] == "both"
    assert g.nodes["facility:network.tcp_server"]["evidence"] in ("trace", "both")
    assert any(e == "both" for _, _, e in g.edges(data="evidence"))
    assert any(e == "static" for _, _, e in g.edges(data="evidence"))
    assert any(e == "trace" for _, _, e in g.edges(data="evidence"))
    # served files were traced: the page in WORKDIR
    assert "file:/srv/index.html" in g or "file:/srv" in g
