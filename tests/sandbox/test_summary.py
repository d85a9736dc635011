"""The text summary of a trace shows the phases, the shutdown-only and failure-only calls, injections."""

from __future__ import annotations

import pytest

from tests.model.test_trace import _facts
from transpile.sandbox.summary import summary_text

pytestmark = pytest.mark.unit


def test_summary_lists_phases_and_call_classes() -> None:
    text = summary_text(_facts())
    assert "phases:      startup 4 calls, serving 3 calls, shutdown 2 calls" in text
    assert "shutdown-only: rt_sigreturn\n" in text
    assert "failure-only:  getppid(ENOSYS) pkey_alloc(EINVAL)\n" in text
    assert "injected:    getppid:error=ENOSYS (1 call(s))" in text
    assert "injected:    path:/etc/x\n" in text


def test_summary_of_an_old_trace_has_no_phase_lines() -> None:
    text = summary_text(_facts(outcomes={}, injections=()))
    assert "phases:" not in text and "injected:" not in text
