"""OSv's runtime: the OSv tree built from the pinned sources (kept whole in the cache, since every
app image is made by OSv's own scripts inside it), and a payload made into an image with a
usr.manifest.

Build layout: the submodules are unpacked at the paths .gitmodules names (external/x64/acpica,
musl_1.2.1, kbuild), plus musl_0.9.12 (libc/locale/*.c link into it) and osv-apps as apps/. OSv's
scripts need ``git describe`` to find a version tag, so the tree is a git work tree tagged v0.57.0.

Images: an app is a folder apps/<module>/ with usr.manifest (``/guest: /host/path``, ``/guest:
->target`` for a symlink), module.py (the command line) and a Makefile with an empty ``module``
target; ``scripts/build fs=rofs image=<module>`` writes build/release/usr.img (kernel + read-only fs),
which is copied out. One image build at a time per tree (a lock): the tree is shared.

OSv's dynamic linker searches only / and /usr/lib (core/elf.cc, ``set_search_path``), so shared
libraries are also mapped under /usr/lib; the libraries OSv's kernel itself supplies (core/elf.cc,
``supplied_modules``) are left out of the image.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from transpile.errors import DockuniError
from transpile.runtime import build, qemu
from transpile.runtime.build import BuildContext, BuildSpec
from transpile.runtime.payload import Payload

NAME = "osv"
MEMORY_FLOOR_MIB = 512  # the README's boot line
VERSION_TAG = "v0.57.0"
ARCHIVES = (
    "osv-0e34e4dc2b27.tar.gz",
    "osv-acpica-3e45e0f2383c.tar.gz",
    "osv-musl_1.2.1-73cc775bee53.tar.gz",
    "osv-kbuild-standalone-9f1d27a86879.tar.gz",
    "osv-musl_0.9.12-372a948b8139.tar.gz",
    "osv-apps-2347c09a7fb5.tar.gz",
)
# core/elf.cc supplied_modules at the pinned commit (libstdc++ only with HIDE_SYMBOLS=0: kept)
SUPPLIED = frozenset({
    "ld-linux-x86-64.so.2", "libresolv.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0",
    "libdl.so.2", "librt.so.1", "libaio.so.1", "libcrypt.so.1", "libutil.so",
    "libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1",
})
_SHARED_LIB = re.compile(r"\.so(\.\d+)*$")
_LIB_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/local/lib/")


def _steps(ctx: BuildContext) -> None:
    ctx.unpack(ARCHIVES[0], "osv")
    ctx.unpack(ARCHIVES[1], "osv/external/x64/acpica")
    ctx.unpack(ARCHIVES[2], "osv/musl_1.2.1")
    ctx.unpack(ARCHIVES[3], "osv/kbuild")
    ctx.unpack(ARCHIVES[4], "osv/musl_0.9.12")
    ctx.unpack(ARCHIVES[5], "osv/apps")
    ctx.git_snapshot("osv", tag=VERSION_TAG)
    ctx.run(["./scripts/build", "-j2", "fs=rofs", "image=native-example"], "osv")


def build_spec() -> BuildSpec:
    return BuildSpec(
        name=NAME,
        version="osv 0e34e4dc (fs=rofs, release)",
        archives=ARCHIVES,
        config="scripts/build fs=rofs image=native-example (release, x64)",
        steps=_steps,
        outputs=("osv",),
    )


def tree(kernel_dir: Path) -> Path:
    """The built OSv tree in KERNEL_DIR (ours: KERNEL_DIR/osv; a capstan/OSv checkout works too)."""
    for cand in (kernel_dir / "osv", kernel_dir):
        if (cand / "scripts" / "build").is_file() and (cand / "build" / "release" / "loader.img").exists():
            return cand
    raise DockuniError("no built OSv tree (scripts/build, build/release/loader.img) in the kernel directory",
                       file=str(kernel_dir), exit_code=3)


def _is_supplied(guest: str) -> bool:
    return guest.rsplit("/", 1)[-1] in SUPPLIED


def _q(arg: str) -> str:
    if '"' in arg or "\\" in arg:
        raise DockuniError(f"OSv's command line cannot carry this argument: {arg!r}")
    return f'"{arg}"' if (not arg or any(c in arg for c in " \t;&'")) else arg


def command_line(payload: Payload) -> str:
    """OSv's command line: --env=K=V ... --cwd=DIR, then the program and its arguments."""
    opts = [_q(f"--env={k}={v}") for k, v in payload.env]
    if payload.workdir and payload.workdir != "/":
        opts.append(_q(f"--cwd={payload.workdir}"))
    return " ".join([*opts, *(_q(a) for a in payload.argv)])


def usr_manifest(payload: Payload, empty_dir: Path) -> str:
    """usr.manifest lines for PAYLOAD; shared libraries are also mapped under /usr/lib."""
    lines: dict[str, str] = {}

    def esc(host: str) -> str:  # the build expands %(NAME)s in host paths
        return host.replace("%", "%%")

    for d in payload.directories:
        lines.setdefault(d, esc(str(empty_dir)))
    for guest, host in payload.files:
        if _is_supplied(guest):
            continue
        lines[guest] = esc(str(host.resolve()))
    for guest, target in payload.symlinks:
        if _is_supplied(guest):
            continue
        lines[guest] = "->" + target
    for guest, host in payload.files:
        name = guest.rsplit("/", 1)[-1]
        if (_SHARED_LIB.search(name) and guest.startswith(_LIB_DIRS) and not _is_supplied(guest)):
            lines.setdefault("/usr/lib/" + name, esc(str(host.resolve())))
    for guest, target in payload.symlinks:
        name = guest.rsplit("/", 1)[-1]
        if _SHARED_LIB.search(name) and guest.startswith(_LIB_DIRS) and not _is_supplied(guest):
            # the link's target named from /usr/lib: relative targets are relative to the link's dir
            if not target.startswith("/"):
                target = guest.rsplit("/", 1)[0] + "/" + target
            lines.setdefault("/usr/lib/" + name, "->" + target)
    for guest in list(lines):
        if ": " in guest:
            raise DockuniError(f"OSv's usr.manifest cannot name {guest!r}")
    return "".join(f"{g}: {h}\n" for g, h in sorted(lines.items()))


def make_image(payload: Payload, kernel_dir: Path, dest: Path) -> Path:
    """DEST: an OSv image (qcow2, loader + rofs) of PAYLOAD, built in the shared tree under a lock."""
    osv = tree(kernel_dir)
    with build.lock(osv / ".dockuni-image.lock"):
        module = "dockuni-" + secrets.token_hex(4)
        mdir = osv / "apps" / module
        try:
            mdir.mkdir(parents=True)
            (mdir / "empty").mkdir()
            (mdir / "usr.manifest").write_text(usr_manifest(payload, mdir / "empty"))
            (mdir / "module.py").write_text(
                "from osv.modules import api\n\ndefault = api.run(" + repr(command_line(payload)) + ")\n"
            )
            (mdir / "Makefile").write_text(".PHONY: module clean\nmodule:\n\t@true\nclean:\n\t@true\n")
            log = dest.parent / "image-build.log"
            with open(log, "wb") as f:
                proc = subprocess.run(
                    ["./scripts/build", "-j2", "fs=rofs", f"image={module}"], cwd=osv,
                    stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, check=False, timeout=1200,
                )
            if proc.returncode != 0:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:]
                raise DockuniError(f"OSv image build failed: {tail[0] if tail else proc.returncode}",
                                   file=str(log), exit_code=3)
            shutil.copyfile(osv / "build" / "release" / "usr.img", dest)
        finally:
            shutil.rmtree(mdir, ignore_errors=True)
    return dest


def launch_argv(payload: Payload, image: str, forwards: Sequence[tuple[int, int]], accel: str) -> list[str]:
    fwd = qemu.host_forwards(forwards)
    return [
        "qemu-system-x86_64", *qemu.accel_args(accel), "-m", str(payload.memory_mib), "-smp", "1",
        "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
        "-device", "virtio-blk-pci,id=blk0,drive=hd0",
        "-drive", f"file={image},if=none,id=hd0,cache=unsafe",
        "-device", "virtio-net-pci,netdev=n0", "-netdev", f"user,id=n0{fwd}",
    ]  # fmt: skip


def boot(payload: Payload, kernel_dir: Path, work_dir: Path, timeout: float = 120.0) -> qemu.BootResult:
    payload = payload.with_memory(MEMORY_FLOOR_MIB)
    work_dir.mkdir(parents=True, exist_ok=True)
    image = make_image(payload, kernel_dir, work_dir / "usr.img")
    return qemu.boot_image(launch_argv, payload, image, work_dir, timeout)


def package(payload: Payload, kernel_dir: Path | None, recipe_dir: Path) -> tuple[str, ...]:
    """The recipe's bootable form: usr.img built in the cached OSv tree (when built) and run.sh."""
    if kernel_dir is None:
        return ("no OSv tree built: `dockuni kernels build --only osv` then convert again for usr.img",)
    payload = payload.with_memory(MEMORY_FLOOR_MIB)
    image = make_image(payload, kernel_dir, recipe_dir / "usr.img")
    (recipe_dir / "image-build.log").unlink(missing_ok=True)  # kept only when the build fails
    qemu.write_run_script(launch_argv, payload, image, recipe_dir, "the OSv image")
    return ("usr.img: the app on OSv (libraries also under /usr/lib for OSv's loader); ./run.sh boots it",)
