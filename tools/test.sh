#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian (bookworm) machine, start the Docker
# engine, make the base image, then run the linters and the whole test suite. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need=(python3 python3-venv docker.io strace qemu-system-x86 linux-image-amd64 busybox-static debootstrap skopeo umoci cpio
      musl-tools graphviz iproute2 gcc libc6-dev curl chromium
      # building the unikernel runtimes (dockuni kernels build): all three, then Nanos, Unikraft, OSv
      git build-essential patch nasm flex bison unzip
      libboost-dev libboost-system-dev libboost-program-options-dev libboost-filesystem-dev
      libboost-test-dev genromfs autoconf automake libtool libedit-dev libyaml-cpp-dev libssl-dev
      gawk pax-utils lua5.3 liblua5.3-dev python3-requests qemu-utils)
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py=python3
if python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
  # Debian's own Python is externally managed (PEP 668): the test tools go into a virtual environment
  venv=${DOCKUNI_TEST_VENV:-/opt/dockuni-test}
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  py=$venv/bin/python
fi
"$py" -m pip install -q --disable-pip-version-check '.[test,fleet]'

bash fixtures/base/start-engine.sh
bash fixtures/base/make-base.sh

# The unikernel runtimes, from the pinned source archives next to the repository. Each builds once:
# the cache ($XDG_CACHE_HOME/dockuni/kernels, kept on the machine) makes later runs instant.
ip link set lo up 2>/dev/null || true  # OSv's image tools talk to qemu-nbd over 127.0.0.1
export DOCKUNI_UNIKERNEL_SOURCES="${DOCKUNI_UNIKERNEL_SOURCES:-$(cd .. && pwd)/shared/unikernels}"
"$py" -m transpile.cli kernels build --from "$DOCKUNI_UNIKERNEL_SOURCES"

"$py" -m ruff check transpile tests bench
"$py" -m mypy
# The README's first command on a bare Debian (a minbase debootstrap in a container) runs as a test too:
# CI skips nothing.
DOCKUNI_FRESH_MACHINE=1 "$py" -m pytest -q "$@"
