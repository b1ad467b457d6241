"""Early warning: the mf_alert table; indexes for the rules' windows and employer look-ups.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mf_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=6), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["mf_case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("mf_alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_alert_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_mf_alert_region_raised_at", ["region", "raised_at"])
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_case_received_on"), ["received_on"], unique=False)
    with op.batch_alter_table("mf_party", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_party_id_number"), ["id_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mf_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mf_party_id_number"))
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mf_case_received_on"))
    op.drop_table("mf_alert")
