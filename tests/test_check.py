"""``dockuni check`` end to end through ``transpile.cli.main``: ignores, config, thresholds,
formats, exit codes, colour on a real terminal, and the pre-commit hook run by pre-commit."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from transpile.cli import main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "fixtures" / "rules" / "bad"
CLEAN = ROOT / "fixtures" / "rules" / "clean"
SCHEMA = Path(__file__).resolve().parent / "sarif-schema-2.1.0.json"

SHELL_CMD = "FROM dockuni-test/debian:bookworm\nCMD python3 -m http.server 8000\n"
LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<sev>[A-Z]+) (?P<rule>DU\d{3}) (?P<msg>.+?)"
                  r" \[(?P<targets>[a-z,]+)\] \((?P<hint>.+)\)$")  # fmt: skip


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rules(out: str) -> list[str]:
    return [m.group("rule") for line in out.splitlines() if (m := LINE.match(line))]


# --- exit codes and the text format -------------------------------------------------------------------


def test_clean_files_exit_zero_print_no_finding_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(CLEAN.glob("*.Dockerfile"))
    code, out, err = check(capsys, *map(str, files))
    assert (code, out, err) == (0, "", f"{len(files)} files checked: no findings\n")


def test_findings_exit_one_in_the_documented_line_format(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(BAD / "DU204.Dockerfile")
    code, out, err = check(capsys, path)
    assert code == 1 and err == "1 file checked: 1 error, 1 warning\n"
    lines = out.splitlines()
    assert len(lines) == 2
    first = LINE.match(lines[0])
    assert first is not None
    assert first.group("file", "line", "col", "sev", "rule") == (path, "6", "1", "WARNING", "DU201")
    assert first.group("targets") == "unikraft,nanos,osv"
    second = LINE.match(lines[1])
    assert second is not None and second.group("rule", "col", "sev") == ("DU204", "5", "ERROR")
    assert "\x1b[" not in out  # not a terminal: no colour


def test_threshold_flag_and_info_findings(capsys: pytest.CaptureFixture[str]) -> None:
    info_only = str(BAD / "DU701.Dockerfile")
    code, out, _ = check(capsys, info_only)
    assert code == 0 and rules(out) == ["DU701"]  # reported, but below the default threshold
    assert check(capsys, "--failure-threshold", "info", info_only)[0] == 1
    assert check(capsys, "--failure-threshold", "none", str(BAD / "DU203.Dockerfile"))[0] == 0
    assert check(capsys, "--failure-threshold", "error", str(BAD / "DU201.Dockerfile"))[0] == 0


def test_parse_error_is_reported_and_other_files_still_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = write(tmp_path / "Dockerfile", "FROM scratch\nFROBNICATE now\n")
    missing = tmp_path / "nope" / "Dockerfile"
    code, out, err = check(capsys, str(broken), str(BAD / "DU205.Dockerfile"), str(missing))
    assert code == 2
    assert rules(out) == ["DU205"]
    errors = err.splitlines()
    assert len(errors) == 3
    assert re.match(rf"^{re.escape(str(broken))}:\d+:\d+: .+", errors[0])
    assert errors[1] == f"{missing}: no such file"  # no position: no made-up 0:0
    assert errors[2] == "1 file checked: 1 error; 2 files could not be checked"


def test_lowering_error_is_located(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "Dockerfile", "FROM scratch\nCOPY --from=5 /a /a\n")
    code, out, err = check(capsys, str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"{path}:2:1: ") and "not an earlier stage" in err


# --- ignores ------------------------------------------------------------------------------------------


def test_inline_ignore_applies_to_the_next_instruction_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (
        "FROM dockuni-test/debian:bookworm\n"
        "# dockuni ignore=DU401\n"
        "# (a second comment line keeps the block together)\n"
        "USER nobody\n"
        "# dockuni ignore=DU201,DU205\n"
        "\n"
        "CMD nginx\n"
    )
    path = write(tmp_path / "Dockerfile", text)
    code, out, _ = check(capsys, str(path))
    # DU401 silenced; the blank line detaches the second comment from CMD
    assert rules(out) == ["DU201", "DU205"] and code == 1


def test_global_ignore_and_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "Dockerfile", SHELL_CMD + "# dockuni global ignore=DU201\n")
    assert check(capsys, str(path)) == (0, "", "1 file checked: no findings\n")
    path = write(tmp_path / "b" / "Dockerfile", SHELL_CMD)
    assert check(capsys, "--ignore", "du201", str(path))[:2] == (0, "")
    code, out, err = check(capsys, "--ignore", "DU999", str(path))
    assert code == 2 and out == "" and "unknown rule DU999" in err


# --- configuration ------------------------------------------------------------------------------------


def test_dockuni_toml_found_upwards(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write(tmp_path / ".dockuni.toml", 'ignore = ["DU201"]\nfailure-threshold = "info"\n')
    path = write(tmp_path / "svc" / "web" / "Dockerfile", SHELL_CMD + "ONBUILD RUN true\n")
    code, out, _ = check(capsys, str(path))
    assert rules(out) == ["DU701"] and code == 1  # info fails under the configured threshold


def test_pyproject_table_and_precedence(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.dockuni]\ntargets = ["microvm"]\n')
    path = write(tmp_path / "Dockerfile", SHELL_CMD + "HEALTHCHECK CMD true\n")
    code, out, _ = check(capsys, str(path))
    (line,) = out.splitlines()
    match = LINE.match(line)
    assert match is not None and match.group("rule", "targets") == ("DU206", "microvm")
    assert code == 1
    # .dockuni.toml in the same directory wins over pyproject.toml
    write(tmp_path / ".dockuni.toml", '[tool.dockuni]\nignore = ["DU206"]\n')
    assert rules(check(capsys, str(path))[1]) == ["DU201"]
    # --targets and --config override what is found
    (line,) = check(capsys, "--targets", "nanos,osv", str(path))[1].splitlines()
    match = LINE.match(line)
    assert match is not None and match.group("rule", "targets") == ("DU201", "nanos,osv")
    explicit = write(tmp_path / "other.toml", 'failure-threshold = "none"\n')
    assert check(capsys, "--config", str(explicit), str(path))[0] == 0


def test_pyproject_without_our_table_is_passed_over(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path / ".dockuni.toml", 'ignore = ["DU201"]\n')
    write(tmp_path / "app" / "pyproject.toml", '[project]\nname = "dockuni-app"\n')
    path = write(tmp_path / "app" / "Dockerfile", SHELL_CMD)
    assert check(capsys, str(path))[:2] == (0, "")


@pytest.mark.parametrize(
    ("config", "position", "fragment"),
    [
        ('ignore = ["DU201"]\ncolour = true\n', ":2:1:", "unknown key 'colour'"),
        ('targets = ["unikraft", "windows"]\n', ":1:1:", "unknown target 'windows'"),
        ('failure-threshold = "fatal"\n', ":1:1:", "failure-threshold must be one of"),
        ('ignore = "DU201"\n', ":1:1:", "ignore must be a list"),
        ('ignore = ["E501"]\n', ":1:1:", "not a rule id"),
        ("ignore = [\n", ":2:1:", "invalid TOML"),
    ],
)
def test_bad_config_is_a_located_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: str, position: str, fragment: str
) -> None:
    cfg = write(tmp_path / ".dockuni.toml", config)
    path = write(tmp_path / "Dockerfile", SHELL_CMD)
    code, out, err = check(capsys, str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"{cfg}{position} ") and fragment in err
    code, _, err = check(capsys, "--config", str(cfg), str(path))
    assert code == 2 and fragment in err


def test_unknown_target_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, "--targets", "xen", str(BAD / "DU201.Dockerfile"))
    assert code == 2 and "unknown target 'xen'" in err


# --- machine formats ----------------------------------------------------------------------------------


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(
        capsys, "--format", "json", str(BAD / "DU302.Dockerfile"), str(CLEAN / "static-server.Dockerfile")
    )
    data = json.loads(out)
    assert code == 1 and [d["rule"] for d in data] == ["DU302", "DU302"]
    first = data[0]
    assert first["file"] == str(BAD / "DU302.Dockerfile")
    assert (first["span"]["line"], first["span"]["column"]) == (3, 12)
    assert first["severity"] == "warning" and first["targets"] == ["unikraft"]
    assert first["doc"].endswith("docs/rules/DU302.md") and first["hint"]
    assert json.loads(check(capsys, "--format", "json", str(CLEAN / "static-server.Dockerfile"))[1]) == []


def _schema_validator() -> object:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_sarif_validates_against_the_sarif_2_1_0_schema(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = write(tmp_path / "broken.Dockerfile", "FROM scratch\nFROBNICATE now\n")
    files = [str(p) for p in sorted(BAD.glob("*.Dockerfile"))] + [str(broken)]
    code, out, _ = check(capsys, "--format", "sarif", *files)
    assert code == 2
    log = json.loads(out)
    validator = _schema_validator()
    errors = sorted(validator.iter_errors(log), key=str)  # type: ignore[attr-defined]
    assert errors == []
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    ids = [r["id"] for r in driver["rules"]]
    assert ids == sorted(ids) and "DU201" in ids
    assert all(r["helpUri"].endswith(f"docs/rules/{r['id']}.md") for r in driver["rules"])
    results = run["results"]
    assert len(results) == 17  # one per bad fixture, two for DU204, DU302 and DU702
    by_rule = {r["ruleId"]: r for r in results}
    du205 = by_rule["DU205"]
    assert du205["level"] == "error" and ids[du205["ruleIndex"]] == "DU205"
    region = du205["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (4, 7)
    assert by_rule["DU701"]["level"] == "note"
    note = run["invocations"][0]["toolExecutionNotifications"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert note["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_sarif_schema_rejects_a_broken_log() -> None:
    validator = _schema_validator()
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [{"ruleId": "DU201"}]}]}
    assert list(validator.iter_errors(bad))  # type: ignore[attr-defined]


# --- colour on a real terminal --------------------------------------------------------------------------


def _run_on_tty(args: list[str], env: dict[str, str]) -> str:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "transpile.cli", *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            timeout=60,
            check=False,
        )
        os.close(follower)
        follower = -1
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.returncode == 1, proc.stderr
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_colour_only_on_a_terminal_without_no_color() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    fixture = str(BAD / "DU205.Dockerfile")
    assert "\x1b[31;1mERROR\x1b[0m" in _run_on_tty(["check", fixture], env)
    assert "\x1b[" not in _run_on_tty(["check", fixture], {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in _run_on_tty(["check", "--no-color", fixture], env)


# --- the pre-commit hook, run by pre-commit -------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "user.name=test",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_pre_commit_try_repo_runs_the_hook(tmp_path: Path) -> None:
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        pytest.fail("pre-commit is not installed (it is in the test extras)")
    hook_repo = tmp_path / "hook"
    hook_repo.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, hook_repo / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("transpile", "grammar"):
        shutil.copytree(ROOT / name, hook_repo / name, ignore=ignore)
    _git(hook_repo, "init", "-q")
    _git(hook_repo, "add", "-A")
    _git(hook_repo, "commit", "-q", "-m", "hook")
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q")
    shutil.copy2(BAD / "DU205.Dockerfile", project / "Dockerfile")
    shutil.copy2(CLEAN / "static-server.Dockerfile", project / "web.Dockerfile")
    # identify tags Dockerfile.prod and Containerfile `dockerfile` too: the hook must see them
    shutil.copy2(BAD / "DU204.Dockerfile", project / "Dockerfile.prod")
    shutil.copy2(BAD / "DU203.Dockerfile", project / "Containerfile")
    (project / "notes.txt").write_text("CMD nginx\n")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "NO_COLOR": "1"}
    files = ["Dockerfile", "web.Dockerfile", "Dockerfile.prod", "Containerfile", "notes.txt"]
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "dockuni", "--files", *files]
    proc = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Dockerfile:4:7: ERROR DU205" in proc.stdout
    assert "Dockerfile.prod:6:5: ERROR DU204" in proc.stdout
    assert "Containerfile:" in proc.stdout
    assert "notes.txt" not in proc.stdout.split("hook id: dockuni", 1)[1]
    for name in ("Dockerfile", "Dockerfile.prod", "Containerfile"):
        shutil.copy2(CLEAN / "nginx-foreground.Dockerfile", project / name)
    proc = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout
