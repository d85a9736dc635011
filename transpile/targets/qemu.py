"""The microvm target's verification: read the recipe (microvm.json, initramfs.cpio), choose the kernel
and machine, and boot it with transpile.runtime.linuxvm, which does all the executing.

``verify(recipe_dir)`` boots the recipe's microVM and probes each exposed port the way the trace
probes it. Every wait has a deadline; a failure returns ``VerifyResult(ok=False)`` with the guest's
console log, and QEMU is killed in every case.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

from transpile.errors import DockuniError
from transpile.image import initramfs
from transpile.runtime import qemu
from transpile.runtime.linuxvm import (
    STOCK_MODULES,
    Launch,
    VerifyResult,
    boot_and_probe,
    build_initramfs,
    kernel_at,
    kernel_cmdline,
    stock_kernel,
    vmlinux_for,
)


def build_recipe_initramfs(recipe_dir: Path, rootfs: Path) -> tuple[str, ...]:
    """RECIPE_DIR/initramfs.cpio from the recipe's microvm.json and the image ROOTFS (for `convert`)."""
    spec = json.loads((recipe_dir / "microvm.json").read_text())
    return build_initramfs(spec, rootfs, recipe_dir / "initramfs.cpio")



def verify(
    recipe_dir: Path,
    rootfs: Path | None = None,
    kernel: Path | None = None,
    *,
    timeout: float = 120.0,
    machine: str | None = None,
    accel: str | None = None,
    pvh: bool = True,
) -> VerifyResult:
    """Boot the recipe in RECIPE_DIR and probe the app; see the module docstring.

    The initramfs is RECIPE_DIR/initramfs.cpio (built from ROOTFS first when given). The kernel is
    KERNEL, else RECIPE_DIR/bzImage when build-kernel.sh has run, else Debian's stock kernel with its
    NIC driver modules appended as a second archive.
    """
    spec = json.loads((recipe_dir / "microvm.json").read_text())
    cpio = recipe_dir / "initramfs.cpio"
    missing: tuple[str, ...] = ()
    if rootfs is not None:
        missing = build_initramfs(spec, rootfs, cpio)
    if not cpio.exists():
        raise DockuniError("no initramfs.cpio in the recipe (give the image rootfs)", file=str(recipe_dir))
    if kernel is None and (recipe_dir / "bzImage").exists():
        kernel = recipe_dir / "bzImage"
    k = stock_kernel() if kernel is None else kernel_at(kernel)
    # Debian's stock kernel hangs calibrating the TSC on -M microvm under TCG (no PIT/HPET there),
    # so it boots on -M pc; a specialized kernel boots on microvm.
    machine = machine or ("pc" if k.modular else str(spec.get("machine", "microvm")))
    nic = "virtio-mmio" if machine == "microvm" else str(spec.get("nic", "e1000"))
    ports = [int(p) for p in spec.get("ports", [])]
    with tempfile.TemporaryDirectory(prefix="dockuni-verify-") as tmp:
        work = Path(tmp)
        initrd = cpio
        if k.modular:
            if k.modules_dir is None:
                raise DockuniError(f"no modules for stock kernel {k.release}", exit_code=3)
            initrd = work / "initrd.cpio"
            with open(initrd, "wb") as f:
                f.write(cpio.read_bytes())
                f.write(initramfs.modules_archive(k.modules_dir, STOCK_MODULES[nic]))
        kpath = vmlinux_for(k.path, work) if pvh else k.path
        launch = Launch(
            kernel=kpath,
            initrd=initrd,
            append=kernel_cmdline(machine),
            machine=machine,
            accel=accel or qemu.detect_accel(),
            nic=nic,
        )
        if not ports:
            raise DockuniError(
                "the image exposes no TCP port to probe", file=str(recipe_dir / "microvm.json")
            )
        result = boot_and_probe(launch, ports, timeout=timeout)
    result.extra["missing_files"] = list(missing)  # listed in the spec, absent from the image
    # name the kernel the user knows, not the temporary vmlinux extracted for the PVH boot
    shown = str(k.path) + (" (as vmlinux, PVH boot)" if kpath != k.path else "")
    return dataclasses.replace(result, kernel=shown + (" + modules " + k.release if k.modular else ""))
