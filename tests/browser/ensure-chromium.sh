#!/usr/bin/env bash
# Makes sure Debian's `chromium` is installed, for the sandbox page's browser test (tests/browser/).
# Fast no-op when /usr/bin/chromium exists; otherwise installs the Debian package (tests/apt-install.sh).
# The test drives it with npm `playwright-core`, which never downloads a browser of its own.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
bash "$(dirname "$0")/../apt-install.sh" ensure-chromium chromium
if [ ! -x /usr/bin/chromium ]; then
    echo "ensure-chromium: /usr/bin/chromium is still missing" >&2
    exit 0
fi
echo "ensure-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)" >&2
