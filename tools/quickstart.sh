#!/bin/sh
# Install dockuni from this checkout and run the README's example.
#
# On Debian (bookworm or later), as root or with sudo: installs the Debian packages dockuni runs with
# (python3, python3-venv, strace, graphviz, ca-certificates; gcc and musl-tools compile the microVM
# recipe's init) when they are missing, creates a virtual environment (PEP 668: Debian's system Python
# is externally managed, so nothing is installed into it), pip-installs this checkout into it, links
# the `dockuni` command into a directory on PATH, then converts examples/hello and prints the report.
#
# Settings (environment):
#   DOCKUNI_VENV   the virtual environment   (default /opt/dockuni as root, ~/.local/share/dockuni otherwise)
#   DOCKUNI_BIN    where `dockuni` is linked (default /usr/local/bin as root, ~/.local/bin otherwise)
#   PYTHON         the interpreter that makes the environment (default python3; 3.11.2 or newer)
#   DOCKUNI_NO_EXAMPLE=1   install only
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

say() { printf 'quickstart: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if [ "$(id -u)" = 0 ]; then
  sudo=
  venv=${DOCKUNI_VENV:-/opt/dockuni}
  bindir=${DOCKUNI_BIN:-/usr/local/bin}
else
  command -v sudo >/dev/null 2>&1 && sudo=sudo || sudo=
  venv=${DOCKUNI_VENV:-$HOME/.local/share/dockuni}
  bindir=${DOCKUNI_BIN:-$HOME/.local/bin}
fi
python=${PYTHON:-python3}

# 1. Debian packages: install only what is missing (no apt-get update when nothing is).
missing=
for pkg in python3 python3-venv strace graphviz ca-certificates gcc musl-tools; do
  if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $pkg"
  fi
done
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install$missing yourself, then run this again"
  if [ "$(id -u)" != 0 ] && [ -z "$sudo" ]; then
    die "missing Debian packages:$missing; run as root (or install sudo), or install them yourself"
  fi
  say "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. The interpreter: dockuni supports Python 3.11.2 (Debian bookworm) and later.
command -v "$python" >/dev/null 2>&1 || die "$python not found"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11, 2))' ||
  die "dockuni needs Python 3.11.2 or newer; $python is $("$python" -c 'import platform; print(platform.python_version())')"
"$python" -c 'import venv, ensurepip' 2>/dev/null ||
  die "$python cannot make virtual environments: apt-get install python3-venv"

# 3. The virtual environment, and this checkout installed into it (a non-editable install: the
#    environment does not depend on the checkout staying where it is).
if [ ! -x "$venv/bin/python" ]; then
  say "creating the virtual environment $venv"
  "$python" -m venv "$venv"
fi
say "installing dockuni into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$here"

# 4. The command on PATH.
mkdir -p "$bindir"
ln -sf "$venv/bin/dockuni" "$bindir/dockuni"
say "dockuni is $bindir/dockuni (a link to $venv/bin/dockuni)"
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) say "$bindir is not on your PATH: add it, or run $venv/bin/dockuni" ;;
esac

[ "${DOCKUNI_NO_EXAMPLE:-}" = 1 ] && exit 0

# 5. The example: a docker-save archive, so no Docker engine is needed.
say "running: dockuni convert examples/hello/Dockerfile --archive examples/hello/hello.tar -o hello-out --force"
status=0
"$bindir/dockuni" convert examples/hello/Dockerfile --archive examples/hello/hello.tar -o hello-out --force ||
  status=$?
# exit 1 (fell back) and 3 (something could not be verified) still write the report: show it
if [ -f hello-out/report.md ]; then
  cat hello-out/report.md
  say "recipes in $here/hello-out/: $(cd hello-out && ls -d -- */ 2>/dev/null | tr -d / | tr '\n' ' ')"
fi
[ "$status" = 0 ] || say "dockuni convert exited $status (see docs/convert.md, exit codes)"
exit "$status"
