"""Alembic's environment: always handed a live connection by `gateway.store.db` (no alembic.ini)."""

from alembic import context

from gateway.store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the gateway always passes one
    raise RuntimeError("run migrations through gateway.store.db (guardian store upgrade)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
