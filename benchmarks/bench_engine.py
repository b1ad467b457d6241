"""Benchmark: the engine against the same writes done by plain SQLAlchemy Core, and against
what a team would write by hand with ``transitions`` and the SQLAlchemy ORM.

N cases go through seven triggers (union mediation fails, arbitration, a non-final award, a
suit, the suit withdrawn). Each step is a separate command, fired round-robin over the cases,
so every step reloads its case. All sides run on a SQLite file in WAL mode with the engine's
pragmas, in the same process, one after the other; the ratio of their rates is the figure to
watch (machines are shared and noisy, absolute rates are not comparable between runs). The
engine runs with a regional plugin on its hot path (a veto hook and an after-commit hook), its
full history, hash chain and deadlines; the ORM baseline writes state + event per transition.

Run ``python benchmarks/bench_engine.py --help``; see ``benchmarks/README.md``. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import itertools
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TextIO
from unittest import mock
from zoneinfo import ZoneInfo

import sqlalchemy
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from transitions import Machine

from mediation_flow import Engine, configure_json_logging, hookimpl
from mediation_flow.audit import event_hash
from mediation_flow.engine import intake as engine_intake
from mediation_flow.storage.tables import metadata

SHANGHAI = ZoneInfo("Asia/Shanghai")
TARGET_RATIO = 0.25
#: The engine against the hand-written transitions + ORM service (issue goal).
TARGET_ORM_RATIO = 2.0
#: open_case, milliseconds (issue goal).
TARGET_OPEN_MS = 1.5
#: The memory phase counts as "not growing" if its peak at k*N cases stays within this factor
#: (plus a small absolute slack) of the peak at N cases.
GROWTH_TOLERANCE = 1.25
GROWTH_SLACK = 64 * 1024

CASES: Table = metadata.tables["mf_case"]
EVENTS: Table = metadata.tables["mf_event"]
DEADLINES: Table = metadata.tables["mf_deadline"]


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=SHANGHAI)


OPENED_AT = at(3, 3, 8, 30)


def make_intake() -> dict[str, Any]:
    """The wage dispute of ``tests/conftest.py::make_intake``."""
    return {
        "region": "430102",
        "parties": [
            {
                "kind": "worker",
                "role": "applicant",
                "name": "张三",
                "id_number": "430102199001011238",
                "phone": "13800138000",
            },
            {"kind": "employer", "role": "respondent", "name": "长沙某建筑工程有限公司"},
        ],
        "claims": [{"kind": "wages", "amount": "18000.00"}],
        "knew_of_infringement_on": "2024-12-31",
        "employment_ended_on": "2024-12-31",
    }


# --- the seven steps -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewDeadline:
    """A deadline row the step starts (hard-coded for the baseline: no calendar maths)."""

    kind: str
    party: str | None
    starts_on: date
    unit: str
    length: int
    due: date
    provisional: bool = False
    #: A provisional date's estimate and what it rests on (mediation_flow.deadlines).
    estimate: date | None = None
    basis: str = "package"


@dataclass(frozen=True, slots=True)
class Step:
    """One trigger fired on every case, and what a hand-written Core service writes for it.

    The baseline fields (``source`` onwards) mirror what the engine writes for this step; the
    run checks at the end that both databases hold the same rows.
    """

    trigger: str
    at: datetime
    data: dict[str, Any]
    source: str
    dest: str
    attributes: dict[str, Any]
    #: New ``limitation_expires_on`` when the step interrupts the limitation period (LDMAL 27).
    limitation_expires_on: date | None = None
    #: Open deadlines (kind, party) the step closes, with their new status.
    close: tuple[tuple[str, str | None, str], ...] = ()
    start: tuple[NewDeadline, ...] = ()


SERVED = date(2025, 3, 7)
STEPS: tuple[Step, ...] = (
    Step(
        "refer_to_union_mediation",
        at(3, 3),
        {"org_id": "U1", "org_type": "union_org"},
        source="received",
        dest="union_mediation",
        attributes={"org_id": "U1", "org_type": "union_org"},
        limitation_expires_on=date(2026, 3, 3),
        start=(
            NewDeadline("mediation_limit", None, date(2025, 3, 3), "cd", 15, date(2025, 3, 18)),
        ),
    ),
    Step(
        "fail_mediation",
        at(3, 4),
        {"reason": "no_agreement"},
        source="union_mediation",
        dest="mediation_failed",
        attributes={"reason": "no_agreement"},
        # The mediation's end interrupts the limitation period again (LDMAL 27).
        limitation_expires_on=date(2026, 3, 4),
        close=(("mediation_limit", None, "cancelled"),),
    ),
    Step(
        "apply_arbitration",
        at(3, 5),
        {"by": "worker"},
        source="mediation_failed",
        dest="arbitration_received",
        attributes={},
        limitation_expires_on=date(2026, 3, 5),
        start=(
            NewDeadline(
                "arbitration_acceptance", None, date(2025, 3, 5), "wd", 5, date(2025, 3, 12)
            ),
        ),
    ),
    Step(
        "accept_arbitration",
        at(3, 6),
        {},
        source="arbitration_received",
        dest="arbitration",
        attributes={},
        close=(("arbitration_acceptance", None, "met"),),
        start=(
            NewDeadline("award_limit", None, date(2025, 3, 6), "cd", 45, date(2025, 4, 21)),
            NewDeadline("defence_due", None, date(2025, 3, 6), "wd", 10, date(2025, 3, 20)),
        ),
    ),
    Step(
        "issue_award",
        at(3, 7),
        {
            # 50000 > 12 x 1930: not final (LDMAL 47, 50).
            "items": [{"kind": "wages", "amount": "50000"}],
            "monthly_minimum_wage": "1930",
            "served_on": {"worker": SERVED.isoformat(), "employer": SERVED.isoformat()},
        },
        source="arbitration",
        dest="award_nonfinal",
        attributes={
            "monthly_minimum_wage": "1930",
            "award_items": [{"kind": "wages", "amount": "50000", "final": False}],
            "award_final": False,
            "award_made_on": "2025-03-07",
        },
        close=(("award_limit", None, "met"), ("defence_due", None, "cancelled")),
        start=(
            # Each party's own window, held by the party's id (worker-1, employer-1).
            NewDeadline("suit_window", "worker-1", SERVED, "cd", 15, date(2025, 3, 24)),
            NewDeadline("suit_window", "employer-1", SERVED, "cd", 15, date(2025, 3, 24)),
        ),
    ),
    Step(
        "file_lawsuit",
        at(3, 10),
        {"by": "worker"},
        source="award_nonfinal",
        dest="litigation",
        attributes={"award_before_suit": True, "worker_sued": False, "suit_from": "award_nonfinal"},
        close=(("suit_window", "worker-1", "met"), ("suit_window", "employer-1", "cancelled")),
    ),
    Step(
        "withdraw_lawsuit",
        at(3, 10, 15),
        {"by": "worker"},
        source="litigation",
        dest="enforceable",
        attributes={},
        # Two years: 2027 is past the installed holiday schedule, so the engine stores the plain
        # anniversary as provisional.
        start=(
            NewDeadline(
                "enforcement_window",
                None,
                date(2025, 3, 10),
                "years",
                2,
                date(2027, 3, 10),
                provisional=True,
                estimate=date(2027, 3, 10),
                basis="predicted",
            ),
        ),
    ),
)


# --- databases -----------------------------------------------------------------------------------


@contextmanager
def workspace() -> Iterator[Path]:
    """A temporary directory for database files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mf-bench-") as tmp:
        yield Path(tmp)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class RegionalPlugin:
    """A regional plugin on the hot path: it looks at every transition before it is taken (and
    lets it pass) and counts every committed one."""

    name = "bench_hunan"
    regions = ("43",)
    #: The workload's triggers a plugin may refuse (the others are a party's statutory options,
    #: which no plugin may veto): the veto hook runs on three of the seven steps.
    vetoes = ("refer_to_union_mediation", "accept_arbitration", "issue_award")

    def __init__(self) -> None:
        self.committed = 0

    @hookimpl
    def veto_transition(self, ctx: Any, transition: Any) -> str | None:
        return None

    @hookimpl
    def after_commit(self, case: Any, event: Any) -> None:
        self.committed += 1


