"""Paperwork and docking: case serials and numbers, rendered documents, handoff packages.

- ``mf_case.serial``: issued at intake (existing cases get one here), unique;
  ``mf_case.chain_id``: the case id an imported case's events are hashed with;
  ``mf_case.held_by`` / ``held_since``: a case handed over to another system.
- ``mf_number_counter`` and ``mf_case_number``: case numbers (案号), gap-free per prefix and year.
- ``mf_document``: documents rendered for a case; ``mf_handoff``: packages sent and received.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32


def _serial(region: str, opened: object, recorded: object) -> str:
    """The serial its open_case event recorded (a database migrated down and up again), else a
    new one: division, opening day in China, eight random characters."""
    if isinstance(recorded, dict) and isinstance(recorded.get("serial"), str):
        return str(recorded["serial"])
    assert isinstance(opened, datetime)
    if opened.tzinfo is not None:
        opened = opened.astimezone(UTC).replace(tzinfo=None)
    day = (opened + timedelta(hours=8)).strftime("%y%m%d")  # stored in UTC; the day in China
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{region}-{day}-{tail}"


def upgrade() -> None:
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("serial", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("chain_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("held_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("held_since", sa.DateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    case = sa.table(
        "mf_case",
        sa.column("id", sa.Integer()),
        sa.column("region", sa.String()),
        sa.column("opened_at", sa.DateTime()),
        sa.column("serial", sa.String()),
    )
    event = sa.table(
        "mf_event",
        sa.column("case_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("data", sa.JSON()),
    )
    rows = conn.execute(
        sa.select(case.c.id, case.c.region, case.c.opened_at, event.c.data).outerjoin(
            event, sa.and_(event.c.case_id == case.c.id, event.c.seq == 1)
        )
    ).all()
    for row in rows:
        conn.execute(
            case.update()
            .where(case.c.id == row.id)
            .values(serial=_serial(row.region, row.opened_at, row.data))
        )
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.alter_column("serial", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint("uq_mf_case_serial", ["serial"])

    op.create_table(
        "mf_number_counter",
        sa.Column("prefix", sa.String(length=100), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", "year"),
    )
    op.create_table(
        "mf_case_number",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=100), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mf_case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "key", "prefix", name="uq_mf_case_number_case_key_prefix"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("prefix", "year", "seq", name="uq_mf_case_number_prefix_year_seq"),
    )
    with op.batch_alter_table("mf_case_number", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_case_number_case_id"), ["case_id"], unique=False)
    op.create_table(
        "mf_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("case_version", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mf_case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mf_document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_document_case_id"), ["case_id"], unique=False)
    op.create_table(
        "mf_handoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("from_org", sa.String(length=200), nullable=False),
        sa.Column("to_org", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("signed_by", sa.String(length=200), nullable=True),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mf_case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mf_handoff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_handoff_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mf_handoff_digest"), ["digest"], unique=False)


def downgrade() -> None:
    op.drop_table("mf_handoff")
    op.drop_table("mf_document")
    op.drop_table("mf_case_number")
    op.drop_table("mf_number_counter")
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.drop_constraint("uq_mf_case_serial", type_="unique")
        batch_op.drop_column("held_since")
        batch_op.drop_column("held_by")
        batch_op.drop_column("chain_id")
        batch_op.drop_column("serial")
