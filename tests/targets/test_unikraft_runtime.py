"""Unikraft's runtime: the loader's command line and initrd (unit), and real boots of fixture servers
on app-elfloader built from the pinned sources (vm)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import engine
from tests.support.kernels import image_payload, kernel_dir
from tests.support.microvm import cpio_list
from transpile.errors import DockuniError
from transpile.runtime.payload import Payload
from transpile.targets.unikraft import runtime as unikraft_runtime

TIMEOUT = 60.0


def _pids_of_qemu_with(marker: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"qemu-system.*{marker}"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.mark.unit
def test_cmdline_carries_network_env_and_argv(tmp_path: Path) -> None:
    exe = tmp_path / "httpd"
    exe.write_bytes(b"\x7fELF")
    p = Payload(files=(("/httpd", exe),), argv=("/httpd", "-p", "8080"), env=(("GREETING", "hi there"),))
    line = unikraft_runtime.cmdline(p)
    assert line == 'netdev.ip=10.0.2.15/24:10.0.2.2 env.vars=[ "GREETING=hi there" ] -- /httpd -p 8080'
    with pytest.raises(DockuniError, match="double quote"):
        unikraft_runtime.cmdline(Payload(files=(), argv=("/x", 'a"b')))


@pytest.mark.unit
def test_initrd_holds_files_links_and_dirs(tmp_path: Path) -> None:
    exe = tmp_path / "httpd"
    exe.write_bytes(b"\x7fELF-not-really")
    exe.chmod(0o755)
    p = Payload(files=(("/usr/bin/httpd", exe),), symlinks=(("/bin", "usr/bin"),), directories=("/srv",),
                argv=("/bin/httpd",))
    names = cpio_list(unikraft_runtime.initrd(p))
    assert names == ["bin", "srv", "usr", "usr/bin", "usr/bin/httpd"]


@pytest.mark.vm
def test_static_pie_server_answers(tmp_path: Path) -> None:
    tag = engine.fixture_image("server-variants")
    with image_payload(tag, ["/usr/local/bin/httpd-static-pie", "-p", "8080"], [8080]) as p:
        res = unikraft_runtime.boot(p, kernel_dir("unikraft"), tmp_path, timeout=TIMEOUT)
    assert res.status == "answered", res.detail
    assert res.detail == "8080: HTTP/1.0 200 OK"
    assert res.boot_to_reply_s is not None and res.accelerator in ("kvm", "tcg")
    assert "Powered by Unikraft" in res.console_log.read_text()
    assert _pids_of_qemu_with(str(tmp_path)) == []


@pytest.mark.vm
def test_dynamic_pie_server_answers_with_env(tmp_path: Path) -> None:
    tag = engine.fixture_image("server-variants")
    argv = ["/usr/local/bin/httpd-pie", "-p", "8080"]
    with image_payload(tag, argv, [8080], env=[("DOCKUNI_TEST", "a b")]) as p:
        assert "/lib64/ld-linux-x86-64.so.2" in dict(p.symlinks) or any(
            g.endswith("ld-linux-x86-64.so.2") for g, _ in p.files)
        assert any(g.endswith("/libc.so.6") for g, _ in p.files)
        res = unikraft_runtime.boot(p, kernel_dir("unikraft"), tmp_path, timeout=TIMEOUT)
    assert res.status == "answered", res.detail
    console = res.console_log.read_text()
    assert "Unknown or invalid" not in console  # env.vars is a parameter this kernel knows


@pytest.mark.vm
def test_non_pie_is_refused_by_the_loader(tmp_path: Path) -> None:
    tag = engine.fixture_image("server-variants")
    with image_payload(tag, ["/usr/local/bin/httpd-static", "-p", "8080"], [8080]) as p:
        res = unikraft_runtime.boot(p, kernel_dir("unikraft"), tmp_path, timeout=TIMEOUT)
    assert res.status == "failed" and res.boot_to_reply_s is None
    assert "ELF executable is not position-independent" in res.detail
    assert "stopped before the app answered" in res.detail  # no waiting for the deadline
    assert _pids_of_qemu_with(str(tmp_path)) == []
