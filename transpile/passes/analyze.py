"""The static analysis of an acquired image: merged config, entrypoint chain, every ELF of the chain
with its loader closure, and the evidence the graph and the verdicts read.

One pass for every command that looks at an image (inspect, graph, convert, scan). Everything is read
through the resolver that keeps paths inside the root; nothing from the image runs.
"""

from __future__ import annotations

from pathlib import Path

from transpile.elf import ElfError, read_elf
from transpile.image.merge import merge_config
from transpile.image.paths import resolve_in_root
from transpile.ir import Dockerfile
from transpile.model.closure import Closure
from transpile.model.elf import ElfFacts
from transpile.model.image import AcquiredImage, ImageAnalysis
from transpile.model.static import ElfObject, StaticEvidence
from transpile.passes import evidence
from transpile.passes.closure import compute_closure
from transpile.passes.entrypoint import resolve_entrypoint


def analyze(
    img: AcquiredImage, df: Dockerfile | None, dockerfile_path: str = "", user_span: str = ""
) -> ImageAnalysis:
    """Analyze IMG (and compare its config with DF, the Dockerfile that built it, when known)."""
    config, differences = merge_config(img.config, df)
    chain = resolve_entrypoint(config, img.rootfs)
    env = config.env_dict()
    closures: list[Closure] = []
    elfs: dict[str, ElfFacts] = {}
    unreadable: list[tuple[str, str]] = []
    program_closure: Closure | None = None
    program = chain.program
    for step in chain.elfs:
        host = resolve_in_root(img.rootfs, step.resolved) if step.resolved else None
        try:
            if host is None:
                raise ElfError(f"{step.path}: not found in the image")
            facts = read_elf(host, step.resolved)
        except ElfError as err:
            unreadable.append((step.path, str(err)))
            continue
        elfs.setdefault(facts.path, facts)
        closure = compute_closure(img.rootfs, step.path, env)
        closures.append(closure)
        if program is not None and step is program and step.path == (step.resolved or step.path):
            program_closure = closure
        for lib in closure.libraries:
            if lib.facts is not None:
                elfs.setdefault(lib.file.realpath, lib.facts)
    objects: tuple[ElfObject, ...] = ()
    missing: tuple[str, ...] = ()
    if program is not None:
        prog_path = program.resolved or program.path
        if program_closure is None:  # keyed by the resolved path, which the recipes ship
            program_closure = compute_closure(img.rootfs, prog_path, env)
        objects = evidence.closure_objects(img.rootfs, prog_path, program_closure)
        missing = tuple(f"{m.name} (needed by {m.needed_by}): {m.reason}" for m in program_closure.missing)
    static = StaticEvidence(
        argv=config.argv,
        chain=evidence.chain_steps(chain),
        objects=objects,
        missing_libraries=missing,
        stdio_symlinks=evidence.stdio_links(img.rootfs),
        user=config.user,
        architecture=config.architecture,
        dockerfile=dockerfile_path,
        user_span=user_span,
        workdir=config.working_dir,
    )
    return ImageAnalysis(
        source=img.source,
        reference=img.reference,
        config=config,
        image_bytes=int(img.image_bytes),
        chain=chain,
        closure=program_closure,
        static=static,
        differences=tuple(differences),
        closures=tuple(closures),
        elfs=tuple(elfs.values()),
        unreadable=tuple(unreadable),
        warnings=tuple(img.warnings),
    )


def rootfs_usage(rootfs: Path) -> tuple[int, int]:
    """(bytes, files) of regular files under ``rootfs``, counting hard-linked inodes once."""
    import os
    import stat

    total = files = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, _dirs, names in os.walk(rootfs):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            if not stat.S_ISREG(st.st_mode):
                continue
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += st.st_size
            files += 1
    return total, files