def make_engine(path: Path) -> Engine:
    # No case numbers: the Core side does not issue them, and the comparison is of the same
    # writes. What a number costs is measured in bench_paperwork.py.
    return Engine(
        sqlite_url(path),
        clock=lambda: OPENED_AT,
        national_numbering=False,
        plugins=[RegionalPlugin()],
        entry_points=False,
    )


#: Seconds each prepare() spent in open_case, per case (the last run's).
OPEN_SECONDS: list[float] = []


def prepare(path: Path, n: int) -> list[int]:
    """Create the schema and open ``n`` cases with the engine (timed apart: ``OPEN_SECONDS``).
    The engine that opened them is closed, so both timed sides start on a fresh connection."""
    intake = make_intake()
    # Serials are random; the write check compares two databases, so both get the same ones.
    numbered = itertools.count(1)

    def serial(region: str, day: Any) -> str:
        return f"{region}-{day:%y%m%d}-{next(numbered):08d}"

    with make_engine(path) as engine, mock.patch.object(engine_intake, "new_serial", serial):
        engine.open_case(intake, at=OPENED_AT)  # warm-up (first statements, caches)
        gc.collect()
        started = time.perf_counter()
        ids = [engine.open_case(intake, at=OPENED_AT).id for _ in range(n)]
        OPEN_SECONDS.append((time.perf_counter() - started) / n)
        return ids


