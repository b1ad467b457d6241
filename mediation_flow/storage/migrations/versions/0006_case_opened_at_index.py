"""Reports select the cases opened in a period: an index on mf_case.opened_at.

Measured with benchmarks/bench_report.py on 100,000 cases: a 30-day report from 0.32 s to 0.21 s
on SQLite and from 0.37 s to 0.23 s on PostgreSQL; full reports unchanged.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_case_opened_at"), ["opened_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mf_case_opened_at"))
