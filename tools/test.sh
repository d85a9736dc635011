#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian (bookworm) machine, start the Docker
# engine, make the base image, then run the linters and the whole test suite. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need=(python3 python3-venv docker.io strace qemu-system-x86 linux-image-amd64 busybox-static debootstrap skopeo umoci cpio
      musl-tools graphviz iproute2 gcc libc6-dev curl chromium)
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

"$py" -m ruff check transpile tests bench
"$py" -m mypy
"$py" -m pytest -q "$@"

# The README's first command on a bare Debian (a minbase debootstrap in a container).
bash tools/fresh-machine-test.sh bookworm
