"""A deterministic cpio "newc" writer and the safe collection of image files into an initramfs.

Format: the kernel's ``Documentation/driver-api/early-userspace/buffer-format.rst`` ("newc": magic
``070701``, 13 eight-digit hex fields, NUL-terminated name padded to 4 bytes, data padded to 4 bytes,
ended by ``TRAILER!!!``). Determinism: entries sorted by name, inode numbers assigned in that order,
uid/gid 0, nlink 1 for files (hard links become copies), mtime 0 except that a regular file taken
from the image keeps the image's mtime (an input, not the build time: Python's timestamp-checked
``.pyc`` files compare it with their source's, and recompile under emulation when it differs), so
identical input gives byte-identical archives. The kernel unpacks several concatenated archives in
order, which is how kernel modules for a stock kernel are added on top of the kernel-independent
app archive.

Image files are read from an unpacked rootfs without ever leaving it: each path is resolved one
component at a time, symlinks (absolute ones relative to the rootfs) are followed inside the root and
recorded as symlink entries, so the archive reproduces the image's layout (Debian's /lib -> usr/lib).
Nothing here executes image content.
"""

from __future__ import annotations

import lzma
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from transpile.image.paths import PathLoopError, resolve_parts


@dataclass(frozen=True)
class CpioEntry:
    name: str  # path inside the archive, no leading slash ("usr/bin/python3")
    mode: int  # st_mode with the file-type bits
    data: bytes = b""  # file content, or the symlink target
    rdevmajor: int = 0
    rdevminor: int = 0
    mtime: int = 0  # the image file's own mtime for regular files (see the module docstring)

    @property
    def kind(self) -> str:
        if stat.S_ISDIR(self.mode):
            return "dir"
        if stat.S_ISLNK(self.mode):
            return "symlink"
        if stat.S_ISCHR(self.mode):
            return "chardev"
        return "file"


def directory(name: str, perm: int = 0o755) -> CpioEntry:
    return CpioEntry(name.strip("/"), stat.S_IFDIR | perm)


def regular(name: str, data: bytes, perm: int = 0o644, mtime: int = 0) -> CpioEntry:
    return CpioEntry(name.strip("/"), stat.S_IFREG | perm, data, mtime=mtime)


def symlink(name: str, target: str) -> CpioEntry:
    return CpioEntry(name.strip("/"), stat.S_IFLNK | 0o777, target.encode())


def chardev(name: str, major: int, minor: int, perm: int = 0o600) -> CpioEntry:
    return CpioEntry(name.strip("/"), stat.S_IFCHR | perm, b"", major, minor)


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


def _header(ino: int, entry: CpioEntry, namesize: int) -> bytes:
    fields = (
        ino,
        entry.mode,
        0,  # uid
        0,  # gid
        2 if stat.S_ISDIR(entry.mode) else 1,  # nlink
        entry.mtime,
        len(entry.data),
        0,  # devmajor
        0,  # devminor
        entry.rdevmajor,
        entry.rdevminor,
        namesize,
        0,  # check (only for the "crc" format)
    )
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def with_parents(entries: Iterable[CpioEntry]) -> list[CpioEntry]:
    """The entries plus a directory entry for every missing parent, later duplicates dropped."""
    by_name: dict[str, CpioEntry] = {}
    for e in entries:
        if e.name and e.name not in by_name:
            by_name[e.name] = e
    for name in list(by_name):
        parent = os.path.dirname(name)
        while parent and parent not in by_name:
            by_name[parent] = directory(parent)
            parent = os.path.dirname(parent)
    return sorted(by_name.values(), key=lambda e: e.name)


def newc(entries: Iterable[CpioEntry]) -> bytes:
    """A complete newc archive of ENTRIES (parents added, sorted by name, trailer appended)."""
    out = bytearray()
    ino = 0
    for ino, entry in enumerate(with_parents(entries), start=1):
        name = entry.name.encode() + b"\0"
        out += _header(ino, entry, len(name))
        out += name + _pad4(110 + len(name))
        out += entry.data + _pad4(len(entry.data))
    trailer = b"TRAILER!!!\0"
    out += _header(ino + 1, CpioEntry("TRAILER!!!", 0), len(trailer))
    out += trailer + _pad4(110 + len(trailer))
    return bytes(out)


