"""The output directory: checked before any work starts, written all at once at the end.

:func:`check_output_location` refuses, each with one line and exit code 2, every location the final
rename could not use: a pseudo filesystem (/proc, /sys, ...), a read-only or unwritable parent, a missing
parent, an existing non-directory, an existing directory without ``--force``, a mount point (it cannot be
renamed: EBUSY), and the current directory or one of its ancestors.

:func:`atomic_output` yields a fresh directory beside the output to fill; when the block ends normally
the directory takes the output's place in one rename (an old output is swapped out atomically with
``renameat2(RENAME_EXCHANGE)`` where the kernel and filesystem have it, then removed). On any exception,
KeyboardInterrupt included, everything it made is removed and an old output is left as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from transpile.errors import DockuniError

EXIT_USAGE = 2

# Filesystems the kernel synthesises: nothing a user writes can be stored on them (proc(5), sysfs(5)).
PSEUDO_FILESYSTEMS = frozenset(
    {
        "proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "configfs", "pstore",
        "bpf", "fusectl", "efivarfs", "binfmt_misc", "nsfs", "selinuxfs", "devpts", "mqueue", "autofs",
        "rpc_pipefs", "hugetlbfs",
    }
)  # fmt: skip

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h


def _error(path: str, message: str) -> DockuniError:
    return DockuniError(message, file=path, exit_code=EXIT_USAGE)


def _unescape_mountinfo(field: str) -> str:
    # proc(5): spaces, tabs, newlines and backslashes in mountinfo paths are written as octal escapes
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def filesystem_of(path: str) -> tuple[str, str] | None:
    """(mount point, filesystem type) of the mount holding ``path`` (a real, existing path), if known."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    best: tuple[str, str] | None = None
    for line in lines:
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, rfields = left.split(" "), right.split(" ")
        if len(fields) < 5 or not rfields:
            continue
        mnt = _unescape_mountinfo(fields[4])
        inside = path == mnt or mnt == "/" or path.startswith(mnt.rstrip("/") + "/")
        # later lines are mounted over earlier ones at the same point
        if inside and (best is None or len(mnt) >= len(best[0])):
            best = (mnt, rfields[0])
    return best


def _nearest_existing(path: str) -> str:
    cur = path
    while not os.path.lexists(cur):
        parent = os.path.dirname(cur)
        if parent == cur:
            break
        cur = parent
    return cur


def _is_mount_point(path: str) -> bool:
    if os.path.ismount(path):
        return True
    # a bind mount of a directory from the same filesystem shares st_dev: ask mountinfo
    fs = filesystem_of(os.path.realpath(path))
    return fs is not None and fs[0] == os.path.realpath(path)


