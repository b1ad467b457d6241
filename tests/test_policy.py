"""Permissions: who may fire what and read which case, scoped by region, organisation and
party; refusals say who, what and why and write nothing; plugins only tighten."""

from __future__ import annotations

from typing import Any

import pytest

from mediation_flow import Actor, CaseNotFound, Engine, PermissionDenied, Role, hookimpl
from mediation_flow.testing import make_engine
from tests.conftest import at, make_intake

DAY = at(2025, 3, 3)
UNION = "芙蓉区总工会"
desk = Actor("desk-1", Role.intake_officer, region="4301")
union = Actor("u-1", Role.union_mediator, org_id=UNION, region="43")
other_union = Actor("u-2", Role.union_mediator, org_id="天心区总工会", region="43")
peoples = Actor("p-1", Role.peoples_mediator, org_id=UNION)
arbitrator = Actor("a-1", Role.arbitrator, region="43")
judge = Actor("j-1", Role.judge, region="43")
zhang = Actor("acct-zhang", Role.worker)
boss = Actor("acct-boss", Role.employer)


def intake(**overrides: Any) -> dict[str, Any]:
    data = make_intake(**overrides)
    data["parties"][0]["account"] = "acct-zhang"
    data["parties"][1]["account"] = "acct-boss"
    return data


def snapshot(engine: Engine, case_id: int) -> tuple[Any, ...]:
    case = engine.get(case_id)
    return case.state, case.version, len(engine.history(case_id)), engine.deadlines(case_id)


def denied(
    engine: Engine,
    case_id: int,
    actor: Actor,
    trigger: str,
    data: dict[str, Any] | None = None,
    why: str = "",
) -> PermissionDenied:
    before = snapshot(engine, case_id)
    with pytest.raises(PermissionDenied, match=why or None) as info:
        engine.fire(case_id, trigger, data=data or {}, actor=actor, at=DAY)
    assert snapshot(engine, case_id) == before
    err = info.value
    assert (err.actor_id, err.role, err.case_id) == (actor.id, actor.role.value, case_id)
    assert str(err).startswith(f"{actor.id} ({actor.role.value}) may not fire '{trigger}'")
    return err


def not_found(
    engine: Engine, case_id: int, actor: Actor, trigger: str, data: dict[str, Any] | None = None
) -> None:
    """The actor cannot see the case: the refusal is "not found", and nothing is written."""
    before = snapshot(engine, case_id)
    with pytest.raises(CaseNotFound) as info:
        engine.fire(case_id, trigger, data=data or {}, actor=actor, at=DAY)
    assert str(info.value) == f"case {case_id} not found"
    assert snapshot(engine, case_id) == before


@pytest.fixture
def engine() -> Any:
    eng = make_engine(at="2025-03-03")
    yield eng
    eng.close()


def in_union_mediation(engine: Engine) -> int:
    case = engine.open_case(intake(), actor=desk, at=DAY)
    engine.fire(
        case.id,
        "refer_to_union_mediation",
        actor=desk,
        at=DAY,
        data={"org_id": UNION, "org_type": "union_org"},
    )
    return case.id


def test_a_union_mediator_signs_union_agreements_but_cannot_accept_arbitration(
    engine: Engine,
) -> None:
    case_id = in_union_mediation(engine)
    denied(
        engine,
        case_id,
        peoples,
        "sign_agreement",
        {"effective_on": "2025-03-03"},
        why="is for a union_mediator",
    )
    not_found(engine, case_id, other_union, "sign_agreement", {"effective_on": "2025-03-03"})
    engine.fire(case_id, "apply_arbitration", data={"by": "worker"}, actor=zhang, at=DAY)
    denied(engine, case_id, union, "accept_arbitration", why="is for arbitrator")
    assert engine.fire(case_id, "accept_arbitration", actor=arbitrator, at=DAY).state == (
        "arbitration"
    )


def test_the_mediator_of_the_organisation_runs_the_mediation(engine: Engine) -> None:
    case_id = in_union_mediation(engine)
    engine.fire(case_id, "accept_mediation", actor=union, at=DAY)
    case = engine.fire(
        case_id, "sign_agreement", data={"effective_on": "2025-03-03"}, actor=union, at=DAY
    )
    assert case.state == "agreement_in_performance"


