"""What a service in front of the library needs from it: idempotent intake, idempotency
answered first and scoped per actor, database errors as MediationFlowErrors without personal
data, dates outside the calendar as InvalidData, expiries recorded whichever command comes
first, a JSON form of a case, pool settings."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner

from mediation_flow import (
    Actor,
    CaseNotFound,
    Engine,
    IdempotencyConflict,
    IllegalTransition,
    InvalidData,
    InvalidIntake,
    MediationFlowError,
    Role,
)
from mediation_flow.cli import main
from mediation_flow.logging import configure_json_logging
from tests.conftest import at, make_intake

DAY = at(2025, 3, 3)
OFFICER = Actor("officer-1", Role.intake_officer)
UNION = {"org_id": "芙蓉区总工会", "org_type": "union_org"}
COMMITTEE = {
    "org_id": "长沙某建筑工程有限公司劳动争议调解委员会",
    "org_type": "enterprise_committee",
}


# --- idempotent intake -----------------------------------------------------------------------


def test_a_retried_intake_opens_one_case(db_url: str) -> None:
    with Engine(db_url) as engine:
        first = engine.open_case(make_intake(), at=DAY, actor=OFFICER, idempotency_key="in-1")
        engine.fire(first.id, "refer_to_negotiation", at=at(2025, 3, 4))
        # The answer was lost; the retry comes a day later, on a case that has moved on.
        again = engine.open_case(
            make_intake(), at=at(2025, 3, 5), actor=OFFICER, idempotency_key="in-1"
        )
        assert again == first
        assert len(engine.cases()) == 1
        with pytest.raises(IdempotencyConflict, match="in-1"):
            engine.open_case(
                make_intake(region="430103"), at=DAY, actor=OFFICER, idempotency_key="in-1"
            )
        assert len(engine.cases()) == 1


def test_the_stored_result_comes_before_the_clock_check(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    first = engine.fire(
        case.id, "refer_to_union_mediation", data=UNION, at=at(2025, 3, 4), idempotency_key="k"
    )
    # A retry that carries the original's (earlier) moment, after the case moved on: the
    # stored result, not "commands are recorded in order".
    again = engine.fire(
        case.id, "refer_to_union_mediation", data=UNION, at=at(2025, 3, 3), idempotency_key="k"
    )
    assert again == first
    with pytest.raises(InvalidData, match="recorded in order"):
        engine.fire(case.id, "withdraw", at=at(2025, 3, 3))


def test_idempotency_keys_are_scoped_per_actor(engine: Engine) -> None:
    one = engine.open_case(make_intake(), at=DAY, actor=OFFICER, idempotency_key="retry-1")
    other = Actor("officer-2", Role.intake_officer)
    two = engine.open_case(make_intake(), at=DAY, actor=other, idempotency_key="retry-1")
    assert one.id != two.id
    a = engine.fire(one.id, "refer_to_negotiation", actor=OFFICER, idempotency_key="f", at=DAY)
    b = engine.fire(two.id, "refer_to_negotiation", actor=other, idempotency_key="f", at=DAY)
    assert (a.id, b.id) == (one.id, two.id)
    assert a.version == b.version == 2


# --- database errors ---------------------------------------------------------------------------


def test_values_the_database_refuses_are_clear_errors_without_personal_data(db_url: str) -> None:
    buffer = io.StringIO()
    configure_json_logging(buffer)
    try:
        with Engine(db_url) as engine:
            case = engine.open_case(make_intake(), at=DAY)
            with pytest.raises(InvalidData, match=r"actor\.id"):
                engine.fire(case.id, "withdraw", actor=Actor("x" * 129, Role.intake_officer))
            with pytest.raises(CaseNotFound):
                engine.get(2**31)
            with pytest.raises(CaseNotFound):
                engine.fire(2**31, "withdraw", at=DAY)
            intake = make_intake()
            intake["parties"][0]["name"] = "张三\x00"
            with pytest.raises(MediationFlowError) as info:
                engine.open_case(intake, at=DAY)
            assert isinstance(info.value, InvalidData | InvalidIntake)
            assert "张三" not in str(info.value)
            assert "13800138000" not in str(info.value)
            with pytest.raises(MediationFlowError) as info:
                engine.fire(case.id, "refer_to_negotiation", data={"note": "a\x00b"}, at=DAY)
            assert engine.get(case.id).version == 1
    finally:
        structlog.reset_defaults()
    assert "430102199001011238" not in buffer.getvalue()


def test_an_unreachable_database_is_database_unavailable() -> None:
    from mediation_flow import DatabaseUnavailable

    with pytest.raises(DatabaseUnavailable) as info:
        Engine("postgresql://nobody@127.0.0.1:1/none", create_schema=False)
    assert info.value.kind == "connection"


# --- the calendar's range ----------------------------------------------------------------------


@pytest.mark.parametrize("day", ["1990-01-01", "2150-06-01"])
def test_dates_outside_the_calendar_are_invalid_data(engine: Engine, day: str) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    with pytest.raises(InvalidData, match="outside the working-day calendar"):
        engine.fire(case.id, "refer_to_union_mediation", data={**UNION, "received_on": day})
    assert engine.get(case.id).version == 1


# --- expiries whichever command comes first --------------------------------------------------


def _triggers(engine: Engine, case_id: int) -> list[str]:
    return [e.trigger for e in engine.history(case_id)]


def test_a_late_command_records_the_expiries_first_as_a_tick_would(tmp_path: Path) -> None:
    """An enterprise committee accepts mediation after its 3-working-day decision window: the
    window's expiry is in the history before the acceptance, whether a tick ran or not."""
    late = at(2025, 3, 12)
    histories = []
    for ticked in (True, False):
        with Engine(f"sqlite:///{tmp_path / f'{ticked}.db'}") as engine:
            case = engine.open_case(make_intake(), at=DAY)
            engine.fire(case.id, "refer_to_union_mediation", data=COMMITTEE, at=DAY)
            if ticked:
                engine.tick(late)
            engine.fire(case.id, "accept_mediation", at=late)
            histories.append(_triggers(engine, case.id))
            expiry = engine.history(case.id)[-2]
            assert expiry.data["expired_deadline"]["kind"] == "mediation_acceptance"
            assert (expiry.actor_id, expiry.at) == ("system", late)
    assert histories[0] == histories[1]


