"""Alembic environment of mediation_flow: run by :mod:`mediation_flow.storage.schema` with the
engine's own connection (``config.attributes["connection"]``)."""

from __future__ import annotations

from alembic import context

from mediation_flow.storage.schema import VERSION_TABLE
from mediation_flow.storage.tables import metadata

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
