"""tests/postgres/ensure-postgres.sh: a silent no-op when the server binaries are there (it runs before every
`make test`), and it finds them where the test server fixture looks."""

from __future__ import annotations

import glob
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "postgres" / "ensure-postgres.sh"


@pytest.mark.postgres
def test_ensure_postgres_is_a_noop_when_installed() -> None:
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        pytest.skip("PostgreSQL is not installed here; the script would install it")
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""  # nothing installed, nothing said
