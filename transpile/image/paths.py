"""Resolve paths *inside* an unpacked root filesystem, never on the host.

Symlinks are followed the way the kernel would inside a chroot at ``rootfs``: absolute link targets
restart from the image root, ``..`` never climbs above it, and more than 40 links (Linux's
``MAXSYMLINKS``) is a loop. The result is always a path under ``rootfs``, so a hostile image cannot
make the host read or write outside it (containerd's layer applier re-roots the same way).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_SYMLINKS = 40


class PathLoopError(Exception):
    """Too many symbolic links while resolving a path inside the image."""


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def resolve_parts(
    rootfs: Path, path: str, *, follow: bool = True, cwd: str = "/"
) -> tuple[list[str], list[str], bool]:
    """Resolve ``path`` inside ``rootfs``.

    Returns ``(parts, links, exists)``: the resolved components below the root, the image paths of the
    symlinks followed on the way (in order), and whether every component exists. Missing components
    are kept literally (callers that create files need that). Raises :class:`PathLoopError`.
    """
    root = str(rootfs)
    todo = _split(path) if path.startswith("/") else _split(cwd) + _split(path)
    todo.reverse()  # a stack: pop() gives the next component
    done: list[str] = []
    links: list[str] = []
    exists = True
    followed = 0
    while todo:
        comp = todo.pop()
        if comp == ".":
            continue
        if comp == "..":
            if done:
                done.pop()
            continue
        host = os.path.join(root, *done, comp)
        if not exists:
            done.append(comp)
            continue
        try:
            st = os.lstat(host)
        except (FileNotFoundError, NotADirectoryError):
            exists = False
            done.append(comp)
            continue
        if stat.S_ISLNK(st.st_mode) and (follow or todo):
            followed += 1
            if followed > MAX_SYMLINKS:
                raise PathLoopError("/" + "/".join([*done, comp]))
            links.append("/" + "/".join([*done, comp]))
            target = os.readlink(host)
            if target.startswith("/"):
                done = []
            rest = _split(target)
            rest.reverse()
            todo.extend(rest)
            continue
        if todo and not stat.S_ISDIR(st.st_mode):
            # a regular file used as a directory: the kernel says ENOTDIR
            exists = False
        done.append(comp)
    return done, links, exists


def resolve_in_root(rootfs: Path, path: str, follow: bool = True, cwd: str = "/") -> Path | None:
    """The host path of image path ``path`` under ``rootfs`` with symlinks resolved inside the root.

    ``follow=False`` leaves a final symlink itself (like ``lstat``). Returns ``None`` when the path does
    not exist in the image or a symlink loop is met. Relative paths are taken from ``cwd``.
    """
    try:
        parts, _links, exists = resolve_parts(rootfs, path, follow=follow, cwd=cwd)
    except PathLoopError:
        return None
    if not exists:
        return None
    return Path(rootfs, *parts)


def image_path(rootfs: Path, host: Path) -> str:
    """The absolute in-image path of a host path under ``rootfs``."""
    rel = PurePosixPath(os.path.relpath(host, rootfs))
    return "/" if str(rel) == "." else "/" + str(rel)


@dataclass(frozen=True)
class ProgramLookup:
    path: str  # the image path found ("" when none); a name with a slash is kept as written
    tried: tuple[str, ...]  # every candidate, in order
    problem: str = ""  # why nothing runnable was found ("" when found)


def lookup_program(rootfs: Path, name: str, path_env: str, workdir: str) -> ProgramLookup:
    """PATH lookup as runc's exec.LookPath and execvp do it, inside the image.

    A name with a slash is taken as it is (relative to WORKDIR); otherwise each PATH entry is tried in
    order (a relative entry is relative to WORKDIR) and the first regular file with an execute bit
    wins; directories and non-executable files are skipped, and the first such reason is reported.
    """
    workdir = workdir or "/"
    if "/" in name:
        candidates = [name if name.startswith("/") else os.path.normpath(os.path.join(workdir, name))]
    else:
        candidates = [
            os.path.join(d, name) if d.startswith("/") else os.path.join(workdir, d or ".", name)
            for d in path_env.split(":")
        ]
    first_problem = ""
    for cand in candidates:
        try:
            parts, _links, exists = resolve_parts(rootfs, cand)
        except PathLoopError:
            first_problem = first_problem or f"{cand}: too many levels of symbolic links"
            continue
        if not exists:
            continue
        st = os.stat(Path(rootfs, *parts))
        if stat.S_ISDIR(st.st_mode):
            first_problem = first_problem or f"{cand} is a directory"
        elif not st.st_mode & 0o111 or not stat.S_ISREG(st.st_mode):
            first_problem = first_problem or f"{cand} is not executable (mode {stat.S_IMODE(st.st_mode):o})"
        else:
            return ProgramLookup(cand, tuple(candidates))
    where = "" if "/" in name else f" in PATH ({path_env})"
    problem = first_problem or f"entrypoint {name!r} not found{where}"
    kept = candidates[0] if "/" in name else ""
    return ProgramLookup(kept, tuple(candidates), problem)
