"""Host-side checks before anything runs: find the entrypoint in the image and resolve its user.

Only reads files under the rootfs (through ``resolve_in_root``, so image symlinks never lead to the
host); never executes image content.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transpile.image.paths import lookup_program, resolve_in_root
from transpile.image.users import resolve_user
from transpile.model.image import DEFAULT_PATH, ImageConfig

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
    found = lookup_program(rootfs, name, path_var, workdir)
    if found.problem:
        return "", found.problem
    arch = _elf_problem(resolve_in_root(rootfs, found.path) or Path("/nonexistent"))
    return found.path, f"{found.path}: {arch}" if arch else ""


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


def plan_launch(rootfs: Path, config: ImageConfig) -> Launch:
    """ENTRYPOINT + CMD, looked up with the image's PATH, env, workdir and user (as Docker does)."""
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": "dockuni-sandbox", "HOME": "/root"}
    env.update(config.env_dict())
    workdir = config.working_dir or "/"
    ids = resolve_user(rootfs, config.user)
    uid, gid, groups, problem = ids.uid, ids.gid, ids.groups, ids.problem
    if uid != 0 and "HOME" not in config.env_dict() and ids.home:
        env["HOME"] = ids.home
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
