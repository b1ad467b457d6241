"""The engine's public API: intake, reading, flows it knows, time, logging, errors."""

from __future__ import annotations

import io
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

import mediation_flow
from mediation_flow import (
    Actor,
    CaseNotFound,
    ConcurrentUpdate,
    Engine,
    InvalidData,
    InvalidIntake,
    MediationFlowError,
    Role,
    UnknownFlow,
    national_flow,
    retry_on_conflict,
)
from mediation_flow.flow import StateDef, TransitionDef
from tests.conftest import at, make_intake

DAY = at(2025, 3, 3)


def count_cases(engine: Engine) -> int:
    with engine._store.connect() as conn, engine._store.reading(conn):
        return engine._store.count_cases(conn)


# --- intake -------------------------------------------------------------------------------------


def test_open_case_stores_parties_claims_and_dates(engine: Engine) -> None:
    case = engine.open_case(make_intake(worker_count=12, is_migrant_worker=True), at=DAY)
    # Twelve migrant workers claiming wages: a collective case, flagged by early warning.
    assert case.state == "received" and case.version == 2
    assert case.state_label == "已登记（一站式受理）"
    assert [p.name for p in case.parties] == ["张三", "长沙某建筑工程有限公司"]
    assert case.claims[0].amount == Decimal("18000.00")
    assert case.received_on == DAY.date()
    assert case.is_collective and case.is_migrant_worker
    assert case.opened_at == DAY
    opened, alert = engine.history(case.id)
    assert (opened.seq, opened.trigger, opened.dest) == (1, "open_case", "received")
    assert (alert.seq, alert.trigger, alert.data["rule"]) == (2, "early_warning", "collective_case")
    assert engine.get(case.id) == case


def test_an_intake_model_works_like_a_dict(engine: Engine) -> None:
    intake = mediation_flow.Intake.model_validate(make_intake())
    assert engine.open_case(intake, at=DAY).region == "430102"


