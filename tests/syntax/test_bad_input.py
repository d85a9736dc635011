"""Bad input never produces a traceback: a located one-line error and a documented exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transpile.cli import main
from transpile.errors import DockuniError
from transpile.syntax import MAX_FILE_BYTES, parse_path, parse_text

pytestmark = pytest.mark.unit

ERROR_LINE = re.compile(r"^.+:\d+:\d+: .+$")


def _parse_error(path: Path) -> DockuniError:
    with pytest.raises(DockuniError) as info:
        parse_path(str(path))
    assert info.value.exit_code == 2
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    err = _parse_error(tmp_path / "nope")
    assert str(err) == f"{tmp_path / 'nope'}: no such file"


def test_directory(tmp_path: Path) -> None:
    assert "directory" in _parse_error(tmp_path).message


def test_binary_data_is_located(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM a\nRUN x\x00y\n")
    err = _parse_error(path)
    assert (err.line, err.column) == (2, 6) and "NUL" in err.message


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes("FROM a\nLABEL é=".encode() + b"\xff\n")
    err = _parse_error(path)
    assert (err.line, err.column) == (2, 9) and "0xff" in err.message


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    with path.open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    assert "byte limit" in _parse_error(path).message


def test_ten_megabyte_dockerfile(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    line = "RUN echo " + "x" * 90 + "\n"
    path.write_text("FROM a\n" + line * (10 * 1024 * 1024 // len(line)))
    parsed = parse_path(str(path))
    assert len(parsed.nodes) > 100_000 and parsed.nodes[-1].value == ("echo " + "x" * 90,)


def test_ten_thousand_continuation_lines() -> None:
    text = "FROM a\nRUN true \\\n" + "  && echo step \\\n" * 10_000 + "  && done\n"
    node = parse_text(text).nodes[1]
    assert (node.start_line, node.end_line) == (2, 10_003)
    assert node.value[0].count("&& echo step") == 10_000


def test_unterminated_heredoc_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    heredoc = tmp_path / "heredoc"
    heredoc.write_text("FROM a\nRUN <<EOF\nbody\n")
    jsonish = tmp_path / "json"
    jsonish.write_text('FROM a\nCMD ["unterminated"\n')
    assert main(["parse", str(heredoc), str(jsonish)]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out[0]["error"] == {"line": 2, "column": 1, "message": "unterminated heredoc"}
    # BuildKit treats a broken JSON array as shell form: not an error.
    assert out[1]["error"] is None and out[1]["instructions"][1]["value"] == ['["unterminated"']


def test_usage_error_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["parse"])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda s: s.encode("utf-8", "replace")),
        st.from_regex(r"(FROM a\n)?(RUN|ENV|CMD) [ -~]{0,40}(\n|\r\n)?", fullmatch=True).map(str.encode),
    ),
    fmt=st.sampled_from(["json", "text"]),
)
def test_fuzz_cli_on_arbitrary_bytes(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], data: bytes, fmt: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "Dockerfile"
    path.write_bytes(data)
    code = main(["parse", "--format", fmt, str(path)])
    captured = capsys.readouterr()
    assert code in (0, 1, 2)
    assert "Traceback" not in captured.err
    for line in captured.err.split("\n")[:-1]:
        assert ERROR_LINE.match(line), line
    if fmt == "json":
        result = json.loads(captured.out)
        assert (result[0]["error"] is None) == (code == 0)
    else:
        assert (captured.err == "") == (code == 0)
