"""Due dates through the engine (flow.md §3-§4; procedure.md §2.1, §3).

Every case is driven through ``Engine.fire`` to the state where a deadline starts; the due date is
then read back with ``engine.deadlines(case_id)``. Expected dates are worked out by hand from the
State Council's holiday notices for 2024 and 2025, each in a comment ("cd" = calendar days,
"wd" = working days; "day n" = start + n, the start day not counted).

2024: Spring Festival 02-10..17; Qingming 04-04..06; Labour Day 05-01..05; National Day
10-01..07 with make-up working days Sun 09-29 and Sat 10-12.
2025: Spring Festival 01-28..02-04; Qingming 04-04..06; Labour Day 05-01..05; Dragon Boat
05-31..06-02; National Day 10-01..08.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediation_flow import Engine
from mediation_flow.calendar import DEFAULT_CALENDAR, Calendar
from mediation_flow.errors import GuardFailed
from mediation_flow.models import DeadlineStatus
from tests.conftest import at, deadline, make_intake

PENDING, MET, EXPIRED, CANCELLED, PAUSED = (
    DeadlineStatus.pending,
    DeadlineStatus.met,
    DeadlineStatus.expired,
    DeadlineStatus.cancelled,
    DeadlineStatus.paused,
)
NONFINAL_ITEMS = [{"kind": "wages", "amount": "90000.00"}]  # > 12 x 2000: non-final
MINIMUM_WAGE = "2000"
ECONOMIC_COMPENSATION = [{"kind": "economic_compensation", "amount": "30000.00"}]


# --- helpers ------------------------------------------------------------------------------------


def open_case(engine: Engine, when: datetime, **overrides: Any) -> int:
    """张三's case, opened at ``when``; he knew of the infringement (and left) on 2023-12-01."""
    fields = {"knew_of_infringement_on": "2023-12-01", "employment_ended_on": "2023-12-01"}
    return engine.open_case(make_intake(**{**fields, **overrides}), at=when).id


def in_arbitration(engine: Engine, accepted: datetime, **accept_data: Any) -> int:
    """A case accepted for arbitration at ``accepted`` (applied for the day before)."""
    applied = accepted - timedelta(days=1)
    case_id = open_case(engine, applied)
    engine.fire(case_id, "apply_arbitration", data={"by": "worker"}, at=applied)
    engine.fire(case_id, "accept_arbitration", data=accept_data, at=accepted)
    assert engine.get(case_id).state == "arbitration"
    return case_id


def with_nonfinal_award(engine: Engine, issued: datetime, served_on: dict[str, str]) -> int:
    case_id = in_arbitration(engine, issued - timedelta(days=30))
    engine.fire(
        case_id,
        "issue_award",
        data={
            "items": NONFINAL_ITEMS,
            "monthly_minimum_wage": MINIMUM_WAGE,
            "served_on": served_on,
        },
        at=issued,
    )
    assert engine.get(case_id).state == "award_nonfinal"
    return case_id


def in_peoples_mediation(engine: Engine, received: datetime, **overrides: Any) -> int:
    case_id = open_case(engine, received, **overrides)
    engine.fire(
        case_id,
        "refer_to_peoples_mediation",
        data={"org_id": "芙蓉区人民调解委员会", "received_on": received.date()},
        at=received,
    )
    return case_id


def with_agreement(engine: Engine, effective: datetime) -> int:
    case_id = in_peoples_mediation(engine, effective - timedelta(days=10))
    engine.fire(
        case_id,
        "sign_agreement",
        data={"effective_on": effective.date().isoformat()},
        at=effective,
    )
    assert engine.get(case_id).state == "agreement_in_performance"
    return case_id


def in_enterprise_committee(engine: Engine, received: datetime) -> int:
    case_id = open_case(engine, received)
    engine.fire(
        case_id,
        "refer_to_union_mediation",
        data={
            "org_id": "长沙某建筑工程有限公司劳动争议调解委员会",
            "org_type": "enterprise_committee",
            "received_on": received.date().isoformat(),
        },
        at=received,
    )
    return case_id


