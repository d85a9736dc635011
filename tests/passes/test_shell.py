"""Shell command analysis: quoting honoured, list operators, background jobs, nesting."""

from __future__ import annotations

import re
import shlex

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from transpile.passes.shell import analyze, iter_commands, shell_c_script, unwrap

pytestmark = pytest.mark.unit


def argvs(source: str) -> list[tuple[str, ...]]:
    return [c.argv for c in analyze(source).commands]


def background(source: str) -> list[tuple[str, ...]]:
    return [c.argv for c in analyze(source).commands if c.background]


def test_quoted_ampersand_is_an_argument_not_a_job() -> None:
    script = analyze("echo \"a & b\" 'c & d' e\\&f")
    assert script.parsed
    assert [c.argv for c in script.commands] == [("echo", "a & b", "c & d", "e&f")]
    assert not script.commands[0].background


def test_daemon_off_stays_one_word() -> None:
    assert argvs("nginx -g 'daemon off;'") == [("nginx", "-g", "daemon off;")]
    assert argvs('nginx -g "daemon off; master_process off;"') == [
        ("nginx", "-g", "daemon off; master_process off;")
    ]


def test_list_operators_and_background() -> None:
    script = analyze("a & b; c && d || e | f")
    ops = [(c.argv[0], c.operator_before, c.background, c.in_pipeline) for c in script.commands]
    assert ops == [
        ("a", "", True, False),
        ("b", "&", False, False),
        ("c", ";", False, False),
        ("d", "&&", False, False),
        ("e", "||", False, True),
        ("f", "|", False, True),
    ]


def test_background_inside_groups_and_of_whole_groups() -> None:
    assert background("(redis-server &) ; nginx") == [("redis-server",)]
    assert background("{ a; b; } & c") == [("a",), ("b",)]
    assert background("if true; then worker & fi; server") == [("worker",)]
    assert background("while true; do sleep 1; done &") == [("true",), ("sleep", "1")]
    assert background("f() { a & }; f") == [("a",)]
    assert background("case $1 in a) x & ;; b|c) y;; esac") == [("x",)]


def test_double_ampersand_and_redirections_are_not_background() -> None:
    assert background("a && b >/dev/null 2>&1 &>/tmp/log") == []
    cmd = analyze("exec nginx >/dev/null 2>&1").commands[0]
    assert cmd.argv == ("exec", "nginx")
    assert cmd.redirect_targets == ("/dev/null", "1")


def test_assignments_newlines_comments_and_continuations() -> None:
    script = analyze("FOO=1 BAR=2 exec app --x=1\n# start & stop\nnext \\\n  arg\n")
    assert [c.argv for c in script.commands] == [("exec", "app", "--x=1"), ("next", "arg")]
    assert script.commands[0].assignments == ("FOO=1", "BAR=2")
    assert script.commands[0].program == "app"
    assert script.commands[1].operator_before == "\n"


def test_here_document_body_is_not_parsed_as_commands() -> None:
    script = analyze("cat <<EOF > /etc/x\nserver & client\nEOF\nnginx &\n")
    assert [c.argv for c in script.commands] == [("cat",), ("nginx",)]
    assert background("cat <<-'END'\n\tx & y\n\tEND\nz") == []


def test_substitutions_are_parsed_and_marked() -> None:
    script = analyze('x="$(cat /f & )"; echo `date &` $((1 + 2)) ${v:-d}')
    inner = [c.argv for c in script.commands if c.in_substitution]
    assert inner == [("cat", "/f"), ("date",)]
    echo = next(c for c in script.commands if c.argv and c.argv[0] == "echo")
    assert echo.argv[2:] == ("$((1 + 2))", "${v:-d}")
    assert [c.argv for c in script.top_level()][-1][0] == "echo"


def test_word_offsets_point_into_the_source() -> None:
    source = "apt-get update && apt-get install -y nginx"
    for cmd in analyze(source).commands:
        for word in cmd.words:
            assert source[word.start : word.end] == word.text


def test_quoted_assignment_is_a_command_word() -> None:
    cmd = analyze("'A=1' B=2").commands[0]
    assert cmd.argv == ("A=1", "B=2") and cmd.assignments == ()


def test_reserved_words_only_in_command_position() -> None:
    assert argvs("echo if then fi done") == [("echo", "if", "then", "fi", "done")]
    assert argvs("for x in a b; do echo $x; done") == [("echo", "$x")]


def test_unparsable_script_falls_back_but_respects_quotes() -> None:
    script = analyze("echo 'unterminated & x")
    assert not script.parsed and script.error
    script = analyze("a ;; & b")  # not valid shell
    assert not script.parsed
    assert [c.argv for c in script.commands][-1] == ("b",)


def test_sh_c_scripts_are_followed() -> None:
    assert shell_c_script(["/bin/sh", "-c", "a & b"]) == "a & b"
    assert shell_c_script(["bash", "-ec", "x"]) == "x"
    assert shell_c_script(["exec", "sh", "-c", "y"]) == "y"
    assert shell_c_script(["sh", "script.sh"]) is None
    assert shell_c_script(["python3", "-c", "x"]) is None
    nested = [c.argv for c in iter_commands(analyze("exec sh -c 'redis-server & nginx'"))]
    assert nested == [("exec", "sh", "-c", "redis-server & nginx"), ("redis-server",), ("nginx",)]
    assert [c.background for c in iter_commands(analyze("sh -c 'a & b'"))] == [False, True, False]


def test_unwrap_strips_exec_and_friends() -> None:
    assert unwrap(["exec", "nohup", "nice", "-n", "5", "app", "-x"]) == (
        ("app", "-x"),
        ("exec", "nohup", "nice"),
    )
    assert unwrap(["env", "-i", "A=1", "app"]) == (("app",), ("env",))
    assert unwrap(["gosu", "redis", "redis-server"]) == (("redis-server",), ("gosu",))
    assert unwrap(["sudo", "-u", "www", "nginx"]) == (("nginx",), ("sudo",))


_RESERVED = {
    "if",
    "then",
    "elif",
    "else",
    "fi",
    "while",
    "until",
    "do",
    "done",
    "for",
    "case",
    "esac",
    "function",
}
_word = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(_word, min_size=1, max_size=6))
def test_shlex_quoted_words_round_trip(words: list[str]) -> None:
    # Whatever the words contain (&, ;, quotes, $), shlex.quote makes them literal: one command.
    assume(words[0] not in _RESERVED)  # an unquoted `if` first is a keyword, as in any shell
    source = " ".join(shlex.quote(w) for w in words)
    # shlex leaves `A=` unquoted, and a leading NAME=value word is an assignment in any shell
    assume(re.match(r"[A-Za-z_][A-Za-z0-9_]*=", shlex.quote(words[0])) is None)
    script = analyze(source)
    assert script.parsed
    assert [c.argv for c in script.commands] == [tuple(words)]
    assert not script.commands[0].background
