"""The static closure against the real loader: `ld.so --list` run inside a container of each image."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import engine
from tests.support.images import run_in_image, unpacked
from transpile.image import AcquiredImage
from transpile.image.ldcache import FLAG_X86_64, LdCacheError, parse_ld_cache, read_ld_cache
from transpile.image.paths import resolve_parts
from transpile.passes.closure import compute_closure

pytestmark = pytest.mark.engine

LDSO = "/lib64/ld-linux-x86-64.so.2"
EXEC_ORACLE = {"/usr/local/bin/cv-origin"}  # symlink to /opt/cv/bin/origin, whose RPATH is $ORIGIN/../lib
CV = "/opt/cv/bin/"
BINARIES = {
    "python-http": ["/usr/bin/python3.11"],
    "nginx": ["/usr/sbin/nginx"],
    "redis": ["/usr/bin/redis-server", "/usr/bin/redis-check-rdb"],
    "c-variants": [
        CV + b
        for b in (
            "nonpie",
            "pie",
            "static",
            "static-pie",
            "rpath",
            "runpath",
            "origin",
            "origin-braces",
            "rpath-inherit",
            "runpath-noinherit",
            "ldlp",
            "cached",
            "nodeflib",
            "cycle",
            "missing",
        )
    ]
    + ["/usr/local/bin/cv-origin"],
}


@pytest.fixture(scope="module")
def images(
    docker_client: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, AcquiredImage]]:
    with unpacked(list(BINARIES), tmp_path_factory.mktemp("closure")) as imgs:
        yield imgs


@dataclass
class Oracle:
    libs: set[str]
    missing: set[str]
    interpreter: str
    static: bool


def _oracle(tag: str, binaries: list[str], env: dict[str, str] | None = None) -> dict[str, Oracle]:
    # `ld.so --list` stops at the first missing library; ldd's LD_TRACE_LOADED_OBJECTS=1 mode of the
    # same loader lists the rest and marks the missing ones "not found". A program reached through a
    # symlink is exec'd by the kernel in that trace mode instead: its $ORIGIN then comes from
    # /proc/self/exe (the real path), whereas `ld.so --list LINK` would take the link's directory.
    def probe(b: str) -> str:
        if b in EXEC_ORACLE:
            return f"LD_TRACE_LOADED_OBJECTS=1 {b} 2>&1"
        return f"{LDSO} --list {b} 2>/dev/null || LD_TRACE_LOADED_OBJECTS=1 {LDSO} {b} 2>&1"

    script = "; ".join(f"echo '== {b}'; {probe(b)}" for b in binaries)
    out: dict[str, Oracle] = {}
    current = None
    for line in run_in_image(tag, script, env).splitlines():
        if line.startswith("== "):
            current = Oracle(set(), set(), "", False)
            out[line[3:]] = current
            continue
        assert current is not None
        line = line.strip()
        if m := re.match(r"^(\S+) => not found$", line):
            current.missing.add(m.group(1))
        elif m := re.match(r"^(\S+) => (\S+) \(0x[0-9a-f]+\)$", line):
            current.libs.add(m.group(2))
        elif m := re.match(r"^(/\S+) \(0x[0-9a-f]+\)$", line):
            current.interpreter = m.group(1)
        elif "statically linked" in line:
            current.static = True
    return out


def _real(root: Path, path: str) -> str:
    parts, _links, exists = resolve_parts(root, path)
    assert exists, path
    return "/" + "/".join(parts)


_CASES = [(name, "image-env") for name in BINARIES] + [("c-variants", "no-ld-library-path")]


@pytest.mark.parametrize(("name", "env_mode"), _CASES, ids=[f"{n}-{m}" for n, m in _CASES])
def test_closure_matches_real_loader(name: str, env_mode: str, images: dict[str, AcquiredImage]) -> None:
    img = images[name]
    env = img.config.env_dict()
    docker_env = None
    if env_mode == "no-ld-library-path":
        env.pop("LD_LIBRARY_PATH", None)
        docker_env = {"LD_LIBRARY_PATH": ""}
    oracle = _oracle(engine.image_tag(name), BINARIES[name], docker_env)
    assert set(oracle) == set(BINARIES[name])
    for binary, truth in oracle.items():
        closure = compute_closure(img.rootfs, binary, env)
        ours_libs = {lib.file.realpath for lib in closure.libraries}
        theirs_libs = {_real(img.rootfs, p) for p in truth.libs}
        assert ours_libs == theirs_libs, (binary, closure.to_json()["libraries"], truth)
        assert {m.name for m in closure.missing} == truth.missing, (binary, closure.missing)
        if truth.interpreter:
            assert closure.interpreter is not None
            assert closure.interpreter.realpath == _real(img.rootfs, truth.interpreter)
        if closure.loader == "static":
            assert not truth.libs and not truth.missing
        assert closure.program is not None and closure.total_bytes >= closure.program.size


def test_c_variants_resolution_paths(images: dict[str, AcquiredImage]) -> None:
    """How each library was found, per glibc's order (the oracle says *what*, this says *why*)."""
    img = images["c-variants"]
    env = img.config.env_dict()

    def via(binary: str, lib: str, e: dict[str, str] = env) -> str:
        closure = compute_closure(img.rootfs, CV + binary, e)
        return next(x.via for x in closure.libraries if x.name == lib)

    assert via("rpath", "libgreet.so") == "rpath"  # DT_RPATH before LD_LIBRARY_PATH
    assert via("runpath", "libgreet.so") == "ld_library_path"  # LD_LIBRARY_PATH before DT_RUNPATH
    assert via("runpath", "libgreet.so", {}) == "runpath"
    assert via("origin", "libgreet.so") == "rpath"
    assert via("rpath-inherit", "libdep.so") == "rpath"  # the executable's RPATH, inherited
    assert via("cached", "libcvcached.so.1") == "ld.so.cache"
    nodeflib = compute_closure(img.rootfs, CV + "nodeflib", env)
    assert [m.name for m in nodeflib.missing] == ["libc.so.6"]
    cycle = compute_closure(img.rootfs, CV + "cycle", env)
    assert ("/opt/cv/cyc/libcyc2.so", "libcyc1.so") in cycle.cycles
    noinherit = compute_closure(img.rootfs, CV + "runpath-noinherit", {})
    assert [(m.name, m.needed_by) for m in noinherit.missing] == [("libdep.so", "/opt/cv/chain/libgreet.so")]


