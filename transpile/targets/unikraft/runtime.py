"""Unikraft's runtime: app-elfloader built with plain make from the pinned sources, and a payload
booted as a CPIO initrd plus the loader's command line.

Build layout (no kraft): the app-elfloader tree is the app, with the core in workdir/unikraft and the
libraries in workdir/libs/{lwip,libelf}; lib-lwip's lwIP zip is put where its Makefile would download
it (workdir/build/liblwip/UNIKRAFT-2_1_x.zip), so nothing is fetched. The configuration is
transpile/data/unikraft-elfloader-initrd.defconfig.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from transpile.errors import DockuniError
from transpile.image import initramfs
from transpile.runtime import qemu
from transpile.runtime.build import BuildContext, BuildSpec
from transpile.runtime.payload import Payload

NAME = "unikraft"
KERNEL_FILE = "elfloader_qemu-x86_64"
MEMORY_FLOOR_MIB = 256  # the README's boot line; smaller heaps fail the loader's first mmap of libc
GUEST_NET = "netdev.ip=10.0.2.15/24:10.0.2.2"  # QEMU user networking's defaults: no DHCP wait
ARCHIVES = (
    "app-elfloader-681fdb6b3de8.tar.gz",
    "unikraft-e453b74a2e78.tar.gz",
    "lib-lwip-7c1859a70697.tar.gz",
    "lib-libelf-0f1476d5f7fb.tar.gz",
    "fork-lwip-UNIKRAFT-2_1_x.zip",
)


def defconfig() -> str:
    return resources.files("transpile.data").joinpath("unikraft-elfloader-initrd.defconfig").read_text()


def _steps(ctx: BuildContext) -> None:
    ctx.unpack(ARCHIVES[0], "app")
    ctx.unpack(ARCHIVES[1], "app/workdir/unikraft")
    ctx.unpack(ARCHIVES[2], "app/workdir/libs/lwip")
    ctx.unpack(ARCHIVES[3], "app/workdir/libs/libelf")
    ctx.copy(ARCHIVES[4], "app/workdir/build/liblwip/UNIKRAFT-2_1_x.zip")
    conf = ctx.work / "elfloader.defconfig"
    conf.write_text(defconfig())
    # make changes directory before reading UK_DEFCONFIG: it must be absolute
    ctx.run(["make", "defconfig", f"UK_DEFCONFIG={conf}"], "app")
    ctx.run(["make", "-j2"], "app")
    out = ctx.work / "kernel"
    out.mkdir()
    (ctx.work / "app/workdir/build" / KERNEL_FILE).rename(out / KERNEL_FILE)


def build_spec() -> BuildSpec:
    return BuildSpec(
        name=NAME,
        version="unikraft RELEASE-0.16.3 (e453b74a) + app-elfloader stable (681fdb6b)",
        archives=ARCHIVES,
        config=defconfig(),
        steps=_steps,
        outputs=("kernel",),
    )


def kernel_path(kernel_dir: Path) -> Path:
    """The loader in a built kernel dir, or the file itself when the user named one (kraft's build)."""
    if kernel_dir.is_file():
        return kernel_dir
    for cand in (kernel_dir / "kernel" / KERNEL_FILE, kernel_dir / KERNEL_FILE):
        if cand.is_file():
            return cand
    raise DockuniError(f"no {KERNEL_FILE} in the kernel directory", file=str(kernel_dir), exit_code=3)


def initrd(payload: Payload) -> bytes:
    """The payload as a CPIO newc archive (the loader mounts it as the root filesystem)."""
    entries: list[initramfs.CpioEntry] = [initramfs.directory(d) for d in payload.directories]
    for guest, host in payload.files:
        st = host.stat()
        entries.append(initramfs.regular(guest, host.read_bytes(), st.st_mode & 0o7777, int(st.st_mtime)))
    entries += [initramfs.symlink(g, t) for g, t in payload.symlinks]
    return initramfs.newc(entries)


def _quote(arg: str) -> str:
    if '"' in arg:
        raise DockuniError(f"Unikraft's command line cannot carry a double quote: {arg!r}")
    return f'"{arg}"' if (not arg or any(c in arg for c in " \t'")) else arg


def cmdline(payload: Payload) -> str:
    """Kernel parameters, `--`, then the program and its arguments.

    The environment travels as ``env.vars=[ "K=V" ... ]`` (lib/posix-environ's parameter, enabled
    in the defconfig). The loader has no working-directory parameter: relative paths resolve
    against /, so a WORKDIR other than / is not honoured (a caller should report it).
    """
    params = [GUEST_NET]
    if payload.env:
        params.append("env.vars=[ " + " ".join(_quote(f"{k}={v}") for k, v in payload.env) + " ]")
    return " ".join([*params, "--", *(_quote(a) for a in payload.argv)])


def launch_argv(
    payload: Payload, kernel: str, initrd_path: str, forwards: Sequence[tuple[int, int]], accel: str
) -> list[str]:
    """QEMU's command line: the loader as the kernel, the payload as its initrd, its argv appended."""
    fwd = qemu.host_forwards(forwards)
    return [
        "qemu-system-x86_64", *qemu.accel_args(accel), "-machine", "pc", "-m", str(payload.memory_mib),
        "-display", "none", "-serial", "stdio", "-monitor", "none", "-nodefaults", "-no-reboot",
        "-kernel", kernel, "-initrd", initrd_path, "-append", cmdline(payload),
        "-device", "virtio-net-pci,netdev=n0", "-netdev", f"user,id=n0{fwd}",
    ]  # fmt: skip


def boot(payload: Payload, kernel_dir: Path, work_dir: Path, timeout: float = 120.0) -> qemu.BootResult:
    """Pack PAYLOAD as an initrd in WORK_DIR, boot it on the loader, probe its ports."""
    payload = payload.with_memory(MEMORY_FLOOR_MIB)
    kernel = kernel_path(kernel_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    rootfs = work_dir / "rootfs.cpio"
    initramfs.write_atomic(rootfs, initrd(payload))

    def argv(forwards: Sequence[tuple[int, int]], accel: str) -> list[str]:
        return [qemu.qemu_binary(), *launch_argv(payload, str(kernel), str(rootfs), forwards, accel)[1:]]

    return qemu.boot(argv, payload.ports, work_dir / "console.log", timeout=timeout, http=payload.http,
                     image_bytes=kernel.stat().st_size + rootfs.stat().st_size, memory_mib=payload.memory_mib)


def package(payload: Payload, kernel_dir: Path | None, recipe_dir: Path) -> tuple[str, ...]:
    """The recipe's bootable form: initrd.cpio, cmdline.txt and run.sh (the loader comes from `dockuni
    kernels build`, or KERNEL=PATH)."""
    payload = payload.with_memory(MEMORY_FLOOR_MIB)
    initramfs.write_atomic(recipe_dir / "initrd.cpio", initrd(payload))
    (recipe_dir / "cmdline.txt").write_text(cmdline(payload) + "\n")
    kernel = str(kernel_path(kernel_dir)) if kernel_dir is not None else "elfloader_qemu-x86_64"
    words = launch_argv(payload, "KERNEL", "INITRD", [(p, p) for p in payload.ports], "@ACCEL@")
    variables = {"KERNEL": kernel, "INITRD": "$here/initrd.cpio"}
    script = qemu.run_script(words, variables, "the Unikraft ELF loader")
    initramfs.write_atomic(recipe_dir / "run.sh", script.encode(), 0o755)
    return ("initrd.cpio + cmdline.txt: the app on Unikraft's ELF loader; ./run.sh boots it under QEMU",)
