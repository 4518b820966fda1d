#!/usr/bin/env bash
# Makes sure Debian's `chromium` is installed, for the sandbox page's browser test (tests/browser/).
# Fast no-op when /usr/bin/chromium exists; otherwise installs the Debian package (needs root, or sudo).
# The test drives it with npm `playwright-core`, which never downloads a browser of its own.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "ensure-chromium: /usr/bin/chromium is missing and this user cannot install packages;" >&2
    echo "ensure-chromium: install Debian's 'chromium' package. The sandbox browser test will be skipped" >&2
    echo "ensure-chromium: (and fail under CI=true)." >&2
    exit 0
fi

echo "ensure-chromium: installing chromium (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (e.g. ensure-postgres.sh) instead of failing on its lock.
apt_opts=(-o DPkg::Lock::Timeout=300)
"${as_root[@]}" apt-get "${apt_opts[@]}" update -qq
"${as_root[@]}" apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends chromium >/dev/null

if [ ! -x /usr/bin/chromium ]; then
    echo "ensure-chromium: apt-get finished but /usr/bin/chromium is still missing" >&2
    exit 1
fi
echo "ensure-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)" >&2
