"""The Hunan plugin: a Changsha case through the migrant-worker wage fast-track tribunal.

Every due date below is worked out by hand from the 2025 national schedule (Qingming holiday
Fri 04-04 to Sun 04-06; Labour Day holiday Thu 05-01 to Mon 05-05, with Sun 04-27 a make-up
working day) and flow.md §4 "Counting".
"""

from __future__ import annotations

from typing import Any

import pytest
from mediation_flow_hunan import FAST_TRACK, HunanPlugin

from mediation_flow import (
    Channel,
    GuardFailed,
    IllegalTransition,
    InvalidData,
    InvalidIntake,
    national_flow,
)
from mediation_flow.demo import run_demo
from mediation_flow.testing import sample_intake

CHANGSHA = "430102"  # 长沙市芙蓉区
CHAOYANG = "110105"  # 北京市朝阳区: not served by the plugin
TRIBUNAL = {"tribunal_id": "长沙市劳动人事争议仲裁院农民工工资争议速裁庭"}
SERVED = {"worker": "2025-03-21", "employer": "2025-03-21"}


def award(amount: str, served: dict[str, str] = SERVED) -> dict[str, Any]:
    # 12 x 1,930 (an example monthly minimum wage) = 23,160: at most that is final (LDMAL 47).
    return {
        "items": [{"kind": "wages", "amount": amount}],
        "monthly_minimum_wage": "1930",
        "served_on": served,
    }


def accepted_case(engine: Any, region: str = CHANGSHA, **intake: Any) -> int:
    """Applied for on Fri 2025-02-28, accepted on Mon 2025-03-03; the clock is left on 03-03.

    arbitration_acceptance: 5 wd after Fri 02-28 = Mon 03-03 .. Fri 03-07 -> 2025-03-07 (met).
    award_limit: 45 cd after Mon 03-03 = 03-31 (day 28) + 17 -> Thu 2025-04-17.
    defence_due: 10 wd after 03-03 (no respondent_served_on: the event day) = 03-04..03-07 (4),
    03-10..03-14 (9), 03-17 (10) -> Mon 2025-03-17.
    """
    engine.clock.set("2025-02-28")
    fields = {"is_migrant_worker": True, **intake}
    case = engine.open_case(sample_intake(region=region, **fields))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"})
    engine.clock.set("2025-03-03")
    engine.fire(case.id, "accept_arbitration")
    return int(case.id)


def fast_tracked(engine: Any) -> int:
    """A migrant worker's wage case, assigned to the fast track on Tue 2025-03-04.

    fast_track_target: 15 cd after Tue 03-04 -> Wed 2025-03-19.
    """
    case_id = accepted_case(engine)
    engine.clock.set("2025-03-04")
    engine.fire(case_id, "assign_fast_track", data={**TRIBUNAL, "simple_procedure": True})
    return case_id


def deadlines(engine: Any, case_id: int) -> dict[str, tuple[str, str]]:
    """kind (with party) -> (status, due) of the newest deadline of each kind."""
    out = {}
    for d in engine.deadlines(case_id):
        key = f"{d.kind}@{d.party}" if d.party else d.kind
        out[key] = (d.status.value, d.due.isoformat())
    return out


def triggers(engine: Any, case_id: int) -> list[str]:
    return [e.trigger for e in engine.history(case_id)]


# --- the fast track, end to end ------------------------------------------------------------------


