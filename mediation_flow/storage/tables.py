"""The database tables (SQLModel). Names carry an ``mf_`` prefix so that the tables can live in a
host system's own database beside its tables.

Timestamps are stored in UTC and come back timezone-aware; dates are plain dates (days in
China). The hot path reads and writes these tables with SQLAlchemy Core statements
(:mod:`mediation_flow.storage.repository`); the SQLModel classes define the schema and serve
ad-hoc queries.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

__all__ = [
    "AlertRow",
    "CaseNumberRow",
    "CaseRow",
    "ClaimRow",
    "DeadLetterRow",
    "DeadlineRow",
    "DocumentRow",
    "EventRow",
    "FeedRow",
    "FlowRow",
    "HandoffRow",
    "IdempotencyRow",
    "NumberCounterRow",
    "OutboxRow",
    "PartyRow",
    "SubscriptionRow",
    "create_outbox_trigger",
    "drop_outbox_trigger",
    "metadata",
]

metadata = SQLModel.metadata

_JSON = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts() -> Any:
    return Column(UTCDateTime(), nullable=False)


def _case_fk() -> Any:
    return Column(ForeignKey("mf_case.id", ondelete="CASCADE"), nullable=False, index=True)


class FlowRow(SQLModel, table=True):
    """Every flow definition a case was opened under, by fingerprint (for diagnosis)."""

    __tablename__ = "mf_flow"

    fingerprint: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    definition: dict[str, Any] = Field(sa_column=Column(_JSON, nullable=False))
    registered_at: datetime = Field(sa_column=_ts())


class CaseRow(SQLModel, table=True):
    __tablename__ = "mf_case"
    __table_args__ = (UniqueConstraint("serial", name="uq_mf_case_serial"),)

    id: int | None = Field(default=None, primary_key=True)
    region: str = Field(max_length=6, index=True)
    state: str = Field(max_length=64, index=True)
    version: int = Field(default=0)
    flow_fingerprint: str = Field(max_length=64, foreign_key="mf_flow.fingerprint")
    resolution: str | None = Field(default=None, max_length=32)
    worker_count: int
    is_migrant_worker: bool = False
    knew_of_infringement_on: date | None = None
    employment_ended_on: date | None = None
    #: Indexed: the early-warning windows (mediation_flow.early_warning) are ranges of it.
    received_on: date = Field(index=True)
    limitation_expires_on: date | None = None
    #: Indexed: reports select the cases opened in a period (migration 0006).
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    updated_at: datetime = Field(sa_column=_ts())
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(_JSON, nullable=False)
    )
    #: The hash of the case's last event: the head of its hash chain (mediation_flow.audit).
    event_hash: str | None = Field(default=None, max_length=64)
    #: Issued at intake: the case's identity across systems and the party's look-up reference
    #: (mediation_flow.numbering). Unique.
    serial: str = Field(max_length=32)
    #: The case id its events are hashed with: the id of the case where it was opened, when it
    #: came here in a handoff package (mediation_flow.handoff); NULL for a case opened here.
    chain_id: int | None = None
    #: The organisation the case was handed over to (export_handoff with hold): nothing is fired
    #: and no deadline expires here until it comes back. Not written by commands.
    held_by: str | None = Field(default=None, max_length=200)
    held_since: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class PartyRow(SQLModel, table=True):
    __tablename__ = "mf_party"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_case_fk())
    position: int
    kind: str = Field(max_length=16)
    role: str = Field(max_length=16)
    name: str = Field(max_length=200)
    #: Indexed: early warning finds an employer's cases by its credit code.
    id_number: str | None = Field(default=None, max_length=32, index=True)
    phone: str | None = Field(default=None, max_length=32)
    account: str | None = Field(default=None, max_length=128, index=True)


class ClaimRow(SQLModel, table=True):
    __tablename__ = "mf_claim"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_case_fk())
    position: int
    kind: str = Field(max_length=32)
    amount: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))


class EventRow(SQLModel, table=True):
    """The append-only history: one row per fired trigger or recorded expiry."""

    __tablename__ = "mf_event"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_mf_event_case_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(ForeignKey("mf_case.id", ondelete="CASCADE"), nullable=False)
    )
    seq: int
    trigger: str = Field(max_length=64)
    source: str = Field(max_length=64)
    dest: str = Field(max_length=64)
    actor_id: str = Field(max_length=128)
    actor_role: str = Field(max_length=32)
    at: datetime = Field(sa_column=_ts())
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(_JSON, nullable=False))
    warnings: list[str] = Field(default_factory=list, sa_column=Column(_JSON, nullable=False))
    #: SHA-256 over the previous event's hash and this event's canonical content.
    hash: str | None = Field(default=None, max_length=64)


class IdempotencyRow(SQLModel, table=True):
    """Commands fired with an idempotency key: the request's digest and the result."""

    __tablename__ = "mf_idempotency"

    key: str = Field(primary_key=True, max_length=200)
    case_id: int = Field(sa_column=_case_fk())
    request: str = Field(max_length=64)
    result: dict[str, Any] = Field(sa_column=Column(_JSON, nullable=False))
    created_at: datetime = Field(sa_column=_ts())


