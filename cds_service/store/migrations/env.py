"""Alembic environment.

The service runs it from `cds_service.store.migrate`, with a connection it opened, inside a transaction that
holds the migration lock. The `alembic` command (maintainers writing a migration, see alembic.ini) gets a
connection to CDS_DATABASE_URL here instead. No `fileConfig`: the service owns logging configuration, and
Alembic must not replace its loggers.
"""

from __future__ import annotations

from alembic import context

from cds_service.store.models import Base


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    # Inside the caller's transaction when there is one; otherwise Alembic opens its own.
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from cds_service.settings import Settings
    from cds_service.store.engine import create_store_engine

    engine = create_store_engine(Settings(auth_mode="disabled").database_url)
    try:
        with engine.connect() as own_connection:
            _run(own_connection)
            own_connection.commit()
    finally:
        engine.dispose()
