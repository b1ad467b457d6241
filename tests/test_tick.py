"""Expiry: ``Engine.tick`` and the ``Engine.due`` work queue (flow.md §3-§4).

A deadline's ``due`` is the last day the act is in time; it expires at the end of that day
(24:00 Asia/Shanghai). Each timed transition is checked the same way: ``tick`` at 23:59 on the
due day fires nothing, ``tick`` at 00:01 the next day fires the expiry trigger once (actor
``system``), and a second ``tick`` fires nothing again.

Expected dates are worked out by hand in the comments (2025 national schedule: Dragon Boat
05-31..06-02, nothing else in June-July; "cd" = calendar days, "wd" = working days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from mediation_flow import Engine
from mediation_flow.models import DeadlineStatus, Event
from tests.conftest import at, deadline, make_intake

FINAL_AWARD_ITEMS = [{"kind": "wages", "amount": "18000.00"}]  # <= 12 x 2000: final
NONFINAL_AWARD_ITEMS = [{"kind": "wages", "amount": "90000.00"}]  # > 12 x 2000: non-final
MINIMUM_WAGE = "2000"


# --- helpers ------------------------------------------------------------------------------------


def last_minute(day: date) -> datetime:
    return at(day.year, day.month, day.day, 23, 59)


def just_after(day: date) -> datetime:
    """00:01 on the day after ``day``: the deadline due on ``day`` has expired."""
    nxt = day + timedelta(days=1)
    return at(nxt.year, nxt.month, nxt.day, 0, 1)


def expire(
    engine: Engine, case_id: int, kind: str, due: date, *, party: str | None = None
) -> Event:
    """Check that the deadline is due on ``due``, that nothing fires at 23:59 that day, and that
    exactly one event fires at 00:01 the next day and nothing more on a second tick. Returns
    that event."""
    assert deadline(engine, case_id, kind, party).due == due
    state, version = engine.get(case_id).state, engine.get(case_id).version

    assert engine.tick(last_minute(due)) == []
    case = engine.get(case_id)
    assert (case.state, case.version) == (state, version)
    assert deadline(engine, case_id, kind, party).status == DeadlineStatus.pending

    events = engine.tick(just_after(due))
    assert len(events) == 1, events
    event = events[0]
    assert (event.case_id, event.actor_id, event.actor_role) == (case_id, "system", "system")
    assert event.source == state
    expired = deadline(engine, case_id, kind, party)
    assert event.data["expired_deadline"] == {
        "id": expired.id,
        "kind": kind,
        "party": expired.party,
        "due": due.isoformat(),
    }
    assert engine.history(case_id)[-1] == event
    assert deadline(engine, case_id, kind, party).status == DeadlineStatus.expired

    assert engine.tick(just_after(due)) == []
    assert engine.tick(just_after(due) + timedelta(days=1)) == []
    return event


def open_case(engine: Engine, when: datetime, **overrides: Any) -> int:
    """张三's wage claim against 长沙某建筑工程有限公司 (Changsha, 430102)."""
    return engine.open_case(make_intake(**overrides), at=when).id


def in_negotiation(engine: Engine, when: datetime, **data: Any) -> int:
    case_id = open_case(engine, when)
    engine.fire(case_id, "refer_to_negotiation", data=data, at=when)
    return case_id


def in_mediation(engine: Engine, received: datetime, **data: Any) -> int:
    case_id = open_case(engine, received)
    engine.fire(
        case_id,
        "refer_to_peoples_mediation",
        data={"org_id": "芙蓉区人民调解委员会", "received_on": received.date(), **data},
        at=received,
    )
    return case_id


def in_arbitration_received(engine: Engine, received: datetime) -> int:
    case_id = open_case(engine, received)
    engine.fire(
        case_id,
        "apply_arbitration",
        data={"by": "worker", "received_on": received.date()},
        at=received,
    )
    return case_id


def in_arbitration(engine: Engine, accepted: datetime, **accept_data: Any) -> int:
    case_id = in_arbitration_received(engine, accepted - timedelta(days=1))
    engine.fire(case_id, "accept_arbitration", data=accept_data, at=accepted)
    return case_id


