#!/usr/bin/env bash
# The README's first command, verbatim, on a fresh machine: a minbase debootstrap of Debian (no python3,
# no pip) run as a container, as root, with this checkout copied in. Passes when the command exits 0,
# its output ends with the example's report, and hello-out/ holds the report and the recipes.
#
# Usage: tools/fresh-machine-test.sh [SUITE]   (default bookworm; trixie works too)
# Needs the Docker engine (fixtures/base/start-engine.sh) and debootstrap; the container uses the host
# network to reach the Debian mirror and the Python package index. The container gets namespaces and
# ptrace for dockuni's sandbox, not --privileged; its cgroups are read-only, as in a CI job's container.
# A host that reaches the package index through a TLS-intercepting proxy names its CA bundle in PIP_CERT;
# that file and the proxy variables are passed through. FRESH_MACHINE_DOCKER_ARGS adds arguments to
# `docker create` (for diagnosis, e.g. "-v /sys/fs/cgroup:/sys/fs/cgroup:rw" for writable cgroups).
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-bookworm}
docker=${DOCKER:-/usr/bin/docker}
image=dockuni-test/debian:$suite

bash fixtures/base/start-engine.sh
bash fixtures/base/make-base.sh "$image" "$suite"

# The first line of the README's first ```sh block, verbatim.
cmd=$(awk '/^```sh$/ {inblock=1; next} inblock {print; exit}' README.md)
[ -n "$cmd" ] || { echo "fresh-machine-test: no \`\`\`sh block in README.md" >&2; exit 1; }
echo "fresh-machine-test: $suite: $cmd" >&2

env_args=()
for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL PIP_DEFAULT_TIMEOUT; do
  if [ -n "${!var:-}" ]; then env_args+=(-e "$var=${!var}"); fi
done
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then env_args+=(-e PIP_CERT=/root/pip-ca.crt); fi

work=$(mktemp -d)
cid=""
cleanup() {
  if [ -n "$cid" ]; then "$docker" rm -f "$cid" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cid=$("$docker" create --network host \
  --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE --security-opt seccomp=unconfined \
  "${env_args[@]}" ${FRESH_MACHINE_DOCKER_ARGS:-} -w /root/dockuni "$image" sh -c "$cmd")

# The checkout as a user has it: tracked and untracked files, without .git or ignored ones.
mkdir "$work/root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mkdir "$work/root/dockuni"
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -C "$work/root/dockuni" -xf -
else
  tar --exclude=.git -cf - . | (mkdir "$work/root/dockuni" && tar -C "$work/root/dockuni" -xf -)
fi
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then cp "$PIP_CERT" "$work/root/pip-ca.crt"; fi
tar -C "$work/root" -cf - . | "$docker" cp - "$cid:/root"

status=0
"$docker" start -a "$cid" >"$work/out.log" 2>&1 || status=$?
cat "$work/out.log"
if [ "$status" != 0 ]; then
  echo "fresh-machine-test: $suite: FAILED: the README's first command exited $status" >&2
  exit 1
fi

"$docker" cp "$cid:/root/dockuni/hello-out" "$work/hello-out"
fail=0
# The output ends with the report (its last section is the last target's).
report_last=$(grep -v '^$' "$work/hello-out/report.md" | tail -n 1)
printed_last=$(grep -v -e '^$' -e '^quickstart: ' "$work/out.log" | tail -n 1)
if [ "$report_last" != "$printed_last" ]; then
  echo "fresh-machine-test: the output does not end with the report: last line '$printed_last'" >&2
  fail=1
fi
grep -q '^# dockuni convert: examples/hello/Dockerfile' "$work/out.log" || {
  echo "fresh-machine-test: the report's heading is missing from the output" >&2; fail=1; }
recipes=()
for d in "$work"/hello-out/*/; do recipes+=("$(basename "$d")"); done
if [ ${#recipes[@]} -eq 0 ]; then
  echo "fresh-machine-test: hello-out/ holds no recipe" >&2
  fail=1
fi
for r in "${recipes[@]}"; do
  grep -q "^| $r | " "$work/hello-out/report.md" || {
    echo "fresh-machine-test: recipe $r is not in the report's summary" >&2; fail=1; }
  [ -n "$(ls -A "$work/hello-out/$r")" ] || { echo "fresh-machine-test: recipe $r is empty" >&2; fail=1; }
done
base_python=$("$docker" run --rm --network none "$image" sh -c 'command -v python3 || echo none')
[ "$base_python" = none ] || { echo "fresh-machine-test: $image is not bare: it has $base_python" >&2; fail=1; }
if [ "$fail" != 0 ]; then
  echo "fresh-machine-test: $suite: FAILED" >&2
  exit 1
fi
echo "fresh-machine-test: $suite: ok (recipes: ${recipes[*]})" >&2
