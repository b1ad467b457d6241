"""The events' hash chain and idempotency keys.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON elsewhere (as mediation_flow.storage.tables).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Events written before this revision keep a NULL hash; `mediation-flow verify` reports
    # them as unchained rather than as tampered with.
    with op.batch_alter_table("mf_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "mf_idempotency",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("request", sa.String(length=64), nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mf_case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("mf_idempotency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_idempotency_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mf_idempotency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mf_idempotency_case_id"))
    op.drop_table("mf_idempotency")
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.drop_column("event_hash")
    with op.batch_alter_table("mf_event", schema=None) as batch_op:
        batch_op.drop_column("hash")
