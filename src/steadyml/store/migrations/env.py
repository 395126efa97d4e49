"""Alembic environment: runs on the connection steadyml hands in (no alembic.ini)."""

from alembic import context

from steadyml.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
