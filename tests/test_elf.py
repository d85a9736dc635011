"""ELF facts on the c-variants fixture (one program linked every way) and on broken files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import unpacked
from transpile.elf import ElfError, read_elf

pytestmark = pytest.mark.engine

CV = "opt/cv/bin/"


@pytest.fixture(scope="module")
def cv(docker_client: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with unpacked(["c-variants"], tmp_path_factory.mktemp("elf")) as imgs:
        yield imgs["c-variants"].rootfs


@pytest.mark.parametrize(
    ("binary", "etype", "pie", "linkage", "interp"),
    [
        ("nonpie", "ET_EXEC", False, "dynamic", "/lib64/ld-linux-x86-64.so.2"),
        ("pie", "ET_DYN", True, "dynamic", "/lib64/ld-linux-x86-64.so.2"),
        ("static", "ET_EXEC", False, "static", ""),
        ("static-pie", "ET_DYN", True, "static-pie", ""),
    ],
)
def test_link_kinds(cv: Path, binary: str, etype: str, pie: bool, linkage: str, interp: str) -> None:
    f = read_elf(cv / CV / binary, "/" + CV + binary)
    assert (f.type, f.pie, f.linkage, f.interpreter) == (etype, pie, linkage, interp)
    assert (f.machine, f.elf_class) == ("EM_X86_64", 64)
    assert "glibc" in f.hints
    assert f.needed == (() if f.static else ("libc.so.6",))
    if not f.static:
        assert any(
            s.name == "puts" and s.version.startswith("GLIBC_") and s.library == "libc.so.6"
            for s in f.imported
        )


def test_dynamic_tags(cv: Path) -> None:
    rpath = read_elf(cv / CV / "rpath")
    assert rpath.rpath == ("/opt/cv/rpathlib",) and rpath.runpath == ()
    runpath = read_elf(cv / CV / "runpath")
    assert runpath.runpath == ("/opt/cv/runlib",) and runpath.rpath == ()
    assert read_elf(cv / CV / "origin").rpath == ("$ORIGIN/../lib",)
    assert read_elf(cv / CV / "origin-braces").runpath == ("${ORIGIN}/../lib",)
    assert read_elf(cv / CV / "rpath-inherit").rpath == ("/opt/cv/chain", "/opt/cv/chaindep")
    nodeflib = read_elf(cv / CV / "nodeflib")
    assert nodeflib.nodeflib and "NODEFLIB" in nodeflib.flags_1
    lib = read_elf(cv / "opt/cv/chain/libgreet.so")
    assert lib.soname == "libgreet.so" and lib.shared_object and lib.linkage == "shared"
    assert lib.needed == ("libdep.so",)
    assert not lib.pie
    as_json = rpath.to_json()
    assert as_json["rpath"] == ["/opt/cv/rpathlib"] and as_json["pie"] is True


def test_broken_files(cv: Path, tmp_path: Path) -> None:
    with pytest.raises(ElfError, match=r"truncated|unreadable"):
        read_elf(cv / CV / "truncated", "/opt/cv/bin/truncated")
    text = tmp_path / "text"
    text.write_text("#!/bin/sh\n")
    with pytest.raises(ElfError, match="not an ELF"):
        read_elf(text)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    with pytest.raises(ElfError):
        read_elf(garbage)
    with pytest.raises(ElfError):
        read_elf(tmp_path / "absent")
