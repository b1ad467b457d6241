"""Party accounts: which host-system account acts for a party (permissions).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mf_party", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_mf_party_account"), ["account"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mf_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mf_party_account"))
        batch_op.drop_column("account")
