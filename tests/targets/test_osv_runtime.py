"""OSv's runtime: usr.manifest and the command line (unit), and real image builds and boots (vm)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import engine
from tests.support.kernels import image_payload, kernel_dir
from transpile.runtime.payload import Payload
from transpile.targets.osv import runtime as osv_runtime

TIMEOUT = 120.0


@pytest.mark.unit
def test_manifest_maps_libraries_under_usr_lib_and_leaves_out_osv_s_own(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    p = Payload(
        files=(
            ("/usr/bin/python3.11", f),
            ("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", f),
            ("/usr/lib/x86_64-linux-gnu/libc.so.6", f),
            ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", f),
        ),
        symlinks=(
            ("/usr/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.2.13"),
            ("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
            ("/lib", "usr/lib"),
        ),
        argv=("/usr/bin/python3.11", "-m", "http.server"),
    )
    lines = osv_runtime.usr_manifest(p, tmp_path / "empty").splitlines()
    assert f"/usr/lib/libz.so.1.2.13: {f}" in lines
    assert "/usr/lib/libz.so.1: ->/usr/lib/x86_64-linux-gnu/libz.so.1.2.13" in lines
    assert "/lib: ->usr/lib" in lines
    assert not [ln for ln in lines if "libc.so.6" in ln or "ld-linux" in ln]


@pytest.mark.unit
def test_command_line_env_and_cwd(tmp_path: Path) -> None:
    p = Payload(files=(), argv=("/httpd", "-p", "8080"), env=(("A", "b c"),), workdir="/srv")
    assert osv_runtime.command_line(p) == '"--env=A=b c" --cwd=/srv /httpd -p 8080'


@pytest.mark.vm
def test_static_pie_server_answers(tmp_path: Path) -> None:
    tag = engine.fixture_image("server-variants")
    with image_payload(tag, ["/usr/local/bin/httpd-static-pie", "-p", "8080"], [8080]) as p:
        res = osv_runtime.boot(p, kernel_dir("osv"), tmp_path, timeout=TIMEOUT)
    assert res.status == "answered", res.detail
    assert res.detail == "8080: HTTP/1.0 200 OK"
    assert not list((kernel_dir("osv") / "osv" / "apps").glob("dockuni-*"))  # no module left behind


@pytest.mark.vm
def test_python_http_server_answers(tmp_path: Path) -> None:
    tag = engine.fixture_image("python-http")
    argv = ["/usr/bin/python3", "-m", "http.server", "8000"]
    with image_payload(tag, argv, [8000], trees=["/usr/lib/python3.11", "/srv"], workdir="/srv",
                       closures_under="/usr/lib/python3.11/lib-dynload",
                       memory_mib=512) as p:
        res = osv_runtime.boot(p, kernel_dir("osv"), tmp_path, timeout=180)
    assert res.status == "answered", res.detail