def test_a_changsha_case_goes_through_the_fast_track_to_a_final_award(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = accepted_case(engine)
    assert "assign_fast_track" in engine.triggers(case_id)

    engine.clock.set("2025-03-04")
    case = engine.fire(case_id, "assign_fast_track", data={**TRIBUNAL, "simple_procedure": True})
    assert (case.state, case.state_label) == (FAST_TRACK, "速裁庭审理中")
    assert case.channel == Channel.arbitration
    assert case.attributes["priority"] == "fast_track"
    assert case.attributes["tribunal_id"] == TRIBUNAL["tribunal_id"]
    assert case.attributes["simple_procedure"] is True
    assert deadlines(engine, case_id) == {
        "arbitration_acceptance": ("met", "2025-03-07"),
        # The statutory clocks keep running inside the fast track.
        "award_limit": ("pending", "2025-04-17"),
        "defence_due": ("pending", "2025-03-17"),
        # 15 cd after Tue 03-04 -> Wed 2025-03-19.
        "fast_track_target": ("pending", "2025-03-19"),
    }
    assert set(engine.triggers(case_id)) == {
        "issue_award",
        "issue_mediation_statement",
        "withdraw",
        "suspend_arbitration",
        "extend_award_limit",
        "return_to_ordinary",
        # file_lawsuit is defined here but hidden until the award limit has run out.
    }

    # Thu 03-20 00:01: the defence period (03-17) and the internal target (03-19) have run out:
    # two reminders, soonest first; the case stays before the tribunal.
    engine.clock.set("2025-03-20", 0, 1)
    reminders = engine.tick()
    assert [(e.trigger, e.data["expired_deadline"]["kind"]) for e in reminders] == [
        ("deadline_expired", "defence_due"),
        ("fast_track_overdue", "fast_track_target"),
    ]
    assert engine.get(case_id).state == FAST_TRACK

    # Fri 03-21: a final award (16,000 <= 23,160), served on both parties the same day.
    engine.clock.set("2025-03-21")
    case = engine.fire(case_id, "issue_award", data=award("16000"))
    assert case.state == "award_final"
    assert case.attributes["award_final"] is True
    assert deadlines(engine, case_id) == {
        "arbitration_acceptance": ("met", "2025-03-07"),
        "award_limit": ("met", "2025-04-17"),
        "defence_due": ("expired", "2025-03-17"),
        "fast_track_target": ("expired", "2025-03-19"),
        # 15 cd after 03-21 = Sat 04-05, in the Qingming holiday -> Mon 2025-04-07.
        "suit_window@worker-1": ("pending", "2025-04-07"),
        # 30 cd after 03-21 = Sun 04-20 -> Mon 2025-04-21.
        "revocation_window@employer-1": ("pending", "2025-04-21"),
        # In force the day it is made (LDMAL 47): 2 years (CPL 250) from Fri 03-21 end on Sun
        # 2027-03-21, rolled over to Mon 03-22 on the predicted 2027 calendar (provisional
        # until the 2027 notice is registered).
        "enforcement_window": ("pending", "2027-03-22"),
    }
    assert triggers(engine, case_id) == [
        "open_case",
        "apply_arbitration",
        "accept_arbitration",
        "assign_fast_track",
        "deadline_expired",
        "fast_track_overdue",
        "issue_award",
    ]
    assert [(e.source, e.dest) for e in engine.history(case_id)][3:] == [
        ("arbitration", FAST_TRACK),
        (FAST_TRACK, FAST_TRACK),
        (FAST_TRACK, FAST_TRACK),
        (FAST_TRACK, "award_final"),
    ]


def test_a_mediation_statement_within_the_target_meets_it(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = fast_tracked(engine)
    engine.clock.set("2025-03-14")
    case = engine.fire(case_id, "issue_mediation_statement", data={"perform_by": "2025-03-31"})
    assert case.state == "enforceable"
    kinds = deadlines(engine, case_id)
    # CPL 250: the 2-year enforcement window runs from the performance date (national rule).
    assert kinds.pop("enforcement_window")[0] == "pending"
    assert kinds == {
        "arbitration_acceptance": ("met", "2025-03-07"),
        "award_limit": ("met", "2025-04-17"),
        # Fri 03-14 is before its due day: the case left the hearing, so it is cancelled.
        "defence_due": ("cancelled", "2025-03-17"),
        "fast_track_target": ("met", "2025-03-19"),
    }
    assert triggers(engine, case_id)[-2:] == ["assign_fast_track", "issue_mediation_statement"]


def test_an_outcome_after_the_target_leaves_it_expired_even_without_a_tick(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = fast_tracked(engine)
    # Tue 03-25, after the target's due day (03-19); no tick ran in between.
    engine.clock.set("2025-03-25")
    engine.fire(case_id, "issue_mediation_statement", data={"perform_by": "2025-04-30"})
    kinds = deadlines(engine, case_id)
    assert kinds["fast_track_target"] == ("expired", "2025-03-19")
    assert kinds["award_limit"] == ("met", "2025-04-17")


def test_a_non_final_award_from_the_fast_track(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = fast_tracked(engine)
    engine.clock.set("2025-03-14")
    served = {"worker": "2025-03-14", "employer": "2025-03-17"}
    case = engine.fire(case_id, "issue_award", data=award("48000", served))
    assert case.state == "award_nonfinal"
    kinds = deadlines(engine, case_id)
    assert kinds["fast_track_target"] == ("met", "2025-03-19")
    assert kinds["award_limit"] == ("met", "2025-04-17")
    # 15 cd after Fri 03-14 -> Sat 03-29 -> Mon 2025-03-31; after Mon 03-17 -> Tue 2025-04-01.
    assert kinds["suit_window@worker-1"] == ("pending", "2025-03-31")
    assert kinds["suit_window@employer-1"] == ("pending", "2025-04-01")


# --- leaving the fast track ----------------------------------------------------------------------


def test_return_to_ordinary_keeps_the_award_limit(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = fast_tracked(engine)
    engine.clock.set("2025-03-10")
    with pytest.raises(InvalidData, match="return_reason"):
        engine.fire(case_id, "return_to_ordinary")
    case = engine.fire(case_id, "return_to_ordinary", data={"return_reason": "需确认劳动关系"})
    assert case.state == "arbitration"
    assert "priority" not in case.attributes
    assert case.attributes["return_reason"] == "需确认劳动关系"
    kinds = deadlines(engine, case_id)
    assert kinds["fast_track_target"] == ("cancelled", "2025-03-19")
    assert kinds["award_limit"] == ("pending", "2025-04-17")  # the same clock, untouched
    assert kinds["defence_due"] == ("pending", "2025-03-17")
    # Ordinary arbitration as nationally: the LDMAL 43 extension, 60 cd after Mon 03-03 =
    # Fri 05-02, in the Labour Day holiday -> Tue 2025-05-06.
    engine.fire(case_id, "extend_award_limit", data={"days": 15})
    assert deadlines(engine, case_id)["award_limit"] == ("pending", "2025-05-06")
    assert triggers(engine, case_id)[3:] == [
        "assign_fast_track",
        "return_to_ordinary",
        "extend_award_limit",
    ]


def test_extending_the_award_limit_leaves_the_fast_track(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = fast_tracked(engine)
    engine.clock.set("2025-03-12")
    case = engine.fire(case_id, "extend_award_limit", data={"days": 15})
    assert case.state == "arbitration"
    assert case.attributes["award_limit_extended"] is True
    assert "priority" not in case.attributes
    kinds = deadlines(engine, case_id)
    assert kinds["award_limit"] == ("pending", "2025-05-06")  # 60 cd, as above
    assert kinds["fast_track_target"] == ("cancelled", "2025-03-19")
    # LDMAL 43 allows one extension: the national guard still holds.
    with pytest.raises(GuardFailed, match="already"):
        engine.fire(case_id, "extend_award_limit", data={"days": 15})


def test_suspension_leaves_the_fast_track_and_pauses_the_award_limit(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = fast_tracked(engine)
    engine.clock.set("2025-03-10")
    case = engine.fire(case_id, "suspend_arbitration", data={"reason": "等待工伤认定"})
    assert case.state == "arbitration_suspended"
    assert "priority" not in case.attributes
    kinds = deadlines(engine, case_id)
    assert kinds["award_limit"] == ("paused", "2025-04-17")
    assert kinds["fast_track_target"] == ("cancelled", "2025-03-19")
    # Resumed on 03-20 after 10 days: 45 + 10 = 55 cd after 03-03 = Sun 04-27, a make-up
    # working day in 2025 -> 2025-04-27 (default setting: no roll-over).
    engine.clock.set("2025-03-20")
    case = engine.fire(case_id, "resume_arbitration")
    assert case.state == "arbitration"
    assert deadlines(engine, case_id)["award_limit"] == ("pending", "2025-04-27")
    # Back in ordinary arbitration, the tribunal may put the case on the fast track again:
    # 15 cd after Thu 03-20 -> Sat 04-05 (Qingming) -> Mon 2025-04-07.
    engine.fire(case_id, "assign_fast_track", data=TRIBUNAL)
    assert deadlines(engine, case_id)["fast_track_target"] == ("pending", "2025-04-07")


def test_an_overdue_award_in_the_fast_track_lets_the_worker_sue(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = fast_tracked(engine)
    with pytest.raises(GuardFailed, match="award_limit runs until the end of 2025-04-17"):
        engine.fire(case_id, "file_lawsuit", data={"by": "worker"})
    # Fri 04-18 00:01: award_limit (Thu 04-17) has expired in the fast track.
    engine.clock.set("2025-04-18", 0, 1)
    expired = engine.tick()
    assert [e.trigger for e in expired] == [
        "deadline_expired",  # defence_due, 03-17
        "fast_track_overdue",  # fast_track_target, 03-19
        "award_overdue",  # award_limit, 04-17 (LDMAL 43)
    ]
    assert all(e.dest == FAST_TRACK for e in expired)
    engine.clock.set("2025-04-18")
    case = engine.fire(case_id, "file_lawsuit", data={"by": "worker"})
    assert case.state == "litigation"


def test_withdrawal_from_the_fast_track(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = fast_tracked(engine)
    engine.clock.set("2025-03-06")
    case = engine.fire(case_id, "withdraw", data={"by": "worker"})
    assert (case.state, case.resolution and case.resolution.value) == ("closed", "withdrawn")
    kinds = deadlines(engine, case_id)
    assert kinds["award_limit"] == ("cancelled", "2025-04-17")
    assert kinds["fast_track_target"] == ("cancelled", "2025-03-19")


# --- who gets the fast track ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intake", "reason"),
    [
        ({"is_migrant_worker": False}, "not a migrant worker's"),
        (
            {
                "claims": [
                    {"kind": "wages", "amount": "18000"},
                    {"kind": "economic_compensation", "amount": "9000"},
                ]
            },
            "also claims economic_compensation",
        ),
    ],
)
def test_the_guard_refuses_other_cases_and_writes_nothing(
    mf_engine, intake: dict[str, Any], reason: str
) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = accepted_case(engine, **intake)
    before = engine.get(case_id)
    history, due = engine.history(case_id), engine.deadlines(case_id)
    # The guard depends on the case, not on the command: the trigger is not offered.
    assert "assign_fast_track" not in engine.triggers(case_id)
    with pytest.raises(GuardFailed, match=reason) as refused:
        engine.fire(case_id, "assign_fast_track", data=TRIBUNAL)
    assert refused.value.guard == "hunan.migrant_wage_case"
    assert "速裁庭" in str(refused.value)
    after = engine.get(case_id)
    assert (after.state, after.version, after.attributes) == (
        "arbitration",
        before.version,
        before.attributes,
    )
    assert engine.history(case_id) == history
    assert engine.deadlines(case_id) == due


def test_a_case_from_another_region_does_not_see_the_step(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = accepted_case(engine, region=CHAOYANG)
    assert "assign_fast_track" not in engine.triggers(case_id)
    with pytest.raises(IllegalTransition):
        engine.fire(case_id, "assign_fast_track", data=TRIBUNAL)
    assert FAST_TRACK not in engine.flow_for(CHAOYANG).state_map
    assert engine.flow_for(CHAOYANG).fingerprint == national_flow().fingerprint
    assert FAST_TRACK in engine.flow_for("431102").state_map  # 永州市零陵区: Hunan too


def test_late_assignments_and_collective_cases_are_warned_about(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    case_id = accepted_case(engine, worker_count=12)
    # Thu 04-10: 15 cd -> Fri 04-25, after the award limit (04-17): allowed, with a warning.
    engine.clock.set("2025-04-10")
    engine.fire(case_id, "assign_fast_track", data=TRIBUNAL)
    (event,) = engine.history(case_id)[-1:]
    assert event.trigger == "assign_fast_track"
    assert event.warnings == ("hunan.target_after_award_limit", "hunan.collective_case")
    assert deadlines(engine, case_id)["fast_track_target"] == ("pending", "2025-04-25")


def test_the_target_is_a_parameter_inside_the_award_limit(mf_engine) -> None:
    engine = mf_engine(HunanPlugin(target_days=10))
    case_id = fast_tracked(engine)
    # 10 cd after Tue 03-04 -> Fri 2025-03-14.
    assert deadlines(engine, case_id)["fast_track_target"] == ("pending", "2025-03-14")
    kind = engine.flow_for(CHANGSHA).deadline_map["fast_track_target"]
    assert (kind.statutory, kind.unit.value, kind.length) == (False, "cd", 10)
    with pytest.raises(ValueError, match="inside the 45-day award limit"):
        HunanPlugin(target_days=45)
    with pytest.raises(TypeError):
        HunanPlugin(target_days="15")  # type: ignore[arg-type]


# --- intake ---------------------------------------------------------------------------------------


def test_migrant_wage_disputes_are_routed_to_arbitration_and_the_fast_track(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    routes = engine.suggest_routes(sample_intake(region=CHANGSHA, is_migrant_worker=True))
    assert [(r.trigger, r.plugin) for r in routes] == [
        ("apply_arbitration", "hunan"),
        ("refer_to_negotiation", "national"),
    ]
    assert routes[0].data == {"by": "worker"}
    assert "速裁庭" in routes[0].reason
    for intake in (
        sample_intake(region=CHANGSHA),  # not a migrant worker
        sample_intake(
            region=CHANGSHA,
            is_migrant_worker=True,
            claims=[{"kind": "wages"}, {"kind": "damages"}],
        ),
        sample_intake(region=CHAOYANG, is_migrant_worker=True),  # not Hunan
    ):
        assert [r.trigger for r in engine.suggest_routes(intake)] == ["refer_to_negotiation"]


def test_the_construction_project_is_recorded_at_intake(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    project = {"project_name": "长沙某安置房项目", "general_contractor": "湖南某建工集团"}
    case = engine.open_case(sample_intake(region=CHANGSHA, attributes=project))
    assert case.attributes["intake"] == project
    with pytest.raises(InvalidIntake, match=r"attributes\.project_name"):
        engine.open_case(sample_intake(region=CHANGSHA, attributes={"project_name": 7}))


# --- the demo -------------------------------------------------------------------------------------


def test_the_demo_shows_the_fast_track_without_errors(mf_engine) -> None:
    engine = mf_engine(HunanPlugin())
    result = run_demo(engine, cases=40, region=CHANGSHA)
    assert result.errors == []
    ours = {
        "hunan_fast_track_award",
        "hunan_fast_track_mediated",
        "hunan_fast_track_overdue",
        "hunan_fast_track_returned",
    }
    assert ours <= set(result.scenarios)
    seen = {e.trigger for case_id in result.case_ids for e in engine.history(case_id)}
    assert {"assign_fast_track", "fast_track_overdue", "return_to_ordinary"} <= seen
