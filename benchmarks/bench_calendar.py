"""Benchmark: re-dating open provisional deadlines when a year's holiday notice is registered.

A database holds N open provisional deadlines (two suit windows per case, computed on the
predicted 2027 schedule, as after a winter of awards served in January 2027). The figure is
``Engine.register_holiday_schedule(2027, ...)``, which stores the notice and re-dates every one
of them in one transaction (one ``deadline_redated`` event per case, sealed into its hash chain),
against the same writes done by plain SQLAlchemy Core (executemany of the deadline updates, the
event inserts and the case-head updates, no reading, no computing) on an identical database in
the same run. Machines are shared and noisy: the ratio is the figure; the times are context.

Run ``python benchmarks/bench_calendar.py --help``; see ``benchmarks/README.md``. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, create_engine, insert, update

from mediation_flow import Engine
from mediation_flow.audit import event_hash
from mediation_flow.holiday_schedule import predict_schedule
from mediation_flow.storage.repository import cases, deadlines, events

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = timedelta(days=1)
OPENED = datetime(2026, 12, 7, 9, tzinfo=SHANGHAI)
SERVED = date(2027, 1, 25)
NOTICE = {  # made up: the prediction, with Spring Festival 02-05 to Thu 02-11 and Sat 02-20 worked
    "holidays": sorted(set(predict_schedule(2027).holidays) - {date(2027, 2, 12)}),
    "workdays": [date(2027, 2, 20)],
    "source": "benchmark notice",
}
DEFAULT_PG_URL = os.environ.get(
    "MEDIATION_FLOW_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
CHUNK = 5000


def _case_rows(n_cases: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Minimal cases, each with its open_case event (a valid chain head); the suit windows are
    put on them directly (re-dating does not look at the state)."""
    for i in range(1, n_cases + 1):
        opened = {
            "case_id": i,
            "seq": 1,
            "trigger": "open_case",
            "source": "",
            "dest": "received",
            "actor_id": "system",
            "actor_role": "system",
            "at": OPENED,
            "data": {"serial": f"bench-{i}"},
            "warnings": [],
        }
        opened["hash"] = event_hash(None, opened)
        case = {
            "id": i,
            "serial": f"bench-{i}",
            "region": "430102",
            "state": "received",  # the history is only the open_case event
            "version": 1,
            "flow_fingerprint": "",
            "resolution": None,
            "worker_count": 1,
            "is_migrant_worker": False,
            "knew_of_infringement_on": None,
            "employment_ended_on": None,
            "received_on": OPENED.date(),
            "limitation_expires_on": None,
            "opened_at": OPENED,
            "updated_at": OPENED,
            "attributes": {},
            "event_hash": opened["hash"],
            "chain_id": i,
        }
        yield case, opened


def populate(url: str, n_deadlines: int, fingerprint: str) -> None:
    """Fill an empty engine database with N provisional suit windows (two per case)."""
    sa = create_engine(_sa(url))
    n_cases = n_deadlines // 2
    with sa.begin() as conn:
        batch_cases: list[dict[str, Any]] = []
        batch_events: list[dict[str, Any]] = []
        batch_deadlines: list[dict[str, Any]] = []

        def flush() -> None:
            if batch_cases:
                conn.execute(insert(cases), batch_cases)
                conn.execute(insert(events), batch_events)
                conn.execute(insert(deadlines), batch_deadlines)
                batch_cases.clear()
                batch_events.clear()
                batch_deadlines.clear()

        for case, opened in _case_rows(n_cases):
            batch_cases.append({**case, "flow_fingerprint": fingerprint})
            batch_events.append(opened)
            for party in ("worker", "employer"):
                batch_deadlines.append(
                    {
                        "case_id": case["id"],
                        "kind": "suit_window",
                        "party": party,
                        "status": "pending",
                        "starts_on": SERVED,
                        "unit": "cd",
                        "length": 15,
                        "extended": 0,
                        "paused_on": None,
                        "due": date(2027, 2, 15),
                        "provisional": True,
                        "estimate": date(2027, 2, 15),
                        "basis": "predicted",
                    }
                )
            if len(batch_cases) >= CHUNK:
                flush()
        flush()
    sa.dispose()


