"""The database schema's version: Alembic migrations shipped inside the package.

A new, empty database gets the current schema (``create_all``, then stamped with the head
revision, as Alembic recommends). An existing database must be at the head revision: an older
one raises :class:`~mediation_flow.errors.SchemaMismatch` saying to run
``mediation-flow db upgrade``; a newer one says to upgrade the library. The version table is
``mf_alembic_version``, so a host application's own Alembic history is left alone.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from mediation_flow.errors import SchemaMismatch
from mediation_flow.storage.tables import metadata

__all__ = [
    "VERSION_TABLE",
    "current_revision",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "upgrade",
]

VERSION_TABLE = "mf_alembic_version"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the schema up to ``revision`` (in the caller's transaction)."""
    command.upgrade(_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Migrate the schema down to ``revision`` (``"base"``: drop everything)."""
    command.downgrade(_config(connection), revision)


def ensure_schema(connection: Connection, *, create: bool) -> None:
    """Make sure the database has the schema this version of the library needs."""
    head = head_revision()
    current = current_revision(connection)
    if current == head:
        return
    if current is None:
        existing = [
            t
            for t in inspect(connection).get_table_names()
            if t.startswith("mf_") and t != VERSION_TABLE
        ]
        if existing:
            raise SchemaMismatch(
                None,
                head,
                f"the database has mediation_flow tables ({', '.join(existing)}) "
                "but no schema version; stamp it with 'mediation-flow db stamp' only if it "
                "matches this release",
            )
        if not create:
            raise SchemaMismatch(
                None,
                head,
                "the database has no mediation_flow schema; run "
                "'mediation-flow --db URL db upgrade'",
            )
        metadata.create_all(connection)
        command.stamp(_config(connection), "head")
        return
    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current in known:
        raise SchemaMismatch(
            current,
            head,
            "the database schema is older than this release "
            "needs; run 'mediation-flow --db URL db upgrade'",
        )
    raise SchemaMismatch(
        current,
        head,
        "the database schema is newer than this release of mediation_flow; upgrade the library",
    )