def test_intake_attributes_are_kept_apart(engine: Engine) -> None:
    case = engine.open_case(make_intake(attributes={"award_before_suit": True}), at=DAY)
    assert case.attributes["intake"] == {"award_before_suit": True}
    assert "award_before_suit" not in {k for k in case.attributes if k != "intake"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"claims": [{"kind": "bonus", "amount": "1"}]}, "claims[0].kind"),
        ({"claims": [{"kind": "wages", "amount": "-5"}]}, "claims[0].amount"),
        ({"claims": []}, "claims"),
        ({"region": "4301"}, "region"),
        ({"region": "990101"}, "region"),
        ({"parties": [{"kind": "employer", "role": "respondent", "name": "某公司"}]}, "parties"),
        ({"parties": [{"kind": "worker", "role": "applicant", "name": "张三"}]}, "parties"),
        (
            {
                "parties": [
                    {"kind": "worker", "role": "applicant", "name": "  "},
                    {"kind": "employer", "role": "respondent", "name": "某公司"},
                ]
            },
            "parties[0].name",
        ),
        ({"knew_of_infringement_on": "2025-13-01"}, "knew_of_infringement_on"),
        ({"knew_of_infringement_on": "2025-03-04"}, "knew_of_infringement_on"),
        ({"received_on": "2025-03-04"}, "received_on"),
        ({"worker_count": 0}, "worker_count"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_intake_names_the_field_and_stores_nothing(
    engine: Engine, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidIntake) as info:
        engine.open_case(make_intake(**overrides), at=DAY)
    assert info.value.field == field
    assert field in str(info.value)
    assert count_cases(engine) == 0


def test_intake_must_be_a_mapping(engine: Engine) -> None:
    with pytest.raises(InvalidIntake, match="expected an Intake or a dict"):
        engine.open_case(["not", "a", "dict"], at=DAY)  # type: ignore[arg-type]


# --- reading ------------------------------------------------------------------------------------


def test_unknown_case_ids_raise_case_not_found(engine: Engine) -> None:
    for call in (engine.get, engine.history, engine.deadlines, engine.triggers):
        with pytest.raises(CaseNotFound, match="case 404 not found"):
            call(404)
    with pytest.raises(CaseNotFound):
        engine.fire(404, "withdraw")


def test_errors_share_one_base_class() -> None:
    for name in mediation_flow.__all__:
        obj = getattr(mediation_flow, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, MediationFlowError), name


def test_case_repr_hides_identity_numbers_and_phones(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    assert "430102199001011238" not in repr(case)
    assert "13800138000" not in repr(case)


# --- time ---------------------------------------------------------------------------------------


def test_time_comes_from_the_clock_when_not_given() -> None:
    engine = Engine("sqlite://", clock=lambda: at(2025, 6, 2, 10))
    case = engine.open_case(make_intake())
    assert case.received_on.isoformat() == "2025-06-02"
    case = engine.fire(case.id, "refer_to_peoples_mediation", data={"org_id": "P"})
    assert engine.history(case.id)[-1].at == at(2025, 6, 2, 10)


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    with pytest.raises(InvalidData, match="timezone-aware"):
        engine.fire(case.id, "withdraw", at=datetime(2025, 3, 3, 9))


def test_a_utc_moment_counts_on_the_day_in_china(engine: Engine) -> None:
    # 2025-03-02 17:00 UTC is already 2025-03-03 01:00 in Shanghai.
    from datetime import UTC

    case = engine.open_case(make_intake(), at=datetime(2025, 3, 2, 17, tzinfo=UTC))
    assert case.received_on.isoformat() == "2025-03-03"


# --- flows --------------------------------------------------------------------------------------


def _regional_flow() -> mediation_flow.FlowDefinition:
    return national_flow().extend(
        name="test-region",
        plugin="test",
        states=[StateDef("park_mediation", "园区调解中", "park mediation")],
        transitions=[
            TransitionDef(
                "refer_to_park", ("received",), "park_mediation", "转园区调解", "refer to the park"
            ),
            TransitionDef(
                "withdraw",
                ("park_mediation",),
                "closed",
                "撤回",
                "withdraw",
                resolution=mediation_flow.Resolution.withdrawn,
            ),
        ],
    )


def test_a_case_runs_under_the_flow_it_was_opened_under(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'flows.db'}"
    with Engine(url, flow=_regional_flow()) as regional:
        case = regional.open_case(make_intake(), at=DAY)
        assert regional.fire(case.id, "refer_to_park", at=DAY).state == "park_mediation"
    with Engine(url) as national:
        with pytest.raises(UnknownFlow, match="which this engine does not know") as info:
            national.fire(case.id, "withdraw", data={"by": "worker"}, at=DAY)
        assert info.value.case_id == case.id
        assert national.get(case.id).state == "park_mediation"  # reading still works
    with Engine(url, flows=[_regional_flow()]) as both:
        assert both.fire(case.id, "withdraw", data={"by": "worker"}, at=DAY).state == "closed"


def test_a_flow_naming_an_unknown_guard_is_refused() -> None:
    bad = national_flow().extend(
        transitions=[
            TransitionDef("x", ("received",), "closed", "x", "x", guards=("no_such_guard",))
        ]
    )
    with pytest.raises(mediation_flow.FlowDefinitionError, match="no_such_guard"):
        Engine("sqlite://", flow=bad)


def test_a_flow_naming_an_unknown_state_is_refused() -> None:
    with pytest.raises(mediation_flow.FlowDefinitionError, match="unknown state 'nowhere'"):
        national_flow().extend(transitions=[TransitionDef("x", ("received",), "nowhere", "x", "x")])


# --- optimistic locking and retries -------------------------------------------------------------


def test_expected_version_refuses_a_stale_command(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    engine.fire(case.id, "refer_to_negotiation", at=DAY, expected_version=1)
    with pytest.raises(ConcurrentUpdate, match="expected version 1, now at version 2"):
        engine.fire(case.id, "fail_negotiation", at=DAY, expected_version=1)
    assert engine.get(case.id).state == "negotiation"


def test_retry_on_conflict_retries_a_bounded_number_of_times() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentUpdate(1, 1, 2)
        return "done"

    assert retry_on_conflict(flaky, attempts=3) == "done"
    calls.clear()
    with pytest.raises(ConcurrentUpdate):
        retry_on_conflict(flaky, attempts=2)
    assert len(calls) == 2


# --- logging ------------------------------------------------------------------------------------


def test_every_fired_trigger_logs_one_structured_event(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    officer = Actor("officer-7", Role.intake_officer)
    with capture_logs() as logs:
        engine.fire(
            case.id, "refer_to_peoples_mediation", data={"org_id": "P"}, at=DAY, actor=officer
        )
    (entry,) = [e for e in logs if e["event"] == "transition"]
    assert entry["case_id"] == case.id
    assert (entry["trigger"], entry["source"], entry["dest"]) == (
        "refer_to_peoples_mediation",
        "received",
        "peoples_mediation",
    )
    assert (entry["actor_id"], entry["actor_role"]) == ("officer-7", "intake_officer")
    assert entry["duration_ms"] >= 0
    assert entry["log_level"] == "info"


def test_importing_the_library_does_not_configure_logging() -> None:
    import importlib

    structlog.reset_defaults()
    before = structlog.get_config()
    importlib.reload(mediation_flow.logging)
    assert structlog.get_config() == before


def test_configure_json_logging_writes_json_lines(engine: Engine) -> None:
    stream = io.StringIO()
    try:
        mediation_flow.configure_json_logging(stream)
        case = engine.open_case(make_intake(), at=DAY)
        engine.fire(case.id, "withdraw", data={"by": "worker"}, at=DAY)
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["case_opened", "transition"]
    assert lines[1]["trigger"] == "withdraw" and lines[1]["level"] == "info"


def test_commands_on_a_case_are_recorded_in_order(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=at(2025, 3, 5))
    with pytest.raises(InvalidData, match="before the case's last event"):
        engine.fire(case.id, "refer_to_negotiation", at=at(2025, 3, 4))
    # A past act is dated by its data instead.
    engine.fire(
        case.id,
        "apply_arbitration",
        at=at(2025, 3, 6),
        data={"by": "worker", "received_on": "2025-03-04"},
    )
    (acceptance,) = engine.deadlines(case.id)
    assert acceptance.starts_on.isoformat() == "2025-03-04"


def test_bad_arguments_are_refused_clearly(engine: Engine) -> None:
    with pytest.raises(InvalidIntake, match="attributes: values must be JSON"):
        engine.open_case(make_intake(attributes={"tags": {1, 2}}), at=DAY)
    for bad_id in (10**30, -1, "7"):
        with pytest.raises(CaseNotFound):
            engine.get(bad_id)  # type: ignore[arg-type]
    from datetime import date as day

    with pytest.raises(InvalidData, match="is after until"):
        engine.report(since=day(2025, 5, 1), until=day(2025, 1, 1), at=DAY)
    with pytest.raises(InvalidData, match="expected a date"):
        engine.report(since="2025-01-01", at=DAY)  # type: ignore[arg-type]
