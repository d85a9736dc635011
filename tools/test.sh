#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian (bookworm) machine, start the Docker
# engine, make the base image, then run the linters and the whole test suite. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need=(docker.io strace qemu-system-x86 linux-image-amd64 busybox-static debootstrap skopeo umoci cpio
      musl-tools graphviz iproute2 gcc libc6-dev curl chromium)
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check '.[test]'

bash fixtures/base/start-engine.sh
bash fixtures/base/make-base.sh

python3 -m ruff check transpile tests bench
python3 -m mypy
python3 -m pytest -q "$@"
