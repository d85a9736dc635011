"""The layer cache: a second image on the same base restores the base instead of unpacking it, and the
result is the same root filesystem (whiteouts, sizes and all); what happens to a rootfs later cannot
change the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.layers import E, docker_save, layer
from transpile.image import ImageSource, acquire
from transpile.image.layercache import chain_id, use_layer_cache

pytestmark = pytest.mark.unit

BASE = layer([E("etc/", "dir", mode=0o755), E("etc/os", data="base\n"), E("etc/gone", data="x"),
              E("bin/", "dir", mode=0o755), E("bin/tool", data=b"\x7fELF", mode=0o755),
              E("bin/alias", "hard", "bin/tool")], compress=True)  # fmt: skip


def _tree(root: Path) -> dict[str, tuple[int, bytes | str | None]]:
    out: dict[str, tuple[int, bytes | str | None]] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.lstat()
            data: bytes | str | None = (
                os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else None
            )
            out[str(p.relative_to(root))] = (st.st_mode, data)
    return out


def _image(tmp: Path, name: str, top: list[E]) -> Path:
    return docker_save([BASE, layer(top)], tmp / f"{name}.tar")


def test_second_image_restores_the_base(tmp_path: Path) -> None:
    a = _image(tmp_path, "a", [E("etc/app", data="a\n"), E("etc/.wh.gone")])
    b = _image(tmp_path, "b", [E("etc/app", data="b\n")])
    with acquire(ImageSource("archive", str(b))) as plain:
        expected_b, expected_bytes = _tree(plain.rootfs), plain.image_bytes
    with use_layer_cache(tmp_path / "cache") as cache:
        with acquire(ImageSource("archive", str(a))) as img_a:
            assert not (img_a.rootfs / "etc" / "gone").exists()
            (img_a.rootfs / "etc" / "os").write_text("changed by a later run\n")
        assert (cache.applied, cache.reused) == (2, 0)
        with acquire(ImageSource("archive", str(b))) as img_b:
            assert (cache.applied, cache.reused) == (3, 1)  # only b's own layer was unpacked
            assert _tree(img_b.rootfs) == expected_b
            assert img_b.image_bytes == expected_bytes
            assert (img_b.rootfs / "etc" / "os").read_text() == "base\n"
            bin_dir = img_b.rootfs / "bin"
            assert os.stat(bin_dir / "alias").st_ino == os.stat(bin_dir / "tool").st_ino


def test_no_cache_outside_the_context(tmp_path: Path) -> None:
    a = _image(tmp_path, "a", [E("etc/app", data="a\n")])
    with use_layer_cache(tmp_path / "cache"):
        pass
    with acquire(ImageSource("archive", str(a))):
        pass
    assert not (tmp_path / "cache").exists()


def test_chain_id_follows_the_image_spec() -> None:
    import hashlib

    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_id([a]) == a
    assert chain_id([a, b]) == "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
