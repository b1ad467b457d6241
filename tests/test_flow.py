"""The flow against flow.md: every state and trigger, every legal edge, every illegal pair, every
guard. Cases run on an in-memory engine on 2025-03-03 (a Monday)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mediation_flow import (
    Channel,
    Engine,
    GuardFailed,
    IllegalTransition,
    InvalidData,
    national_flow,
)
from mediation_flow.flow.compiler import compile_flow
from tests.conftest import at, make_intake
from tests.flowspec import ALL_TRIGGERS, AUTOMATIC_EDGES, EDGES, PATHS, legal_pairs

DAY = at(2025, 3, 3)


@pytest.fixture(scope="module")
def eng() -> Iterator[Engine]:
    engine = Engine("sqlite://", clock=lambda: DAY)
    yield engine
    engine.close()


def case_in(eng: Engine, state: str, **intake: Any) -> int:
    case = eng.open_case(make_intake(**intake), at=DAY)
    for trigger, data in PATHS[state]:
        case = eng.fire(case.id, trigger, data=data, at=DAY)
    assert case.state == state
    return case.id


def snapshot(eng: Engine, case_id: int) -> tuple[Any, ...]:
    case = eng.get(case_id)
    return case.state, case.version, len(eng.history(case_id)), eng.deadlines(case_id)


# --- names --------------------------------------------------------------------------------------


def test_every_state_of_flow_md_exists_with_its_label_and_channel() -> None:
    flow = national_flow()
    assert {s.id for s in flow.states} == set(PATHS)
    channels = {
        "union_mediation": Channel.union,
        "peoples_mediation": Channel.peoples,
        "administrative_mediation": Channel.administrative,
        "arbitration_review": Channel.arbitration,
        "award_final": Channel.arbitration,
        "prefiling_mediation": Channel.judicial,
        "payment_order": Channel.judicial,
        "received": None,
        "enforceable": None,
        "closed": None,
    }
    for state, channel in channels.items():
        assert flow.state(state).channel == channel
    assert flow.state("arbitration_suspended").label_zh == "仲裁中止"
    assert flow.state("award_nonfinal").label_zh == "非终局裁决已作出"
    assert {s.id for s in flow.states if s.terminal} == {"closed", "archived"}


def test_every_trigger_of_flow_md_exists() -> None:
    assert set(national_flow().trigger_names) == set(ALL_TRIGGERS)


def test_every_deadline_kind_of_flow_md_exists() -> None:
    kinds = {d.id for d in national_flow().deadline_kinds}
    assert kinds == {
        "negotiation_answer", "negotiation_period", "settlement_performance", "mediation_limit",
        "mediation_acceptance", "agreement_performance", "arbitration_review_window",
        "judicial_confirmation_window", "review_examination", "confirmation_decision",
        "payment_order_objection", "arbitration_acceptance", "defence_due", "award_limit",
        "arbitration_mediation_limit", "suit_window", "revocation_window",
        "prefiling_mediation_limit", "judicial_mediation_limit", "appeal_window",
        "enforcement_window", "application_copy_service", "counterclaim_decision",
        "tribunal_notice", "collective_notice", "postponement_request",
        "nonenforcement_suit_window", "litigation_refusal_window",
    }  # fmt: skip


def test_the_engine_defines_exactly_the_edges_of_flow_md() -> None:
    compiled = compile_flow(national_flow())
    defined = {(state, trigger) for state in PATHS for trigger in compiled.legal_triggers(state)}
    assert defined == legal_pairs()


def test_the_flow_has_a_stable_fingerprint() -> None:
    assert national_flow().fingerprint == national_flow().fingerprint
    assert len(national_flow().fingerprint) == 64
    bigger = national_flow().extend(name="national+", plugin="test")
    assert bigger.fingerprint != national_flow().fingerprint


# --- legal edges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "source", "data", "dest"),
    EDGES,
    ids=[f"{src}-{trig}-{dest}" for trig, src, _, dest in EDGES],
)
def test_legal_edge(
    eng: Engine, trigger: str, source: str, data: dict[str, Any], dest: str
) -> None:
    case_id = case_in(eng, source)
    before = eng.get(case_id).version
    case = eng.fire(case_id, trigger, data=data, at=DAY)
    assert case.state == dest
    assert case.version == before + 1
    last = eng.history(case_id)[-1]
    assert (last.trigger, last.source, last.dest, last.seq) == (trigger, source, dest, before + 1)


def test_uphold_objection_on_a_wage_payment_order_goes_to_arbitration(eng: Engine) -> None:
    # LDI-1 13 ¶2: a payment order under LCL 30 (wages, no agreement) falls back to arbitration.
    case_id = case_in(eng, "received")
    eng.fire(case_id, "apply_payment_order", data={"by": "worker"}, at=DAY)
    assert eng.fire(case_id, "uphold_objection", at=DAY).state == "arbitration_received"


def test_withdrawing_a_suit_without_a_prior_award_closes_the_case(eng: Engine) -> None:
    case_id = case_in(eng, "arbitration_not_accepted")
    eng.fire(case_id, "file_lawsuit", data={"by": "worker"}, at=DAY)
    case = eng.fire(case_id, "withdraw_lawsuit", data={"by": "worker"}, at=DAY)
    assert (case.state, case.resolution) == ("closed", "withdrawn")


@pytest.mark.parametrize(
    ("trigger", "state", "resolution"),
    [
        ("confirm_performance", "settlement_in_performance", "performed"),
        ("withdraw", "received", "withdrawn"),
        ("reject_out_of_scope", "received", "out_of_scope"),
        ("complete_enforcement", "enforcement", "enforced"),
    ],
)
def test_closing_records_the_resolution(
    eng: Engine, trigger: str, state: str, resolution: str
) -> None:
    case_id = case_in(eng, state)
    data = {"by": "worker"} if trigger == "withdraw" else {}
    case = eng.fire(case_id, trigger, data=data, at=DAY)
    assert (case.state, case.resolution) == ("closed", resolution)
    assert eng.fire(case_id, "archive", at=DAY).resolution == resolution


def test_award_finality_is_decided_per_item_on_the_awarded_amount(eng: Engine) -> None:
    # LDMAL 47: 23,160 (12 x 1,930) is still final; a labour-relationship item never is.
    case_id = case_in(eng, "arbitration")
    case = eng.fire(
        case_id,
        "issue_award",
        at=DAY,
        data={
            "items": [
                {"kind": "wages", "amount": "23160"},
                {"kind": "social_insurance", "amount": "99999"},
            ],
            "monthly_minimum_wage": "1930",
        },
    )
    assert case.state == "award_final"
    assert [i["final"] for i in case.attributes["award_items"]] == [True, True]
    other = case_in(eng, "arbitration")
    case = eng.fire(
        other,
        "issue_award",
        at=DAY,
        data={
            "items": [
                {"kind": "wages", "amount": "100"},
                {"kind": "labour_relationship", "amount": "0"},
            ],
            "monthly_minimum_wage": "1930",
        },
    )
    assert case.state == "award_nonfinal"
    assert [i["final"] for i in case.attributes["award_items"]] == [True, False]


def test_an_award_with_money_items_needs_the_minimum_wage(eng: Engine) -> None:
    case_id = case_in(eng, "arbitration")
    before = snapshot(eng, case_id)
    with pytest.raises(InvalidData, match="monthly_minimum_wage"):
        eng.fire(
            case_id, "issue_award", at=DAY, data={"items": [{"kind": "wages", "amount": "100"}]}
        )
    assert snapshot(eng, case_id) == before


# --- illegal pairs ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(PATHS))
def test_every_illegal_trigger_is_refused_and_writes_nothing(eng: Engine, state: str) -> None:
    case_id = case_in(eng, state)
    before = snapshot(eng, case_id)
    allowed = {trig for src, trig in legal_pairs() if src == state}
    for trigger in ALL_TRIGGERS:
        if trigger in allowed:
            continue
        with pytest.raises(IllegalTransition) as info:
            eng.fire(case_id, trigger, data={}, at=DAY)
        err = info.value
        assert (err.case_id, err.state, err.trigger) == (case_id, state, trigger)
        assert set(err.legal) == allowed
        assert f"is in {state!r}" in str(err)
    assert snapshot(eng, case_id) == before


def test_an_unknown_trigger_lists_what_is_legal(eng: Engine) -> None:
    case_id = case_in(eng, "mediation_failed")
    with pytest.raises(IllegalTransition, match=r"legal triggers: .*apply_arbitration"):
        eng.fire(case_id, "no_such_trigger", at=DAY)


# --- guards -------------------------------------------------------------------------------------


def refused(
    eng: Engine, case_id: int, trigger: str, data: dict[str, Any], guard: str, when: Any = DAY
) -> GuardFailed:
    before = snapshot(eng, case_id)
    with pytest.raises(GuardFailed) as info:
        eng.fire(case_id, trigger, data=data, at=when)
    assert info.value.guard == guard
    assert guard in str(info.value)
    assert snapshot(eng, case_id) == before
    return info.value


def test_arbitration_review_is_a_joint_application(eng: Engine) -> None:
    case_id = case_in(eng, "agreement_in_performance")
    refused(eng, case_id, "apply_arbitration_review", {"by": "worker"}, "joint_application")
    err = refused(eng, case_id, "apply_arbitration_review", {}, "joint_application")
    assert "data 'by'" in err.reason


def test_arbitration_review_refused_after_its_window(eng: Engine) -> None:
    # Agreement effective Mon 2025-03-03: day 15 is Tue 03-18, a working day.
    case_id = case_in(eng, "agreement_in_performance")
    err = refused(
        eng,
        case_id,
        "apply_arbitration_review",
        {"by": "both"},
        "within:arbitration_review_window",
        when=at(2025, 3, 19),
    )
    assert err.deadline == "arbitration_review_window"
    assert str(err.due) == "2025-03-18"
    assert "2025-03-18" in str(err)


def test_an_agreement_confirming_a_labour_relationship_cannot_be_reviewed(eng: Engine) -> None:
    # AR 75(4).
    case = eng.open_case(make_intake(), at=DAY)
    eng.fire(case.id, "refer_to_peoples_mediation", data={"org_id": "P"}, at=DAY)
    eng.fire(
        case.id,
        "sign_agreement",
        at=DAY,
        data={"effective_on": "2025-03-03", "confirms_labour_relationship": True},
    )
    refused(
        eng,
        case.id,
        "apply_arbitration_review",
        {"by": "both"},
        "agreement_not_on_labour_relationship",
    )
    # Judicial confirmation stays open to it.
    assert (
        eng.fire(case.id, "apply_judicial_confirmation", data={"by": "both"}, at=DAY).state
        == "judicial_confirmation"
    )


def test_a_judicially_confirmed_agreement_cannot_be_reviewed() -> None:
    # AR 75(5). The national flow never returns a confirmed agreement to review, so the guard
    # is checked on its own.
    from mediation_flow.calendar import DEFAULT_CALENDAR
    from mediation_flow.flow.context import Context
    from mediation_flow.flow.guards import check_guard
    from mediation_flow.models import SYSTEM
    from mediation_flow.records import CaseRecord

    record = CaseRecord(
        id=1,
        region="430102",
        state="agreement_in_performance",
        version=3,
        flow_fingerprint="x",
        resolution=None,
        worker_count=1,
        is_migrant_worker=False,
        knew_of_infringement_on=None,
        employment_ended_on=None,
        received_on=DAY.date(),
        limitation_started_on=None,
        limitation_expires_on=None,
        opened_at=DAY,
        updated_at=DAY,
        attributes={"judicially_confirmed": True},
    )
    ctx = Context(
        case=record,
        trigger="apply_arbitration_review",
        data={"by": "both"},
        actor=SYSTEM,
        at=DAY,
        today=DAY.date(),
        deadlines=[],
        flow=national_flow(),
        calendar=DEFAULT_CALENDAR,
        load_claims=tuple,
        load_parties=tuple,
    )
    refusal = check_guard("not_judicially_confirmed", ctx)
    assert refusal is not None and "AR 75(5)" in refusal.reason
    record.attributes = {}
    assert check_guard("not_judicially_confirmed", ctx) is None


def test_judicial_confirmation_is_joint_and_within_30_days(eng: Engine) -> None:
    # Effective Mon 2025-03-03: day 30 is Wed 04-02, a working day.
    case_id = case_in(eng, "agreement_in_performance")
    refused(eng, case_id, "apply_judicial_confirmation", {"by": "employer"}, "joint_application")
    err = refused(
        eng,
        case_id,
        "apply_judicial_confirmation",
        {"by": "both"},
        "within:judicial_confirmation_window",
        when=at(2025, 4, 3),
    )
    assert str(err.due) == "2025-04-02"
    assert (
        eng.fire(
            case_id, "apply_judicial_confirmation", data={"by": "both"}, at=at(2025, 4, 2, 23, 59)
        ).state
        == "judicial_confirmation"
    )


def test_payment_order_on_an_agreement_is_for_the_worker_and_four_claim_kinds(
    eng: Engine,
) -> None:
    # LDMAL 16.
    case_id = case_in(eng, "agreement_breached")
    refused(eng, case_id, "apply_payment_order", {"by": "employer"}, "by:worker")
    other = case_in(
        eng,
        "agreement_breached",
        claims=[{"kind": "wages", "amount": "1000"}, {"kind": "social_insurance", "amount": "500"}],
    )
    err = refused(
        eng,
        other,
        "apply_payment_order",
        {"by": "worker"},
        "claims_only:wages,work_injury_medical,economic_compensation,damages",
    )
    assert "social_insurance" in err.reason


def test_payment_order_at_intake_is_for_wages_only(eng: Engine) -> None:
    # LCL 30.
    case_id = case_in(eng, "received", claims=[{"kind": "economic_compensation", "amount": "1"}])
    refused(eng, case_id, "apply_payment_order", {"by": "worker"}, "claims_only:wages")


def test_suing_on_a_nonfinal_award_after_the_window_is_refused(eng: Engine) -> None:
    # Served Mon 2025-03-03: day 15 is Tue 03-18.
    case_id = case_in(eng, "award_nonfinal")
    err = refused(
        eng, case_id, "file_lawsuit", {"by": "employer"}, "within:suit_window", when=at(2025, 3, 19)
    )
    assert err.deadline == "suit_window"
    refused(eng, case_id, "file_lawsuit", {}, "within:suit_window")


def test_only_the_worker_sues_on_a_final_award(eng: Engine) -> None:
    # LDMAL 48-49: the employer may only petition to revoke.
    case_id = case_in(eng, "award_final")
    refused(eng, case_id, "file_lawsuit", {"by": "employer"}, "by:worker")
    refused(eng, case_id, "apply_revocation", {"by": "worker"}, "by:employer")
    # Employer served 03-03: day 30 is Wed 04-02.
    refused(
        eng,
        case_id,
        "apply_revocation",
        {"by": "employer"},
        "within:revocation_window",
        when=at(2025, 4, 3),
    )


def test_suing_after_a_revoked_award_needs_the_window(eng: Engine) -> None:
    case_id = case_in(eng, "award_revoked")
    refused(
        eng, case_id, "file_lawsuit", {"by": "worker"}, "within:suit_window", when=at(2025, 3, 19)
    )


def test_suing_during_arbitration_needs_the_award_limit_to_have_run_out(eng: Engine) -> None:
    # LDMAL 43: accepted Mon 2025-03-03, day 45 is Thu 04-17.
    case_id = case_in(eng, "arbitration")
    err = refused(
        eng,
        case_id,
        "file_lawsuit",
        {"by": "worker"},
        "expired:award_limit",
        when=at(2025, 4, 17, 23, 59),
    )
    assert str(err.due) == "2025-04-17"
    case = eng.fire(case_id, "file_lawsuit", data={"by": "worker"}, at=at(2025, 4, 18))
    assert case.state == "litigation"


def test_a_direct_suit_on_a_breached_agreement_is_for_wages_only(eng: Engine) -> None:
    # LDI-1 51 ¶2.
    case_id = case_in(eng, "agreement_breached", claims=[{"kind": "damages", "amount": "2000"}])
    refused(eng, case_id, "file_lawsuit", {"by": "worker"}, "claims_only:wages")
    wages = case_in(eng, "agreement_breached")
    refused(eng, wages, "file_lawsuit", {"by": "employer"}, "by:worker")


def test_a_direct_suit_at_intake_needs_a_wage_iou(eng: Engine) -> None:
    # LDI-1 15.
    case_id = case_in(eng, "received")
    refused(eng, case_id, "file_lawsuit", {"by": "worker"}, "wage_iou")
    refused(eng, case_id, "file_lawsuit", {"by": "worker", "wage_iou": False}, "wage_iou")


def test_an_appeal_after_the_window_is_refused(eng: Engine) -> None:
    case_id = case_in(eng, "judgment")
    refused(
        eng, case_id, "file_appeal", {"by": "worker"}, "within:appeal_window", when=at(2025, 3, 19)
    )


def test_enforcement_after_two_years_is_refused(eng: Engine) -> None:
    # CPL 250: the final judgment took effect on 2025-03-03; two years end Wed 2027-03-03.
    # The 2027 holiday schedule is not published, so that due date is provisional.
    case_id = case_in(eng, "enforceable")
    (window,) = [d for d in eng.deadlines(case_id) if d.kind == "enforcement_window"]
    assert (str(window.due), window.provisional) == ("2027-03-03", True)
    err = refused(
        eng,
        case_id,
        "apply_enforcement",
        {"by": "worker"},
        "within:enforcement_window",
        when=at(2027, 3, 4),
    )
    assert "provisional" in err.reason


def test_mediation_is_extended_once_by_both_parties_by_at_most_15_days(eng: Engine) -> None:
    case_id = case_in(eng, "union_mediation")
    refused(eng, case_id, "extend_mediation", {"by": "worker"}, "both_parties_consent")
    refused(
        eng,
        case_id,
        "extend_mediation",
        {"by": "both", "days": 16},
        "extension_at_most:mediation_limit",
    )
    eng.fire(case_id, "extend_mediation", data={"by": "both", "days": 10}, at=DAY)
    refused(eng, case_id, "extend_mediation", {"by": "both"}, "once:mediation_extended")


def test_a_new_mediation_may_be_extended_again(eng: Engine) -> None:
    case_id = case_in(eng, "union_mediation")
    eng.fire(case_id, "extend_mediation", data={"by": "both"}, at=DAY)
    eng.fire(case_id, "refer_to_peoples_mediation", data={"org_id": "P"}, at=DAY)
    assert (
        eng.fire(case_id, "extend_mediation", data={"by": "both"}, at=DAY).state
        == "peoples_mediation"
    )


def test_the_award_limit_is_extended_once(eng: Engine) -> None:
    case_id = case_in(eng, "arbitration")
    eng.fire(case_id, "extend_award_limit", at=DAY)
    refused(eng, case_id, "extend_award_limit", {}, "once:award_limit_extended")


# --- data ---------------------------------------------------------------------------------------


def test_unknown_data_fields_are_refused_with_the_accepted_ones(eng: Engine) -> None:
    case_id = case_in(eng, "received")
    with pytest.raises(InvalidData, match=r"orgid: not a field .*accepted: .*org_id") as info:
        eng.fire(case_id, "refer_to_union_mediation", data={"orgid": "U"}, at=DAY)
    assert info.value.field == "orgid"


@pytest.mark.parametrize(
    ("trigger", "data", "field"),
    [
        ("refer_to_union_mediation", {"org_type": "factory"}, "org_type"),
        ("refer_to_union_mediation", {"received_on": "2025-02-30"}, "received_on"),
        ("apply_arbitration", {"by": "the boss"}, "by"),
    ],
)
def test_bad_data_values_name_the_field(
    eng: Engine, trigger: str, data: dict[str, Any], field: str
) -> None:
    case_id = case_in(eng, "received")
    before = snapshot(eng, case_id)
    with pytest.raises(InvalidData) as info:
        eng.fire(case_id, trigger, data=data, at=DAY)
    assert (info.value.trigger, info.value.field) == (trigger, field)
    assert snapshot(eng, case_id) == before


def test_required_data_is_required(eng: Engine) -> None:
    case_id = case_in(eng, "award_nonfinal")
    with pytest.raises(InvalidData, match="served_on: is required"):
        eng.fire(case_id, "serve_award", data={"party": "worker"}, at=DAY)


# --- triggers() ---------------------------------------------------------------------------------


def test_triggers_lists_what_can_be_fired_now(eng: Engine) -> None:
    case_id = case_in(eng, "agreement_in_performance")
    now = eng.triggers(case_id, at=DAY)
    assert {
        "apply_arbitration_review",
        "apply_judicial_confirmation",
        "report_breach",
        "confirm_performance",
        "withdraw",
    } <= set(now)
    # After 15 days the review window has closed; after 30 the confirmation window too.
    later = eng.triggers(case_id, at=at(2025, 3, 19))
    assert "apply_arbitration_review" not in later
    assert "apply_judicial_confirmation" in later
    assert "apply_judicial_confirmation" not in eng.triggers(case_id, at=at(2025, 4, 3))


def test_triggers_hides_what_the_case_rules_out(eng: Engine) -> None:
    case_id = case_in(eng, "received", claims=[{"kind": "damages", "amount": "1"}])
    legal = eng.triggers(case_id, at=DAY)
    assert "apply_payment_order" not in legal  # not wages (LCL 30)
    assert "file_lawsuit" in legal  # the IOU is for the command to show
    assert eng.triggers(case_in(eng, "archived"), at=DAY) == []


def test_every_automatic_edge_is_defined() -> None:
    compiled = compile_flow(national_flow())
    for (trigger, source), dest in AUTOMATIC_EDGES.items():
        # award_takes_effect also goes to court when some of several workers sued (LDI-1 17).
        assert dest in {t.dest for t in compiled.candidates(source, trigger)}


def test_a_payment_order_takes_effect_only_after_the_objection_period(eng: Engine) -> None:
    # CPL 227: 15 days from the debtor's service; served Mon 2025-03-03, due Tue 03-18.
    case_id = case_in(eng, "payment_order")
    refused(
        eng,
        case_id,
        "payment_order_takes_effect",
        {},
        "windows_expired:payment_order_objection@employer",
    )
    eng.fire(case_id, "serve_payment_order", data={"served_on": {"employer": "2025-03-03"}}, at=DAY)
    refused(
        eng,
        case_id,
        "payment_order_takes_effect",
        {},
        "windows_expired:payment_order_objection@employer",
        when=at(2025, 3, 18, 23, 59),
    )
    assert (
        eng.fire(case_id, "payment_order_takes_effect", at=at(2025, 3, 19)).state == "enforceable"
    )


def test_a_lapsed_award_limit_cannot_be_extended_or_paused(eng: Engine) -> None:
    # Accepted Mon 2025-03-03: 45 cd -> Thu 04-17. No tick ran since.
    case_id = case_in(eng, "arbitration")
    err = refused(
        eng,
        case_id,
        "extend_award_limit",
        {},
        "extension_at_most:award_limit",
        when=at(2025, 4, 25),
    )
    assert "already ran out at the end of 2025-04-17" in err.reason
    eng.fire(case_id, "suspend_arbitration", at=at(2025, 4, 25))
    (limit,) = [d for d in eng.deadlines(case_id) if d.kind == "award_limit"]
    assert (limit.status, str(limit.due)) == ("expired", "2025-04-17")


@pytest.mark.parametrize("day", ["1949-12-31", "2200-01-01", "9999-12-31"])
def test_dates_outside_the_era_are_refused(eng: Engine, day: str) -> None:
    case_id = case_in(eng, "union_mediation")
    with pytest.raises(InvalidData, match="is outside 1950-2199"):
        eng.fire(case_id, "sign_agreement", data={"effective_on": day}, at=DAY)


def test_a_number_typed_into_the_wrong_field_is_not_echoed(eng: Engine) -> None:
    case_id = case_in(eng, "received")
    with pytest.raises(InvalidData) as info:
        eng.fire(
            case_id,
            "apply_arbitration",
            at=DAY,
            data={"by": "worker", "received_on": "430102199001011238"},
        )
    assert "430102199001011238" not in str(info.value)
    assert "430102********1238" in str(info.value)


def test_a_rejected_confirmation_records_its_reason(eng: Engine) -> None:
    case_id = case_in(eng, "judicial_confirmation")
    case = eng.fire(case_id, "reject_confirmation", at=DAY)
    assert (case.state, case.attributes["reason"]) == ("mediation_failed", "confirmation_rejected")


def test_a_money_item_needs_its_awarded_amount(eng: Engine) -> None:
    case_id = case_in(eng, "arbitration")
    with pytest.raises(InvalidData, match="needs its awarded amount"):
        eng.fire(
            case_id,
            "issue_award",
            at=DAY,
            data={"items": [{"kind": "wages"}], "monthly_minimum_wage": "1930"},
        )
