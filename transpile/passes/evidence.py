"""Image evidence: from an unpacked root filesystem and the entrypoint/closure passes to the facts the
graph, the verdicts and the emitters read.

Every path is read through the one resolver that keeps it inside the root (image/paths.py); nothing
from the image is executed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

from transpile.elf import ElfError, is_elf, read_elf
from transpile.image.paths import resolve_in_root
from transpile.model.chain import ChainStep, EntrypointChain
from transpile.model.closure import Closure
from transpile.model.image import RuntimeUsage
from transpile.model.static import ElfObject
from transpile.model.trace import TraceFacts

# Where log-file symlinks point when they redirect to the container's output streams.
_STDIO_PREFIXES = ("/dev/stdout", "/dev/stderr", "/dev/stdin", "/proc/self/fd/", "/dev/fd/")
_SKIP_WALK = ("proc", "sys", "dev")
MAX_WALK_ENTRIES = 500_000  # stop scanning for log symlinks in absurdly large images


def stdio_links(rootfs: Path) -> tuple[tuple[str, str], ...]:
    """Symlinks in the image that point at the container's output streams (log redirects)."""
    found: dict[str, str] = {}
    seen = 0
    for dirpath, dirnames, filenames in os.walk(rootfs):
        if Path(dirpath) == rootfs:
            dirnames[:] = [d for d in dirnames if d not in _SKIP_WALK]
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            seen += 1
            if seen > MAX_WALK_ENTRIES:
                return tuple(sorted(found.items()))
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                continue
            target = os.readlink(full)
            if target.startswith(_STDIO_PREFIXES):
                found["/" + os.path.relpath(full, rootfs)] = target
    return tuple(sorted(found.items()))


def _machine(name: str) -> str:
    return "x86_64" if name in ("EM_X86_64", "x86_64") else name


def _program_object(rootfs: Path, path: str) -> ElfObject | None:
    host = resolve_in_root(rootfs, path)
    if host is None or not host.is_file() or not is_elf(host):
        return None
    try:
        facts = read_elf(host, path)
    except ElfError:
        return None
    return ElfObject(
        path=path,
        role="program",
        machine=_machine(facts.machine),
        pie=facts.pie,
        static=facts.static,
        interpreter=facts.interpreter,
        imports=tuple(s.name for s in facts.imported),
        size=facts.size,
    )


def closure_objects(rootfs: Path, program: str, closure: Closure) -> tuple[ElfObject, ...]:
    """The program and every library of its closure, with resolved DT_NEEDED edges and imports."""
    children: dict[str, list[str]] = {}
    for lib in closure.libraries:
        children.setdefault(lib.needed_by, []).append(lib.file.path)
    objects: list[ElfObject] = []
    prog = _program_object(rootfs, program)
    if prog is not None:
        ref = closure.program
        keys = {program, *((ref.path, ref.realpath) if ref else ())}
        needed = tuple(sorted({p for k in keys for p in children.get(k, [])}))
        objects.append(replace(prog, needed=needed))
    for lib in closure.libraries:
        lf = lib.facts
        objects.append(
            ElfObject(
                path=lib.file.path,
                role="library",
                machine="x86_64" if lf is None else _machine(lf.machine),
                static=False,
                needed=tuple(sorted(children.get(lib.file.path, []))),
                imports=tuple(s.name for s in lf.imported) if lf is not None else (),
                size=lib.file.size,
            )
        )
    return tuple(objects)


def chain_steps(chain: EntrypointChain) -> tuple[ChainStep, ...]:
    """Every step of the chain, each script step naming the interpreter that runs it (the next step)."""
    steps = (*chain.steps, *chain.command_steps)
    out = []
    for i, s in enumerate(steps):
        interp = ""
        if s.kind == "script" and i + 1 < len(steps):
            interp = steps[i + 1].where
        out.append(replace(s, interpreter=interp))
    return tuple(out)


def runtime_usage(rootfs: Path, trace: TraceFacts, closure: Closure | None) -> RuntimeUsage:
    """Regular files the app read and directories it listed, as found in the image; and the bytes of
    those the loader's closure does not already count (the program itself is both executed and mapped)."""
    files: set[str] = set()
    dirs: set[str] = set()
    total = 0
    written = {f.path for f in trace.files if f.write}
    counted = closure.resolved_paths() if closure is not None else frozenset()
    for access in trace.files:
        path = access.path
        if not access.found or access.write or path in written or not path.startswith("/"):
            continue
        if path.startswith(("/proc/", "/sys/", "/dev/")) or path in ("/proc", "/sys", "/dev", "/"):
            continue
        host = resolve_in_root(rootfs, path)
        if host is None:
            continue
        try:
            st = host.lstat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            real = "/" + str(host.relative_to(rootfs)) if host.is_relative_to(rootfs) else path
            if path not in files and real not in counted:
                total += st.st_size
            files.add(path)
        elif stat.S_ISDIR(st.st_mode):
            dirs.add(path)
    return RuntimeUsage(tuple(sorted(files)), tuple(sorted(dirs)), total)