def assert_refused_and_nothing_written(
    engine: Engine, case_id: int, trigger: str, data: dict[str, Any], when: datetime
) -> GuardFailed:
    before = engine.get(case_id)
    events = len(engine.history(case_id))
    deadlines = engine.deadlines(case_id)
    with pytest.raises(GuardFailed) as info:
        engine.fire(case_id, trigger, data=data, at=when)
    after = engine.get(case_id)
    assert (after.state, after.version) == (before.state, before.version)
    assert len(engine.history(case_id)) == events
    assert engine.deadlines(case_id) == deadlines
    return info.value


# --- 1. the worked examples of flow.md §4 -------------------------------------------------------


def test_suit_window_from_award_served_fri_2024_03_01_ends_mon_2024_03_18(engine: Engine) -> None:
    # 03-01 + 15 = Sat 03-16; Sun 03-17 is rest too -> Mon 03-18.
    case_id = with_nonfinal_award(
        engine, at(2024, 3, 1), {"worker": "2024-03-01", "employer": "2024-03-01"}
    )
    for party in ("worker", "employer"):
        window = deadline(engine, case_id, "suit_window", party)
        assert (window.starts_on, window.due, window.status) == (
            date(2024, 3, 1),
            date(2024, 3, 18),
            PENDING,
        )


def test_arbitration_acceptance_from_application_received_fri_2024_03_01_ends_fri_03_08(
    engine: Engine,
) -> None:
    # Mon 03-04 (1), Tue 05 (2), Wed 06 (3), Thu 07 (4), Fri 08 (5).
    case_id = open_case(engine, at(2024, 2, 26))
    engine.fire(
        case_id,
        "apply_arbitration",
        data={"by": "worker", "received_on": "2024-03-01"},
        at=at(2024, 3, 1),
    )
    acceptance = deadline(engine, case_id, "arbitration_acceptance")
    assert (acceptance.unit, acceptance.length) == ("wd", 5)
    assert acceptance.due == date(2024, 3, 8)


def test_agreement_effective_2024_09_20_opens_review_until_10_08_and_confirmation_until_10_21(
    engine: Engine,
) -> None:
    # Review, 15 cd: day 15 = Sat 10-05, inside the National Day holiday 10-01..07 -> Tue 10-08.
    # Confirmation, 30 cd: day 30 = Sun 10-20 (September has 30 days) -> Mon 10-21.
    case_id = with_agreement(engine, at(2024, 9, 20))
    assert deadline(engine, case_id, "arbitration_review_window").due == date(2024, 10, 8)
    assert deadline(engine, case_id, "judicial_confirmation_window").due == date(2024, 10, 21)


def test_suit_window_ending_on_makeup_saturday_2024_10_12_is_kept_by_default(
    engine: Engine,
) -> None:
    # 09-27 + 15 = Sat 10-12, a make-up working day: by default a working day, no roll-over.
    case_id = with_nonfinal_award(engine, at(2024, 9, 27), {"worker": "2024-09-27"})
    assert deadline(engine, case_id, "suit_window", "worker").due == date(2024, 10, 12)


def test_suit_window_ending_on_makeup_saturday_rolls_to_mon_10_14_when_makeup_days_rest() -> None:
    # Sat 10-12 (make-up day, now a rest day for the roll-over), Sun 10-13 -> Mon 10-14.
    with Engine(
        "sqlite://",
        clock=lambda: at(2024, 9, 27),
        calendar=Calendar(makeup_days_are_rest_days=True),
    ) as engine:
        case_id = with_nonfinal_award(engine, at(2024, 9, 27), {"worker": "2024-09-27"})
        assert deadline(engine, case_id, "suit_window", "worker").due == date(2024, 10, 14)


# --- 2. started, met, cancelled, paused and moved -----------------------------------------------


def test_each_party_suit_window_runs_from_its_own_service_date(engine: Engine) -> None:
    # 张三 served Tue 2025-06-03: + 15 = Wed 06-18.
    # The employer served Fri 06-06: + 15 = Sat 06-21, Sun 06-22 -> Mon 06-23.
    case_id = with_nonfinal_award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-06"}
    )
    worker = deadline(engine, case_id, "suit_window", "worker")
    employer = deadline(engine, case_id, "suit_window", "employer")
    assert (worker.starts_on, worker.due) == (date(2025, 6, 3), date(2025, 6, 18))
    assert (employer.starts_on, employer.due) == (date(2025, 6, 6), date(2025, 6, 23))