def test_static_server_is_static(images: dict[str, AcquiredImage], tmp_path: Path) -> None:
    with unpacked(["static-server"], tmp_path) as imgs:
        closure = compute_closure(imgs["static-server"].rootfs, "/httpd")
    assert closure.loader == "static"
    assert [f.path for f in closure.files] == ["/httpd"]
    assert closure.libraries == () and closure.missing == ()


def test_ld_so_cache_matches_ldconfig(images: dict[str, AcquiredImage]) -> None:
    for name in ("nginx", "c-variants"):
        entries = read_ld_cache(images[name].rootfs)
        assert entries is not None
        ours = {(e.name, e.path) for e in entries if e.flags == FLAG_X86_64}
        listing = run_in_image(engine.image_tag(name), "ldconfig -p")
        theirs = set(re.findall(r"^\s+(\S+) \(libc6,x86-64\) => (\S+)$", listing, re.M))
        assert ours == theirs
        assert len(ours) > 20


def test_ld_so_cache_rejects_garbage() -> None:
    for data in (b"", b"garbage" * 10, b"glibc-ld.so.cache1.1" + b"\xff" * 28):
        with pytest.raises(LdCacheError):
            parse_ld_cache(data)


def test_ld_so_conf_fallback_and_missing_program(tmp_path: Path, images: dict[str, AcquiredImage]) -> None:
    """Without ld.so.cache, ld.so.conf (with include globs) stands in, and says so."""
    import shutil

    root = tmp_path / "root"
    src = images["c-variants"].rootfs
    shutil.copytree(
        src / "usr" / "lib" / "x86_64-linux-gnu", root / "usr/lib/x86_64-linux-gnu", symlinks=True
    )
    (root / "lib").symlink_to("usr/lib")
    (root / "usr/lib64").mkdir()
    (root / "lib64").symlink_to("usr/lib64")
    (root / "usr/lib64/ld-linux-x86-64.so.2").symlink_to("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    (root / "opt/app").mkdir(parents=True)
    shutil.copy(src / "usr/local/lib/libcvcached.so.1", root / "opt/app/libcvcached.so.1")
    shutil.copy(src / "opt/cv/bin/cached", root / "opt/app/cached")
    (root / "etc/ld.so.conf.d").mkdir(parents=True)
    (root / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n")
    (root / "etc/ld.so.conf.d/app.conf").write_text("# app libraries\n/opt/app\n")
    # Debian's own conf names a default dir too: libc found there is a default hit, not an ld.so.conf one
    (root / "etc/ld.so.conf.d/x86_64-linux-gnu.conf").write_text("/lib/x86_64-linux-gnu\n")
    closure = compute_closure(root, "/opt/app/cached", {})
    assert closure.cache == "ld.so.conf"
    assert {(lib.name, lib.via) for lib in closure.libraries} == {
        ("libcvcached.so.1", "ld.so.conf"),
        ("libc.so.6", "default"),
    }
    gone = compute_closure(root, "/opt/app/nothing", {})
    assert gone.program is None and gone.missing[0].reason == "program not found"