# --- the hand-written baseline: transitions + SQLAlchemy ORM, state + event per transition ------


class OrmBase(DeclarativeBase):
    pass


class OrmCase(OrmBase):
    __tablename__ = "orm_case"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Optimistic locking, as the ORM offers it.
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


class OrmEvent(OrmBase):
    __tablename__ = "orm_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("orm_case.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    dest: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class OrmModel:
    """What the shared machine drives: the state of one loaded case."""

    def __init__(self) -> None:
        self.state = ""


def orm_machine() -> Machine:
    """One machine for all cases, built once (``add_model`` per command), as a careful team
    would write it: building a machine per command costs several times more."""
    states = list(dict.fromkeys([s.source for s in STEPS] + [STEPS[-1].dest]))
    return Machine(
        model=None,
        states=states,
        transitions=[{"trigger": s.trigger, "source": s.source, "dest": s.dest} for s in STEPS],
        initial=states[0],
        auto_transitions=False,
    )


def orm_prepare(path: Path, n: int) -> tuple[SAEngine, list[int]]:
    sa = core_engine(path)
    OrmBase.metadata.create_all(sa)
    with Session(sa) as session, session.begin():
        cases = [
            OrmCase(state="received", version=1, updated_at=OPENED_AT, attributes={})
            for _ in range(n)
        ]
        session.add_all(cases)
        session.flush()
        ids = [c.id for c in cases]
    return sa, ids


def orm_fire(sessions: sessionmaker[Session], machine: Machine, case_id: int, step: Step) -> None:
    """Load the case (ORM), fire the trigger on the shared machine, write state + event."""
    with sessions() as session, session.begin():
        case = session.get(OrmCase, case_id)
        if case is None:
            raise RuntimeError(f"case {case_id} not found")
        model = OrmModel()
        machine.add_model(model, initial=case.state)
        try:
            source = case.state
            getattr(model, step.trigger)()
            case.state = model.state
            case.updated_at = step.at
            case.attributes = {**case.attributes, **step.attributes}
            session.add(
                OrmEvent(
                    case_id=case_id,
                    seq=case.version + 1,
                    trigger=step.trigger,
                    source=source,
                    dest=model.state,
                    actor_id="system",
                    at=step.at,
                    data=step.data,
                )
            )
        finally:
            machine.remove_model(model)


def orm_run(sa: SAEngine, case_ids: Sequence[int]) -> int:
    sessions = sessionmaker(sa, expire_on_commit=True)
    machine = orm_machine()
    done = 0
    for step in STEPS:
        for case_id in case_ids:
            orm_fire(sessions, machine, case_id, step)
            done += 1
    return done


def orm_phase(path: Path, n: int) -> Timing:
    sa, ids = orm_prepare(path, n)
    try:
        return timed(lambda: orm_run(sa, ids))
    finally:
        sa.dispose()