def test_serve_award_starts_the_window_of_the_party_served_later(engine: Engine) -> None:
    # Only 张三 is served with the award (Tue 06-03 -> Wed 06-18); the employer is served on
    # Tue 06-10: + 15 = Wed 06-25.
    case_id = with_nonfinal_award(engine, at(2025, 6, 3), {"worker": "2025-06-03"})
    # Windows are keyed by party id (flow.md §6); "worker" names the case's only worker.
    assert [d.party for d in engine.deadlines(case_id) if d.kind == "suit_window"] == ["worker-1"]

    engine.fire(
        case_id,
        "serve_award",
        data={"party": "employer", "served_on": "2025-06-10"},
        at=at(2025, 6, 10),
    )
    windows = {d.party: d for d in engine.deadlines(case_id) if d.kind == "suit_window"}
    assert windows["worker-1"].due == date(2025, 6, 18)
    employer = windows["employer-1"]
    assert (employer.starts_on, employer.due, employer.status) == (
        date(2025, 6, 10),
        date(2025, 6, 25),
        PENDING,
    )


def test_extend_mediation_counts_30_days_from_receipt_and_rolls_over_once(engine: Engine) -> None:
    # Received Fri 2024-03-01. 15 cd: day 15 = Sat 03-16 -> Mon 03-18.
    # Extended by 15: day 30 = Sun 03-31 -> Mon 04-01 (not Mon 03-18 + 15 = Tue 04-02).
    case_id = in_peoples_mediation(engine, at(2024, 3, 1))
    assert deadline(engine, case_id, "mediation_limit").due == date(2024, 3, 18)

    engine.fire(case_id, "extend_mediation", data={"by": "both"}, at=at(2024, 3, 10))
    limit = deadline(engine, case_id, "mediation_limit")
    assert (limit.starts_on, limit.length, limit.due, limit.status) == (
        date(2024, 3, 1),
        30,
        date(2024, 4, 1),
        PENDING,
    )


def test_second_mediation_extension_is_refused(engine: Engine) -> None:
    case_id = in_peoples_mediation(engine, at(2024, 3, 1))
    engine.fire(case_id, "extend_mediation", data={"by": "both", "days": 5}, at=at(2024, 3, 5))

    refusal = assert_refused_and_nothing_written(
        engine, case_id, "extend_mediation", {"by": "both", "days": 5}, at(2024, 3, 6)
    )
    assert refusal.guard == "once:mediation_extended"
    # 03-01 + 20 = Thu 03-21: only the first extension counted.
    assert deadline(engine, case_id, "mediation_limit").due == date(2024, 3, 21)


def test_mediation_extension_beyond_15_days_or_without_both_parties_is_refused(
    engine: Engine,
) -> None:
    case_id = in_peoples_mediation(engine, at(2024, 3, 1))
    too_long = assert_refused_and_nothing_written(
        engine, case_id, "extend_mediation", {"by": "both", "days": 16}, at(2024, 3, 5)
    )
    assert too_long.guard == "extension_at_most:mediation_limit"
    one_side = assert_refused_and_nothing_written(
        engine, case_id, "extend_mediation", {"by": "worker"}, at(2024, 3, 5)
    )
    assert one_side.guard == "both_parties_consent"

    # The refusals used up nothing: a 10-day extension still goes through.
    # 03-01 + 25 = Tue 03-26.
    engine.fire(case_id, "extend_mediation", data={"by": "both", "days": 10}, at=at(2024, 3, 5))
    assert deadline(engine, case_id, "mediation_limit").due == date(2024, 3, 26)


