"""Nanos' runtime: the manifest (unit; checked by Nanos' own mkfs when built) and real boots (vm)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import engine
from tests.support.kernels import image_payload, kernel_dir
from transpile.runtime.payload import Payload
from transpile.targets.nanos import runtime as nanos_runtime

TIMEOUT = 90.0


@pytest.mark.unit
def test_manifest_one_entry_per_file_and_links(tmp_path: Path) -> None:
    exe = tmp_path / "httpd"
    exe.write_bytes(b"x")
    p = Payload(
        files=(("/usr/bin/httpd", exe),),
        symlinks=(("/bin", "usr/bin"),),
        directories=("/srv",),
        argv=("/bin/httpd", "-p", "8080"),
        env=(("A", 'say "hi"'),),
        workdir="/srv",
    )
    m = nanos_runtime.manifest(p)
    assert f'"usr":(children:("bin":(children:("httpd":(contents:(host:"{exe}"))))))' in m
    assert '"bin":(linktarget:"usr/bin")' in m and '"srv":(children:())' in m
    assert 'program:"/bin/httpd"' in m and 'arguments:["/bin/httpd" "-p" "8080"]' in m
    assert 'environment:("A":"say \\"hi\\"")' in m and 'cwd:"/srv"' in m


@pytest.mark.vm
def test_mkfs_accepts_the_manifest(tmp_path: Path) -> None:
    exe = tmp_path / "odd name (1)"
    exe.write_bytes(b"payload")
    p = Payload(files=(("/data/odd name (1)", exe),), symlinks=(("/d", "data"),),
                argv=("/data/odd name (1)",))
    img = nanos_runtime.make_image(p, kernel_dir("nanos"), tmp_path / "disk.img")
    assert img.stat().st_size > 0
    assert b"payload" in img.read_bytes()


@pytest.mark.vm
def test_static_pie_server_answers(tmp_path: Path) -> None:
    tag = engine.fixture_image("server-variants")
    with image_payload(tag, ["/usr/local/bin/httpd-static-pie", "-p", "8080"], [8080]) as p:
        res = nanos_runtime.boot(p, kernel_dir("nanos"), tmp_path, timeout=TIMEOUT)
    assert res.status == "answered", res.detail
    assert res.detail == "8080: HTTP/1.0 200 OK"
    out = subprocess.run(["pgrep", "-f", f"qemu-system.*{tmp_path}"], capture_output=True, text=True)
    assert out.stdout == ""


@pytest.mark.vm
def test_python_http_server_answers(tmp_path: Path) -> None:
    tag = engine.fixture_image("python-http")
    argv = ["/usr/bin/python3", "-m", "http.server", "8000"]
    with image_payload(tag, argv, [8000], trees=["/usr/lib/python3.11", "/srv"], workdir="/srv",
                       closures_under="/usr/lib/python3.11/lib-dynload",
                       env=[("PATH", "/usr/local/bin:/usr/bin:/bin")], memory_mib=512) as p:
        res = nanos_runtime.boot(p, kernel_dir("nanos"), tmp_path, timeout=180)
    assert res.status == "answered", res.detail
    assert res.detail == "8000: HTTP/1.0 200 OK"
