"""Alembic environment: always run from `cds_service.store.migrate` with a connection it opened and locked.

No `fileConfig` here: the service owns logging configuration, and Alembic must not replace its loggers.
"""

from __future__ import annotations

from alembic import context

from cds_service.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `cds-service db upgrade` (or at service startup), not with the alembic command"
    )

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
# The caller holds an open transaction (and the migration lock); Alembic runs inside it.
with context.begin_transaction():
    context.run_migrations()
