"""Benchmark: how fast ``tick`` drains a backlog of overdue deadlines, 1 and 4 workers,
SQLite and PostgreSQL, batched and one expiry per transaction, in one run.

A backlog of B cases in negotiation, each with its overdue ``negotiation_answer`` deadline, is
built with the engine (one case) and cloned in SQL (not timed). Then W worker processes
(spawned, each with its own Engine) call ``tick`` at the same moment and run until the
backlog is drained; the rate is B / (time from the start signal to the last worker's finish).
Each expiry fires ``fail_negotiation`` on its case (state, event with its hash, the deadline
closed). Afterwards the run checks that every deadline expired exactly once. Read the ratios
within one run: machines are shared and noisy.

Run ``python benchmarks/bench_tick.py --help``; see ``benchmarks/README.md``. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy
from bench_engine import make_intake, workspace
from sqlalchemy import create_engine, text

from mediation_flow import Engine
from mediation_flow.errors import DatabaseBusy

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENED = datetime(2025, 3, 3, 9, tzinfo=SHANGHAI)
# negotiation_answer: 5 cd from Mon 03-03 is Sat 03-08, rolled over to Mon 03-10.
AFTER_DUE = datetime(2025, 3, 11, 0, 1, tzinfo=SHANGHAI)
DEFAULT_PG_URL = os.environ.get(
    "MEDIATION_FLOW_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

CASE_COLUMNS = (
    "region, state, version, flow_fingerprint, resolution, worker_count, is_migrant_worker, "
    "knew_of_infringement_on, employment_ended_on, received_on, limitation_expires_on, "
    "event_hash, opened_at, updated_at, attributes"
)
PARTY_COLUMNS = "position, kind, role, name, id_number, phone, account"
CLAIM_COLUMNS = "position, kind, amount"
DEADLINE_COLUMNS = (
    "kind, party, status, starts_on, unit, length, due, extended, paused_on, provisional, "
    "estimate, basis"
)


def build_backlog(url: str, size: int) -> None:
    """``size`` cases in negotiation, each with an overdue deadline: one through the engine,
    the others copied from it in SQL."""
    with Engine(url, entry_points=False, national_numbering=False) as engine:
        template = engine.open_case(make_intake(), at=OPENED).id
        engine.fire(template, "refer_to_negotiation", at=OPENED)
    sa = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    sqlite = sa.dialect.name == "sqlite"
    numbers = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :k) "
        if sqlite
        else ""
    )
    source = "n" if sqlite else "generate_series(1, :k) AS n(i)"
    with sa.begin() as conn:
        params = {"t": template, "k": size - 1}
        conn.execute(
            text(
                f"INSERT INTO mf_case ({CASE_COLUMNS}, serial) {numbers}"
                f"SELECT {CASE_COLUMNS}, 'B' || n.i FROM mf_case, {source} WHERE mf_case.id = :t"
            ),
            params,
        )
        for table, columns in (
            ("mf_party", PARTY_COLUMNS),
            ("mf_claim", CLAIM_COLUMNS),
            ("mf_deadline", DEADLINE_COLUMNS),
        ):
            copied = ", ".join(f"x.{c.strip()}" for c in columns.split(","))
            conn.execute(
                text(
                    f"INSERT INTO {table} (case_id, {columns}) SELECT c.id, {copied} "
                    f"FROM mf_case c JOIN {table} x ON x.case_id = :t WHERE c.id <> :t"
                ),
                {"t": template},
            )
    sa.dispose()


def worker(url: str, batch: int, ready: Any, go: Any, results: Any) -> None:
    """Tick until nothing is due; report how many expiries this worker applied."""
    applied = 0
    with Engine(
        url, entry_points=False, create_schema=False, busy_timeout=60.0, national_numbering=False
    ) as engine:
        engine.due(AFTER_DUE, kind="none")  # connect before the start signal
        ready.set()
        go.wait(timeout=120)
        while True:
            try:
                applied += len(engine.tick(AFTER_DUE, batch=batch))
                break
            except DatabaseBusy:
                continue  # SQLite: the other workers held the write lock for long; go on
    results.put(applied)


def drain(url: str, workers: int, batch: int) -> tuple[float, list[int]]:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    go = ctx.Event()
    readies = [ctx.Event() for _ in range(workers)]
    procs = [ctx.Process(target=worker, args=(url, batch, ready, go, results)) for ready in readies]
    for p in procs:
        p.start()
    for ready in readies:
        if not ready.wait(timeout=180):
            raise RuntimeError("a worker did not start")
    started = time.perf_counter()
    go.set()
    counts = [results.get(timeout=3600) for _ in procs]
    seconds = time.perf_counter() - started
    for p in procs:
        p.join(timeout=60)
    return seconds, counts


def check(url: str, size: int) -> str | None:
    """None when every deadline expired exactly once, else what is wrong."""
    sa = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with sa.connect() as conn:
            pending = conn.execute(
                text("SELECT count(*) FROM mf_deadline WHERE status = 'pending'")
            ).scalar()
            events = conn.execute(
                text("SELECT count(*) FROM mf_event WHERE trigger = 'fail_negotiation'")
            ).scalar()
            cases = conn.execute(
                text("SELECT count(*) FROM mf_case WHERE state = 'negotiation_failed'")
            ).scalar()
    finally:
        sa.dispose()
    if (pending, events, cases) != (0, size, size):
        return f"pending {pending}, expiry events {events}, cases moved {cases} (of {size})"
    return None


@contextmanager
def database(backend: str, root: Path, pg_url: str) -> Iterator[str]:
    if backend == "sqlite":
        path = root / f"tick-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    plain = pg_url.replace("postgresql+psycopg", "postgresql")
    schema = f"bench_tick_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backlog", type=int, default=100_000, help="overdue deadlines")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument(
        "--batches",
        type=int,
        nargs="+",
        default=[100],
        help="expiries per transaction to compare (1: one per transaction; default 100)",
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    print("mediation_flow: tick draining a backlog of overdue deadlines")
    print(
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"{os.cpu_count()} CPUs; backlog {args.backlog} deadlines, each firing "
        "fail_negotiation on its case"
    )
    print(f"\n{'backend':<11} {'batch':>5} {'workers':>7} {'seconds':>8} {'expiries/s':>11}  check")
    with workspace() as root:
        for backend in args.backends:
            for batch in args.batches:
                base: float | None = None
                for workers in args.workers:
                    with database(backend, root, args.pg_url) as url:
                        build_backlog(url, args.backlog)
                        seconds, counts = drain(url, workers, batch)
                        problem = check(url, args.backlog)
                    rate = args.backlog / seconds
                    base = base or rate
                    print(
                        f"{backend:<11} {batch:>5} {workers:>7} {seconds:>8.1f} {rate:>11.0f}  "
                        f"{problem or 'each expired once'}; x{rate / base:.2f} of the first; "
                        f"per worker {counts}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
