"""What the BuildKit oracle cannot show: columns, directives, comments, warnings, heredoc
expand/chomp, ONBUILD trigger flags, error positions, the `# check=` directive, grammar loading."""

from __future__ import annotations

import pytest

from transpile.errors import DockuniError
from transpile.syntax import parse_text
from transpile.syntax.execform import parse_exec_form
from transpile.syntax.grammars import grammar_text

pytestmark = pytest.mark.unit


def _error(text: str) -> DockuniError:
    with pytest.raises(DockuniError) as info:
        parse_text(text, "Dockerfile.test")
    return info.value


def test_nodes_spans_and_columns() -> None:
    parsed = parse_text("FROM alpine AS base\n  RUN echo a \\\n      b\n\tCMD [\"x\"]\n")
    run = parsed.nodes[1]
    assert (run.start_line, run.start_column, run.end_line, run.end_column) == (2, 3, 3, 8)
    assert run.value == ("echo a       b",)
    cmd = parsed.nodes[2]
    assert (cmd.start_line, cmd.start_column, cmd.json, cmd.value) == (4, 2, True, ("x",))


def test_directives_escape_and_comments() -> None:
    parsed = parse_text("# syntax=docker/dockerfile:1\n#ESCAPE = `\n# plain\nFROM a\nRUN x `\n y\n")
    assert parsed.directives == (("syntax", "docker/dockerfile:1"), ("escape", "`"))
    assert parsed.escape == "`"
    assert parsed.nodes[1].value == ("x  y",)
    assert (3, "plain") in parsed.comments


def test_check_directive_is_a_directive() -> None:
    # BuildKit v0.14+ knows `# check=`; an escape directive after it still applies.
    parsed = parse_text("# check=skip=all\n# escape=`\nFROM a\nRUN x `\n y\n")
    assert parsed.directives == (("check", "skip=all"), ("escape", "`"))
    assert parsed.nodes[1].end_line == 5


def test_unknown_directive_ends_directives() -> None:
    parsed = parse_text("# foo=bar\n# escape=`\nFROM a\n")
    assert parsed.directives == () and parsed.escape == "\\"


def test_empty_continuation_lines_warn_like_buildkit() -> None:
    parsed = parse_text("FROM a\nRUN a \\\n\n  b\n")
    assert parsed.nodes[1].value == ("a   b",)
    assert parsed.warnings == (
        "[WARNING]: Empty continuation line found in:\n    RUN a   b",
        "[WARNING]: Empty continuation lines will become errors in a future release.",
    )


def test_heredoc_flags() -> None:
    parsed = parse_text("FROM a\nRUN <<-'EOF' 3<<X cat\n\tbody $HOME\n\tEOF\nx\nX\n")
    first, second = parsed.nodes[1].heredocs
    assert (first.name, first.expand, first.chomp, first.file_descriptor) == ("EOF", False, True, 0)
    assert first.content == "\tbody $HOME\n"  # chomping is the builder's job, not the parser's
    assert (second.name, second.expand, second.chomp, second.file_descriptor) == ("X", True, False, 3)
    assert parsed.nodes[1].end_line == 6
    assert parsed.nodes[1].original == "RUN <<-'EOF' 3<<X cat\n\tbody $HOME\nEOF\nx\nX\n"


def test_onbuild_keeps_trigger_flags_and_heredocs() -> None:
    parsed = parse_text("FROM a\nONBUILD COPY --from=build /a /b\nONBUILD RUN <<EOF\nhi\nEOF\n")
    copy, run = parsed.nodes[1:]
    assert (copy.cmd, copy.sub_cmd, copy.flags, copy.sub_flags, copy.value) == (
        "onbuild", "copy", (), ("--from=build",), ("/a", "/b"))
    assert run.sub_cmd == "run" and run.heredocs[0].content == "hi\n"


def test_cmd_is_lower_case_go_style() -> None:
    # Go's strings.ToLower maps U+0130 to "i", so this is ENTRYPOINT to BuildKit.
    parsed = parse_text("FROM a\nENTRYPOİNT [\"x\"]\n")
    assert parsed.nodes[1].cmd == "entrypoint" and parsed.nodes[1].json


def test_flags_are_walked_byte_by_byte() -> None:
    # BuildKit writes each byte of a flag word as a rune: non-ASCII comes out double-encoded,
    # and U+00E0's second byte (0xA0) counts as a space and ends the word.
    parsed = parse_text("FROM a\nRUN --x=é --y=àb c\n")
    assert parsed.nodes[1].flags == ("--x=Ã©", "--y=Ã")
    assert parsed.nodes[1].value == ("b c",)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("", 1, 1, "file with no instructions"),
        ("# only\n\n", 2, 1, "file with no instructions"),
        ("FROM a\n  ENV onlyname\n", 2, 3, "ENV must have two arguments"),
        ("FROM a\nRUN <<EOF\nno end\n", 2, 1, "unterminated heredoc"),
        ("FROM a\nRUN \\\n   [\"a\", 1]\n", 3, 4,
         "when using JSON array syntax, arrays must be comprised of strings only"),
        ("# escape=`\n# escape=\\\nFROM a\n", 2, 1, "only one escape parser directive can be used"),
        ("FROM a\nRUN " + "x" * 70000 + "\n", 2, 1, "dockerfile line greater than max allowed size of 65535"),
    ],
)
def test_errors_are_located(text: str, line: int, column: int, message: str) -> None:
    err = _error(text)
    assert (err.file, err.line, err.column, err.message) == ("Dockerfile.test", line, column, message)
    assert str(err) == f"Dockerfile.test:{line}:{column}: {message}"
    assert err.exit_code == 2


def test_exec_form_decisions() -> None:
    assert parse_exec_form('["a", "b"]').values == ("a", "b")
    assert parse_exec_form('["a"] trailing').values == ("a",)
    assert parse_exec_form('["a",]').values is None and parse_exec_form('["a",]').error is None
    assert parse_exec_form("[NaN]").values is None
    assert parse_exec_form("[1e999]").error is None  # Go: type error, i.e. shell form
    assert parse_exec_form("[1]").error is not None
    assert parse_exec_form('["\\ud800x", "\\ud83d\\ude00"]').values == ("\ufffdx", "\U0001F600")
    assert parse_exec_form("[" * 10001 + "]" * 10001).values is None  # Go's nesting limit
    assert parse_exec_form("[" * 10000 + "]" * 10000).error is not None


def test_grammars_are_shipped_files() -> None:
    assert "FLAG" in grammar_text("instruction.lark")
    assert "STRING" in grammar_text("exec_form.lark")


@pytest.mark.parametrize(
    ("syntax", "heredocs"),
    [
        (None, True),
        ("docker/dockerfile:1", True),
        ("docker/dockerfile:1.4", True),
        ("docker/dockerfile:1.3-labs", True),
        ("docker/dockerfile:1.2", False),
        ("docker.io/docker/dockerfile:1.3.1", False),
    ],
)
def test_heredocs_follow_the_syntax_directive(syntax: str | None, heredocs: bool) -> None:
    head = f"# syntax={syntax}\n" if syntax else ""
    parsed = parse_text(head + "FROM a\nRUN <<EOF\necho hi\nEOF\n")
    if heredocs:
        assert [n.cmd for n in parsed.nodes] == ["from", "run"]
        assert parsed.nodes[1].heredocs[0].content == "echo hi\n"
    else:
        # An old frontend reads `<<EOF` as plain shell text and the body as instructions.
        assert [n.cmd for n in parsed.nodes] == ["from", "run", "echo", "eof"]
        assert parsed.nodes[1].heredocs == ()
