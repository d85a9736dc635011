"""`dockuni convert` and `dockuni graph` through the command line: exit codes, messages, formats."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.support import convert as cs
from transpile.cli import main

pytestmark = pytest.mark.engine


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _archive_without_entrypoint(path: Path) -> None:
    """A real docker-save archive (one layer, one file) whose config has no ENTRYPOINT or CMD."""
    layer = _tar_bytes({"hello.txt": b"hi\n"})
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["x/noentry:1"], "Layers": ["l/layer.tar"]}])
    path.write_bytes(
        _tar_bytes({"manifest.json": manifest.encode(), "config.json": config, "l/layer.tar": layer})
    )


def test_missing_dockerfile_is_a_located_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "convert", str(tmp_path / "nope"), "-o", str(tmp_path / "o"))
    assert code == 2 and err.startswith(f"{tmp_path / 'nope'}: ")
    assert not (tmp_path / "o").exists()


def test_bad_dockerfile_reports_file_line_col(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    df = tmp_path / "Dockerfile"
    df.write_text("# comment\nRUN echo hi\n")
    code, _, err = _run(capsys, "convert", str(df), "-o", str(tmp_path / "o"))
    assert code == 2 and err.startswith(f"{df}:2:1: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile"]


def test_unknown_target_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "convert", cs.dockerfile("static-server"), "--target", "nanos,xen")
    assert code == 2 and "unknown target 'xen'" in err


def test_existing_output_dir_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    code, _, err = _run(capsys, "convert", cs.dockerfile("static-server"), "-o", str(tmp_path / "o"))
    assert code == 2 and "exists" in err and "--force" in err


def test_engine_not_running_does_the_static_part_and_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    out = tmp_path / "o"
    code, stdout, _ = _run(
        capsys, "convert", cs.dockerfile("shell-script"), "-o", str(out), "--format", "json"
    )
    assert code == 3
    report = json.loads(stdout)
    assert report == json.loads((out / "report.json").read_text())
    assert any("cannot reach the Docker engine" in u for u in report["unverified"])
    assert report["emitted"] == [] and report["image"] == ""
    assert {t["status"] for t in report["targets"]} == {"unknown"}  # never "ok" without evidence
    assert report["story"][0].startswith("Undecided: no image")
    assert sorted(p.name for p in out.iterdir()) in (
        ["graph.html", "graph.svg", "report.json", "report.md"],
        ["graph.dot", "graph.html", "report.json", "report.md"],
    )


def test_image_without_entrypoint_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tar = tmp_path / "noentry.tar"
    _archive_without_entrypoint(tar)
    df = tmp_path / "Dockerfile"
    df.write_text("FROM scratch\nCOPY hello.txt /\n")
    code, _, err = _run(capsys, "convert", str(df), "--archive", str(tar), "-o", str(tmp_path / "o"))
    assert code == 2 and "no ENTRYPOINT or CMD" in err
    assert not (tmp_path / "o").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_convert_archive_no_trace_json_and_quiet_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "o"
    code, stdout, err = _run(
        capsys,
        "convert",
        cs.dockerfile("static-server"),
        "--archive",
        str(cs.archive("static-server")),
        "--no-trace",
        "-o",
        str(out),
        "--format",
        "json",
    )
    assert code == 1, stdout  # no unikernel is decided without a trace: the fallback story
    assert err == ""  # progress is silent when stderr is not a terminal
    report = json.loads(stdout)
    targets = {t["target"]: t for t in report["targets"]}
    # the static non-PIE program blocks unikraft; nothing blocks nanos, but nothing decides it either
    assert targets["unikraft"]["status"] == "blocked" and targets["nanos"]["status"] == "unknown"
    assert "trace" in targets["nanos"]["undecided"][0]
    assert report["traced"] is False and report["emitted"] == ["microvm", "container"]
    assert report["story"][0].startswith("Undecided whether a unikernel can run this image")
    assert report["story"][-1] == "Exit code 1."


def test_convert_an_image_without_a_dockerfile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    archive = str(cs.archive("static-server"))
    out_a = str(tmp_path / "a")
    code_alone, stdout, _ = _run(capsys, "convert", "--archive", archive, "--no-trace", "-o", out_a,
                                 "--format", "json")  # fmt: skip
    alone = json.loads(stdout)
    assert alone["dockerfile"] is None and alone["argv"]
    code, stdout, _ = _run(capsys, "convert", cs.dockerfile("static-server"), "--archive", archive,
                           "--no-trace", "-o", str(tmp_path / "b"), "--format", "json")  # fmt: skip
    with_df = json.loads(stdout)
    assert code_alone == code == with_df["exit_code"]  # the same story with or without the Dockerfile
    # the image's own config gives the same entrypoint and the same verdicts
    assert alone["argv"] == with_df["argv"]
    def verdicts(report: dict[str, Any]) -> list[tuple[str, bool, str]]:
        return [(t["target"], t["ok"], t["status"]) for t in report["targets"]]

    assert verdicts(alone) == verdicts(with_df)


def test_convert_needs_a_dockerfile_or_an_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "convert", "-o", str(tmp_path / "o"))
    assert code == 2 and err.startswith("dockuni: error: name a Dockerfile, or an image")
    assert not (tmp_path / "o").exists()


def test_graph_formats(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tar = str(cs.archive("static-server"))
    code, out, _ = _run(capsys, "graph", "--archive", tar, "--no-trace", "--format", "json")
    assert code == 0
    obj = json.loads(out)
    assert obj["directed"] is True and any(n["id"] == "elf:/httpd" for n in obj["nodes"])
    code, out, _ = _run(capsys, "graph", "--archive", tar, "--no-trace", "--format", "dot")
    assert code == 0 and out.startswith("digraph summary {")
    assert ">blocked<" in out  # the static server is not PIE: a target that needs PIE is blocked
    code, out, _ = _run(capsys, "graph", "--archive", tar, "--no-trace", "--format", "dot", "--detail")
    assert code == 0 and out.startswith("digraph dockuni {") and '"elf:/httpd"' in out
    code, out, _ = _run(capsys, "graph", "--archive", tar, "--no-trace", "--format", "html")
    assert code == 0 and out.startswith("<!DOCTYPE html>") and 'id="summary-view"' in out


def test_graph_reuses_a_recorded_trace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = cs.real_facts("static-server").trace
    assert trace is not None
    recorded = tmp_path / "trace.json"
    recorded.write_text(json.dumps(trace.to_json()))
    tar = str(cs.archive("static-server"))
    code, out, _ = _run(capsys, "graph", "--archive", tar, "--trace", str(recorded), "--format", "json")
    assert code == 0
    obj = json.loads(out)
    assert obj["graph"]["traced"] is True
    assert any(link["evidence"] == "trace" for link in obj["links"])
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  nope")
    code, _, err = _run(capsys, "graph", "--archive", tar, "--trace", str(bad))
    assert code == 2 and err.startswith(f"{bad}:2:3: not a JSON trace")


@pytest.mark.vm
def test_verify_boots_the_microvm_and_probes_the_app(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One real QEMU boot (TCG here) of the static server's microVM: the probe must get an answer."""
    out = tmp_path / "o"
    code, stdout, _ = _run(
        capsys,
        "convert",
        cs.dockerfile("static-server"),
        "--archive",
        str(cs.archive("static-server")),
        "--target",
        "microvm",
        "--verify",
        "-o",
        str(out),
        "--format",
        "json",
    )
    report = json.loads(stdout)
    verify = report["verify"]["microvm"]
    assert verify["status"] == "answered", verify
    assert verify["detail"].endswith("port 8080: HTTP/1.0 200 OK") and verify["boot_to_reply_s"] > 0
    assert (out / verify["console_log"]).is_file()
    assert code == 0
    assert "microvm/initramfs.cpio" in report["files"] and (out / "microvm" / "initramfs.cpio").is_file()
