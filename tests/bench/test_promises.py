"""bench/promises.py's table: ratios against the container, failures and unemitted targets explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import promises
from bench.benchdoc import write_section

pytestmark = pytest.mark.unit


def _result() -> promises.AppResult:
    res = promises.AppResult("static-pie", "server-variants", "a server", image_bytes=100_000_000)
    res.docker_reply_s = 0.5
    res.verify = {
        "unikraft": {
            "status": "answered",
            "boot_to_reply_s": 0.25,
            "accelerator": "tcg",
            "image_bytes": 1_000_000,
            "memory_mib": 256,
            "detail": "8080: HTTP/1.0 200 OK",
        },
        "osv": {
            "status": "failed",
            "boot_to_reply_s": None,
            "accelerator": "tcg",
            "image_bytes": 5_000_000,
            "memory_mib": 512,
            "detail": "Failed looking up symbol | x",
        },
    }
    res.not_emitted = {"nanos": "fork: the app forks per connection"}
    return res


def test_rows_give_ratios_against_the_container_and_say_why_not() -> None:
    text = promises.render([_result()], "python3 bench/promises.py", 8.0)
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| static-pie | ")}
    assert "0.25 s (0.5x)" in rows["unikraft"] and "1.0 MB (0.010x)" in rows["unikraft"]
    assert "failed" in rows["osv"] and "symbol \\| x" in rows["osv"]  # a pipe in a detail is escaped
    assert "not emitted" in rows["nanos"] and "forks per connection" in rows["nanos"]
    assert "not emitted" in rows["microvm"]
    assert "**tcg**" in text and "python3 bench/promises.py" in text
    assert "1 of 2 booted recipes answered." in text


def test_the_section_replaces_its_own_heading_only(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\n{promises.SECTION}\n\nold\n\n## other\n\nkept\n")
    write_section(promises.SECTION, promises.render([_result()], "cmd", 4.0), doc)
    text = doc.read_text()
    assert "old" not in text and "kept" in text and text.count(promises.SECTION) == 1
