"""BuildKit's shell lexer, both modes: its options, Go's character classes, and the oracle on heredocs.

Expected values marked "lex_test.go" are input/output facts from moby/buildkit
frontend/dockerfile/shell/lex_test.go (TestProcessWithMatches, TestShellParserMandatoryEnvVars).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.oracle import Skip, buildkit
from transpile.syntax.shell_lex import ShellLex, ShellLexError

pytestmark = pytest.mark.unit

# How BuildKit's parser lexes a line for heredocs (v0.12: no pattern forms).
PARSER_RAW = ShellLex(raw_quotes=True, raw_escapes=True, skip_unset_env=True, patterns=False)
PARSER_COOKED = ShellLex(skip_unset_env=True, patterns=False)
EXPAND = ShellLex()


# --- raw mode ---------------------------------------------------------------------------------


def test_raw_mode_keeps_quotes_escapes_and_unset_variables() -> None:
    line = "cat <<'EOF' $A ${B:-x y} \"q $C\" a\\ b"
    assert PARSER_RAW.process_words(line) == ["cat", "<<'EOF'", "$A", "${B:-x", "y}", '"q $C"', "a\\ b"]


def test_raw_quotes_and_raw_escapes_are_independent() -> None:
    word = "'a b'\\c\"d\\\"\""  # 'a b'\c"d\""
    assert ShellLex(raw_quotes=True, skip_unset_env=True).process_word(word) == "'a b'c\"d\"\""
    assert ShellLex(raw_escapes=True, skip_unset_env=True).process_word(word) == "a b\\cd\\\""
    assert ShellLex(skip_unset_env=True).process_word(word) == 'a bcd"'


def test_skip_unset_env_keeps_only_the_unset_names_verbatim() -> None:
    lex = ShellLex(skip_unset_env=True)
    env = {"A": "1", "E": ""}
    assert lex.process_word("$A-$B-${E}-${U}-${U:-d}-${A:+s}", env) == "1-$B--${U}-${U:-d}-s"
    result = lex.process("$A $B", env)
    assert (result.matched, result.unmatched) == ({"A"}, {"B"})


def test_v0_12_has_no_pattern_forms() -> None:
    for word in ("${a#b}", "${a%b}", "${a/b/c}"):
        op = word[3]
        with pytest.raises(ShellLexError, match=re.escape(f"unsupported modifier ({op}) in substitution")):
            PARSER_RAW.process_words(word)
    # v0.13+ with SkipUnsetEnv keeps them verbatim like the other forms, except that lex.go
    # writes ${a//b/c} back with one slash.
    lex = ShellLex(raw_escapes=True, skip_unset_env=True)
    assert lex.process_words("${a#b} ${a%%\\*} ${a//b/c}") == ["${a#b}", "${a%%\\*}", "${a/b/c}"]


def test_v0_12_reads_a_default_word_with_the_callers_raw_escapes() -> None:
    # v0.13+ reads ${v-w}'s word without raw escapes; v0.12 keeps the caller's setting.
    assert PARSER_RAW.process_word("${v:-\\x}") == "${v:-\\x}"
    assert ShellLex(raw_escapes=True, skip_unset_env=True).process_word("${v:-\\x}") == "${v:-x}"


def test_escape_token_backtick() -> None:
    lex = ShellLex("`", raw_escapes=True, skip_unset_env=True)
    assert lex.process_words("C:\\dir `$x a` b") == ["C:\\dir", "`$x", "a` b"]
    assert ShellLex("`").process_word("C:\\dir\\`$x") == "C:\\dir\\$x"


# --- Go's character classes and text/scanner ----------------------------------------------------


@pytest.mark.parametrize("lex", [PARSER_RAW, EXPAND], ids=["raw", "expanding"])
def test_words_split_on_go_white_space_only(lex: ShellLex) -> None:
    assert lex.process_words("a\u0085b\u00a0c\u3000d e") == ["a", "b", "c", "d", "e"]
    expected = ["a\x1cb\x1fc", "$x"] if lex is PARSER_RAW else ["a\x1cb\x1fc"]  # $x unset: ""
    assert lex.process_words("a\x1cb\x1fc $x") == expected


def test_names_are_go_letters_and_decimal_digits() -> None:
    env = {"a": "1", "é": "2", "a²": "no", "1": "p"}
    assert EXPAND.process_word("$a²", env) == "1²"  # ² is a digit to Python, not to Go
    assert EXPAND.process_word("$é-$12x", env) == "2-x"  # a leading digit run is one positional name
    assert EXPAND.process("$12", env).unmatched == {"12"}


@pytest.mark.parametrize("lex", [PARSER_RAW, EXPAND], ids=["raw", "expanding"])
def test_a_byte_order_mark_is_dropped_only_at_the_very_start(lex: ShellLex) -> None:
    assert lex.process_words("\ufeffEOF") == ["EOF"]
    assert lex.process_words("\ufeff'a b'$x") == (["'a b'$x"] if lex is PARSER_RAW else ["a b"])
    assert lex.process_words(" \ufeffx y\ufeff") == ["\ufeffx", "y\ufeff"]


# --- expanding mode: BuildKit's own cases ---------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "env", "expected"),
    [
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x"),
        ("${FOO%%\\**}", {"FOO": "xx**"}, "xx"),
        ("${FOO#*x*y}", {"FOO": "xxyy"}, "y"),
        ("${FOO#*}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy"),
        ("${FOO##*x}", {"FOO": "xxyy"}, "yy"),
        ("${FOO#?\\?}", {"FOO": "???y"}, "?y"),
        ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy."),
        ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a"),
        ("${FOO/$N/.} - ${FOO//$N/.}", {"FOO": "/foo*/*/*.txt", "N": "\\*/"}, "/foo.*/*.txt - /foo..*.txt"),
        ("${FOO/$N/} - ${FOO//$N/}", {"FOO": "/tmp/tmp/bar.txt", "N": "/tmp"}, "/tmp/bar.txt - /bar.txt"),
        ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt"),
        ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy"),
        ("${FOO///}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO///}", {}, ""),
        ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx  ccc"),
        ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa  "),
        ("${VAR?message here$ARG}", {"VAR": "", "ARG": "x"}, ""),
    ],
)
def test_buildkit_lex_test_cases(word: str, env: dict[str, str], expected: str) -> None:  # lex_test.go
    assert EXPAND.process_word(word, env) == expected


@pytest.mark.parametrize(
    ("word", "env", "message"),
    [
        ("${FOO//ww}", {"FOO": "xxyy"}, "syntax error: missing '/' in ${}"),
        ("${FOO//}", {"FOO": "xxyy"}, "syntax error: missing '/' in ${}"),
        ("${FOO=aaa}", {"FOO": "xxx"}, "unsupported modifier (=) in substitution"),
        ("${VAR:?message here$ARG}", {"VAR": "", "ARG": "x"}, "VAR: message herex"),
        ("${VAR?message here$ARG}", {"ARG": "x"}, "VAR: message herex"),
        ("${FOO#\\x}", {"FOO": "x"}, "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
    ],
)
def test_buildkit_lex_test_errors(word: str, env: dict[str, str], message: str) -> None:  # lex_test.go
    with pytest.raises(ShellLexError) as info:
        EXPAND.process_word(word, env)
    assert info.value.message == message


def test_matched_and_unmatched() -> None:  # lex_test.go
    result = EXPAND.process("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""})
    assert result.matched == {"FOO", "BAR"} and result.unmatched == {"BAZ"}
    assert result.words == ("xxx", "ccc")


# --- raw mode against BuildKit's parser (the oracle) ----------------------------------------------

_HEREDOC_WORD = re.compile(r"([0-9]*)<<(-?)([^<]*)")

_delimiter_piece = st.sampled_from(
    ["E", "O", "F", "x", "1", "'", '"', "\\", "$", "${", "}", "{", ":-", "-", "+", "?", " ", "\t", "_",
     "\u00a0", "\x1c", "\ufeff", "é", "$a", "${a}", "${a:-b c}", "'q r'", '"$a s"', "\\ ", "<"]
)
_delimiter = st.lists(_delimiter_piece, min_size=1, max_size=6).map("".join)
_other_word = st.sampled_from(
    ["cat", "/dst", "&&", "x=1", "$HOME", "'a b'", "\"c $d\"", "${e:-f g}", "h\\ i"]
)


@st.composite
def heredoc_line(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(["RUN", "COPY", "ADD", "RUN cat"]))
    words = [head]
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            op = draw(st.sampled_from(["<<", "<<-", "3<<"]))
            words.append(op + draw(_delimiter))
        else:
            words.append(draw(_other_word))
    return " ".join(words) + " end"  # never a trailing escape: that would continue the line


def predicted_heredocs(line: str) -> list[str] | None:
    """The heredoc names BuildKit's parser finds with this lexer; None where it must fail."""
    try:
        words = PARSER_RAW.process_words(line)
    except ShellLexError:
        return []
    names = []
    for word in words:
        m = _HEREDOC_WORD.fullmatch(word)
        if m is None or m.group(3) == "":
            continue
        try:
            cooked = PARSER_COOKED.process_words(m.group(3))
        except ShellLexError:
            return None
        if len(cooked) == 1:
            names.append(cooked[0])
    return names


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(heredoc_line())
def test_raw_mode_finds_the_heredocs_buildkit_finds(line: str) -> None:
    names = predicted_heredocs(line)
    assume("\n" not in line and "\r" not in line)
    # `<<-` strips leading tabs from every body line, the terminator included: a name that starts with a
    # tab can never be matched, so no body written here could end such a heredoc
    assume(not ("<<-" in line and any(n.startswith("\t") for n in names or [])))
    bodies = "".join(f"body\n{name}\n" for name in names or [])
    text = f"FROM scratch\n{line}\n{bodies}"
    try:
        theirs = buildkit(text)
    except Skip:
        assume(False)
    if names is None:
        assert isinstance(theirs, str) and "failed to process" in theirs
        return
    assert not isinstance(theirs, str), theirs
    assert [h.name for h in theirs[1].heredocs] == names


def test_the_oracle_comparison_can_fail() -> None:
    # The quoted space does not split: the heredoc is "E F", and a file ended by another name is
    # an error to BuildKit.
    line = "RUN <<'E F' x"
    assert predicted_heredocs(line) == ["E F"]
    theirs = buildkit(f"FROM scratch\n{line}\nbody\nE F\n")
    assert not isinstance(theirs, str) and [h.name for h in theirs[1].heredocs] == ["E F"]
    assert buildkit(f"FROM scratch\n{line}\nbody\n'E\n") == "unterminated heredoc"
