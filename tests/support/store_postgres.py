"""A throwaway PostgreSQL server for the store tests: initdb into a temp dir, pg_ctl start on 127.0.0.1.

One server per test session, shared by every test module that imports `postgres_url` (started on first
use, stopped at interpreter exit). Run as root (CI), the server runs as the `postgres` system user, since
PostgreSQL refuses to run as root. Missing server binaries skip locally and FAIL under CI=true, so CI can
never pass without having tested PostgreSQL.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.serve_process import free_port

__all__ = ["PostgresServer", "fresh_postgres_database", "postgres_server", "postgres_url", "store_database_url"]

PG_USER = "postgres"
START_TIMEOUT_SECONDS = 60


def _find_bin(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    return candidates[-1] if candidates else shutil.which(name)


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    pg_ctl: str
    as_user: list[str]

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        name = f"cds_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
            capture_output=True, check=False,
        )
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/false", PG_USER], check=True)
    return ["runuser", "-u", PG_USER, "--"]


def _start() -> PostgresServer:
    initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise FileNotFoundError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; run `bash tests/postgres/ensure-postgres.sh`"
        )
    as_user = _run_as()
    data_dir = Path(tempfile.mkdtemp(prefix="cds-pg-"))
    if as_user:
        shutil.chown(data_dir, PG_USER, PG_USER)
    subprocess.run(
        [*as_user, initdb, "-D", str(data_dir), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data_dir} -c fsync=off -c max_connections=100"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data_dir), "-o", options, "-l", str(data_dir / "server.log"),
         "-w", "-t", str(START_TIMEOUT_SECONDS), "start"],
        check=True, capture_output=True,
    )
    server = PostgresServer(data_dir=data_dir, port=port, pg_ctl=pg_ctl, as_user=as_user)
    atexit.register(server.stop)
    return server


_SERVER: PostgresServer | None = None
_START_ERROR: str | None = None


def _server_or_skip() -> PostgresServer:
    global _SERVER, _START_ERROR
    if _SERVER is None and _START_ERROR is None:
        try:
            _SERVER = _start()
        except (OSError, subprocess.CalledProcessError) as exc:
            failed_command = isinstance(exc, subprocess.CalledProcessError)
            detail = exc.stderr.decode(errors="replace")[-500:] if failed_command and exc.stderr else ""
            _START_ERROR = f"PostgreSQL test server unavailable: {exc} {detail}".strip()
    if _SERVER is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(_START_ERROR or "PostgreSQL test server unavailable", pytrace=False)
        pytest.skip(_START_ERROR or "PostgreSQL test server unavailable")
    return _SERVER


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    return _server_or_skip()


def fresh_postgres_database() -> str:
    return _server_or_skip().create_database()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the session's server, for one test."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for one test, on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield fresh_postgres_database()