def test_a_mediator_acts_only_on_cases_referred_to_its_organisation(engine: Engine) -> None:
    case = engine.open_case(intake(), at=DAY)
    # Naming its own organisation does not let a mediator take a case it cannot see.
    not_found(
        engine,
        case.id,
        union,
        "refer_to_union_mediation",
        {"org_id": UNION, "org_type": "union_org"},
    )
    not_found(engine, case.id, union, "refer_to_peoples_mediation", {"org_id": UNION})
    case_id = in_union_mediation(engine)
    # Once the case is referred to it, the mediator may pass it on to another channel.
    assert engine.fire(
        case_id, "refer_to_peoples_mediation", actor=union, at=DAY, data={"org_id": "芙蓉区人调委"}
    ).state == ("peoples_mediation")
    not_found(engine, case_id, union, "sign_agreement", {"effective_on": "2025-03-03"})


def test_only_an_arbitrator_issues_an_award(engine: Engine) -> None:
    case = engine.open_case(intake(), at=DAY)
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=DAY)
    engine.fire(case.id, "accept_arbitration", actor=arbitrator, at=DAY)
    award = {"items": [{"kind": "wages", "amount": "18000"}], "monthly_minimum_wage": "1930"}
    for actor in (desk, judge, zhang):
        denied(engine, case.id, actor, "issue_award", award)
    assert (
        engine.fire(case.id, "issue_award", data=award, actor=arbitrator, at=DAY).state
        == "award_final"
    )


def test_only_a_judge_acts_in_court_states(engine: Engine) -> None:
    case = engine.open_case(intake(), at=DAY)
    engine.fire(case.id, "file_lawsuit", data={"by": "worker", "wage_iou": True}, at=DAY)
    served = {"served_on": {"worker": "2025-03-03", "employer": "2025-03-03"}}
    for actor in (desk, arbitrator):
        denied(engine, case.id, actor, "deliver_judgment", served)
    denied(
        engine,
        case.id,
        desk,
        "withdraw",
        {"by": "worker"},
        why="only a judge acts in the court state 'litigation'",
    )
    assert (
        engine.fire(case.id, "deliver_judgment", data=served, actor=judge, at=DAY).state
        == "judgment"
    )
    # The parties still act for themselves: the employer appeals.
    assert (
        engine.fire(case.id, "file_appeal", data={"by": "employer"}, actor=boss, at=DAY).state
        == "appeal"
    )


def test_parties_act_for_themselves_on_their_own_case(engine: Engine) -> None:
    case = engine.open_case(intake(), actor=zhang, at=DAY)
    stranger = Actor("acct-li", Role.worker)
    not_found(engine, case.id, stranger, "apply_arbitration", {"by": "worker"})
    denied(
        engine,
        case.id,
        zhang,
        "apply_arbitration",
        {"by": "employer"},
        why="acts for themselves, not for the employer",
    )
    denied(engine, case.id, zhang, "reject_out_of_scope", why="is for")
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, actor=zhang, at=DAY)
    assert (
        engine.fire(case.id, "withdraw", data={"by": "worker"}, actor=zhang, at=DAY).resolution
        == "withdrawn"
    )


def test_a_party_opens_only_their_own_case(engine: Engine) -> None:
    with pytest.raises(PermissionDenied, match="opens only their own case"):
        engine.open_case(intake(), actor=Actor("acct-li", Role.worker), at=DAY)
    with pytest.raises(PermissionDenied, match="outside the actor's scope 4301"):
        engine.open_case(intake(region="520102"), actor=desk, at=DAY)


