"""Authority from the actor: the permission matrix generated from the declared authority of
every trigger, and the attacks that used to get through, each refused with the right error."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest

from mediation_flow import (
    SYSTEM,
    Actor,
    ActorRequired,
    Authority,
    CaseNotFound,
    Engine,
    GuardFailed,
    InvalidActor,
    PartyKind,
    PartyRole,
    PermissionDenied,
    Role,
    Side,
    national_flow,
)
from mediation_flow.models import Channel, Party
from mediation_flow.policy import NATIONAL_AUTHORITY, CaseScope, Policy
from mediation_flow.testing import make_engine
from tests.conftest import at, make_intake

DAY = at(2025, 3, 3)
FLOW = national_flow()
POLICY = Policy()
MEDIATORS = {Role.union_mediator, Role.peoples_mediator, Role.administrative_mediator}
PARTIES = {Role.worker, Role.employer}
CHANNEL_MEDIATOR = {
    Channel.union: Role.union_mediator,
    Channel.peoples: Role.peoples_mediator,
    Channel.administrative: Role.administrative_mediator,
}
PREFILING_ACTS = {"sign_agreement", "fail_mediation", "accept_mediation", "extend_mediation"}
CASE_ORG = "ORG-A"


def declared(trigger: str) -> Authority:
    """The declaration the policy must follow (a plugin's trigger: officials, either party)."""
    return NATIONAL_AUTHORITY.get(trigger) or Authority(
        frozenset(Role) - PARTIES - {Role.system},
        Side.either if any(t.party_act for t in FLOW.transitions if t.trigger == trigger) else None,
    )


def expected(
    role: Role,
    trigger: str,
    state: str,
    *,
    own_region: bool,
    own_org: bool,
    own_party: bool,
    worker_applies: bool,
) -> bool:
    """The declared authority, stated independently of the policy's code."""
    if role is Role.system:
        return True
    if not own_region:
        return False
    authority = declared(trigger)
    channel = FLOW.state_map[state].channel
    if role in PARTIES:
        if not own_party:
            return False
        side = authority.side(state)
        if side is None:
            return False
        if side in (Side.worker, Side.employer):
            return role.value == side.value
        if side in (Side.applicant, Side.respondent):
            applicant = Role.worker if worker_applies else Role.employer
            return (role is applicant) == (side is Side.applicant)
        return True
    if role not in authority.roles:
        return False
    if role in MEDIATORS:
        if not own_org:
            return False
        if state == "prefiling_mediation":
            return trigger in PREFILING_ACTS
        own = CHANNEL_MEDIATOR.get(channel) if channel else None
        if own is not None and own is not role and trigger in PREFILING_ACTS:
            return False
        return channel is not Channel.judicial
    return channel is not Channel.judicial or role is Role.judge


def scope(state: str, *, worker_applies: bool) -> CaseScope:
    worker_role, employer_role = (
        (PartyRole.applicant, PartyRole.respondent)
        if worker_applies
        else (PartyRole.respondent, PartyRole.applicant)
    )
    return CaseScope(
        7,
        "430102",
        state,
        CASE_ORG,
        (
            Party(PartyKind.worker, worker_role, "张三", account="acct-w"),
            Party(PartyKind.employer, employer_role, "某公司", account="acct-e"),
        ),
    )


def actor(role: Role, *, own_region: bool, own_org: bool, own_party: bool) -> Actor:
    if role is Role.system:
        return SYSTEM
    region = "43" if own_region else "52"
    if role in PARTIES:
        account = ("acct-w" if role is Role.worker else "acct-e") if own_party else "acct-x"
        # A party actor's scope is its account; a region scope still applies when set.
        return Actor(account, role, region=region)
    org = (CASE_ORG if own_org else "ORG-B") if role in MEDIATORS else None
    return Actor(f"{role.value}-1", role, org_id=org, region=region)


def edges() -> list[tuple[str, str]]:
    return sorted({(t.trigger, s) for t in FLOW.transitions for s in t.sources})


@pytest.mark.parametrize(("trigger", "state"), edges(), ids=lambda v: str(v))
def test_the_permission_matrix_follows_the_declared_authority(trigger: str, state: str) -> None:
    """Every trigger x every role x own/other party x own/other region and organisation x
    which side applied: allowed exactly when the declaration allows it. Generated from the
    flow, so a new trigger is covered (and must be declared, or gets the plugin default)."""
    for role, own_region, own_org, own_party, worker_applies in product(
        list(Role), (True, False), (True, False), (True, False), (True, False)
    ):
        who = actor(role, own_region=own_region, own_org=own_org, own_party=own_party)
        case = scope(state, worker_applies=worker_applies)
        refusal = POLICY.fire_refusal(who, case, trigger, {}, FLOW)
        want = expected(
            role,
            trigger,
            state,
            own_region=own_region,
            own_org=own_org,
            own_party=own_party,
            worker_applies=worker_applies,
        )
        assert (refusal is None) == want, (who, trigger, state, worker_applies, refusal)
        if role in PARTIES and want:
            # data["by"] never widens what a party may do: naming the other side is refused.
            other = "employer" if role is Role.worker else "worker"
            assert POLICY.fire_refusal(who, case, trigger, {"by": other}, FLOW) is not None
            both = POLICY.fire_refusal(who, case, trigger, {"by": "both"}, FLOW)
            assert (both is None) == (declared(trigger).side(state) is Side.both)


def test_every_national_trigger_is_declared() -> None:
    assert set(FLOW.trigger_names) <= set(NATIONAL_AUTHORITY)
    assert NATIONAL_AUTHORITY["withdraw"].side("arbitration_received") is Side.applicant
    assert NATIONAL_AUTHORITY["sign_settlement"].side("negotiation") is Side.both


# -- the attacks ----------------------------------------------------------------------------------

worker = Actor("acct-zhang", Role.worker)
employer = Actor("acct-boss", Role.employer)
desk = Actor("desk-1", Role.intake_officer, region="4301")
arbitrator = Actor("a-1", Role.arbitrator, region="43")
UNION = "芙蓉区总工会"


def intake(**overrides: Any) -> dict[str, Any]:
    data = make_intake(**overrides)
    data["parties"][0]["account"] = "acct-zhang"
    data["parties"][1]["account"] = "acct-boss"
    data["parties"][1]["phone"] = "13900139000"
    return data


@pytest.fixture
def engine() -> Any:
    eng = make_engine(at="2025-03-03")
    yield eng
    eng.close()


def state_of(engine: Engine, case_id: int) -> tuple[Any, ...]:
    case = engine.get(case_id)
    return case.state, case.version, case.resolution


def in_arbitration(engine: Engine) -> int:
    case = engine.open_case(intake(), actor=desk, at=DAY)
    engine.fire(case.id, "apply_arbitration", actor=worker, at=DAY)
    return case.id


@pytest.mark.parametrize("data", [{}, {"by": "worker"}, {"by": "employer"}, {"by": "both"}])
def test_the_employer_cannot_withdraw_the_workers_application(
    engine: Engine, data: dict[str, Any]
) -> None:
    case_id = in_arbitration(engine)
    before = state_of(engine, case_id)
    with pytest.raises(PermissionDenied):
        engine.fire(case_id, "withdraw", data=data, actor=employer, at=DAY)
    assert state_of(engine, case_id) == before
    closed = engine.fire(case_id, "withdraw", actor=worker, at=DAY)
    assert closed.resolution == "withdrawn"
    assert engine.history(case_id)[-1].data["by"] == "worker"  # recorded from the actor


def test_the_employer_cannot_move_the_workers_arbitration_into_mediation(engine: Engine) -> None:
    case_id = in_arbitration(engine)
    before = state_of(engine, case_id)
    for trigger in (
        "refer_to_union_mediation",
        "refer_to_peoples_mediation",
        "refer_to_administrative_mediation",
    ):
        data = {"org_id": UNION, "org_type": "union_org"} if "union" in trigger else {}
        with pytest.raises(PermissionDenied, match="applicant's act"):
            engine.fire(case_id, trigger, data=data, actor=employer, at=DAY)
    assert state_of(engine, case_id) == before


def test_a_settlement_signed_by_one_side_needs_the_others_consent(engine: Engine) -> None:
    case = engine.open_case(intake(), actor=desk, at=DAY)
    engine.fire(case.id, "refer_to_negotiation", actor=worker, at=DAY)
    before = state_of(engine, case.id)
    for data in ({}, {"by": "worker"}, {"by": "both"}, {"consent": "  "}):
        with pytest.raises(GuardFailed, match="needs the employer's consent") as info:
            engine.fire(case.id, "sign_settlement", data=data, actor=worker, at=DAY)
        assert info.value.guard == "both_parties"
    assert state_of(engine, case.id) == before
    signed = engine.fire(
        case.id, "sign_settlement", data={"consent": "签字页-2025-017"}, actor=worker, at=DAY
    )
    assert signed.state == "settlement_in_performance"
    event = engine.history(case.id)[-1]
    assert (event.actor_id, event.data["by"], event.data["consent"]) == (
        "acct-zhang",
        "both",
        "签字页-2025-017",
    )


def test_a_joint_application_by_one_party_records_both(engine: Engine) -> None:
    case = engine.open_case(intake(), actor=desk, at=DAY)
    engine.fire(
        case.id,
        "refer_to_union_mediation",
        data={"org_id": UNION, "org_type": "union_org"},
        actor=desk,
        at=DAY,
    )
    mediator = Actor("u-1", Role.union_mediator, org_id=UNION, region="43")
    engine.fire(case.id, "sign_agreement", data={"effective_on": "2025-03-03"}, actor=mediator)
    with pytest.raises(GuardFailed, match="worker's consent"):
        engine.fire(case.id, "apply_judicial_confirmation", actor=employer, at=DAY)
    case = engine.fire(
        case.id, "apply_judicial_confirmation", data={"consent": "W-77"}, actor=employer, at=DAY
    )
    assert case.state == "judicial_confirmation"
    assert engine.history(case.id)[-1].data["by"] == "both"


def test_a_mediator_of_another_organisation_cannot_take_or_export_a_case(engine: Engine) -> None:
    far = Actor("u-9", Role.union_mediator, org_id="贵阳市总工会", region="52")
    near = Actor("u-8", Role.union_mediator, org_id="天心区总工会")
    ids = [engine.open_case(intake(), actor=desk, at=DAY).id for _ in range(3)]
    for mediator, case_id in product((far, near), [*ids, 999]):
        before = state_of(engine, case_id) if case_id != 999 else None
        with pytest.raises(CaseNotFound, match=f"^case {case_id} not found$"):
            engine.fire(
                case_id,
                "refer_to_union_mediation",
                data={"org_id": mediator.org_id, "org_type": "union_org"},
                actor=mediator,
                at=DAY,
            )
        for read in (engine.get, engine.export, engine.history, engine.triggers):
            with pytest.raises(CaseNotFound, match=f"^case {case_id} not found$"):
                read(case_id, actor=mediator)
        with pytest.raises(CaseNotFound, match=f"^case {case_id} not found$"):
            engine.export(case_id, actor=mediator, clear_text=True)
        if before is not None:
            assert state_of(engine, case_id) == before


def test_scopes_are_never_empty_and_the_system_actor_has_its_own_constructor() -> None:
    for kwargs in (
        {"region": ""},
        {"org_id": ""},
        {"region": "430102\n"},
        {"region": "４３"},
        {"region": "٤٣"},
        {"region": "4301020"},
        {"org_id": " x"},
    ):
        with pytest.raises(InvalidActor):
            Actor("a-1", Role.arbitrator, **kwargs)
    for role in (Role.system, "system"):
        with pytest.raises(InvalidActor, match=r"Actor\.system\(\)"):
            Actor("root", role)  # type: ignore[arg-type]
    with pytest.raises(InvalidActor, match="role"):
        Actor("x", "admin")  # type: ignore[arg-type]
    for bad_id in ("", " x", "x\n", "a\u200bb", "x" * 201):
        with pytest.raises(InvalidActor, match="id"):
            Actor(bad_id, Role.worker)
    assert Actor.system().role is Role.system
    assert Actor.system() == SYSTEM


def test_an_engine_without_a_default_actor_refuses_every_call_without_one(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    open_engine = make_engine(at="2025-03-03", url=url)
    case_id = open_engine.open_case(intake(), at=DAY).id  # the trusted host default
    closed = Engine(url, entry_points=False, default_actor=None, clock=lambda: DAY)
    calls = {
        "open_case": lambda: closed.open_case(intake()),
        "fire": lambda: closed.fire(case_id, "refer_to_negotiation"),
        "get": lambda: closed.get(case_id),
        "history": lambda: closed.history(case_id),
        "deadlines": lambda: closed.deadlines(case_id),
        "cases": lambda: closed.cases(),
        "export": lambda: closed.export(case_id),
        "report": lambda: closed.report(),
        "triggers": lambda: closed.triggers(case_id),
        "due": lambda: closed.due(DAY),
        "verify": lambda: closed.verify(case_id),
        "verify_all": lambda: closed.verify_all(),
        "advance_numbering": lambda: closed.advance_numbering("X", 2025, to=5),
        "lookup": lambda: closed.lookup("whatever"),
        "render_document": lambda: closed.render_document(case_id, "acceptance_notice"),
        "documents": lambda: closed.documents(case_id),
        "handoffs": lambda: closed.handoffs(case_id),
        "export_handoff": lambda: closed.export_handoff(case_id, to_org="B", from_org="A"),
        "reclaim": lambda: closed.reclaim(case_id),
        "import_handoff": lambda: closed.import_handoff(b"{}"),
    }
    for name, call in calls.items():
        with pytest.raises(ActorRequired, match="default_actor=None"):
            call()
        assert name
    assert closed.get(case_id, actor=arbitrator).id == case_id
    assert len(closed.history(case_id, actor=Actor.system())) == 1
    closed.close()
    open_engine.close()


def test_an_idempotent_replay_rechecks_the_scope(engine: Engine) -> None:
    case = engine.open_case(intake(), actor=desk, at=DAY)
    engine.fire(case.id, "apply_arbitration", actor=worker, at=DAY)
    hunan = Actor("a-1", Role.arbitrator, region="43")
    engine.fire(case.id, "accept_arbitration", actor=hunan, at=DAY, idempotency_key="k-1")
    # The same actor id and role, now scoped elsewhere: the replay is "not found".
    moved = Actor("a-1", Role.arbitrator, region="52")
    with pytest.raises(CaseNotFound):
        engine.fire(case.id, "accept_arbitration", actor=moved, at=DAY, idempotency_key="k-1")
    assert engine.fire(
        case.id, "accept_arbitration", actor=hunan, at=DAY, idempotency_key="k-1"
    ).state == ("arbitration")


def test_queries_and_maintenance_take_an_actor(engine: Engine) -> None:
    hunan = engine.open_case(intake(), actor=desk, at=DAY)
    guizhou = engine.open_case(intake(region="520102"), at=DAY)
    engine.fire(hunan.id, "refer_to_negotiation", actor=desk, at=DAY)
    engine.fire(guizhou.id, "refer_to_negotiation", at=DAY)
    later = at(2026, 1, 1)
    assert {d.case_id for d in engine.due(later)} == {hunan.id, guizhou.id}
    assert {d.case_id for d in engine.due(later, actor=arbitrator)} == {hunan.id}
    assert engine.due(later, region="52", actor=arbitrator) == []
    assert {d.case_id for d in engine.due(later, actor=worker)} == {hunan.id, guizhou.id}
    assert engine.due(later, actor=Actor("acct-li", Role.worker)) == []
    with pytest.raises(CaseNotFound):
        engine.verify(guizhou.id, actor=arbitrator)
    assert engine.verify(hunan.id, actor=arbitrator).ok
    assert engine.verify_all(actor=arbitrator) == []
    with pytest.raises(PermissionDenied, match="system actor"):
        engine.advance_numbering("湘劳人仲案字", 2025, to=10, actor=arbitrator)
    assert engine.advance_numbering("湘劳人仲案字", 2025, to=10) == 10


def test_a_party_cannot_act_for_the_other_by_naming_it(engine: Engine) -> None:
    case = engine.open_case(intake(), actor=desk, at=DAY)
    before = state_of(engine, case.id)
    with pytest.raises(PermissionDenied, match="acts for themselves"):
        engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, actor=employer, at=DAY)
    with pytest.raises(PermissionDenied, match="acts for themselves"):
        engine.fire(case.id, "apply_arbitration", data={"by": "both"}, actor=employer, at=DAY)
    assert state_of(engine, case.id) == before
    engine.fire(case.id, "apply_arbitration", actor=employer, at=DAY)
    assert engine.history(case.id)[-1].data["by"] == "employer"
