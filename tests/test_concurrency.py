"""Two officers acting at once: on SQLite and on PostgreSQL, exactly one command wins, the other
is refused with nothing written, and the history has no gap or duplicate. On PostgreSQL both
commands read the case before either writes, and the loser gets ``ConcurrentUpdate``; on SQLite
a command reads and writes in one ``BEGIN IMMEDIATE`` transaction, so the two take turns and the
loser decides on the winner's state (``IllegalTransition`` here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection

from mediation_flow import ConcurrentUpdate, Engine, IllegalTransition
from tests.conftest import at, make_intake

DAY = at(2025, 3, 3)


def hold_writes_until(engine: Engine, barrier: threading.Barrier) -> None:
    """PostgreSQL: make ``engine`` wait at ``barrier`` between its read and its write, so that
    two engines both read the case before either writes: the race happens every time, not by
    luck. SQLite: the read is inside the write transaction, which excludes other writers; the
    engines wait at the barrier before it, so that both commands start at once."""
    store = engine._store
    if store.is_sqlite:
        original = store.writing

        @contextmanager
        def writing(conn: Connection | None = None) -> Iterator[Connection]:
            barrier.wait(timeout=10)
            with original(conn) as c:
                yield c

        store.writing = writing  # type: ignore[method-assign]
        return
    load = store.load_command

    def load_command(conn: Connection, case_id: int) -> Any:
        loaded = load(conn, case_id)
        barrier.wait(timeout=10)
        return loaded

    store.load_command = load_command  # type: ignore[method-assign]


def loser_error(url: str) -> type[Exception]:
    return IllegalTransition if url.startswith("sqlite") else ConcurrentUpdate


def race(url: str, case_id: int, commands: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    engines = [Engine(url, clock=lambda: DAY) for _ in commands]
    barrier = threading.Barrier(len(commands))
    for eng in engines:
        hold_writes_until(eng, barrier)
    results: list[Any] = [None] * len(commands)

    def run(i: int) -> None:
        trigger, data = commands[i]
        try:
            results[i] = engines[i].fire(case_id, trigger, data=data, at=DAY)
        except Exception as exc:  # collected and asserted on below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(commands))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for eng in engines:
        eng.close()
    return results


def test_two_officers_firing_at_once_one_wins(db_url: str) -> None:
    with Engine(db_url, clock=lambda: DAY) as eng:
        case = eng.open_case(make_intake(), at=DAY)
        eng.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=DAY)
    # One arbitrator accepts the case while another refuses it.
    results = race(db_url, case.id, [("accept_arbitration", {}), ("reject_arbitration", {})])
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert isinstance(losses[0], loser_error(db_url))
    assert losses[0].case_id == case.id
    if isinstance(losses[0], ConcurrentUpdate):
        assert losses[0].expected_version == 2
    with Engine(db_url) as eng:
        stored = eng.get(case.id)
        assert stored.state == wins[0].state and stored.version == 3
        history = eng.history(case.id)
        assert [e.seq for e in history] == [1, 2, 3]
        assert history[-1].trigger in ("accept_arbitration", "reject_arbitration")
        # The loser wrote no deadline either: one acceptance clock, closed by the winner.
        (acceptance,) = [d for d in eng.deadlines(case.id) if d.kind == "arbitration_acceptance"]
        assert acceptance.status == "met"
        assert len([d for d in eng.deadlines(case.id) if d.kind == "award_limit"]) == (
            1 if stored.state == "arbitration" else 0
        )


def test_the_same_trigger_twice_at_once_applies_once(db_url: str) -> None:
    with Engine(db_url, clock=lambda: DAY) as eng:
        case = eng.open_case(make_intake(), at=DAY)
    results = race(
        db_url,
        case.id,
        [
            ("refer_to_union_mediation", {"org_id": "U1", "org_type": "union_org"}),
            ("refer_to_union_mediation", {"org_id": "U2", "org_type": "union_org"}),
        ],
    )
    assert sum(isinstance(r, loser_error(db_url)) for r in results) == 1
    with Engine(db_url) as eng:
        assert [e.seq for e in eng.history(case.id)] == [1, 2]
        assert len([d for d in eng.deadlines(case.id) if d.kind == "mediation_limit"]) == 1


@pytest.mark.parametrize("workers", [4])
def test_many_threads_on_many_cases_keep_every_history_gapless(db_url: str, workers: int) -> None:
    # Each thread walks its own engine through the same three cases; conflicts are expected
    # and retried by reloading. Afterwards every history is gapless and matches the version.
    with Engine(db_url, clock=lambda: DAY) as eng:
        ids = [eng.open_case(make_intake(), at=DAY).id for _ in range(3)]
    steps = [
        ("refer_to_negotiation", {}),
        ("fail_negotiation", {}),
        ("refer_to_peoples_mediation", {"org_id": "P"}),
        ("fail_mediation", {"reason": "no_agreement"}),
        ("apply_arbitration", {"by": "worker"}),
        ("accept_arbitration", {}),
    ]
    order = [s for s, _ in steps]

    def walk() -> None:
        with Engine(db_url, clock=lambda: DAY) as mine:
            for case_id in ids:
                while True:
                    seen = mine.get(case_id)
                    state = seen.state
                    if state == "arbitration":
                        break
                    nxt = {
                        "received": 0,
                        "negotiation": 1,
                        "negotiation_failed": 2,
                        "peoples_mediation": 3,
                        "mediation_failed": 4,
                        "arbitration_received": 5,
                    }[state]
                    try:
                        # Decide on what was seen: a command for a state the case has left
                        # must not apply to the state it is in now.
                        mine.fire(
                            case_id,
                            order[nxt],
                            data=steps[nxt][1],
                            at=DAY,
                            expected_version=seen.version,
                        )
                    except ConcurrentUpdate:
                        continue  # another thread moved the case on: reload and decide again

    errors: list[BaseException] = []

    def guarded_walk() -> None:
        try:
            walk()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded_walk) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with Engine(db_url) as eng:
        for case_id in ids:
            case = eng.get(case_id)
            history = eng.history(case_id)
            assert case.state == "arbitration"
            assert [e.seq for e in history] == list(range(1, case.version + 1))
            # Early-warning events (the same employer in every case) stand beside the steps.
            assert [e.trigger for e in history[1:] if e.trigger != "early_warning"] == order
