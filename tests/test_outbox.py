"""The event outbox: every committed event reaches the feed once, in order per case; the
cursor never skips an event; webhooks are signed, retried with backoff, dead-lettered."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mediation_flow import (
    Engine,
    HandoffSettings,
    IllegalTransition,
    InvalidData,
    PluginError,
    hookimpl,
)
from mediation_flow.outbox import Outbox, verify_webhook
from tests.conftest import at, make_intake

KEY = Ed25519PrivateKey.generate()
SETTINGS = HandoffSettings(org_id="芙蓉区劳动人事争议仲裁院", signing_key=KEY)
DAY = at(2025, 3, 3)


def feed_of(engine: Engine) -> list[tuple[int, int, str]]:
    return [(e.case_id, e.seq, e.trigger) for e in engine.outbox.events(limit=1000)]


def test_every_committed_event_is_in_the_feed_once_and_in_order(db_url: str) -> None:
    with Engine(db_url, handoff=SETTINGS) as engine:
        one = engine.open_case(make_intake(), at=DAY)
        two = engine.open_case(make_intake(), at=DAY)
        engine.fire(one.id, "refer_to_negotiation", at=DAY)
        with pytest.raises(IllegalTransition):  # refused: nothing in the outbox either
            engine.fire(two.id, "accept_mediation", at=DAY)
        engine.tick(at(2025, 3, 20))  # the negotiation fails by itself
        history = {c: [(c, e.seq, e.trigger) for e in engine.history(c)] for c in (one.id, two.id)}
        feed = feed_of(engine)
        assert sorted(feed) == sorted(history[one.id] + history[two.id])
        for case_id in (one.id, two.id):
            assert [f for f in feed if f[0] == case_id] == history[case_id]
        assert engine.outbox.publish() == 0  # published once
        events = engine.outbox.events()
        assert [e.feed_id for e in events] == sorted(e.feed_id for e in events)
        after = events[1].feed_id
        assert [e.feed_id for e in engine.outbox.events(after=after)] == [
            e.feed_id for e in events[2:]
        ]
        with pytest.raises(InvalidData):
            engine.outbox.events(limit=0)


class Receiver:
    """A webhook receiver in memory: verifies each post, fails the first ``failures``."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []

    def __call__(self, url: str, body: bytes, headers: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("receiver down")
        self.received.append(verify_webhook(body, headers, KEY.public_key()))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_webhooks_are_signed_retried_with_backoff_and_dead_lettered(db_url: str) -> None:
    with Engine(db_url, handoff=SETTINGS) as engine:
        clock = Clock()
        outbox = Outbox(engine._store, SETTINGS, clock)
        case = engine.open_case(make_intake(), at=DAY)
        outbox.subscribe("union", "http://127.0.0.1:9/hooks", from_start=True)
        receiver = Receiver(failures=2)
        (result,) = outbox.deliver(receiver, max_attempts=3)
        assert result.failed and result.delivered == 0
        assert outbox.deliver(receiver, max_attempts=3) == []  # backing off
        clock.now += timedelta(seconds=2)
        outbox.deliver(receiver, max_attempts=3)  # second failure
        clock.now += timedelta(seconds=5)
        (result,) = outbox.deliver(receiver, max_attempts=3)
        assert result.delivered == 1 and not result.failed
        assert [(e["case_id"], e["seq"], e["trigger"]) for e in receiver.received] == [
            (case.id, 1, "open_case")
        ]
        # A receiver that never accepts: the event goes to the dead letters, the next one on.
        engine.fire(case.id, "refer_to_negotiation", at=DAY)
        engine.fire(case.id, "accept_negotiation", at=DAY)
        refusing = Receiver(failures=10**6)
        outbox.deliver(refusing, max_attempts=1)
        (letter,) = outbox.dead_letters("union")
        assert (letter["seq"], letter["attempts"]) == (2, 1)
        (result,) = outbox.deliver(receiver)
        assert [e["seq"] for e in receiver.received] == [1, 3]
        assert outbox.redeliver("union", receiver) == 1
        assert [e["seq"] for e in receiver.received] == [1, 3, 2]
        assert outbox.dead_letters() == []


def test_one_worker_at_a_time_serves_a_subscription(engine: Engine) -> None:
    outbox = Outbox(engine._store, SETTINGS)
    engine.open_case(make_intake(), at=DAY)
    outbox.subscribe("a", "http://127.0.0.1:9/a", from_start=True)
    (sub,) = outbox.subscriptions()
    token = outbox._lease(sub.id, 30)
    assert token is not None
    assert outbox.deliver(Receiver()) == []  # leased by the other worker
    outbox._release(sub.id, token)
    assert outbox.deliver(Receiver())[0].delivered == 1


def test_delivery_needs_a_signing_key(engine: Engine) -> None:
    with pytest.raises(InvalidData, match="signing key"):
        engine.outbox.deliver(Receiver())


@pytest.mark.postgres
def test_the_cursor_skips_nothing_while_commands_commit_concurrently(pg_url: str) -> None:
    """Four writers on their own cases while a reader polls with the cursor: the events read
    through the cursor are exactly the committed events, each case's in order."""
    with Engine(pg_url, handoff=SETTINGS) as engine:
        stop = threading.Event()
        seen: list[Any] = []

        def write(n: int) -> None:
            for _ in range(6):
                case = engine.open_case(make_intake(), at=DAY)
                engine.fire(case.id, "refer_to_negotiation", at=DAY)
                engine.fire(case.id, "accept_negotiation", at=DAY)

        def read() -> None:
            cursor = 0
            while True:
                done = stop.is_set()
                batch = engine.outbox.events(after=cursor, limit=50)
                seen.extend(batch)
                if batch:
                    cursor = batch[-1].feed_id
                elif done:
                    return

        reader = threading.Thread(target=read)
        reader.start()
        writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        stop.set()
        reader.join()
        per_case: dict[int, list[int]] = defaultdict(list)
        for event in seen:
            per_case[event.case_id].append(event.seq)
        assert len(per_case) == 24
        for case_id, seqs in per_case.items():
            assert seqs == [e.seq for e in engine.history(case_id)], (case_id, seqs)


class FailingInTransaction:
    """A plugin whose in-transaction work fails after the event was written."""

    name = "failing"
    regions = ("430102",)

    @hookimpl
    def in_transaction(self, ctx: Any, event: Any, connection: Any) -> None:
        if event.trigger == "refer_to_negotiation":
            raise RuntimeError("the host's own table refused the row")


def test_an_event_rolled_back_is_not_queued(db_url: str) -> None:
    """The outbox row is written in the event's transaction: a command rolled back after its
    event was written leaves nothing for the subscribers."""
    with Engine(db_url, plugins=[FailingInTransaction()], entry_points=False) as engine:
        case = engine.open_case(make_intake(), at=DAY)
        # The plugin's failure reaches the caller as a PluginError naming the hook.
        with pytest.raises(PluginError, match="in_transaction"):
            engine.fire(case.id, "refer_to_negotiation", at=DAY)
        assert [(e.case_id, e.seq) for e in engine.history(case.id)] == [(case.id, 1)]
        assert [(e.case_id, e.seq) for e in engine.outbox.events()] == [(case.id, 1)]


def test_the_database_queues_every_event_whichever_code_stores_it(db_url: str) -> None:
    """The outbox entry is written by a trigger on mf_event in the event's own statement: an
    event stored outside the command path (here: by plain SQL) is queued too, exactly once."""
    from sqlalchemy import text

    with Engine(db_url) as engine:
        case = engine.open_case(make_intake(), at=DAY)
        with engine._store.writing() as conn:
            conn.execute(
                text(
                    "INSERT INTO mf_event (case_id, seq, trigger, source, dest, actor_id, "
                    "actor_role, at, data, warnings) VALUES (:case_id, 2, 'note', 'received', "
                    "'received', 'system', 'system', :at, '{}', '[]')"
                ),
                {"case_id": case.id, "at": DAY},
            )
            queued = conn.execute(text("SELECT case_id, seq FROM mf_outbox ORDER BY id")).all()
        assert [tuple(r) for r in queued] == [(case.id, 1), (case.id, 2)]
        assert [(e.case_id, e.seq) for e in engine.outbox.events()] == [(case.id, 1), (case.id, 2)]


def test_a_database_migrated_from_0011_queues_its_events_by_trigger(db_url: str) -> None:
    """Migration 0012 adds the trigger to a database of the outbox's first release (and its
    downgrade removes it): events queued before stay queued, events stored after are queued
    once."""
    from mediation_flow.storage import schema
    from mediation_flow.storage.repository import Store

    with Engine(db_url) as engine:
        first = engine.open_case(make_intake(), at=DAY)
    store = Store(db_url)
    try:
        with store.migrating() as conn:
            schema.downgrade(conn, "0011")
        with store.migrating() as conn:
            schema.upgrade(conn, "head")
    finally:
        store.dispose()
    with Engine(db_url) as engine:
        engine.fire(first.id, "refer_to_negotiation", at=DAY)
        second = engine.open_case(make_intake(), at=DAY)
        assert [(e.case_id, e.seq) for e in engine.outbox.events()] == [
            (first.id, 1),
            (first.id, 2),
            (second.id, 1),
        ]
