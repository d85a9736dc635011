"""`dockuni convert` through the pipeline API: real fixture images, real traces (cached per session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import convert as cs
from transpile import pipeline
from transpile.errors import DockuniError
from transpile.model.conversion import Recipe
from transpile.passes import graph as gr

pytestmark = pytest.mark.engine


def _convert(name: str, out: Path, *, traced: bool = True, **kw: object) -> pipeline.ConvertResult:
    facts = cs.real_facts(name, traced)
    opts = pipeline.ConvertOptions(
        dockerfile=cs.dockerfile(name),
        archive=str(cs.archive(name)),
        trace=traced,
        output=str(out),
        **kw,  # type: ignore[arg-type]
    )
    return pipeline.convert(opts, trace_facts=facts.trace)


def _report(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "report.json").read_text())
    return data


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_python_http_converts_to_nanos() -> None:
    result = cs.converted("python-http")
    out = cs.output_dir("python-http")
    assert result.exit_code == 0
    assert "nanos" in result.emitted and result.ranking[0] != "unikraft"
    assert not result.fallback
    report = _report(out)
    targets = {t["target"]: t for t in report["targets"]}  # type: ignore[attr-defined]
    assert targets["nanos"]["ok"] is True
    assert any("binary:pie" in b for b in targets["unikraft"]["blockers"])
    fp = report["footprint"]
    assert 0 < fp["closure_bytes"] < fp["image_bytes"]  # type: ignore[index]
    surface = report["attack_surface"]
    assert surface["docker_default"] == 361 and 0 < surface["needed"] < 361  # type: ignore[index]
    assert report["traced"] is True and 8000 in report["trace"]["listening_ports"]  # type: ignore[index]
    assert (out / "nanos" / "config.json").is_file()
    assert (out / "report.md").read_text().startswith("# dockuni convert:")
    assert (out / "graph.svg").is_file() or (out / "graph.dot").is_file()
    on_disk = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert report["files"] == on_disk


def test_forking_server_falls_back_to_the_container_with_the_fork_reason() -> None:
    result = cs.converted("forking-server")
    out = cs.output_dir("forking-server")
    assert result.fallback and result.exit_code == 1
    assert "container" in result.emitted
    assert (out / "container" / "run.sh").is_file()
    report = _report(out)
    for t in report["targets"]:  # type: ignore[attr-defined]
        if t["target"] in ("unikraft", "nanos", "osv"):
            assert any("process.fork" in b and "did work" in b for b in t["blockers"]), t["blockers"]
    md = (out / "report.md").read_text()
    assert md.count("No unikernel can run this image") == 1 and "did work" in md
    assert "Drop-in fallback: the hardened container recipe (container/)" in md
    assert result.story[-1] == "Exit code 1."


def test_shell_script_falls_back_with_the_exec_reason() -> None:
    result = cs.converted("shell-script")
    assert result.fallback and result.exit_code == 1
    assert "container" in result.emitted
    for v in result.facts.verdicts:
        if v.target == "microvm":
            assert v.ok
            continue
        assert any("process.exec" in b and "execve" in b for b in v.blockers), v.blockers
    # the static chain says the same without a trace: a /bin/sh script entrypoint
    static = cs.real_facts("shell-script").static
    assert static.chain[0].kind == "script" and static.chain[0].interpreter.endswith("dash")


def test_static_server_unikraft_blocked_by_non_pie_nanos_ok(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _convert("static-server", out)
    verdicts = {v.target: v for v in result.facts.verdicts}
    assert not verdicts["unikraft"].ok
    assert verdicts["unikraft"].blockers[0].startswith("binary:pie: ELF /httpd is static ET_EXEC")
    assert verdicts["nanos"].ok and "nanos" in result.emitted
    assert result.exit_code == 0


def test_explicit_blocked_target_exits_1(tmp_path: Path) -> None:
    result = _convert("static-server", tmp_path / "out", targets=("unikraft",))
    assert result.exit_code == 1 and result.emitted == ("container",)


def test_output_is_byte_identical_for_identical_input(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _convert("static-server", a)
    _convert("static-server", b)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b and files_a
    # Disk images made by a kernel's own tools (Nanos' mkfs, OSv's image build) carry their own ids and
    # times; everything dockuni writes itself is byte-identical.
    foreign = {"disk.img", "usr.img"}
    for rel in files_a:
        if rel.name in foreign:
            assert (a / rel).stat().st_size == (b / rel).stat().st_size, rel
            continue
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert str(tmp_path) not in (a / "report.json").read_text()  # no temp paths leak into outputs


def test_existing_output_is_refused_then_replaced_with_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("x")
    with pytest.raises(DockuniError) as err:
        _convert("static-server", out)
    assert err.value.exit_code == 2 and "exists" in err.value.message
    assert (out / "keep").read_text() == "x"
    _convert("static-server", out, force=True)
    assert not (out / "keep").exists() and (out / "report.json").is_file()
    assert _leftovers(tmp_path) == []


def test_failure_while_writing_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _convert("static-server", tmp_path / "first")
    bad = Recipe("nanos", (("a.txt", b"ok"), ("../escape.txt", b"no")))
    with pytest.raises(DockuniError, match="unsafe path"):
        pipeline._write_output(
            out,
            pipeline.ConvertOptions(dockerfile="Dockerfile", output=str(out)),
            result,
            gr.from_node_link(result.graph),
            [bad],
            None,
            pipeline.quiet,
        )
    assert not out.exists()
    assert not (tmp_path / "escape.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first"]
    assert _leftovers(tmp_path) == []


def test_bad_archive_fails_before_writing_and_keeps_the_old_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("x")
    bogus = tmp_path / "bogus.tar"
    bogus.write_bytes(b"not a tar at all" * 100)
    opts = pipeline.ConvertOptions(
        dockerfile=cs.dockerfile("static-server"), archive=str(bogus), output=str(out), force=True
    )
    with pytest.raises(DockuniError) as err:
        pipeline.convert(opts)
    assert err.value.exit_code == 2
    assert (out / "keep").read_text() == "x"
    assert _leftovers(tmp_path) == []
