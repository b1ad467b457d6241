"""The outbox entry of an event written by the database: a row trigger on ``mf_event`` inserts
it in the statement that inserts the event (``mediation_flow.storage.tables``), instead of a
second statement from the command. Queued events and the feed are kept as they are.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from mediation_flow.storage.tables import create_outbox_trigger

    create_outbox_trigger(op.get_bind())


def downgrade() -> None:
    from mediation_flow.storage.tables import drop_outbox_trigger

    drop_outbox_trigger(op.get_bind())