def test_extend_award_limit_counts_60_days_from_acceptance_once(engine: Engine) -> None:
    # Accepted Wed 2025-06-04. 45 cd: day 45 = Sat 07-19 -> Mon 07-21.
    # Extended: day 60 = Sun 08-03 -> Mon 08-04 (not Mon 07-21 + 15 = Tue 08-05).
    case_id = in_arbitration(engine, at(2025, 6, 4))
    assert deadline(engine, case_id, "award_limit").due == date(2025, 7, 21)

    engine.fire(case_id, "extend_award_limit", at=at(2025, 7, 10))
    limit = deadline(engine, case_id, "award_limit")
    assert (limit.starts_on, limit.length, limit.due) == (date(2025, 6, 4), 60, date(2025, 8, 4))

    refusal = assert_refused_and_nothing_written(
        engine, case_id, "extend_award_limit", {}, at(2025, 7, 20)
    )
    assert refusal.guard == "once:award_limit_extended"
    assert deadline(engine, case_id, "award_limit").due == date(2025, 8, 4)


def test_suspension_adds_its_days_to_award_limit(engine: Engine) -> None:
    # Accepted Wed 2025-06-04 (due Mon 07-21). Suspended 06-10, resumed 06-20: 10 days.
    # 45 + 10 = 55 cd from acceptance: 06-04 + 55 = Tue 07-29 (not 07-21 + 10 = 07-31).
    case_id = in_arbitration(engine, at(2025, 6, 4))
    engine.fire(case_id, "suspend_arbitration", data={"reason": "等待工伤认定"}, at=at(2025, 6, 10))
    assert deadline(engine, case_id, "award_limit").status == PAUSED

    engine.fire(case_id, "resume_arbitration", at=at(2025, 6, 20))
    limit = deadline(engine, case_id, "award_limit")
    assert (limit.status, limit.starts_on, limit.length, limit.due) == (
        PENDING,
        date(2025, 6, 4),
        55,
        date(2025, 7, 29),
    )

    # A second suspension, 07-01 to 07-04 (3 days): 58 cd, 06-04 + 58 = Fri 08-01.
    engine.fire(case_id, "suspend_arbitration", at=at(2025, 7, 1))
    engine.fire(case_id, "resume_arbitration", at=at(2025, 7, 4))
    limit = deadline(engine, case_id, "award_limit")
    assert (limit.length, limit.due) == (58, date(2025, 8, 1))


def test_supplement_restarts_arbitration_acceptance_from_the_supplement_date(
    engine: Engine,
) -> None:
    # Received Mon 2025-06-09: 5 wd -> Mon 06-16. A supplement is requested on 06-10 (the clock
    # stops) and comes on Thu 06-19: Fri 20 (1), Mon 23 (2), Tue 24 (3), Wed 25 (4), Thu 26 (5).
    case_id = open_case(engine, at(2025, 6, 9))
    engine.fire(
        case_id,
        "apply_arbitration",
        data={"by": "worker", "received_on": "2025-06-09"},
        at=at(2025, 6, 9),
    )
    assert deadline(engine, case_id, "arbitration_acceptance").due == date(2025, 6, 16)

    engine.fire(case_id, "request_supplement", data={"items": "工资条"}, at=at(2025, 6, 10))
    assert deadline(engine, case_id, "arbitration_acceptance").status == PAUSED

    engine.fire(case_id, "supplement", at=at(2025, 6, 19))
    acceptances = [d for d in engine.deadlines(case_id) if d.kind == "arbitration_acceptance"]
    assert [(d.status, d.starts_on, d.due) for d in acceptances] == [
        (CANCELLED, date(2025, 6, 9), date(2025, 6, 16)),
        (PENDING, date(2025, 6, 19), date(2025, 6, 26)),
    ]


def test_accept_mediation_meets_the_enterprise_committee_acceptance_deadline(
    engine: Engine,
) -> None:
    # Received Mon 2025-06-09: 3 wd -> Thu 06-12; mediation_limit 15 cd -> Tue 06-24.
    case_id = in_enterprise_committee(engine, at(2025, 6, 9))
    assert deadline(engine, case_id, "mediation_acceptance").due == date(2025, 6, 12)

    engine.fire(case_id, "accept_mediation", data={"accepted_on": "2025-06-11"}, at=at(2025, 6, 11))
    assert deadline(engine, case_id, "mediation_acceptance").status == MET
    limit = deadline(engine, case_id, "mediation_limit")
    assert (limit.status, limit.due) == (PENDING, date(2025, 6, 24))


