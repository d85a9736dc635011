"""Hostile layers: every one is refused or neutralised, and nothing lands outside the destination.

Each case runs twice: the layers applied directly to a directory, and the same layers inside a
docker-save tar read by ``acquire``. A sentinel directory next to the destination (and the links that
point at it by absolute host path) must be untouched afterwards. Both run with each path check: the
standard library's ``tarfile.data_filter`` (Python 3.11.4+) and dockuni's own checks, which Pythons
without the filter (Debian bookworm's 3.11.2) use.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.layers import E, docker_save, layer
from transpile.errors import DockuniError
from transpile.image import ExtractLimits, ImageSource, acquire, extract
from transpile.image.extract import ExtractState, UnsafeEntry, apply_layer

pytestmark = pytest.mark.engine

SECRET = b"do not touch"


@dataclass
class Case:
    name: str
    layers: Callable[[str], list[list[E]]]  # sentinel's absolute host path -> layers
    check: Callable[[Path, str], None] = lambda root, s: None  # assertions on the root (and sentinel path)
    limits: ExtractLimits = field(default_factory=ExtractLimits)
    error: bool = False  # the whole image must be refused
    gzip: bool = False


def _absent(*rels: str) -> Callable[[Path, str], None]:
    def check(root: Path, s: str) -> None:
        for rel in rels:
            assert not os.path.lexists(root / rel), rel

    return check


def _is_file(rel: str, data: bytes, mode: int | None = None) -> Callable[[Path, str], None]:
    def check(root: Path, s: str) -> None:
        p = root / rel
        assert p.is_file() and not p.is_symlink(), rel
        assert p.read_bytes() == data
        if mode is not None:
            assert stat.S_IMODE(p.stat().st_mode) == mode

    return check


def _rerooted(rel: str, data: bytes) -> Callable[[Path, str], None]:
    """The entry went to the sentinel's path re-rooted under the image root, not to the sentinel."""
    return lambda root, s: _is_file(s.lstrip("/") + "/" + rel, data)(root, s)


def _no_special(root: Path, s: str = "") -> None:
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            assert not stat.S_ISCHR(st.st_mode) and not stat.S_ISBLK(st.st_mode)
            assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), f


