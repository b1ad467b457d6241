"""Many workers: concurrent ticks claim disjoint deadlines and together apply every expiry once;
a worker killed with SIGKILL in the middle of a batch loses nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter

import pytest

from mediation_flow import Engine
from tests.conftest import at
from tests.stress.workload import check, intake, tick_worker

OPENED = at(2025, 3, 3)
# negotiation_answer: 5 cd from Mon 03-03 is Sat 03-08, rolled over to Mon 03-10.
AFTER_DUE = at(2025, 3, 11, 0, 1)


def cases_awaiting_an_answer(url: str, n: int) -> list[int]:
    with Engine(url, entry_points=False) as engine:
        ids = []
        for i in range(n):
            case = engine.open_case(intake(i), at=OPENED)
            engine.fire(case.id, "refer_to_negotiation", at=OPENED)
            ids.append(case.id)
        return [d.id for cid in ids for d in engine.deadlines(cid)]


def expiry_counts(url: str) -> Counter[int]:
    """How many expiry events each deadline got; none may still be pending and due."""
    with Engine(url, entry_points=False, create_schema=False) as engine:
        pending = engine.due(AFTER_DUE)
    assert pending == [], f"deadlines still pending: {[d.id for d in pending]}"
    return expiry_counts_partial(url)


@pytest.mark.postgres
def test_two_ticking_workers_claim_disjoint_deadlines_and_miss_none(pg_url: str) -> None:
    due = cases_awaiting_an_answer(pg_url, 40)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    go = ctx.Event()
    readies = [ctx.Event(), ctx.Event()]
    procs = [
        ctx.Process(target=tick_worker, args=(pg_url, AFTER_DUE, 0.01, ready, go, results))
        for ready in readies
    ]
    for p in procs:
        p.start()
    for ready in readies:
        assert ready.wait(timeout=60)
    go.set()
    claimed = [set(results.get(timeout=120)) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    print(f"\nworker A applied {len(claimed[0])}, worker B {len(claimed[1])}")
    assert claimed[0].isdisjoint(claimed[1])
    assert claimed[0] | claimed[1] == set(due)
    assert expiry_counts(pg_url) == Counter(dict.fromkeys(due, 1))
    problems, _counts = check(pg_url)
    assert problems == []


def test_a_worker_killed_mid_batch_loses_nothing(db_url: str) -> None:
    due = cases_awaiting_an_answer(db_url, 30)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    ready, go = ctx.Event(), ctx.Event()
    # Batches of 4 expiries, each holding the transaction open for 50 ms more: the kill lands
    # inside a batch, after some batches committed.
    victim = ctx.Process(target=tick_worker, args=(db_url, AFTER_DUE, 0.05, ready, go, results, 4))
    victim.start()
    assert ready.wait(timeout=60)
    go.set()
    deadline = time.monotonic() + 60
    while sum(expiry_counts_partial(db_url).values()) < 5:
        assert time.monotonic() < deadline, "the worker never got going"
        time.sleep(0.02)
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(timeout=30)
    done_before = sum(expiry_counts_partial(db_url).values())
    assert done_before < len(due), "the worker finished before it was killed"
    # Another worker picks the rest up.
    with Engine(db_url, entry_points=False, create_schema=False) as engine:
        rest = engine.tick(AFTER_DUE)
    assert len(rest) == len(due) - done_before
    assert expiry_counts(db_url) == Counter(dict.fromkeys(due, 1))
    problems, _counts = check(db_url)
    assert problems == []


def expiry_counts_partial(url: str) -> Counter[int]:
    from sqlalchemy import select

    from mediation_flow.storage.repository import events

    counts: Counter[int] = Counter()
    with (
        Engine(url, entry_points=False, create_schema=False) as engine,
        engine._store.connect() as conn,
        engine._store.reading(conn),
    ):
        for (data,) in conn.execute(select(events.c.data)):
            if data.get("expired_deadline"):
                counts[data["expired_deadline"]["id"]] += 1
    return counts