def test_an_expiry_that_moves_the_case_decides_the_late_command(tmp_path: Path) -> None:
    """A negotiation unanswered for 5 days fails by itself (ENMP 10): a late acceptance is
    refused whether or not a tick ran first; the failure is recorded either way."""
    late = at(2025, 3, 20)
    for ticked in (True, False):
        with Engine(f"sqlite:///{tmp_path / f'{ticked}.db'}") as engine:
            case = engine.open_case(make_intake(), at=DAY)
            engine.fire(case.id, "refer_to_negotiation", at=DAY)
            if ticked:
                engine.tick(late)
            with pytest.raises(IllegalTransition):
                engine.fire(case.id, "accept_negotiation", at=late)
            assert _triggers(engine, case.id) == [
                "open_case",
                "refer_to_negotiation",
                "fail_negotiation",
            ]


# --- JSON form, pool, CLI ---------------------------------------------------------------------


def test_the_json_form_of_a_case(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    data = case.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["state"] == "received" and data["serial"] == case.serial
    assert data["parties"][0]["id_number"] != "430102199001011238"
    assert data["claims"] == [{"kind": "wages", "amount": "18000.00"}]
    assert case.to_json(clear_text=True)["parties"][0]["id_number"] == "430102199001011238"
    exported = engine.export(case.id)
    assert exported["case"]["serial"] == case.serial
    assert [e["trigger"] for e in exported["history"]] == ["open_case"]


@pytest.mark.postgres
def test_pool_settings_reach_the_pool(pg_url: str) -> None:
    with Engine(pg_url, pool_size=3, max_overflow=2, pool_timeout=7, pool_recycle=600) as eng:
        pool: Any = eng._store.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (3, 2, 7, 600)


def test_the_cli_takes_pool_and_calendar_options(tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.json"
    calendar.write_text(
        json.dumps({"makeup_days_are_rest_days": True, "regional_rest_days": {"45": []}})
    )
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["--db", db, "--calendar", str(calendar), "--busy-timeout", "2", "--pool-size", "2",
         "--pool-recycle", "300", "tick", "--at", "2025-03-03T09:00:00+08:00"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "0 expiries applied" in result.output
    calendar.write_text(json.dumps({"schedules": {"2027": "no"}}))
    result = runner.invoke(main, ["--db", db, "--calendar", str(calendar), "tick"])
    assert result.exit_code == 1 and "schedules.2027" in result.output
