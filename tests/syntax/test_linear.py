"""The parser's work grows linearly with the length of a line, whatever the line is made of.

Work is counted, not timed: every Python line the parser executes is one event of a trace hook.
The regular expressions the parser applies to whole lines are written so that they cannot
backtrack (greedy classes, anchored at a fixed start), and trimming uses ``str.strip`` with a
character set, so the counted events are a fair measure of the work.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from transpile.errors import DockuniError
from transpile.syntax import parse_text
from transpile.syntax.parser import MAX_LINE_BYTES

pytestmark = pytest.mark.unit

# Each shape makes one long line (or a few, for continuations) of about n characters.
SHAPES: dict[str, Callable[[int], str]] = {
    "blanks then text": lambda n: "RUN a" + " " * n + "b \n",
    "text then blanks": lambda n: "RUN " + "x" * n + " " * 8 + "\n",
    "leading blanks": lambda n: " " * n + "RUN x\n",
    "tabs and vertical tabs": lambda n: "RUN a" + "\t\v" * (n // 2) + "b\t\n",
    "unicode spaces": lambda n: "RUN a" + "\u3000\xa0" * (n // 6) + "b \n",
    "continuation-like backslashes": lambda n: "RUN " + "\\ " * (n // 2) + "x\n",
    "a run of backslashes": lambda n: "RUN " + "\\" * n + "\n",
    "double quotes": lambda n: "RUN " + '"' * n + "\n",
    "single quotes": lambda n: "RUN " + "'" * n + "\n",
    "dollars": lambda n: "RUN " + "$" * n + "\n",
    "dollar braces": lambda n: "RUN <<" + "${" * (n // 2) + "\n",
    "heredoc operators": lambda n: "RUN " + "<<A " * (n // 4) + "\n",
    "flags": lambda n: "COPY " + "--a=b " * (n // 6) + "x y\n",
    "one long flag": lambda n: "COPY --" + "a" * n + " x y\n",
    "an open flag quote": lambda n: 'COPY --"' + " " * n + "\n",
    "JSON array": lambda n: "CMD [" + '"a",' * (n // 4) + '"b"]\n',
    "JSON-like, not JSON": lambda n: "CMD [" + '"a" ' * (n // 4) + "\n",
    "ENV pairs": lambda n: "ENV " + "a=b " * (n // 4) + "\n",
    "ENV legacy value": lambda n: "ENV a " + " " * n + "b \n",
    "an open ENV quote": lambda n: 'ENV a="' + " " * n + "\n",
    "directive with blanks": lambda n: "# syntax=a" + " " * n + "b \nRUN x\n",
    "comment with blanks": lambda n: "# a" + " " * n + "b \nRUN x\n",
    "HEALTHCHECK": lambda n: "HEALTHCHECK CMD a" + " " * n + "b \n",
    "ONBUILD": lambda n: "ONBUILD " + " " * n + "RUN x \n",
    "continued lines": lambda n: "RUN x" + " \\\n" * (n // 3) + "y\n",
    "empty continuation lines": lambda n: "RUN x \\\n" + "\n" * (n // 2) + "y\n",
}


def _work(text: str) -> int:
    """Python lines executed while parsing ``text`` (an error is a result like any other)."""
    events = 0  # calls, lines and returns: each is one event
    with contextlib.suppress(DockuniError):
        parse_text(text)  # untraced first: one-time set-up (grammar tables, caches) is not work

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal events
        events += 1
        return tracer

    sys.settrace(tracer)
    try:
        parse_text(text)
    except DockuniError:
        pass
    finally:
        sys.settrace(None)
    return events


N = MAX_LINE_BYTES // 2 - 64  # the doubled line still fits BuildKit's 64 KiB line limit


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_doubling_the_line_at_most_doubles_the_work(shape: str) -> None:
    make = SHAPES[shape]
    long = make(2 * N)
    assert max(len(line.encode()) for line in long.splitlines()) <= MAX_LINE_BYTES
    small, big = _work(make(N)), _work(long)
    # linear work a*n + b gives at most twice; a quadratic term would give nearly four times
    assert big <= 2.2 * small + 200, (small, big)


def test_the_measure_catches_a_quadratic_trim() -> None:
    """The measure itself: a right trim that rescans the blanks from each position (what a
    ``[ ]+$`` search does) is caught on the first shape."""

    def slow_right_trim(s: str) -> str:
        for i in range(len(s)):
            if all(ch == " " for ch in s[i:]):
                return s[:i]
        return s

    def work(text: str) -> int:
        events = 0

        def tracer(frame: FrameType, event: str, arg: Any) -> Any:
            nonlocal events
            events += 1
            return tracer

        sys.settrace(tracer)
        try:
            slow_right_trim(text)
        finally:
            sys.settrace(None)
        return events

    make = SHAPES["blanks then text"]
    small, big = work(make(400)), work(make(800))
    assert big > 2.2 * small + 200, (small, big)
