"""Instruction validation as BuildKit's instruction parser does it (instructions/parse.go).

The cases come from BuildKit's own tests (frontend/dockerfile/instructions/parse_test.go:
exactly-one/at-least-one/no-destination arguments, TestErrorCases, TestParseOptInterval,
TestRunCmdFlagsUsed), Go's time.ParseDuration tests (time/time_test.go), and the fixtures in
fixtures/validate/, whose first line says what BuildKit reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from transpile.errors import DockuniError
from transpile.syntax import parse_path, parse_text
from transpile.syntax.validate import FLAGS, parse_duration, validate

pytestmark = pytest.mark.unit

FIXTURES = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "validate").glob("*.Dockerfile"))


def _error(text: str) -> DockuniError:
    with pytest.raises(DockuniError) as info:
        validate(parse_text(text, "Dockerfile"))
    return info.value


def _message(line: str) -> str:
    return _error("FROM busybox\n" + line + "\n").message


def test_fixture_corpus_covers_the_cases() -> None:
    assert len(FIXTURES) >= 15


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_reports_what_buildkit_reports(path: Path) -> None:
    parsed = parse_path(str(path))
    expect = parsed.comments[0][1].removeprefix("expect:").strip()
    if expect == "ok":
        validate(parsed)
        return
    with pytest.raises(DockuniError) as info:
        validate(parsed)
    err = info.value
    assert f"{err.line}:{err.column}: {err.message}" == expect
    assert str(err).startswith(f"{path}:")


# --- BuildKit's parse_test.go --------------------------------------------------------------------


@pytest.mark.parametrize("cmd", ["MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL"])
def test_commands_exactly_one_argument(cmd: str) -> None:
    assert _message(cmd) == f"{cmd} requires exactly one argument"


@pytest.mark.parametrize("cmd", ["ENV", "LABEL", "ONBUILD", "HEALTHCHECK", "EXPOSE", "VOLUME"])
def test_commands_at_least_one_argument(cmd: str) -> None:
    assert _message(cmd) == f"{cmd} requires at least one argument"


@pytest.mark.parametrize("cmd", ["ADD", "COPY"])
def test_commands_no_destination_argument(cmd: str) -> None:
    assert _message(cmd + " arg1") == (
        f"{cmd} requires at least two arguments, but only one was provided."
        " Destination could not be determined"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("COPY\t\n\t\tquux \\\n      bar", "COPY requires at least two arguments"),
        ("ONBUILD FROM scratch", "FROM isn't allowed as an ONBUILD trigger"),
        ("MAINTAINER --boo joe@example.com", "Unknown flag: boo"),  # newer: "unknown flag: --boo"
        ("ONBUILD ONBUILD RUN touch foobar", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FOO bar", "unknown instruction: FOO"),
        ("foo bar", "unknown instruction: foo"),
    ],
)
def test_error_cases(line: str, expected: str) -> None:
    assert expected in _message(line)


def test_parse_opt_interval() -> None:
    assert "cannot be less than 1ms" in _message("HEALTHCHECK --interval=50ns CMD true")
    for ok in ("0ms", "1ms"):
        validate(parse_text(f"FROM busybox\nHEALTHCHECK --interval={ok} CMD true\n"))


def test_run_mount_flag_is_known() -> None:
    validate(parse_text("FROM busybox\nRUN --mount=type=tmpfs,target=/foo/ echo hello\n"))


def test_healthcheck_cmd_and_nil_linter_shapes_are_accepted() -> None:
    validate(parse_text("FROM busybox\nHEALTHCHECK CMD hello world\n"))
    # TestNilLinter's shapes must not crash; a few are errors, like in BuildKit.
    for cmd in sorted(FLAGS):
        for tail in (" foo=bar", " a", " a b", " a b c", " 0 0"):
            try:
                validate(parse_text("FROM busybox\n" + cmd.upper() + tail + "\n"))
            except DockuniError as err:
                assert err.line == 2


# --- the cases, and what each flag type wants ----------------------------------------------


@pytest.mark.parametrize(
    ("line", "message", "column"),
    [
        ("COPY --frm=x a b", "Unknown flag: frm", 6),
        ("RUN --from=x true", "Unknown flag: from", 5),
        ("COPY --checksum=sha256:0 a b", "Unknown flag: checksum", 6),
        ("ONBUILD", "ONBUILD requires at least one argument", 1),
        ("ONBUILD --x=1 RUN true", "Unknown flag: x", 9),
        ("HEALTHCHECK --interval=abc CMD true", 'time: invalid duration "abc"', 13),
        ("HEALTHCHECK --interval=10 CMD true", 'time: missing unit in duration "10"', 13),
        ("HEALTHCHECK --timeout=1d CMD true", 'time: unknown unit "d" in duration "1d"', 13),
        ("HEALTHCHECK --retries=x CMD true", 'strconv.ParseInt: parsing "x": invalid syntax', 13),
        (
            "HEALTHCHECK --retries=3000000000 CMD true",
            'strconv.ParseInt: parsing "3000000000": value out of range',
            13,
        ),
        ("HEALTHCHECK --foo=1 CMD true", "Unknown flag: foo", 13),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD", 1),
        ("HEALTHCHECK CMD []", "Missing command after HEALTHCHECK CMD", 1),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments", 1),
        ("HEALTHCHECK EXEC x", 'Unknown type "EXEC" in HEALTHCHECK (try CMD)', 1),
        ("COPY --link=maybe a b", "Expecting boolean value for flag link, not: maybe", 6),
        ("COPY --link= a b", "Missing a value on flag: link", 6),
        ("COPY --from=a --from=b x y", "Duplicate flag specified: from", 6),
        (
            "FROM a AS 1st",
            'invalid name for build stage: "1st", name can\'t start with a number or contain symbols',
            1,
        ),
        ("FROM a b", "FROM requires either one or three arguments", 1),
        ("FROM --platform linux/amd64 a", "FROM requires either one or three arguments", 1),
        ("FROM --plat=x a", "Unknown flag: plat", 6),
        ("VOLUME [\"\"]", "VOLUME specified can not be an empty string", 1),
        ("ARG =x", "ARG names can not be blank", 1),
        ("SHELL sh -c", "SHELL requires the arguments to be in JSON form", 1),
        ("SHELL []", "SHELL requires at least one argument", 1),
        ("COPY a <<EOF\nx\nEOF", "COPY cannot accept a heredoc as a destination", 1),
        ("CMD --x true", "Unknown flag: x", 5),
        ("ENV --x=1 a=b", "Unknown flag: x", 5),
    ],
)
def test_instruction_errors_are_located(line: str, message: str, column: int) -> None:
    err = _error("FROM busybox\n" + line + "\n")
    assert (err.file, err.line, err.column, err.message) == ("Dockerfile", 2, column, message)


def test_flag_on_a_continuation_line_points_at_the_instruction() -> None:
    err = _error("FROM busybox\nCOPY \\\n  --frm=x a b\n")
    assert (err.line, err.column, err.message) == (2, 1, "Unknown flag: frm")


def test_first_error_in_file_order_wins() -> None:
    err = _error("FROM busybox\nFOO x\nCOPY --frm=x a b\n")
    assert (err.line, err.message) == (2, "unknown instruction: FOO")


@pytest.mark.parametrize(
    "line",
    [
        "HEALTHCHECK --interval=5s NONE",  # NONE parses no flags at all
        "HEALTHCHECK --bogus NONE",
        "STOPSIGNAL --bogus SIGTERM",  # STOPSIGNAL and ARG never parse their flags
        "ARG --bogus a",
        "ONBUILD COPY --frm=x a b",  # the trigger is checked when a later build runs it
        "COPY -- --frm=x /dest",  # `--` ends the flags
        "RUN --mount=a --mount=b --network=none --security=insecure --device=x true",
        "COPY --parents --exclude=a --exclude=b --chown=1 --chmod=644 --link a b",
        "ADD --unpack --keep-git-dir --checksum=sha256:0 --exclude=x --link=false a b",
        "HEALTHCHECK --interval=0 --timeout=-0 --start-period=1.5h --start-interval=1ms CMD true",
    ],
)
def test_buildkit_accepts(line: str) -> None:
    validate(parse_text("FROM busybox\n" + line + "\n"))


# --- Go's time.ParseDuration (time_test.go's tables) -------------------------------------------

_S = 1_000_000_000
_MS = 1_000_000
_US = 1_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0), ("5s", 5 * _S), ("30s", 30 * _S), ("1478s", 1478 * _S), ("-5s", -5 * _S),
        ("+5s", 5 * _S), ("-0", 0), ("+0", 0), ("5.0s", 5 * _S), ("5.6s", 5 * _S + 600 * _MS),
        ("5.s", 5 * _S), (".5s", 500 * _MS), ("1.0s", _S), ("1.00s", _S), ("1.004s", _S + 4 * _MS),
        ("1.0040s", _S + 4 * _MS), ("100.00100s", 100 * _S + _MS), ("10ns", 10), ("11us", 11 * _US),
        ("12\u00b5s", 12 * _US), ("12\u03bcs", 12 * _US), ("13ms", 13 * _MS), ("14s", 14 * _S),
        ("15m", 15 * 60 * _S), ("16h", 16 * 3600 * _S), ("3h30m", 3 * 3600 * _S + 30 * 60 * _S),
        ("10.5s4m", 4 * 60 * _S + 10 * _S + 500 * _MS), ("-2m3.4s", -(2 * 60 * _S + 3 * _S + 400 * _MS)),
        ("1h2m3s4ms5us6ns", 3600 * _S + 2 * 60 * _S + 3 * _S + 4 * _MS + 5 * _US + 6),
        ("0.3333333333333333333h", 20 * 60 * _S), ("9007199254740993ns", 2**53 + 1),
        ("9223372036854775807ns", 2**63 - 1), ("9223372036854775.807us", 2**63 - 1),
        ("9223372036s854ms775us807ns", 2**63 - 1), ("-9223372036854775808ns", -(2**63)),
        ("-9223372036854775.808us", -(2**63)), ("-2562047h47m16.854775808s", -(2**63)),
        ("0.100000000000000000000h", 6 * 60 * _S),
        ("0.830103483285477580700h", 49 * 60 * _S + 48 * _S + 372539827),
    ],
)  # fmt: skip
def test_parse_duration(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    "text",
    [
        "", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "9223372036854775810ns",
        "9223372036854775808ns", "-9223372036854775809ns", "9223372036854776us", "3000000h",
        "9223372036854775.808us", "9223372036854ms775us808ns",
    ],
)  # fmt: skip
def test_parse_duration_errors_quote_the_input(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert f'"{text}"' in str(info.value)