class DeadlineRow(SQLModel, table=True):
    __tablename__ = "mf_deadline"
    __table_args__ = (
        # tick: "the next pending deadline due before a day, in (due, id) order" stays an
        # index range scan, however many closed cases the table holds (migration 0004).
        Index("ix_mf_deadline_status_due", "status", "due", "id"),
        # Re-dating finds the provisional deadlines without reading the others (migration 0008).
        Index(
            "ix_mf_deadline_provisional",
            "id",
            sqlite_where=text("provisional"),
            postgresql_where=text("provisional"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_case_fk())
    kind: str = Field(max_length=64)
    party: str | None = Field(default=None, max_length=16)
    status: str = Field(max_length=16)
    starts_on: date
    unit: str = Field(max_length=8)
    length: int | None = None
    extended: int = 0
    paused_on: date | None = None
    due: date
    provisional: bool = False
    #: The predicted due date of a provisional deadline (``due`` is the conservative one).
    estimate: date | None = None
    #: package | registered | predicted: where the schedule of its days came from.
    basis: str = Field(default="package", max_length=16)


class AlertRow(SQLModel, table=True):
    """Early warnings (:mod:`mediation_flow.early_warning`): one row per alert key, so that a
    rule evaluated again (every ``tick``, on several workers) stores its alert once. A case
    alert is also an ``early_warning`` event of its case; a region-level alert has no case."""

    __tablename__ = "mf_alert"
    __table_args__ = (Index("ix_mf_alert_region_raised_at", "region", "raised_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    rule: str = Field(max_length=64)
    level: str = Field(max_length=16)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    case_id: int | None = Field(
        default=None,
        sa_column=Column(ForeignKey("mf_case.id", ondelete="CASCADE"), nullable=True, index=True),
    )
    region: str | None = Field(default=None, max_length=6)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(_JSON, nullable=False))
    raised_at: datetime = Field(sa_column=_ts())
    acknowledged_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    acknowledged_by: str | None = Field(default=None, max_length=128)


class NumberCounterRow(SQLModel, table=True):
    """The last case number issued per (prefix, year): incremented in the transaction that
    issues a number, so numbers are gap-free (a rolled-back command returns its number)."""

    __tablename__ = "mf_number_counter"

    prefix: str = Field(primary_key=True, max_length=100)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int


class CaseNumberRow(SQLModel, table=True):
    """Every case number (案号) issued, for look-up by number; never updated."""

    __tablename__ = "mf_case_number"
    __table_args__ = (
        UniqueConstraint("prefix", "year", "seq", name="uq_mf_case_number_prefix_year_seq"),
        UniqueConstraint("case_id", "key", "prefix", name="uq_mf_case_number_case_key_prefix"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_case_fk())
    key: str = Field(max_length=64)
    prefix: str = Field(max_length=100)
    year: int
    seq: int
    number: str = Field(max_length=200, unique=True)
    issued_at: datetime = Field(sa_column=_ts())


class DocumentRow(SQLModel, table=True):
    """A document rendered for a case (mediation_flow.documents): what, when, by whom, and the
    SHA-256 of the file handed out. The file itself is the host's to keep."""

    __tablename__ = "mf_document"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_case_fk())
    template: str = Field(max_length=64)
    title: str = Field(max_length=200)
    format: str = Field(max_length=8)
    sha256: str = Field(max_length=64)
    size: int
    case_version: int
    actor_id: str = Field(max_length=128)
    actor_role: str = Field(max_length=32)
    rendered_at: datetime = Field(sa_column=_ts())


class HandoffRow(SQLModel, table=True):
    """A handoff package sent or received (mediation_flow.handoff)."""

    __tablename__ = "mf_handoff"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=_case_fk())
    direction: str = Field(max_length=8)
    from_org: str = Field(max_length=200)
    to_org: str = Field(max_length=200)
    digest: str = Field(max_length=64, index=True)
    head: str = Field(max_length=64)
    events: int
    signed_by: str | None = Field(default=None, max_length=200)
    actor_id: str = Field(max_length=128)
    at: datetime = Field(sa_column=_ts())


class HolidayScheduleRow(SQLModel, table=True):
    """A State Council holiday notice registered by the operator
    (:meth:`mediation_flow.Engine.register_holiday_schedule`): it overrides the package and the
    prediction for its year in every engine on the database. ``revision`` grows with every
    registration in the database, so an engine sees cheaply that its calendar is stale."""

    __tablename__ = "mf_holiday_schedule"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    holidays: str = Field(sa_column=Column(Text, nullable=False))
    workdays: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))
    revision: int
    registered_at: datetime = Field(sa_column=_ts())
    registered_by: str = Field(max_length=128)


