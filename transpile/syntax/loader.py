"""Reading a Dockerfile from disk safely: bounded size, text only, located errors."""

from __future__ import annotations

import os
import stat

from transpile.errors import DockuniError
from transpile.syntax.ast import ParsedFile

# Far above any real Dockerfile (BuildKit itself caps a line at 64 KiB), low enough that a
# mistaken path to a disk image or a tarball fails fast instead of being read into memory.
MAX_FILE_BYTES = 16 * 1024 * 1024


STDIN = "-"  # the path that names standard input, as for hadolint and ruff


def read_text(path: str) -> str:
    """The file's text; DockuniError (exit code 2) for anything that is not a readable
    UTF-8 text file of at most MAX_FILE_BYTES. ``-`` reads standard input to its end."""
    if path == STDIN:
        return _read_stdin()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DockuniError("no such file", path) from None
    except IsADirectoryError:
        raise DockuniError("is a directory, not a Dockerfile", path) from None
    except OSError as exc:
        raise DockuniError(f"cannot open: {exc.strerror or exc}", path) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise DockuniError("is a directory, not a Dockerfile", path)
        if not stat.S_ISREG(st.st_mode):
            raise DockuniError("not a regular file", path)
        if st.st_size > MAX_FILE_BYTES:
            raise DockuniError(f"file is larger than the {MAX_FILE_BYTES} byte limit", path)
        data = _read_bounded(fd, st.st_size)
    except OSError as exc:
        raise DockuniError(f"cannot read: {exc.strerror or exc}", path) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise DockuniError(f"file is larger than the {MAX_FILE_BYTES} byte limit", path)
    return decode(data, path)


def _read_bounded(fd: int, size_hint: int) -> bytes:
    """Up to MAX_FILE_BYTES + 1 bytes, to the end of the file.

    The first read asks for the size fstat reported plus one, not for the limit: a buffered
    ``read(limit)`` allocates the whole 16 MiB up front, which cost more than the parse of a
    small Dockerfile. Later reads pick up a file that grew in between, still within the limit.
    """
    limit = MAX_FILE_BYTES + 1
    chunks: list[bytes] = []
    total = 0
    want = min(size_hint, MAX_FILE_BYTES) + 1
    while total < limit:
        chunk = os.read(fd, min(want, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = 1 << 16
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_stdin() -> str:
    import sys

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise DockuniError("standard input is not open")
    try:
        data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise DockuniError(f"cannot read standard input: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise DockuniError(f"standard input is larger than the {MAX_FILE_BYTES} byte limit")
    return decode(data, STDIN)


def decode(data: bytes, path: str) -> str:
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _position(data, nul)
        raise DockuniError("binary data (NUL byte) is not a Dockerfile", path, line, col)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position(data, exc.start)
        raise DockuniError(f"invalid UTF-8 (byte 0x{data[exc.start]:02x})", path, line, col) from None


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    col = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, col


def parse_path(path: str) -> ParsedFile:
    from transpile.syntax.parser import parse_text

    return parse_text(read_text(path), path)