def with_award(engine: Engine, issued: datetime, served_on: dict[str, str], *, final: bool) -> int:
    # Accepted a month earlier, with the defence period long over by the award.
    case_id = in_arbitration(engine, issued - timedelta(days=30))
    engine.fire(
        case_id,
        "issue_award",
        data={
            "items": FINAL_AWARD_ITEMS if final else NONFINAL_AWARD_ITEMS,
            "monthly_minimum_wage": MINIMUM_WAGE,
            "served_on": served_on,
        },
        at=issued,
    )
    assert engine.get(case_id).state == ("award_final" if final else "award_nonfinal")
    return case_id


def in_litigation(engine: Engine, when: datetime) -> int:
    # LDI-1 15: a written wage IOU is sued on directly.
    case_id = open_case(engine, when)
    engine.fire(case_id, "file_lawsuit", data={"by": "worker", "wage_iou": True}, at=when)
    return case_id


# --- timed transitions --------------------------------------------------------------------------


def test_fail_negotiation_when_the_counterpart_does_not_answer_in_5_days(engine: Engine) -> None:
    # Asked Mon 2025-06-09: day 5 = Sat 06-14, Sun 06-15 -> Mon 06-16.
    case_id = in_negotiation(engine, at(2025, 6, 9))
    event = expire(engine, case_id, "negotiation_answer", date(2025, 6, 16))
    assert (event.trigger, event.dest) == ("fail_negotiation", "negotiation_failed")
    assert engine.get(case_id).state == "negotiation_failed"


def test_fail_negotiation_when_the_agreed_negotiation_period_lapses(engine: Engine) -> None:
    # The employer answered on 06-10; the parties agreed to negotiate until Mon 06-30.
    case_id = in_negotiation(engine, at(2025, 6, 9), agreed_until="2025-06-30")
    engine.fire(case_id, "accept_negotiation", data={"by": "employer"}, at=at(2025, 6, 10))
    assert deadline(engine, case_id, "negotiation_answer").status == DeadlineStatus.met

    event = expire(engine, case_id, "negotiation_period", date(2025, 6, 30))
    assert (event.trigger, event.dest) == ("fail_negotiation", "negotiation_failed")


def test_fail_mediation_when_the_15_day_mediation_limit_expires(engine: Engine) -> None:
    # Received Mon 2025-06-09: + 15 = Tue 06-24.
    case_id = in_mediation(engine, at(2025, 6, 9))
    event = expire(engine, case_id, "mediation_limit", date(2025, 6, 24))
    assert (event.trigger, event.dest, event.data["reason"]) == (
        "fail_mediation",
        "mediation_failed",
        "expired",
    )
    assert engine.get(case_id).state == "mediation_failed"


def test_fail_mediation_when_court_delegated_mediation_runs_30_days(engine: Engine) -> None:
    # Accepted by the mediator Mon 2025-06-09: + 30 = Wed 07-09.
    case_id = open_case(engine, at(2025, 6, 9))
    engine.fire(
        case_id,
        "refer_to_prefiling_mediation",
        data={"org_id": "芙蓉区总工会法律服务站", "accepted_on": "2025-06-09"},
        at=at(2025, 6, 9),
    )
    event = expire(engine, case_id, "prefiling_mediation_limit", date(2025, 7, 9))
    assert (event.trigger, event.source, event.dest, event.data["reason"]) == (
        "fail_mediation",
        "prefiling_mediation",
        "mediation_failed",
        "expired",
    )


def test_reject_arbitration_when_no_acceptance_decision_in_5_working_days(
    engine: Engine,
) -> None:
    # Received Mon 2025-06-09: Tue 10 (1), Wed 11 (2), Thu 12 (3), Fri 13 (4), Mon 16 (5).
    case_id = in_arbitration_received(engine, at(2025, 6, 9))
    event = expire(engine, case_id, "arbitration_acceptance", date(2025, 6, 16))
    assert (event.trigger, event.dest) == ("reject_arbitration", "arbitration_not_accepted")
    assert engine.get(case_id).state == "arbitration_not_accepted"


