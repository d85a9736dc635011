"""Kernels for the boot tests, built once from the pinned source archives (the cache makes later
sessions free), and payloads taken from real fixture images."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from transpile import targets as registry
from transpile.runtime import build
from transpile.runtime.payload import Payload, PayloadBuilder

REPO = Path(__file__).resolve().parents[2]


def sources_dir() -> Path:
    env = os.environ.get(build.SOURCES_ENV)
    d = Path(env) if env else (REPO / ".." / "shared" / "unikernels").resolve()
    assert (d / "SOURCES.tsv").is_file(), f"no kernel source archives at {d} (set {build.SOURCES_ENV})"
    return d


@functools.cache
def kernel_dir(name: str) -> Path:
    """NAME's kernel directory: built from the archives on first use, else from the cache."""
    return build.build(registry.kernel_runtimes()[name].build_spec(), sources_dir()).path


@contextlib.contextmanager
def image_payload(
    tag: str,
    argv: Sequence[str],
    ports: Sequence[int],
    *,
    trees: Sequence[str] = (),
    files: Sequence[str] = (),
    workdir: str = "/",
    env: Sequence[tuple[str, str]] = (),
    memory_mib: int = 256,
    closures_under: str = "",
) -> Iterator[Payload]:
    """A payload of the image TAG: the program's loader closure plus FILES and whole TREES, plus the
    library closures of the shared objects under CLOSURES_UNDER (Python's extension modules)."""
    from transpile.image import ImageSource, acquire
    from transpile.passes.closure import compute_closure

    with acquire(ImageSource(kind="image", ref=tag)) as img:
        pb = PayloadBuilder(img.rootfs)
        elfs = [argv[0]]
        if closures_under:
            base = img.rootfs / closures_under.lstrip("/")
            elfs += ["/" + str(f.relative_to(img.rootfs)) for f in sorted(base.glob("*.so"))]
        for elf in elfs:
            for ref in compute_closure(img.rootfs, elf, dict(env)).files:
                assert pb.add(ref.path), ref.path  # with the symlinks on the way (/lib64 -> usr/lib64)
        for f in files:
            assert pb.add(f), f
        for t in trees:
            assert pb.add_tree(t), t
        yield pb.payload(tuple(argv), ports=tuple(ports), workdir=workdir, env=tuple(env),
                         memory_mib=memory_mib)