def test_peoples_mediation_has_no_acceptance_deadline(engine: Engine) -> None:
    # ENMP 22's 3 working days bind the enterprise committee only.
    case_id = in_peoples_mediation(engine, at(2025, 6, 9))
    assert [d.kind for d in engine.deadlines(case_id)] == ["mediation_limit"]


def test_leaving_mediation_cancels_open_deadlines_and_expires_passed_ones(engine: Engine) -> None:
    # Received Mon 06-09: acceptance due Thu 06-12 (passed on 06-16), limit due Tue 06-24.
    # 李四 applies for arbitration on Mon 06-16 (mediation is never compulsory).
    case_id = in_enterprise_committee(engine, at(2025, 6, 9))
    engine.fire(
        case_id,
        "apply_arbitration",
        data={"by": "worker", "received_on": "2025-06-16"},
        at=at(2025, 6, 16),
    )
    assert deadline(engine, case_id, "mediation_acceptance").status == EXPIRED
    assert deadline(engine, case_id, "mediation_limit").status == CANCELLED
    # The new stage's clock: Tue 17 (1) .. Mon 23 (5).
    acceptance = deadline(engine, case_id, "arbitration_acceptance")
    assert (acceptance.status, acceptance.due) == (PENDING, date(2025, 6, 23))


def test_referral_to_another_mediation_expires_a_passed_mediation_limit(engine: Engine) -> None:
    # People's mediation received Mon 06-09: limit due Tue 06-24. On Mon 06-30, with no tick run
    # since, the case is referred to union mediation: the old limit's day had passed, so it
    # expired (it was not merely cancelled); the new organisation's limit runs from 06-30:
    # + 15 = Tue 07-15.
    case_id = in_peoples_mediation(engine, at(2025, 6, 9))
    engine.fire(
        case_id,
        "refer_to_union_mediation",
        data={"org_id": "芙蓉区总工会", "org_type": "union_org", "received_on": "2025-06-30"},
        at=at(2025, 6, 30),
    )
    limits = [d for d in engine.deadlines(case_id) if d.kind == "mediation_limit"]
    assert [(d.status, d.due) for d in limits] == [
        (EXPIRED, date(2025, 6, 24)),
        (PENDING, date(2025, 7, 15)),
    ]


def test_a_met_deadline_shows_status_met(engine: Engine) -> None:
    case_id = in_peoples_mediation(engine, at(2025, 6, 9))
    engine.fire(case_id, "sign_agreement", data={"effective_on": "2025-06-20"}, at=at(2025, 6, 20))
    limit = deadline(engine, case_id, "mediation_limit")
    assert (limit.status, limit.due) == (MET, date(2025, 6, 24))

    case_id = in_arbitration(engine, at(2025, 6, 4))
    assert deadline(engine, case_id, "arbitration_acceptance").status == MET


# --- 3. windows that close a guard --------------------------------------------------------------


def test_arbitration_review_refused_after_the_15_day_window(engine: Engine) -> None:
    # Effective Fri 2024-09-20: the window's due date is Tue 10-08 (worked example).
    case_id = with_agreement(engine, at(2024, 9, 20))
    refusal = assert_refused_and_nothing_written(
        engine, case_id, "apply_arbitration_review", {"by": "both"}, at(2024, 10, 9)
    )
    assert refusal.guard == "within:arbitration_review_window"
    assert refusal.deadline == "arbitration_review_window"
    assert refusal.due == date(2024, 10, 8)
    assert "2024-10-08" in str(refusal)


def test_arbitration_review_allowed_until_the_end_of_the_due_day(engine: Engine) -> None:
    case_id = with_agreement(engine, at(2024, 9, 20))
    case = engine.fire(
        case_id, "apply_arbitration_review", data={"by": "both"}, at=at(2024, 10, 8, 23, 59)
    )
    assert case.state == "arbitration_review"
    assert deadline(engine, case_id, "arbitration_review_window").status == MET


