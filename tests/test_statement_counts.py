"""How many SQL statements a command sends: counted with a SQLAlchemy event hook, so that the
command path does not grow unnoticed. Targets: at most 5 per plain ``fire``, at most 8 per
``open_case``, with the ledger entry (mediation_flow.ledger) and the outbox entry
(mediation_flow.outbox) in the write step: the database writes the outbox entry (a trigger on
``mf_event``), a command's new and changed deadlines are one executemany (an upsert), and on
PostgreSQL the case's update, its event and its ledger entry are one statement (data-modifying
CTEs), so a fire sends 3 statements there and 5 on SQLite. A command decided on a
predicted holiday schedule sends at most 2 more: the shared calendar lock (PostgreSQL) and the
read of the calendar revision (mediation_flow.redating). Transaction control is not counted
(as in ``benchmarks/bench_engine.py``): each command is one transaction, so one BEGIN (SQLite:
``BEGIN IMMEDIATE``) and one COMMIT; savepoints are counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from sqlalchemy import event

from mediation_flow import Engine
from tests.conftest import at, make_intake

#: The seven steps of benchmarks/bench_engine.py, with their dates.
STEPS: list[tuple[str, dict[str, Any], datetime]] = [
    ("refer_to_union_mediation", {"org_id": "U1", "org_type": "union_org"}, at(2025, 3, 3, 10)),
    ("fail_mediation", {"reason": "no_agreement"}, at(2025, 3, 4)),
    ("apply_arbitration", {"by": "worker"}, at(2025, 3, 5)),
    ("accept_arbitration", {}, at(2025, 3, 6)),
    (
        "issue_award",
        {
            "items": [{"kind": "wages", "amount": "50000"}],
            "monthly_minimum_wage": "1930",
            "served_on": {"worker": "2025-03-07", "employer": "2025-03-07"},
        },
        at(2025, 3, 7),
    ),
    ("file_lawsuit", {"by": "worker"}, at(2025, 3, 10)),
    ("withdraw_lawsuit", {"by": "worker"}, at(2025, 3, 10, 15)),
]
#: SQLite: the read, the case, the event (its outbox entry by trigger), the ledger entry, the
#: deadlines; PostgreSQL: the read, case + event + ledger entry, the deadlines.
FIRE_LIMIT = 5
#: PostgreSQL: 8 (the early-warning query in a savepoint: 2 more); SQLite: 7.
OPEN_LIMIT = 8
#: A command decided on a predicted holiday schedule: the shared calendar lock (PostgreSQL only)
#: and the read of the calendar revision, so that no notice is registered in between.
CALENDAR_CHECK = 2


def calendar_check(sent: list[str]) -> list[str]:
    """The statements of the calendar check (mediation_flow.redating) among ``sent``."""
    return [s for s in sent if "mf_holiday_schedule" in s or "pg_advisory_xact_lock" in s]


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """Every statement the engine's connections send while the block runs."""
    sent: list[str] = []
    transactions: list[str] = []

    def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        text = " ".join(statement.split())
        if text.split(" ", 1)[0].upper() in ("BEGIN", "COMMIT", "ROLLBACK"):
            transactions.append(text)
        else:
            sent.append(text[:80])

    sa = engine._store.engine
    event.listen(sa, "before_cursor_execute", _count)
    try:
        yield sent
    finally:
        event.remove(sa, "before_cursor_execute", _count)
    if engine._store.is_sqlite:
        assert transactions in ([], ["BEGIN IMMEDIATE"]), transactions  # one transaction


def count(engine: Engine, command: Callable[[], object]) -> list[str]:
    with counting(engine) as sent:
        command()
    return sent


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = Engine(db_url, clock=lambda: at(2025, 3, 3), national_numbering=False)
    yield eng
    eng.close()


def test_open_case_and_each_plain_fire_stay_within_their_statements(engine: Engine) -> None:
    opened: list[Any] = []
    sent = count(engine, lambda: opened.append(engine.open_case(make_intake(), at=at(2025, 3, 3))))
    # Case, parties, claims, the repeat-employer query (in a savepoint on PostgreSQL, where a
    # failing rule must not spoil the transaction), events (their outbox entries by trigger),
    # chain head and ledger entry (one statement on PostgreSQL).
    assert len(sent) == (7 if engine._store.is_sqlite else 8) <= OPEN_LIMIT, sent
    case = opened[0]
    for trigger, data, when in STEPS:
        sent = count(engine, partial(engine.fire, case.id, trigger, data=data, at=when))
        # The case with its deadlines, the case, the event (its outbox entry by trigger), the
        # ledger entry (these three in one statement on PostgreSQL), the deadlines started
        # and/or closed (one executemany); the calendar check
        # when a date was computed on a predicted schedule (withdraw_lawsuit: the enforcement
        # window runs into a year whose notice is not published yet).
        calendar = calendar_check(sent)
        assert len(calendar) <= CALENDAR_CHECK, (trigger, sent)
        assert len(sent) - len(calendar) <= FIRE_LIMIT, (trigger, sent)
        if not engine._store.is_sqlite:
            assert len(sent) - len(calendar) <= 3, (trigger, sent)
        plain = [s for s in sent if s not in calendar]
        assert sum(s.startswith("SELECT") for s in plain) == 1, (trigger, sent)
    assert engine.get(case.id).state == "enforceable"
    assert [e.seq for e in engine.history(case.id)] == list(range(1, 9))


