"""The command line's conventions (hadolint's and ruff's): help with a description, examples, exit
codes and defaults; ``-`` for standard input; error prefixes only with a real position; one set
of exit codes; warnings for unknown rules in inline ignores; the summary line; colour control."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from transpile.cli import build_parser, main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "fixtures" / "rules" / "bad"
COMMANDS = ("parse", "check", "inspect", "trace", "graph", "convert")


def dockuni(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "transpile.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_has_a_description_examples_exit_codes_and_defaults(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    usage, _, rest = text.partition("\n\n")
    assert usage.startswith(f"usage: dockuni {command}")
    description = rest.split("\n\n", 1)[0]
    assert not description.startswith(("positional arguments", "options")) and len(description) > 40
    examples = text.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples and all(line.strip().startswith(("dockuni ", "cat ")) for line in examples)
    codes = text.split("exit codes:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in codes[:5]] == ["0", "1", "2", "3", "4"]
    assert "(default: " in text and "default: None" not in text and "default: False" not in text
    assert "--no-color" in text


def test_help_shows_the_real_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["convert", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "output directory (default: dockuni-out)" in text
    assert "trace duration in seconds (default: 8.0)" in text


# --- standard input ---------------------------------------------------------------------------


def test_check_reads_standard_input() -> None:
    proc = dockuni("check", "-", stdin=(BAD / "DU204.Dockerfile").read_text())
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("-:6:1: WARNING DU201 ")
    assert proc.stderr == "1 file checked: 1 error, 1 warning\n"


def test_parse_reads_standard_input() -> None:
    proc = dockuni("parse", "--format", "text", "-", stdin="FROM a\nCMD [\"x\"]\n")
    assert (proc.returncode, proc.stdout) == (0, '-:1:1 FROM "a"\n-:2:1 CMD "x"\n')


def test_standard_input_errors_are_located() -> None:
    proc = dockuni("check", "-", stdin="FROM a\nCOPY --frm=x a b\n")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == "-:2:6: Unknown flag: frm"
    proc = dockuni("parse", "-", stdin="FROM a\x00\n")
    assert proc.returncode == 2 and '"line": 1' in proc.stdout


# --- messages and exit codes -------------------------------------------------------------------


def test_missing_file_exits_2_for_parse_and_check_without_a_made_up_position(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    for command in (["parse", "--format", "text"], ["check"]):
        proc = dockuni(*command, missing)
        assert proc.returncode == 2, command
        assert proc.stderr.splitlines()[0] == f"{missing}: no such file"


def test_errors_without_a_file_say_dockuni_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--ignore", "DU999", str(BAD / "DU201.Dockerfile")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dockuni: error: --ignore: unknown rule DU999") and ":0:0" not in err
    assert main(["check", "--targets", "vax", str(BAD / "DU201.Dockerfile")]) == 2
    assert capsys.readouterr().err.startswith("dockuni: error: --targets: unknown target 'vax'")


def test_instruction_errors_exit_2_like_parse_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM scratch\nHEALTHCHECK --interval=abc CMD true\nCMD x\n")
    assert main(["check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f'{path}:2:13: time: invalid duration "abc"',
        "0 files checked: no findings; 1 file could not be checked",
    ]


def test_unknown_rule_in_an_inline_ignore_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM scratch\n# dockuni ignore=DU201, DU20\nCMD x\n# dockuni global ignore=du777\n")
    assert main(["check", str(path)]) == 0  # DU201 is ignored; the typos change no exit code
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}:2:25: warning: unknown rule DU20 in a `dockuni ignore=` comment: it ignores nothing",
        f"{path}:4:25: warning: unknown rule du777 in a `dockuni ignore=` comment: it ignores nothing",
        "1 file checked: no findings",
    ]


def test_summary_counts_each_severity_and_is_not_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(BAD / name) for name in ("DU204.Dockerfile", "DU701.Dockerfile", "DU203.Dockerfile")]
    main(["check", *files])
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("3 files checked: ")
    assert "error" in err.splitlines()[-1] and "info" in err.splitlines()[-1]
    main(["check", "--format", "json", *files])
    assert capsys.readouterr().err == ""
    main(["check", "--format", "sarif", *files])
    assert capsys.readouterr().err == ""


def test_no_color_option_exists_everywhere() -> None:
    for command in COMMANDS:
        args = build_parser().parse_args([command, "--no-color", *_minimal(command)])
        assert args.no_color is True


def _minimal(command: str) -> list[str]:
    if command in ("parse", "check", "convert"):
        return ["Dockerfile"]
    return ["--archive", "x.tar"]
