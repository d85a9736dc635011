"""Replace one `## ` section of docs/benchmarks.md (or add it at the end), atomically.

Every benchmark writes its own section and leaves the others as they are.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(title: str, text: str, doc: Path = DOCS) -> None:
    """TITLE is the section's heading line (``## ...``); TEXT the whole section, heading included."""
    old = doc.read_text() if doc.exists() else "# Benchmarks\n"
    out: list[str] = []
    skipping = replaced = False
    for line in old.splitlines(keepends=True):
        if line.startswith("## "):
            skipping = line.strip() == title
            if skipping and not replaced:
                out.append(text.rstrip("\n") + "\n\n")  # a blank line before the next heading
                replaced = True
            if skipping:
                continue
        if not skipping:
            out.append(line)
    if not replaced:
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        out.append("\n" + text)
    doc.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=doc.parent, prefix=f".{doc.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(out))
    os.replace(tmp, doc)
