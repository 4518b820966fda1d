#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, pg_ctl) are installed, for the store tests.
# Fast no-op when they are; otherwise installs Debian's `postgresql` package (tests/apt-install.sh).
# The tests start their own throwaway server on 127.0.0.1; nothing here starts or configures one.
set -euo pipefail

have_server() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}

if have_server; then
    exit 0
fi
bash "$(dirname "$0")/../apt-install.sh" ensure-postgres postgresql
if ! have_server; then
    echo "ensure-postgres: initdb/pg_ctl are still missing under /usr/lib/postgresql" >&2
    exit 0
fi
echo "ensure-postgres: installed $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')" >&2