def test_a_collective_case_stores_its_alerts_in_the_same_transaction(engine: Engine) -> None:
    with counting(engine) as sent:
        case = engine.open_case(make_intake(worker_count=12), at=at(2025, 3, 3))
    # One more statement: the alerts, all in one INSERT ... ON CONFLICT DO NOTHING (the alert
    # event goes with the intake's, in one executemany; the database queues both).
    assert len(sent) == (8 if engine._store.is_sqlite else 9), sent
    history = engine.history(case.id)
    assert [e.trigger for e in history] == ["open_case", "early_warning"]
    assert case.version == 2 == engine.get(case.id).version


def test_a_fire_reads_parties_and_claims_again_when_another_engine_moved_the_case(
    db_url: str,
) -> None:
    with (
        Engine(db_url, clock=lambda: at(2025, 3, 3), national_numbering=False) as one,
        Engine(db_url, clock=lambda: at(2025, 3, 3), national_numbering=False) as other,
    ):
        case = one.open_case(make_intake(), at=at(2025, 3, 3))
        trigger, data, when = STEPS[0]
        # A cold cache: the other engine reads parties and claims (two statements more).
        sent = count(other, lambda: other.fire(case.id, trigger, data=data, at=when))
        assert sum(s.startswith("SELECT") for s in sent) == 3, sent
        # The first engine's entry is for an older chain head: it reads them again too.
        trigger, data, when = STEPS[1]
        views: list[Any] = []
        sent = count(one, lambda: views.append(one.fire(case.id, trigger, data=data, at=when)))
        assert sum(s.startswith("SELECT") for s in sent) == 3, sent
        (after,) = views
        assert after.parties == case.parties and after.claims == case.claims
        assert after == one.get(case.id)


def test_without_prepared_statements_the_command_path_writes_the_same(
    db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLAlchemy release without the private processors Prepared reads: the hot statements
    run the plain way (conn.execute) and every row comes out the same, ledger included."""
    from sqlalchemy import select

    from mediation_flow.storage import repository
    from mediation_flow.storage.tables import metadata

    def run(url: str) -> dict[str, list[tuple[Any, ...]]]:
        with Engine(url, clock=lambda: at(2025, 3, 3), national_numbering=False) as eng:
            case = eng.open_case(make_intake(), at=at(2025, 3, 3))
            for trigger, data, when in STEPS:
                eng.fire(case.id, trigger, data=data, at=when)
            assert eng.verify_all() == []
            with eng._store.engine.connect() as conn:
                return {
                    name: [
                        tuple(v for k, v in row._mapping.items() if k != "id")
                        for row in conn.execute(select(metadata.tables[name]))
                    ]
                    for name in ("mf_case", "mf_event", "mf_deadline", "mf_ledger", "mf_outbox")
                }

    from mediation_flow.engine import intake

    serial = intake.new_serial("430102", at(2025, 3, 3).date())
    monkeypatch.setattr(intake, "new_serial", lambda region, day: serial)  # same hashes
    prepared = run(db_url)
    # The first SQLAlchemy attribute Prepared reads is gone: it falls back for good.
    monkeypatch.setattr(repository.Prepared, "available", True)
    monkeypatch.setattr(repository.Prepared, "_compiled", {}, raising=False)
    original = repository.Prepared._for

    def without_processors(self: Any, dialect: Any) -> Any:
        raise AttributeError("'SQLiteCompiler' object has no attribute '_bind_processors'")

    monkeypatch.setattr(repository.Prepared, "_for", without_processors)
    if "sqlite" in db_url:
        url = f"sqlite:///{tmp_path / 'plain.db'}"
    else:  # the same fresh schema again
        import psycopg

        from tests.conftest import PG_URL

        schema = db_url.rsplit("%3D", 1)[1]
        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = db_url
    plain = run(url)
    assert repository.Prepared.available is False
    monkeypatch.setattr(repository.Prepared, "_for", original)
    assert plain == prepared
