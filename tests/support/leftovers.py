"""What a sandboxed run may leave behind on the host: asserted empty after every run."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CGROUP_V1 = Path("/sys/fs/cgroup")


def cgroups(sandbox: str) -> list[str]:
    """The run's groups (named after its sandbox id) still under the pids and memory hierarchies."""
    found = []
    for ctrl in ("pids", "memory"):
        for dirpath, dirnames, _ in os.walk(CGROUP_V1 / ctrl):
            found += [os.path.join(dirpath, d) for d in dirnames if d == sandbox]
            dirnames[:] = [d for d in dirnames if d != "docker"]
    return found


def processes(marker: str) -> list[str]:
    """Host processes whose command line or root mentions ``marker`` (e.g. the rootfs path)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            root = os.readlink(f"/proc/{pid}/root")
        except OSError:
            continue
        if marker in cmd or marker in root:
            out.append(f"{pid}: {cmd}")
    return out


def mounts(marker: str) -> list[str]:
    """Mount points of any process's namespace visible to us that mention ``marker``."""
    text = Path("/proc/self/mountinfo").read_text()
    return [ln for ln in text.splitlines() if marker in ln]


def tree_digest(root: Path) -> str:
    """A digest of names, modes, sizes and link targets under ``root`` (did anything change?)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(f"{p}\0{st.st_mode}\0{st.st_size}\0{int(st.st_mtime)}\n".encode())
            if os.path.islink(p):
                h.update(os.readlink(p).encode())
    return h.hexdigest()