def test_reading_is_scoped_like_acting(engine: Engine) -> None:
    changsha = engine.open_case(intake(), at=DAY)
    guiyang = engine.open_case(intake(region="520102"), at=DAY)
    for read in (engine.get, engine.history, engine.deadlines, engine.triggers):
        with pytest.raises(CaseNotFound, match=f"case {guiyang.id} not found"):
            read(guiyang.id, actor=arbitrator)
    assert engine.get(changsha.id, actor=arbitrator).id == changsha.id
    assert [c.id for c in engine.cases(actor=arbitrator)] == [changsha.id]
    assert [c.id for c in engine.cases()] == [changsha.id, guiyang.id]
    with pytest.raises(CaseNotFound):
        engine.get(changsha.id, actor=union)
    assert len(engine.cases(actor=zhang)) == 2  # zhang is the worker of both
    assert engine.cases(actor=Actor("acct-li", Role.worker)) == []


def test_triggers_lists_what_the_actor_may_fire(engine: Engine) -> None:
    case_id = in_union_mediation(engine)
    mine = engine.triggers(case_id, actor=union, at=DAY)
    assert "sign_agreement" in mine
    assert "apply_arbitration" not in mine
    # The worker may leave mediation: for arbitration, another channel, or altogether.
    assert set(engine.triggers(case_id, actor=zhang, at=DAY)) == {
        "apply_arbitration",
        "withdraw",
        "refer_to_peoples_mediation",
        "refer_to_administrative_mediation",
    }


class OnlyTheTribunal:
    name = "tribunal-only"
    regions = ("43",)

    @hookimpl
    def authorize(self, actor: Any, case: Any, trigger: str | None) -> str | None:
        if trigger == "accept_arbitration" and actor.region != "430102":
            return "only the Furong commission accepts here"
        return None


def test_a_plugin_tightens_the_policy_and_cannot_loosen_it() -> None:
    engine = make_engine(OnlyTheTribunal())
    case = engine.open_case(intake(), at=DAY)
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=DAY)
    err = denied(
        engine,
        case.id,
        arbitrator,
        "accept_arbitration",
        why="only the Furong commission accepts here",
    )
    assert "tribunal-only" in err.reason
    # The plugin allows the desk, but the policy does not let it accept arbitration.
    denied(engine, case.id, desk, "accept_arbitration", why="is for arbitrator")
    furong = Actor("a-2", Role.arbitrator, region="430102")
    assert engine.fire(case.id, "accept_arbitration", actor=furong, at=DAY).state == ("arbitration")


def test_reports_are_scoped_to_the_officials_region(engine: Engine) -> None:
    engine.open_case(intake(), at=DAY)
    engine.open_case(intake(region="520102"), at=DAY)
    assert engine.report(at=DAY).cases == 2
    mine = engine.report(actor=arbitrator, at=DAY)
    assert (mine.region, mine.cases) == ("43", 1)
    with pytest.raises(PermissionDenied, match="outside the actor's scope 43"):
        engine.report(region="52", actor=arbitrator, at=DAY)
    with pytest.raises(PermissionDenied, match="reports are for officials"):
        engine.report(actor=zhang, at=DAY)


def test_an_outsider_learns_nothing_about_the_case_from_a_refused_command(
    engine: Engine,
) -> None:
    case = engine.open_case(intake(region="520102"), at=DAY)
    for kwargs in (
        {"trigger": "accept_arbitration"},
        {"trigger": "refer_to_negotiation", "expected_version": 7},
    ):
        with pytest.raises(CaseNotFound) as info:
            engine.fire(case.id, at=at(2025, 3, 4), actor=arbitrator, **kwargs)
        assert str(info.value) == f"case {case.id} not found"
        assert "received" not in str(info.value)
        assert "version" not in str(info.value)


def test_mediators_do_not_read_regional_reports(engine: Engine) -> None:
    with pytest.raises(PermissionDenied, match="reports are for officials"):
        engine.report(actor=union, at=DAY)


def test_parties_see_that_an_alert_was_raised_not_what_it_says(engine: Engine) -> None:
    case = engine.open_case(intake(worker_count=12), at=DAY)  # a collective case
    (alert,) = [e for e in engine.history(case.id) if e.trigger == "early_warning"]
    assert alert.data["rule"] == "collective_case"
    (seen,) = [e for e in engine.history(case.id, actor=zhang) if e.trigger == "early_warning"]
    assert seen.data == {"redacted": True}
    exported = engine.export(case.id, actor=zhang)
    assert {"redacted": True} in [e["data"] for e in exported["history"]]
