"""The Guizhou plugin: union guidance after a breached settlement, the liaison arbitrator and the
reminders before the review and confirmation windows close (seed 004)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy
from mediation_flow_guizhou import (
    DEFAULT_ROSTER,
    GuizhouPlugin,
    LiaisonAssignment,
    liaison_assignments,
)
from structlog.testing import capture_logs

from mediation_flow import IllegalTransition
from mediation_flow.calendar import DEFAULT_CALENDAR
from mediation_flow.demo import run_demo
from mediation_flow.testing import sample_intake

GUIYANG_NANMING = "520102"
ROSTER = {"5201": "王仲裁员", "520102": "李仲裁员"}
REMINDERS = ("review_window_reminder", "confirmation_window_reminder")


def _deadlines(engine, case_id):
    return {d.kind: d for d in engine.deadlines(case_id)}


def _fire(engine, case_id, day, trigger, **data):
    engine.clock.set(day)
    return engine.fire(case_id, trigger, data=data)


def _breached_settlement(engine, region=GUIYANG_NANMING):
    """A Guiyang case whose settlement was not performed: Mon 2025-03-03 .. Mon 2025-03-17."""
    engine.clock.set("2025-03-03")
    case = engine.open_case(sample_intake(region=region))
    _fire(engine, case.id, "2025-03-03", "refer_to_negotiation")
    _fire(engine, case.id, "2025-03-04", "accept_negotiation")
    _fire(engine, case.id, "2025-03-05", "sign_settlement", perform_by="2025-03-14")
    case = _fire(engine, case.id, "2025-03-17", "report_breach")
    assert case.state == "settlement_breached"
    return case


def _agreement_signed(engine, region=GUIYANG_NANMING):
    """The breached settlement, union guidance, people's mediation, and an agreement effective
    on Fri 2025-03-28."""
    case = _breached_settlement(engine, region)
    _fire(engine, case.id, "2025-03-17", "request_union_guidance", union_org="南明区总工会")
    _fire(
        engine,
        case.id,
        "2025-03-19",
        "refer_to_peoples_mediation",
        org_id="花果园街道人民调解委员会",
    )
    return _fire(
        engine,
        case.id,
        "2025-03-28",
        "sign_agreement",
        effective_on="2025-03-28",
        perform_by="2025-05-30",
    )


def test_a_breached_settlement_goes_through_union_guidance_to_an_agreement(
    mf_engine, tmp_path: Path
) -> None:
    engine = mf_engine(
        GuizhouPlugin(ROSTER), at="2025-03-03", url=f"sqlite:///{tmp_path / 'gz.db'}"
    )
    case = _breached_settlement(engine)

    case = _fire(engine, case.id, "2025-03-17", "request_union_guidance", union_org="南明区总工会")
    assert (case.state, case.state_label, case.channel) == (
        "union_guidance",
        "工会引导调解中",
        None,
    )
    assert case.attributes["union_org"] == "南明区总工会"
    # 5 working days after Mon 03-17: Tue 18, Wed 19, Thu 20, Fri 21, Mon 24.
    target = _deadlines(engine, case.id)["union_guidance_target"]
    assert (str(target.due), target.status) == ("2025-03-24", "pending")

    case = _fire(
        engine,
        case.id,
        "2025-03-19",
        "refer_to_peoples_mediation",
        org_id="花果园街道人民调解委员会",
    )
    assert case.state == "peoples_mediation"
    kinds = _deadlines(engine, case.id)
    assert kinds["union_guidance_target"].status == "met"
    # LDMAL 14: 15 days from the receipt (the referral day, Wed 03-19): Thu 04-03.
    assert str(kinds["mediation_limit"].due) == "2025-04-03"

    case = _fire(
        engine,
        case.id,
        "2025-03-28",
        "sign_agreement",
        effective_on="2025-03-28",
        perform_by="2025-05-30",
    )
    assert case.state == "agreement_in_performance"
    kinds = _deadlines(engine, case.id)
    # Review window (AR 74): 15 cd from Fri 03-28 = Sat 04-12, rolled over to Mon 04-14.
    # Its reminder: 3 working days before Mon 04-14 are Fri 11, Thu 10, Wed 09 -> Wed 04-09
    # (12 days after the effective date, a working day, so no roll-over).
    # Confirmation window (CPL 205): 30 cd = Sun 04-27, a make-up working day (调休上班), so no
    # roll-over. Its reminder: Sat 04-26 is a rest day; Fri 25, Thu 24, Wed 23 -> Wed 04-23.
    assert {k: (str(kinds[k].due), kinds[k].length, kinds[k].status) for k in kinds} == {
        "negotiation_answer": ("2025-03-10", 5, "met"),
        "settlement_performance": ("2025-03-14", None, "expired"),
        "union_guidance_target": ("2025-03-24", 5, "met"),
        "mediation_limit": ("2025-04-03", 15, "met"),
        "arbitration_review_window": ("2025-04-14", 15, "pending"),
        "judicial_confirmation_window": ("2025-04-27", 30, "pending"),
        "agreement_performance": ("2025-05-30", None, "pending"),
        "review_window_reminder": ("2025-04-09", None, "pending"),
        "confirmation_window_reminder": ("2025-04-23", None, "pending"),
    }
    assert all(str(kinds[k].starts_on) == "2025-03-28" for k in REMINDERS)

    # Wed 04-09 is the reminder's last day; the next morning's tick reminds the arbitrator.
    engine.clock.set("2025-04-09")
    engine.clock.end_of_day()
    assert engine.tick() == []
    engine.clock.next_morning()
    with capture_logs() as logs:
        (reminder,) = engine.tick()
    assert reminder.trigger == "deadline_expired"
    expired = reminder.data["expired_deadline"]
    assert (expired["kind"], expired["due"]) == ("review_window_reminder", "2025-04-09")
    (logged,) = [e for e in logs if e["event"] == "liaison_reminder"]
    assert (logged["arbitrator"], logged["window"]) == ("李仲裁员", "arbitration_review_window")

    # The parties choose judicial confirmation on Fri 04-11: the other reminder is met.
    case = _fire(engine, case.id, "2025-04-11", "apply_judicial_confirmation", by="both")
    assert case.state == "judicial_confirmation"
    kinds = _deadlines(engine, case.id)
    assert kinds["review_window_reminder"].status == "expired"
    assert kinds["confirmation_window_reminder"].status == "met"
    assert kinds["judicial_confirmation_window"].status == "met"

    assert [(e.trigger, e.dest) for e in engine.history(case.id)] == [
        ("open_case", "received"),
        ("refer_to_negotiation", "negotiation"),
        ("accept_negotiation", "negotiation"),
        ("sign_settlement", "settlement_in_performance"),
        # The agreed performance date passed before the breach was reported, with no tick
        # since: the report records the expiry first, as a tick would have.
        ("deadline_expired", "settlement_in_performance"),
        ("report_breach", "settlement_breached"),
        ("request_union_guidance", "union_guidance"),
        ("refer_to_peoples_mediation", "peoples_mediation"),
        ("sign_agreement", "agreement_in_performance"),
        ("deadline_expired", "agreement_in_performance"),
        ("apply_judicial_confirmation", "judicial_confirmation"),
    ]
    # The liaison arbitrator of Nanming (the longest roster prefix), recorded with the referral.
    with sqlalchemy.create_engine(engine.url).connect() as conn:
        assert liaison_assignments(conn, case.id) == [
            LiaisonAssignment(
                case.id,
                8,
                "520102",
                "李仲裁员",
                "花果园街道人民调解委员会",
                "peoples_mediation",
                date(2025, 3, 19),
            )
        ]


def test_a_review_meets_both_reminders_and_a_refusal_restarts_the_confirmation_one(
    mf_engine,
) -> None:
    engine = mf_engine(GuizhouPlugin(), at="2025-03-03")
    case = _agreement_signed(engine)
    case = _fire(
        engine,
        case.id,
        "2025-04-02",
        "apply_arbitration_review",
        by="both",
        accepted_on="2025-04-02",
    )
    assert case.state == "arbitration_review"
    kinds = _deadlines(engine, case.id)
    assert [kinds[k].status for k in REMINDERS] == ["met", "met"]

    # AR 78: the review is refused on Tue 04-08; the confirmation window (Sun 04-27) is still
    # open, so its reminder starts again from the refusal: Wed 04-23 (3 working days before).
    case = _fire(engine, case.id, "2025-04-08", "refuse_review")
    assert case.state == "agreement_in_performance"
    confirmation = [d for d in engine.deadlines(case.id) if d.kind == REMINDERS[1]]
    assert [(str(d.starts_on), d.length, str(d.due), d.status) for d in confirmation] == [
        ("2025-03-28", None, "2025-04-23", "met"),
        ("2025-04-08", None, "2025-04-23", "pending"),
    ]
    assert len([d for d in engine.deadlines(case.id) if d.kind == REMINDERS[0]]) == 1

    engine.clock.set("2025-04-24", 0, 1)
    (reminder,) = engine.tick()
    assert reminder.data["expired_deadline"]["kind"] == "confirmation_window_reminder"
    assert [e.trigger for e in engine.history(case.id)][-3:] == [
        "apply_arbitration_review",
        "refuse_review",
        "deadline_expired",
    ]


def test_the_reminders_stay_before_the_windows_over_the_spring_festival(mf_engine) -> None:
    engine = mf_engine(GuizhouPlugin(), at="2025-01-13")
    case = engine.open_case(sample_intake(region=GUIYANG_NANMING))
    _fire(
        engine, case.id, "2025-01-13", "refer_to_union_mediation", org_id="U", org_type="union_org"
    )
    _fire(engine, case.id, "2025-01-17", "sign_agreement", effective_on="2025-01-19")
    kinds = _deadlines(engine, case.id)
    # Effective Sun 01-19. Review window: 15 cd = Mon 02-03, in the holiday (01-28 to 02-04),
    # rolled over to Wed 02-05. A fixed 10 days would be Wed 01-29, also rolled to 02-05: no
    # warning at all. Three working days before 02-05: Mon 01-27, Sun 01-26 (make-up working
    # day), Fri 01-24 -> Fri 01-24.
    # Confirmation window: 30 cd = Tue 02-18; Mon 17, Fri 14, Thu 13 -> Thu 02-13.
    assert str(kinds["arbitration_review_window"].due) == "2025-02-05"
    assert DEFAULT_CALENDAR.add_calendar_days(date(2025, 1, 19), 10) == date(2025, 2, 5)
    assert str(kinds["review_window_reminder"].due) == "2025-01-24"
    assert str(kinds["judicial_confirmation_window"].due) == "2025-02-18"
    assert str(kinds["confirmation_window_reminder"].due) == "2025-02-13"


def test_a_reminder_whose_day_has_passed_is_due_the_next_day(mf_engine) -> None:
    # Effective Fri 03-28, signed on Thu 04-10: the review window closes Mon 04-14 and its
    # reminder day (Wed 04-09) has passed: due Fri 04-11, the next day. The confirmation one
    # (Wed 04-23) is still ahead.
    engine = mf_engine(GuizhouPlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region=GUIYANG_NANMING))
    _fire(engine, case.id, "2025-04-07", "refer_to_peoples_mediation", org_id="P")
    _fire(engine, case.id, "2025-04-10", "sign_agreement", effective_on="2025-03-28")
    kinds = _deadlines(engine, case.id)
    assert str(kinds["review_window_reminder"].due) == "2025-04-11"
    assert str(kinds["confirmation_window_reminder"].due) == "2025-04-23"


def test_union_guidance_overdue_is_a_reminder_and_mediation_stays_optional(mf_engine) -> None:
    engine = mf_engine(GuizhouPlugin(), at="2025-03-03")
    case = _breached_settlement(engine)
    _fire(engine, case.id, "2025-03-17", "request_union_guidance")
    engine.clock.set("2025-03-24")
    engine.clock.end_of_day()
    assert engine.tick() == []
    engine.clock.next_morning()
    (overdue,) = engine.tick()
    assert (overdue.trigger, overdue.dest) == ("deadline_expired", "union_guidance")
    assert overdue.data["expired_deadline"]["kind"] == "union_guidance_target"
    case = _fire(engine, case.id, "2025-03-25", "apply_arbitration", by="worker")
    assert case.state == "arbitration_received"
    assert [e.trigger for e in engine.history(case.id)][-3:] == [
        "request_union_guidance",
        "deadline_expired",
        "apply_arbitration",
    ]

    other = _breached_settlement(engine)
    _fire(engine, other.id, "2025-03-17", "request_union_guidance")
    assert set(engine.triggers(other.id)) == {
        "refer_to_union_mediation",
        "refer_to_peoples_mediation",
        "refer_to_administrative_mediation",
        "apply_arbitration",
        "withdraw",
    }
    closed = _fire(engine, other.id, "2025-03-18", "withdraw", by="worker")
    assert (closed.state, closed.resolution) == ("closed", "withdrawn")
    assert _deadlines(engine, other.id)["union_guidance_target"].status == "cancelled"


def test_a_case_of_another_region_does_not_see_the_guizhou_steps(mf_engine) -> None:
    engine = mf_engine(GuizhouPlugin(), at="2025-03-03")
    case = _breached_settlement(engine, region="430102")
    with pytest.raises(IllegalTransition):
        engine.fire(case.id, "request_union_guidance")
    _fire(engine, case.id, "2025-03-18", "refer_to_peoples_mediation", org_id="P")
    _fire(engine, case.id, "2025-03-28", "sign_agreement", effective_on="2025-03-28")
    assert not set(REMINDERS) & set(_deadlines(engine, case.id))
    assert "union_guidance" not in engine.flow_for("430102").state_map
    assert engine.flow_for("430102").fingerprint != engine.flow_for(GUIYANG_NANMING).fingerprint


def test_a_court_delegated_agreement_has_no_liaison_reminders(mf_engine) -> None:
    engine = mf_engine(GuizhouPlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region=GUIYANG_NANMING))
    _fire(engine, case.id, "2025-03-03", "refer_to_prefiling_mediation", org_id="法院特邀调解组织")
    _fire(engine, case.id, "2025-03-10", "sign_agreement", effective_on="2025-03-10")
    kinds = _deadlines(engine, case.id)
    assert "arbitration_review_window" in kinds
    assert not set(REMINDERS) & set(kinds)


def test_negotiation_comes_first(mf_engine) -> None:
    engine = mf_engine(GuizhouPlugin())
    routes = engine.suggest_routes(sample_intake(region=GUIYANG_NANMING))
    assert [(r.trigger, r.plugin) for r in routes] == [
        ("refer_to_negotiation", "guizhou"),
        ("refer_to_negotiation", "national"),
    ]
    assert "贵州实施方案" in routes[0].reason
    assert [r.plugin for r in engine.suggest_routes(sample_intake(region="430102"))] == ["national"]


def test_the_roster_picks_the_longest_area_and_has_a_default(mf_engine) -> None:
    plugin = GuizhouPlugin(ROSTER)
    # The roster is operational data, not flow: changing it keeps the flow (and open cases).
    assert (
        mf_engine(plugin).flow_for(GUIYANG_NANMING).fingerprint
        == mf_engine(GuizhouPlugin()).flow_for(GUIYANG_NANMING).fingerprint
    )
    assert plugin.liaison_for("520102") == ("520102", "李仲裁员")
    assert plugin.liaison_for("520103") == ("5201", "王仲裁员")
    assert plugin.liaison_for("520302") == ("52", DEFAULT_ROSTER["52"])
    assert GuizhouPlugin().liaison_for("520302") == ("5203", DEFAULT_ROSTER["5203"])
    with pytest.raises(ValueError, match="division prefix"):
        GuizhouPlugin({"贵阳": "王仲裁员"})
    with pytest.raises(ValueError, match="non-empty"):
        GuizhouPlugin({"5201": " "})


def test_the_demo_runs_the_guizhou_scenarios(mf_engine) -> None:
    engine = mf_engine(GuizhouPlugin())
    result = run_demo(engine, cases=40, region=GUIYANG_NANMING)
    assert result.errors == []
    assert {
        "guizhou_breach_union_guidance",
        "guizhou_liaison_reminder",
        "guizhou_guidance_to_arbitration",
    } <= set(result.scenarios)
