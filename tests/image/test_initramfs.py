"""The newc writer and rootfs collection, checked with GNU cpio reading the archives back."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import engine
from tests.support.microvm import cpio_list
from transpile.image import initramfs

pytestmark = pytest.mark.engine

CPIO = shutil.which("cpio")


def cpio_extract(archive: bytes, dest: Path) -> None:
    assert CPIO
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [CPIO, "-i", "-d", "--quiet", "--no-absolute-filenames", "-D", str(dest)],
        input=archive,
        check=True,
        capture_output=True,
    )


@pytest.fixture()
def merged_usr_root(tmp_path: Path) -> Path:
    """A Debian-like layout: /lib -> usr/lib, an absolute-symlinked loader, links that try to escape."""
    root = tmp_path / "root"
    (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    (root / "usr/bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "lib").symlink_to("usr/lib")
    (root / "lib64").mkdir()
    (root / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").write_bytes(b"\x7fELF loader")
    (root / "lib64/ld-linux-x86-64.so.2").symlink_to("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    (root / "usr/lib/x86_64-linux-gnu/libc.so.6").write_bytes(b"\x7fELF libc" * 100)
    (root / "usr/bin/app").write_bytes(b"\x7fELF app")
    (root / "usr/bin/app").chmod(0o755)
    (root / "etc/app.conf").write_text("listen 80\n")
    # escapes: both must stay inside the root (and find nothing there)
    (root / "etc/escape-abs").symlink_to("/etc/hostname")
    (root / "etc/escape-rel").symlink_to("../../../../../../etc/hostname")
    (root / "etc/loop").symlink_to("loop")
    os.utime(root / "etc/app.conf", (1_600_000_000, 1_600_000_000))
    return root


def test_archive_is_byte_identical_twice_and_lists_back(merged_usr_root: Path) -> None:
    paths = [
        "/usr/bin/app",
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/etc/app.conf",
    ]
    entries1, missing1 = initramfs.collect(merged_usr_root, paths)
    entries2, missing2 = initramfs.collect(merged_usr_root, list(reversed(paths)))
    a, b = initramfs.newc(entries1), initramfs.newc(entries2)
    assert a == b
    assert missing1 == missing2 == ()
    names = cpio_list(a)
    assert names == sorted(names)
    assert {
        "lib",
        "lib64/ld-linux-x86-64.so.2",
        "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "usr/bin/app",
        "etc/app.conf",
    } <= set(names)
    # exactly what was asked for, plus the directories and symlinks on the way
    assert "etc/escape-abs" not in names and "usr/lib/x86_64-linux-gnu/libm.so.6" not in names


def test_extracted_tree_matches_the_image(merged_usr_root: Path, tmp_path: Path) -> None:
    entries, _ = initramfs.collect(
        merged_usr_root, ["/usr/bin/app", "/lib64/ld-linux-x86-64.so.2", "/etc/app.conf"]
    )
    out = tmp_path / "out"
    cpio_extract(initramfs.newc(entries), out)
    assert os.readlink(out / "lib") == "usr/lib"
    assert os.readlink(out / "lib64/ld-linux-x86-64.so.2") == "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert (out / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").read_bytes() == b"\x7fELF loader"
    assert stat.S_IMODE((out / "usr/bin/app").stat().st_mode) == 0o755
    assert (out / "etc/app.conf").read_text() == "listen 80\n"


def test_symlinks_never_leave_the_root(merged_usr_root: Path) -> None:
    entries, missing = initramfs.collect(merged_usr_root, ["/etc/escape-abs", "/etc/escape-rel", "/etc/loop"])
    assert set(missing) == {"/etc/escape-abs", "/etc/escape-rel", "/etc/loop"}
    # the links themselves are recorded, nothing from the host's /etc is
    assert all(e.kind == "symlink" for e in entries)
    assert all(b"hostname" in e.data or e.data == b"loop" for e in entries)


def test_header_fields_are_fixed(merged_usr_root: Path) -> None:
    entries, _ = initramfs.collect(merged_usr_root, ["/etc/app.conf"])
    archive = initramfs.newc([*entries, initramfs.chardev("dev/console", 5, 1)])
    assert archive.startswith(b"070701")
    assert len(archive) % 4 == 0
    out = subprocess.run([CPIO, "-tv", "--quiet"], input=archive, capture_output=True, check=True)  # type: ignore[list-item]
    lines = out.stdout.decode().splitlines()
    console = next(line for line in lines if line.endswith("dev/console"))
    assert console.startswith("crw-------") and "5,   1" in console
    conf = next(line for line in lines if line.endswith("etc/app.conf"))
    assert " root " in conf and "2020" in conf  # uid 0 and the image file's own mtime
    directory = next(line for line in lines if line.endswith(" etc"))
    assert "1970" in directory  # directories get mtime 0


def test_real_static_server_image(tmp_path: Path) -> None:
    from transpile.image import ImageSource, acquire

    tag = engine.fixture_image("static-server")
    with acquire(ImageSource(kind="image", ref=tag)) as img:
        entries, missing = initramfs.collect(img.rootfs, ["/httpd", "/etc/passwd-not-there"])
        data = (img.rootfs / "httpd").read_bytes()
    assert missing == ("/etc/passwd-not-there",)
    archive = initramfs.newc(entries)
    assert cpio_list(archive) == ["httpd"]
    out = tmp_path / "x"
    cpio_extract(archive, out)
    assert (out / "httpd").read_bytes() == data


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    dest = tmp_path / "a" / "initramfs.cpio"
    initramfs.write_atomic(dest, b"one")
    initramfs.write_atomic(dest, b"two")
    assert dest.read_bytes() == b"two"
    assert [p.name for p in dest.parent.iterdir()] == ["initramfs.cpio"]


def test_init_conf_round_trip_and_nul_rejected() -> None:
    blob = initramfs.init_conf([("env", "A=b c"), ("arg", "")])
    assert blob == b"env\0A=b c\0arg\0\0"
    with pytest.raises(ValueError):
        initramfs.init_conf([("arg", "a\0b")])


def _stock_modules() -> Path:
    from transpile.runtime import linuxvm

    k = linuxvm.stock_kernel()
    assert k.modules_dir is not None, f"modules of {k.release} are not installed"
    return k.modules_dir


def test_module_closure_follows_modules_dep() -> None:
    mods = _stock_modules()
    order = [os.path.basename(m).split(".ko")[0] for m in initramfs.module_closure(mods, ["virtio_net"])]
    assert order[-1] == "virtio_net"
    assert order.index("failover") < order.index("net_failover") < order.index("virtio_net")
    assert order.index("virtio_ring") < order.index("virtio")
    with pytest.raises(KeyError):
        initramfs.module_closure(mods, ["no_such_module_here"])


def test_modules_archive_lists_load_order(tmp_path: Path) -> None:
    archive = initramfs.modules_archive(_stock_modules(), ["e1000"])
    cpio_extract(archive, tmp_path)
    assert (tmp_path / ".dockuni/modules.list").read_text() == "/.dockuni/modules/00-e1000.ko\n"
    assert (tmp_path / ".dockuni/modules/00-e1000.ko").read_bytes()[:4] == b"\x7fELF"


_names = st.lists(
    st.lists(
        st.text("abcxyz_.-", min_size=1, max_size=6).filter(lambda s: s not in (".", "..")),
        min_size=1,
        max_size=3,
    ).map("/".join),
    min_size=1,
    max_size=8,
    unique=True,
)


@settings(max_examples=25, deadline=None)
@given(names=_names, payload=st.binary(max_size=70))
def test_any_tree_lists_back(names: list[str], payload: bytes) -> None:
    entries = [initramfs.regular(n, payload + n.encode()) for n in names]
    archive = initramfs.newc(entries)
    listed = cpio_list(archive)
    files = set(initramfs.with_parents(entries))
    assert listed == sorted(e.name for e in files)
    assert initramfs.newc(reversed(entries)) == archive