def core_engine(path: Path, busy_timeout: float = 5.0) -> SAEngine:
    """A plain SQLAlchemy engine configured like ``Store._configure_sqlite`` does."""
    sa = create_engine(
        sqlite_url(path),
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
    )

    @event.listens_for(sa, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, record: Any) -> None:
        dbapi_conn.isolation_level = None  # BEGIN is emitted below
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(sa, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("bench_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")

    with sa.connect() as conn:  # open the pooled connection, as Engine() does
        conn.exec_driver_sql("SELECT 1")
    return sa


# --- the two implementations of a step -----------------------------------------------------------


def engine_run(engine: Engine, case_ids: Sequence[int]) -> int:
    """Fire the seven steps round-robin over the cases; return the number of transitions."""
    done = 0
    for step in STEPS:
        for case_id in case_ids:
            engine.fire(case_id, step.trigger, data=step.data, at=step.at)
            done += 1
    return done


def core_fire(sa: SAEngine, case_id: int, step: Step) -> None:
    """What a hand-written service does with Core for the same logical write: read the case
    and its open deadlines, then update state + version (checked), insert the event, and
    insert/update the deadlines the step starts/closes, in one write transaction."""
    with sa.connect() as conn:
        with conn.begin() as tx:
            case = conn.execute(
                select(
                    CASES.c.state, CASES.c.version, CASES.c.attributes, CASES.c.event_hash
                ).where(CASES.c.id == case_id)
            ).one()
            open_deadlines = conn.execute(
                select(DEADLINES.c.id, DEADLINES.c.kind, DEADLINES.c.party).where(
                    DEADLINES.c.case_id == case_id,
                    DEADLINES.c.status.in_(("pending", "paused")),
                )
            ).all()
            tx.rollback()
        if case.state != step.source:
            raise RuntimeError(f"case {case_id}: {step.trigger} is not legal in {case.state}")
        attributes = {**case.attributes, **step.attributes}
        values: dict[str, Any] = {
            "state": step.dest,
            "version": case.version + 1,
            "resolution": None,
            "updated_at": step.at,
        }
        if step.limitation_expires_on is not None:
            stops = list(attributes.get("limitation_interruptions", []))
            if step.at.date().isoformat() not in stops:
                stops.append(step.at.date().isoformat())
            attributes["limitation_interruptions"] = stops
            values["limitation_expires_on"] = step.limitation_expires_on
        values["attributes"] = attributes
        # The event, chained to the case's last event like the engine's (mediation_flow.audit).
        event_row: dict[str, Any] = {
            "case_id": case_id,
            "seq": case.version + 1,
            "trigger": step.trigger,
            "source": step.source,
            "dest": step.dest,
            "actor_id": "system",
            "actor_role": "system",
            "at": step.at,
            "data": step.data,
            "warnings": [],
        }
        event_row["hash"] = values["event_hash"] = event_hash(case.event_hash, event_row)
        closing = [
            (row.id, status)
            for kind, party, status in step.close
            for row in open_deadlines
            if row.kind == kind and row.party == party
        ]
        conn.execution_options(bench_write=True)
        try:
            with conn.begin():
                result = conn.execute(
                    update(CASES)
                    .where(CASES.c.id == case_id, CASES.c.version == case.version)
                    .values(**values)
                )
                if result.rowcount != 1:
                    raise RuntimeError(f"case {case_id} changed concurrently")
                conn.execute(insert(EVENTS).values(**event_row))
                if step.start:
                    conn.execute(
                        insert(DEADLINES),
                        [
                            {
                                "case_id": case_id,
                                "kind": d.kind,
                                "party": d.party,
                                "status": "pending",
                                "starts_on": d.starts_on,
                                "unit": d.unit,
                                "length": d.length,
                                "extended": 0,
                                "paused_on": None,
                                "due": d.due,
                                "provisional": d.provisional,
                                "estimate": d.estimate,
                                "basis": d.basis,
                            }
                            for d in step.start
                        ],
                    )
                for deadline_id, status in closing:
                    conn.execute(
                        update(DEADLINES).where(DEADLINES.c.id == deadline_id).values(status=status)
                    )
        finally:
            conn.execution_options(bench_write=False)


def core_run(sa: SAEngine, case_ids: Sequence[int]) -> int:
    done = 0
    for step in STEPS:
        for case_id in case_ids:
            core_fire(sa, case_id, step)
            done += 1
    return done


# --- phases --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    transitions: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.transitions / self.seconds


def timed(run: Callable[[], int]) -> Timing:
    gc.collect()
    started = time.perf_counter()
    transitions = run()
    return Timing(transitions, time.perf_counter() - started)


def engine_phase(path: Path, n: int) -> Timing:
    ids = prepare(path, n)
    with make_engine(path) as engine:
        return timed(lambda: engine_run(engine, ids))


def without_outbox(sa: SAEngine) -> None:
    """The Core side writes state, event and deadlines only: the outbox trigger the engine's
    schema puts on ``mf_event`` (mediation_flow.storage.tables) is dropped from its file."""
    with sa.connect() as conn, conn.begin():
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS mf_event_outbox")


def core_phase(path: Path, n: int) -> Timing:
    ids = prepare(path, n)
    sa = core_engine(path)
    without_outbox(sa)
    try:
        return timed(lambda: core_run(sa, ids))
    finally:
        sa.dispose()


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The rows both sides write, in a comparable order (event and deadline ids left out:
    the check is about content)."""
    sa = create_engine(sqlite_url(path))
    try:
        with sa.connect() as conn:
            return {
                "mf_case": [
                    tuple(r)
                    for r in conn.execute(
                        select(
                            CASES.c.id,
                            CASES.c.state,
                            CASES.c.version,
                            CASES.c.resolution,
                            CASES.c.limitation_expires_on,
                            CASES.c.updated_at,
                            CASES.c.attributes,
                        ).order_by(CASES.c.id)
                    )
                ],
                "mf_event": [
                    tuple(r)
                    for r in conn.execute(
                        select(*(c for c in EVENTS.c if c.name != "id")).order_by(
                            EVENTS.c.case_id, EVENTS.c.seq
                        )
                    )
                ],
                "mf_deadline": [
                    tuple(r)
                    for r in conn.execute(
                        select(*(c for c in DEADLINES.c if c.name != "id")).order_by(
                            DEADLINES.c.case_id, DEADLINES.c.id
                        )
                    )
                ],
            }
    finally:
        sa.dispose()


def compare(engine_db: Path, core_db: Path) -> str | None:
    """None if both databases hold the same rows, else the first difference."""
    mine, theirs = dump(engine_db), dump(core_db)
    for table, rows in mine.items():
        other = theirs[table]
        if len(rows) != len(other):
            return f"{table}: engine has {len(rows)} rows, Core {len(other)}"
        for a, b in zip(rows, other, strict=True):
            if a != b:
                return f"{table}: engine {a!r} != Core {b!r}"
    return None


StatementCounts = list[Counter[str]]


def count_statements(sa: SAEngine, run: Callable[[], object]) -> Counter[str]:
    counts: Counter[str] = Counter()

    def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        verb = statement.split(None, 1)[0].upper()
        if verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            counts[verb] += 1

    event.listen(sa, "before_cursor_execute", _count)
    try:
        run()
    finally:
        event.remove(sa, "before_cursor_execute", _count)
    return counts


def audit(root: Path) -> tuple[StatementCounts, StatementCounts] | None:
    """SQL statements per step for one case on each side (executemany counts once). Uses the
    engine's private ``_store.engine``; returns None if that is not there any more."""
    engine_db, core_db = root / "audit-engine.db", root / "audit-core.db"
    (engine_id,), (core_id,) = prepare(engine_db, 1), prepare(core_db, 1)
    engine_counts: StatementCounts = []
    core_counts: StatementCounts = []
    with make_engine(engine_db) as engine:
        store = getattr(engine, "_store", None)
        sa_engine = getattr(store, "engine", None)
        if not isinstance(sa_engine, SAEngine):
            return None
        for step in STEPS:
            engine_counts.append(
                count_statements(
                    sa_engine,
                    partial(engine.fire, engine_id, step.trigger, data=step.data, at=step.at),
                )
            )
    sa = core_engine(core_db)
    without_outbox(sa)
    try:
        for step in STEPS:
            core_counts.append(count_statements(sa, partial(core_fire, sa, core_id, step)))
    finally:
        sa.dispose()
    return engine_counts, core_counts


@dataclass(frozen=True, slots=True)
class Memory:
    cases: int
    transitions: int
    peak: int
    retained: int


def memory_phase(path: Path, n: int) -> Memory:
    """tracemalloc over the engine's fire loop only (cases are opened before tracing starts):
    the peak of Python allocations made during the loop, and what was still held at its end."""
    ids = prepare(path, n)
    with make_engine(path) as engine:
        gc.collect()
        tracemalloc.start()
        try:
            transitions = engine_run(engine, ids)
            gc.collect()
            retained, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return Memory(n, transitions, peak, retained)


def max_rss_kib() -> int | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss


# --- profile -------------------------------------------------------------------------------------

Key = tuple[str, int, str]

AREAS: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    ("sqlite3 (C: SQL execution, commit)", lambda f, fn: "sqlite3" in fn),
    ("SQLAlchemy", lambda f, fn: "sqlalchemy" in f),
    ("transitions machine", lambda f, fn: "transitions/" in f),
    ("pydantic", lambda f, fn: "pydantic" in f),
    ("structlog", lambda f, fn: "structlog/" in f),
    ("JSON", lambda f, fn: "json/" in f or "_json" in fn),
    ("calendar", lambda f, fn: "calendar" in f),
    ("mediation_flow (engine, flow, store)", lambda f, fn: "mediation_flow/" in f),
    ("enum", lambda f, fn: f.endswith("/enum.py")),
    ("zoneinfo / datetime", lambda f, fn: "zoneinfo" in f or "datetime" in fn),
)


