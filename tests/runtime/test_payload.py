"""Payloads collected from a real (small, made-here) rootfs: symlinks kept, nothing outside the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from transpile.runtime.payload import Payload, PayloadBuilder


@pytest.mark.unit
def test_builder_follows_links_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/python3.11").write_bytes(b"elf")
    os.symlink("python3.11", root / "usr/bin/python3")
    os.symlink("usr/bin", root / "bin")
    os.symlink("/etc/shadow", root / "usr/bin/escape")  # absolute: resolved inside the root
    (root / "srv").mkdir()
    (root / "srv/index.html").write_text("hi")
    pb = PayloadBuilder(root)
    assert pb.add("/bin/python3")
    assert not pb.add("/usr/bin/escape")
    assert pb.add_tree("/srv")
    p = pb.payload(("/usr/bin/python3", "-m", "http.server"), ports=(8000,), workdir="/srv")
    assert dict(p.files) == {"/usr/bin/python3.11": root / "usr/bin/python3.11",
                             "/srv/index.html": root / "srv/index.html"}
    assert dict(p.symlinks) == {"/bin": "usr/bin", "/usr/bin/python3": "python3.11",
                                "/usr/bin/escape": "/etc/shadow"}
    assert "/srv" in p.directories and pb.missing == ("/usr/bin/escape",)
    assert p.file_bytes() == 5
    assert p.with_memory(512).memory_mib == 512 and p.with_memory(1).memory_mib == 256


@pytest.mark.unit
def test_payload_wants_absolute_paths() -> None:
    with pytest.raises(ValueError):
        Payload(files=(), argv=("httpd",))
    with pytest.raises(ValueError):
        Payload(files=(("rel", Path("/x")),), argv=("/httpd",))