def test_a_paused_acceptance_clock_does_not_expire_until_supplemented(engine: Engine) -> None:
    # Received Mon 06-09 (due Mon 06-16); a supplement is requested on 06-10 and comes on
    # Thu 06-19: Fri 20 (1), Mon 23 (2), Tue 24 (3), Wed 25 (4), Thu 26 (5).
    case_id = in_arbitration_received(engine, at(2025, 6, 9))
    engine.fire(case_id, "request_supplement", at=at(2025, 6, 10))
    assert engine.tick(at(2025, 6, 18)) == []
    assert engine.get(case_id).state == "arbitration_received"

    engine.fire(case_id, "supplement", at=at(2025, 6, 19))
    event = expire(engine, case_id, "arbitration_acceptance", date(2025, 6, 26))
    assert event.trigger == "reject_arbitration"


def test_fail_arbitration_mediation_after_10_working_days_of_entrusted_mediation(
    engine: Engine,
) -> None:
    # Accepted Mon 2025-06-09 (award_limit + 45 = Thu 07-24); the respondent got the application
    # on Thu 06-12 (defence: Fri 13 (1) .. Thu 26 (10)). Entrusted mediation agreed Tue 06-10:
    # Wed 11 (1), Thu 12, Fri 13, Mon 16, Tue 17, Wed 18, Thu 19, Fri 20, Mon 23, Tue 24 (10).
    case_id = in_arbitration(engine, at(2025, 6, 9), respondent_served_on="2025-06-12")
    engine.fire(
        case_id, "start_arbitration_mediation", data={"entrusted": True}, at=at(2025, 6, 10)
    )
    assert engine.get(case_id).state == "arbitration_mediation"

    event = expire(engine, case_id, "arbitration_mediation_limit", date(2025, 6, 24))
    assert (event.trigger, event.dest) == ("fail_arbitration_mediation", "arbitration")
    # The award limit ran on through the mediation.
    limit = deadline(engine, case_id, "award_limit")
    assert (limit.status, limit.due) == (DeadlineStatus.pending, date(2025, 7, 24))


def test_award_takes_effect_when_both_suit_windows_expire(engine: Engine) -> None:
    # 张三 served Tue 06-03: + 15 = Wed 06-18. The employer served Fri 06-06: + 15 = Sat 06-21,
    # Sun 06-22 -> Mon 06-23.
    case_id = with_award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-06"}, final=False
    )
    first = expire(engine, case_id, "suit_window", date(2025, 6, 18), party="worker")
    # One window closing only records its expiry: the employer may still sue.
    assert (first.trigger, first.dest) == ("deadline_expired", "award_nonfinal")
    assert engine.get(case_id).state == "award_nonfinal"

    second = expire(engine, case_id, "suit_window", date(2025, 6, 23), party="employer")
    assert (second.trigger, second.dest) == ("award_takes_effect", "enforceable")
    assert engine.get(case_id).state == "enforceable"
    assert [e.trigger for e in engine.history(case_id)].count("award_takes_effect") == 1
    # In force from Tue 06-24: the 2-year enforcement window counts from that day.
    assert deadline(engine, case_id, "enforcement_window").starts_on == date(2025, 6, 24)


def test_final_award_takes_effect_when_suit_and_revocation_windows_expire(engine: Engine) -> None:
    # Both served Tue 06-03: 张三's suit window + 15 = Wed 06-18; the employer's revocation
    # window + 30 = Thu 07-03.
    case_id = with_award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-03"}, final=True
    )
    first = expire(engine, case_id, "suit_window", date(2025, 6, 18), party="worker")
    assert (first.trigger, first.dest) == ("deadline_expired", "award_final")

    second = expire(engine, case_id, "revocation_window", date(2025, 7, 3), party="employer")
    assert (second.trigger, second.source, second.dest) == (
        "award_takes_effect",
        "award_final",
        "enforceable",
    )


