"""tick in batches: many expiries per transaction, a constant number of statements per batch,
each expiry once; a failing expiry rolls its batch back and the others still happen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from mediation_flow import Engine, InvalidData
from mediation_flow.models import DeadlineStatus
from tests.conftest import at, make_intake

OPENED = at(2025, 3, 3)
# negotiation_answer: 5 cd from Mon 03-03 is Sat 03-08, rolled over to Mon 03-10.
AFTER_DUE = at(2025, 3, 11, 0, 1)


def awaiting_answers(engine: Engine, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        case = engine.open_case(make_intake(), at=OPENED)
        engine.fire(case.id, "refer_to_negotiation", at=OPENED)
        ids.append(case.id)
    return ids


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = Engine(db_url, entry_points=False, early_warning=[])
    yield eng
    eng.close()


def test_a_batch_of_expiries_costs_a_constant_number_of_statements(engine: Engine) -> None:
    ids = awaiting_answers(engine, 12)
    sent: list[str] = []

    def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.split(None, 1)[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            sent.append(statement)

    event.listen(engine._store.engine, "before_cursor_execute", _count)
    try:
        events = engine.tick(AFTER_DUE, batch=50)
    finally:
        event.remove(engine._store.engine, "before_cursor_execute", _count)
    assert sorted(e.case_id for e in events) == ids
    assert {e.trigger for e in events} == {"fail_negotiation"}
    # The early-warning rules of tick, then per batch: claim, cases with their deadlines,
    # cases, events, deadlines; and one claim that finds nothing more.
    batch = [s for s in sent if "mf_deadline" in s or "mf_event" in s or "UPDATE mf_case" in s]
    assert len(batch) <= 6, batch
    for case_id in ids:
        case = engine.get(case_id)
        assert (case.state, case.version) == ("negotiation_failed", 3)
        assert [e.seq for e in engine.history(case_id)] == [1, 2, 3]
    assert engine.tick(AFTER_DUE) == []


def test_small_batches_apply_every_expiry_once(engine: Engine) -> None:
    ids = awaiting_answers(engine, 7)
    events = engine.tick(AFTER_DUE, batch=3)
    assert sorted(e.case_id for e in events) == ids
    assert engine.due(AFTER_DUE) == []
    for case_id in ids:
        assert engine.verify(case_id).ok


def test_a_failing_expiry_rolls_back_its_batch_and_the_others_still_happen(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = awaiting_answers(engine, 5)
    poisoned = ids[2]
    original = engine._prepare_expiry

    def prepare(conn: Any, deadline_id: int, case_id: int, *args: Any, **kw: Any) -> Any:
        if case_id == poisoned:
            raise RuntimeError("the regional calendar service is down")
        return original(conn, deadline_id, case_id, *args, **kw)

    monkeypatch.setattr(engine, "_prepare_expiry", prepare)
    with pytest.raises(RuntimeError, match="calendar service"):
        engine.tick(AFTER_DUE, batch=10)
    # The batch was rolled back, then applied one expiry per transaction up to the failure.
    states = [engine.get(i).state for i in ids]
    assert states == ["negotiation_failed"] * 2 + ["negotiation"] * 3
    monkeypatch.undo()
    events = engine.tick(AFTER_DUE, batch=10)
    assert sorted(e.case_id for e in events) == ids[2:]
    for case_id in ids:
        (answer,) = engine.deadlines(case_id)
        assert answer.status == DeadlineStatus.expired
        assert len([e for e in engine.history(case_id) if e.trigger == "fail_negotiation"]) == 1


def test_a_batch_size_must_be_a_positive_whole_number(engine: Engine) -> None:
    for bad in (0, -1, True, 2.5):
        with pytest.raises(InvalidData, match="batch"):
            engine.tick(AFTER_DUE, batch=bad)  # type: ignore[arg-type]