CASES = [
    Case("dotdot-file", lambda s: [[E("../evil", data=b"x")]], _absent("evil")),
    Case("dotdot-middle", lambda s: [[E("a/../../evil", data=b"x")]]),
    Case("absolute-name", lambda s: [[E("/abs/evil", data=b"x")]], _is_file("abs/evil", b"x")),
    Case(
        "absolute-into-sentinel", lambda s: [[E(s + "/secret", data=b"pwned")]], _rerooted("secret", b"pwned")
    ),
    Case(
        "symlink-abs-parent",
        lambda s: [[E("lnk", "sym", s), E("lnk/pwned", data=b"x")]],
        _rerooted("pwned", b"x"),
    ),
    Case(
        "symlink-root-parent",
        lambda s: [[E("root", "sym", "/"), E("root/evil", data=b"x")]],
        _is_file("evil", b"x"),
    ),
    Case(
        "symlink-relative-escape",
        lambda s: [[E("up", "sym", "../../../.."), E("up/pwned", data=b"x")]],
        _is_file("pwned", b"x"),
    ),
    Case(
        "symlink-parent-next-layer",
        lambda s: [[E("etc", "sym", s)], [E("etc/secret", data=b"pwned")]],
        _rerooted("secret", b"pwned"),
    ),
    Case(
        "symlink-then-file-same-name",
        lambda s: [[E("victim", "sym", s + "/secret")], [E("victim", data=b"replaced")]],
        _is_file("victim", b"replaced"),
    ),
    Case(
        "symlink-then-dir-same-name",
        lambda s: [[E("d", "sym", s)], [E("d", "dir", mode=0o755), E("d/f", data=b"in")]],
        _is_file("d/f", b"in"),
    ),
    Case("hardlink-absolute-host-file", lambda s: [[E("h", "hard", s + "/secret")]], _absent("h")),
    Case("hardlink-dotdot", lambda s: [[E("h", "hard", "../sentinel/secret")]], _absent("h")),
    Case(
        "hardlink-through-symlink", lambda s: [[E("s", "sym", s), E("h", "hard", "s/secret")]], _absent("h")
    ),
    Case("hardlink-to-dir", lambda s: [[E("d", "dir", mode=0o755), E("h", "hard", "d")]], _absent("h")),
    Case("char-device", lambda s: [[E("dev/mem", "chr")]], _absent("dev/mem")),
    Case("block-device", lambda s: [[E("dev/sda", "blk")]], _absent("dev/sda")),
    Case(
        "setuid-file",
        lambda s: [[E("bin/su", data=b"\x7fELF", mode=0o4755)]],
        _is_file("bin/su", b"\x7fELF", 0o755),
    ),
    Case(
        "setgid-dir",
        lambda s: [[E("shared", "dir", mode=0o2775)]],
        lambda r, s: (
            None if stat.S_IMODE((r / "shared").stat().st_mode) == 0o775 else pytest.fail("setgid kept")
        ),
    ),
    Case("newline-name", lambda s: [[E("evil\nname", data=b"x")]], _absent("evil\nname")),
    Case("nul-name", lambda s: [[E("nul", data=b"x", pax={"path": "a\x00/../../evil"})]], _absent("evil")),
    Case("long-name", lambda s: [[E("x" * 5000, data=b"x")]]),
    Case("deep-path", lambda s: [[E("/".join(["d"] * 300) + "/f", data=b"x")]]),
    Case("huge-size-claim", lambda s: [[E("big", data=b"x" * 10, size=1 << 43)]], error=True),
    Case(
        "too-many-entries",
        lambda s: [[E(f"f{i}", data=b"x") for i in range(60)]],
        limits=ExtractLimits(max_entries=50),
        error=True,
    ),
    Case(
        "too-many-bytes",
        lambda s: [[E("a", data=b"x" * 4096), E("b", data=b"x" * 4096)]],
        limits=ExtractLimits(max_total_bytes=6000),
        error=True,
    ),
    Case(
        "gzip-bomb",
        lambda s: [[E("zeros", data=bytes(8 << 20))]],
        gzip=True,
        limits=ExtractLimits(max_total_bytes=1 << 20),
        error=True,
    ),
    Case("whiteout-through-symlink", lambda s: [[E("lnk", "sym", s)], [E("lnk/.wh.secret")]]),
    Case("opaque-through-symlink", lambda s: [[E("lnk", "sym", s)], [E("lnk/.wh..wh..opq")]]),
    Case("whiteout-dotdot", lambda s: [[E(".wh...")], [E("../.wh.sentinel")]]),
    Case(
        "symlink-loop-parent",
        lambda s: [[E("a", "sym", "b"), E("b", "sym", "a"), E("a/x", data=b"x")]],
        _absent("x"),
    ),
    Case("file-as-parent", lambda s: [[E("f", data=b"x"), E("f/child", data=b"y")]], _is_file("f", b"x")),
]


def _sentinel(tmp: Path) -> Path:
    s = tmp / "sentinel"
    s.mkdir()
    (s / "secret").write_bytes(SECRET)
    return s


def _assert_untouched(tmp: Path, sentinel: Path, allowed: set[str]) -> None:
    assert sorted(os.listdir(sentinel)) == ["secret"]
    assert (sentinel / "secret").read_bytes() == SECRET
    st = os.lstat(sentinel / "secret")
    assert st.st_nlink == 1 and stat.S_ISREG(st.st_mode)
    assert set(os.listdir(tmp)) <= allowed | {"sentinel"}, os.listdir(tmp)
    assert not os.path.lexists("/evil") and not os.path.lexists("/pwned")


HAS_STDLIB_FILTER = hasattr(tarfile, "data_filter")


