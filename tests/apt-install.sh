#!/usr/bin/env bash
# apt-install.sh NAME PACKAGE...: installs Debian packages the tests need (as root, or through passwordless
# sudo). Sourced by the ensure-*.sh scripts once they know something is missing. Without a way to install,
# it says so and exits 0: the tests that need the package skip locally and fail under CI=true.
set -euo pipefail

name=$1
shift
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "$name: missing, and this user cannot install packages: install Debian's $*." >&2
    echo "$name: the tests that need it will be skipped (and fail under CI=true)." >&2
    exit 0
fi

echo "$name: installing $* (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (the other ensure-*.sh) instead of failing on its lock.
apt_opts=(-o DPkg::Lock::Timeout=300)
"${as_root[@]}" apt-get "${apt_opts[@]}" update -qq
"${as_root[@]}" apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