def check_output_location(path: str | os.PathLike[str], force: bool) -> None:
    """Refuse an output location the final rename cannot use, before any work starts.

    Raises :class:`DockuniError` (exit code 2, one line) naming what is wrong and what to do.
    """
    given = os.fspath(path)
    absolute = os.path.abspath(given)  # lexical: `-o link/..` means what the user typed
    real = os.path.realpath(absolute)
    cwd = os.path.realpath(os.getcwd())
    if cwd == real or cwd.startswith(real.rstrip("/") + "/"):
        where = "the current directory" if cwd == real else "an ancestor of the current directory"
        raise _error(given, f"the output is {where}: name a new directory, e.g. -o dockuni-out")

    existing = _nearest_existing(real)
    fs = filesystem_of(existing)
    if fs is not None and fs[1] in PSEUDO_FILESYSTEMS:
        raise _error(given, f"{fs[0]} is a {fs[1]} pseudo filesystem, which cannot hold an output directory")
    if fs is None and (real in ("/proc", "/sys") or real.startswith(("/proc/", "/sys/"))):
        top = real.split("/")[1]
        raise _error(given, f"/{top} is a pseudo filesystem, which cannot hold an output directory")

    parent = os.path.dirname(real)
    try:
        st = os.lstat(absolute)
    except (FileNotFoundError, NotADirectoryError):  # the parent checks below say which
        st = None
    except OSError as err:
        raise _error(given, f"cannot use the output location: {err.strerror}") from err
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise _error(given, "the output is a symbolic link: name the directory itself")
        if not stat.S_ISDIR(st.st_mode):
            raise _error(given, "the output exists and is not a directory")
        if not force:
            raise _error(given, "the output directory exists (use --force to replace it)")
        if _is_mount_point(real):
            raise _error(
                given,
                "the output directory is a mount point, which cannot be replaced: "
                f"name a directory inside it, e.g. -o {os.path.join(given, 'dockuni-out')}",
            )
    if not os.path.isdir(parent):
        if os.path.lexists(parent):
            raise _error(given, f"the output's parent {parent} is not a directory")
        raise _error(given, f"the output's parent {parent} does not exist: mkdir -p {parent}")
    try:
        if os.statvfs(parent).f_flag & os.ST_RDONLY:
            raise _error(given, f"the output's parent {parent} is on a read-only filesystem")
    except OSError as err:
        raise _error(given, f"cannot use the output's parent {parent}: {err.strerror}") from err
    # The rename needs a directory of ours beside the output: make one now and remove it.
    try:
        probe = tempfile.mkdtemp(prefix=f".{os.path.basename(real)}.check-", dir=parent)
    except OSError as err:
        why = "read-only filesystem" if err.errno == errno.EROFS else err.strerror
        raise _error(given, f"cannot create files in the output's parent {parent}: {why}") from err
    os.rmdir(probe)


def _force_writable(func: Callable[..., Any], path: str, exc: Any) -> None:
    # a directory the output made read-only (an image's 0555 dir in a recipe): allow removal, retry once
    parent = os.path.dirname(path)
    with contextlib.suppress(OSError):
        os.chmod(parent, 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _remove_tree(path: str) -> None:
    if os.path.lexists(path):
        shutil.rmtree(path, onerror=_force_writable)


def _exchange(a: str, b: str) -> bool:
    """Swap two paths atomically (renameat2 RENAME_EXCHANGE); False where the kernel or fs cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):  # not glibc >= 2.28
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], force: bool) -> Iterator[Path]:
    """Yield an empty directory to fill; at the end it replaces ``path`` in one step.

    ``path`` must have passed :func:`check_output_location`. The directory is made beside ``path`` (the
    same filesystem, so the final rename is atomic). An old output at ``path`` is replaced only with
    ``force`` and is removed after the swap; no ``.NAME.tmp-*`` or ``.NAME.old-*`` entry stays behind,
    whatever happens.
    """
    given = os.fspath(path)
    target = os.path.abspath(given)
    parent, name = os.path.split(target)
    try:
        tmp = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    except OSError as err:
        raise _error(given, f"cannot create the output beside it in {parent}: {err.strerror}") from err
    old: str | None = None
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700
        try:
            if not os.path.lexists(target):
                os.rename(tmp, target)
                tmp = ""
            elif not force:
                raise _error(given, "the output directory exists (use --force to replace it)")
            elif not os.path.isdir(target) or os.path.islink(target):
                raise _error(given, "the output exists and is not a directory")
            elif _exchange(tmp, target):
                old, tmp = tmp, ""  # the temp name now holds the old output
            else:  # two renames; the old output goes back if the second fails
                old = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
                os.rename(target, os.path.join(old, name))
                try:
                    os.rename(tmp, target)
                except BaseException:
                    os.rename(os.path.join(old, name), target)
                    raise
                tmp = ""
        except OSError as err:
            why = "it is a mount point" if err.errno == errno.EBUSY else err.strerror
            raise _error(given, f"cannot put the output in place: {why}") from err
    finally:
        # on success: the old output; on any error or KeyboardInterrupt: the new one
        for leftover in (tmp, old):
            if leftover:
                _remove_tree(leftover)