@pytest.fixture(params=["stdlib-filter", "own-checks"])
def path_check(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which path check extraction uses; ``own-checks`` is what Python < 3.11.4 runs."""
    if request.param == "stdlib-filter":
        if not HAS_STDLIB_FILTER:
            pytest.skip("this Python's tarfile has no data_filter (added in 3.11.4)")
    else:
        monkeypatch.setattr(extract, "_stdlib_data_filter", None)
    return str(request.param)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_layer_applied_directly(case: Case, tmp_path: Path, path_check: str) -> None:
    sentinel = _sentinel(tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    state = ExtractState(dest=dest, limits=case.limits)
    layers = [layer(entries, compress=case.gzip) for entries in case.layers(str(sentinel))]
    try:
        for i, data in enumerate(layers):
            apply_layer(io.BytesIO(data), state, i, f"layer{i}")
    except DockuniError as err:
        assert case.error, f"unexpected refusal: {err}"
    else:
        assert not case.error, "expected the image to be refused"
        case.check(dest, str(sentinel))
        _no_special(dest)
    _assert_untouched(tmp_path, sentinel, {"dest"})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_layer_inside_docker_save(case: Case, tmp_path: Path, path_check: str) -> None:
    sentinel = _sentinel(tmp_path)
    layers = [layer(entries, compress=case.gzip) for entries in case.layers(str(sentinel))]
    archive = docker_save(layers, tmp_path / "image.tar")
    work = tmp_path / "work"
    try:
        with acquire(ImageSource(kind="archive", ref=str(archive)), workdir=work, limits=case.limits) as img:
            assert img.rootfs == work / "rootfs"
            case.check(img.rootfs, str(sentinel))
            _no_special(img.rootfs)
            if any(e.kind in ("chr", "blk") for entries in case.layers("") for e in entries):
                assert any("device node" in w for w in img.warnings)
    except DockuniError as err:
        assert case.error, f"unexpected refusal: {err}"
    else:
        assert not case.error, "expected the image to be refused"
    # refused or not, nothing half-written stays behind
    assert os.listdir(work) == []
    _assert_untouched(tmp_path, sentinel, {"work", "image.tar"})


def test_hostile_cases_are_many() -> None:
    assert len(CASES) >= 20


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    m = tarfile.TarInfo(name)
    m.type, m.linkname, m.mode = kind, linkname, 0o644
    return m


def _refusal(check: Callable[[tarfile.TarInfo, str], object], m: tarfile.TarInfo, dest: str) -> str | None:
    try:
        check(m, dest)
    except UnsafeEntry as err:
        return err.kind
    except tarfile.TarError as err:
        return err.__class__.__name__
    return None


def _check_members(dest: Path, sentinel: Path) -> list[tuple[tarfile.TarInfo, str | None]]:
    """Members and the refusal PEP 706's data filter gives each, in a root with an escaping symlink."""
    (dest / "out").symlink_to(sentinel)
    (dest / "d").mkdir()
    return [
        (_member("f"), None),
        (_member("/abs/f"), None),  # leading slashes are stripped, as by the stdlib filter
        (_member("../evil"), "OutsideDestinationError"),
        (_member("out/secret"), "OutsideDestinationError"),  # through a symlink already on disk
        (_member("fifo", tarfile.FIFOTYPE), "SpecialFileError"),
        (_member("dev", tarfile.CHRTYPE), "SpecialFileError"),
        (_member("dir", tarfile.DIRTYPE), None),
        (_member("s", tarfile.SYMTYPE, "d"), None),
        (_member("d/s", tarfile.SYMTYPE, "../f"), None),
        (_member("s", tarfile.SYMTYPE, "/etc/passwd"), "AbsoluteLinkError"),
        (_member("d/s", tarfile.SYMTYPE, "../../x"), "LinkOutsideDestinationError"),
        (_member("h", tarfile.LNKTYPE, "d/f"), None),
        (_member("h", tarfile.LNKTYPE, "/etc/passwd"), "AbsoluteLinkError"),
        (_member("h", tarfile.LNKTYPE, "../x"), "LinkOutsideDestinationError"),
        (_member("h", tarfile.LNKTYPE, "out"), "LinkOutsideDestinationError"),
    ]


@pytest.mark.unit
def test_own_checks_refuse_what_pep706_data_filter_refuses(tmp_path: Path) -> None:
    sentinel = _sentinel(tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    for member, expected in _check_members(dest, sentinel):
        own = _refusal(extract._data_filter_checks, member, str(dest))
        assert own == expected, (member.name, member.linkname)
        if HAS_STDLIB_FILTER:  # the same verdict as the standard library's own filter
            stdlib = _refusal(tarfile.data_filter, member, str(dest))
            assert stdlib == expected, (member.name, member.linkname)


@pytest.mark.unit
def test_check_entry_path_uses_own_checks_without_the_stdlib_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract, "_stdlib_data_filter", None)
    with pytest.raises(UnsafeEntry) as err:
        extract.check_entry_path(_member("h", tarfile.LNKTYPE, "../x"), str(tmp_path))
    assert err.value.kind == "LinkOutsideDestinationError"
