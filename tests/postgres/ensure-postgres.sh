#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, pg_ctl) are installed, for the store tests.
# Fast no-op when they are; otherwise installs Debian's `postgresql` package (needs root, or sudo).
# The tests start their own throwaway server on 127.0.0.1; nothing here starts or configures one.
set -euo pipefail

have_server() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}

if have_server; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "ensure-postgres: PostgreSQL server binaries are missing and this user cannot install packages;" >&2
    echo "ensure-postgres: install Debian's 'postgresql' package. Store tests on PostgreSQL will be skipped" >&2
    echo "ensure-postgres: (and fail under CI=true)." >&2
    exit 0
fi

echo "ensure-postgres: installing PostgreSQL (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends postgresql >/dev/null

if ! have_server; then
    echo "ensure-postgres: apt-get finished but initdb/pg_ctl are still missing under /usr/lib/postgresql" >&2
    exit 1
fi
echo "ensure-postgres: installed $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')" >&2
