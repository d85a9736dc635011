"""Nanos' runtime: the kernel, boot sector and mkfs built from the pinned sources, and a payload made
into a disk image by mkfs from a manifest in Nanos' tuple syntax.

Build layout: Nanos' Makefile clones acpica, lwip and mbedtls into vendor/ at build time; they are
unpacked there instead (acpica with Nanos' own patches/acpica.patch) and marked ``.vendored``. The tree
must be a git work tree (gitversion.c depends on .git/index).

Manifest (what ops writes for its users): mkfs does not recurse into host directories, so every file
is one ``(contents:(host:PATH))`` entry, a symlink is ``(linktarget:TARGET)``, and the root tuple
carries ``program``, ``arguments``, ``environment`` and ``cwd``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from transpile.errors import DockuniError
from transpile.runtime import qemu
from transpile.runtime.build import BuildContext, BuildSpec
from transpile.runtime.payload import Payload

NAME = "nanos"
MEMORY_FLOOR_MIB = 512  # the README's boot line
ARCHIVES = (
    "nanos-b9c3671d9b95.tar.gz",
    "acpica-e01cc6b3d12b.tar.gz",
    "nanos-lwip-dc15bc187f6f.tar.gz",
    "nanos-mbedtls-729a04f67c64.tar.gz",
)
KERNEL_FILES = {  # output name -> path in the built tree
    "kernel.img": "output/platform/pc/bin/kernel.img",
    "boot.img": "output/platform/pc/boot/boot.img",
    "mkfs": "output/tools/bin/mkfs",
}


def _steps(ctx: BuildContext) -> None:
    ctx.unpack(ARCHIVES[0], "nanos")
    ctx.unpack(ARCHIVES[1], "nanos/vendor/acpica")
    ctx.run(["patch", "-p1", "-i", "../../patches/acpica.patch"], "nanos/vendor/acpica")
    ctx.unpack(ARCHIVES[2], "nanos/vendor/lwip")
    ctx.unpack(ARCHIVES[3], "nanos/vendor/mbedtls")
    for dep in ("acpica", "lwip", "mbedtls"):
        (ctx.work / "nanos/vendor" / dep / ".vendored").touch()
    ctx.git_snapshot("nanos")
    # one goal per make: `make kernel mkfs` builds the contgen tool twice at once, and one build then
    # runs the binary the other is still writing ("contgen: Permission denied")
    ctx.run(["make", "-j2", "mkfs"], "nanos")
    ctx.run(["make", "-j2", "kernel"], "nanos")
    out = ctx.work / "kernel"
    out.mkdir()
    for name, rel in KERNEL_FILES.items():
        (ctx.work / "nanos" / rel).rename(out / name)


def build_spec() -> BuildSpec:
    return BuildSpec(
        name=NAME,
        version="nanos b9c3671d",
        archives=ARCHIVES,
        config="make mkfs; make kernel (platform pc, defaults)",
        steps=_steps,
        outputs=("kernel",),
    )


def kernel_files(kernel_dir: Path) -> dict[str, Path]:
    """kernel.img, boot.img and mkfs in KERNEL_DIR (ours: KERNEL_DIR/kernel/; an ops-style directory
    holding the three files directly works too)."""
    for base in (kernel_dir / "kernel", kernel_dir):
        found = {n: base / n for n in KERNEL_FILES}
        if all(p.is_file() for p in found.values()):
            return found
    raise DockuniError("no kernel.img, boot.img and mkfs in the kernel directory", file=str(kernel_dir),
                       exit_code=3)


def _q(s: str) -> str:
    """A quoted tuple-syntax string (the parser takes \\ as an escape inside quotes)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def manifest(payload: Payload) -> str:
    """The payload as a Nanos manifest: one entry per file, directory and symlink."""
    tree: dict[str, object] = {}

    def node(path: str) -> dict[str, object]:
        cur = tree
        for part in [p for p in path.split("/") if p]:
            nxt = cur.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise DockuniError(f"{path}: a parent is a file or a symlink in the payload")
            cur = nxt
        return cur

    for d in payload.directories:
        node(d)
    for guest, host in payload.files:
        parent, _, name = guest.rpartition("/")
        node(parent)[name] = ("host", str(host.resolve()))
    for guest, target in payload.symlinks:
        parent, _, name = guest.rpartition("/")
        node(parent)[name] = ("link", target)

    def render(t: dict[str, object]) -> str:
        parts = []
        for name in sorted(t):
            v = t[name]
            if isinstance(v, tuple):
                kind, val = v
                inner = f"contents:(host:{_q(val)})" if kind == "host" else f"linktarget:{_q(val)}"
            else:
                assert isinstance(v, dict)
                inner = f"children:({render(v)})"
            parts.append(f"{_q(name)}:({inner})")
        return " ".join(parts)

    env = " ".join(f"{_q(k)}:{_q(v)}" for k, v in payload.env)
    args = " ".join(_q(a) for a in payload.argv)
    return (
        f"(children:({render(tree)})\n program:{_q(payload.program)}\n arguments:[{args}]\n"
        f" environment:({env})\n cwd:{_q(payload.workdir or '/')})\n"
    )


