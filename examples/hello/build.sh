#!/usr/bin/env bash
# Rebuild the example's binary and its image archive (hello.tar, shipped in the repo so that the README's
# example runs without a Docker engine). Needs gcc, musl-tools and a Docker engine.
#
# The binary is a static PIE against musl: self-contained (no loader, no libraries) and position
# independent, which Unikraft's ELF loader requires. Debian's musl-gcc wrapper cannot link -static-pie
# (it always names a dynamic loader), so the link line names musl's rcrt1.o start file itself.
set -euo pipefail
cd "$(dirname "$0")"
musl=/usr/lib/x86_64-linux-musl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -Os -fPIE -nostdinc -isystem /usr/include/x86_64-linux-musl -isystem "$(gcc -print-file-name=include)" \
  -c hello.c -o "$tmp/hello.o"
gcc -static-pie -nostdlib -s -o hello "$musl/rcrt1.o" "$musl/crti.o" "$(gcc -print-file-name=crtbeginS.o)" \
  "$tmp/hello.o" "$musl/libc.a" "$(gcc -print-libgcc-file-name)" "$(gcc -print-file-name=crtendS.o)" "$musl/crtn.o"
docker=${DOCKER:-/usr/bin/docker}
DOCKER_BUILDKIT=0 "$docker" build -q -t dockuni-example/hello:latest . >/dev/null
"$docker" save -o hello.tar dockuni-example/hello:latest
rm -f hello
