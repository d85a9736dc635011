"""Host-side checks before anything runs: find the entrypoint in the image and resolve its user.

Only reads files under the rootfs (through ``resolve_in_root``, so image symlinks never lead to the
host); never executes image content.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from transpile.image.model import ImageConfig
from transpile.image.paths import resolve_in_root

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Docker's default
EM_X86_64 = 62
ELF_MACHINES = {3: "x86 (i386)", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "s390", 40: "ARM",
                62: "x86-64", 183: "AArch64", 243: "RISC-V"}  # fmt: skip


@dataclass(frozen=True)
class Launch:
    """What the sandbox will execve, or why it cannot."""

    argv: tuple[str, ...]
    exec_path: str  # absolute path inside the image ("" when not found)
    env: dict[str, str]
    workdir: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    problem: str = ""  # non-empty: do not run; this is the finding


def _lookup(rootfs: Path, name: str, path_var: str, workdir: str) -> tuple[str, str]:
    """(absolute image path, problem) for argv[0], searching PATH as execvp would."""
    if "/" in name:
        candidates = [name if name.startswith("/") else os.path.normpath(os.path.join(workdir, name))]
    else:
        candidates = [os.path.join(d or ".", name) for d in path_var.split(":")]
    first_problem = ""
    for cand in candidates:
        try:
            host = resolve_in_root(rootfs, cand)
        except Exception:  # a symlink loop inside the image
            first_problem = first_problem or f"{cand}: too many levels of symbolic links"
            continue
        if host is None or not host.exists():
            continue
        st = host.stat()
        if stat.S_ISDIR(st.st_mode):
            first_problem = first_problem or f"{cand} is a directory"
            continue
        if not st.st_mode & 0o111:
            first_problem = first_problem or f"{cand} is not executable (mode {stat.S_IMODE(st.st_mode):o})"
            continue
        arch = _elf_problem(host)
        if arch:
            return cand, f"{cand}: {arch}"
        return cand, ""
    if first_problem:
        return "", first_problem
    where = "" if "/" in name else f" in PATH ({path_var})"
    return "", f"entrypoint {name!r} not found{where}"


def _elf_problem(host: Path) -> str:
    """Why the kernel here cannot run this ELF file ("" when it can or when it is not ELF)."""
    try:
        with host.open("rb") as f:
            head = f.read(20)
    except OSError as err:
        return f"cannot read: {err.strerror}"
    if head[:4] != b"\x7fELF" or len(head) < 20:
        return ""
    ei_class, ei_data = head[4], head[5]
    machine = int.from_bytes(head[18:20], "little" if ei_data == 1 else "big")
    if ei_class != 2 or machine != EM_X86_64:
        name = ELF_MACHINES.get(machine, f"machine {machine}")
        bits = {1: "32-bit", 2: "64-bit"}.get(ei_class, "?-bit")
        return f"wrong architecture: {bits} {name} ELF, this host runs x86-64"
    return ""


def _read_db(rootfs: Path, name: str) -> list[list[str]]:
    host = resolve_in_root(rootfs, f"/etc/{name}")
    if host is None or not host.is_file():
        return []
    lines = host.read_text(errors="replace").splitlines()
    return [ln.split(":") for ln in lines if ln and not ln.startswith("#")]


def resolve_user(rootfs: Path, user: str) -> tuple[int, int, tuple[int, ...], str]:
    """(uid, gid, supplementary groups, problem) for Docker's USER syntax: name|uid[:group|gid]."""
    if not user:
        return 0, 0, (), ""
    name, _, group = user.partition(":")
    passwd = _read_db(rootfs, "passwd")
    groups_db = _read_db(rootfs, "group")
    uid: int | None = None
    gid: int | None = None
    login = ""
    if name.isdigit():
        uid = int(name)
        for row in passwd:
            if len(row) > 3 and row[2] == name:
                login, gid = row[0], int(row[3]) if row[3].isdigit() else 0
                break
    else:
        for row in passwd:
            if len(row) > 3 and row[0] == name and row[2].isdigit():
                uid, login = int(row[2]), name
                gid = int(row[3]) if row[3].isdigit() else 0
                break
        if uid is None:
            return 0, 0, (), f"user {name!r} not found in the image's /etc/passwd"
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            match = [row for row in groups_db if len(row) > 2 and row[0] == group and row[2].isdigit()]
            if not match:
                return 0, 0, (), f"group {group!r} not found in the image's /etc/group"
            gid = int(match[0][2])
    gid = gid if gid is not None else 0
    extra = tuple(
        int(row[2])
        for row in groups_db
        if login and len(row) > 3 and row[2].isdigit() and login in row[3].split(",") and int(row[2]) != gid
    )
    return uid, gid, extra, ""


def plan_launch(rootfs: Path, config: ImageConfig) -> Launch:
    """ENTRYPOINT + CMD, looked up with the image's PATH, env, workdir and user (as Docker does)."""
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": "dockuni-sandbox", "HOME": "/root"}
    env.update(config.env_dict())
    workdir = config.working_dir or "/"
    uid, gid, groups, problem = resolve_user(rootfs, config.user)
    if uid != 0 and "HOME" not in config.env_dict():
        for row in _read_db(rootfs, "passwd"):
            if len(row) > 5 and row[2] == str(uid):
                env["HOME"] = row[5]
    argv = config.argv
    if not argv:
        return Launch((), "", env, workdir, uid, gid, groups, "the image has neither ENTRYPOINT nor CMD")
    if problem:
        return Launch(argv, "", env, workdir, uid, gid, groups, problem)
    exec_path, problem = _lookup(rootfs, argv[0], env.get("PATH", DEFAULT_PATH), workdir)
    if not problem:
        problem = _chain_problem(rootfs, config)
    return Launch(argv, exec_path, env, workdir, uid, gid, groups, problem)


def _chain_problem(rootfs: Path, config: ImageConfig) -> str:
    """What the entrypoint pass says would make ``execve`` fail (a missing ``#!`` interpreter, ...)."""
    from transpile.passes.entrypoint import resolve_entrypoint

    chain = resolve_entrypoint(config, rootfs)
    for step in chain.steps:  # only the exec chain itself: a shell's own command fails inside the run
        if step.kind in ("missing", "not-executable", "unknown-format", "directory", "loop"):
            what = {"missing": "not found", "unknown-format": "neither ELF nor a #! script"}.get(
                step.kind, step.kind
            )
            return f"{step.path or step.name}: {what} (resolving {' -> '.join(s.name for s in chain.steps)})"
        if step.kind == "elf" and step.resolved:
            host = resolve_in_root(rootfs, step.resolved)
            problem = _elf_problem(host) if host is not None else ""
            if problem:
                return f"{step.resolved}: {problem}"
    return ""
