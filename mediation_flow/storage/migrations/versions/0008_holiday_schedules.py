"""Registered holiday notices and re-datable deadlines.

- ``mf_holiday_schedule``: the State Council notices an operator registered
  (``Engine.register_holiday_schedule``), shared by every engine on the database;
- ``mf_deadline.estimate`` and ``mf_deadline.basis``: a due date computed on a predicted
  schedule keeps its predicted date beside the conservative one the engine acts on, and says
  where its schedule came from;
- ``ix_mf_deadline_provisional``: a partial index, so that re-dating reads only the provisional
  deadlines.

Deadlines that were provisional before (the unrolled anniversaries of year periods) become
``basis = 'predicted'`` with their due date as the estimate; the next engine start re-dates them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mf_holiday_schedule",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holidays", sa.Text(), nullable=False),
        sa.Column("workdays", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    with op.batch_alter_table("mf_deadline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("estimate", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("basis", sa.String(length=16), nullable=False, server_default="package")
        )
    op.execute("UPDATE mf_deadline SET basis = 'predicted', estimate = due WHERE provisional")
    op.create_index(
        "ix_mf_deadline_provisional",
        "mf_deadline",
        ["id"],
        sqlite_where=sa.text("provisional"),
        postgresql_where=sa.text("provisional"),
    )


def downgrade() -> None:
    op.drop_index("ix_mf_deadline_provisional", table_name="mf_deadline")
    with op.batch_alter_table("mf_deadline", schema=None) as batch_op:
        batch_op.drop_column("basis")
        batch_op.drop_column("estimate")
    op.drop_table("mf_holiday_schedule")
