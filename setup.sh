#!/usr/bin/env bash
# Installs what kharness needs on a Debian 12 machine (Debian packages for
# QEMU, kernel sources, compilers; the npm dependencies), then runs the
# default scenarios. Idempotent: when everything is there it only checks.
#
#   ./setup.sh                 install, then `kharness run` (extra args go to run)
#   ./setup.sh --deps-only     install and build only (used by `npm test`)
set -euo pipefail
cd "$(dirname "$0")"

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Host packages: what builds and boots the guests. Guest userspace (busybox,
# dropbear) is fetched per guest arch by the harness itself, never installed.
PKGS=(
  qemu-system-x86 qemu-system-arm
  build-essential flex bison bc libelf-dev libssl-dev xz-utils
  gcc-aarch64-linux-gnu ccache util-linux kmod git
  dwarves   # pahole: modules for Debian's 6.12 kernels carry BTF
  linux-source-6.1 linux-source-6.12
  # What the tests run besides kharness (`kharness doctor` names each with its user):
  chromium   # renders the HTML report in the browser test
  libxml2-utils   # xmllint validates the JUnit output against its schema
  python3   # the kernel's kunit.py reads KTAP; test/fixtures/make-kernel-history.sh
  procps   # pgrep/pkill: leftover-QEMU checks and the fault tests
  iproute2   # ss -K cuts the harness's ssh socket in the fault tests
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: kharness needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "       Install it from your distribution or nodejs.org, then run ./setup.sh again." >&2
  exit 2
fi

# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# The CLI runs compiled JavaScript (dist/); bin/kharness.js also rebuilds it when harness/ changes.
node scripts/build.js

if [ "${1:-}" = "--deps-only" ]; then
  exit 0
fi
exec node bin/kharness.js run "$@"
