"""Concurrent workers on one database, for the stress and worker tests (and as a script).

``python -m tests.stress.workload --url postgresql://... --processes 4 --cases 200
--seconds 60`` opens the cases, runs the worker processes (each fires random legal triggers and
runs ``tick`` on the shared cases, on a simulated clock shared through the wall clock), then
checks the database: every case's state equals the state replayed from its history, sequence
numbers have no gap or duplicate, and no deadline expired twice. It prints the counts, conflicts
included, and exits 1 if a check failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mediation_flow import (
    ConcurrentUpdate,
    DatabaseBusy,
    Engine,
    GuardFailed,
    IllegalTransition,
    InvalidData,
    hookimpl,
)
from mediation_flow.audit import replay
from tests.flowspec import EDGES

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 3, 3, 9, tzinfo=SHANGHAI)
#: Simulated days a run covers, whatever its length (dates stay inside the known calendar).
SPAN_DAYS = 150
_DATE_FIELDS = {"effective_on", "perform_by", "received_on"}

_TEMPLATES: dict[tuple[str, str], list[dict[str, Any]]] = {}
for _trigger, _source, _data, _dest in EDGES:
    _TEMPLATES.setdefault((_trigger, _source), []).append(_data)


def intake(i: int) -> dict[str, Any]:
    return {
        "region": "430102",
        "parties": [
            {"kind": "worker", "role": "applicant", "name": f"工人{i}"},
            {"kind": "employer", "role": "respondent", "name": f"公司{i % 17}"},
        ],
        "claims": [{"kind": "wages", "amount": str(1000 + i)}],
        "employment_ended_on": "2025-01-31",
    }


class SimulatedClock:
    """Simulated time shared by processes through the wall clock: ``SPAN_DAYS`` over the run."""

    def __init__(self, wall_start: float, seconds: float) -> None:
        self.wall_start = wall_start
        self.days_per_second = SPAN_DAYS / max(seconds, 0.001)

    def __call__(self) -> datetime:
        elapsed = max(0.0, time.time() - self.wall_start)
        return START + timedelta(days=elapsed * self.days_per_second)


def command_data(trigger: str, source: str, day: str, rng: random.Random) -> dict[str, Any]:
    """Data for ``trigger`` from ``source``, from the flow.md edge table, dated ``day``."""
    data = dict(rng.choice(_TEMPLATES.get((trigger, source), [{}])))
    for key in list(data):
        if key in _DATE_FIELDS:
            data[key] = day
        elif key == "served_on":
            data[key] = dict.fromkeys(data[key], day) if isinstance(data[key], dict) else day
    return data


def worker(
    url: str, case_ids: list[int], seconds: float, seed: int, wall_start: float, results: Any
) -> None:
    """Fire random legal triggers and tick until ``seconds`` have passed; report counts."""
    rng = random.Random(seed)
    clock = SimulatedClock(wall_start, seconds)
    stats: Counter[str] = Counter()
    with Engine(url, clock=clock, create_schema=False, entry_points=False) as engine:
        # A worker that took longer than the others to start (a busy machine: importing and
        # connecting can take seconds) still runs for ``seconds``, with its clock from now.
        clock.wall_start = max(wall_start, time.time())
        end = clock.wall_start + seconds
        while time.time() < end:
            if rng.random() < 0.1:
                stats["expiries"] += len(engine.tick())
                stats["ticks"] += 1
                continue
            case_id = rng.choice(case_ids)
            try:
                state = engine.get(case_id).state
                legal = engine.triggers(case_id)
                if not legal:
                    stats["finished"] += 1
                    continue
                trigger = rng.choice(legal)
                day = clock().date().isoformat()
                engine.fire(case_id, trigger, data=command_data(trigger, state, day, rng))
                stats["fired"] += 1
            except ConcurrentUpdate:
                stats["conflicts"] += 1
            except (IllegalTransition, GuardFailed, InvalidData, DatabaseBusy) as exc:
                stats[f"refused:{type(exc).__name__}"] += 1
    results.put(dict(stats))


def check(url: str) -> tuple[list[str], dict[str, int]]:
    """Problems found in the database, and counts."""
    problems: list[str] = []
    counts: Counter[str] = Counter()
    with Engine(url, create_schema=False, entry_points=False) as engine:
        with engine._store.connect() as conn, engine._store.reading(conn):
            from sqlalchemy import select

            from mediation_flow.storage.repository import cases

            ids = [row.id for row in conn.execute(select(cases.c.id))]
        expired_by: Counter[int] = Counter()
        for case_id in ids:
            case = engine.get(case_id)
            history = engine.history(case_id)
            counts["events"] += len(history)
            outcome = replay(engine.flow_for(case.region), history)
            problems += [f"case {case_id}: {p}" for p in outcome.problems]
            if outcome.state != case.state:
                problems.append(f"case {case_id}: stored {case.state}, replayed {outcome.state}")
            if [e.seq for e in history] != list(range(1, case.version + 1)):
                problems.append(f"case {case_id}: sequence numbers are not 1..{case.version}")
            for event in history:
                expired = event.data.get("expired_deadline")
                if expired:
                    expired_by[expired["id"]] += 1
        twice = [d for d, n in expired_by.items() if n > 1]
        if twice:
            problems.append(f"deadlines expired more than once: {sorted(twice)}")
        counts["cases"] = len(ids)
        counts["expired_deadlines"] = len(expired_by)
    return problems, dict(counts)


def open_cases(url: str, n: int) -> list[int]:
    with Engine(url, clock=lambda: START, entry_points=False) as engine:
        return [engine.open_case(intake(i), at=START).id for i in range(n)]


def run(
    url: str, *, processes: int = 4, cases: int = 200, seconds: float = 10.0, seed: int = 1
) -> dict[str, Any]:
    """Open ``cases``, run ``processes`` workers for ``seconds``, check; return a report."""
    case_ids = open_cases(url, cases)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    wall_start = time.time() + 3.0  # every worker starts its run at the same moment
    procs = [
        ctx.Process(target=worker, args=(url, case_ids, seconds, seed + i, wall_start, results))
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    totals: Counter[str] = Counter()
    for _ in procs:
        totals.update(results.get(timeout=seconds + 120))
    for p in procs:
        p.join(timeout=30)
    problems, counts = check(url)
    return {"workers": dict(totals), "database": counts, "problems": problems}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="database URL (an empty database)")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = run(
        args.url, processes=args.processes, cases=args.cases, seconds=args.seconds, seed=args.seed
    )
    print("workers:", report["workers"])
    print("database:", report["database"])
    print("conflicts:", report["workers"].get("conflicts", 0))
    for problem in report["problems"]:
        print("PROBLEM:", problem)
    return 1 if report["problems"] else 0


class SlowExpiries:
    """A plugin that makes every write transaction take a while (worker tests)."""

    name = "slow"

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds

    @hookimpl
    def in_transaction(self, ctx: Any, event: Any, connection: Any) -> None:
        time.sleep(self.seconds)


def tick_worker(
    url: str, at: datetime, slow: float, ready: Any, go: Any, results: Any, batch: int = 100
) -> None:
    """Tick once at ``at`` (after ``go``), slowly, ``batch`` expiries per transaction; report
    the ids of the expired deadlines."""
    plugins = [SlowExpiries(slow)] if slow else []
    with Engine(url, plugins=plugins, entry_points=False, create_schema=False) as engine:
        ready.set()
        go.wait(timeout=60)
        events = engine.tick(at, batch=batch)
    results.put([e.data["expired_deadline"]["id"] for e in events])


if __name__ == "__main__":
    sys.exit(main())


def fire_worker(url: str, case_ids: list[int], slow: float, ready: Any, go: Any) -> None:
    """Drive ``case_ids`` through negotiation, mediation and arbitration, ticking in between,
    slowly, until killed (the fault-tolerance test kills it with SIGKILL)."""
    steps = [
        ("refer_to_negotiation", {}),
        ("fail_negotiation", {}),
        ("refer_to_peoples_mediation", {"org_id": "街道调委会"}),
        ("fail_mediation", {"reason": "no_agreement"}),
        ("apply_arbitration", {"by": "worker"}),
        ("accept_arbitration", {}),
    ]
    plugins = [SlowExpiries(slow)] if slow else []
    with Engine(url, plugins=plugins, entry_points=False, create_schema=False) as engine:
        ready.set()
        go.wait(timeout=60)
        moment = START
        for trigger, data in steps:
            for case_id in case_ids:
                moment += timedelta(minutes=1)
                engine.fire(case_id, trigger, data=data, at=moment)
            engine.tick(moment)
