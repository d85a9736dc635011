"""The cached kernel build: real archives from the pinned sources directory, a real cache dir."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.kernels import kernel_dir, sources_dir
from transpile import cli
from transpile import targets as registry
from transpile.errors import DockuniError
from transpile.runtime import build
from transpile.runtime.build import BuildContext, BuildSpec

LIBELF = "lib-libelf-0f1476d5f7fb.tar.gz"  # the smallest archive: fast unit builds


def _tiny_spec(steps_ok: bool = True, config: str = "c1") -> BuildSpec:
    def steps(ctx: BuildContext) -> None:
        ctx.unpack(LIBELF, "src")
        if not steps_ok:
            ctx.run(["sh", "-c", "echo compiling; echo 'error: something broke' >&2; exit 7"], "src")
        (ctx.work / "out").mkdir()
        shutil.copyfile(ctx.work / "src" / "Makefile.uk", ctx.work / "out" / "Makefile.uk")

    return BuildSpec(name="tiny", version="tiny 1", archives=(LIBELF,), config=config, steps=steps,
                     outputs=("out",))


def _sources_copy(tmp: Path, corrupt: str = "") -> Path:
    d = tmp / "sources"
    d.mkdir()
    src = sources_dir()
    for name in ("SOURCES.tsv", "SHA256SUMS", LIBELF):
        shutil.copyfile(src / name, d / name)
    if corrupt:
        data = bytearray((d / corrupt).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (d / corrupt).write_bytes(bytes(data))
    return d


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "dockuni" / "kernels"


@pytest.mark.unit
def test_build_caches_and_records_sources(tmp_path: Path, cache: Path) -> None:
    src = _sources_copy(tmp_path)
    k = build.build(_tiny_spec(), src)
    assert k.path.parent == cache and k.path.name == f"tiny-{k.key[:12]}"
    meta = json.loads((k.path / "kernel.json").read_text())
    assert meta["name"] == "tiny" and meta["files"] == ["out"]
    assert meta["sources"][0]["commit"] == "0f1476d5f7fbc1a8fb44776066ab13e7403cfcae"
    assert (k.path / "out" / "Makefile.uk").is_file()
    assert "unpacked lib-libelf" in (k.path / "build.log").read_text()
    assert sorted(p.name for p in cache.iterdir()) == [".tiny.lock", k.path.name]  # no temp dirs
    before = (k.path / "kernel.json").stat().st_mtime_ns
    again = build.build(_tiny_spec(), src)  # a hit: nothing rebuilt, nothing rewritten
    assert again.path == k.path and (k.path / "kernel.json").stat().st_mtime_ns == before
    other = build.build(_tiny_spec(config="c2"), src)  # another configuration, another entry
    assert other.path != k.path


@pytest.mark.unit
def test_failed_build_is_one_line_with_the_log_and_leaves_no_debris(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _sources_copy(tmp_path)
    with pytest.raises(DockuniError) as ei:
        build.build(_tiny_spec(steps_ok=False), src)
    err = ei.value
    assert err.exit_code == 3 and "\n" not in str(err)
    assert "building tiny failed" in err.message and "exited with 7" in err.message
    log = Path(err.file)
    assert log.is_file() and "error: something broke" in log.read_text()
    assert sorted(p.name for p in cache.iterdir()) == [".tiny.lock", "tiny-failed.log"]


@pytest.mark.unit
def test_corrupted_archive_one_line_exit_3(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _sources_copy(tmp_path, corrupt=LIBELF)
    with pytest.raises(DockuniError, match="sha256 mismatch for lib-libelf"):
        build.build(_tiny_spec(), src)
    # through the CLI: Unikraft's spec needs that archive too
    code = cli.main(["kernels", "build", "--from", str(src), "--only", "unikraft"])
    captured = capsys.readouterr()
    assert code == 3
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and ("missing" in lines[0] or "sha256 mismatch" in lines[0])
    assert not cache.exists() or not [p for p in cache.iterdir() if not p.name.endswith(".lock")]


@pytest.mark.unit
def test_unknown_runtime_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kernels", "build", "--from", str(sources_dir()), "--only", "linux"]) == 2
    assert "unknown runtime 'linux'" in capsys.readouterr().err


@pytest.mark.unit
def test_override_by_environment(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "my-nanos"
    mine.mkdir()
    monkeypatch.setenv("DOCKUNI_KERNEL_NANOS", str(mine))
    k = build.find_kernel(registry.kernel_runtimes()["nanos"].build_spec())
    assert k is not None and k.path == mine and k.origin == "env"
    assert cli.main(["kernels", "list", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["nanos"]["path"] == str(mine) and rows["osv"]["origin"] == "absent"
    build.set_kernel_override("nanos", tmp_path / "gone")
    try:
        with pytest.raises(DockuniError, match="override does not exist"):
            build.find_kernel(registry.kernel_runtimes()["nanos"].build_spec())
    finally:
        build.set_kernel_override("nanos", None)


@pytest.mark.vm
@pytest.mark.parametrize("name", list(registry.kernel_runtimes()))
def test_real_kernels_build_and_hit_the_cache(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    d = kernel_dir(name)  # built once per session (or found in the cache)
    meta = json.loads((d / "kernel.json").read_text())
    assert meta["name"] == name and meta["build_seconds"] > 0
    log_before = (d / "build.log").stat().st_mtime_ns
    code = cli.main(["kernels", "build", "--from", str(sources_dir()), "--only", name])
    assert code == 0 and (d / "build.log").stat().st_mtime_ns == log_before
    assert cli.main(["kernels", "list"]) == 0
    assert str(d) in capsys.readouterr().out


@pytest.mark.unit
def test_shipped_pins_match_the_sources_directory() -> None:
    shipped = build.pinned_sources()
    on_disk = build.read_sources(sources_dir())
    for name, info in shipped.items():
        assert on_disk[name] == info
    for make in [k.build_spec for k in registry.kernel_runtimes().values()]:
        assert set(make().archives) <= set(shipped)


@pytest.mark.unit
def test_without_a_sources_dir_it_clones_and_fails_cleanly_offline(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upstream is unreachable from the test machines: the clone fails with one line, exit 3, and
    leaves nothing behind. (With internet access the same call builds from the pinned commits.)"""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # make sure nothing goes out
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    url = r"https://github\.com/unikraft/lib-libelf\.git"
    with pytest.raises(DockuniError, match="cannot fetch " + url) as ei:
        build.build(_tiny_spec(), None)
    assert ei.value.exit_code == 3
    assert [p.name for p in cache.iterdir()] == []
