"""Real ConversionFacts for the microvm tests: a fixture image unpacked by the image pass, its entrypoint
chain and loader closure, and (optionally) a real sandboxed strace run."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from transpile.model.conversion import ConversionFacts


@dataclass(frozen=True)
class Prepared:
    facts: ConversionFacts
    rootfs: Path


def _program_argv(config_argv: tuple[str, ...], chain: object) -> tuple[str, ...]:
    steps = getattr(chain, "steps", ())
    if config_argv and steps and getattr(steps[0], "path", ""):
        return (steps[0].path, *config_argv[1:])
    return config_argv


@contextlib.contextmanager
def prepared(tag: str, *, trace: bool, duration: float = 6.0) -> Iterator[Prepared]:
    from transpile.image import ImageSource, acquire
    from transpile.passes.closure import compute_closure
    from transpile.passes.entrypoint import resolve_entrypoint

    with acquire(ImageSource(kind="image", ref=tag)) as img:
        config = img.config
        chain = resolve_entrypoint(config, img.rootfs)
        program = chain.program
        closure = None
        if program is not None:
            closure = compute_closure(img.rootfs, program.resolved or program.path, config.env_dict())
        facts_trace = None
        if trace:
            from transpile.sandbox.runner import TraceOptions, run_trace

            facts_trace = run_trace(img.rootfs, config, TraceOptions(duration_s=duration))
        facts = ConversionFacts(
            dockerfile_path=None,
            dockerfile=None,
            image_reference=img.reference,
            config=config,
            argv=_program_argv(config.argv, chain),
            chain=chain,
            closure=closure,
            trace=facts_trace,
            findings=(),
            verdicts=(),
            image_bytes=img.image_bytes,
        )
        yield Prepared(facts, img.rootfs)


def write_recipe(recipe: object, dest: Path) -> Path:
    for rel, data in getattr(recipe, "files", ()):
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for rel in getattr(recipe, "executable", ()):
        (dest / rel).chmod(0o755)
    return dest


def cpio_list(archive: bytes) -> list[str]:
    """The member names of a newc archive, as GNU cpio reads them back."""
    cpio = shutil.which("cpio")
    assert cpio, "GNU cpio is needed (apt install cpio)"
    out = subprocess.run([cpio, "-t", "--quiet"], input=archive, capture_output=True, check=True)
    return out.stdout.decode().splitlines()
