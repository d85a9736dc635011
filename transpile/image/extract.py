"""Apply image layers (tar streams) onto a root filesystem directory, safely.

Layer semantics follow the OCI image spec (image-layer.md): entries replace what lower layers left at
the same path (a directory may replace a file and vice versa), ``.wh.NAME`` deletes ``NAME`` from
lower layers, ``.wh..wh..opq`` hides every lower-layer child of its directory, hard links point to
earlier entries.

The layer is untrusted input. Every entry's parent directory is resolved *inside* the destination
(symlinks re-rooted, as containerd's applier does), so ``a -> /etc`` followed by ``a/passwd`` writes
``DEST/etc/passwd``, never the host's. Entry names with NUL/newline, ``..`` components or absurd
length are refused; device nodes are skipped; setuid/setgid bits are stripped; total bytes, entry
count and single-file size are bounded. After re-rooting, each entry is also passed through the
standard library's ``tarfile.data_filter`` as a second, independent check that its path stays inside
the destination; on Python before 3.11.4, which has no extraction filters (PEP 706), the same checks
run here (:func:`_data_filter_checks`). Symlink *targets* are kept verbatim: they are data, resolved
later only through :func:`transpile.image.paths.resolve_in_root`.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from transpile.errors import DockuniError
from transpile.image.paths import PathLoopError, resolve_parts

# tarfile.data_filter and tarfile.FilterError arrived in Python 3.11.4 (PEP 706); Debian bookworm has 3.11.2.
_stdlib_data_filter: Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None] | None = getattr(
    tarfile, "data_filter", None
)

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
GIB = 1 << 30


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds on what one image may unpack (all layers together)."""

    max_total_bytes: int = 16 * GIB  # regular-file bytes written
    max_entries: int = 1_000_000  # tar entries processed
    max_file_bytes: int = 8 * GIB  # one regular file
    max_name_bytes: int = 4096  # PATH_MAX
    max_depth: int = 256  # path components


@dataclass(frozen=True)
class Skipped:
    layer: int
    name: str
    reason: str

    def __str__(self) -> str:
        return f"layer {self.layer}: {self.name!r}: {self.reason}"


@dataclass
class ExtractState:
    """Mutable bookkeeping shared by the layers of one image (internal to extraction)."""

    dest: Path
    limits: ExtractLimits = field(default_factory=ExtractLimits)
    total_bytes: int = 0
    entries: int = 0
    tar_bytes: int = 0  # uncompressed layer tar bytes (the image's size)
    skipped: list[Skipped] = field(default_factory=list)
    stripped: list[str] = field(default_factory=list)  # setuid/setgid removed
    chown: bool = field(default_factory=lambda: os.geteuid() == 0)


class _HashingReader(io.RawIOBase):
    """Counts and hashes the bytes tarfile consumes from a stream."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.sha256.update(data)
        self.count += n
        return n

    def drain_hashed(self) -> None:
        buf = bytearray(1 << 20)
        while self.readinto(buf):
            pass


def _decompressed(fileobj: IO[bytes], layer_name: str) -> IO[bytes]:
    """Undo the layer's compression (gzip or none), sniffed from its magic bytes."""
    buffered: Any = fileobj if hasattr(fileobj, "peek") else io.BufferedReader(cast(Any, fileobj), 1 << 16)
    head = bytes(buffered.peek(4)[:4])
    if head[:2] == b"\x1f\x8b":
        return cast(IO[bytes], gzip.GzipFile(fileobj=buffered, mode="rb"))
    if head == b"\x28\xb5\x2f\xfd":
        raise DockuniError(f"layer {layer_name} is zstd-compressed, which dockuni cannot read yet")
    return cast(IO[bytes], buffered)


