"""The generic VM runner on real QEMU: accelerator detection, probes, failure details, cleanup."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from transpile.runtime import qemu


@pytest.mark.vm
def test_detect_accel_is_real_or_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    qemu.detect_accel.cache_clear()
    found = qemu.detect_accel()
    assert found in ("kvm", "tcg")
    monkeypatch.setenv("DOCKUNI_ACCEL", "tcg")
    qemu.detect_accel.cache_clear()
    assert qemu.detect_accel() == "tcg"
    qemu.detect_accel.cache_clear()


@pytest.mark.unit
def test_probe_http_and_tcp() -> None:
    srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        line = qemu.probe(srv.server_address[1])
        assert line is not None and line.startswith("HTTP/1.0 200")
    finally:
        srv.shutdown()
        srv.server_close()
    assert qemu.probe(qemu.free_port(), timeout=0.5) is None
    with socket.socket() as s:  # a server that accepts and says nothing: TCP counts, HTTP does not
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert qemu.probe_tcp(s.getsockname()[1]) == "tcp: connection accepted"


@pytest.mark.unit
def test_telling_lines_pick_the_errors() -> None:
    console = "booting\nok\nERR: [appelfloader] x: ELF executable is not position-independent!\nbye\n"
    assert qemu.telling_lines(console) == "ERR: [appelfloader] x: ELF executable is not position-independent!"
    assert qemu.telling_lines("a\nb\nc\nd\n") == "b | c | d"


@pytest.mark.vm
def test_a_vm_that_stops_is_failed_with_its_console(tmp_path: Path) -> None:
    """A guest with nothing to boot: QEMU's BIOS prints and QEMU exits (-no-reboot): failed, fast."""
    log = tmp_path / "console.log"

    def argv(fwd: Sequence[tuple[int, int]], accel: str) -> list[str]:
        net = "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in fwd)
        return [qemu.qemu_binary(), *qemu.accel_args(accel), "-m", "32", "-display", "none",
                "-serial", "stdio", "-monitor", "none", "-no-reboot", "-boot", "order=n",
                "-netdev", f"user,id=n0{net}", "-device", "e1000,netdev=n0,romfile=",
                "-kernel", str(tmp_path / "missing-kernel")]

    res = qemu.boot(argv, [8080], log, timeout=30)
    assert res.status == "failed" and res.boot_to_reply_s is None
    assert res.exit_code not in (None, 0) and "qemu exit" in res.detail
    assert "missing-kernel" in res.detail  # QEMU's own error is the telling line
    assert log.is_file()


@pytest.mark.vm
def test_deadline_kills_the_vm(tmp_path: Path) -> None:
    marker = tmp_path / "idle-marker"

    def argv(fwd: Sequence[tuple[int, int]], accel: str) -> list[str]:
        net = "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in fwd)
        return [qemu.qemu_binary(), *qemu.accel_args(accel), "-m", "32", "-display", "none",
                "-serial", "stdio", "-monitor", "none", "-no-reboot", "-name", str(marker),
                "-netdev", f"user,id=n0{net}", "-device", "e1000,netdev=n0,romfile="]

    res = qemu.boot(argv, [8080], tmp_path / "console.log", timeout=3)
    assert res.status == "failed" and res.detail.startswith("no reply within 3 s")
    out = subprocess.run(["pgrep", "-f", str(marker)], capture_output=True, text=True)
    assert out.stdout == ""