OTHER = "other (stdlib, builtins)"


def short(path: str) -> str:
    """A profile file name without its installation prefix."""
    _, sep, tail = path.rpartition("site-packages/")
    if sep:
        return tail
    _, sep, tail = path.rpartition("/mediation_flow/")
    if sep:
        return f"mediation_flow/{tail}"
    _, sep, tail = path.rpartition("/lib/python")
    if sep:
        return tail.partition("/")[2]  # the standard library
    return path


def area(key: Key) -> str:
    filename, _, function = key
    path = short(filename)
    for name, matches in AREAS:
        if matches(path, function):
            return name
    return OTHER


def time_by_area(raw: dict[Key, tuple[int, int, float, float, Any]]) -> dict[str, float]:
    """Own time per area; a builtin (``isinstance``, ``dict.get``...) counts for its callers."""
    totals: dict[str, float] = {}
    for key, (_, _, tt, _, callers) in raw.items():
        name = area(key)
        shares: list[tuple[str, float]] = [(name, tt)]
        if key[0] == "~" and name == OTHER and callers:
            # pstats keeps, per caller, the time spent in this function when called from it.
            shares = [(area(caller), stats[2]) for caller, stats in callers.items()]
        for share_area, seconds in shares:
            totals[share_area] = totals.get(share_area, 0.0) + seconds
    return totals


