"""The Liuzhou Liudong plugin: the re-employment referral after a dispute that ended the
employment, its follow-up reminder, and Guangxi's 三月三 rest days."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from mediation_flow_liuzhou_liudong import (
    GUANGXI_SANYUESAN,
    LiudongPlugin,
    ReemploymentReferral,
)
from structlog.testing import capture_logs

from mediation_flow import Case, GuardFailed, IllegalTransition
from mediation_flow.demo import run_demo
from mediation_flow.testing import sample_intake

LIUZHOU = "450203"  # 柳州市鱼峰区
CHANGSHA = "430102"  # 长沙市芙蓉区: not served by the plugin
SERVICE = "柳东新区公共就业服务窗口"


class Recorder:
    """A notifier that remembers what it was handed."""

    def __init__(self) -> None:
        self.calls: list[tuple[Case, ReemploymentReferral]] = []

    def __call__(self, case: Case, referral: ReemploymentReferral) -> None:
        self.calls.append((case, referral))


def agreed_case(engine: Any, region: str = LIUZHOU, **intake: Any) -> int:
    """A case opened Mon 2025-03-03, mediated by a people's mediation committee, with an
    agreement signed and effective on Mon 2025-03-10 (to be performed by 2025-04-30)."""
    engine.clock.set("2025-03-03")
    case = engine.open_case(sample_intake(region=region, **intake))
    engine.fire(
        case.id,
        "refer_to_peoples_mediation",
        data={"org_id": "雒容镇人民调解委员会", "received_on": "2025-03-03"},
    )
    engine.clock.set("2025-03-10")
    engine.fire(
        case.id, "sign_agreement", data={"effective_on": "2025-03-10", "perform_by": "2025-04-30"}
    )
    return int(case.id)


def test_an_agreement_then_a_referral_to_reemployment(mf_engine) -> None:
    notifier = Recorder()
    engine = mf_engine(LiudongPlugin(notifier), at="2025-03-03")
    with capture_logs() as logs:
        case_id = agreed_case(engine)
    # Entering agreement_in_performance with the employment ended: the step is offered.
    assert any(e["event"] == "reemployment_referral_available" for e in logs)
    assert "refer_to_reemployment" in engine.triggers(case_id)

    engine.clock.set("2025-03-27")
    case = engine.fire(case_id, "refer_to_reemployment", data={"service_org": SERVICE})
    # An internal transition: the agreement is still being performed.
    assert case.state == "agreement_in_performance"
    assert case.attributes["reemployment_referral"] == {
        "service_org": SERVICE,
        "referred_on": "2025-03-27",
        "employment_ended_on": "2024-12-31",
        "from_state": "agreement_in_performance",
    }
    history = engine.history(case_id)
    assert [e.trigger for e in history] == [
        "open_case",
        "refer_to_peoples_mediation",
        "sign_agreement",
        # A deadline of the agreement ran out before 03-27 with no tick since: the command
        # records its expiry first, as a tick would have.
        "deadline_expired",
        "refer_to_reemployment",
    ]
    assert (history[-1].source, history[-1].dest) == ("agreement_in_performance",) * 2

    deadlines = {d.kind: d for d in engine.deadlines(case_id)}
    followup = deadlines["reemployment_followup"]
    # 10 working days after Thu 2025-03-27 in Guangxi: Fri 03-28 (1); Mon 03-31 and Tue 04-01
    # are 三月三; Wed 04-02 (2), Thu 04-03 (3); Fri 04-04 is Qingming; 04-07..04-11 (4-8),
    # Mon 04-14 (9), Tue 04-15 (10). (Without 三月三 it would be Fri 04-11.)
    assert (str(followup.starts_on), str(followup.due)) == ("2025-03-27", "2025-04-15")
    assert (followup.unit, followup.length, followup.status) == ("wd", 10, "pending")
    # The agreement's own windows are untouched by the referral.
    assert deadlines["judicial_confirmation_window"].status == "pending"
    assert deadlines["agreement_performance"].status == "pending"

    # The notifier got the committed case and the referral, once.
    ((seen, referral),) = notifier.calls
    # Version 5: the expiry recorded before the referral (above) is version 4.
    assert (seen.id, seen.state, seen.version) == (case_id, "agreement_in_performance", 5)
    assert referral == ReemploymentReferral(
        case_id=case_id,
        region=LIUZHOU,
        service_org=SERVICE,
        referred_on=date(2025, 3, 27),
        employment_ended_on=date(2024, 12, 31),
        from_state="agreement_in_performance",
    )

    engine.clock.set("2025-04-10")
    case = engine.fire(case_id, "record_reemployment_followup", data={"reemployed": True})
    assert case.attributes["reemployment_followup"] == {"on": "2025-04-10", "reemployed": True}
    case = engine.fire(case_id, "confirm_performance")
    assert (case.state, case.resolution) == ("closed", "performed")
    assert {d.kind: d.status for d in engine.deadlines(case_id)}["reemployment_followup"] == "met"
    assert [e.trigger for e in engine.history(case_id)][-2:] == [
        "record_reemployment_followup",
        "confirm_performance",
    ]
    assert len(notifier.calls) == 1


def test_a_failing_notifier_leaves_the_referral_committed(mf_engine) -> None:
    def broken(case: Case, referral: ReemploymentReferral) -> None:
        raise ConnectionError("employment-service platform unreachable")

    engine = mf_engine(LiudongPlugin(broken))
    case_id = agreed_case(engine)
    engine.clock.set("2025-03-12")
    with capture_logs() as logs:
        case = engine.fire(case_id, "refer_to_reemployment", data={"service_org": SERVICE})
    assert case.attributes["reemployment_referral"]["referred_on"] == "2025-03-12"
    stored = engine.get(case_id)
    assert stored.version == 4
    assert stored.attributes["reemployment_referral"]["service_org"] == SERVICE
    assert engine.history(case_id)[-1].trigger == "refer_to_reemployment"
    # 10 wd after Wed 03-12: 03-13, 14, 17, 18, 19, 20, 21, 24, 25, 26 -> Wed 03-26.
    assert [(d.kind, str(d.due)) for d in engine.deadlines(case_id)][-1] == (
        "reemployment_followup",
        "2025-03-26",
    )
    (failure,) = [e for e in logs if e["event"] == "after_commit_failed"]
    assert failure["plugin"] == "liuzhou-liudong"
    assert failure["trigger"] == "refer_to_reemployment"
    assert "unreachable" in failure["error"]


@pytest.mark.parametrize("ended", [None, "2025-06-30"], ids=["not_ended", "ends_later"])
def test_no_referral_when_the_employment_did_not_end(mf_engine, ended: str | None) -> None:
    notifier = Recorder()
    engine = mf_engine(LiudongPlugin(notifier))
    case_id = agreed_case(engine, employment_ended_on=ended)
    before = engine.get(case_id)
    events, deadlines = engine.history(case_id), engine.deadlines(case_id)
    assert "refer_to_reemployment" not in engine.triggers(case_id)
    with pytest.raises(GuardFailed) as refused:
        engine.fire(case_id, "refer_to_reemployment", data={"service_org": SERVICE})
    assert refused.value.guard == "liuzhou-liudong.employment_ended"
    # Nothing written, nobody notified.
    after = engine.get(case_id)
    assert (after.version, after.attributes) == (before.version, before.attributes)
    assert engine.history(case_id) == events
    assert engine.deadlines(case_id) == deadlines
    assert notifier.calls == []


def test_a_worker_is_referred_once(mf_engine) -> None:
    engine = mf_engine(LiudongPlugin(Recorder()))
    case_id = agreed_case(engine)
    engine.fire(case_id, "refer_to_reemployment", data={"service_org": SERVICE})
    with pytest.raises(GuardFailed) as refused:
        engine.fire(case_id, "refer_to_reemployment", data={"service_org": "另一个窗口"})
    assert refused.value.guard == "once:reemployment_referral"


def test_a_referral_after_closing_keeps_the_case_closed(mf_engine) -> None:
    notifier = Recorder()
    engine = mf_engine(LiudongPlugin(notifier), at="2025-03-03")
    case = engine.open_case(sample_intake(region=LIUZHOU))
    engine.fire(case.id, "refer_to_administrative_mediation", data={"org_id": "柳东新区人社局"})
    engine.clock.set("2025-03-05")
    engine.fire(case.id, "withdraw", data={"by": "worker"})
    with pytest.raises(GuardFailed):  # no referral has been made: nothing to follow up
        engine.fire(case.id, "record_reemployment_followup", data={"reemployed": False})
    engine.clock.set("2025-03-06")
    case = engine.fire(case.id, "refer_to_reemployment", data={"service_org": SERVICE})
    assert (case.state, case.resolution, case.terminal) == ("closed", "withdrawn", True)
    assert notifier.calls[0][1].from_state == "closed"
    (followup,) = [d for d in engine.deadlines(case.id) if d.kind == "reemployment_followup"]
    # 10 wd after Thu 2025-03-06: 03-07, 10, 11, 12, 13, 14, 17, 18, 19, 20 -> Thu 03-20.
    assert str(followup.due) == "2025-03-20"
    engine.clock.set("2025-03-20")
    engine.clock.end_of_day()
    assert engine.tick() == []
    engine.clock.next_morning()
    (reminder,) = engine.tick()
    assert (reminder.trigger, reminder.dest) == ("deadline_expired", "closed")
    assert reminder.data["expired_deadline"]["kind"] == "reemployment_followup"
    # Archiving seals the file: no referral from an archived case.
    assert engine.fire(case.id, "archive").state == "archived"
    with pytest.raises(IllegalTransition):
        engine.fire(case.id, "refer_to_reemployment", data={"service_org": SERVICE})
    assert [e.trigger for e in engine.history(case.id)] == [
        "open_case",
        "refer_to_administrative_mediation",
        "withdraw",
        "refer_to_reemployment",
        "deadline_expired",
        "archive",
    ]


def test_no_referral_from_a_case_that_was_not_a_labour_dispute(mf_engine) -> None:
    engine = mf_engine(LiudongPlugin(Recorder()))
    case = engine.open_case(sample_intake(region=LIUZHOU))
    engine.fire(case.id, "reject_out_of_scope")
    with pytest.raises(GuardFailed) as refused:
        engine.fire(case.id, "refer_to_reemployment", data={"service_org": SERVICE})
    assert refused.value.guard == "liuzhou-liudong.labour_dispute"


def test_a_case_of_another_region_does_not_see_the_referral(mf_engine) -> None:
    notifier = Recorder()
    engine = mf_engine(LiudongPlugin(notifier))
    case_id = agreed_case(engine, region=CHANGSHA)
    assert "refer_to_reemployment" not in engine.triggers(case_id)
    with pytest.raises(IllegalTransition):
        engine.fire(case_id, "refer_to_reemployment", data={"service_org": SERVICE})
    assert "refer_to_reemployment" not in engine.flow_for(CHANGSHA).trigger_names
    liuzhou = engine.flow_for(LIUZHOU)
    assert "liuzhou-liudong" in liuzhou.plugins
    assert liuzhou.deadline_map["reemployment_followup"].statutory is False
    assert notifier.calls == []


@pytest.mark.parametrize(
    ("received_on", "changsha_due", "liuzhou_due"),
    [
        # Wed 2024-03-27 + 15 cd = Thu 04-11; 三月三 04-11, 04-12, then the weekend -> Mon 04-15.
        ("2024-03-27", "2024-04-11", "2024-04-15"),
        # Sun 2025-03-16 + 15 cd = Mon 03-31; 三月三 03-31, 04-01 -> Wed 04-02.
        ("2025-03-16", "2025-03-31", "2025-04-02"),
        # Thu 2026-04-02 + 15 cd = Fri 04-17; 三月三 04-17 to 04-20 -> Tue 04-21.
        ("2026-04-02", "2026-04-17", "2026-04-21"),
    ],
    ids=["2024", "2025", "2026"],
)
def test_sanyuesan_moves_the_mediation_limit_in_liuzhou_only(
    mf_engine, received_on: str, changsha_due: str, liuzhou_due: str
) -> None:
    engine = mf_engine(LiudongPlugin(Recorder()), at=received_on)
    known = (date.fromisoformat(received_on) - timedelta(days=30)).isoformat()
    ids = {}
    for region in (LIUZHOU, CHANGSHA):
        intake = sample_intake(
            region=region, knew_of_infringement_on=known, employment_ended_on=known
        )
        case = engine.open_case(intake)
        engine.fire(
            case.id,
            "refer_to_peoples_mediation",
            data={"org_id": "人民调解委员会", "received_on": received_on},
        )
        ids[region] = case.id
    dues = {
        region: [str(d.due) for d in engine.deadlines(i) if d.kind == "mediation_limit"]
        for region, i in ids.items()
    }
    assert dues == {CHANGSHA: [changsha_due], LIUZHOU: [liuzhou_due]}
    # The morning after the Changsha due day only the Changsha mediation fails.
    engine.clock.set(date.fromisoformat(changsha_due) + timedelta(days=1), 0, 1)
    assert [(e.case_id, e.trigger) for e in engine.tick()] == [(ids[CHANGSHA], "fail_mediation")]
    engine.clock.set(date.fromisoformat(liuzhou_due) + timedelta(days=1), 0, 1)
    assert [(e.case_id, e.trigger) for e in engine.tick()] == [(ids[LIUZHOU], "fail_mediation")]


def test_the_rest_days_are_the_guangxi_notices(mf_engine) -> None:
    days = LiudongPlugin().regional_rest_days()
    assert list(days) == ["45"]
    assert sorted(days["45"]) == sorted(d for year in GUANGXI_SANYUESAN.values() for d in year)
    assert set(GUANGXI_SANYUESAN) == {2024, 2025, 2026}
    engine = mf_engine(LiudongPlugin())
    # Guangxi-wide (Nanning 450103 too), not elsewhere.
    assert not engine.calendar.is_working_day(date(2025, 3, 31), region="450103")
    assert engine.calendar.is_working_day(date(2025, 3, 31), region=CHANGSHA)


def test_the_demo_shows_the_referral(mf_engine) -> None:
    engine = mf_engine(LiudongPlugin(Recorder()))
    result = run_demo(engine, cases=40, region=LIUZHOU)
    assert result.errors == []
    for name in (
        "liudong_agreement_reemployment",
        "liudong_confirmed_enforced_reemployment",
        "liudong_withdrawn_reemployment",
    ):
        assert result.scenarios[name] > 0, name
    referred = [
        e
        for case_id in result.case_ids
        for e in engine.history(case_id)
        if e.trigger == "refer_to_reemployment"
    ]
    assert {e.source for e in referred} == {"agreement_in_performance", "enforcement", "closed"}