def test_abandon_when_no_party_sues_after_the_award_is_revoked(engine: Engine) -> None:
    # Final award served 06-03; the employer petitions on 06-20 and the court revokes the award,
    # the ruling served on both on Tue 07-01: both suit windows + 15 = Wed 07-16.
    case_id = with_award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-03"}, final=True
    )
    engine.fire(case_id, "apply_revocation", data={"by": "employer"}, at=at(2025, 6, 20))
    engine.fire(
        case_id,
        "revoke_award",
        data={"served_on": {"worker": "2025-07-01", "employer": "2025-07-01"}},
        at=at(2025, 7, 1),
    )
    assert engine.get(case_id).state == "award_revoked"

    # Both windows end on the same day: one event closes the case.
    event = expire(engine, case_id, "suit_window", date(2025, 7, 16), party="worker")
    assert (event.trigger, event.dest) == ("abandon", "closed")
    case = engine.get(case_id)
    assert (case.state, case.resolution) == ("closed", "abandoned")
    assert deadline(engine, case_id, "suit_window", "employer").status == DeadlineStatus.expired


def test_judgment_takes_effect_when_no_party_appeals(engine: Engine) -> None:
    # Judgment served on both Tue 06-03: + 15 = Wed 06-18.
    case_id = in_litigation(engine, at(2025, 5, 6))
    engine.fire(
        case_id,
        "deliver_judgment",
        data={"served_on": {"worker": "2025-06-03", "employer": "2025-06-03"}},
        at=at(2025, 6, 3),
    )
    event = expire(engine, case_id, "appeal_window", date(2025, 6, 18), party="worker")
    assert (event.trigger, event.dest) == ("judgment_takes_effect", "enforceable")
    assert deadline(engine, case_id, "appeal_window", "employer").status == DeadlineStatus.expired


def test_payment_order_takes_effect_15_days_after_service_on_the_employer(
    engine: Engine,
) -> None:
    # The order is served on the employer Fri 06-06: + 15 = Sat 06-21, Sun 06-22 -> Mon 06-23.
    # 张三's own service date starts nothing.
    case_id = open_case(engine, at(2025, 6, 3))
    engine.fire(case_id, "apply_payment_order", data={"by": "worker"}, at=at(2025, 6, 3))
    assert engine.deadlines(case_id) == []  # not served yet
    engine.fire(
        case_id,
        "serve_payment_order",
        data={"served_on": {"worker": "2025-06-05", "employer": "2025-06-06"}},
        at=at(2025, 6, 6),
    )
    assert [(d.kind, d.party) for d in engine.deadlines(case_id)] == [
        ("payment_order_objection", "employer-1")
    ]
    event = expire(engine, case_id, "payment_order_objection", date(2025, 6, 23), party="employer")
    assert (event.trigger, event.dest) == ("payment_order_takes_effect", "enforceable")


@pytest.mark.parametrize(
    ("procedure", "due"),
    [
        ("ordinary", date(2025, 6, 24)),  # Mon 06-09 + 15 = Tue 06-24
        ("simple", date(2025, 6, 16)),  # Mon 06-09 + 7 = Mon 06-16
    ],
)
def test_fail_judicial_mediation_when_court_entrusted_mediation_runs_out(
    engine: Engine, procedure: str, due: date
) -> None:
    case_id = in_litigation(engine, at(2025, 6, 2))
    engine.fire(
        case_id,
        "refer_to_judicial_mediation",
        data={"procedure": procedure, "org_id": "芙蓉区总工会法律服务站"},
        at=at(2025, 6, 9),
    )
    event = expire(engine, case_id, "judicial_mediation_limit", due)
    assert (event.trigger, event.dest) == ("fail_judicial_mediation", "litigation")


def test_enforcement_window_runs_from_the_day_after_the_last_suit_window(engine: Engine) -> None:
    # Both served Tue 06-03: windows end Wed 06-18, the award is in force from Thu 06-19
    # (LDMAL 50; I-2000 2); the 2-year enforcement window counts from that day (CPL 250),
    # even when tick runs late, on Wed 06-25.
    case_id = with_award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-03"}, final=False
    )
    events = engine.tick(at(2025, 6, 25, 10))
    assert [e.trigger for e in events] == ["award_takes_effect"]
    window = deadline(engine, case_id, "enforcement_window")
    assert (window.unit, window.length, window.starts_on) == ("years", 2, date(2025, 6, 19))


