"""Build layer tars and docker-save / OCI archives in memory for the extraction tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class E:
    """One tar entry: name, kind (file/dir/sym/hard/chr/blk/fifo), payload or link target, mode."""

    name: str
    kind: str = "file"
    data: bytes | str = b""
    mode: int = 0o644
    size: int | None = None  # lie about the size in the header
    pax: dict[str, str] = field(default_factory=dict)


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "sym": tarfile.SYMTYPE,
    "hard": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def layer(entries: list[E], compress: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = _TYPES[e.kind]
            info.mode = e.mode
            info.mtime = 1_700_000_000
            if e.pax:
                info.pax_headers = dict(e.pax)
            if e.kind in ("sym", "hard"):
                info.linkname = str(e.data)
                tf.addfile(info)
            elif e.kind == "file":
                data = e.data if isinstance(e.data, bytes) else e.data.encode()
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                if e.kind in ("chr", "blk"):
                    info.devmajor, info.devminor = 1, 3
                tf.addfile(info)
    raw = buf.getvalue()
    for e in entries:
        if e.size is not None:  # patch the size field of a lying header, keeping the checksum valid
            raw = _patch_size(raw, e.name, e.size)
    return gzip.compress(raw) if compress else raw


def _patch_size(raw: bytes, name: str, size: int) -> bytes:
    out = bytearray(raw)
    pos = 0
    while pos + 512 <= len(out):
        block = out[pos : pos + 512]
        if block[:100].rstrip(b"\0") == name.encode():
            # base-256 encoding for sizes beyond the octal field
            field_bytes = bytearray(12)
            field_bytes[0] = 0x80
            field_bytes[4:] = size.to_bytes(8, "big")
            out[pos + 124 : pos + 136] = field_bytes
            out[pos + 148 : pos + 156] = b"        "
            chk = sum(out[pos : pos + 512])
            out[pos + 148 : pos + 156] = f"{chk:06o}\0 ".encode()
            return bytes(out)
        pos += 512
    raise AssertionError(f"{name} not found")


def docker_save(
    layers: list[bytes],
    path: Path,
    config: dict[str, object] | None = None,
    arch: str = "amd64",
    drop_layer: int | None = None,
) -> Path:
    """Write a legacy docker-save tar with these layers (bottom first)."""
    diff_ids = [
        "sha256:" + hashlib.sha256(gzip.decompress(lb) if lb[:2] == b"\x1f\x8b" else lb).hexdigest()
        for lb in layers
    ]
    cfg = {
        "architecture": arch,
        "os": "linux",
        "config": config or {"Cmd": ["/bin/true"], "Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    cfg_bytes = json.dumps(cfg).encode()
    cfg_name = hashlib.sha256(cfg_bytes).hexdigest() + ".json"
    names = [f"{i:064x}/layer.tar" for i in range(len(layers))]
    manifest = [{"Config": cfg_name, "RepoTags": ["hostile:latest"], "Layers": names}]
    with tarfile.open(path, "w") as tf:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        for i, (name, data) in enumerate(zip(names, layers, strict=True)):
            if i != drop_layer:
                add(name, data)
        add(cfg_name, cfg_bytes)
        add("manifest.json", json.dumps(manifest).encode())
    return path
