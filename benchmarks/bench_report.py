"""Benchmark: ``build_report`` over 100,000 generated cases, against a plain scan of mf_event.

The cases are bulk-inserted with SQLAlchemy Core ``executemany`` (the engine would take hours):
their histories and deadlines are copies, shifted in time, of the cases the demo drives through
the real engine (``mediation_flow.demo.run_demo``), so the mix of paths, events and deadline
statuses is the engine's own. Openings spread over the two years before the report's day;
whatever would happen after that day is cut off, so recent cases are still open (their
undecided deadlines pending, and 1 in 20 of them with a pending deadline past due, as if
``tick`` lagged). Rows are inserted in time order, the events of different cases interleaved as
a live system writes them: reading a case's history in ``(case_id, seq)`` order then jumps
around the table, as it does in production.

What it prints, for each database:

* the row counts of mf_case, mf_event, mf_deadline;
* ``build_report`` wall time (best and median of ``--repeat`` runs, after one warm-up run) and,
  on SQLite, its CPU time (the process's: SQLite runs in it; the machines these run on are
  shared, and CPU time is steadier than wall time there), and the time of each statement;
* two baselines measured in the same run: ``SELECT count(*) FROM mf_event`` and a scan that reads
  every event row (``SELECT trigger, count(*) ... GROUP BY trigger``), and the ratio of the
  report's time to the scan's: the figure to compare between machines and runs;
* with ``--plans``, the query plan of every statement (``EXPLAIN QUERY PLAN`` / ``EXPLAIN``).

Run ``python benchmarks/bench_report.py --help``. Not part of the test suite.

``--suggested-indexes`` first creates the indexes a migration could add (``SUGGESTED_INDEXES``):
run once without and once with it to see what they buy. ``--sqlite-file`` keeps the generated
database and reuses it on the next run (the generation takes about a minute).
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Connection, func, insert, select, text

from mediation_flow import Engine
from mediation_flow.demo import run_demo
from mediation_flow.flow.national import national_flow
from mediation_flow.reports import _FlowInfo, _Queries, _snapshot, build_report
from mediation_flow.storage.repository import Store, cases, deadlines, events

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGIONS = (
    "430102",
    "430111",
    "430104",
    "510302",
    "510304",
    "420302",
    "420303",
    "450203",
    "450205",
    "520102",
    "520103",
    "110105",
)
SPREAD_DAYS = 730  # openings spread over the two years before TODAY
TODAY = date(2026, 3, 1)
BATCH = 5_000
COHORTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("region 4301 (a quarter)", {"region": "4301"}),
    ("opened in the last 30 days", {"since": TODAY - timedelta(days=30)}),
    ("region 430102, last 30 days", {"region": "430102", "since": TODAY - timedelta(days=30)}),
)
#: The indexes ``--suggested-indexes`` adds before measuring: not in the schema, candidates for a
#: migration. opened_at: a report over a date window reads only that window's cases, then their
#: events and deadlines by case id. (An index on mf_deadline (kind, status) was tried too: it
#: cut the full report's deadline counts from 230 to 35 ms on SQLite, but SQLite then scanned it
#: for date-window reports as well, 300 ms instead of a few.)
SUGGESTED_INDEXES = ("CREATE INDEX IF NOT EXISTS ix_mf_case_opened_at ON mf_case (opened_at)",)


@dataclass(frozen=True)
class Template:
    """One demo case, relative to its opening: events (offset, trigger, source, dest, actor,
    role, data) and deadlines (kind, party, status, unit, length, start and due offsets in
    days)."""

    region_free: bool
    events: tuple[tuple[timedelta, str, str, str, str, str, dict[str, Any]], ...]
    deadlines: tuple[tuple[str, str | None, str, str, int | None, int, int], ...]
    state: str
    resolution: str | None


def demo_templates(cases: int, seed: int) -> list[Template]:
    """Drive ``cases`` demo cases through the engine (in memory) and keep their histories."""
    engine = Engine(
        "sqlite://", entry_points=False, clock=lambda: datetime(2025, 1, 6, tzinfo=SHANGHAI)
    )
    try:
        result = run_demo(engine, cases=cases, seed=seed)
        if result.errors:
            raise SystemExit(f"the demo failed: {result.errors[:3]}")
        out = []
        for case_id in result.case_ids:
            case = engine.get(case_id)
            history = engine.history(case_id)
            opened = history[0].at
            opened_day = opened.date()
            out.append(
                Template(
                    True,
                    tuple(
                        (
                            e.at - opened,
                            e.trigger,
                            e.source,
                            e.dest,
                            e.actor_id,
                            e.actor_role,
                            e.data,
                        )
                        for e in history
                    ),
                    tuple(
                        (
                            d.kind,
                            d.party,
                            d.status.value,
                            d.unit,
                            d.length,
                            (d.starts_on - opened_day).days,
                            (d.due - opened_day).days,
                        )
                        for d in engine.deadlines(case_id)
                    ),
                    case.state,
                    case.resolution.value if case.resolution else None,
                )
            )
        return out
    finally:
        engine.close()


@dataclass
class Generated:
    cases: list[dict[str, Any]]
    events: list[tuple[Any, ...]]
    deadlines: list[tuple[Any, ...]]


EVENT_COLUMNS = (
    "case_id",
    "seq",
    "trigger",
    "source",
    "dest",
    "actor_id",
    "actor_role",
    "at",
    "data",
    "warnings",
    "hash",
)
DEADLINE_COLUMNS = (
    "case_id",
    "kind",
    "party",
    "status",
    "starts_on",
    "unit",
    "length",
    "extended",
    "paused_on",
    "due",
    "provisional",
)


def generate(n: int, templates: list[Template], fingerprint: str, seed: int) -> Generated:
    """``n`` cases opened over the two years before ``TODAY`` (ids in opening order), each a
    copy of a demo case; what would happen after ``TODAY`` is cut off (those cases are open,
    their undecided deadlines pending; 1 in 20 of them has a pending deadline past due, as if
    ``tick`` had not run). Events and deadlines come in time order, interleaved between cases,
    as a live system writes them."""
    rng = random.Random(seed)
    now = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=SHANGHAI)
    hash_hex = "0" * 64
    days = sorted(TODAY - timedelta(days=1 + rng.randrange(SPREAD_DAYS)) for _ in range(n))
    out = Generated([], [], [])
    for case_id, day in enumerate(days, 1):
        t = rng.choice(templates)
        opened = datetime(day.year, day.month, day.day, 8, 0, tzinfo=SHANGHAI) + timedelta(
            minutes=rng.randrange(600)
        )
        # Officers act at any time of the working day: jitter each event by up to 8 hours,
        # keeping the history in order.
        history, previous = [], opened
        for offset, *rest in t.events:
            moment = opened + offset
            if offset:
                moment += timedelta(seconds=rng.randrange(8 * 3600))
            moment = max(moment, previous)
            if moment >= now:
                break
            history.append((moment - opened, *rest))
            previous = moment
        cut = len(history) < len(t.events)
        state, resolution = (history[-1][3], None) if cut else (t.state, t.resolution)
        out.cases.append(
            {
                "id": case_id,
                "region": rng.choice(REGIONS),
                "state": state,
                "version": len(history),
                "flow_fingerprint": fingerprint,
                "resolution": resolution,
                "worker_count": 1,
                "is_migrant_worker": False,
                "knew_of_infringement_on": day - timedelta(days=30),
                "employment_ended_on": day - timedelta(days=30),
                "received_on": day,
                "limitation_expires_on": day + timedelta(days=365),
                "opened_at": opened,
                "updated_at": opened + history[-1][0],
                "attributes": {"limitation_interruptions": [day.isoformat()]},
                "event_hash": hash_hex,
            }
        )
        for seq, (offset, trigger, source, dest, actor, role, data) in enumerate(history, 1):
            out.events.append(
                (
                    case_id,
                    seq,
                    trigger,
                    source,
                    dest,
                    actor,
                    role,
                    opened + offset,
                    data,
                    [],
                    hash_hex,
                )
            )
        lagging = cut and rng.random() < 0.05
        for kind, party, status, unit, length, start, due in t.deadlines:
            starts_on, due_on = day + timedelta(days=start), day + timedelta(days=due)
            if cut:
                if starts_on >= TODAY:
                    continue
                if due_on >= TODAY:
                    status = "pending"
                elif lagging and status == "expired":
                    status, lagging = "pending", False
            out.deadlines.append(
                (case_id, kind, party, status, starts_on, unit, length, 0, None, due_on, False)
            )
    out.events.sort(key=lambda row: (row[7], row[0], row[1]))
    out.deadlines.sort(key=lambda row: (row[4], row[0]))
    return out


def populate(store: Store, n: int, templates: list[Template], seed: int) -> float:
    """Insert ``n`` generated cases; return the seconds it took."""
    with store.reading() as conn:
        fingerprint = conn.execute(text("SELECT fingerprint FROM mf_flow")).scalar_one()
    started = time.perf_counter()
    rows = generate(n, templates, fingerprint, seed)
    batches: list[tuple[Any, list[dict[str, Any]]]] = []
    for i in range(0, len(rows.cases), BATCH):
        batches.append((cases, rows.cases[i : i + BATCH]))
    for table, columns, tuples in (
        (events, EVENT_COLUMNS, rows.events),
        (deadlines, DEADLINE_COLUMNS, rows.deadlines),
    ):
        for i in range(0, len(tuples), BATCH * 4):
            batches.append(
                (table, [dict(zip(columns, r, strict=True)) for r in tuples[i : i + BATCH * 4]])
            )
    done = 0
    for table, batch in batches:
        with store.writing() as conn:
            conn.execute(insert(table), batch)
        done += len(batch)
        print(f"\r  inserted {done:,} rows", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    with store.writing() as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def explain(conn: Connection, stmt: Any, sqlite: bool) -> str:
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if sqlite:
        rows = conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}", tuple(params[k] for k in compiled.positiontup)
        )
        return "\n".join(f"    {r[3]}" for r in rows)
    rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", params)
    return "\n".join(f"    {r[0]}" for r in rows)


def measure(store: Store, label: str, repeat: int, plans: bool) -> dict[str, float]:
    with store.reading() as conn:
        counts = {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in (
                ("mf_case", cases),
                ("mf_event", events),
                ("mf_deadline", deadlines),
            )
        }
    print(f"\n== {label}")
    print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    def report() -> Any:
        return build_report(store, today=TODAY)

    def count_events() -> None:
        with store.reading() as conn:
            conn.execute(text("SELECT count(*) FROM mf_event")).scalar_one()

    def scan_events() -> None:
        with store.reading() as conn:
            conn.execute(text("SELECT trigger, count(*) FROM mf_event GROUP BY trigger")).all()

    result = report()  # warm-up (and the page cache)
    walls: dict[str, list[float]] = {"report": [], "count": [], "scan": []}
    cpus: dict[str, list[float]] = {"report": [], "count": [], "scan": []}
    for _ in range(repeat):
        for name, fn in (("report", report), ("count", count_events), ("scan", scan_events)):
            wall, cpu = timed(fn)
            walls[name].append(wall)
            cpus[name].append(cpu)

    queries = _Queries(
        "sqlite" if store.is_sqlite else "postgresql",
        _FlowInfo([national_flow()]),
        region=None,
        since=None,
        until=None,
        today=TODAY,
        overdue_limit=1000,
    )
    print("  statements (one run each; wall, CPU of this process):")
    with _snapshot(store) as conn:  # the report's own transaction (jit off on PostgreSQL)
        for name, stmt in queries.all().items():
            wall, cpu = timed(lambda stmt=stmt: conn.execute(stmt).all())
            print(f"    {name:<16} {wall * 1000:8.0f} ms  {cpu * 1000:8.0f} ms")
            if plans:
                print(explain(conn, stmt, store.is_sqlite))
    median = statistics.median(walls["report"])
    scan = statistics.median(walls["scan"])
    print(
        f"  build_report     wall best {min(walls['report']):.2f} s, median {median:.2f} s; "
        f"CPU median {statistics.median(cpus['report']):.2f} s ({repeat} runs)"
    )
    print(f"  count(*)         wall median {statistics.median(walls['count']) * 1000:.0f} ms")
    print(
        f"  scan of mf_event wall median {scan * 1000:.0f} ms, CPU median "
        f"{statistics.median(cpus['scan']) * 1000:.0f} ms (GROUP BY trigger: reads every row)"
    )
    print(f"  ratio report / scan: wall {median / scan:.1f}", end="")
    if store.is_sqlite:
        ratio = statistics.median(cpus["report"]) / statistics.median(cpus["scan"])
        print(f", CPU {ratio:.1f}")
    else:
        print(" (CPU: the server's, not measured here)")
    print("  cohorts (median wall of the runs):")
    for label, filters in COHORTS:
        times = [
            timed(lambda f=filters: build_report(store, today=TODAY, **f))[0] for _ in range(repeat)
        ]
        cohort = build_report(store, today=TODAY, **filters)
        print(f"    {label:<34} {cohort.cases:>7,} cases {statistics.median(times):6.2f} s")
    share = result.share_resolved_before_arbitration or 0.0
    print(
        f"  report: {result.cases:,} cases, {result.closed:,} closed, "
        f"{result.overdue_total:,} overdue, {len(result.movements)} movements, "
        f"share before arbitration {share:.1%}"
    )
    return {"report": median, "scan": scan}


@contextmanager
def pg_schema(url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema (dropped afterwards) and the URL that uses it."""
    import psycopg

    schema = f"mf_bench_{uuid.uuid4().hex[:10]}"
    plain = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def run(url: str, label: str, args: argparse.Namespace, templates: list[Template]) -> None:
    # The schema and the national flow's row (installed plugins left out).
    Engine(url, entry_points=False, clock=lambda: datetime(2024, 1, 1, tzinfo=UTC)).close()
    store = Store(url)
    try:
        with store.reading() as conn:
            existing = conn.execute(select(func.count()).select_from(cases)).scalar_one()
        if existing == 0:
            seconds = populate(store, args.cases, templates, args.seed)
            print(f"  generated {args.cases:,} cases in {seconds:.0f} s", file=sys.stderr)
        if args.suggested_indexes:
            with store.writing() as conn:
                for ddl in SUGGESTED_INDEXES:
                    conn.exec_driver_sql(ddl)
                conn.exec_driver_sql("ANALYZE")
            label += " + suggested indexes"
        measure(store, label, args.repeat, args.plans)
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases to generate")
    parser.add_argument("--repeat", type=int, default=3, help="timed report runs")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--templates", type=int, default=300, help="demo cases to copy")
    parser.add_argument(
        "--sqlite-file",
        type=Path,
        help="keep the SQLite database here (reused on the next run if it holds cases)",
    )
    parser.add_argument("--pg-url", help="also run on PostgreSQL (a fresh schema, dropped)")
    parser.add_argument("--plans", action="store_true", help="print each statement's plan")
    parser.add_argument(
        "--suggested-indexes",
        action="store_true",
        help="create SUGGESTED_INDEXES before measuring",
    )
    args = parser.parse_args()

    # The demo's engine logs every command; only errors matter here.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    started = time.perf_counter()
    templates = demo_templates(args.templates, args.seed)
    print(
        f"  {len(templates)} demo cases as templates in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    if args.sqlite_file:
        run(f"sqlite:///{args.sqlite_file}", f"SQLite {args.sqlite_file}", args, templates)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/report.db", "SQLite (file, WAL)", args, templates)
    if args.pg_url:
        with pg_schema(args.pg_url) as url:
            run(url, "PostgreSQL", args, templates)


if __name__ == "__main__":
    main()