def test_tick_reads_the_day_in_shanghai_whatever_the_time_zone_of_at(engine: Engine) -> None:
    # negotiation_answer due Mon 06-16 (as above): 15:59 UTC is 23:59 in Shanghai, 16:01 UTC
    # is 00:01 on Tue 06-17.
    case_id = in_negotiation(engine, at(2025, 6, 9))
    assert engine.tick(datetime(2025, 6, 16, 15, 59, tzinfo=UTC)) == []
    events = engine.tick(datetime(2025, 6, 16, 16, 1, tzinfo=UTC))
    assert [(e.case_id, e.trigger) for e in events] == [(case_id, "fail_negotiation")]


def test_tick_limit_caps_one_call_and_the_next_call_goes_on(engine: Engine) -> None:
    # Five negotiations asked Mon 06-09, all answers due Mon 06-16; at most two per call.
    cases = [in_negotiation(engine, at(2025, 6, 9)) for _ in range(5)]
    moment = just_after(date(2025, 6, 16))
    events = [*engine.tick(moment, limit=2), *engine.tick(moment, limit=2)]
    assert len(events) == 4
    events += engine.tick(moment, limit=2)
    assert [(e.case_id, e.trigger) for e in events] == [(c, "fail_negotiation") for c in cases]
    assert engine.tick(moment) == []


# --- reminders: an event is recorded, the state stays --------------------------------------------


def test_overdue_enterprise_committee_acceptance_is_a_reminder(engine: Engine) -> None:
    # Received Mon 06-09: 3 wd -> Thu 06-12.
    case_id = open_case(engine, at(2025, 6, 9))
    engine.fire(
        case_id,
        "refer_to_union_mediation",
        data={
            "org_id": "长沙某建筑工程有限公司劳动争议调解委员会",
            "org_type": "enterprise_committee",
            "received_on": "2025-06-09",
        },
        at=at(2025, 6, 9),
    )
    event = expire(engine, case_id, "mediation_acceptance", date(2025, 6, 12))
    assert (event.trigger, event.dest) == ("deadline_expired", "union_mediation")
    assert engine.get(case_id).state == "union_mediation"


def test_unperformed_settlement_is_a_reminder(engine: Engine) -> None:
    case_id = in_negotiation(engine, at(2025, 6, 9))
    engine.fire(case_id, "sign_settlement", data={"perform_by": "2025-06-30"}, at=at(2025, 6, 10))
    event = expire(engine, case_id, "settlement_performance", date(2025, 6, 30))
    assert (event.trigger, event.dest) == ("deadline_expired", "settlement_in_performance")


def test_unperformed_mediation_agreement_is_a_reminder(engine: Engine) -> None:
    # Agreement effective Tue 06-10, to be performed by Fri 06-20 (the review window runs to
    # 06-10 + 15 = Wed 06-25, so it does not interfere).
    case_id = in_mediation(engine, at(2025, 6, 9))
    engine.fire(
        case_id,
        "sign_agreement",
        data={"effective_on": "2025-06-10", "perform_by": "2025-06-20"},
        at=at(2025, 6, 10),
    )
    event = expire(engine, case_id, "agreement_performance", date(2025, 6, 20))
    assert (event.trigger, event.dest) == ("deadline_expired", "agreement_in_performance")


def with_agreement(engine: Engine, effective: datetime) -> int:
    case_id = in_mediation(engine, effective - timedelta(days=1))
    engine.fire(case_id, "sign_agreement", data={"effective_on": effective.date()}, at=effective)
    return case_id


def test_overdue_arbitration_review_is_a_reminder(engine: Engine) -> None:
    # Agreement effective Tue 06-10; the review is accepted Fri 06-13: 5 wd, Mon 16 (1) ..
    # Fri 20 (5). (The confirmation window runs to 06-10 + 30 = Thu 07-10.)
    case_id = with_agreement(engine, at(2025, 6, 10))
    engine.fire(
        case_id,
        "apply_arbitration_review",
        data={"by": "both", "accepted_on": "2025-06-13"},
        at=at(2025, 6, 12),
    )
    event = expire(engine, case_id, "review_examination", date(2025, 6, 20))
    assert (event.trigger, event.dest) == ("deadline_expired", "arbitration_review")