def test_worker_lawsuit_refused_after_the_worker_suit_window_employer_still_in_time(
    engine: Engine,
) -> None:
    # 张三 served Fri 2024-03-01 -> Mon 03-18; the employer served Tue 03-05 -> Wed 03-20.
    case_id = with_nonfinal_award(
        engine, at(2024, 3, 1), {"worker": "2024-03-01", "employer": "2024-03-05"}
    )
    refusal = assert_refused_and_nothing_written(
        engine, case_id, "file_lawsuit", {"by": "worker"}, at(2024, 3, 19)
    )
    assert refusal.guard == "within:suit_window"
    assert (refusal.deadline, refusal.due) == ("suit_window", date(2024, 3, 18))
    assert "2024-03-18" in str(refusal)

    case = engine.fire(case_id, "file_lawsuit", data={"by": "employer"}, at=at(2024, 3, 19))
    assert case.state == "litigation"


def test_judicial_confirmation_refused_after_30_days(engine: Engine) -> None:
    # Effective Fri 2024-09-20: the window's due date is Mon 10-21 (worked example).
    case_id = with_agreement(engine, at(2024, 9, 20))
    refusal = assert_refused_and_nothing_written(
        engine, case_id, "apply_judicial_confirmation", {"by": "both"}, at(2024, 10, 22)
    )
    assert refusal.guard == "within:judicial_confirmation_window"
    assert (refusal.deadline, refusal.due) == ("judicial_confirmation_window", date(2024, 10, 21))
    assert "2024-10-21" in str(refusal)


def test_lawsuit_from_arbitration_refused_until_award_limit_ran_out(engine: Engine) -> None:
    # Accepted Wed 2025-06-04: award_limit due Mon 07-21 (day 45 = Sat 07-19).
    case_id = in_arbitration(engine, at(2025, 6, 4))
    refusal = assert_refused_and_nothing_written(
        engine, case_id, "file_lawsuit", {"by": "worker"}, at(2025, 7, 21, 23, 59)
    )
    assert refusal.guard == "expired:award_limit"
    assert (refusal.deadline, refusal.due) == ("award_limit", date(2025, 7, 21))
    assert "2025-07-21" in str(refusal)

    case = engine.fire(case_id, "file_lawsuit", data={"by": "worker"}, at=at(2025, 7, 22))
    assert case.state == "litigation"


# --- 4. the limitation period -------------------------------------------------------------------


def test_limitation_restarts_on_intake_mediation_breach_and_payment_order(engine: Engine) -> None:
    # Economic compensation; 张三 knew on 2024-01-10.
    # Intake Thu 2024-02-01 -> 2025-02-01 (Sat, Spring Festival 01-28..02-04) -> Wed 2025-02-05.
    case_id = open_case(
        engine,
        at(2024, 2, 1),
        knew_of_infringement_on="2024-01-10",
        claims=ECONOMIC_COMPENSATION,
    )
    assert engine.get(case_id).limitation_expires_on == date(2025, 2, 5)

    # Mediation application Mon 2024-05-06 -> Tue 2025-05-06 (Labour Day 05-01..05 is over).
    engine.fire(
        case_id,
        "refer_to_peoples_mediation",
        data={"org_id": "芙蓉区人民调解委员会", "received_on": "2024-05-06"},
        at=at(2024, 5, 6),
    )
    assert engine.get(case_id).limitation_expires_on == date(2025, 5, 6)

    # Signing the agreement is the employer agreeing to perform (LDMAL 27 ¶2; flow.md §4 amended
    # 2026-12): Mon 2024-05-20 -> Tue 2025-05-20, a working day.
    engine.fire(case_id, "sign_agreement", data={"effective_on": "2024-05-20"}, at=at(2024, 5, 20))
    assert engine.get(case_id).limitation_expires_on == date(2025, 5, 20)

    # Breach Mon 2024-07-01 -> Tue 2025-07-01; payment order Mon 07-15 -> Tue 2025-07-15.
    engine.fire(case_id, "report_breach", at=at(2024, 7, 1))
    assert engine.get(case_id).limitation_expires_on == date(2025, 7, 1)
    engine.fire(case_id, "apply_payment_order", data={"by": "worker"}, at=at(2024, 7, 15))
    case = engine.get(case_id)
    assert (case.state, case.limitation_expires_on) == ("payment_order", date(2025, 7, 15))