def profile_engine(path: Path, n: int, out: TextIO, top: int = 25) -> None:
    ids = prepare(path, n)
    with make_engine(path) as engine:
        profiler = cProfile.Profile()
        profiler.enable()
        engine_run(engine, ids)
        profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Key, tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in raw.values())
    transitions = n * len(STEPS)
    print(
        f"\nProfile of the engine phase ({n} cases, {transitions} transitions, "
        f"{total:.2f} s own time under cProfile), top {top} by cumulative time:",
        file=out,
    )
    print(f"{'ncalls':>9} {'tottime':>8} {'cumtime':>8} {'us/tx':>7}  function", file=out)
    ranked = sorted(raw.items(), key=lambda item: item[1][3], reverse=True)
    for (filename, line, function), (_, calls, tt, ct, _) in ranked[:top]:
        where = f"{short(filename)}:{line}({function})" if filename != "~" else function
        print(f"{calls:>9} {tt:>8.3f} {ct:>8.3f} {ct / transitions * 1e6:>7.0f}  {where}", file=out)
    print("\nOwn time by area (builtins counted for their callers):", file=out)
    for name, seconds in sorted(time_by_area(raw).items(), key=lambda item: item[1], reverse=True):
        print(f"  {name:<40} {seconds:>7.3f} s  {seconds / total:>6.1%}", file=out)


# --- main ----------------------------------------------------------------------------------------


