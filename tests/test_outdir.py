"""Output locations: refused before any work with one line and exit 2; written atomically, no debris.

The read-only and mount-point cases use real mounts (tmpfs, bind mounts): they need root, as CI runs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from transpile import outdir
from transpile.errors import DockuniError
from transpile.outdir import atomic_output, check_output_location

pytestmark = pytest.mark.unit


def _refused(path: str | Path, force: bool) -> DockuniError:
    with pytest.raises(DockuniError) as info:
        check_output_location(path, force)
    err = info.value
    assert err.exit_code == 2
    assert "\n" not in str(err)
    return err


def _entries(d: Path) -> list[str]:
    return sorted(os.listdir(d))


class Mounts:
    """Mounts made by one test, unmounted (innermost first) when it ends."""

    def __init__(self) -> None:
        self.points: list[Path] = []

    def run(self, *args: str) -> None:
        subprocess.run(["mount", *args], check=True, capture_output=True)

    def tmpfs(self, where: Path, ro: bool = False) -> Path:
        where.mkdir(exist_ok=True)
        self.run("-t", "tmpfs", "-o", "size=4m" + (",ro" if ro else ""), "tmpfs", str(where))
        self.points.append(where)
        return where

    def bind(self, src: Path, where: Path, ro: bool = False) -> Path:
        where.mkdir(exist_ok=True)
        self.run("--bind", str(src), str(where))
        self.points.append(where)
        if ro:
            self.run("-o", "remount,bind,ro", str(where))
        return where


@pytest.fixture
def mounts() -> Iterator[Mounts]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    m = Mounts()
    try:
        yield m
    finally:
        for p in reversed(m.points):
            subprocess.run(["umount", str(p)], check=False, capture_output=True)


# --- check_output_location ---------------------------------------------------------------------------


def test_a_new_directory_in_an_existing_parent_is_accepted(tmp_path: Path) -> None:
    check_output_location(tmp_path / "out", force=False)
    check_output_location(tmp_path / "out", force=True)
    assert _entries(tmp_path) == []  # the writability probe leaves nothing


def test_existing_directory_needs_force(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    err = _refused(tmp_path / "out", force=False)
    assert "exists (use --force to replace it)" in err.message
    check_output_location(tmp_path / "out", force=True)
    assert _entries(tmp_path) == ["out"]


def test_existing_file_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    assert "is not a directory" in _refused(tmp_path / "out", force=True).message


def test_symlink_output_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real")
    assert "symbolic link" in _refused(tmp_path / "out", force=True).message


def test_missing_parent_suggests_mkdir(tmp_path: Path) -> None:
    err = _refused(tmp_path / "no" / "such" / "out", force=True)
    assert err.message.endswith(f"does not exist: mkdir -p {tmp_path / 'no' / 'such'}")
    assert not (tmp_path / "no").exists()


def test_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert "is not a directory" in _refused(tmp_path / "f" / "out", force=False).message


def test_current_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for given in (".", "./", str(work), "../work"):
        err = _refused(given, force=True)
        assert "the output is the current directory" in err.message
        assert err.file == given
    for given in ("..", "/", str(tmp_path)):
        assert "an ancestor of the current directory" in _refused(given, force=True).message
    assert _entries(tmp_path) == ["work"] and _entries(work) == []


@pytest.mark.parametrize("path", ["/proc/x", "/proc/self/out", "/sys/x", "/sys/kernel/out"])
def test_pseudo_filesystems_are_refused(path: str) -> None:
    assert "pseudo filesystem" in _refused(path, force=True).message
    assert not os.path.lexists(path)


def test_read_only_mount_is_refused(tmp_path: Path, mounts: Mounts) -> None:
    ro = mounts.tmpfs(tmp_path / "ro", ro=True)
    err = _refused(ro / "out", force=False)
    assert "read-only filesystem" in err.message


def test_read_only_bind_mount_with_existing_output_is_refused(tmp_path: Path, mounts: Mounts) -> None:
    src = tmp_path / "src"
    (src / "out").mkdir(parents=True)
    ro = mounts.bind(src, tmp_path / "ro", ro=True)
    err = _refused(ro / "out", force=True)
    assert "read-only filesystem" in err.message
    assert _entries(src) == ["out"]


def test_mount_point_with_force_is_refused(tmp_path: Path, mounts: Mounts) -> None:
    mnt = mounts.tmpfs(tmp_path / "mnt")
    (mnt / "old").write_text("x")
    err = _refused(mnt, force=True)
    assert "mount point" in err.message and "-o " in err.message
    assert _entries(tmp_path) == ["mnt"] and _entries(mnt) == ["old"]


def test_bind_mount_of_same_filesystem_is_a_mount_point(tmp_path: Path, mounts: Mounts) -> None:
    # same st_dev as its parent: only the mount table tells
    src = tmp_path / "src"
    src.mkdir()
    mnt = mounts.bind(src, tmp_path / "out")
    assert os.stat(mnt).st_dev == os.stat(tmp_path).st_dev
    assert "mount point" in _refused(mnt, force=True).message


def test_mountinfo_lookup_names_the_filesystem(tmp_path: Path, mounts: Mounts) -> None:
    mnt = mounts.tmpfs(tmp_path / "with space")  # mountinfo escapes the blank as \040
    (mnt / "d").mkdir()
    assert outdir.filesystem_of(os.path.realpath(mnt / "d")) == (os.path.realpath(mnt), "tmpfs")
    assert outdir.filesystem_of("/proc/self") == ("/proc", "proc")


# --- atomic_output -------------------------------------------------------------------------------------


def test_new_output_appears_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_output(out, force=False) as d:
        (d / "report.md").write_text("r")
        assert not out.exists()  # nothing at the output until the end
        assert d.parent == tmp_path
    assert _entries(tmp_path) == ["out"]
    assert (out / "report.md").read_text() == "r"
    assert out.stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_force_replaces_old_output_without_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    if not exchange:  # what a kernel or filesystem without RENAME_EXCHANGE gets
        monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "old").write_text("old")
    (out / "sub").chmod(0o555)  # read-only directories in the old output are removed too
    with atomic_output(out, force=True) as d:
        (d / "new").write_text("new")
    assert _entries(tmp_path) == ["out"]
    assert _entries(out) == ["new"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()], ids=["error", "interrupt"])
def test_failure_keeps_old_output_and_leaves_nothing(tmp_path: Path, exc: BaseException) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("x")
    with pytest.raises(type(exc)), atomic_output(out, force=True) as d:
        (d / "half").write_text("written")
        raise exc
    assert _entries(tmp_path) == ["out"]
    assert _entries(out) == ["keep"]


def test_failure_on_new_output_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_output(tmp_path / "out", force=False) as d:
        (d / "x").mkdir()
        (d / "x").chmod(0o555)
        raise KeyboardInterrupt
    assert _entries(tmp_path) == []


def test_output_that_became_a_mount_point_is_one_line_and_no_debris(tmp_path: Path, mounts: Mounts) -> None:
    # the writer re-checks at the end: a mount point cannot be renamed (EBUSY)
    mnt = mounts.tmpfs(tmp_path / "out")
    (mnt / "old").write_text("x")
    with pytest.raises(DockuniError) as info, atomic_output(mnt, force=True) as d:
        (d / "new").write_text("y")
    assert info.value.exit_code == 2 and "mount point" in info.value.message
    assert _entries(tmp_path) == ["out"] and _entries(mnt) == ["old"]


def test_output_that_appeared_meanwhile_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(DockuniError) as info, atomic_output(out, force=False) as d:
        (d / "new").write_text("y")
        out.mkdir()
    assert "use --force" in info.value.message
    assert _entries(tmp_path) == ["out"] and _entries(out) == []


def test_read_only_parent_at_write_time_is_one_line(tmp_path: Path, mounts: Mounts) -> None:
    ro = mounts.tmpfs(tmp_path / "ro", ro=True)
    with pytest.raises(DockuniError) as info, atomic_output(ro / "out", force=False):
        pytest.fail("the block must not run")
    assert info.value.exit_code == 2 and "Read-only file system" in info.value.message
