"""A large ``dockuni check`` batch is split with a forked child; the results must not change."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from transpile import check
from transpile.check import CheckOptions, check_file, run_check
from transpile.rules.registry import all_rules
from transpile.syntax.loader import MAX_FILE_BYTES, read_text

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def _batch(into: Path) -> list[str]:
    """Every fixture Dockerfile (good and bad ones), repeated past PARALLEL_MIN_FILES."""
    sources = [
        p
        for p in sorted((ROOT / "fixtures").rglob("*"))
        if p.is_file() and (p.name in ("Dockerfile", "Containerfile") or p.suffix.lower() == ".dockerfile")
    ]
    out: list[str] = []
    i = 0
    while len(out) < check.PARALLEL_MIN_FILES + 11:
        dest = into / f"{i:04d}.Dockerfile"
        shutil.copyfile(sources[i % len(sources)], dest)
        out.append(str(dest))
        i += 1
    return out


def _sequential(paths: list[str], options: CheckOptions) -> list[check.FileResult]:
    return [check_file(p, options, all_rules(), None, {}) for p in paths]


def _same(a: list[check.FileResult], b: list[check.FileResult]) -> None:
    assert [(r.file, r.findings, r.failure_threshold) for r in a] == [
        (r.file, r.findings, r.failure_threshold) for r in b
    ]
    assert [str(r.error) if r.error else None for r in a] == [str(r.error) if r.error else None for r in b]


@pytest.mark.skipif(not hasattr(os, "fork") or (os.cpu_count() or 1) < 2, reason="needs fork and 2 cores")
def test_split_batch_gives_the_sequential_results(tmp_path: Path) -> None:
    paths = _batch(tmp_path)
    options = CheckOptions(failure_threshold="none")
    result = run_check(paths, options)
    _same(list(result.files), _sequential(paths, options))
    assert result.findings and result.errors  # the fixtures hold both kinds


def test_batch_without_fork_is_checked_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _batch(tmp_path)
    options = CheckOptions()

    def no_fork() -> int:
        raise OSError("fork refused")

    monkeypatch.setattr(os, "fork", no_fork)
    _same(list(run_check(paths, options).files), _sequential(paths, options))


def test_read_text_reads_whole_files_of_any_size(tmp_path: Path) -> None:
    for size in (0, 1, 4095, 4096, 65536, 65537, 300_000):
        path = tmp_path / f"f{size}"
        text = ("RUN echo é\n" * (size // 12 + 1))[:size]
        path.write_text(text, encoding="utf-8", errors="ignore")
        assert read_text(str(path)) == path.read_text(encoding="utf-8")
    assert MAX_FILE_BYTES > 300_000