def test_limitation_restarts_on_apply_arbitration(engine: Engine) -> None:
    # Intake 2024-02-01 -> 2025-02-05 (as above); arbitration Mon 2024-06-03 -> Tue 2025-06-03.
    case_id = open_case(
        engine,
        at(2024, 2, 1),
        knew_of_infringement_on="2024-01-10",
        claims=ECONOMIC_COMPENSATION,
    )
    engine.fire(case_id, "apply_arbitration", data={"by": "worker"}, at=at(2024, 6, 3))
    assert engine.get(case_id).limitation_expires_on == date(2025, 6, 3)
    assert engine.history(case_id)[-1].warnings == ()


def test_limitation_restarts_from_the_day_the_application_was_received(engine: Engine) -> None:
    # The commission received 张三's application on Mon 2024-06-03; the officer records it on
    # Wed 06-05. The application interrupts the period on the day it was made: -> Tue 2025-06-03
    # (as the intake's own receipt date does for the first claim).
    case_id = open_case(
        engine,
        at(2024, 2, 1),
        knew_of_infringement_on="2024-01-10",
        claims=ECONOMIC_COMPENSATION,
    )
    engine.fire(
        case_id,
        "apply_arbitration",
        data={"by": "worker", "received_on": "2024-06-03"},
        at=at(2024, 6, 5),
    )
    assert engine.get(case_id).limitation_expires_on == date(2025, 6, 3)


def test_limitation_runs_from_knowledge_and_an_expired_period_is_not_revived(
    engine: Engine,
) -> None:
    # Knew Tue 2023-01-10 -> Wed 2024-01-10. The intake on 2024-03-01 comes too late to interrupt.
    case_id = open_case(
        engine,
        at(2024, 3, 1),
        knew_of_infringement_on="2023-01-10",
        claims=ECONOMIC_COMPENSATION,
    )
    assert engine.get(case_id).limitation_expires_on == date(2024, 1, 10)
    engine.fire(
        case_id,
        "refer_to_peoples_mediation",
        data={"org_id": "芙蓉区人民调解委员会"},
        at=at(2024, 3, 4),
    )
    assert engine.get(case_id).limitation_expires_on == date(2024, 1, 10)


def test_an_interruption_on_the_last_day_restarts_the_limitation(engine: Engine) -> None:
    # Knew 2023-01-10 -> 2024-01-10; the intake on that very day restarts it: Fri 2025-01-10.
    case_id = open_case(
        engine,
        at(2024, 1, 10),
        knew_of_infringement_on="2023-01-10",
        claims=ECONOMIC_COMPENSATION,
    )
    assert engine.get(case_id).limitation_expires_on == date(2025, 1, 10)


def test_wage_claim_has_no_limitation_while_employment_continues(engine: Engine) -> None:
    case_id = open_case(engine, at(2024, 3, 1), employment_ended_on=None)
    assert engine.get(case_id).limitation_expires_on is None
    engine.fire(case_id, "apply_arbitration", data={"by": "worker"}, at=at(2024, 3, 4))
    assert engine.get(case_id).limitation_expires_on is None
    assert engine.history(case_id)[-1].warnings == ()


def test_wage_claim_limitation_runs_one_year_from_the_end_of_employment(engine: Engine) -> None:
    # Left Tue 2023-01-10 -> Wed 2024-01-10, whatever the knowledge date (2022-05-01); the
    # intake on 2024-03-01 is too late to restart it.
    case_id = open_case(
        engine,
        at(2024, 3, 1),
        knew_of_infringement_on="2022-05-01",
        employment_ended_on="2023-01-10",
    )
    assert engine.get(case_id).limitation_expires_on == date(2024, 1, 10)

    # Left 2024-01-10; the intake on Thu 2024-02-01 restarts it: -> Wed 2025-02-05.
    case_id = open_case(
        engine,
        at(2024, 2, 1),
        knew_of_infringement_on="2022-05-01",
        employment_ended_on="2024-01-10",
    )
    assert engine.get(case_id).limitation_expires_on == date(2025, 2, 5)


