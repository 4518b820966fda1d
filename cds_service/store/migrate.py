"""Bring the database schema up to date with the versioned Alembic migrations, once, under a lock.

Every worker calls `upgrade()` at startup; the first one migrates and the others find nothing to do.
PostgreSQL: a transaction-scoped advisory lock serialises them (DDL is transactional there). SQLite: the
transaction begins with BEGIN IMMEDIATE (see engine.py), which holds the database's write lock.
The Alembic configuration is built here, not read from an ini file, so the installed package migrates
without any file next to it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from cds_service.store.engine import is_sqlite

__all__ = ["MIGRATION_LOCK_ID", "alembic_config", "current_revision", "head_revision", "upgrade"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any constant 64-bit number, the same in every worker: the PostgreSQL advisory lock key.
MIGRATION_LOCK_ID = 0x43445348_6F6F6B73  # "CDSHooks"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        if not is_sqlite(engine):
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_ID})
        if revision == "head" and current_revision(connection) == head_revision():
            return
        command.upgrade(alembic_config(connection), revision)