def test_overdue_judicial_confirmation_is_a_reminder(engine: Engine) -> None:
    # Agreement effective Tue 06-10; the court accepts the application Fri 06-13: + 15 =
    # Sat 06-28, Sun 06-29 -> Mon 06-30. The unused review window (06-10 + 15 = Wed 06-25)
    # records its own expiry first.
    case_id = with_agreement(engine, at(2025, 6, 10))
    engine.fire(
        case_id,
        "apply_judicial_confirmation",
        data={"by": "both", "accepted_on": "2025-06-13"},
        at=at(2025, 6, 12),
    )
    review = engine.tick(at(2025, 6, 27))
    assert [e.data["expired_deadline"]["kind"] for e in review] == ["arbitration_review_window"]
    event = expire(engine, case_id, "confirmation_decision", date(2025, 6, 30))
    assert (event.trigger, event.dest) == ("deadline_expired", "judicial_confirmation")


def test_overdue_award_is_recorded_as_award_overdue(engine: Engine) -> None:
    # Accepted Wed 2025-06-04: day 45 = Sat 07-19 -> Mon 07-21. The respondent got the
    # application on Fri 06-06: defence Mon 09 (1) .. Fri 20 (10), a reminder of its own.
    case_id = in_arbitration(engine, at(2025, 6, 4), respondent_served_on="2025-06-06")
    defence = engine.tick(at(2025, 7, 1))
    assert [(e.trigger, e.data["expired_deadline"]["kind"]) for e in defence] == [
        ("deadline_expired", "defence_due")
    ]
    assert defence[0].data["expired_deadline"]["due"] == "2025-06-20"

    event = expire(engine, case_id, "award_limit", date(2025, 7, 21))
    assert (event.trigger, event.dest) == ("award_overdue", "arbitration")
    assert engine.get(case_id).state == "arbitration"


def test_a_suspended_award_limit_does_not_expire(engine: Engine) -> None:
    # Accepted 06-04 (due 07-21), suspended on 06-10 and still suspended on 07-31.
    case_id = in_arbitration(engine, at(2025, 6, 4), respondent_served_on="2025-06-06")
    engine.fire(case_id, "suspend_arbitration", at=at(2025, 6, 10))
    events = engine.tick(at(2025, 7, 31))
    assert "award_overdue" not in [e.trigger for e in events]
    assert deadline(engine, case_id, "award_limit").status == DeadlineStatus.paused
    assert engine.get(case_id).state == "arbitration_suspended"


def test_overdue_defence_is_a_reminder(engine: Engine) -> None:
    # Respondent served Thu 06-12: Fri 13 (1), Mon 16 .. Fri 20 (6), Mon 23 .. Thu 26 (10).
    case_id = in_arbitration(engine, at(2025, 6, 9), respondent_served_on="2025-06-12")
    event = expire(engine, case_id, "defence_due", date(2025, 6, 26))
    assert (event.trigger, event.dest) == ("deadline_expired", "arbitration")


# --- the work queue -------------------------------------------------------------------------------


def test_due_lists_pending_deadlines_soonest_first_by_kind_and_region(engine: Engine) -> None:
    # A: Changsha, mediation received Mon 06-09 -> mediation_limit Tue 06-24.
    # B: Liuzhou, arbitration received Mon 06-09 -> arbitration_acceptance Mon 06-16.
    # P: Changsha, the same, but paused by a supplement request: not in the queue.
    # C: Changsha Tianxin, negotiation asked Mon 06-09 -> negotiation_answer Mon 06-16.
    a = in_mediation(engine, at(2025, 6, 9))
    b = open_case(engine, at(2025, 6, 9), region="450203")
    engine.fire(b, "apply_arbitration", data={"by": "worker"}, at=at(2025, 6, 9))
    p = in_arbitration_received(engine, at(2025, 6, 9))
    engine.fire(p, "request_supplement", at=at(2025, 6, 10))
    c = open_case(engine, at(2025, 6, 9), region="430103")
    engine.fire(c, "refer_to_negotiation", at=at(2025, 6, 9))

    def queue(**kw: Any) -> list[tuple[int, str, date]]:
        return [(d.case_id, d.kind, d.due) for d in engine.due(**kw)]

    a_limit = (a, "mediation_limit", date(2025, 6, 24))
    b_acceptance = (b, "arbitration_acceptance", date(2025, 6, 16))
    c_answer = (c, "negotiation_answer", date(2025, 6, 16))

    assert queue(before=date(2025, 6, 25)) == [b_acceptance, c_answer, a_limit]
    assert queue(before=date(2025, 6, 24)) == [b_acceptance, c_answer]  # due before, not on
    assert queue(before=at(2025, 6, 24, 23, 59)) == [b_acceptance, c_answer]
    assert queue(before=date(2025, 6, 16)) == []
    assert queue(before=date(2025, 6, 25), kind="negotiation_answer") == [c_answer]
    assert queue(before=date(2025, 6, 25), region="45") == [b_acceptance]
    assert queue(before=date(2025, 6, 25), region="4301") == [c_answer, a_limit]
    assert queue(before=date(2025, 6, 25), region="4301", kind="mediation_limit") == [a_limit]

    # Once expired, a deadline leaves the queue.
    engine.tick(just_after(date(2025, 6, 16)))
    assert queue(before=date(2025, 6, 25)) == [a_limit]


