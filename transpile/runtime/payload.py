"""What a VM boots: the app's files taken from an extracted image rootfs, and how to start it.

A payload is plain data, independent of any kernel: each kernel's packer turns it into its own image
(a CPIO initrd, a manifest for mkfs, a usr.manifest).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

MIN_MEMORY_MIB = 64


@dataclass(frozen=True)
class Payload:
    files: tuple[tuple[str, Path], ...]  # (guest absolute path, host path of a regular file)
    argv: tuple[str, ...]  # program path first
    symlinks: tuple[tuple[str, str], ...] = ()  # (guest absolute path, link target as in the image)
    directories: tuple[str, ...] = ()  # guest absolute paths of (possibly empty) directories
    env: tuple[tuple[str, str], ...] = ()
    workdir: str = "/"
    ports: tuple[int, ...] = ()  # guest TCP ports the app listens on
    memory_mib: int = 256
    http: bool = True  # probe with HTTP GET /; False: a plain TCP check

    def __post_init__(self) -> None:
        if not self.argv or not self.argv[0].startswith("/"):
            raise ValueError("a payload's argv starts with the program's absolute guest path")
        for guest, _ in (*self.files, *self.symlinks):
            if not guest.startswith("/"):
                raise ValueError(f"guest path {guest!r} is not absolute")

    @property
    def program(self) -> str:
        return self.argv[0]

    def with_memory(self, floor_mib: int) -> Payload:
        """This payload with at least FLOOR_MIB of memory (a kernel's own minimum)."""
        return replace(self, memory_mib=max(self.memory_mib, floor_mib, MIN_MEMORY_MIB))

    def file_bytes(self) -> int:
        return sum(p.stat().st_size for _, p in self.files)


class PayloadBuilder:
    """Collects a payload from an unpacked rootfs, never leaving it: paths are resolved inside the
    root one component at a time and every symlink crossed is kept as a symlink."""

    def __init__(self, rootfs: Path) -> None:
        from transpile.image import initramfs

        self.rootfs = rootfs
        self._reader = initramfs.RootfsReader(rootfs)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(self._reader.missing)

    def add(self, guest_path: str) -> bool:
        """GUEST_PATH (file, or directory without its content) and the symlinks leading to it."""
        return self._reader.add(guest_path)

    def add_tree(self, guest_dir: str) -> bool:
        """GUEST_DIR with everything under it (symlinks kept as links, not followed)."""
        return self._reader.add(guest_dir, recursive=True)

    def payload(self, argv: tuple[str, ...], **kw: object) -> Payload:
        files: list[tuple[str, Path]] = []
        links: list[tuple[str, str]] = []
        dirs: list[str] = []
        for e in self._reader.entries.values():
            guest = "/" + e.name
            if e.kind == "symlink":
                links.append((guest, e.data.decode()))
            elif e.kind == "dir":
                dirs.append(guest)
            elif e.kind == "file":
                files.append((guest, self.rootfs / e.name))
        return Payload(
            files=tuple(sorted(files)),
            symlinks=tuple(sorted(links)),
            directories=tuple(sorted(dirs)),
            argv=argv,
            **kw,  # type: ignore[arg-type]
        )
