"""The tamper-evident history: an untouched case verifies; editing, deleting, inserting or
reordering events, or editing the parties or the state behind the engine's back, is reported with
the case and the event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from mediation_flow import Engine
from mediation_flow.cli import main
from tests.conftest import at, make_intake


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    with Engine(db_url) as eng:
        yield eng


def a_case(engine: Engine) -> int:
    case = engine.open_case(make_intake(), at=at(2025, 3, 3))
    engine.fire(case.id, "refer_to_negotiation", at=at(2025, 3, 3))
    engine.tick(at(2025, 3, 11, 0, 1))  # fail_negotiation by expiry
    engine.fire(
        case.id, "refer_to_peoples_mediation", data={"org_id": "街道调委会"}, at=at(2025, 3, 12)
    )
    engine.fire(case.id, "sign_agreement", data={"effective_on": "2025-03-20"}, at=at(2025, 3, 20))
    assert engine.get(case.id).version == 5
    return case.id


def sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine._store.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_an_untouched_case_verifies(engine: Engine) -> None:
    case_id = a_case(engine)
    assert engine.verify(case_id).ok
    assert engine.verify_all() == []
    history = engine.history(case_id)
    assert all(e.hash and len(e.hash) == 64 for e in history)
    assert len({e.hash for e in history}) == len(history)


def test_editing_one_event_names_the_case_and_the_event(engine: Engine) -> None:
    case_id = a_case(engine)
    other = a_case(engine)
    sql(
        engine,
        "UPDATE mf_event SET data = :d WHERE case_id = :c AND seq = 4",
        d='{"org_id": "另一个调委会"}',
        c=case_id,
    )
    result = engine.verify(case_id)
    assert not result.ok
    assert result.case_id == case_id
    assert any(
        p.startswith("event 4 (refer_to_peoples_mediation): hash mismatch") for p in result.problems
    )
    assert [v.case_id for v in engine.verify_all()] == [case_id]
    assert engine.verify(other).ok


def test_deleting_an_event_is_reported(engine: Engine) -> None:
    case_id = a_case(engine)
    sql(engine, "DELETE FROM mf_event WHERE case_id = :c AND seq = 3", c=case_id)
    problems = engine.verify(case_id).problems
    assert any("sequence number 4, expected 3" in p for p in problems)
    assert any(p.startswith("event 4 (") and "hash mismatch" in p for p in problems)


def test_deleting_the_last_event_is_reported(engine: Engine) -> None:
    case_id = a_case(engine)
    sql(engine, "DELETE FROM mf_event WHERE case_id = :c AND seq = 5", c=case_id)
    problems = engine.verify(case_id).problems
    assert any("chain head does not match its last event 4" in p for p in problems)
    assert any("stored state 'agreement_in_performance'" in p for p in problems)


def test_reordering_events_is_reported(engine: Engine) -> None:
    case_id = a_case(engine)
    sql(engine, "UPDATE mf_event SET seq = 99 WHERE case_id = :c AND seq = 2", c=case_id)
    sql(engine, "UPDATE mf_event SET seq = 2 WHERE case_id = :c AND seq = 3", c=case_id)
    sql(engine, "UPDATE mf_event SET seq = 3 WHERE case_id = :c AND seq = 99", c=case_id)
    problems = engine.verify(case_id).problems
    assert any(p.startswith("event 2 (") and "hash mismatch" in p for p in problems)


def test_inserting_an_event_is_reported(engine: Engine) -> None:
    case_id = a_case(engine)
    sql(
        engine,
        "INSERT INTO mf_event (case_id, seq, trigger, source, dest, actor_id, "
        "actor_role, at, data, warnings, hash) VALUES (:c, 6, 'withdraw', "
        "'agreement_in_performance', 'closed', 'x', 'worker', :at, '{}', '[]', :h)",
        c=case_id,
        at=at(2025, 3, 21),
        h="0" * 64,
    )
    problems = engine.verify(case_id).problems
    assert any(p.startswith("event 6 (withdraw): hash mismatch") for p in problems)
    assert any("chain head" in p for p in problems)


def test_editing_a_party_after_intake_is_reported(engine: Engine) -> None:
    case_id = a_case(engine)
    sql(engine, "UPDATE mf_party SET name = '李四' WHERE case_id = :c AND position = 0", c=case_id)
    assert engine.verify(case_id).problems == [
        "the parties or claims differ from those recorded at intake (event 1)"
    ]


def test_a_state_edited_behind_the_engine_is_reported(engine: Engine) -> None:
    case_id = a_case(engine)
    sql(engine, "UPDATE mf_case SET state = 'closed' WHERE id = :c", c=case_id)
    assert engine.verify(case_id).problems == [
        "the stored state 'closed' is not the state the history leads to "
        "('agreement_in_performance')"
    ]


def test_verify_command(db_url: str) -> None:
    with Engine(db_url) as engine:
        good, bad = a_case(engine), a_case(engine)
        sql(
            engine, "UPDATE mf_event SET actor_id = 'someone' WHERE case_id = :c AND seq = 2", c=bad
        )
    runner = CliRunner()
    ok = runner.invoke(main, ["--db", db_url, "verify", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "every case verified" in ok.output
    failed = runner.invoke(main, ["--db", db_url, "verify", "--all"])
    assert failed.exit_code == 1
    assert f"case {bad}: event 2 (refer_to_negotiation): hash mismatch" in failed.output
    assert f"case {good}:" not in failed.output