def test_arbitration_after_limitation_expired_goes_ahead_with_a_warning(engine: Engine) -> None:
    # Expired at the end of Wed 2024-01-10 (as above); AR 30: never a ground to refuse.
    case_id = open_case(
        engine,
        at(2024, 3, 1),
        knew_of_infringement_on="2023-01-10",
        claims=ECONOMIC_COMPENSATION,
    )
    case = engine.fire(case_id, "apply_arbitration", data={"by": "worker"}, at=at(2024, 3, 4))
    assert case.state == "arbitration_received"
    last = engine.history(case_id)[-1]
    assert (last.trigger, last.warnings) == ("apply_arbitration", ("limitation_expired",))
    assert engine.get(case_id).limitation_expires_on == date(2024, 1, 10)


# --- 5. regional rest days ----------------------------------------------------------------------


@pytest.fixture
def guangxi_engine() -> Iterator[Engine]:
    # Guangxi's 2025 三月三: Mon 03-31 and Tue 04-01 off, for every region code starting "45".
    calendar = Calendar(regional_rest_days={"45": [date(2025, 3, 31), date(2025, 4, 1)]})
    with Engine("sqlite://", clock=lambda: at(2025, 3, 3), calendar=calendar) as eng:
        yield eng


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        # Received Sun 03-16: + 15 = Mon 03-31; in Liuzhou 03-31 and 04-01 are rest -> Wed 04-02.
        ("450203", date(2025, 4, 2)),
        ("430102", date(2025, 3, 31)),
    ],
)
def test_regional_rest_day_moves_mediation_limit_only_in_its_region(
    guangxi_engine: Engine, region: str, expected: date
) -> None:
    case_id = open_case(guangxi_engine, at(2025, 3, 17), region=region)
    guangxi_engine.fire(
        case_id,
        "refer_to_peoples_mediation",
        data={"org_id": "人民调解委员会", "received_on": "2025-03-16"},
        at=at(2025, 3, 17),
    )
    assert deadline(guangxi_engine, case_id, "mediation_limit").due == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        # Received Mon 03-24: Tue 25 (1), Wed 26 (2), Thu 27 (3), Fri 28 (4), Mon 31 (5);
        # in Liuzhou 03-31 and 04-01 are no working days -> Wed 04-02 (5).
        ("450203", date(2025, 4, 2)),
        ("430102", date(2025, 3, 31)),
    ],
)
def test_regional_rest_day_is_no_working_day_for_arbitration_acceptance(
    guangxi_engine: Engine, region: str, expected: date
) -> None:
    case_id = open_case(guangxi_engine, at(2025, 3, 24), region=region)
    guangxi_engine.fire(
        case_id,
        "apply_arbitration",
        data={"by": "worker", "received_on": "2025-03-24"},
        at=at(2025, 3, 24),
    )
    assert deadline(guangxi_engine, case_id, "arbitration_acceptance").due == expected


# --- 6. a property ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def award_case() -> Iterator[tuple[Engine, int]]:
    """One non-final award whose service on 张三 each example records again."""
    with Engine("sqlite://", clock=lambda: at(2025, 3, 3)) as eng:
        yield eng, with_nonfinal_award(eng, at(2024, 1, 2), {"worker": "2024-01-02"})


@settings(max_examples=40, deadline=None)
@given(served=st.dates(min_value=date(2024, 1, 2), max_value=date(2025, 11, 30)))
def test_suit_window_due_is_the_first_non_rest_day_from_day_15(
    award_case: tuple[Engine, int], served: date
) -> None:
    engine, case_id = award_case
    engine.fire(
        case_id,
        "serve_award",
        data={"party": "worker", "served_on": served},
        # Recorded after every service date the strategy draws: a case's history is written
        # in order, and service dates are data.
        at=at(2025, 12, 31, 18),
    )
    window = deadline(engine, case_id, "suit_window", "worker")
    assert window.starts_on == served
    day_15 = served + timedelta(days=15)
    assert window.due >= day_15
    assert not DEFAULT_CALENDAR.is_rest_day(window.due)
    # Every day skipped between day 15 and the due date is a rest day (one roll-over, no more).
    skipped = (day_15 + timedelta(days=i) for i in range((window.due - day_15).days))
    assert all(DEFAULT_CALENDAR.is_rest_day(d) for d in skipped)
    # No rest-day run in 2024-2025 is longer than 8 days (National Day 2025: 10-01..08).
    assert window.due - day_15 <= timedelta(days=8)