class UnsafeEntry(Exception):
    """An entry the path checks refuse; ``kind`` names the check (PEP 706's exception names)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _data_filter_checks(member: tarfile.TarInfo, dest: str) -> None:
    """The refusals of PEP 706's ``data`` filter, for Pythons whose tarfile lacks it.

    As the standard filter does: a name absolute after stripping leading slashes, a name whose real
    path (symlinks on disk followed) leaves the destination, a special file (anything but a regular
    file, directory, symlink or hard link), a link to an absolute path, and a link whose real target
    leaves the destination (a symlink's target relative to its directory, a hard link's to the root).
    Set-id bits and device nodes are handled by the caller before this check.
    """
    root = os.path.realpath(dest)
    name = member.name.lstrip("/" + os.sep)
    if os.path.isabs(name):
        raise UnsafeEntry("AbsolutePathError", f"member {member.name!r} has an absolute path")
    target = os.path.realpath(os.path.join(root, name))
    if not _inside(target, root):
        raise UnsafeEntry(
            "OutsideDestinationError",
            f"{member.name!r} would be extracted to {target!r}, which is outside the destination",
        )
    if not (member.isreg() or member.islnk() or member.isdir() or member.issym()):
        raise UnsafeEntry("SpecialFileError", f"{member.name!r} is a special file")
    if member.islnk() or member.issym():
        if os.path.isabs(member.linkname):
            raise UnsafeEntry("AbsoluteLinkError", f"{member.name!r} is a link to an absolute path")
        base = os.path.join(root, os.path.dirname(name)) if member.issym() else root
        link_target = os.path.realpath(os.path.join(base, member.linkname))
        if not _inside(link_target, root):
            raise UnsafeEntry(
                "LinkOutsideDestinationError",
                f"{member.name!r} would link to {link_target!r}, which is outside the destination",
            )


def check_entry_path(member: tarfile.TarInfo, dest: str) -> None:
    """Refuse (raise :class:`UnsafeEntry`) what PEP 706's ``data`` filter refuses.

    Uses the standard library's filter where it exists, :func:`_data_filter_checks` otherwise.
    """
    stdlib = _stdlib_data_filter
    if stdlib is None:
        _data_filter_checks(member, dest)
        return
    try:
        stdlib(member, dest)
    except tarfile.TarError as err:  # FilterError's base; the name exists on every Python
        raise UnsafeEntry(err.__class__.__name__, str(err)) from err


def _check_name(name: str, limits: ExtractLimits) -> str | None:
    """Why ``name`` is refused, or None."""
    if "\x00" in name or "\n" in name or "\r" in name:
        return "name contains NUL or a line break"
    if len(name.encode("utf-8", "surrogateescape")) > limits.max_name_bytes:
        return "name longer than PATH_MAX"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return "name has a '..' component"
    if len(parts) > limits.max_depth:
        return "path too deep"
    return None


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, onerror=_rm_error)
    else:
        os.unlink(path)


def _rm_error(func: object, path: str, exc: object) -> None:
    # a read-only directory (mode 0555) in the image: make it writable and retry once
    parent = os.path.dirname(path)
    os.chmod(parent, 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        shutil.rmtree(path, onerror=None)
    else:
        os.unlink(path)


def remove_tree(path: Path) -> None:
    """Remove an unpacked root filesystem, whatever modes the image gave its directories."""
    if os.path.lexists(path):
        shutil.rmtree(path, onerror=_rm_error)


class _Layer:
    def __init__(self, state: ExtractState, index: int):
        self.state = state
        self.index = index
        self.dest = str(state.dest)
        self.created: set[str] = set()  # relative paths this layer wrote (whiteouts spare them)
        self.dir_modes: list[tuple[str, int, float]] = []  # applied last: a 0555 dir may get children

    def skip(self, name: str, reason: str) -> None:
        self.state.skipped.append(Skipped(self.index, name, reason))

    def resolve_parent(self, parts: list[str]) -> list[str] | None:
        """Resolve the parent directory inside the root, creating missing directories."""
        try:
            resolved, _links, _exists = resolve_parts(self.state.dest, "/" + "/".join(parts), follow=True)
        except PathLoopError:
            return None
        cur = self.dest
        for comp in resolved:
            cur = os.path.join(cur, comp)
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                os.mkdir(cur, 0o755)
                continue
            if not stat.S_ISDIR(st.st_mode):
                return None
        return resolved

    def apply(self, tf: tarfile.TarFile) -> None:
        limits = self.state.limits
        for member in tf:
            self.state.entries += 1
            if self.state.entries > limits.max_entries:
                raise DockuniError(f"image has more than {limits.max_entries} entries (limit)")
            name = member.name
            why = _check_name(name, limits)
            if why is None and member.islnk():
                why = _check_name(member.linkname, limits)
            if why is not None:
                self.skip(name, why)
                continue
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if not parts:
                if member.isdir():
                    self.dir_modes.append(("", member.mode & 0o7777 & ~0o6000, member.mtime))
                continue
            base = parts[-1]
            parent = self.resolve_parent(parts[:-1])
            if parent is None:
                self.skip(name, "parent is not a directory or is a symlink loop")
                continue
            if base == OPAQUE:
                self.opaque(parent)
                continue
            if base.startswith(WHITEOUT_PREFIX):
                self.whiteout(parent, base[len(WHITEOUT_PREFIX) :], name)
                continue
            rel = "/".join([*parent, base])
            try:
                self.entry(tf, member, rel)
            except UnsafeEntry as err:
                self.skip(name, f"refused: {err.kind}: {err}")
            except OSError as err:
                self.skip(name, f"refused: {err.__class__.__name__}: {err}")
        for rel, mode, mtime in reversed(self.dir_modes):
            path = os.path.join(self.dest, rel)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, mode)
                with contextlib.suppress(OSError, OverflowError):
                    os.utime(path, (mtime, mtime))

    def opaque(self, parent: list[str]) -> None:
        top = "/".join(parent)
        self._prune(os.path.join(self.dest, top), top)

    def _prune(self, host: str, rel: str) -> None:
        for child in os.listdir(host):
            crel = f"{rel}/{child}" if rel else child
            chost = os.path.join(host, child)
            if crel not in self.created:
                _remove(chost)
            elif os.path.isdir(chost) and not os.path.islink(chost):
                self._prune(chost, crel)

    def whiteout(self, parent: list[str], target: str, name: str) -> None:
        if not target or target in (".", ".."):
            self.skip(name, "empty whiteout")
            return
        rel = "/".join([*parent, target])
        if rel not in self.created:
            _remove(os.path.join(self.dest, rel))

    def entry(self, tf: tarfile.TarFile, member: tarfile.TarInfo, rel: str) -> None:
        state = self.state
        host = os.path.join(self.dest, rel)
        if member.ischr() or member.isblk():
            self.skip(member.name, "device node")
            return
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk() or member.isfifo()):
            self.skip(member.name, f"unsupported entry type {member.type!r}")
            return
        mode = member.mode & 0o7777
        if mode & 0o6000 and not member.issym():
            state.stripped.append("/" + rel)
            mode &= ~0o6000
        # Second, independent check with the standard library's filter on the re-rooted name. Symlink
        # targets are image data (absolute ones are relative to the image root), so the filter sees
        # a symlink as a plain file; hard link targets are re-rooted and checked like names.
        # (copies, not TarInfo.replace: that arrived with the filters, in 3.11.4)
        check = copy.copy(member)
        check.name = rel
        link_rel = ""
        if member.islnk():
            link_parts = [p for p in member.linkname.split("/") if p not in ("", ".")]
            lparent = self.resolve_parent(link_parts[:-1]) if link_parts else None
            if lparent is None or not link_parts:
                self.skip(member.name, "hard link target is not inside the image")
                return
            link_rel = "/".join([*lparent, link_parts[-1]])
            check.linkname = link_rel
        elif member.issym() or member.isfifo():
            check = copy.copy(member)
            check.name, check.type, check.linkname = rel, tarfile.REGTYPE, ""
        existing = None
        with contextlib.suppress(FileNotFoundError):
            existing = os.lstat(host)
        # A later entry replaces whatever a lower layer left here (only directories merge); remove it
        # first so that neither the filter nor the write ever follows an old symlink at this name.
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            _remove(host)
            existing = None
        check_entry_path(check, self.dest)

        if member.isdir():
            if existing is None:
                os.mkdir(host, 0o700)
            self.dir_modes.append((rel, mode, member.mtime))
        elif member.isreg():
            if member.size > state.limits.max_file_bytes:
                raise DockuniError(
                    f"{member.name}: file of {member.size} bytes exceeds the "
                    f"{state.limits.max_file_bytes}-byte limit"
                )
            if state.total_bytes + member.size > state.limits.max_total_bytes:
                raise DockuniError(f"image unpacks to more than {state.limits.max_total_bytes} bytes (limit)")
            src = tf.extractfile(member)
            assert src is not None
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            state.total_bytes += member.size
        elif member.issym():
            os.symlink(member.linkname, host)
        elif member.islnk():
            src_host = os.path.join(self.dest, link_rel)
            st = os.lstat(src_host)  # a missing target raises OSError: the entry is skipped
            if stat.S_ISDIR(st.st_mode):
                self.skip(member.name, "hard link to a directory")
                return
            os.link(src_host, host, follow_symlinks=False)
        elif member.isfifo():
            os.mkfifo(host, 0o600)
        if not member.islnk():
            if state.chown:
                with contextlib.suppress(OSError, OverflowError):
                    os.lchown(host, member.uid, member.gid)
            if member.isreg() or member.isfifo():
                os.chmod(host, mode)  # after chown: chown clears set-id bits, and mode is exact
            if not member.isdir():
                with contextlib.suppress(OSError, OverflowError):
                    os.utime(host, (member.mtime, member.mtime), follow_symlinks=False)
        # the entry and its parents exist in this layer (a layer's tar implies its parent directories)
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            self.created.add("/".join(parts[:i]))


def apply_layer(
    fileobj: IO[bytes], state: ExtractState, index: int, name: str, diff_id: str | None = None
) -> str:
    """Apply one layer stream (gzip or plain tar) onto ``state.dest``; return its ``sha256:`` diff id.

    Reads the stream once, front to back, with bounded memory. When ``diff_id`` is given, the
    uncompressed stream must hash to it (docker-save and OCI configs list them in ``rootfs.diff_ids``).
    """
    raw = _decompressed(fileobj, name)
    reader = _HashingReader(raw)
    try:
        with tarfile.open(fileobj=io.BufferedReader(reader, 1 << 16), mode="r|") as tf:
            _Layer(state, index).apply(tf)
        reader.drain_hashed()  # tar end padding still counts towards the digest
    except tarfile.TarError as err:
        raise DockuniError(f"{name}: not a valid layer tar ({err})") from err
    except (EOFError, gzip.BadGzipFile, zlib_error()) as err:
        raise DockuniError(f"{name}: truncated or corrupt layer ({err})") from err
    state.tar_bytes += reader.count
    digest = "sha256:" + reader.sha256.hexdigest()
    if diff_id is not None and diff_id != digest:
        raise DockuniError(f"{name}: layer content {digest} does not match its diff id {diff_id}")
    return digest


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error
