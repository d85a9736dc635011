"""graphviz's `dot`, run to draw a DOT text (the graph's views)."""

from __future__ import annotations

import shutil
import subprocess

from transpile.errors import DockuniError, ExitCode


def render(dot_text: str, fmt: str = "svg") -> bytes:
    """DOT_TEXT rendered by graphviz's `dot` as FMT (svg, png, ...); exit 3 when graphviz is missing."""
    dot = shutil.which("dot")
    if dot is None:
        raise DockuniError(
            "graphviz's `dot` is not installed: use --format dot", file="dot", exit_code=ExitCode.ENVIRONMENT
        )
    proc = subprocess.run(
        [dot, f"-T{fmt}"],
        input=dot_text.encode(errors="replace"),
        capture_output=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise DockuniError(f"dot -T{fmt} failed: {proc.stderr.decode(errors='replace')[:200]}", file="dot")
    return proc.stdout