def triple(counts: Counter[str]) -> str:
    return f"{counts['SELECT']}/{counts['INSERT']}/{counts['UPDATE']}"


def mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=300, help="cases per phase (default 300)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="engine/Core timing pairs (default 3)"
    )
    parser.add_argument(
        "--memory-factor",
        type=int,
        default=4,
        help="the memory check runs N and FACTOR*N cases (default 4; 0 skips it)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the engine phase, print the top 25"
    )
    parser.add_argument(
        "--log-json",
        action="store_true",
        help="render the engine's per-command log events as JSON (into os.devnull), as a host "
        "that logs them does; default: the library's default, silent",
    )
    args = parser.parse_args(argv)
    if args.cases < 1 or args.repeat < 1 or args.memory_factor < 0:
        parser.error("--cases and --repeat must be at least 1, --memory-factor at least 0")
    n: int = args.cases

    # With --log-json the engine's per-fire structlog event is rendered for real, as JSON lines,
    # into the null device (a host that logs). By default the library is silent (no host
    # logging configured). The baselines do not log.
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole run
    if args.log_json:
        configure_json_logging(sink)
    out = sys.stdout
    try:
        print(
            "mediation_flow: engine vs plain SQLAlchemy Core and hand-written transitions + ORM",
            file=out,
        )
        print(f"{os.cpu_count()} CPUs (shared machine: read the ratios)", file=out)
        print(
            f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
            f"SQLite {sqlite3.sqlite_version}; SQLite files in WAL mode, synchronous=NORMAL",
            file=out,
        )
        print(
            f"{n} cases x {len(STEPS)} triggers, each a separate command, round-robin over "
            f"the cases: {n * len(STEPS)} transitions per phase",
            file=out,
        )
        print(
            "Logging: "
            + (
                "the engine's per-fire structlog info event is rendered as JSON into os.devnull"
                if args.log_json
                else "the library's default (silent: the host configured no logging)"
            )
            + "; the baselines do not log. The engine runs with a regional plugin (veto and "
            "after-commit hooks), its hash chain, history and deadlines.",
            file=out,
        )
        print(
            "ORM baseline: transitions (one shared machine, add_model per command) + "
            "SQLAlchemy ORM: Session.get, fire, state + version (version_id_col) + an event "
            "row, commit; no deadlines, no hash chain, no parties.",
            file=out,
        )
        print(
            "Core baseline: reads the case row and its open deadlines, writes state+version "
            "(version-checked), the event and the changed deadlines in one BEGIN IMMEDIATE; "
            "due dates and limitation dates are hard-coded (no calendar maths); it does not "
            "read parties or claims.",
            file=out,
        )

        with workspace() as root:
            # Timing: engine and Core alternate which goes first.
            pairs: list[tuple[Timing, Timing]] = []
            orms: list[Timing] = []
            opens: list[float] = []
            difference: str | None = None
            print(
                f"\n{'run':>3}  {'first':<6} {'engine s':>9} {'engine tx/s':>12} "
                f"{'core tx/s':>10} {'orm tx/s':>9} {'eng/core':>9} {'eng/orm':>8}",
                file=out,
            )
            for r in range(args.repeat):
                engine_db, core_db = root / f"engine-{r}.db", root / f"core-{r}.db"
                orm_db = root / f"orm-{r}.db"
                if r % 2 == 0:
                    eng = engine_phase(engine_db, n)
                    opens.append(OPEN_SECONDS[-1])
                    core = core_phase(core_db, n)
                    orm = orm_phase(orm_db, n)
                else:
                    orm = orm_phase(orm_db, n)
                    core = core_phase(core_db, n)
                    eng = engine_phase(engine_db, n)
                    opens.append(OPEN_SECONDS[-1])
                pairs.append((eng, core))
                orms.append(orm)
                print(
                    f"{r + 1:>3}  {'engine' if r % 2 == 0 else 'orm':<6} "
                    f"{eng.seconds:>9.3f} {eng.rate:>12.0f} {core.rate:>10.0f} "
                    f"{orm.rate:>9.0f} {eng.rate / core.rate:>9.3f} {eng.rate / orm.rate:>8.3f}",
                    file=out,
                )
                if r == 0:
                    difference = compare(engine_db, core_db)
                for path in (engine_db, core_db, orm_db):
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{path}{suffix}").unlink(missing_ok=True)
            engine_rate = statistics.median(e.rate for e, _ in pairs)
            core_rate = statistics.median(c.rate for _, c in pairs)
            ratio = statistics.median(e.rate / c.rate for e, c in pairs)
            print(
                f"median     engine {engine_rate:.0f} tx/s ({1e6 / engine_rate:.0f} us/tx), "
                f"Core {core_rate:.0f} tx/s ({1e6 / core_rate:.0f} us/tx)",
                file=out,
            )
            orm_ratios = [e.rate / o.rate for (e, _), o in zip(pairs, orms, strict=True)]
            orm_ratio = statistics.median(orm_ratios)
            orm_verdict = "MET" if orm_ratio >= TARGET_ORM_RATIO else "NOT MET"
            print(
                f"ratio engine/hand-written transitions+ORM (median of the runs' ratios): "
                f"{orm_ratio:.3f}; goal >= {TARGET_ORM_RATIO}: {orm_verdict} "
                f"(ORM {statistics.median(o.rate for o in orms):.0f} tx/s)",
                file=out,
            )
            open_ms = statistics.median(opens) * 1000
            print(
                f"open_case: {open_ms:.3f} ms each (median of the runs, {n} cases a run, "
                f"early warning on); goal <= {TARGET_OPEN_MS} ms: "
                + ("MET" if open_ms <= TARGET_OPEN_MS else "NOT MET"),
                file=out,
            )
            verdict = "MET" if ratio >= TARGET_RATIO else "NOT MET"
            print(
                f"ratio engine/Core (median of the runs' ratios): {ratio:.3f}; "
                f"target >= {TARGET_RATIO}: {verdict} "
                f"(range {min(e.rate / c.rate for e, c in pairs):.3f}"
                f"-{max(e.rate / c.rate for e, c in pairs):.3f})",
                file=out,
            )
            if difference is None:
                print(
                    "Write check: both databases hold the same cases, events and deadlines "
                    "after run 1 (the baseline does the engine's logical writes).",
                    file=out,
                )
            else:
                print(f"Write check FAILED, the baseline differs: {difference}", file=out)

            counts = audit(root)
            if counts is not None:
                print(
                    "\nSQL statements per command, one case (sel/ins/upd; executemany = 1; "
                    "BEGIN/COMMIT not counted):",
                    file=out,
                )
                print(f"  {'trigger':<26} {'engine':>11} {'core':>11}", file=out)
                rows = [(step.trigger, e, c) for step, e, c in zip(STEPS, *counts, strict=True)]
                rows.append(("total", sum(counts[0], Counter()), sum(counts[1], Counter())))
                for trigger, e, c in rows:
                    print(f"  {trigger:<26} {triple(e):>11} {triple(c):>11}", file=out)

            if args.memory_factor:
                print(
                    "\nMemory (tracemalloc, engine fire loop only; Python allocations, not "
                    "SQLite's C page cache):",
                    file=out,
                )
                phases: list[Memory] = []
                for i, cases in enumerate((n, n * args.memory_factor)):
                    mem = memory_phase(root / f"memory-{i}.db", cases)
                    phases.append(mem)
                    rss = max_rss_kib()
                    print(
                        f"  {mem.cases:>6} cases, {mem.transitions:>6} transitions: "
                        f"peak {mib(mem.peak)}, retained at the end {mib(mem.retained)}"
                        + (f"; process max RSS so far {rss / 1024:.0f} MiB" if rss else ""),
                        file=out,
                    )
                small, large = phases
                limit = small.peak * GROWTH_TOLERANCE + GROWTH_SLACK
                grew = large.peak > limit
                print(
                    f"  peak x{large.peak / small.peak:.2f} for x{args.memory_factor} cases: "
                    + (
                        "memory GREW with the cases handled"
                        if grew
                        else "memory does not grow with the cases handled"
                    )
                    + f" (limit x{GROWTH_TOLERANCE} + {GROWTH_SLACK // 1024} KiB)",
                    file=out,
                )

            if args.profile:
                profile_engine(root / "profile.db", n, out)
    finally:
        sink.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
