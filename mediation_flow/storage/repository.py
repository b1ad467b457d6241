"""Loading a case and writing state + event + deadlines in one transaction.

The store knows tables and SQL, nothing of flows or guards. The engine reads a case in a read
transaction, decides, then writes in a write transaction whose ``UPDATE`` carries the version it
read (optimistic locking): if another command changed the case in between, no row matches and
:class:`~mediation_flow.errors.ConcurrentUpdate` is raised with nothing written.

SQLite: the connection runs in autocommit mode and this module emits ``BEGIN`` itself, ``BEGIN
IMMEDIATE`` for writes, so that writers queue on the busy timeout instead of failing to upgrade
a read lock; files use WAL so that readers never block the writer. PostgreSQL: ``READ
COMMITTED``; the conditional ``UPDATE`` waits for a concurrent writer of the same row and then
sees its new version.

The hot path uses SQLAlchemy Core statements, its writes prepared once per dialect
(:class:`Prepared`): a fire reads once (the case with its deadlines) and writes the case, its
event (the database queues it in the outbox), its ledger entry and its deadlines (one upsert):
4 writes on SQLite, 2 on PostgreSQL, where the case, the event and the entry are one statement.
The ORM's unit of work cost more than the SQL itself in the benchmark (``benchmarks/``).
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.pool import StaticPool

from mediation_flow.errors import (
    ConcurrentUpdate,
    DatabaseBusy,
    DatabaseError,
    DatabaseUnavailable,
    SchemaMismatch,
    StorageError,
)
from mediation_flow.models import (
    Claim,
    ClaimKind,
    Deadline,
    DeadlineStatus,
    Event,
    Party,
    PartyKind,
    PartyRole,
    party_ids,
)
from mediation_flow.personal_data import mask_text
from mediation_flow.records import DEADLINE_FIELDS, CaseRecord, DeadlineRecord
from mediation_flow.storage import schema
from mediation_flow.storage.tables import (
    AlertRow,
    CaseNumberRow,
    CaseRow,
    ClaimRow,
    DeadlineRow,
    DocumentRow,
    EventRow,
    FlowRow,
    HandoffRow,
    HolidayScheduleRow,
    IdempotencyRow,
    LedgerRow,
    NumberCounterRow,
    PartyRow,
    UTCDateTime,
)

__all__ = ["DEFAULT_URL", "DuplicateKey", "Store", "WritePlan"]


class DuplicateKey(Exception):
    """Another transaction stored the same idempotency key first (internal)."""


class WritePlan:
    """The writes of several commands of one transaction (tick's batch), written together by
    :meth:`Store.save_plan`: one executemany per statement. A command adds its case (with the
    version it read, once per case: later commands on the same case update the same record),
    its event, its deadlines and its ledger entry."""

    def __init__(self) -> None:
        self.cases: dict[int, tuple[CaseRecord, int]] = {}
        self.events: list[dict[str, Any]] = []
        self.deadlines: dict[int, DeadlineRecord] = {}
        self.entries: list[dict[str, Any]] = []

    def add(
        self,
        case: CaseRecord,
        expected_version: int,
        event_row: dict[str, Any],
        deadlines: Sequence[DeadlineRecord],
        entry: dict[str, Any] | None = None,
    ) -> None:
        if case.id not in self.cases:
            self.cases[case.id] = (case, expected_version)
        self.events.append(event_row)
        if entry is not None:
            self.entries.append(entry)
        for d in deadlines:
            if d.dirty:
                self.deadlines[id(d)] = d


DEFAULT_URL = "sqlite:///mediation_flow.db"
SHANGHAI = ZoneInfo("Asia/Shanghai")

cases = CaseRow.__table__  # type: ignore[attr-defined]
parties = PartyRow.__table__  # type: ignore[attr-defined]
claims = ClaimRow.__table__  # type: ignore[attr-defined]
events = EventRow.__table__  # type: ignore[attr-defined]
deadlines = DeadlineRow.__table__  # type: ignore[attr-defined]
flows = FlowRow.__table__  # type: ignore[attr-defined]
idempotency = IdempotencyRow.__table__  # type: ignore[attr-defined]
alerts = AlertRow.__table__  # type: ignore[attr-defined]
counters = NumberCounterRow.__table__  # type: ignore[attr-defined]
case_numbers = CaseNumberRow.__table__  # type: ignore[attr-defined]
documents = DocumentRow.__table__  # type: ignore[attr-defined]
handoffs = HandoffRow.__table__  # type: ignore[attr-defined]
holiday_schedules = HolidayScheduleRow.__table__  # type: ignore[attr-defined]
ledger_entries = LedgerRow.__table__  # type: ignore[attr-defined]

_CASE_COLUMNS = (
    cases.c.id,
    cases.c.region,
    cases.c.state,
    cases.c.version,
    cases.c.flow_fingerprint,
    cases.c.resolution,
    cases.c.worker_count,
    cases.c.is_migrant_worker,
    cases.c.knew_of_infringement_on,
    cases.c.employment_ended_on,
    cases.c.received_on,
    cases.c.limitation_expires_on,
    cases.c.event_hash,
    cases.c.opened_at,
    cases.c.updated_at,
    cases.c.attributes,
    cases.c.serial,
    cases.c.chain_id,
    cases.c.held_by,
    cases.c.held_since,
)
_DEADLINE_COLUMNS = (
    deadlines.c.id,
    deadlines.c.case_id,
    deadlines.c.kind,
    deadlines.c.party,
    deadlines.c.status,
    deadlines.c.starts_on,
    deadlines.c.unit,
    deadlines.c.length,
    deadlines.c.due,
    deadlines.c.extended,
    deadlines.c.paused_on,
    deadlines.c.provisional,
    deadlines.c.estimate,
    deadlines.c.basis,
)

_DEADLINE_NAMES = tuple(c.name for c in _DEADLINE_COLUMNS)

# The hot path's statements, built once with bound parameters: building a statement with
# .values(**row) on every command made SQLAlchemy coerce each value and key its cache anew,
# and cost the engine ~40% of its rate in the benchmark (benchmarks/README.md).
_SELECT_CASE = select(*_CASE_COLUMNS).where(cases.c.id == bindparam("case_id"))
_SELECT_DEADLINES = (
    select(*_DEADLINE_COLUMNS)
    .where(deadlines.c.case_id == bindparam("case_id"))
    .order_by(deadlines.c.id)
)
_SELECT_PARTIES = (
    select(
        parties.c.kind,
        parties.c.role,
        parties.c.name,
        parties.c.id_number,
        parties.c.phone,
        parties.c.account,
    )
    .where(parties.c.case_id == bindparam("case_id"))
    .order_by(parties.c.position)
)
_SELECT_CLAIMS = (
    select(claims.c.kind, claims.c.amount)
    .where(claims.c.case_id == bindparam("case_id"))
    .order_by(claims.c.position)
)
_CASE_CHANGES = (
    "event_hash",
    "state",
    "version",
    "resolution",
    "limitation_expires_on",
    "updated_at",
    "attributes",
)
_UPDATE_CASE = (
    update(cases)
    .where(
        cases.c.id == bindparam("b_id"),
        cases.c.version == bindparam("b_version"),
        # A case handed over after the command read it: the command conflicts, and its retry
        # sees the hand-over (mediation_flow.handoff).
        cases.c.held_by.is_(None),
    )
    .values({name: bindparam(name) for name in _CASE_CHANGES})
)
_DEADLINE_FIELDS = ("case_id", *DEADLINE_FIELDS)
_UPDATE_DEADLINE = (
    update(deadlines)
    .where(deadlines.c.id == bindparam("b_id"))
    .values({name: bindparam(name) for name in _DEADLINE_FIELDS})
)
_INSERT_EVENT = insert(events)
_UPDATE_CASE_HEAD = (
    update(cases)
    .where(cases.c.id == bindparam("b_id"), cases.c.version == bindparam("b_version"))
    .values(
        version=bindparam("version"),
        event_hash=bindparam("event_hash"),
        updated_at=bindparam("updated_at"),
    )
)
_CALENDAR_REVISION = select(func.coalesce(func.max(holiday_schedules.c.revision), 0))
#: A command's ledger entry (mediation_flow.ledger): ``case_id``, ``kind``, ``digest``, ``at``.
_INSERT_LEDGER = insert(ledger_entries)
_INSERT_CASE_NUMBER = insert(case_numbers)
_INSERT_CASE = insert(cases).returning(cases.c.id)
_INSERT_PARTY = insert(parties)
_INSERT_CLAIM = insert(claims)
_INSERT_IDEMPOTENCY = insert(idempotency)
_SET_EVENT_HASH = (
    update(cases)
    .where(cases.c.id == bindparam("b_id"))
    .values(event_hash=bindparam("event_hash"), version=bindparam("version"))
)
#: A command's one read: the case row and its deadlines (a LEFT JOIN: one row per deadline, one
#: row with NULL deadline columns for a case without any), in one statement, so one snapshot
#: on every database.
_D = "d_"
#: Parameter prefixes of the event's and the ledger entry's values in the PostgreSQL save.
_E = "e_"
_L = "l_"
_SELECT_COMMAND = (
    select(*_CASE_COLUMNS, *(c.label(_D + c.name) for c in _DEADLINE_COLUMNS))
    .select_from(cases.outerjoin(deadlines, deadlines.c.case_id == cases.c.id))
    .where(cases.c.id == bindparam("case_id"))
    .order_by(deadlines.c.id)
)
_SELECT_COMMANDS = (
    select(*_CASE_COLUMNS, *(c.label(_D + c.name) for c in _DEADLINE_COLUMNS))
    .select_from(cases.outerjoin(deadlines, deadlines.c.case_id == cases.c.id))
    .where(cases.c.id.in_(bindparam("case_ids", expanding=True)))
    .order_by(cases.c.id, deadlines.c.id)
)
_SELECT_IDEMPOTENCY = select(
    idempotency.c.case_id, idempotency.c.request, idempotency.c.result
).where(idempotency.c.key == bindparam("key"))


class Prepared:
    """A hot statement compiled once per dialect for a fixed set of parameters, and executed as
    the driver's SQL with its parameters converted by the statement's own bind processors: the
    same SQL and values as ``conn.execute(statement, row)``, without SQLAlchemy's per-call
    compiled-cache look-up and parameter set-up (half of a small statement's cost in
    ``benchmarks/bench_engine.py``). Event hooks, error translation and transactions are the
    connection's, as for any statement.

    It reads a compiled statement's bind and result processors, which SQLAlchemy keeps private
    (``_bind_processors``, ``_result_columns``): a SQLAlchemy release that renames them makes
    the statements run as ``conn.execute(statement, ...)`` again (slower, the same result), and
    ``tests/test_statement_counts.py`` checks both ways."""

    #: False once SQLAlchemy lacks what preparing needs: every statement runs the plain way.
    available = True

    def __init__(self, statement: Any, keys: Sequence[str], *, rowcount: bool = False) -> None:
        self.statement = statement
        self.keys = tuple(keys)
        self.options = {"preserve_rowcount": True} if rowcount else {}
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, Any]] = {}

    def _for(self, dialect: Any) -> tuple[str, tuple[str, ...] | None, Any]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=list(self.keys))
            processors = compiled._bind_processors
            positions = tuple(compiled.positiontup) if compiled.positional else None
            names = positions if positions is not None else tuple(compiled.binds)
            missing = set(names) - set(self.keys)
            if missing:
                raise ValueError(f"parameters {sorted(missing)} are not among {self.keys}")
            found = (compiled.string, positions, [(n, processors.get(n)) for n in names])
            self._compiled[dialect.name] = found
        return found

    def execute(self, conn: Connection, rows: dict[str, Any] | Sequence[dict[str, Any]]) -> Any:
        """Execute with one row of parameters (a mapping) or several (executemany)."""
        if not Prepared.available:
            return self._plain(conn, rows)
        try:
            sql, positions, convert = self._for(conn.dialect)
        except AttributeError:
            Prepared.available = False  # a SQLAlchemy without the private processors
            return self._plain(conn, rows)

        def one(row: dict[str, Any]) -> Any:
            values = [(n, row[n] if p is None else p(row[n])) for n, p in convert]
            if positions is not None:
                return tuple(v for _, v in values)
            return dict(values)

        params = one(rows) if isinstance(rows, dict) else [one(r) for r in rows]
        return conn.exec_driver_sql(sql, params, self.options or None)

    def _plain(self, conn: Connection, rows: dict[str, Any] | Sequence[dict[str, Any]]) -> Any:
        """The statement executed as SQLAlchemy executes any statement."""
        keys = self.keys
        params: Any = (
            {k: rows[k] for k in keys}
            if isinstance(rows, dict)
            else [{k: r[k] for k in keys} for r in rows]
        )
        return conn.execute(self.statement, params, execution_options=self.options or None)


#: Row classes are made at run time from a statement's columns (``namedtuple`` typed loosely).
_row_type: Any = namedtuple


class PreparedQuery(Prepared):
    """A hot query, prepared as :class:`Prepared`; its rows come back through the statement's
    own result processors, as named tuples with the statement's column names."""

    def __init__(self, statement: Any, keys: Sequence[str]) -> None:
        super().__init__(statement, keys)
        self._results: dict[str, tuple[Any, list[Any]]] = {}

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[Any]:
        if not Prepared.available:
            return list(self._plain(conn, params).fetchall())
        results = self._results.get(conn.dialect.name)
        if results is None:
            compiled = self.statement.compile(dialect=conn.dialect, column_keys=list(self.keys))
            try:
                columns = compiled._result_columns
                made = _row_type("Row", [c.keyname for c in columns])
                processors = [c.type._cached_result_processor(conn.dialect, None) for c in columns]
            except AttributeError:
                Prepared.available = False  # a SQLAlchemy without the private processors
                return list(self._plain(conn, params).fetchall())
            results = self._results[conn.dialect.name] = (made, processors)
        row_type, processors = results
        raw = self.execute(conn, params).fetchall()
        return [
            row_type(*[v if p is None else p(v) for p, v in zip(processors, r, strict=True)])
            for r in raw
        ]


#: The command path's writes, prepared (:class:`Prepared`).
_EVENT_KEYS = tuple(c.name for c in events.c if c.name != "id")
_ENTRY_KEYS = ("case_id", "kind", "digest", "at")
_P_UPDATE_CASE = Prepared(_UPDATE_CASE, ("b_id", "b_version", *_CASE_CHANGES), rowcount=True)
_P_INSERT_EVENT = Prepared(_INSERT_EVENT, _EVENT_KEYS)
_P_INSERT_LEDGER = Prepared(_INSERT_LEDGER, _ENTRY_KEYS)
_P_SET_EVENT_HASH = Prepared(_SET_EVENT_HASH, ("b_id", "event_hash", "version"))
_P_SELECT_COMMAND = PreparedQuery(_SELECT_COMMAND, ("case_id",))


def _normalise_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Store:
    """The database of one engine: connections, schema and the statements of a command."""

    def __init__(
        self,
        url: str | None = None,
        *,
        busy_timeout: float = 5.0,
        pool_size: int | None = None,
        statement_timeout_ms: int | None = None,
        echo: bool = False,
        max_overflow: int | None = None,
        pool_timeout: float | None = None,
        pool_recycle: float | None = None,
    ) -> None:
        self.url = _normalise_url(url or DEFAULT_URL)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        # A failed statement's message never carries its values (a party's name, identity
        # number, phone): SQLAlchemy leaves them out of its exceptions.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            memory = parsed.database in (None, "", ":memory:")
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout}
            if memory:
                kwargs["poolclass"] = StaticPool  # one shared in-memory database
        else:
            if pool_size is not None:
                kwargs["pool_size"] = pool_size
            if max_overflow is not None:
                kwargs["max_overflow"] = max_overflow
            if pool_timeout is not None:
                kwargs["pool_timeout"] = pool_timeout  # seconds to wait for a free connection
            if pool_recycle is not None:
                kwargs["pool_recycle"] = pool_recycle  # seconds before a connection is replaced
            if statement_timeout_ms is not None:
                # Added to the URL's own ``options`` (a search_path, say), not instead of them.
                options = " ".join(
                    filter(
                        None,
                        [
                            parsed.query.get("options"),  # type: ignore[list-item]
                            f"-c statement_timeout={int(statement_timeout_ms)}",
                        ],
                    )
                )
                kwargs["connect_args"] = {"options": options}
            kwargs["pool_pre_ping"] = True
        self.engine: SAEngine = create_engine(self.url, **kwargs)
        self._next_number: Any = None
        self._insert_alert: Any = None
        self._upsert_deadline: Prepared | None = None
        self._save_case: Prepared | None = None
        self._set_head: Prepared | None = None
        if self.is_sqlite:
            self._configure_sqlite(memory, busy_timeout)

    def _configure_sqlite(self, memory: bool, busy_timeout: float) -> None:
        @event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn: sqlite3.Connection, record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cur.execute("PRAGMA foreign_keys = ON")
            if not memory:
                cur.execute("PRAGMA journal_mode = WAL")
                # WAL with synchronous=NORMAL is durable across application crashes; a power
                # loss may drop the last transactions but never corrupts the database.
                cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _begin(conn: Connection) -> None:
            mode = "IMMEDIATE" if conn.get_execution_options().get("mf_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

    # -- lifecycle --------------------------------------------------------------------------------

    def ensure_schema(self, *, create: bool) -> None:
        """Create the schema in an empty database (``create``), else insist on the current
        revision (:mod:`mediation_flow.storage.schema`)."""
        # Starting an engine takes no write lock when the schema is already current, so it does
        # not queue behind busy writers.
        with self.reading() as conn:
            if schema.current_revision(conn) == schema.head_revision():
                return
        with self.migrating() as conn:
            schema.ensure_schema(conn, create=create)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with _translate_errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def reading(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot); always rolled back.

        On PostgreSQL the snapshot is REPEATABLE READ: at READ COMMITTED, the case row and its
        deadlines could come from two different commits, and a guard could refuse on a state
        that never existed (the version check would still protect the write).
        """
        with self._maybe_connect(conn) as c, _translate_errors(), c.begin() as tx:
            if not self.is_sqlite:
                c.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield c
            tx.rollback()

    @contextmanager
    def writing(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on an exception."""
        with self._maybe_connect(conn) as c, _translate_errors():
            c = c.execution_options(mf_write=True)
            try:
                with c.begin():
                    yield c
            finally:
                c.execution_options(mf_write=False)

    @contextmanager
    def migrating(self) -> Iterator[Connection]:
        """A write transaction for schema changes (:mod:`mediation_flow.storage.schema`).

        On SQLite, foreign keys are off while it runs and checked before it commits: Alembic's
        batch mode changes a table by copying it and dropping the old one, and with foreign
        keys on, that drop would cascade into every row that refers to the table (parties,
        events, deadlines...). SQLite ignores the pragma inside a transaction, so it is set on
        the connection before the transaction begins, and set back afterwards."""
        with self.engine.connect() as c:
            if not self.is_sqlite:
                with self.writing(c):
                    yield c
                return
            raw = c.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA foreign_keys = OFF")
            try:
                with self.writing(c):
                    yield c
                    broken = c.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise SchemaMismatch(
                            None,
                            schema.head_revision(),
                            f"the migration would leave {len(broken)} rows referring to rows "
                            f"that do not exist (first: {tuple(broken[0])}); nothing was changed",
                        )
            finally:
                raw.execute("PRAGMA foreign_keys = ON")

    @contextmanager
    def _maybe_connect(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with _translate_errors(), self.engine.connect() as c:
                yield c

    # -- flows ------------------------------------------------------------------------------------

    def register_flow(
        self, fingerprint: str, name: str, definition: dict[str, Any], at: datetime
    ) -> None:
        exists_query = select(flows.c.fingerprint).where(flows.c.fingerprint == fingerprint)
        with self.reading() as conn:
            if conn.execute(exists_query).first() is not None:
                return
        try:
            with self.writing() as conn:
                exists = conn.execute(exists_query).first()
                if exists is None:
                    conn.execute(
                        insert(flows).values(
                            fingerprint=fingerprint,
                            name=name,
                            definition=definition,
                            registered_at=at,
                        )
                    )
        except DatabaseError as exc:
            if exc.kind != "integrity":
                raise
            # another process registered the same flow at the same moment

    # -- reading ----------------------------------------------------------------------------------

    def load_case(self, conn: Connection, case_id: int) -> CaseRecord | None:
        row = conn.execute(_SELECT_CASE, {"case_id": case_id}).first()
        if row is None:
            return None
        return _case_record(row)

    def load_command(
        self, conn: Connection, case_id: int
    ) -> tuple[CaseRecord, list[DeadlineRecord]] | None:
        """The case and its deadlines (oldest first) in one statement: what a command reads."""
        rows = _P_SELECT_COMMAND.rows(conn, {"case_id": case_id})
        if not rows:
            return None
        return _case_record(rows[0]), [_command_deadline(r) for r in rows if r.d_id is not None]

    def load_commands(
        self, conn: Connection, case_ids: Sequence[int]
    ) -> dict[int, tuple[CaseRecord, list[DeadlineRecord]]]:
        """:meth:`load_command` for several cases in one statement."""
        out: dict[int, tuple[CaseRecord, list[DeadlineRecord]]] = {}
        if not case_ids:
            return out
        for r in conn.execute(_SELECT_COMMANDS, {"case_ids": list(case_ids)}):
            loaded = out.get(r.id)
            if loaded is None:
                loaded = out[r.id] = (_case_record(r), [])
            if r.d_id is not None:
                loaded[1].append(_command_deadline(r))
        return out

    def load_deadlines(self, conn: Connection, case_id: int) -> list[DeadlineRecord]:
        rows = conn.execute(_SELECT_DEADLINES, {"case_id": case_id})
        return [_deadline_record(r) for r in rows]

    def load_parties(self, conn: Connection, case_id: int) -> tuple[Party, ...]:
        rows = list(conn.execute(_SELECT_PARTIES, {"case_id": case_id}))
        ids = party_ids(r.kind for r in rows)  # stable: parties are only ever appended
        return tuple(
            Party(
                PartyKind(r.kind), PartyRole(r.role), r.name, r.id_number, r.phone, r.account, pid
            )
            for r, pid in zip(rows, ids, strict=True)
        )

    def load_claims(self, conn: Connection, case_id: int) -> tuple[Claim, ...]:
        rows = conn.execute(_SELECT_CLAIMS, {"case_id": case_id})
        return tuple(Claim(ClaimKind(r.kind), r.amount) for r in rows)

    def history(self, conn: Connection, case_id: int) -> list[Event]:
        rows = conn.execute(
            select(events).where(events.c.case_id == case_id).order_by(events.c.seq)
        )
        return [
            Event(
                case_id=r.case_id,
                seq=r.seq,
                trigger=r.trigger,
                source=r.source,
                dest=r.dest,
                actor_id=r.actor_id,
                actor_role=r.actor_role,
                at=r.at.astimezone(SHANGHAI),
                data=dict(r.data or {}),
                warnings=tuple(r.warnings or ()),
                hash=r.hash,
            )
            for r in rows
        ]

    def case_version(self, conn: Connection, case_id: int) -> int | None:
        value = conn.execute(select(cases.c.version).where(cases.c.id == case_id)).scalar()
        return int(value) if value is not None else None

    def due_deadlines(
        self,
        conn: Connection,
        before: date,
        limit: int,
        *,
        after: tuple[date, int] | None = None,
    ) -> list[tuple[int, int, date]]:
        """(deadline id, case id, due) of pending deadlines whose due day is before ``before``,
        oldest first, continuing after the ``(due, id)`` key ``after``. Uses the (status, due)
        index."""
        stmt = self.due_ids_query(before, after).limit(limit)
        return [(r.id, r.case_id, r.due) for r in conn.execute(stmt)]

    def claim_due(
        self, conn: Connection, before: date, after: tuple[date, int] | None
    ) -> tuple[int, int, date] | None:
        """Claim the next pending deadline due before ``before`` (after the key ``after``):
        ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers claim different rows; on
        SQLite the write transaction already excludes other writers."""
        stmt = self.due_ids_query(before, after).limit(1)
        if not self.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        row = conn.execute(stmt).first()
        return (row.id, row.case_id, row.due) if row is not None else None

    def claim_due_batch(
        self, conn: Connection, before: date, after: tuple[date, int] | None, size: int
    ) -> list[tuple[int, int, date]]:
        """Claim up to ``size`` pending deadlines due before ``before`` (after the key
        ``after``), oldest first. On PostgreSQL the deadline rows and their cases' rows are
        locked with ``FOR UPDATE SKIP LOCKED``: concurrent workers claim different deadlines, and
        a deadline whose case a command is writing is left to a later batch. On SQLite the write
        transaction already excludes other writers."""
        stmt = self.due_ids_query(before, after).limit(size)
        if not self.is_sqlite:
            stmt = stmt.join(cases, cases.c.id == deadlines.c.case_id).with_for_update(
                skip_locked=True, of=[deadlines, cases]
            )
        return [(r.id, r.case_id, r.due) for r in conn.execute(stmt)]

    def lock_case(self, conn: Connection, case_id: int) -> None:
        """Lock the case row before deciding an expiry (PostgreSQL; ``NOWAIT``): a command
        holding it makes the expiry step back (``ConcurrentUpdate``) instead of deadlocking."""
        if not self.is_sqlite:
            conn.execute(
                select(cases.c.id).where(cases.c.id == case_id).with_for_update(nowait=True)
            )

    def save_deadline(self, conn: Connection, d: DeadlineRecord) -> None:
        conn.execute(_UPDATE_DEADLINE, [{"b_id": d.id, **d.values()}])

    def due_ids_query(self, before: date, after: tuple[date, int] | None = None) -> Any:
        stmt = (
            select(deadlines.c.id, deadlines.c.case_id, deadlines.c.due)
            .where(deadlines.c.status == DeadlineStatus.pending.value, deadlines.c.due < before)
            .order_by(deadlines.c.due, deadlines.c.id)
        )
        if after is not None:
            stmt = stmt.where(
                or_(
                    deadlines.c.due > after[0],
                    and_(deadlines.c.due == after[0], deadlines.c.id > after[1]),
                )
            )
        return stmt

    def due_query(self, before: date, region: str | None = None, kind: str | None = None) -> Any:
        """The statement behind ``engine.due``: open deadlines due before a day."""
        stmt = (
            select(*_DEADLINE_COLUMNS)
            .where(deadlines.c.status == DeadlineStatus.pending.value, deadlines.c.due < before)
            .order_by(deadlines.c.due, deadlines.c.id)
        )
        if kind is not None:
            stmt = stmt.where(deadlines.c.kind == kind)
        if region is not None:
            stmt = stmt.join(cases, cases.c.id == deadlines.c.case_id).where(
                cases.c.region.startswith(region, autoescape=True)
            )
        return stmt

    def due(
        self, conn: Connection, before: date, region: str | None, kind: str | None
    ) -> list[Deadline]:
        return [to_deadline(r) for r in conn.execute(self.due_query(before, region, kind))]

    def deadlines_of(self, conn: Connection, case_id: int) -> list[Deadline]:
        return [to_deadline(r) for r in self.load_deadlines(conn, case_id)]

    def count_cases(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(cases)).scalar_one())

    # -- writing ----------------------------------------------------------------------------------

    def append_parties(
        self, conn: Connection, case_id: int, party_rows: Sequence[dict[str, Any]]
    ) -> None:
        """Add parties to a case after intake (``add_party``), after its existing ones."""
        if party_rows:
            conn.execute(insert(parties), [{**p, "case_id": case_id} for p in party_rows])

    def insert_case(
        self,
        conn: Connection,
        values: dict[str, Any],
        party_rows: Sequence[dict[str, Any]],
        claim_rows: Sequence[dict[str, Any]],
    ) -> int:
        """Insert the case, its parties and its claims (one statement each, prebuilt);
        return the new case id."""
        case_id = int(conn.execute(_INSERT_CASE, values).scalar_one())
        if party_rows:
            conn.execute(_INSERT_PARTY, [{**p, "case_id": case_id} for p in party_rows])
        if claim_rows:
            conn.execute(_INSERT_CLAIM, [{**c, "case_id": case_id} for c in claim_rows])
        return case_id

    def insert_event(self, conn: Connection, event_row: dict[str, Any]) -> None:
        conn.execute(_INSERT_EVENT, event_row)

    def insert_events(self, conn: Connection, event_rows: Sequence[dict[str, Any]]) -> None:
        """Insert events in one statement (executemany); the database queues each in the
        outbox (a trigger: :func:`~mediation_flow.storage.tables.create_outbox_trigger`)."""
        if event_rows:
            conn.execute(_INSERT_EVENT, list(event_rows))

    def insert_idempotency(self, conn: Connection, row: dict[str, Any]) -> None:
        """Store an idempotency key. Another transaction stored it first: ``DuplicateKey``;
        the caller's transaction is then rolled back whole (no savepoint needed)."""
        try:
            conn.execute(_INSERT_IDEMPOTENCY, row)
        except IntegrityError as exc:
            raise DuplicateKey(row["key"]) from exc

    def idempotency(self, conn: Connection, key: str) -> dict[str, Any] | None:
        row = conn.execute(_SELECT_IDEMPOTENCY, {"key": key}).first()
        if row is None:
            return None
        return {"case_id": row.case_id, "request": row.request, "result": dict(row.result)}

    def set_event_hash(
        self,
        conn: Connection,
        case_id: int,
        head: str,
        version: int | None = None,
        entry: dict[str, Any] | None = None,
    ) -> None:
        """Set the case's chain head (and ``version``); given, write its ledger ``entry`` too
        (PostgreSQL: in the same statement)."""
        if version is not None:
            params = {"b_id": case_id, "event_hash": head, "version": version}
            if entry is not None and not self.is_sqlite:
                params.update({_L + k: v for k, v in entry.items()})
                self._head_statement().execute(conn, params)
                return
            _P_SET_EVENT_HASH.execute(conn, params)
            if entry is not None:
                _P_INSERT_LEDGER.execute(conn, entry)
            return
        if entry is not None:
            raise ValueError("a ledger entry goes with a new version")
        conn.execute(update(cases).where(cases.c.id == case_id).values(event_hash=head))

    def alert_keys(self, conn: Connection, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are stored already (unique index on mf_alert.key)."""
        if not keys:
            return set()
        rows = conn.execute(select(alerts.c.key).where(alerts.c.key.in_(list(keys))))
        return {r.key for r in rows}

    def insert_alerts(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Store alerts in one statement, skipping keys stored already (by this transaction's
        rivals too: ``ON CONFLICT DO NOTHING`` on the unique key); return the keys stored."""
        if not rows:
            return set()
        if self._insert_alert is None:  # built once: building it cost more than running it
            self._insert_alert = (
                _dialect_insert(self.dialect)(alerts)
                .on_conflict_do_nothing(index_elements=[alerts.c.key])
                .returning(alerts.c.key)
            )
        return {str(k) for k in conn.execute(self._insert_alert, list(rows)).scalars()}

    def insert_alert(self, conn: Connection, row: dict[str, Any]) -> bool:
        """Store an alert; False when another transaction stored its key first."""
        try:
            with conn.begin_nested():
                conn.execute(insert(alerts), row)
        except IntegrityError:
            return False
        return True

    def case_ids(
        self,
        conn: Connection,
        *,
        region: str | None = None,
        state: str | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> list[int]:
        stmt = select(cases.c.id).where(cases.c.id > after).order_by(cases.c.id)
        if region is not None:
            stmt = stmt.where(cases.c.region.startswith(region, autoescape=True))
        if state is not None:
            stmt = stmt.where(cases.c.state == state)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [row.id for row in conn.execute(stmt)]

    # -- case numbers, documents, handoffs ---------------------------------------------------------

    def lock_version(self, conn: Connection, case_id: int, expected_version: int) -> None:
        """Lock the case row (waiting for a concurrent writer) and check it is still at
        ``expected_version``; raises ``ConcurrentUpdate`` otherwise. Taken before a case number
        is issued, so every writer locks the case row before the number counter. On SQLite the
        write transaction already excludes other writers, and a command that read the case
        before another changed it fails later in the same transaction (its number row, or the
        version-checked save), rolling its number back: nothing to do here."""
        if self.is_sqlite:
            return
        result = conn.execute(
            update(cases)
            .where(cases.c.id == case_id, cases.c.version == expected_version)
            .values(version=cases.c.version)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(case_id, expected_version, self.case_version(conn, case_id))

    def hold(
        self, conn: Connection, case_id: int, version: int, held_by: str, at: datetime
    ) -> bool:
        """Mark the case handed over, if it is still at ``version`` and not handed over."""
        result = conn.execute(
            update(cases)
            .where(cases.c.id == case_id, cases.c.version == version, cases.c.held_by.is_(None))
            .values(held_by=held_by, held_since=at)
        )
        return bool(result.rowcount == 1)

    def release(self, conn: Connection, case_id: int) -> None:
        conn.execute(
            update(cases).where(cases.c.id == case_id).values(held_by=None, held_since=None)
        )

    def raise_counter(self, conn: Connection, prefix: str, year: int, seq: int) -> int:
        """Make sure the counter of ``(prefix, year)`` is at least ``seq`` (the operators
        continuing a series numbered elsewhere until now). Returns the counter."""
        upsert = _dialect_insert(self.dialect)(counters).values(prefix=prefix, year=year, last=seq)
        upsert = upsert.on_conflict_do_update(
            index_elements=[counters.c.prefix, counters.c.year],
            set_={"last": func.max(counters.c.last, upsert.excluded.last)}
            if self.is_sqlite
            else {"last": func.greatest(counters.c.last, upsert.excluded.last)},
        ).returning(counters.c.last)
        return int(conn.execute(upsert).scalar_one())

    def next_number(self, conn: Connection, prefix: str, year: int) -> int:
        """Increment and return the counter of ``(prefix, year)``, creating it at 1, past the
        numbers of the series already stored (taken in with a handed-over case: the counter
        does not jump to them, so a package cannot burn a series). The row stays locked until
        the transaction ends, so concurrent issuers take turns; a rollback gives the number
        back."""
        if self._next_number is None:  # built once: building it cost more than running it
            upsert = _dialect_insert(self.dialect)(counters).values(
                prefix=bindparam("prefix"), year=bindparam("year"), last=1
            )
            self._next_number = upsert.on_conflict_do_update(
                index_elements=[counters.c.prefix, counters.c.year],
                set_={"last": counters.c.last + 1},
            ).returning(counters.c.last)
        key = {"prefix": prefix, "year": year}
        while True:
            seq = int(conn.execute(self._next_number, key).scalar_one())
            taken = conn.execute(
                select(case_numbers.c.id).where(
                    case_numbers.c.prefix == prefix,
                    case_numbers.c.year == year,
                    case_numbers.c.seq == seq,
                )
            ).first()
            if taken is None:
                return seq

    def entered_state_at(self, conn: Connection, case_id: int, state: str) -> datetime | None:
        """When the case last entered ``state`` (its latest event into it from another state)."""
        return conn.execute(
            select(events.c.at)
            .where(
                events.c.case_id == case_id,
                events.c.dest == state,
                events.c.source != events.c.dest,
            )
            .order_by(events.c.seq.desc())
            .limit(1)
        ).scalar()

    def insert_case_number(self, conn: Connection, row: dict[str, Any], version: int) -> None:
        """Record an issued number. The case already has this rule's number under this prefix:
        another command numbered it after this one read the case (``ConcurrentUpdate``)."""
        try:  # the transaction is rolled back: no savepoint needed
            conn.execute(_INSERT_CASE_NUMBER, row)
        except IntegrityError as exc:
            raise ConcurrentUpdate(row["case_id"], version, None) from exc

    def case_by_reference(
        self, conn: Connection, *, serial: str | None, numbers: Sequence[str]
    ) -> int | None:
        """The id of the case with this serial, or else with one of these case numbers."""
        if serial is not None:
            found = self.case_by_serial(conn, serial)
            if found is not None:
                return found
        found = conn.execute(
            select(case_numbers.c.case_id).where(case_numbers.c.number.in_(list(numbers)))
        ).scalar()
        return int(found) if found is not None else None

    def case_by_serial(self, conn: Connection, serial: str) -> int | None:
        found = conn.execute(select(cases.c.id).where(cases.c.serial == serial)).scalar()
        return int(found) if found is not None else None

    def insert_document(self, conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(insert(documents), row)

    def documents_of(self, conn: Connection, case_id: int) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(documents).where(documents.c.case_id == case_id).order_by(documents.c.id)
        )
        return [dict(r._mapping) for r in rows]

    def insert_handoff(self, conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(insert(handoffs), row)

    def handoffs_of(self, conn: Connection, case_id: int) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(handoffs).where(handoffs.c.case_id == case_id).order_by(handoffs.c.id)
        )
        return [dict(r._mapping) for r in rows]

    def insert_rows(self, conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows into one of the case's tables (an imported case)."""
        if rows:
            conn.execute(insert(_TABLES[table]), list(rows))

    def update_case(self, conn: Connection, case_id: int, values: dict[str, Any]) -> None:
        conn.execute(update(cases).where(cases.c.id == case_id).values(**values))

    def delete_deadlines(self, conn: Connection, case_id: int) -> None:
        conn.execute(deadlines.delete().where(deadlines.c.case_id == case_id))

    def save(
        self,
        conn: Connection,
        case: CaseRecord,
        expected_version: int,
        event_row: dict[str, Any],
        changed: Sequence[DeadlineRecord],
        entry: dict[str, Any] | None = None,
    ) -> None:
        """Write the case's new state and version, its event (queued in the outbox by the
        database), its deadline changes (new and changed rows in one executemany) and, given,
        its ledger ``entry`` (``case_id``, ``kind``, ``digest``, ``at``; mediation_flow.ledger).

        SQLite: the case, the event, the deadlines, the entry: a statement each. PostgreSQL:
        the case, the event and the entry in one statement (data-modifying CTEs), then the
        deadlines.

        Raises ``ConcurrentUpdate`` when the stored version is no longer ``expected_version``;
        the caller's transaction is then rolled back, so nothing is written.
        """
        changes = {name: getattr(case, name) for name in _CASE_CHANGES}
        params = {"b_id": case.id, "b_version": expected_version, **changes}
        if entry is not None and not self.is_sqlite:
            params.update({_E + k: v for k, v in event_row.items() if k != "id"})
            params.update({_L + k: v for k, v in entry.items()})
            try:
                result = self._save_statement().execute(conn, params)
            except IntegrityError as exc:  # a second line of defence: (case_id, seq) is unique
                raise ConcurrentUpdate(case.id, expected_version, None) from exc
            if result.rowcount != 1:
                raise ConcurrentUpdate(case.id, expected_version, self.case_version(conn, case.id))
        else:
            result = _P_UPDATE_CASE.execute(conn, params)
            if result.rowcount != 1:
                raise ConcurrentUpdate(case.id, expected_version, self.case_version(conn, case.id))
            try:
                _P_INSERT_EVENT.execute(conn, event_row)
            except IntegrityError as exc:  # a second line of defence: (case_id, seq) is unique
                raise ConcurrentUpdate(case.id, expected_version, None) from exc
            if entry is not None:
                _P_INSERT_LEDGER.execute(conn, entry)
        self.write_deadlines(conn, [d for d in changed if d.dirty])

    def write_deadlines(self, conn: Connection, changed: Sequence[DeadlineRecord]) -> None:
        """Insert the new deadlines and update the changed ones: one executemany of
        ``INSERT ... ON CONFLICT (id) DO UPDATE`` (a new row has no id yet: the database gives
        it one)."""
        if changed:
            self._upsert_deadlines().execute(conn, [{"id": d.id, **d.values()} for d in changed])

    def _upsert_deadlines(self) -> Prepared:
        if self._upsert_deadline is None:  # built once, for the store's dialect
            stmt = _dialect_insert(self.dialect)(deadlines)
            new_id: Any = bindparam("id", type_=Integer)
            if not self.is_sqlite:  # SQLite numbers a NULL INTEGER PRIMARY KEY itself
                new_id = func.coalesce(
                    new_id, literal_column("nextval(pg_get_serial_sequence('mf_deadline', 'id'))")
                )
            stmt = stmt.values(id=new_id, **{n: bindparam(n) for n in _DEADLINE_FIELDS})
            upsert = stmt.on_conflict_do_update(
                index_elements=[deadlines.c.id],
                set_={n: stmt.excluded[n] for n in _DEADLINE_FIELDS},
            )
            self._upsert_deadline = Prepared(upsert, ("id", *_DEADLINE_FIELDS))
        return self._upsert_deadline

    def _head_statement(self) -> Prepared:
        """PostgreSQL: the case's new head and its ledger entry in one statement."""
        if self._set_head is None:
            updated = _SET_EVENT_HASH.returning(cases.c.id).cte("updated")
            head = insert(ledger_entries).from_select(
                ["case_id", "kind", "digest", "at"], _entry_values(updated)
            )
            self._set_head = Prepared(
                head, ("b_id", "event_hash", "version", *(_L + k for k in _ENTRY_KEYS))
            )
        return self._set_head

    def _save_statement(self) -> Prepared:
        """PostgreSQL: the case's update (checked against the version read), its event and
        its ledger entry in one statement; inserts as many events as cases it updated."""
        if self._save_case is None:
            updated = _UPDATE_CASE.returning(cases.c.id).cte("updated")
            entry = insert(ledger_entries).from_select(
                ["case_id", "kind", "digest", "at"], _entry_values(updated)
            )
            names = [c.name for c in events.c if c.name not in ("id", "case_id")]
            save = (
                insert(events)
                .from_select(
                    ["case_id", *names],
                    select(
                        updated.c.id,
                        *(bindparam(_E + n, type_=events.c[n].type) for n in names),
                    ),
                )
                .add_cte(entry.cte("entry"))
            )
            keys = (
                "b_id",
                "b_version",
                *_CASE_CHANGES,
                *(_E + n for n in names),
                *(_L + k for k in _ENTRY_KEYS),
            )
            # The rowcount is the check: 0 when the case's version moved.
            self._save_case = Prepared(save, keys, rowcount=True)
        return self._save_case

    # -- the holiday calendar (mediation_flow.redating) -------------------------------------------

    def calendar_revision(self, conn: Connection) -> int:
        """The newest registration's revision (0: no notice registered)."""
        return int(conn.execute(_CALENDAR_REVISION).scalar_one())

    def holiday_schedules(self, conn: Connection) -> list[dict[str, Any]]:
        """The registered notices, oldest year first."""
        rows = conn.execute(select(holiday_schedules).order_by(holiday_schedules.c.year))
        return [dict(r._mapping) for r in rows]

    def put_holiday_schedule(self, conn: Connection, row: dict[str, Any]) -> int:
        """Store (or replace) a year's notice with the next revision; returns the revision."""
        revision = self.calendar_revision(conn) + 1
        conn.execute(delete(holiday_schedules).where(holiday_schedules.c.year == row["year"]))
        conn.execute(insert(holiday_schedules), {**row, "revision": revision})
        return revision

    def locked_calendar_revision(self, conn: Connection) -> int:
        """The newest registration's revision, read under the shared calendar lock (one
        statement): a command that decided on a prediction checks it before it writes."""
        if self.is_sqlite:  # the write transaction already excludes a registration
            return self.calendar_revision(conn)
        stmt = select(
            func.pg_advisory_xact_lock_shared(7302025),
            _CALENDAR_REVISION.scalar_subquery(),
        )
        return int(conn.execute(stmt).one()[1])

    def lock_calendar(self, conn: Connection, *, shared: bool = False) -> None:
        """Serialise registrations and re-dating passes against each other (exclusive) and
        against commands that computed a date on a prediction (``shared``): PostgreSQL's
        transaction-level advisory lock; SQLite's write transaction already excludes other
        writers."""
        if not self.is_sqlite:
            lock = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            conn.exec_driver_sql(f"SELECT {lock}(7302025)")

    def provisional_batch(
        self, conn: Connection, after_id: int, limit: int, *, registered: bool = False
    ) -> list[tuple[DeadlineRecord, dict[str, Any]]]:
        """Open provisional deadlines (with ``registered``, also those computed on a registered
        notice) with an id above ``after_id``, in id order, each with the fields of its case
        that re-dating needs.

        On PostgreSQL the cases are locked first (in id order) and the deadlines read after the
        lock, so a command or an expiry that committed meanwhile is seen, never overwritten."""
        wanted = deadlines.c.provisional.is_(True)
        if registered:
            wanted = or_(wanted, deadlines.c.basis == "registered")
        found = and_(
            wanted,
            deadlines.c.status.in_([DeadlineStatus.pending.value, DeadlineStatus.paused.value]),
        )
        if not self.is_sqlite:
            ids = conn.execute(
                select(deadlines.c.id, deadlines.c.case_id)
                .where(found, deadlines.c.id > after_id)
                .order_by(deadlines.c.id)
                .limit(limit)
            ).all()
            if not ids:
                return []
            conn.execute(
                select(cases.c.id)
                .where(cases.c.id.in_(sorted({r.case_id for r in ids})))
                .order_by(cases.c.id)
                .with_for_update()
            )
            window = deadlines.c.id.in_([r.id for r in ids])
        else:
            window = deadlines.c.id > after_id
        stmt = (
            select(
                *_DEADLINE_COLUMNS,
                cases.c.region,
                cases.c.flow_fingerprint,
                cases.c.state,
                cases.c.version,
                cases.c.event_hash,
                cases.c.chain_id,
                cases.c.updated_at,
                cases.c.held_by,
            )
            .join(cases, cases.c.id == deadlines.c.case_id)
            .where(found, window)
            .order_by(deadlines.c.id)
            .limit(limit)
        )
        out = []
        for r in conn.execute(stmt):
            record = _deadline_record(r)
            case = {
                "region": r.region,
                "flow_fingerprint": r.flow_fingerprint,
                "state": r.state,
                "version": r.version,
                "event_hash": r.event_hash,
                "chain_id": r.chain_id or r.case_id,
                "updated_at": r.updated_at,
                "held_by": r.held_by,
            }
            out.append((record, case))
        return out

    def count_provisional(self, conn: Connection, before: date | None = None) -> int:
        """Open provisional deadlines (whose dates all lie before ``before``, if given)."""
        stmt = (
            select(func.count())
            .select_from(deadlines.join(cases, cases.c.id == deadlines.c.case_id))
            .where(
                deadlines.c.provisional.is_(True),
                deadlines.c.status.in_([DeadlineStatus.pending.value, DeadlineStatus.paused.value]),
                # A case handed over keeps its clocks where it is now (mediation_flow.handoff).
                cases.c.held_by.is_(None),
            )
        )
        if before is not None:
            stmt = stmt.where(
                deadlines.c.due < before,
                func.coalesce(deadlines.c.estimate, deadlines.c.due) < before,
            )
        return int(conn.execute(stmt).scalar_one())

    def save_redated(
        self,
        conn: Connection,
        changed: Sequence[DeadlineRecord],
        heads: Sequence[dict[str, Any]],
        event_rows: Sequence[dict[str, Any]],
    ) -> None:
        """Write re-dated deadlines, their cases' new heads (``b_id``, ``b_version``,
        ``version``, ``event_hash``, ``updated_at``) and the ``deadline_redated`` events, each
        as one executemany. Raises ``ConcurrentUpdate`` if a case moved meanwhile."""
        if heads:
            result = conn.execute(_UPDATE_CASE_HEAD, list(heads))
            if result.rowcount not in (-1, len(heads)):
                raise ConcurrentUpdate(0, 0, None)
            conn.execute(_INSERT_EVENT, list(event_rows))
        if changed:
            conn.execute(_UPDATE_DEADLINE, [{"b_id": d.id, **d.values()} for d in changed])

    def save_plan(self, conn: Connection, plan: WritePlan) -> None:
        """Write a :class:`WritePlan`: the cases (each checked against the version it was
        read at), the events, the deadlines, the ledger entries, one executemany each. Raises
        ``ConcurrentUpdate`` when a case changed meanwhile; the transaction is then rolled
        back."""
        if not plan.cases:
            return
        params = [
            {"b_id": case.id, "b_version": version, **{n: getattr(case, n) for n in _CASE_CHANGES}}
            for case, version in plan.cases.values()
        ]
        result = conn.execute(_UPDATE_CASE, params)
        if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(params):
            raise ConcurrentUpdate(0, 0, None)
        try:
            conn.execute(_INSERT_EVENT, plan.events)
        except IntegrityError as exc:  # (case_id, seq) is unique
            raise ConcurrentUpdate(0, 0, None) from exc
        self.write_deadlines(conn, list(plan.deadlines.values()))
        if plan.entries:
            _P_INSERT_LEDGER.execute(conn, plan.entries)


_TABLES = {
    "mf_party": parties,
    "mf_claim": claims,
    "mf_event": events,
    "mf_deadline": deadlines,
    "mf_case_number": case_numbers,
    "mf_document": documents,
}


def _entry_values(updated: Any) -> Any:
    """The ledger entry's values (parameters ``l_kind``, ``l_digest``, ``l_at``) for each case
    the CTE ``updated`` updated."""
    return select(
        updated.c.id,
        bindparam(_L + "kind", type_=ledger_entries.c.kind.type),
        bindparam(_L + "digest", type_=ledger_entries.c.digest.type),
        bindparam(_L + "at", type_=UTCDateTime()),
    )


def _dialect_insert(dialect: str) -> Any:
    """INSERT with ``ON CONFLICT`` for the store's dialect (SQLite and PostgreSQL have one)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise NotImplementedError(f"case numbers need SQLite or PostgreSQL, not {dialect}")


def _deadline_record(r: Any, prefix: str = "") -> DeadlineRecord:
    """A deadline row (its columns named as in ``_DEADLINE_COLUMNS``, with ``prefix`` in a
    joined read) as the record a command works on."""
    values = {name: getattr(r, prefix + name) for name in _DEADLINE_NAMES}
    values["status"] = DeadlineStatus(values["status"])
    return DeadlineRecord(**values)


def _command_deadline(r: Any) -> DeadlineRecord:
    return _deadline_record(r, _D)


def _case_record(row: Any) -> CaseRecord:
    return CaseRecord(
        id=row.id,
        region=row.region,
        state=row.state,
        version=row.version,
        flow_fingerprint=row.flow_fingerprint,
        resolution=row.resolution,
        worker_count=row.worker_count,
        is_migrant_worker=row.is_migrant_worker,
        knew_of_infringement_on=row.knew_of_infringement_on,
        employment_ended_on=row.employment_ended_on,
        received_on=row.received_on,
        limitation_started_on=None,
        limitation_expires_on=row.limitation_expires_on,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        attributes=dict(row.attributes or {}),
        event_hash=row.event_hash,
        serial=row.serial,
        chain_id=row.chain_id or row.id,
        held_by=row.held_by,
        held_since=row.held_since,
    )


def to_deadline(r: Any) -> Deadline:
    return Deadline(
        id=r.id,
        case_id=r.case_id,
        kind=r.kind,
        party=r.party,
        status=DeadlineStatus(r.status),
        starts_on=r.starts_on,
        due=r.due,
        unit=r.unit,
        length=r.length,
        provisional=r.provisional,
        estimate=r.estimate,
        basis=r.basis,
    )


#: PostgreSQL SQLSTATEs that mean "another transaction got there first": serialization
#: failure, deadlock detected, lock not available (NOWAIT).
_CONFLICTS = {"40001", "40P01", "55P03"}
#: PostgreSQL's statement timeout (query_canceled).
_TIMEOUT = "57014"


#: PostgreSQL SQLSTATE classes of a lost or refused connection: connection exception, and the
#: operator intervention codes of a terminated backend or a server shutting down.
_DISCONNECTS = ("08", "57P01", "57P02", "57P03")


@contextmanager
def _translate_errors() -> Iterator[None]:
    """Every database error as a :class:`~mediation_flow.errors.MediationFlowError`: conflicts,
    locks and timeouts as before; a value the database refuses (a NUL byte, a text too long, a
    number out of range) as ``InvalidData``; a lost connection as ``DatabaseUnavailable``;
    anything else as ``DatabaseError``. The messages hold the driver's one-line reason and the
    SQLSTATE, never the statement's values, and the driver's exception is not chained (its
    text may quote a value). A text the driver cannot encode (a lone surrogate) is refused
    before any statement runs, with a raw ``UnicodeEncodeError`` from its parameter binding: a
    refused value too."""
    try:
        yield
    except StatementError as exc:
        raise _translated(exc) from None
    except UnicodeEncodeError:
        raise StorageError(None) from None


def _translated(exc: StatementError) -> Exception:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    detail = _safe_detail(orig)
    if isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig):
        return DatabaseBusy(detail)
    if sqlstate in _CONFLICTS:
        return ConcurrentUpdate(0, 0, None)
    if sqlstate == _TIMEOUT:
        return DatabaseBusy(f"the statement timeout ran out: {detail}")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailable(sqlstate, detail)
    if sqlstate is not None and sqlstate.startswith(_DISCONNECTS):
        return DatabaseUnavailable(sqlstate, detail)
    if isinstance(exc, IntegrityError):
        return DatabaseError("integrity", sqlstate, detail)
    data_error = type(orig).__name__ == "DataError" or (sqlstate or "").startswith("22")
    if data_error or isinstance(orig, OverflowError | ValueError):
        # A refused value: the driver's reason may quote it (PostgreSQL's "invalid input
        # syntax ...: \"<value>\""), so only the SQLSTATE is kept.
        return StorageError(sqlstate)
    if type(orig).__name__ in ("OperationalError", "InterfaceError"):
        return DatabaseUnavailable(sqlstate, detail)
    return DatabaseError("other", sqlstate, detail)


def _safe_detail(orig: BaseException | None) -> str:
    """The driver's reason without the values: PostgreSQL's primary message (its DETAIL line
    quotes values), else the first line of the message, identity and phone numbers masked;
    at most 200 characters."""
    if orig is None:
        return "no detail"
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or (str(orig).splitlines() or [type(orig).__name__])[0]
    return mask_text(f"{type(orig).__name__}: {text}")[:200]
