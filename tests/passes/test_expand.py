"""BuildKit word expansion: the cases of its shell lexer (quotes, escapes, every ${} modifier)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transpile.passes.expand import ExpansionError, expand_word, expand_words, process

pytestmark = pytest.mark.unit

ENV = {"a": "hello", "empty": "", "p": "/usr/local/bin", "sp": "x  y", "n1": "one"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$a", "hello"),
        ("${a}x", "hellox"),
        ("$a$a", "hellohello"),
        ("pre-${a}-post", "pre-hello-post"),
        ("$unset", ""),
        ("${unset}", ""),
        ("$", "$"),
        ("a$", "a$"),
        ("$-x", "x"),  # a special parameter, unset in a build
        ("$1x", "x"),  # positional parameters are looked up (and unset)
        ("$n1", "one"),
        # defaults and alternatives, with and without the colon
        ("${unset:-def}", "def"),
        ("${empty:-def}", "def"),
        ("${a:-def}", "hello"),
        ("${unset-def}", "def"),
        ("${empty-def}", ""),
        ("${a:+alt}", "alt"),
        ("${empty:+alt}", ""),
        ("${empty+alt}", "alt"),
        ("${unset+alt}", ""),
        ("${unset:-$a}", "hello"),
        ("${unset:-${a:+nested}}", "nested"),
        ("${unset:-'q}'}", "q}"),
        # prefix/suffix trimming and substitution
        ("${p#*/}", "usr/local/bin"),
        ("${p##*/}", "bin"),
        ("${p%/*}", "/usr/local"),
        ("${p%%/*}", ""),
        ("${p/local/X}", "/usr/X/bin"),
        ("${p//l/L}", "/usr/LocaL/bin"),
        ("${p/nomatch/X}", "/usr/local/bin"),
        # quoting
        ("'$a'", "$a"),
        ('"$a b"', "hello b"),
        ('"\\$a"', "$a"),
        ('"a\\b"', "a\\b"),  # backslash before an ordinary char stays inside double quotes
        ('"a\\"b"', 'a"b'),
        ("a\\$a", "a$a"),
        ("a\\ b", "a b"),
        ("'it''s'", "its"),
        ('"$sp"', "x  y"),
        ("x\\", "x"),  # a trailing escape disappears
    ],
)
def test_expand_word(word: str, expected: str) -> None:
    assert expand_word(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${unset?must be set}", "unset: must be set"),
        ("${unset?}", "unset: is not allowed to be unset"),
        ("${empty:?}", "empty: is not allowed to be empty"),
        ("${a", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("${:a}", "syntax error: bad substitution"),
        ("${a:=x}", "unsupported modifier (:=) in substitution"),
        ("${a/x}", "syntax error: missing '/' in ${}"),
        ("'open", "unexpected end of statement while looking for matching single-quote"),
        ('"open', "unexpected end of statement while looking for matching double-quote"),
    ],
)
def test_expansion_errors(word: str, message: str) -> None:
    with pytest.raises(ExpansionError) as info:
        expand_word(word, ENV)
    assert info.value.message == message


def test_set_but_empty_passes_the_question_mark_without_colon() -> None:
    assert expand_word("${empty?msg}", ENV) == ""


def test_backtick_escape_directive() -> None:
    # With `# escape=`` the backtick escapes and the backslash is an ordinary character.
    assert expand_word("C:\\dir\\`$a", ENV, escape="`") == "C:\\dir\\$a"
    assert expand_word("`$a$a", ENV, escape="`") == "$ahello"


def test_words_split_after_expansion_but_not_inside_quotes() -> None:
    assert expand_words("80/tcp   $sp '8 0' \"$sp\"", ENV) == ["80/tcp", "x", "y", "8 0", "x  y"]
    assert expand_words("", ENV) == []


def test_matched_and_unmatched_names_are_reported() -> None:
    result = process("$a ${nope:-x} $empty", ENV)
    assert result.matched == {"a", "empty"}
    assert result.unmatched == {"nope"}


# No byte order mark: Go's text/scanner drops one at the start (test_shell_lex.py).
_plain = st.text(
    alphabet=st.characters(blacklist_characters="$'\"\\\ufeff", blacklist_categories=("Cs",)), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(_plain)
def test_text_without_specials_is_unchanged(text: str) -> None:
    assert expand_word(text, ENV) == text


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="'", blacklist_categories=("Cs",)), max_size=40))
def test_single_quotes_keep_everything_literal(text: str) -> None:
    assert expand_word(f"'{text}'", ENV) == text


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), _plain)
def test_defined_variable_expands_in_every_form(name: str, value: str) -> None:
    env = {name: value}
    assert expand_word(f"${{{name}}}", env) == value
    assert expand_word(f'"${{{name}}}"', env) == value
    assert expand_word(f"${{{name}:-zzz}}", env) == (value or "zzz")


# --- where the former expansion followed Python, the lexer now follows Go ---------------------------


@pytest.mark.parametrize(
    ("word", "new"),
    [
        ("a\x1cb", ["a\x1cb"]),  # U+001C is white space to Python only
        ("$a\u00b2", ["hello\u00b2"]),  # a superscript digit is no name character to Go
        ("\ufeff$a", ["hello"]),  # text/scanner drops a leading byte order mark
    ],
)
def test_white_space_names_and_byte_order_mark_follow_go(word: str, new: list[str]) -> None:
    assert expand_words(word, ENV) == new
