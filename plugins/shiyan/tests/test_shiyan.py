"""The Shiyan plugin: element-based filing before acceptance, and the joint mediation studio.

Dates are worked out by hand in the comments. March 2025 has no public holiday, so working days
are Monday to Friday: Mon 03-03, ..., Fri 03-07, Mon 03-10, ...
"""

from __future__ import annotations

import pytest
from mediation_flow_shiyan import CHECKLISTS, ShiyanPlugin, missing_elements

from mediation_flow import (
    ClaimKind,
    GuardFailed,
    IllegalTransition,
    InvalidData,
    InvalidIntake,
)
from mediation_flow.demo import run_demo
from mediation_flow.testing import sample_intake

MAOJIAN = "420302"  # 十堰市茅箭区
WAGE_ELEMENTS = ["labour_relationship", "wage_standard", "arrears_period", "arrears_amount"]


def _deadlines(engine, case_id, kind=None):
    return [
        (d.kind, str(d.due), d.status.value)
        for d in engine.deadlines(case_id)
        if kind is None or d.kind == kind
    ]


def _triggers(engine, case_id):
    return [e.trigger for e in engine.history(case_id)]


def _applied(engine, region=MAOJIAN, **intake):
    case = engine.open_case(sample_intake(region=region, **intake))
    return engine.fire(case.id, "apply_arbitration", data={"by": "worker"})


# --- element-based filing ------------------------------------------------------------------------


def test_acceptance_is_vetoed_until_the_checklist_is_complete(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(engine)
    assert case.state == "arbitration_received"
    # 5 working days from Mon 03-03: Tue 04, Wed 05, Thu 06, Fri 07, Mon 10.
    assert _deadlines(engine, case.id) == [("arbitration_acceptance", "2025-03-10", "pending")]
    assert "accept_arbitration" not in engine.triggers(case.id)
    assert {"record_elements", "refer_to_joint_mediation_studio"} <= set(engine.triggers(case.id))

    history, deadlines = engine.history(case.id), engine.deadlines(case.id)
    with pytest.raises(GuardFailed) as refused:
        engine.fire(case.id, "accept_arbitration")
    assert refused.value.guard == "shiyan:veto"
    assert "尚缺：劳动关系证明、工资标准、欠薪期间、欠薪金额" in refused.value.reason
    assert "受理审查期限至 2025-03-10 届满" in refused.value.reason
    # Nothing written.
    assert engine.get(case.id).version == case.version
    assert engine.history(case.id) == history
    assert engine.deadlines(case.id) == deadlines

    # Some elements at filing: stored in the form's order; the rest are still missing.
    case = engine.fire(
        case.id,
        "record_elements",
        data={"elements": ["arrears_amount", "labour_relationship"]},
    )
    assert case.state == "arbitration_received"
    assert case.attributes["shiyan_elements"] == ["labour_relationship", "arrears_amount"]
    assert case.attributes["shiyan_elements_missing"] == ["wage_standard", "arrears_period"]
    with pytest.raises(GuardFailed, match="尚缺：工资标准、欠薪期间。") as refused:
        engine.fire(case.id, "accept_arbitration")
    assert "劳动关系证明" not in refused.value.reason

    engine.clock.set("2025-03-04")
    case = engine.fire(
        case.id, "record_elements", data={"elements": ["wage_standard", "arrears_period"]}
    )
    assert case.attributes["shiyan_elements"] == WAGE_ELEMENTS
    assert case.attributes["shiyan_elements_missing"] == []
    assert "accept_arbitration" in engine.triggers(case.id)

    engine.clock.set("2025-03-05")
    case = engine.fire(case.id, "accept_arbitration", data={"respondent_served_on": "2025-03-05"})
    assert case.state == "arbitration"
    assert _deadlines(engine, case.id) == [
        ("arbitration_acceptance", "2025-03-10", "met"),
        # 45 cd from Wed 03-05: Sat 04-19, a rest day, rolls over to Mon 04-21.
        ("award_limit", "2025-04-21", "pending"),
        # 10 wd from Wed 03-05: 06 07 10 11 12 13 14 17 18 19 -> Wed 03-19.
        ("defence_due", "2025-03-19", "pending"),
    ]
    assert _triggers(engine, case.id) == [
        "open_case",
        "apply_arbitration",
        "record_elements",
        "record_elements",
        "accept_arbitration",
    ]


def test_the_checklist_is_the_union_of_the_claims_kinds(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(
        engine,
        claims=[
            {"kind": "wages", "amount": "8000"},
            {"kind": "economic_compensation", "amount": "12000"},
        ],
    )
    engine.fire(case.id, "record_elements", data={"elements": WAGE_ELEMENTS})
    with pytest.raises(GuardFailed, match="尚缺：工作年限、解除或终止劳动关系的时间及原因。"):
        engine.fire(case.id, "accept_arbitration")
    engine.fire(case.id, "record_elements", data={"elements": ["service_length", "termination"]})
    assert engine.fire(case.id, "accept_arbitration").state == "arbitration"


def test_replace_sets_the_elements_anew(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(engine)
    engine.fire(case.id, "record_elements", data={"elements": WAGE_ELEMENTS})
    case = engine.fire(
        case.id, "record_elements", data={"elements": ["labour_relationship"], "replace": True}
    )
    assert case.attributes["shiyan_elements"] == ["labour_relationship"]
    assert case.attributes["shiyan_elements_missing"] == WAGE_ELEMENTS[1:]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"elements": ["labour_relationship", "salary"]}, "unknown element 'salary'"),
        ({"elements": "wage_standard"}, "expected a non-empty list"),
        ({"elements": []}, "expected a non-empty list"),
        ({}, "is required"),
    ],
)
def test_bad_elements_are_invalid_data(mf_engine, data, reason) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(engine)
    with pytest.raises(InvalidData, match=reason) as refused:
        engine.fire(case.id, "record_elements", data=data)
    assert refused.value.field == "elements"
    assert engine.get(case.id).version == case.version


