#!/bin/sh
# Build the app's specialized microVM kernel from Debian's linux-source-6.1:
#   make tinyconfig + kernel.config (merge_config.sh) + olddefconfig, then bzImage.
# Cached by the hash of kernel.config and the source tarball, so a second run only copies.
# Needs: apt install linux-source-6.1 build-essential bc flex bison libelf-dev libssl-dev
# Usage: ./build-kernel.sh [OUTPUT_DIR]   (default: this directory; writes bzImage, vmlinux and
#        kernel.full.config there)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
fragment=$here/kernel.config
src=${LINUX_SOURCE_TARBALL:-$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)}
if [ -z "$src" ] || [ ! -f "$src" ]; then
    echo "build-kernel.sh: no kernel source tarball; apt install linux-source-6.1 (or set LINUX_SOURCE_TARBALL)" >&2
    exit 3
fi
cache=${DOCKUNI_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dockuni/kernels}
key=$( (cat "$fragment"; basename "$src"; wc -c <"$src") | sha256sum | cut -c1-16)
mkdir -p "$cache" "$out"
if [ ! -f "$cache/$key/bzImage" ]; then
    work=$(mktemp -d "$cache/build-$key.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    echo "build-kernel.sh: unpacking $(basename "$src")" >&2
    tar -xf "$src" -C "$work" --strip-components=1
    make -C "$work" -s ARCH=x86_64 tinyconfig
    (cd "$work" && ./scripts/kconfig/merge_config.sh -m -O . .config "$fragment")
    make -C "$work" -s ARCH=x86_64 olddefconfig
    # an option the merge dropped (unmet dependency) is reported, not silently lost
    grep '^CONFIG_.*=y' "$fragment" | while read -r line; do
        grep -qx "$line" "$work/.config" || echo "build-kernel.sh: warning: $line did not survive olddefconfig" >&2
    done
    make -C "$work" -s ARCH=x86_64 -j"$(nproc)" bzImage
    mkdir -p "$work/result"
    cp "$work/arch/x86/boot/bzImage" "$work/result/bzImage"
    cp "$work/.config" "$work/result/kernel.full.config"
    cp "$work/vmlinux" "$work/result/vmlinux"  # Firecracker and PVH boots take the uncompressed ELF
    rm -rf "$cache/$key"
    mv "$work/result" "$cache/$key"
fi
cp "$cache/$key/bzImage" "$out/bzImage.tmp" && mv "$out/bzImage.tmp" "$out/bzImage"
cp "$cache/$key/vmlinux" "$out/vmlinux.tmp" && mv "$out/vmlinux.tmp" "$out/vmlinux"
cp "$cache/$key/kernel.full.config" "$out/kernel.full.config"
echo "$out/bzImage"
