"""Read an image's ``/etc/ld.so.cache`` and ``/etc/ld.so.conf`` (never the host's).

Format (glibc ``sysdeps/generic/dl-cache.h``): an optional old-format block (magic ``ld.so-1.7.0``,
``nlibs``, 12-byte entries), then the new format: magic ``glibc-ld.so.cache`` + version ``1.1``,
``nlibs``, ``len_strings``, flags, extension offset, then ``nlibs`` 24-byte entries
``{int32 flags; uint32 key; uint32 value; uint32 osversion; uint64 hwcap}`` whose key/value are
offsets of NUL-terminated strings from the start of the new-format header. ld.so takes the first
entry, in file order, whose name matches and whose flags are ``FLAG_ELF_LIBC6 | FLAG_X8664_LIB64``.
"""

from __future__ import annotations

import fnmatch
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from transpile.image.paths import resolve_in_root

OLD_MAGIC = b"ld.so-1.7.0"
NEW_MAGIC = b"glibc-ld.so.cache1.1"
FLAG_X86_64 = 0x0303  # FLAG_ELF_LIBC6 | FLAG_X8664_LIB64
MAX_CACHE_BYTES = 64 << 20


class LdCacheError(Exception):
    pass


@dataclass(frozen=True)
class CacheEntry:
    name: str
    path: str
    flags: int
    hwcap: int


def parse_ld_cache(data: bytes) -> tuple[CacheEntry, ...]:
    """All entries of an ld.so.cache image, in file order."""
    off = 0
    if data.startswith(OLD_MAGIC):
        if len(data) < 16:
            raise LdCacheError("truncated old-format header")
        (nlibs,) = struct.unpack_from("<I", data, 12)
        off = 16 + 12 * nlibs
        off = (off + 7) & ~7  # the new block is aligned like struct cache_file_new
        if off > len(data):
            raise LdCacheError("old-format entries run past the end")
        if not data.startswith(NEW_MAGIC, off):
            return ()  # an old-only cache: no x86-64 entries a modern ld.so reads
    if not data.startswith(NEW_MAGIC, off):
        raise LdCacheError("not a glibc ld.so.cache (bad magic)")
    if len(data) < off + 48:
        raise LdCacheError("truncated header")
    nlibs, _len_strings = struct.unpack_from("<II", data, off + 20)
    base = off
    first = off + 48
    if first + 24 * nlibs > len(data):
        raise LdCacheError(f"{nlibs} entries run past the end of the file")

    def string(at: int) -> str:
        pos = base + at
        if not 0 <= pos < len(data):
            raise LdCacheError("string offset out of range")
        end = data.find(b"\0", pos)
        if end < 0:
            raise LdCacheError("unterminated string")
        return data[pos:end].decode("utf-8", "surrogateescape")

    out = []
    for i in range(nlibs):
        flags, key, value, _osv, hwcap = struct.unpack_from("<iIIIQ", data, first + 24 * i)
        out.append(CacheEntry(string(key), string(value), flags, hwcap))
    return tuple(out)


def read_ld_cache(rootfs: Path) -> tuple[CacheEntry, ...] | None:
    """The image's cache, or None when it has none."""
    host = resolve_in_root(rootfs, "/etc/ld.so.cache")
    if host is None or not host.is_file():
        return None
    with open(host, "rb") as f:
        data = f.read(MAX_CACHE_BYTES)
    return parse_ld_cache(data)


def cache_lookup(entries: tuple[CacheEntry, ...], name: str) -> str | None:
    """What x86-64 glibc's ld.so gets for ``name`` (baseline entries; glibc-hwcaps ones last)."""
    fallback = None
    for e in entries:
        if e.name == name and e.flags == FLAG_X86_64:
            if e.hwcap == 0:
                return e.path
            fallback = fallback or e.path
    return fallback


def read_ld_so_conf(rootfs: Path, conf: str = "/etc/ld.so.conf", _depth: int = 0) -> tuple[str, ...]:
    """Directories listed by ``ld.so.conf`` and its ``include`` globs, resolved inside the image."""
    if _depth > 8:
        return ()
    host = resolve_in_root(rootfs, conf)
    if host is None or not host.is_file():
        return ()
    dirs: list[str] = []
    for raw in host.read_text("utf-8", "replace").splitlines()[:10000]:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include") and line[7:8] in (" ", "\t"):
            for pattern in line[8:].split():
                if not pattern.startswith("/"):
                    pattern = os.path.join(os.path.dirname(conf), pattern)
                pdir, pglob = os.path.split(pattern)
                dhost = resolve_in_root(rootfs, pdir)
                if dhost is None or not dhost.is_dir():
                    continue
                for child in sorted(os.listdir(dhost)):
                    if fnmatch.fnmatch(child, pglob):
                        dirs.extend(read_ld_so_conf(rootfs, f"{pdir}/{child}", _depth + 1))
        elif line.startswith("hwcap"):
            continue
        else:
            dirs.extend(d for d in line.replace(",", " ").split() if d.startswith("/"))
    return tuple(dict.fromkeys(dirs))
