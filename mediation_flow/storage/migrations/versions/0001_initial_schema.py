"""The initial schema: flows, cases, parties, claims, events, deadlines.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON elsewhere (as mediation_flow.storage.tables).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mf_flow",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    op.create_table(
        "mf_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("flow_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("worker_count", sa.Integer(), nullable=False),
        sa.Column("is_migrant_worker", sa.Boolean(), nullable=False),
        sa.Column("knew_of_infringement_on", sa.Date(), nullable=True),
        sa.Column("employment_ended_on", sa.Date(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("limitation_expires_on", sa.Date(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_fingerprint"],
            ["mf_flow.fingerprint"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_case_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_mf_case_state"), ["state"], unique=False)

    op.create_table(
        "mf_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mf_case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mf_claim", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_claim_case_id"), ["case_id"], unique=False)

    op.create_table(
        "mf_deadline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("length", sa.Integer(), nullable=True),
        sa.Column("extended", sa.Integer(), nullable=False),
        sa.Column("paused_on", sa.Date(), nullable=True),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mf_case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mf_deadline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_deadline_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_mf_deadline_status_due", ["status", "due"], unique=False)

    op.create_table(
        "mf_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("dest", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("warnings", JSON, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["mf_case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "seq", name="uq_mf_event_case_seq"),
    )
    op.create_table(
        "mf_party",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id_number", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["mf_case.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mf_party", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mf_party_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mf_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mf_party_case_id"))

    op.drop_table("mf_party")
    op.drop_table("mf_event")
    with op.batch_alter_table("mf_deadline", schema=None) as batch_op:
        batch_op.drop_index("ix_mf_deadline_status_due")
        batch_op.drop_index(batch_op.f("ix_mf_deadline_case_id"))

    op.drop_table("mf_deadline")
    with op.batch_alter_table("mf_claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mf_claim_case_id"))

    op.drop_table("mf_claim")
    with op.batch_alter_table("mf_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mf_case_state"))
        batch_op.drop_index(batch_op.f("ix_mf_case_region"))

    op.drop_table("mf_case")
    op.drop_table("mf_flow")