def test_request_supplement_pauses_the_clock_while_elements_are_gathered(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(engine)  # acceptance due Mon 03-10
    engine.clock.set("2025-03-05")
    engine.fire(case.id, "record_elements", data={"elements": ["labour_relationship"]})
    case = engine.fire(
        case.id, "request_supplement", data={"items": "工资标准、欠薪期间、欠薪金额"}
    )
    assert _deadlines(engine, case.id) == [("arbitration_acceptance", "2025-03-10", "paused")]
    with pytest.raises(GuardFailed, match="受理审查期限暂停") as refused:
        engine.fire(case.id, "accept_arbitration")
    assert refused.value.guard == "shiyan:veto"

    # Long past the original due day: a paused clock does not expire.
    engine.clock.set("2025-03-20", 0, 1)
    assert engine.tick() == []
    engine.clock.set("2025-03-20")
    engine.fire(
        case.id,
        "record_elements",
        data={"elements": ["wage_standard", "arrears_period", "arrears_amount"]},
    )
    engine.fire(case.id, "supplement", data={"by": "worker"})
    # AR 46(2): counted again from the completion day, Thu 03-20: 21 24 25 26 27 -> Thu 03-27.
    assert _deadlines(engine, case.id) == [
        ("arbitration_acceptance", "2025-03-10", "cancelled"),
        ("arbitration_acceptance", "2025-03-27", "pending"),
    ]
    engine.clock.set("2025-03-21")
    case = engine.fire(case.id, "accept_arbitration")
    assert case.state == "arbitration"
    assert _deadlines(engine, case.id, "arbitration_acceptance")[-1] == (
        "arbitration_acceptance",
        "2025-03-27",
        "met",
    )
    assert _triggers(engine, case.id) == [
        "open_case",
        "apply_arbitration",
        "record_elements",
        "request_supplement",
        "record_elements",
        "supplement",
        "accept_arbitration",
    ]


def test_the_veto_does_not_stop_the_statutory_expiry(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(engine)  # no element recorded; acceptance due Mon 03-10
    engine.clock.set("2025-03-10")
    engine.clock.end_of_day()
    assert engine.tick() == []
    engine.clock.next_morning()
    (expired,) = engine.tick()
    assert (expired.trigger, expired.actor_role, expired.dest) == (
        "reject_arbitration",
        "system",
        "arbitration_not_accepted",
    )
    assert _deadlines(engine, case.id) == [("arbitration_acceptance", "2025-03-10", "expired")]
    # LDMAL 29: the applicant may now sue.
    case = engine.fire(case.id, "file_lawsuit", data={"by": "worker"})
    assert case.state == "litigation"


# --- the joint mediation studio ------------------------------------------------------------------


def test_the_studio_needs_both_parties_and_defers_acceptance(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(engine)  # acceptance due Mon 03-10
    engine.clock.set("2025-03-04")
    with pytest.raises(GuardFailed) as refused:
        engine.fire(case.id, "refer_to_joint_mediation_studio", data={"by": "worker"})
    assert refused.value.guard == "shiyan.parties_agree_to_mediate"
    assert engine.get(case.id).version == case.version

    case = engine.fire(
        case.id,
        "refer_to_joint_mediation_studio",
        data={"by": "both", "org_id": "茅箭区一站式联调工作室", "received_on": "2025-03-04"},
    )
    assert case.state == "joint_mediation_studio"
    assert case.state_label == "一站式联调工作室调解中（暂缓受理）"
    assert case.attributes["org_id"] == "茅箭区一站式联调工作室"
    assert _deadlines(engine, case.id) == [
        ("arbitration_acceptance", "2025-03-10", "cancelled"),
        # LDMAL 14: 15 cd from the studio's receipt, Tue 03-04 -> Wed 03-19.
        ("mediation_limit", "2025-03-19", "pending"),
    ]
    assert set(engine.triggers(case.id)) >= {
        "sign_agreement",
        "fail_mediation",
        "apply_arbitration",
        "withdraw",
    }

    engine.clock.set("2025-03-19")
    engine.clock.end_of_day()
    assert engine.tick() == []
    engine.clock.next_morning()
    (failed,) = engine.tick()
    assert (failed.trigger, failed.dest, failed.data["reason"]) == (
        "fail_mediation",
        "mediation_failed",
        "expired",
    )
    assert _deadlines(engine, case.id, "mediation_limit") == [
        ("mediation_limit", "2025-03-19", "expired")
    ]

    # The applicant comes back to arbitration on Fri 03-21: a new acceptance clock,
    # 24 25 26 27 28 -> Fri 03-28.
    engine.clock.set("2025-03-21")
    case = engine.fire(case.id, "apply_arbitration", data={"by": "worker"})
    assert case.state == "arbitration_received"
    assert _deadlines(engine, case.id, "arbitration_acceptance")[-1] == (
        "arbitration_acceptance",
        "2025-03-28",
        "pending",
    )
    assert _triggers(engine, case.id) == [
        "open_case",
        "apply_arbitration",
        "refer_to_joint_mediation_studio",
        "fail_mediation",
        "apply_arbitration",
    ]


def test_an_agreement_in_the_studio_opens_the_national_windows(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(engine)
    engine.clock.set("2025-03-04")
    engine.fire(case.id, "refer_to_joint_mediation_studio", data={"by": "both"})
    engine.clock.set("2025-03-10")
    case = engine.fire(case.id, "sign_agreement", data={"effective_on": "2025-03-10"})
    assert case.state == "agreement_in_performance"
    assert _deadlines(engine, case.id)[1:] == [
        # From the referral day, Tue 03-04 (no received_on given): Wed 03-19; met.
        ("mediation_limit", "2025-03-19", "met"),
        # AR 74: 15 cd from Mon 03-10 -> Tue 03-25; CPL 205: 30 cd -> Wed 04-09.
        ("arbitration_review_window", "2025-03-25", "pending"),
        ("judicial_confirmation_window", "2025-04-09", "pending"),
    ]
    engine.clock.set("2025-03-12")
    case = engine.fire(case.id, "apply_arbitration_review", data={"by": "both"})
    assert case.state == "arbitration_review"


def test_the_studio_can_be_extended_left_for_arbitration_or_withdrawn(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(engine)
    engine.clock.set("2025-03-04")
    engine.fire(case.id, "refer_to_joint_mediation_studio", data={"by": "both"})
    engine.fire(case.id, "extend_mediation", data={"by": "both", "days": 15})
    # 30 cd from Tue 03-04 -> Thu 04-03.
    assert _deadlines(engine, case.id, "mediation_limit") == [
        ("mediation_limit", "2025-04-03", "pending")
    ]
    # Mediation is never compulsory: the applicant ends the deferral on Wed 03-12.
    engine.clock.set("2025-03-12")
    case = engine.fire(case.id, "apply_arbitration", data={"by": "worker"})
    assert case.state == "arbitration_received"
    assert _deadlines(engine, case.id)[1:] == [
        ("mediation_limit", "2025-04-03", "cancelled"),
        # 5 wd from Wed 03-12: 13 14 17 18 19 -> Wed 03-19.
        ("arbitration_acceptance", "2025-03-19", "pending"),
    ]
    # Back in acceptance, the checklist still applies.
    with pytest.raises(GuardFailed, match="shiyan:veto"):
        engine.fire(case.id, "accept_arbitration")

    other = _applied(engine)
    engine.fire(other.id, "refer_to_joint_mediation_studio", data={"by": "both"})
    closed = engine.fire(other.id, "withdraw", data={"by": "worker"})
    assert (closed.state, closed.resolution.value) == ("closed", "withdrawn")


# --- scope and wiring ----------------------------------------------------------------------------


def test_a_case_from_another_region_does_not_see_the_steps(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin(), at="2025-03-03")
    case = _applied(engine, region="430102")
    for trigger, data in (
        ("record_elements", {"elements": WAGE_ELEMENTS}),
        ("refer_to_joint_mediation_studio", {"by": "both"}),
    ):
        with pytest.raises(IllegalTransition):
            engine.fire(case.id, trigger, data=data)
    assert engine.fire(case.id, "accept_arbitration").state == "arbitration"
    assert "joint_mediation_studio" not in engine.flow_for("430102").state_map
    assert engine.flow_for("430102").fingerprint != engine.flow_for(MAOJIAN).fingerprint
    # Every county of Shiyan (prefix 4203) has the steps, e.g. Danjiangkou.
    assert "joint_mediation_studio" in engine.flow_for("420381").state_map


def test_the_flow_keeps_the_statutory_clocks(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin())
    flow = engine.flow_for(MAOJIAN)
    national = engine.flow_for("430102")
    limit = flow.deadline_map["mediation_limit"]
    assert limit.alive_in == (
        *national.deadline_map["mediation_limit"].alive_in,
        "joint_mediation_studio",
    )
    assert (limit.length, limit.expiry) == (15, ("fail_mediation",))
    assert (
        flow.deadline_map["arbitration_acceptance"]
        == national.deadline_map["arbitration_acceptance"]
    )
    assert flow.plugins == ("shiyan",)


def test_every_claim_kind_has_a_checklist() -> None:
    assert set(CHECKLISTS) == set(ClaimKind)
    assert missing_elements(["wages"], ["wage_standard"]) == [
        "labour_relationship",
        "arrears_period",
        "arrears_amount",
    ]


def test_migrant_wage_arrears_get_the_checklist_with_the_route(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin())
    routes = engine.suggest_routes(sample_intake(region=MAOJIAN, is_migrant_worker=True))
    assert [(r.trigger, r.plugin) for r in routes] == [
        ("apply_arbitration", "shiyan"),
        ("refer_to_negotiation", "national"),
    ]
    assert "劳动关系证明、工资标准、欠薪期间、欠薪金额" in routes[0].reason
    assert routes[0].data == {"by": "worker"}
    plain = engine.suggest_routes(sample_intake(region=MAOJIAN))
    assert [r.trigger for r in plain] == ["refer_to_negotiation"]


def test_the_intake_channel_is_one_of_the_seeds_channels(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin())
    case = engine.open_case(sample_intake(region=MAOJIAN, attributes={"intake_channel": "12333"}))
    assert case.attributes["intake"] == {"intake_channel": "12333"}
    with pytest.raises(InvalidIntake, match=r"attributes\.intake_channel"):
        engine.open_case(sample_intake(region=MAOJIAN, attributes={"intake_channel": "微信"}))


def test_the_demo_runs_the_shiyan_scenarios(mf_engine) -> None:
    engine = mf_engine(ShiyanPlugin())
    result = run_demo(engine, cases=40, region=MAOJIAN)
    assert result.errors == []
    assert {
        "shiyan_elements_supplement",
        "shiyan_joint_studio",
        "shiyan_joint_studio_expired",
    } <= set(result.scenarios)
    # The national arbitration scenarios ran in their Shiyan form (elements, then acceptance).
    accepted = [engine.history(cid) for cid in result.case_ids]
    for history in accepted:
        triggers = [e.trigger for e in history]
        if "accept_arbitration" in triggers:
            assert "record_elements" in triggers[: triggers.index("accept_arbitration")]
