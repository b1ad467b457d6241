"""The database-wide ledger (mediation_flow.ledger): ``mf_ledger``, one row per write that
matters, hash-linked in order by checkpoints.

Every case stored before it gets an ``adopt`` entry recording it as it is at the upgrade: the
ledger vouches for it from the first checkpoint on.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mf_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("head", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("position", name="uq_mf_ledger_position"),
    )
    op.create_index("ix_mf_ledger_case_id", "mf_ledger", ["case_id", "id"])
    from mediation_flow.ledger import adopt

    adopt(op.get_bind(), datetime.now(UTC))


def downgrade() -> None:
    op.drop_index("ix_mf_ledger_case_id", table_name="mf_ledger")
    op.drop_table("mf_ledger")
