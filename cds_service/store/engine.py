"""One SQLAlchemy engine per store, set up for several workers sharing one database.

SQLite: WAL (readers never wait for the writer), a busy timeout (writers queue instead of failing), and
every transaction opened with BEGIN IMMEDIATE, so a transaction that reads then writes takes the write
lock up front and cannot fail half-way with "database is locked"; except on a connection marked
`READ_ONLY`, whose transactions only read and begin DEFERRED (no write lock, no wait). PostgreSQL: a pooled engine with
pre-ping, so a restarted server does not fail the first request after it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

__all__ = [
    "READ_ONLY",
    "SQLITE_BUSY_TIMEOUT_MS",
    "create_store_engine",
    "insert_ignoring_duplicates",
    "is_sqlite",
    "upsert_insert",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another worker's transaction to finish
_READ_ONLY_OPTION = "cds_read_only"
# Execution options of a connection that only reads: `engine.connect().execution_options(**READ_ONLY)`.
# On SQLite its transactions begin DEFERRED rather than IMMEDIATE (see _on_begin); elsewhere no effect.
READ_ONLY = {_READ_ONLY_OPTION: True}


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def upsert_insert(engine: Engine, model: type) -> Any:
    """INSERT in the engine's dialect, with its ON CONFLICT clauses (SQLite and PostgreSQL alike)."""
    dialect = sqlite if is_sqlite(engine) else postgresql
    return dialect.insert(model)


def insert_ignoring_duplicates(engine: Engine, model: type) -> Any:
    """INSERT that skips rows whose unique key exists: the atomic check-and-set on both backends."""
    return upsert_insert(engine, model).on_conflict_do_nothing()


def create_store_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url)
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":
            # Plain postgresql:// would pick psycopg2, which is not installed; psycopg 3 is.
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise ValueError(
        f"CDS_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL, got backend {url.get_backend_name()!r}"
    )


def _sqlite_engine(database_url: str) -> Engine:
    memory = make_url(database_url).database in (None, "", ":memory:")
    if memory:
        # One shared connection: each new connection to :memory: would be a new, empty database, and
        # requests run on several threads.
        return _configure_sqlite(
            create_engine(database_url, poolclass=StaticPool, connect_args={"check_same_thread": False}), memory
        )
    return _configure_sqlite(
        create_engine(database_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}), memory
    )


def _configure_sqlite(engine: Engine, memory: bool) -> Engine:

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        # synchronous stays FULL (the default): a 200 on feedback means the commit reached the disk.
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_READ_ONLY_OPTION):
            # Reads only: a deferred BEGIN takes no write lock, and in WAL mode reads a snapshot without
            # waiting for a writer's commit (the hook path's snooze lookup must not queue behind writers).
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
