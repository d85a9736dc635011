"""Hypothesis strategies that compose Dockerfiles from the parser's sharp edges.

Each generated file mixes real and unknown instructions in any case, `--flags` with quoting and
escapes, shell/JSON forms (valid, invalid, non-string, trailing text), ENV/LABEL/ARG word
forms, heredoc operators followed (or not) by bodies and terminators, continuation lines with
either escape character, comment and empty lines inside continuations, directives, CRLF, a BOM,
Go-vs-Python whitespace (U+0085, U+00A0, U+001C) and plain garbage.
"""

from __future__ import annotations

from hypothesis import strategies as st

KEYWORDS = [
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
    "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
]

_weird_space = st.sampled_from([" ", "\t", "  ", "\u00a0", "\u0085", "\x1c", "\v", "\f", "\u3000"])
_word = st.text(alphabet="abcxyz019_./:-=é$", min_size=1, max_size=6)
_json_string = st.sampled_from(['"a"', '"b c"', '""', '"\\u00e9"', '"\\ud83d\\ude00"', '"\\ud800"',
                                '"x\\"y"', '"\\\\"', '"\\n"'])
_json_other = st.sampled_from(["1", "1e999", "-0.5", "true", "null", "{}", '{"a":1}', '["a"]', "NaN"])


@st.composite
def json_form(draw: st.DrawFn) -> str:
    items = draw(st.lists(st.one_of(_json_string, _json_string, _json_other), max_size=3))
    sep = draw(st.sampled_from([",", ", ", " , "]))
    text = "[" + sep.join(items) + "]"
    mutate = draw(st.integers(0, 9))
    if mutate == 0:
        text = text[:-1]  # unterminated
    elif mutate == 1:
        text += draw(st.sampled_from([" x", "]", "tail", ","]))  # ignored by Go's decoder
    elif mutate == 2 and len(items) > 0:
        text = text[:-1] + ",]"  # trailing comma
    elif mutate == 3:
        text = text.replace('"', "'")
    return text


_heredoc_op = st.builds(
    lambda fd, dash, name: f"{fd}<<{dash}{name}",
    st.sampled_from(["", "", "3", "10"]),
    st.sampled_from(["", "", "-"]),
    st.sampled_from(["EOF", "EOF", "'EOF'", '"EOF"', "E\\OF", "E'O'F", "$X", '"E F"', "END", "EOF;"]),
)

_HEREDOC_HEADS = ["RUN ", "COPY ", "ADD ", "ONBUILD RUN ", "RUN cat ", "run\t", "CMD "]

# (how the delimiter is written, the terminator line that closes it)
_DELIMITERS = [("EOF", "EOF"), ("'EOF'", "EOF"), ('"EOF"', "EOF"), ("E\\OF", "EOF"), ("E'O'F", "EOF"),
               ("$X", "$X"), ('"E F"', "E F"), ("END", "END"), ("EOF;", "EOF;"), ("''", ""),
               ("E${a}F", "E${a}F"), ("${a:-x y}", "${a:-x"), ('"E\\\\F"', "E\\F")]

_flag = st.builds(
    lambda name, value: f"--{name}{value}",
    st.sampled_from(["mount", "from", "chown", "network", "platform", "interval", "x", ""]),
    st.sampled_from(["", "=a", "=type=cache,target=/c", "='a b'", '="a b"', "=\\ x", "=é", "=à", '="open']),
)

_atom = st.one_of(
    _word,
    _word,
    _word,
    st.just(" "),
    st.just(" "),
    _weird_space,
    st.sampled_from([" ", " ", "\\", "`", '"', "'", "#", "=", "$", "&&", ";", "NONE", "CMD", "AS",
                     "\\\\", "\\ "]),
    st.sampled_from(["${Y}", "${Z:-w v}", "${A/b/c}", "${a%%s}", "${a#p}", "${a:x}", "${a:-\\x}", "$1"]),
    json_form(),
    st.integers(0, 5).flatmap(lambda n: _heredoc_op if n == 0 else st.just(" ")),
)


@st.composite
def instruction_line(draw: st.DrawFn) -> str:
    kw = draw(st.one_of(st.sampled_from(KEYWORDS), st.sampled_from(["run", "Copy", "FOO", "", "ENTRYPOİNT"])))
    if kw == "ONBUILD" and draw(st.booleans()):
        kw += " " + draw(st.sampled_from(["RUN", "COPY", "ADD", "ONBUILD", "CMD", "ENV"]))
    parts = [kw]
    if draw(st.integers(0, 9)) > 0:
        parts.append(draw(st.sampled_from([" ", "\t", "  "])))
    if draw(st.integers(0, 2)) == 0:
        parts += draw(st.lists(st.tuples(_flag, st.sampled_from([" ", " ", "\t"])).map("".join), max_size=2))
    parts += draw(st.lists(_atom, max_size=6))
    line = "".join(parts)
    if draw(st.integers(0, 4)) == 0:
        line = draw(_weird_space) + line
    return line


@st.composite
def dockerfile_text(draw: st.DrawFn) -> str:
    """A whole file; a third of the time with BuildKit's parser directives on top."""
    escape = "\\"
    lines: list[str] = []
    if draw(st.integers(0, 2)) == 0:
        for _ in range(draw(st.integers(1, 2))):
            directive = draw(st.sampled_from(
                ["# escape=`", "# escape=\\", "#syntax=docker/dockerfile:1", " # ESCAPE = ` ", "# escape=x",
                 "# foo=bar", "#", "# syntax = x ", "#Escape=\\"]
            ))
            lines.append(directive)
            if "`" in directive and not escape_seen(lines[:-1]):
                escape = "`"
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.integers(0, 9))
        if kind <= 4:
            lines.append(draw(instruction_line()))
        elif kind == 5:
            # a continuation, sometimes with comment / empty lines in between
            lines.append(draw(instruction_line()) + draw(st.sampled_from([escape, escape + " ", escape + "\t",
                                                                          "\\", "`"])))
            for _ in range(draw(st.integers(0, 2))):
                lines.append(draw(st.sampled_from(["# in between", "  # in between", "", "   ", "\t"])))
        elif kind == 6:
            # a heredoc instruction with its bodies and terminators (mostly right, sometimes not)
            docs = draw(st.lists(st.sampled_from(_DELIMITERS), min_size=1, max_size=2))
            ops = " ".join(draw(st.sampled_from(["<<", "3<<", "<<-"])) + spelled for spelled, _ in docs)
            head = draw(st.sampled_from(_HEREDOC_HEADS))
            lines.append(head + ops + draw(st.sampled_from(["", " /dst", " && x"])))
            for _, term in docs:
                lines += draw(st.lists(st.sampled_from(["body", "\tindented", "$HOME", "", "# not a comment",
                                                        "EOF "]), max_size=3))
                if draw(st.integers(0, 7)) > 0:
                    lines.append(draw(st.sampled_from([term, term, "\t" + term, term + "\r"])))
        elif kind == 7:
            lines.append(draw(st.sampled_from(["# comment", "  # indented comment", "", " ", "\t"])))
        elif kind == 8:
            lines.append(draw(st.sampled_from(["EOF", "\tEOF", "[", "]", "=", "--x"])))
        else:
            lines.append(draw(st.text(max_size=12).filter(lambda s: "\x00" not in s)))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = newline.join(lines)
    if draw(st.booleans()):
        text += newline
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    return text


def escape_seen(lines: list[str]) -> bool:
    return any("escape" in ln.lower() for ln in lines)