# --- both backends --------------------------------------------------------------------------------


def test_due_deadline_query_uses_the_status_due_index(db_url: str) -> None:
    engine = Engine(db_url, clock=lambda: at(2025, 3, 3))
    try:
        in_arbitration_received(engine, at(2025, 6, 9))
        db = engine._store.engine
        for stmt in (
            engine._store.due_ids_query(date(2025, 6, 17)),
            engine._store.due_ids_query(date(2025, 6, 17), (date(2025, 6, 1), 7)),
        ):
            sql = str(stmt.compile(dialect=db.dialect, compile_kwargs={"literal_binds": True}))
            with db.connect() as conn:
                if db.dialect.name == "sqlite":
                    rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
                    plan = "\n".join(str(r[-1]) for r in rows)
                    assert "SEARCH mf_deadline USING INDEX ix_mf_deadline_status_due" in plan
                else:
                    # A tiny table would be scanned sequentially; forbid that to see the index.
                    conn.execute(text("SET enable_seqscan = off"))
                    plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
                    assert "ix_mf_deadline_status_due" in plan, plan
    finally:
        engine.close()


def test_tick_expires_per_party_windows_on_each_backend(db_url: str) -> None:
    engine = Engine(db_url, clock=lambda: at(2025, 3, 3))
    try:
        # As test_award_takes_effect_when_both_suit_windows_expire: 06-18 and 06-23.
        case_id = with_award(
            engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-06"}, final=False
        )
        first = expire(engine, case_id, "suit_window", date(2025, 6, 18), party="worker")
        assert (first.trigger, first.dest) == ("deadline_expired", "award_nonfinal")
        second = expire(engine, case_id, "suit_window", date(2025, 6, 23), party="employer")
        assert (second.trigger, second.dest) == ("award_takes_effect", "enforceable")
        assert engine.get(case_id).state == "enforceable"
    finally:
        engine.close()


def test_a_late_tick_lets_the_award_take_effect_after_the_last_window(engine: Engine) -> None:
    # Final award served on both on Thu 2025-03-20: the worker's suit window ends Mon 04-07
    # (day 15, Sat 04-05 rolled over past Qingming 04-04..06), the employer's revocation window
    # Mon 04-21. A tick that runs only on 06-01 applies both: the case becomes enforceable after
    # the later window. A final award is in force from the day it is made (LDMAL 47; flow.md §4
    # amended 2026-12), so its 2-year enforcement window still counts from Thu 03-20, not 04-22.
    case = engine.open_case(make_intake(), at=at(2025, 3, 3))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 3))
    engine.fire(case.id, "accept_arbitration", at=at(2025, 3, 4))
    engine.fire(
        case.id,
        "issue_award",
        at=at(2025, 3, 20),
        data={
            "items": [{"kind": "wages", "amount": "18000"}],
            "monthly_minimum_wage": "1930",
            "served_on": {"worker": "2025-03-20", "employer": "2025-03-20"},
        },
    )
    events = engine.tick(at(2025, 6, 1))
    assert [e.trigger for e in events] == ["deadline_expired", "award_takes_effect"]
    (window,) = [d for d in engine.deadlines(case.id) if d.kind == "enforcement_window"]
    assert str(window.starts_on) == "2025-03-20"
