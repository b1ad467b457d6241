"""Scenarios a labour-dispute arbitration commission meets every week, each written from the
statutes: every expected date is worked out by hand in a comment citing its article.

Holidays (State Council notices): 2025 Qingming 04-04..06, Labour Day 05-01..05, Dragon Boat
05-31..06-02, National Day 10-01..08 (make-up working days Sun 09-28, Sat 10-11); 2026 New Year
01-01..03, Spring Festival 02-15..23, Qingming 04-04..06, Labour Day 05-01..05, Dragon Boat
06-19..21. "cd" = calendar days (start day not counted, a rest last day rolls over: CPL 85;
AR 19), "wd" = working days (AR 80).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from mediation_flow import Engine
from mediation_flow.errors import GuardFailed, IllegalTransition, InvalidData, InvalidIntake
from mediation_flow.models import DeadlineStatus
from tests.conftest import at, deadline, make_intake

MINIMUM_WAGE = "2000"  # 12 x 2,000 = 24,000: the final-award ceiling (LDMAL 47(1))
FINAL_ITEMS = [{"kind": "wages", "amount": "18000.00"}]
MIXED_ITEMS = [{"kind": "social_insurance"}, {"kind": "wages", "amount": "90000.00"}]


def just_after(day: date) -> datetime:
    nxt = day + timedelta(days=1)
    return at(nxt.year, nxt.month, nxt.day, 0, 1)


def in_arbitration(engine: Engine, accepted: datetime, **intake: Any) -> int:
    case = engine.open_case(make_intake(**intake), at=accepted - timedelta(days=1))
    engine.fire(
        case.id, "apply_arbitration", data={"by": "worker"}, at=accepted - timedelta(days=1)
    )
    engine.fire(case.id, "accept_arbitration", at=accepted)
    return case.id


def award(
    engine: Engine,
    issued: datetime,
    served_on: dict[str, str],
    items: list[dict[str, Any]],
    **data: Any,
) -> int:
    case_id = in_arbitration(engine, issued - timedelta(days=30))
    engine.fire(
        case_id,
        "issue_award",
        data={
            "items": items,
            "monthly_minimum_wage": MINIMUM_WAGE,
            "served_on": served_on,
            **data,
        },
        at=issued,
    )
    return case_id


# --- (a) what the engine had wrong ---------------------------------------------------------------


def test_a_final_award_is_enforceable_from_the_day_it_is_made(engine: Engine) -> None:
    # LDMAL 47: a final award takes effect on the day it is made, Tue 2025-06-03; CPL 250: the
    # 2-year enforcement window runs from that day (flow.md §4 amended 2026-12), not from the day
    # after the employer's 30-day revocation window (Thu 07-03). 2027-06-03 is a Thursday, but
    # the 2027 schedule is not published: the due date is provisional.
    case_id = award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-03"}, FINAL_ITEMS
    )
    window = deadline(engine, case_id, "enforcement_window")
    assert (window.starts_on, window.due, window.provisional) == (
        date(2025, 6, 3),
        date(2027, 6, 3),
        True,
    )
    assert engine.get(case_id).attributes["award_effective_from"] == "2025-06-03"
    # Both windows run out (worker Wed 06-18, employer Thu 07-03): the case becomes enforceable
    # and keeps the window that started with the award.
    events = engine.tick(just_after(date(2025, 7, 3)))
    assert [e.trigger for e in events] == ["deadline_expired", "award_takes_effect"]
    windows = [d for d in engine.deadlines(case_id) if d.kind == "enforcement_window"]
    assert [(d.starts_on, d.status) for d in windows] == [
        (date(2025, 6, 3), DeadlineStatus.pending)
    ]


def test_a_final_award_with_a_performance_date_is_enforceable_from_that_date(
    engine: Engine,
) -> None:
    # CPL 250: the window runs from the last day of the performance period the award sets,
    # Mon 2025-06-30 -> Wed 2027-06-30 (provisional: 2027 unknown). The worker may apply for
    # enforcement at once, within it (LDMAL 47, 51).
    case_id = award(
        engine,
        at(2025, 6, 3),
        {"worker": "2025-06-03", "employer": "2025-06-03"},
        FINAL_ITEMS,
        perform_by="2025-06-30",
    )
    assert deadline(engine, case_id, "enforcement_window").starts_on == date(2025, 6, 30)
    case = engine.fire(case_id, "apply_enforcement", data={"by": "worker"}, at=at(2025, 7, 2))
    assert case.state == "enforcement"
    assert deadline(engine, case_id, "enforcement_window").status == DeadlineStatus.met


def test_a_signed_settlement_restarts_the_limitation_period(engine: Engine) -> None:
    # Economic compensation, known on 2025-01-10; intake Mon 2025-03-03 -> 2026-03-03 (Tue).
    # LDMAL 27 ¶2: the employer agreeing to perform (a settlement signed Mon 2025-06-09)
    # restarts it: -> Tue 2026-06-09, a working day.
    case = engine.open_case(
        make_intake(
            claims=[{"kind": "economic_compensation", "amount": "9000"}],
            knew_of_infringement_on="2025-01-10",
        ),
        at=at(2025, 3, 3),
    )
    assert case.limitation_expires_on == date(2026, 3, 3)
    engine.fire(case.id, "refer_to_negotiation", at=at(2025, 6, 9))
    case = engine.fire(
        case.id, "sign_settlement", data={"perform_by": "2025-06-30"}, at=at(2025, 6, 9)
    )
    assert case.limitation_expires_on == date(2026, 6, 9)


def test_mediation_running_out_restarts_the_limitation_period_from_its_last_day(
    engine: Engine,
) -> None:
    # People's mediation received Mon 2025-06-09: 15 cd -> Tue 06-24 (LDMAL 14 ¶3). It runs out
    # without agreement; ENMP 31 restarts limitation from that day: Tue 06-24 + 1 year =
    # Wed 2026-06-24, a working day (Dragon Boat 2026 is 06-19..21). Before, the mediation
    # application had restarted it on 06-09 -> Tue 2026-06-09: the warning came 15 days early.
    case = engine.open_case(
        make_intake(
            claims=[{"kind": "economic_compensation", "amount": "9000"}],
            knew_of_infringement_on="2025-01-10",
        ),
        at=at(2025, 6, 9),
    )
    case = engine.fire(
        case.id,
        "refer_to_peoples_mediation",
        data={"org_id": "芙蓉区人民调解委员会", "received_on": "2025-06-09"},
        at=at(2025, 6, 9),
    )
    assert case.limitation_expires_on == date(2026, 6, 9)
    (event,) = engine.tick(just_after(date(2025, 6, 24)))
    assert (event.trigger, event.dest) == ("fail_mediation", "mediation_failed")
    case = engine.get(case.id)
    assert case.limitation_expires_on == date(2026, 6, 24)
    assert case.attributes["limitation_interruptions"][-1] == "2025-06-24"


def test_withdrawing_the_workers_suit_against_a_final_award_reopens_revocation(
    engine: Engine,
) -> None:
    # Final award served on both Tue 2025-06-03. 张三 sues Tue 06-10 (within 15 cd, LDMAL 48),
    # and the case is in court: no petition meanwhile (LDI-1 21 ¶1). He withdraws; the ruling
    # reaches the employer Wed 07-02. LDI-1 21 ¶2: the employer may petition within 30 days of
    # receiving it: 07-02 + 30 = Fri 08-01.
    case_id = award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-03"}, FINAL_ITEMS
    )
    engine.fire(case_id, "file_lawsuit", data={"by": "worker"}, at=at(2025, 6, 10))
    with pytest.raises(IllegalTransition):
        engine.fire(case_id, "apply_revocation", data={"by": "employer"}, at=at(2025, 6, 11))
    case = engine.fire(
        case_id,
        "withdraw_lawsuit",
        data={"by": "worker", "ruling_served_on": {"employer": "2025-07-02"}},
        at=at(2025, 7, 1),
    )
    assert case.state == "award_final"
    window = deadline(engine, case_id, "revocation_window", "employer")
    assert (window.starts_on, window.due) == (date(2025, 7, 2), date(2025, 8, 1))
    # The award was in force all along (LDMAL 47): its enforcement window runs from 06-03.
    assert deadline(engine, case_id, "enforcement_window").starts_on == date(2025, 6, 3)
    # No petition by Fri 08-01: the award stands and the case becomes enforceable on 08-02.
    assert engine.tick(at(2025, 8, 1, 23, 59)) == []
    (event,) = engine.tick(just_after(date(2025, 8, 1)))
    assert (event.trigger, event.dest) == ("award_takes_effect", "enforceable")


def test_the_employer_petitions_after_the_workers_suit_is_dismissed(engine: Engine) -> None:
    # As above, but the court dismisses the suit; the ruling reaches the employer Mon 07-07:
    # + 30 = Wed 08-06 (LDI-1 21 ¶2). The petition on Mon 07-28 is in time.
    case_id = award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-03"}, FINAL_ITEMS
    )
    engine.fire(case_id, "file_lawsuit", data={"by": "worker"}, at=at(2025, 6, 10))
    engine.fire(
        case_id,
        "dismiss_lawsuit",
        data={"ruling_served_on": {"employer": "2025-07-07"}},
        at=at(2025, 7, 7),
    )
    assert deadline(engine, case_id, "revocation_window", "employer").due == date(2025, 8, 6)
    case = engine.fire(case_id, "apply_revocation", data={"by": "employer"}, at=at(2025, 7, 28))
    assert case.state == "revocation_review"


def test_dismissing_a_suit_applies_only_to_the_workers_suit_on_a_final_award(
    engine: Engine,
) -> None:
    # A non-final award (90,000 > 24,000): the employer's suit is not one LDI-1 21 ¶2 speaks of.
    case_id = award(
        engine,
        at(2025, 6, 3),
        {"worker": "2025-06-03", "employer": "2025-06-03"},
        [{"kind": "wages", "amount": "90000"}],
    )
    engine.fire(case_id, "file_lawsuit", data={"by": "employer"}, at=at(2025, 6, 10))
    with pytest.raises(GuardFailed) as info:
        engine.fire(case_id, "dismiss_lawsuit", at=at(2025, 7, 7))
    assert info.value.guard == "suit_on_final_award"


def test_a_mixed_award_is_two_award_documents_with_their_own_remedies(engine: Engine) -> None:
    # AR 50 ¶4: social insurance (final whatever the amount, LDMAL 47(2)) and 90,000 of wages
    # (> 24,000: non-final) are awarded in two documents on Tue 2025-06-03. Served on 张三
    # Tue 06-03 and on the employer Fri 06-06.
    # - final award: 张三 may sue within 15 cd (LDMAL 48): Wed 06-18; the employer may petition
    #   for revocation within 30 cd (LDMAL 49): 06-06 + 30 = Sun 07-06 -> Mon 07-07.
    # - non-final award: either may sue within 15 cd (LDMAL 50): 张三 Wed 06-18, the employer
    #   06-21 (Sat) -> Mon 06-23.
    case_id = award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-06"}, MIXED_ITEMS
    )
    case = engine.get(case_id)
    assert case.state == "award_nonfinal"
    final_doc, nonfinal_doc = case.attributes["award_documents"]
    assert final_doc["document"] == "final"
    assert [i["kind"] for i in final_doc["items"]] == ["social_insurance"]
    assert final_doc["remedies"] == {"worker": "suit_window", "employer": "revocation_window"}
    assert final_doc["effective_on"] == "2025-06-03"  # LDMAL 47: in force when made
    assert nonfinal_doc["document"] == "nonfinal"
    assert [i["kind"] for i in nonfinal_doc["items"]] == ["wages"]
    assert nonfinal_doc["remedies"] == {"worker": "suit_window", "employer": "suit_window"}
    dues = {(d.kind, d.party): d.due for d in engine.deadlines(case_id) if d.party}
    assert dues == {
        ("suit_window", "worker-1"): date(2025, 6, 18),
        ("suit_window", "employer-1"): date(2025, 6, 23),
        ("revocation_window", "employer-1"): date(2025, 7, 7),
    }
    # After both suit windows, the employer's petition window on the final award still runs.
    events = engine.tick(just_after(date(2025, 6, 23)))
    assert [e.trigger for e in events] == ["deadline_expired", "deadline_expired"]
    assert engine.get(case_id).state == "award_nonfinal"
    (event,) = engine.tick(just_after(date(2025, 7, 7)))
    assert (event.trigger, event.dest) == ("award_takes_effect", "enforceable")


def test_the_employer_petitions_against_the_final_one_of_two_awards(engine: Engine) -> None:
    # As above; the employer petitions on Mon 06-30, within its 30 days (LDMAL 49). A pure
    # non-final award has no revocation window, so there the petition is refused.
    case_id = award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-06"}, MIXED_ITEMS
    )
    case = engine.fire(case_id, "apply_revocation", data={"by": "employer"}, at=at(2025, 6, 30))
    assert case.state == "revocation_review"
    other = award(
        engine,
        at(2025, 6, 3),
        {"worker": "2025-06-03", "employer": "2025-06-06"},
        [{"kind": "wages", "amount": "90000"}],
    )
    with pytest.raises(GuardFailed) as info:
        engine.fire(other, "apply_revocation", data={"by": "employer"}, at=at(2025, 6, 30))
    assert info.value.guard == "within:revocation_window"


# --- (b) several workers, each with their own dates (LDI-1 17) -----------------------------------

THREE_WORKERS = [
    {"kind": "worker", "role": "applicant", "name": "张三"},
    {"kind": "worker", "role": "applicant", "name": "李四"},
    {"kind": "worker", "role": "applicant", "name": "王五"},
    {"kind": "employer", "role": "respondent", "name": "长沙某建筑工程有限公司"},
]


def test_every_party_gets_a_stable_id_at_intake(engine: Engine) -> None:
    case = engine.open_case(make_intake(parties=THREE_WORKERS), at=at(2025, 6, 3))
    assert [(p.id, p.name) for p in case.parties] == [
        ("worker-1", "张三"),
        ("worker-2", "李四"),
        ("worker-3", "王五"),
        ("employer-1", "长沙某建筑工程有限公司"),
    ]
    assert [p.id for p in engine.get(case.id).parties] == [p.id for p in case.parties]


def test_three_workers_served_on_different_days_one_sues(engine: Engine) -> None:
    # A non-final award (90,000 of wages each > 24,000, LDMAL 47) on Tue 2025-06-03, served on
    # 张三 Tue 06-03, 李四 Wed 06-04, 王五 Thu 06-05 and the employer Tue 06-03. LDMAL 50: each has
    # 15 cd from their own service: 张三 Wed 06-18, 李四 Thu 06-19, 王五 Fri 06-20, the employer
    # Wed 06-18.
    case_id = in_arbitration(engine, at(2025, 5, 6), parties=THREE_WORKERS)
    served = {
        "worker-1": "2025-06-03",
        "worker-2": "2025-06-04",
        "worker-3": "2025-06-05",
        "employer": "2025-06-03",  # the case's only employer: the kind still names it
    }
    items = [{"kind": "wages", "amount": "90000"}]
    data = {"items": items, "monthly_minimum_wage": MINIMUM_WAGE}
    with pytest.raises(InvalidData) as info:  # which of the three workers?
        engine.fire(
            case_id,
            "issue_award",
            data={**data, "served_on": {"worker": "2025-06-03"}},
            at=at(2025, 6, 3),
        )
    assert "worker-1, worker-2, worker-3" in str(info.value)
    engine.fire(case_id, "issue_award", data={**data, "served_on": served}, at=at(2025, 6, 3))
    dues = {d.party: d.due for d in engine.deadlines(case_id) if d.kind == "suit_window"}
    assert dues == {
        "worker-1": date(2025, 6, 18),
        "worker-2": date(2025, 6, 19),
        "worker-3": date(2025, 6, 20),
        "employer-1": date(2025, 6, 18),
    }
    # 李四 sues on Tue 06-10, within his window. LDI-1 17: the award does not take effect for
    # him; for the others it still may, so the case waits for their windows.
    case = engine.fire(case_id, "file_lawsuit", data={"by": "worker-2"}, at=at(2025, 6, 10))
    assert case.state == "award_nonfinal"
    assert case.attributes["suits"] == {"worker-2": "2025-06-10"}
    # 张三's and the employer's windows end Wed 06-18: nothing takes effect yet (王五 may sue).
    events = engine.tick(just_after(date(2025, 6, 18)))
    assert [e.trigger for e in events] == ["deadline_expired", "deadline_expired"]
    # 王五's window ends Fri 06-20: the award takes effect for 张三 on Thu 06-19 (the day after
    # his and the employer's windows) and for 王五 on Sat 06-21; the case goes on in court for
    # 李四.
    (event,) = engine.tick(just_after(date(2025, 6, 20)))
    assert (event.trigger, event.dest) == ("award_takes_effect", "litigation")
    assert engine.get(case_id).attributes["award_effective_on"] == {
        "worker-1": "2025-06-19",
        "worker-2": None,
        "worker-3": "2025-06-21",
    }


def test_each_worker_sues_only_within_their_own_window(engine: Engine) -> None:
    # As above: 张三's window ended Wed 06-18; on Thu 06-19 he is late, 李四 (Thu 06-19) is not.
    case_id = in_arbitration(engine, at(2025, 5, 6), parties=THREE_WORKERS)
    served = {"worker-1": "2025-06-03", "worker-2": "2025-06-04", "employer": "2025-06-03"}
    engine.fire(
        case_id,
        "issue_award",
        data={"items": MIXED_ITEMS[1:], "monthly_minimum_wage": MINIMUM_WAGE, "served_on": served},
        at=at(2025, 6, 3),
    )
    with pytest.raises(GuardFailed) as info:
        engine.fire(case_id, "file_lawsuit", data={"by": "worker-1"}, at=at(2025, 6, 19))
    assert info.value.guard == "within:suit_window"
    assert "2025-06-18" in str(info.value)
    # 王五 has not been served: no window of his has started.
    with pytest.raises(GuardFailed):
        engine.fire(case_id, "file_lawsuit", data={"by": "worker-3"}, at=at(2025, 6, 19))
    case = engine.fire(case_id, "file_lawsuit", data={"by": "worker-2"}, at=at(2025, 6, 19))
    assert case.state == "award_nonfinal"  # 王五's window has not even started


# --- (c) clock resets (AR 46), transfer, deemed withdrawal, partial and advance awards ----------


def accepted_on_june_9(engine: Engine, **intake: Any) -> int:
    # Accepted Mon 2025-06-09: award_limit 45 cd -> Thu 07-24 (LDMAL 43).
    case_id = in_arbitration(engine, at(2025, 6, 9), **intake)
    assert deadline(engine, case_id, "award_limit").due == date(2025, 7, 24)
    return case_id


def test_adding_a_party_restarts_the_award_limit(engine: Engine) -> None:
    # AR 46(1): 李四 is added on Mon 06-23; the 45 days restart from that day: 06-23 + 45 =
    # Thu 08-07. He gets the next worker id; the intake digest still checks.
    case_id = accepted_on_june_9(engine)
    case = engine.fire(
        case_id,
        "add_party",
        data={"party_kind": "worker", "role": "applicant", "name": "李四"},
        at=at(2025, 6, 23),
    )
    assert [p.id for p in case.parties] == ["worker-1", "employer-1", "worker-2"]
    assert [p.id for p in engine.get(case_id).parties] == ["worker-1", "employer-1", "worker-2"]
    limits = [d for d in engine.deadlines(case_id) if d.kind == "award_limit"]
    assert [(d.starts_on, d.due, d.status) for d in limits] == [
        (date(2025, 6, 9), date(2025, 7, 24), DeadlineStatus.cancelled),
        (date(2025, 6, 23), date(2025, 8, 7), DeadlineStatus.pending),
    ]
    assert engine.verify(case_id).ok


def test_changed_claims_and_a_merged_counterclaim_each_restart_the_award_limit(
    engine: Engine,
) -> None:
    # AR 46(3): claims changed Tue 07-01 -> 07-01 + 45 = Fri 08-15. AR 46(4): a counterclaim
    # merged Fri 08-01 -> 08-01 + 45 = Mon 09-15. Each restarted limit may be extended once by
    # 15 cd (LDMAL 43): 60 cd from 08-01 = Tue 09-30.
    case_id = accepted_on_june_9(engine)
    engine.fire(
        case_id,
        "change_claims",
        data={"claims": [{"kind": "wages", "amount": "26000"}]},
        at=at(2025, 7, 1),
    )
    assert deadline(engine, case_id, "award_limit").due == date(2025, 8, 15)
    assert engine.get(case_id).attributes["claim_changes"] == [
        {"on": "2025-07-01", "claims": [{"kind": "wages", "amount": "26000"}]}
    ]
    # Extended once: 60 cd from 07-01 = Sat 08-30 -> Mon 09-01.
    engine.fire(case_id, "extend_award_limit", at=at(2025, 7, 20))
    assert deadline(engine, case_id, "award_limit").due == date(2025, 9, 1)
    engine.fire(case_id, "merge_counterclaim", at=at(2025, 8, 1))
    assert deadline(engine, case_id, "award_limit").due == date(2025, 9, 15)
    engine.fire(case_id, "extend_award_limit", at=at(2025, 9, 1))
    assert deadline(engine, case_id, "award_limit").due == date(2025, 9, 30)


def test_a_transfer_restarts_the_clock_at_the_competent_commission(engine: Engine) -> None:
    # Before acceptance (AR 31; LDI-1 5): received Mon 06-09 (5 wd -> Mon 06-16), transferred
    # and received by the competent commission Thu 06-12: 5 wd -> Fri 13, Mon 16, Tue 17,
    # Wed 18, Thu 19 -> Thu 06-19. Not a refusal: the case stays in arbitration_received.
    case = engine.open_case(make_intake(), at=at(2025, 6, 9))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 6, 9))
    assert deadline(engine, case.id, "arbitration_acceptance").due == date(2025, 6, 16)
    case = engine.fire(
        case.id,
        "transfer_jurisdiction",
        data={"org_id": "长沙市劳动人事争议仲裁委员会", "received_on": "2025-06-12"},
        at=at(2025, 6, 12),
    )
    assert case.state == "arbitration_received"
    assert deadline(engine, case.id, "arbitration_acceptance").due == date(2025, 6, 19)
    # After acceptance (AR 46(5)): received on transfer Wed 08-20: + 45 = Sat 10-04, inside the
    # National Day holiday (10-01..08) -> Thu 10-09.
    case_id = accepted_on_june_9(engine)
    engine.fire(
        case_id,
        "transfer_jurisdiction",
        data={"org_id": "长沙市劳动人事争议仲裁委员会", "received_on": "2025-08-20"},
        at=at(2025, 7, 1),
    )
    assert deadline(engine, case_id, "award_limit").due == date(2025, 10, 9)


def test_a_deemed_withdrawal_bars_reapplying_unlike_a_voluntary_one(engine: Engine) -> None:
    # AR 39: the applicant does not appear at the hearing without good reason.
    case_id = accepted_on_june_9(engine)
    case = engine.fire(
        case_id, "deem_withdrawn", data={"reason": "申请人无正当理由拒不到庭"}, at=at(2025, 7, 1)
    )
    assert (case.state, case.resolution) == ("closed", "withdrawn")
    assert case.attributes["withdrawal"] == "deemed"
    assert case.attributes["reapplication_barred"] is True
    assert deadline(engine, case_id, "award_limit").status == DeadlineStatus.cancelled
    # AR 35: a voluntary withdrawal leaves the claim open.
    other = accepted_on_june_9(engine)
    case = engine.fire(other, "withdraw", data={"by": "worker"}, at=at(2025, 7, 1))
    assert "reapplication_barred" not in case.attributes


def test_a_partial_award_has_its_own_windows_and_the_limit_runs_on(engine: Engine) -> None:
    # LDMAL 43 ¶2; AR 49: the social-insurance part is clear and awarded on Fri 06-20, served on
    # 张三 Fri 06-20 (+15 = Sat 07-05 -> Mon 07-07) and the employer Mon 06-23 (+15 = Tue 07-08).
    # The award limit still ends Thu 07-24.
    case_id = accepted_on_june_9(engine)
    case = engine.fire(
        case_id,
        "issue_partial_award",
        data={
            "items": [{"kind": "social_insurance"}],
            "served_on": {"worker": "2025-06-20", "employer": "2025-06-23"},
        },
        at=at(2025, 6, 20),
    )
    assert case.state == "arbitration"
    (partial,) = case.attributes["partial_awards"]
    assert partial["items"] == [{"kind": "social_insurance", "amount": "0", "final": True}]
    assert partial["suit_window_due"] == {"worker-1": "2025-07-07", "employer-1": "2025-07-08"}
    assert deadline(engine, case_id, "award_limit").due == date(2025, 7, 24)


def test_advance_execution_only_on_money_claims(engine: Engine) -> None:
    # LDMAL 44; AR 51: wages may be executed in advance, a labour-relationship claim not.
    case_id = accepted_on_june_9(engine)
    case = engine.fire(
        case_id,
        "order_advance_execution",
        data={"items": [{"kind": "wages", "amount": "6000"}]},
        at=at(2025, 6, 20),
    )
    assert case.attributes["advance_executions"] == [
        {"ordered_on": "2025-06-20", "items": [{"kind": "wages", "amount": "6000"}]}
    ]
    with pytest.raises(GuardFailed) as info:
        engine.fire(
            case_id,
            "order_advance_execution",
            data={"items": [{"kind": "labour_relationship"}]},
            at=at(2025, 6, 20),
        )
    assert info.value.guard.startswith("items_only")
    other = accepted_on_june_9(engine, claims=[{"kind": "labour_relationship"}])
    with pytest.raises(GuardFailed) as info:
        engine.fire(
            other,
            "order_advance_execution",
            data={"items": [{"kind": "wages", "amount": "6000"}]},
            at=at(2025, 6, 20),
        )
    assert info.value.guard.startswith("claims_include")


# --- (d) procedural timers (AR 33, 36-38; "五日" are working days, AR 80) ------------------------


def test_the_commissions_own_five_day_timers(engine: Engine) -> None:
    # Accepted Mon 2025-06-09 without serving the copy, the timers asked for: the copy (LDMAL
    # 30; AR 33) and the tribunal notice (LDMAL 32; AR 37) are due 5 wd later: Tue 10, Wed 11,
    # Thu 12, Fri 13, Mon 16 -> Mon 06-16.
    case = engine.open_case(make_intake(), at=at(2025, 6, 8))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 6, 8))
    engine.fire(case.id, "accept_arbitration", data={"procedural_timers": True}, at=at(2025, 6, 9))
    case_id = case.id
    assert deadline(engine, case_id, "application_copy_service").due == date(2025, 6, 16)
    assert deadline(engine, case_id, "tribunal_notice").due == date(2025, 6, 16)
    # The copy reaches the respondent Thu 06-12: its 10 wd defence period (LDMAL 30) runs from
    # then: Fri 13, Mon 16 ... Thu 26 -> Thu 06-26.
    engine.fire(
        case_id,
        "serve_application_copy",
        data={"respondent_served_on": "2025-06-12"},
        at=at(2025, 6, 12),
    )
    assert deadline(engine, case_id, "application_copy_service").status == DeadlineStatus.met
    assert deadline(engine, case_id, "defence_due").due == date(2025, 6, 26)
    # The tribunal is formed late: the notice was due Mon 06-16; formed Tue 06-17.
    engine.fire(case_id, "form_tribunal", data={"arbitrators": 1}, at=at(2025, 6, 17))
    assert deadline(engine, case_id, "tribunal_notice").status == DeadlineStatus.expired
    # A counterclaim received Fri 06-20 is decided within 5 wd (AR 36): Mon 23 ... Fri 06-27.
    # Merged Wed 06-25, it restarts the award limit (AR 46(4)): 06-25 + 45 = Sat 08-09 ->
    # Mon 08-11.
    engine.fire(
        case_id,
        "file_counterclaim",
        data={"by": "employer", "received_on": "2025-06-20"},
        at=at(2025, 6, 20),
    )
    assert deadline(engine, case_id, "counterclaim_decision").due == date(2025, 6, 27)
    engine.fire(case_id, "merge_counterclaim", at=at(2025, 6, 25))
    assert deadline(engine, case_id, "counterclaim_decision").status == DeadlineStatus.met
    assert deadline(engine, case_id, "award_limit").due == date(2025, 8, 11)


def test_a_hearing_is_notified_five_working_days_ahead_and_postponed_three_ahead(
    engine: Engine,
) -> None:
    # LDMAL 35; AR 38. Notified Mon 2025-05-26: 5 wd later is Tue 27, Wed 28, Thu 29, Fri 30,
    # (Dragon Boat 05-31..06-02), Tue 06-03: a hearing on Mon 06-02 is too early.
    case_id = in_arbitration(engine, at(2025, 5, 20))
    with pytest.raises(GuardFailed) as info:
        engine.fire(
            case_id, "schedule_hearing", data={"hearing_on": "2025-06-02"}, at=at(2025, 5, 26)
        )
    assert "2025-06-03" in info.value.reason
    engine.fire(case_id, "schedule_hearing", data={"hearing_on": "2025-06-03"}, at=at(2025, 5, 26))
    # A postponement is asked for at least 3 wd before Tue 06-03: back over the holiday,
    # Fri 05-30 (1), Thu 05-29 (2), Wed 05-28 (3) -> by Wed 05-28.
    assert deadline(engine, case_id, "postponement_request").due == date(2025, 5, 28)
    with pytest.raises(GuardFailed):
        engine.fire(case_id, "request_postponement", data={"by": "employer"}, at=at(2025, 5, 29))
    engine.fire(case_id, "request_postponement", data={"by": "employer"}, at=at(2025, 5, 28))


# --- (d) collective disputes (LDMAL 7; AR 62-67) --------------------------------------------------


def collective_intake(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "worker_count": 12,
        "collective": True,
        "representatives": ["张三", "李四", "王五"],
    }
    return make_intake(**{**fields, **overrides})


def test_a_collective_case_is_marked_at_intake_and_needs_representatives(engine: Engine) -> None:
    case = engine.open_case(collective_intake(), at=at(2025, 6, 9))
    assert case.collective is True
    assert case.attributes["representatives"] == ["张三", "李四", "王五"]
    assert engine.open_case(make_intake(), at=at(2025, 6, 9)).collective is False
    # Ten or more workers make a collective case unless intake says otherwise.
    assert engine.open_case(make_intake(worker_count=10), at=at(2025, 6, 9)).collective is True
    with pytest.raises(InvalidIntake) as info:
        engine.open_case(collective_intake(representatives=["张三"]), at=at(2025, 6, 9))
    assert info.value.field == "representatives"
    with pytest.raises(InvalidIntake) as info:
        engine.open_case(collective_intake(worker_count=5), at=at(2025, 6, 9))
    assert info.value.field == "collective"


def test_a_collective_case_gets_one_notice_and_three_arbitrators(engine: Engine) -> None:
    # AR 64: within 5 wd of acceptance (Mon 06-09 -> Mon 06-16) one notice gives the tribunal,
    # the answer and evidence periods and the hearing; AR 64-65: three arbitrators.
    case_id = in_arbitration(
        engine, at(2025, 6, 9), worker_count=12, collective=True, representatives=["甲", "乙", "丙"]
    )
    assert deadline(engine, case_id, "collective_notice").due == date(2025, 6, 16)
    with pytest.raises(GuardFailed) as info:
        engine.fire(case_id, "form_tribunal", data={"arbitrators": 1}, at=at(2025, 6, 12))
    assert info.value.guard == "tribunal_size"
    engine.fire(case_id, "form_tribunal", data={"arbitrators": 3}, at=at(2025, 6, 12))
    # The hearing notified Thu 06-12 for Thu 06-19 (5 wd: Fri 13 ... Thu 19) meets the notice.
    engine.fire(case_id, "schedule_hearing", data={"hearing_on": "2025-06-19"}, at=at(2025, 6, 12))
    assert deadline(engine, case_id, "collective_notice").status == DeadlineStatus.met
    assert deadline(engine, case_id, "tribunal_notice").status == DeadlineStatus.met
    # An individual case has no such notice, and its timers only when asked for.
    other = accepted_on_june_9(engine)
    kinds = {d.kind for d in engine.deadlines(other)}
    assert not kinds & {"collective_notice", "tribunal_notice", "application_copy_service"}


# --- (d) service and filing by post (AR 20 ¶2; CPL 85 ¶4, 86) ------------------------------------


def test_an_award_posted_at_the_workplace_is_served_three_working_days_later(
    engine: Engine,
) -> None:
    # AR 20 ¶2: the enterprise has closed; the award is posted at the workplace on Thu
    # 2025-09-25 and deemed served 3 wd later (AR 80): Fri 09-26 (1), Sun 09-28, a make-up
    # working day (2), Mon 09-29 (3). The worker's 15 cd (LDMAL 50): 09-29 + 15 = Tue 10-14.
    case_id = award(engine, at(2025, 9, 25), {}, [{"kind": "wages", "amount": "90000"}])
    engine.fire(
        case_id,
        "serve_by_posting",
        data={"posted_on": {"worker": "2025-09-25"}},
        at=at(2025, 9, 25),
    )
    window = deadline(engine, case_id, "suit_window", "worker")
    assert (window.starts_on, window.due) == (date(2025, 9, 29), date(2025, 10, 14))


def test_a_suit_posted_before_the_window_closed_is_in_time(engine: Engine) -> None:
    # Final award served on 张三 Tue 06-03: his window ends Wed 06-18 (LDMAL 48). His complaint
    # is posted on Wed 06-18 and recorded on Fri 06-20: in time (CPL 85 ¶4).
    case_id = award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-03"}, FINAL_ITEMS
    )
    with pytest.raises(GuardFailed):  # without the postmark it is late
        engine.fire(case_id, "file_lawsuit", data={"by": "worker"}, at=at(2025, 6, 20))
    case = engine.fire(
        case_id,
        "file_lawsuit",
        data={"by": "worker", "posted_on": "2025-06-18"},
        at=at(2025, 6, 20),
    )
    assert case.state == "litigation"
    assert deadline(engine, case_id, "suit_window", "worker").status == DeadlineStatus.met


def test_a_late_filing_for_good_cause_within_ten_days_of_the_obstacle(engine: Engine) -> None:
    # As above; 张三 was in hospital until Mon 06-23. CPL 86: he may file within 10 days of
    # the obstacle's end: 06-23 + 10 = Thu 07-03. Filed Tue 07-01: accepted (the window itself
    # is recorded as expired); on Fri 07-04 it would be too late.
    case_id = award(
        engine, at(2025, 6, 3), {"worker": "2025-06-03", "employer": "2025-06-03"}, FINAL_ITEMS
    )
    with pytest.raises(GuardFailed):
        engine.fire(
            case_id,
            "file_lawsuit",
            data={"by": "worker", "obstacle_ended_on": "2025-06-23"},
            at=at(2025, 7, 4),
        )
    case = engine.fire(
        case_id,
        "file_lawsuit",
        data={"by": "worker", "obstacle_ended_on": "2025-06-23"},
        at=at(2025, 7, 1),
    )
    assert (case.state, case.attributes["obstacle_ended_on"]) == ("litigation", "2025-06-23")
    assert deadline(engine, case_id, "suit_window", "worker").status == DeadlineStatus.expired


# --- (d) limitation suspension (LDMAL 27 ¶3; AR 28) ----------------------------------------------


def test_a_suspended_limitation_period_runs_on_by_the_days_it_stood_still(
    engine: Engine,
) -> None:
    # Economic compensation known 2025-01-10; intake Mon 2025-03-03 -> Tue 2026-03-03. A flood
    # stops 张三 from Tue 04-01 to Thu 05-01: the period stands still 30 days and runs on
    # (LDMAL 27 ¶3, "继续计算"): 2026-03-03 + 30 = Thu 2026-04-02, a working day (Qingming
    # 2026 is 04-04..06).
    case = engine.open_case(
        make_intake(
            claims=[{"kind": "economic_compensation", "amount": "9000"}],
            knew_of_infringement_on="2025-01-10",
        ),
        at=at(2025, 3, 3),
    )
    assert case.limitation_expires_on == date(2026, 3, 3)
    engine.fire(
        case.id,
        "suspend_limitation",
        data={"suspended_on": "2025-04-01", "reason": "洪灾"},
        at=at(2025, 4, 2),
    )
    with pytest.raises(GuardFailed):  # once suspended, not again
        engine.fire(case.id, "suspend_limitation", at=at(2025, 4, 3))
    case = engine.fire(
        case.id, "resume_limitation", data={"resumed_on": "2025-05-01"}, at=at(2025, 5, 6)
    )
    assert case.limitation_expires_on == date(2026, 4, 2)
    assert case.attributes["limitation_suspensions"] == [
        {"from": "2025-04-01", "to": "2025-05-01", "days": 30}
    ]
    with pytest.raises(GuardFailed):  # not suspended any more
        engine.fire(case.id, "resume_limitation", at=at(2025, 5, 7))


# --- (d) enforcement beside revocation (LDI-1 24, 25); payment-order termination (CPL 228) ------


def test_the_employers_petition_suspends_the_workers_enforcement(engine: Engine) -> None:
    # Final award made and served on both Tue 2025-06-03 (in force that day, LDMAL 47). 张三
    # applies for enforcement Wed 06-04; the employer petitions on Mon 06-30, within its 30 days
    # (06-03 + 30 = Thu 07-03, LDMAL 49). LDI-1 25 ¶1: enforcement is suspended; ¶2: the
    # petition dismissed, it resumes.
    served = {"worker": "2025-06-03", "employer": "2025-06-03"}
    case_id = award(engine, at(2025, 6, 3), served, FINAL_ITEMS)
    engine.fire(case_id, "apply_enforcement", data={"by": "worker"}, at=at(2025, 6, 4))
    assert deadline(engine, case_id, "revocation_window", "employer").due == date(2025, 7, 3)
    case = engine.fire(case_id, "apply_revocation", data={"by": "employer"}, at=at(2025, 6, 30))
    assert (case.state, case.attributes["enforcement_suspended"]) == ("revocation_review", True)
    case = engine.fire(case_id, "dismiss_revocation", at=at(2025, 8, 15))
    assert case.state == "enforcement"
    assert "enforcement_suspended" not in case.attributes
    # The award revoked instead: the enforcement ends (LDI-1 25 ¶2).
    other = award(engine, at(2025, 6, 3), served, FINAL_ITEMS)
    engine.fire(other, "apply_enforcement", data={"by": "worker"}, at=at(2025, 6, 4))
    engine.fire(other, "apply_revocation", data={"by": "employer"}, at=at(2025, 6, 30))
    case = engine.fire(other, "revoke_award", data={"served_on": served}, at=at(2025, 8, 15))
    assert (case.state, case.attributes["enforcement_terminated"]) == ("award_revoked", True)


def test_after_a_non_enforcement_ruling_each_party_may_sue_within_30_days(
    engine: Engine,
) -> None:
    # LDI-1 24: the ruling reaches 张三 Mon 2025-09-01 and the employer Tue 09-02: 30 cd ->
    # Wed 10-01 and Thu 10-02, both inside the National Day holiday (10-01..08) -> Thu 10-09.
    served = {"worker": "2025-06-03", "employer": "2025-06-03"}
    case_id = award(engine, at(2025, 6, 3), served, FINAL_ITEMS)
    engine.fire(case_id, "apply_enforcement", data={"by": "worker"}, at=at(2025, 7, 10))
    engine.fire(
        case_id,
        "refuse_enforcement",
        data={"served_on": {"worker": "2025-09-01", "employer": "2025-09-02"}},
        at=at(2025, 9, 1),
    )
    dues = {
        d.party: d.due for d in engine.deadlines(case_id) if d.kind == "nonenforcement_suit_window"
    }
    assert dues == {"worker-1": date(2025, 10, 9), "employer-1": date(2025, 10, 9)}
    # Nobody sues by Thu 10-09: the dispute is abandoned on 10-10.
    assert engine.tick(at(2025, 10, 9, 23, 59)) == []
    events = engine.tick(just_after(date(2025, 10, 9)))
    assert [(e.trigger, e.dest) for e in events][-1] == ("abandon", "closed")
    assert engine.get(case_id).resolution == "abandoned"


def test_an_unservable_payment_order_goes_to_court_unless_the_worker_refuses(
    engine: Engine,
) -> None:
    # CPL 228: an order on a breached mediation agreement cannot be served; the procedure ends
    # and the ruling reaches 张三 Tue 2025-06-10. He has 7 cd to refuse litigation: Tue 06-17.
    # He does not: the case goes to court on 06-18 (LDI-1 13 ¶3).
    case = engine.open_case(make_intake(), at=at(2025, 5, 5))
    engine.fire(
        case.id, "refer_to_union_mediation", data={"org_id": "芙蓉区总工会"}, at=at(2025, 5, 5)
    )
    engine.fire(case.id, "sign_agreement", data={"effective_on": "2025-05-06"}, at=at(2025, 5, 6))
    engine.fire(case.id, "report_breach", at=at(2025, 5, 20))
    engine.fire(case.id, "apply_payment_order", data={"by": "worker"}, at=at(2025, 5, 21))
    engine.fire(
        case.id,
        "terminate_payment_order",
        data={"ruling_served_on": "2025-06-10", "reason": "无法送达"},
        at=at(2025, 6, 9),
    )
    assert deadline(engine, case.id, "litigation_refusal_window").due == date(2025, 6, 17)
    (event,) = engine.tick(just_after(date(2025, 6, 17)))
    assert (event.trigger, event.dest) == ("proceed_after_payment_order", "litigation")


def test_a_wage_payment_order_that_ends_goes_back_to_arbitration_or_is_refused(
    engine: Engine,
) -> None:
    # LCL 30 wage order (LDI-1 13 ¶2: arbitration comes first). Ruling served Tue 06-10: 张三
    # refuses litigation on Mon 06-16, within the 7 days: the case closes as withdrawn.
    case = engine.open_case(make_intake(), at=at(2025, 6, 3))
    engine.fire(case.id, "apply_payment_order", data={"by": "worker"}, at=at(2025, 6, 3))
    engine.fire(
        case.id,
        "terminate_payment_order",
        data={"ruling_served_on": "2025-06-10"},
        at=at(2025, 6, 9),
    )
    case = engine.fire(case.id, "refuse_litigation", data={"by": "worker"}, at=at(2025, 6, 16))
    assert (case.state, case.resolution) == ("closed", "withdrawn")
    other = engine.open_case(make_intake(), at=at(2025, 6, 3))
    engine.fire(other.id, "apply_payment_order", data={"by": "worker"}, at=at(2025, 6, 3))
    engine.fire(
        other.id,
        "terminate_payment_order",
        data={"ruling_served_on": "2025-06-10"},
        at=at(2025, 6, 9),
    )
    (event,) = engine.tick(just_after(date(2025, 6, 17)))
    assert (event.trigger, event.dest) == ("proceed_after_payment_order", "arbitration_received")


def test_service_by_publication_is_not_counted_in_the_award_limit(engine: Engine) -> None:
    # AR 46: the respondent cannot be found; notice by publication from Mon 06-16 to Wed 07-16
    # (30 days) is left out of the 45 days: accepted Mon 06-09, 45 + 30 = 75 cd -> Sat 08-23
    # -> Mon 08-25.
    case_id = accepted_on_june_9(engine)
    engine.fire(case_id, "serve_by_publication", at=at(2025, 6, 16))
    assert deadline(engine, case_id, "award_limit").status == DeadlineStatus.paused
    with pytest.raises(GuardFailed):  # one publication period at a time
        engine.fire(case_id, "serve_by_publication", at=at(2025, 6, 17))
    engine.fire(case_id, "publication_served", at=at(2025, 7, 16))
    limit = deadline(engine, case_id, "award_limit")
    assert (limit.status, limit.due) == (DeadlineStatus.pending, date(2025, 8, 25))


def test_the_last_worker_who_may_sue_takes_the_case_to_court_at_once(engine: Engine) -> None:
    # Served on 张三 Tue 06-03 (-> Wed 06-18), 李四 Fri 06-06 (-> Sat 06-21 -> Mon 06-23), 王五
    # Wed 06-04 (-> Thu 06-19) and the employer Tue 06-03 (-> Wed 06-18). 李四 sues on Fri
    # 06-20, when no other worker may still sue: the case goes to court, and the award has taken
    # effect for 张三 on Thu 06-19 and for 王五 on Fri 06-20 (LDI-1 17; LDMAL 50).
    case_id = in_arbitration(engine, at(2025, 5, 6), parties=THREE_WORKERS)
    served = {
        "worker-1": "2025-06-03",
        "worker-2": "2025-06-06",
        "worker-3": "2025-06-04",
        "employer": "2025-06-03",
    }
    engine.fire(
        case_id,
        "issue_award",
        data={"items": MIXED_ITEMS[1:], "monthly_minimum_wage": MINIMUM_WAGE, "served_on": served},
        at=at(2025, 6, 3),
    )
    case = engine.fire(case_id, "file_lawsuit", data={"by": "worker-2"}, at=at(2025, 6, 20))
    assert case.state == "litigation"
    assert case.attributes["award_effective_on"] == {
        "worker-1": "2025-06-19",
        "worker-2": None,
        "worker-3": "2025-06-20",
    }
