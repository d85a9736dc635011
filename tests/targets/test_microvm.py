"""The microvm target end to end on real fixture images: emit (pure), initramfs, and real QEMU boots
(TCG here) of Debian's stock kernel that must answer GET / through the forwarded port."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import engine
from tests.support.microvm import Prepared, cpio_list, prepared, write_recipe
from transpile.runtime import linuxvm
from transpile.runtime import qemu as vm
from transpile.targets import microvm, qemu

pytestmark = pytest.mark.vm

BOOT_TIMEOUT = 90.0  # seconds; a TCG boot of the stock kernel reaches /init in ~4-6 s


def _qemu_running_with(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline and marker.encode() in cmdline:
            pids.append(int(proc.name))
    return pids


@pytest.fixture(scope="module")
def static_server() -> Iterator[Prepared]:
    with prepared(engine.fixture_image("static-server"), trace=False) as p:
        yield p


def test_emit_is_pure_and_complete(static_server: Prepared, tmp_path: Path) -> None:
    r1 = microvm.emit(static_server.facts)
    r2 = microvm.emit(static_server.facts)
    assert r1 == r2
    names = [p for p, _ in r1.files]
    assert names == sorted(names)
    assert set(names) == {
        "build-kernel.sh",
        "init.c",
        "kernel.config",
        "microvm.json",
        "run.sh",
        "vm_config.json",
    }
    out = write_recipe(r1, tmp_path / "r")
    for script in ("run.sh", "build-kernel.sh"):
        subprocess.run(["sh", "-n", str(out / script)], check=True)
    spec = json.loads((out / "microvm.json").read_text())
    assert spec["program"] == "/httpd" and spec["argv"] == ["/httpd", "-p", "8080"]
    assert "/httpd" in spec["files"] and spec["ports"] == [8080]
    assert "hostfwd=tcp:127.0.0.1:8080-:8080" in (out / "run.sh").read_text()
    fc = json.loads((out / "vm_config.json").read_text())
    assert fc["boot-source"]["initrd_path"] == "initramfs.cpio"
    assert fc["boot-source"]["kernel_image_path"] == "vmlinux"
    assert fc["machine-config"]["vcpu_count"] == 1
    assert fc["network-interfaces"][0]["host_dev_name"] == "tap0"
    assert any("lupine-general" in n for n in r1.notes)
    assert any("minimal reaper" in n for n in r1.notes)


def test_static_server_boots_on_the_stock_kernel(static_server: Prepared, tmp_path: Path) -> None:
    out = write_recipe(microvm.emit(static_server.facts), tmp_path / "recipe")
    res = qemu.verify(out, static_server.rootfs, timeout=BOOT_TIMEOUT)
    assert res.ok, res.console
    assert res.accel in ("tcg", "kvm") and res.machine == "pc"
    assert res.replies[0][0] == 8080 and res.replies[0][1].startswith("HTTP/1.0 200")
    assert res.boot_to_init_s is not None and res.boot_to_reply_s is not None
    assert 0 < res.boot_to_init_s < res.boot_to_reply_s
    assert "dockuni-init[" in res.console and "exec /httpd" in res.console
    assert _qemu_running_with(str(out)) == []
    # the initramfs holds the server, the init and its config, nothing else from the image
    listing = cpio_list((out / "initramfs.cpio").read_bytes())
    assert set(listing) == {
        ".dockuni",
        ".dockuni/init.conf",
        "dev",
        "dev/console",
        "httpd",
        "init",
        "proc",
        "sys",
        "tmp",
    }


def test_missing_program_fails_fast_with_the_console_log(static_server: Prepared, tmp_path: Path) -> None:
    out = write_recipe(microvm.emit(static_server.facts), tmp_path / "recipe")
    spec = json.loads((out / "microvm.json").read_text())
    spec["files"] = [f for f in spec["files"] if f != "/httpd"]  # a closure that lost the program
    (out / "microvm.json").write_text(json.dumps(spec))
    res = qemu.verify(out, static_server.rootfs, timeout=BOOT_TIMEOUT)
    assert not res.ok
    assert res.boot_to_reply_s is None and res.replies == ()
    assert "stopped before the app answered" in res.reason  # the init rebooted: no waiting for the timeout
    assert "exec /httpd: No such file or directory" in res.console
    assert "app exited: 127" in res.console
    assert _qemu_running_with(str(out)) == []


def test_probe_timeout_is_bounded(static_server: Prepared, tmp_path: Path) -> None:
    """An app that never answers: verify gives up at its deadline and kills QEMU."""
    out = write_recipe(microvm.emit(static_server.facts), tmp_path / "recipe")
    spec = json.loads((out / "microvm.json").read_text())
    spec["argv"] = ["/httpd", "-p", "9999"]  # listens, but not on the exposed port
    (out / "microvm.json").write_text(json.dumps(spec))
    res = qemu.verify(out, static_server.rootfs, timeout=20)
    assert not res.ok and res.reason == "no reply within 20 s"
    assert "listening on 9999" in res.console
    assert _qemu_running_with(str(out)) == []


def test_python_http_answers_get(tmp_path: Path) -> None:
    with prepared(engine.fixture_image("python-http"), trace=True) as p:
        assert p.facts.trace is not None and 8000 in p.facts.trace.listening_ports
        recipe = microvm.emit(p.facts)
        out = write_recipe(recipe, tmp_path / "recipe")
        res = qemu.verify(out, p.rootfs, timeout=BOOT_TIMEOUT)
        stdlib = sum(f.stat().st_size for f in (p.rootfs / "usr/lib/python3.11").rglob("*") if f.is_file())
    assert res.ok, res.console
    assert res.replies == ((8000, "HTTP/1.0 200 OK"),)
    assert "exec /usr/bin/python3 (workdir /srv)" in res.console
    listing = cpio_list((out / "initramfs.cpio").read_bytes())
    assert "usr/lib/python3.11/http/server.py" in listing and "srv/index.html" in listing
    assert "usr/lib/python3.11/tkinter/__init__.py" not in listing  # only what the trace saw
    assert (out / "initramfs.cpio").stat().st_size < stdlib
    kernel_cfg = (out / "kernel.config").read_text()
    assert "CONFIG_INET=y" in kernel_cfg and "CONFIG_FUTEX=y" in kernel_cfg


def test_kvm_probe_or_forced_accel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKUNI_ACCEL", "tcg")
    vm.detect_accel.cache_clear()
    assert vm.detect_accel() == "tcg"
    vm.detect_accel.cache_clear()


def test_vmlinux_extracted_from_the_stock_bzimage(tmp_path: Path) -> None:
    k = linuxvm.stock_kernel()
    v = linuxvm.vmlinux_for(k.path, tmp_path)
    head = v.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[4] == 2  # ELFCLASS64
    assert v.stat().st_size > k.path.stat().st_size
    assert shutil.which("qemu-system-x86_64")