def make_image(payload: Payload, kernel_dir: Path, dest: Path) -> Path:
    """DEST: a bootable Nanos disk image of PAYLOAD (mkfs -b boot.img -k kernel.img DEST < manifest)."""
    k = kernel_files(kernel_dir)
    text = manifest(payload)
    (dest.parent / "manifest").write_text(text)
    proc = subprocess.run(
        [str(k["mkfs"]), "-b", str(k["boot.img"]), "-k", str(k["kernel.img"]), str(dest)],
        input=text.encode(), capture_output=True, check=False, timeout=600,
    )
    if proc.returncode != 0:
        dest.unlink(missing_ok=True)
        msg = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
        raise DockuniError(f"Nanos mkfs failed: {msg[-1] if msg else proc.returncode}", exit_code=3)
    return dest


def launch_argv(payload: Payload, image: str, forwards: Sequence[tuple[int, int]], accel: str) -> list[str]:
    fwd = qemu.host_forwards(forwards)
    return [
        "qemu-system-x86_64", *qemu.accel_args(accel), "-machine", "q35", "-m", str(payload.memory_mib),
        "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
        "-device", "isa-debug-exit",
        "-drive", f"if=none,id=hd0,format=raw,file={image}",
        "-device", "virtio-scsi-pci,id=scsi0", "-device", "scsi-hd,bus=scsi0.0,drive=hd0",
        "-device", "virtio-net-pci,netdev=n0", "-netdev", f"user,id=n0{fwd}",
    ]  # fmt: skip


def boot(payload: Payload, kernel_dir: Path, work_dir: Path, timeout: float = 120.0) -> qemu.BootResult:
    payload = payload.with_memory(MEMORY_FLOOR_MIB)
    work_dir.mkdir(parents=True, exist_ok=True)
    image = make_image(payload, kernel_dir, work_dir / "disk.img")
    return qemu.boot_image(launch_argv, payload, image, work_dir, timeout)


def package(payload: Payload, kernel_dir: Path | None, recipe_dir: Path) -> tuple[str, ...]:
    """The recipe's bootable form: disk.img made by Nanos' mkfs (when the kernel is built) and run.sh."""
    if kernel_dir is None:
        return ("no Nanos kernel built: run `dockuni kernels build --only nanos`, then convert again",)
    payload = payload.with_memory(MEMORY_FLOOR_MIB)
    image = make_image(payload, kernel_dir, recipe_dir / "disk.img")
    (recipe_dir / "manifest").unlink(missing_ok=True)  # make_image's input, kept nowhere
    qemu.write_run_script(launch_argv, payload, image, recipe_dir, "the Nanos disk image")
    return ("disk.img: the app on Nanos, made by its mkfs (one manifest entry per file); ./run.sh boots it",)