class LedgerRow(SQLModel, table=True):
    """The database-wide ledger (:mod:`mediation_flow.ledger`): one row per write that matters
    (a case opened, a command, a handoff, a hold), holding the digest of the case's whole stored
    state after it. ``position`` and ``head`` are assigned by a checkpoint, in order: ``head``
    links the entry to every entry before it. Rows are never updated otherwise, never deleted,
    and outlive their case (no foreign key)."""

    __tablename__ = "mf_ledger"
    __table_args__ = (
        UniqueConstraint("position", name="uq_mf_ledger_position"),
        Index("ix_mf_ledger_case_id", "case_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int
    kind: str = Field(max_length=16)
    digest: str = Field(max_length=64)
    at: datetime = Field(sa_column=_ts())
    position: int | None = None
    head: str | None = Field(default=None, max_length=64)


class OutboxRow(SQLModel, table=True):
    """Every committed event, written in the event's own transaction (mediation_flow.outbox):
    the queue the feed is published from. Rows are deleted once published."""

    __tablename__ = "mf_outbox"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int
    seq: int


#: The outbox entry of every event is written by the database, in the statement that inserts the
#: event (a row trigger on ``mf_event``, migration 0012): an event is queued if and only if it is
#: committed, whichever code inserted it, and no command sends a statement for it.
_OUTBOX_TRIGGER: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER IF NOT EXISTS mf_event_outbox AFTER INSERT ON mf_event "
        "BEGIN INSERT INTO mf_outbox (case_id, seq) VALUES (NEW.case_id, NEW.seq); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION mf_event_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO mf_outbox (case_id, seq) VALUES (NEW.case_id, NEW.seq); "
        "RETURN NULL; END $$",
        # DROP + CREATE rather than CREATE OR REPLACE TRIGGER, which needs PostgreSQL 14.
        "DROP TRIGGER IF EXISTS mf_event_outbox ON mf_event",
        "CREATE TRIGGER mf_event_outbox AFTER INSERT ON mf_event "
        "FOR EACH ROW EXECUTE FUNCTION mf_event_outbox()",
    ),
}
_DROP_OUTBOX_TRIGGER: dict[str, tuple[str, ...]] = {
    "sqlite": ("DROP TRIGGER IF EXISTS mf_event_outbox",),
    "postgresql": (
        "DROP TRIGGER IF EXISTS mf_event_outbox ON mf_event",
        "DROP FUNCTION IF EXISTS mf_event_outbox()",
    ),
}


def create_outbox_trigger(conn: Connection) -> None:
    """Queue every inserted event in ``mf_outbox`` from the database (SQLite, PostgreSQL)."""
    for statement in _OUTBOX_TRIGGER.get(conn.dialect.name, ()):
        conn.exec_driver_sql(statement)


def drop_outbox_trigger(conn: Connection) -> None:
    for statement in _DROP_OUTBOX_TRIGGER.get(conn.dialect.name, ()):
        conn.exec_driver_sql(statement)


@event.listens_for(metadata, "after_create")
def _after_create(target: Any, connection: Connection, **kw: Any) -> None:
    tables = kw.get("tables")
    if tables is None or any(t.name in ("mf_event", "mf_outbox") for t in tables):
        create_outbox_trigger(connection)


class FeedRow(SQLModel, table=True):
    """The published events in the order subscribers see them: ids are assigned by one
    publisher at a time, so a reader that saw id n never later finds a smaller id appear."""

    __tablename__ = "mf_feed"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_mf_feed_case_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int
    seq: int
    published_at: datetime = Field(sa_column=_ts())


class SubscriptionRow(SQLModel, table=True):
    """A system that receives the feed as signed webhooks: its cursor (the last feed id it
    acknowledged), its retry state and a lease held by the worker delivering to it."""

    __tablename__ = "mf_subscription"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    url: str = Field(max_length=2000)
    cursor: int = 0
    attempts: int = 0
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    last_error: str | None = Field(default=None, max_length=500)
    leased_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    lease: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=_ts())


class DeadLetterRow(SQLModel, table=True):
    """An event a subscriber did not accept after every retry: kept here, skipped by the
    subscription's cursor, delivered again on request (``mediation-flow deliver --redeliver``)."""

    __tablename__ = "mf_dead_letter"

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(
        sa_column=Column(
            ForeignKey("mf_subscription.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    feed_id: int
    case_id: int
    seq: int
    attempts: int
    error: str = Field(max_length=500)
    at: datetime = Field(sa_column=_ts())
