"""Scan progress on stderr: a bar with an ETA on a terminal, one line per image otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, tty: bool | None = None):
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.start = time.monotonic()
        self.converted = 0
        self.converted_seconds = 0.0

    def update(self, record: dict[str, Any], cached: bool) -> None:
        self.done += 1
        if not cached:
            self.converted += 1
            self.converted_seconds = time.monotonic() - self.start
        if record.get("error"):
            outcome = f"error: {record['error']}"
        elif record["best_target"] is None:
            outcome = "static check only"
        else:
            outcome = f"best {record['best_target']}"
        how = "cached" if cached else f"{float(record['seconds']):.1f} s"
        if not self.tty:
            self.stream.write(f"[{self.done}/{self.total}] {record['name']}: {outcome} ({how})\n")
            self.stream.flush()
            return
        width = 30
        filled = width * self.done // max(self.total, 1)
        eta = ""
        if self.converted and self.done < self.total:
            left = (self.total - self.done) * self.converted_seconds / self.converted
            eta = f" ETA {int(left) // 60}:{int(left) % 60:02d}"
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total}{eta}  {record['name'][:40]:<40}")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()
