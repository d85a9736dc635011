"""A content-addressed cache of unpacked layers, so that images sharing a base unpack it once.

Entries are root filesystems after the first k layers of an image, keyed by the OCI chain id of those
layers (image-spec config.md: ChainID(L0) = DiffID(L0), ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " +
DiffID(Ln))), so two images share an entry exactly when their bottom layers are the same content.
Extraction (sources.py) restores the longest cached prefix into its staging directory and applies only
the layers above it; it stores each proper prefix it had to unpack. Entries are copies, never links:
what a later layer or the sandboxed run does to a root filesystem cannot change the cache.

The cache is active inside ``use_layer_cache(DIR)`` (a context variable, so concurrent threads and
worker processes each say for themselves).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from transpile.image.extract import ExtractState, Skipped, remove_tree


def chain_id(diff_ids: Sequence[str]) -> str:
    chain = diff_ids[0]
    for d in diff_ids[1:]:
        chain = "sha256:" + hashlib.sha256(f"{chain} {d}".encode()).hexdigest()
    return chain


@dataclass
class LayerCache:
    root: Path
    reused: int = 0  # layers restored from the cache in this process
    applied: int = 0  # layers unpacked from their tar in this process

    def _entry(self, diff_ids: Sequence[str]) -> Path:
        return self.root / chain_id(diff_ids).replace(":", "-")

    def restore(self, diff_ids: Sequence[str], state: ExtractState) -> int:
        """Copy the longest cached proper prefix of DIFF_IDS into STATE.dest; return how many layers it
        covers (0: nothing cached)."""
        for k in range(len(diff_ids) - 1, 0, -1):
            entry = self._entry(diff_ids[:k])
            meta_path = entry / "meta.json"
            if not meta_path.is_file():
                continue
            meta = json.loads(meta_path.read_text())
            _copy_tree(entry / "rootfs", state.dest)
            state.total_bytes += int(meta["total_bytes"])
            state.entries += int(meta["entries"])
            state.tar_bytes += int(meta["tar_bytes"])
            state.skipped.extend(Skipped(int(s[0]), str(s[1]), str(s[2])) for s in meta["skipped"])
            state.stripped.extend(str(p) for p in meta["stripped"])
            self.reused += k
            return k
        return 0

    def store(self, diff_ids: Sequence[str], state: ExtractState) -> None:
        """Keep a copy of STATE.dest as the root filesystem after DIFF_IDS (no-op when already kept)."""
        entry = self._entry(diff_ids)
        if (entry / "meta.json").is_file():
            return
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".layer-", dir=self.root))
        try:
            (tmp / "rootfs").mkdir()
            _copy_tree(state.dest, tmp / "rootfs")
            meta = {
                "diff_ids": list(diff_ids),
                "total_bytes": state.total_bytes,
                "entries": state.entries,
                "tar_bytes": state.tar_bytes,
                "skipped": [[s.layer, s.name, s.reason] for s in state.skipped],
                "stripped": list(state.stripped),
            }
            (tmp / "meta.json").write_text(json.dumps(meta))
            try:
                os.rename(tmp, entry)
            except OSError:  # another process stored it first: theirs is the same content
                remove_tree(tmp)
        except BaseException:
            remove_tree(tmp)
            raise


def _copy_tree(src: Path, dest: Path) -> None:
    # cp -a keeps owners, modes, times and hard links between files (shutil.copytree keeps neither
    # owners nor hard links); it copies symlinks as symlinks and runs nothing from the image
    cp = shutil.which("cp") or "/bin/cp"
    subprocess.run([cp, "-a", "--reflink=auto", f"{src}/.", str(dest)], check=True, capture_output=True)


_ACTIVE: contextvars.ContextVar[LayerCache | None] = contextvars.ContextVar("layer_cache", default=None)


def current() -> LayerCache | None:
    return _ACTIVE.get()


@contextlib.contextmanager
def use_layer_cache(root: Path) -> Iterator[LayerCache]:
    cache = LayerCache(Path(root))
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)