def baseline(url: str, n_deadlines: int) -> float:
    """The same writes as the re-dating, by plain Core: no reading, no computing."""
    sa = create_engine(_sa(url))
    n_cases = n_deadlines // 2
    at = datetime(2027, 1, 26, 9, tzinfo=SHANGHAI)
    set_deadline = (
        update(deadlines)
        .where(deadlines.c.id == bindparam("b_id"))
        .values(due=bindparam("due"), provisional=False, estimate=None, basis="registered")
    )
    set_head = (
        update(cases)
        .where(cases.c.id == bindparam("b_id"), cases.c.version == 1)
        .values(version=2, event_hash=bindparam("event_hash"), updated_at=at)
    )
    started = time.perf_counter()
    with sa.begin() as conn:
        for first in range(1, n_cases + 1, CHUNK):
            ids = range(first, min(first + CHUNK, n_cases + 1))
            conn.execute(
                set_deadline,
                [{"b_id": 2 * i - k, "due": date(2027, 2, 12)} for i in ids for k in (1, 0)],
            )
            conn.execute(
                insert(events),
                [
                    {
                        "case_id": i,
                        "seq": 2,
                        "trigger": "deadline_redated",
                        "source": "received",
                        "dest": "received",
                        "actor_id": "system",
                        "actor_role": "system",
                        "at": at,
                        "data": {"deadlines": []},
                        "warnings": [],
                        "hash": "0" * 64,
                    }
                    for i in ids
                ],
            )
            conn.execute(set_head, [{"b_id": i, "event_hash": "0" * 64} for i in ids])
    seconds = time.perf_counter() - started
    sa.dispose()
    return seconds


def measure(url_factory: Any, n: int, label: str) -> dict[str, Any]:
    with url_factory() as engine_url, url_factory() as baseline_url:
        with Engine(engine_url) as engine:
            fingerprint = engine.flow_for("430102") and engine._flow.fingerprint
        populate(engine_url, n, fingerprint)
        Engine(baseline_url).close()
        populate(baseline_url, n, fingerprint)
        core = baseline(baseline_url, n)
        with Engine(engine_url) as engine:
            started = time.perf_counter()
            redated = engine.register_holiday_schedule(
                2027, **NOTICE, at=datetime(2027, 1, 26, 9, tzinfo=SHANGHAI)
            )
            seconds = time.perf_counter() - started
            sample = random.Random(1).sample(range(1, n // 2 + 1), 50)
            broken = [c for c in sample if not engine.verify(c).ok]
            moved = engine.deadlines(sample[0])[0]
        assert len(redated) == n // 2, len(redated)
        assert not broken, f"verify failed on {broken[:5]}"
        assert (moved.due, moved.provisional) == (date(2027, 2, 12), False)
    return {
        "backend": label,
        "deadlines": n,
        "engine_s": seconds,
        "core_s": core,
        "ratio": seconds / core,
        "per_s": n / seconds,
    }


def _sa(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def sqlite_url(root: Path) -> Iterator[str]:
    path = root / f"calendar-{uuid.uuid4().hex[:8]}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def pg_url(base: str) -> Iterator[str]:
    import psycopg

    schema = f"mf_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deadlines", type=int, default=100_000, help="open provisional deadlines")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    n = args.deadlines - args.deadlines % 2
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print("mediation_flow: re-dating provisional deadlines on a registered notice")
    print(f"Machine: {os.cpu_count()} cores; load average {load}; Python {sys.version.split()[0]}")
    rows = []
    with tempfile.TemporaryDirectory() as root:
        rows.append(measure(lambda: sqlite_url(Path(root)), n, "sqlite"))
    if not args.skip_postgres:
        rows.append(measure(lambda: pg_url(args.pg_url), n, "postgresql"))
    print(f"{'backend':<11}{'deadlines':>10}{'engine s':>10}{'Core s':>9}{'ratio':>7}{'per s':>9}")
    for r in rows:
        print(
            f"{r['backend']:<11}{r['deadlines']:>10}{r['engine_s']:>10.2f}{r['core_s']:>9.2f}"
            f"{r['ratio']:>7.2f}{r['per_s']:>9.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