class RootfsReader:
    """Reads paths out of an unpacked image rootfs, never leaving it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: dict[str, CpioEntry] = {}
        self.missing: list[str] = []

    def resolve(self, path: str) -> str | None:
        """The symlink-free path (relative to the root) PATH names, recording every symlink crossed.

        Resolution is image/paths.py's, the one resolver that keeps every path inside the root."""
        try:
            parts, links, exists = resolve_parts(self.root, path)
        except PathLoopError:
            return None
        for link in links:  # kept even when the path ends nowhere: the link itself is in the image
            rel = link.lstrip("/")
            self.entries.setdefault(rel, symlink(rel, os.readlink(self.root / rel)))
        if not exists:
            return None
        return "/".join(parts)

    def _record_dirs(self, rel: str) -> None:
        parent = os.path.dirname(rel)
        while parent and parent not in self.entries:
            st = os.lstat(self.root / parent)
            self.entries[parent] = directory(parent, stat.S_IMODE(st.st_mode))
            parent = os.path.dirname(parent)

    def add(self, path: str, *, recursive: bool = False) -> bool:
        """Add PATH (and the symlinks leading to it); a directory's content only when RECURSIVE."""
        rel = self.resolve(path)
        if rel is None:
            self.missing.append(path)
            return False
        if rel == "":
            if recursive:
                self._add_tree("")
            return True
        self._record_dirs(rel)
        st = os.lstat(self.root / rel)
        perm = stat.S_IMODE(st.st_mode)
        if stat.S_ISREG(st.st_mode):
            if rel not in self.entries:
                self.entries[rel] = regular(rel, (self.root / rel).read_bytes(), perm, int(st.st_mtime))
        elif stat.S_ISDIR(st.st_mode):
            self.entries.setdefault(rel, directory(rel, perm))
            if recursive:
                self._add_tree(rel)
        # devices, FIFOs and sockets are not copied: the init mounts devtmpfs on /dev
        return True

    def _add_tree(self, rel: str) -> None:
        for child in sorted(os.listdir(self.root / rel) if rel else os.listdir(self.root)):
            child_rel = f"{rel}/{child}" if rel else child
            st = os.lstat(self.root / child_rel)
            if stat.S_ISLNK(st.st_mode):
                self.entries.setdefault(child_rel, symlink(child_rel, os.readlink(self.root / child_rel)))
            elif stat.S_ISDIR(st.st_mode):
                self.entries.setdefault(child_rel, directory(child_rel, stat.S_IMODE(st.st_mode)))
                self._add_tree(child_rel)
            elif stat.S_ISREG(st.st_mode) and child_rel not in self.entries:
                self.entries[child_rel] = regular(
                    child_rel,
                    (self.root / child_rel).read_bytes(),
                    stat.S_IMODE(st.st_mode),
                    int(st.st_mtime),
                )


def collect(
    rootfs: Path, paths: Iterable[str], trees: Iterable[str] = ()
) -> tuple[list[CpioEntry], tuple[str, ...]]:
    """Entries for PATHS (and whole directory TREES) taken from ROOTFS, plus the paths not found."""
    reader = RootfsReader(rootfs)
    for p in sorted(set(paths)):
        reader.add(p)
    for t in sorted(set(trees)):
        reader.add(t, recursive=True)
    return list(reader.entries.values()), tuple(reader.missing)


def write_atomic(dest: Path, data: bytes, mode: int = 0o644) -> None:
    """Write DATA to DEST through a temp file in the same directory, then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise


# --- kernel modules for a stock (modular) kernel; these come from the host's kernel package --------


def module_closure(modules_dir: Path, names: Iterable[str]) -> list[str]:
    """Relative .ko paths for NAMES and everything they depend on, dependencies first (modules.dep)."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        if ":" not in line:
            continue
        mod, rest = line.split(":", 1)
        deps[mod] = rest.split()
        base = os.path.basename(mod).split(".ko")[0]
        by_name[base] = mod
        by_name[base.replace("-", "_")] = mod
    order: list[str] = []

    def visit(mod: str) -> None:
        if mod in order:
            return
        for dep in reversed(deps.get(mod, [])):  # modules.dep lists the deepest dependency last
            visit(dep)
        order.append(mod)

    for name in names:
        found = by_name.get(name) or by_name.get(name.replace("-", "_"))
        if found is None:
            raise KeyError(f"kernel module {name} not in {modules_dir}/modules.dep")
        visit(found)
    return order


def modules_archive(modules_dir: Path, names: Iterable[str]) -> bytes:
    """A newc archive with the modules at /.dockuni/modules/NN-name.ko and their load order."""
    entries: list[CpioEntry] = []
    order_lines: list[str] = []
    for i, rel in enumerate(module_closure(modules_dir, names)):
        data = (modules_dir / rel).read_bytes()
        if rel.endswith(".xz"):
            data = lzma.decompress(data)
        base = os.path.basename(rel).split(".ko")[0]
        name = f".dockuni/modules/{i:02d}-{base}.ko"
        entries.append(regular(name, data))
        order_lines.append("/" + name)
    entries.append(regular(".dockuni/modules.list", ("\n".join(order_lines) + "\n").encode()))
    return newc(entries)


def init_conf(items: Iterable[tuple[str, str]]) -> bytes:
    """The init's configuration: NUL-separated key/value pairs, in order (values may hold anything)."""
    out = bytearray()
    for key, value in items:
        if "\0" in key or "\0" in value:
            raise ValueError(f"NUL byte in init configuration item {key!r}")
        out += key.encode() + b"\0" + value.encode() + b"\0"
    return bytes(out)
