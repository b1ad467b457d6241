"""Idempotency keys: a retried command applies once and returns the same result; a key reused
for another command is refused with nothing written."""

from __future__ import annotations

import threading

import pytest

from mediation_flow import Actor, Engine, IdempotencyConflict, InvalidData, Role
from tests.conftest import at, make_intake

DAY = at(2025, 3, 3)
OFFICER = Actor("officer-1", Role.intake_officer)


def test_a_retry_applies_once_and_returns_the_same_result(db_url: str) -> None:
    with Engine(db_url) as engine:
        case = engine.open_case(make_intake(), at=DAY)
        data = {"org_id": "芙蓉区总工会", "org_type": "union_org"}
        first = engine.fire(
            case.id,
            "refer_to_union_mediation",
            data=data,
            at=DAY,
            actor=OFFICER,
            idempotency_key="req-7f3a",
        )
        # The network dropped the answer; the host retries later with the same key.
        again = engine.fire(
            case.id,
            "refer_to_union_mediation",
            data=data,
            at=at(2025, 3, 4),
            actor=OFFICER,
            idempotency_key="req-7f3a",
        )
        assert again == first
        assert engine.get(case.id).version == 2
        assert [e.trigger for e in engine.history(case.id)] == [
            "open_case",
            "refer_to_union_mediation",
        ]
        assert len(engine.deadlines(case.id)) == 1
        # Later commands do not change what the retry returns.
        mediator = Actor("mediator-2", Role.union_mediator, org_id="芙蓉区总工会")
        engine.fire(case.id, "accept_mediation", at=at(2025, 3, 5), actor=mediator)
        assert (
            engine.fire(
                case.id,
                "refer_to_union_mediation",
                data=data,
                at=at(2025, 3, 6),
                actor=OFFICER,
                idempotency_key="req-7f3a",
            )
            == first
        )


def test_a_key_reused_for_another_command_is_refused(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    engine.fire(case.id, "refer_to_negotiation", at=DAY, idempotency_key="k1")
    with pytest.raises(IdempotencyConflict, match="'k1' was already used for a different") as info:
        engine.fire(case.id, "withdraw", data={"by": "worker"}, at=DAY, idempotency_key="k1")
    assert info.value.case_id == case.id
    other = engine.open_case(make_intake(), at=DAY)
    with pytest.raises(IdempotencyConflict):
        engine.fire(other.id, "refer_to_negotiation", at=DAY, idempotency_key="k1")
    assert engine.get(case.id).state == "negotiation"
    assert engine.get(other.id).version == 1


def test_a_refused_command_does_not_use_up_its_key(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    with pytest.raises(InvalidData):
        engine.fire(
            case.id,
            "refer_to_union_mediation",
            data={"org_type": "x"},
            at=DAY,
            idempotency_key="k2",
        )
    fixed = engine.fire(
        case.id,
        "refer_to_union_mediation",
        data={"org_type": "union_org"},
        at=DAY,
        idempotency_key="k3",
    )
    assert fixed.state == "union_mediation"


def test_two_retries_at_once_apply_once(db_url: str) -> None:
    with Engine(db_url) as engine:
        case = engine.open_case(make_intake(), at=DAY)
    engines = [Engine(db_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def retry(i: int) -> None:
        barrier.wait(timeout=10)
        try:
            results[i] = engines[i].fire(
                case.id, "apply_arbitration", data={"by": "worker"}, at=DAY, idempotency_key="dup"
            )
        except Exception as exc:  # asserted below
            results[i] = exc

    threads = [threading.Thread(target=retry, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for eng in engines:
        eng.close()
    assert not any(isinstance(r, Exception) for r in results), results
    assert results[0] == results[1]
    with Engine(db_url) as engine:
        assert [e.trigger for e in engine.history(case.id)] == ["open_case", "apply_arbitration"]


def test_a_key_must_be_a_short_string(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    with pytest.raises(InvalidData, match="idempotency_key"):
        engine.fire(case.id, "refer_to_negotiation", at=DAY, idempotency_key="x" * 201)
