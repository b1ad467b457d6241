"""A reproducible demonstration: synthetic disputes driven through the linkage.

``run_demo`` opens a seeded set of cases in 2025 and lets simulated time pass day by day: each
morning ``tick`` applies what expired overnight, then the officers act on the cases scheduled
for that day. Every case follows one of the scenarios below, a legal path through several
channels; waits are long enough for the deadlines the scenario relies on to run out, holidays
included (a 15-day period that ends in the Spring Festival runs on for a week).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from mediation_flow.engine import SHANGHAI, Engine
from mediation_flow.models import Actor, Role
from mediation_flow.personal_data import _identity_check_digit

__all__ = ["SCENARIOS", "DemoResult", "Scenario", "Step", "run_demo"]

#: (days to wait after the previous step, trigger, data, actor role). A step whose trigger is
#: None only waits (for a deadline to expire: tick moves the case). In data, "{d}" is the step's
#: date and "+N" the date N days later.
Step = tuple[int, str | None, dict[str, Any], Role]


@dataclass(frozen=True)
class Scenario:
    """A legal path for the demo: a zh-CN description, a weight (how often it is drawn), the
    steps, and intake fields it needs (``{"is_migrant_worker": True}``)."""

    description: str
    weight: int
    steps: list[Step]
    intake: dict[str, Any] = field(default_factory=dict)


W, E = Role.worker, Role.employer
INTAKE, UNION, PEOPLES = Role.intake_officer, Role.union_mediator, Role.peoples_mediator
ADMIN, ARB, JUDGE = Role.administrative_mediator, Role.arbitrator, Role.judge


def _served(day: str = "{d}") -> dict[str, Any]:
    return {"served_on": {"worker": day, "employer": day}}


def _award(amount: int) -> dict[str, Any]:
    # 12 x 2,100 (a provincial monthly minimum wage) = 25,200: at most that is final.
    return {
        "items": [{"kind": "wages", "amount": str(amount)}],
        "monthly_minimum_wage": "2100",
        **_served(),
    }


SCENARIOS: dict[str, Scenario] = {
    "negotiated": Scenario(
        "协商和解并履行",
        14,
        [
            (0, "refer_to_negotiation", {}, INTAKE),
            (2, "accept_negotiation", {}, E),
            (6, "sign_settlement", {"perform_by": "+20", "consent": "employer-signature"}, W),
            (18, "confirm_performance", {}, INTAKE),
        ],
    ),
    "silence_then_union": Scenario(
        "协商无回应，转工会调解达成协议",
        10,
        [
            (0, "refer_to_negotiation", {}, INTAKE),
            (14, None, {}, INTAKE),  # no answer in 5 days: fail_negotiation by tick
            (
                1,
                "refer_to_union_mediation",
                {"org_id": "企业劳动争议调解委员会", "org_type": "enterprise_committee"},
                INTAKE,
            ),
            (2, "accept_mediation", {}, UNION),
            (9, "sign_agreement", {"effective_on": "{d}", "perform_by": "+15"}, UNION),
            (14, "confirm_performance", {}, UNION),
        ],
    ),
    "peoples_confirmed": Scenario(
        "人民调解协议经司法确认后履行",
        9,
        [
            (0, "refer_to_peoples_mediation", {"org_id": "街道人民调解委员会"}, INTAKE),
            (7, "sign_agreement", {"effective_on": "{d}", "perform_by": "+40"}, PEOPLES),
            (10, "apply_judicial_confirmation", {"by": "both"}, JUDGE),
            (12, "confirm_agreement", {"perform_by": "+20"}, JUDGE),
            (15, "confirm_performance", {}, JUDGE),
        ],
    ),
    "review_enforced": Scenario(
        "调解协议经仲裁审查，出具调解书并强制执行",
        6,
        [
            (
                0,
                "refer_to_union_mediation",
                {"org_id": "区总工会法律服务站", "org_type": "union_legal_station"},
                INTAKE,
            ),
            (10, "sign_agreement", {"effective_on": "{d}", "perform_by": "+10"}, UNION),
            (5, "apply_arbitration_review", {"by": "both"}, ARB),
            (4, "issue_mediation_statement", {"perform_by": "+10"}, ARB),
            (20, "apply_enforcement", {"by": "worker"}, JUDGE),
            (40, "complete_enforcement", {}, JUDGE),
        ],
    ),
    "mediation_expired": Scenario(
        "行政调解期满未果，仲裁调解结案",
        10,
        [
            (0, "refer_to_administrative_mediation", {"org_id": "乡镇劳动保障所"}, INTAKE),
            (25, None, {}, INTAKE),  # 15 days pass without agreement: fail_mediation by tick
            (2, "apply_arbitration", {"by": "worker"}, W),
            (3, "accept_arbitration", {}, ARB),
            (5, "start_arbitration_mediation", {"entrusted": True}, ARB),
            (6, "issue_mediation_statement", {"perform_by": "+15"}, ARB),
            (20, "confirm_performance", {}, ARB),
        ],
    ),
    "final_award": Scenario(
        "终局裁决，期满生效后强制执行",
        10,
        [
            (0, "apply_arbitration", {"by": "worker"}, W),
            (2, "accept_arbitration", {}, ARB),
            (30, "issue_award", _award(16000), ARB),
            (45, None, {}, ARB),  # suit and revocation windows expire: award_takes_effect
            (5, "apply_enforcement", {"by": "worker"}, W),
            (30, "complete_enforcement", {}, JUDGE),
        ],
    ),
    "court_mediation": Scenario(
        "非终局裁决后起诉，法院委托调解结案",
        9,
        [
            (0, "apply_arbitration", {"by": "worker"}, W),
            (3, "accept_arbitration", {}, ARB),
            (40, "issue_award", _award(48000), ARB),
            (10, "file_lawsuit", {"by": "employer"}, E),
            (
                20,
                "refer_to_judicial_mediation",
                {"procedure": "ordinary", "org_id": "工会驻法院调解室"},
                JUDGE,
            ),
            (10, "issue_court_mediation_statement", {"perform_by": "+20"}, JUDGE),
            (22, "confirm_performance", {}, JUDGE),
        ],
    ),
    "appeal": Scenario(
        "裁决后诉讼、上诉，终审判决后执行",
        6,
        [
            (
                0,
                "refer_to_union_mediation",
                {"org_id": "产业园区调解站", "org_type": "union_org"},
                INTAKE,
            ),
            (6, "fail_mediation", {"reason": "no_agreement"}, UNION),
            (3, "apply_arbitration", {"by": "worker"}, W),
            (2, "accept_arbitration", {}, ARB),
            (20, "suspend_arbitration", {"reason": "等待工伤认定"}, ARB),
            (30, "resume_arbitration", {}, ARB),
            (25, "issue_award", _award(90000), ARB),
            (12, "file_lawsuit", {"by": "worker"}, W),
            (60, "deliver_judgment", _served(), JUDGE),
            (10, "file_appeal", {"by": "employer"}, E),
            (60, "deliver_final_judgment", {"perform_by": "+10"}, JUDGE),
            (15, "apply_enforcement", {"by": "worker"}, W),
            (45, "complete_enforcement", {}, JUDGE),
        ],
    ),
    "payment_order": Scenario(
        "调解协议未履行，支付令生效后履行",
        6,
        [
            (0, "refer_to_peoples_mediation", {"org_id": "社区人民调解委员会"}, INTAKE),
            (8, "sign_agreement", {"effective_on": "{d}", "perform_by": "+10"}, PEOPLES),
            (14, "report_breach", {}, W),
            (2, "apply_payment_order", {"by": "worker"}, W),
            (5, "serve_payment_order", {"served_on": {"employer": "{d}"}}, JUDGE),
            (25, None, {}, JUDGE),  # no objection in 15 days: payment_order_takes_effect
            (10, "confirm_performance", {}, JUDGE),
        ],
    ),
    "withdrawn_suit": Scenario(
        "支付令异议成立转仲裁，非终局裁决后撤诉，裁决生效",
        5,
        [
            (0, "apply_payment_order", {"by": "worker"}, W),
            (6, "uphold_objection", {}, JUDGE),
            (2, "accept_arbitration", {}, ARB),
            (35, "issue_award", _award(30000), ARB),
            (10, "file_lawsuit", {"by": "employer"}, E),
            (15, "withdraw_lawsuit", {"by": "employer"}, E),
            (20, "confirm_performance", {}, JUDGE),
        ],
    ),
    "prefiling": Scenario(
        "法院委派诉前调解，达成协议并司法确认",
        6,
        [
            (0, "refer_to_prefiling_mediation", {"org_id": "法院特邀调解组织"}, JUDGE),
            # Court-delegated mediation is run by the court's invited mediator.
            (12, "sign_agreement", {"effective_on": "{d}", "perform_by": "+30"}, PEOPLES),
            (8, "apply_judicial_confirmation", {"by": "both"}, JUDGE),
            (10, "confirm_agreement", {"perform_by": "+10"}, JUDGE),
            (12, "confirm_performance", {}, JUDGE),
        ],
    ),
    "withdrawn": Scenario(
        "当事人撤回申请",
        5,
        [
            (0, "refer_to_peoples_mediation", {"org_id": "村人民调解委员会"}, INTAKE),
            (4, "withdraw", {"by": "worker"}, W),
            (30, "archive", {}, INTAKE),
        ],
    ),
    "out_of_scope": Scenario(
        "不属于劳动争议",
        4,
        [
            (1, "reject_out_of_scope", {}, INTAKE),
        ],
    ),
}

_REGIONS = ("430102", "430111", "510302", "420302", "450203", "520102")
_SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高"
_GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "强", "磊", "洋", "勇", "军", "杰", "涛", "明")
_EMPLOYERS = (
    "建筑工程有限公司",
    "餐饮管理有限公司",
    "电子科技有限公司",
    "物流有限公司",
    "服装制造有限公司",
    "物业服务有限公司",
)
_CITIES = ("长沙", "自贡", "十堰", "柳州", "贵阳")


@dataclass
class _Plan:
    scenario: str
    steps: list[Step]
    case_id: int = 0
    position: int = 0
    due: date = date.min
    accounts: dict[str, str | None] = field(default_factory=dict)


_MEDIATORS = (Role.union_mediator, Role.peoples_mediator, Role.administrative_mediator)


def _actor(engine: Engine, plan: _Plan, role: Role, trigger: str, data: dict[str, Any]) -> Actor:
    """Who performs a step: the party itself (its account), a mediator of the organisation
    the case is (or is being) referred to, or an official."""
    if role in (Role.worker, Role.employer):
        return Actor(plan.accounts.get(role.value) or f"{role.value}-{plan.case_id}", role)
    if role in _MEDIATORS:
        # The organisation handling the case acts (and hands it on). A mediator acts only on
        # cases referred to it: with none yet, the intake desk refers the case.
        org = engine.get(plan.case_id).attributes.get("org_id")
        if org is None:
            return Actor("intake_officer-1", Role.intake_officer)
        return Actor(f"{role.value}@{org}", role, org_id=org)
    return Actor(f"{role.value}-1", role)


@dataclass
class DemoResult:
    """What the demo did: counts for the summary and the cases it opened."""

    cases: int = 0
    transitions: int = 0
    expiries: int = 0
    case_ids: list[int] = field(default_factory=list)
    scenarios: Counter[str] = field(default_factory=Counter)
    final_states: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    resolved_at: Counter[str] = field(default_factory=Counter)
    sample_case: int | None = None
    errors: list[str] = field(default_factory=list)


def _intake(rng: random.Random, start: date, region: str | None, n: int) -> dict[str, Any]:
    worker = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
    employer = rng.choice(_CITIES) + "某" + rng.choice(_EMPLOYERS)
    ended = start - timedelta(days=rng.randint(5, 120))
    region = region or rng.choice(_REGIONS)
    return {
        "region": region,
        "parties": [
            {
                "kind": "worker",
                "role": "applicant",
                "name": worker,
                "account": f"worker-{n}",
                "id_number": _identity_number(rng, region),
                "phone": f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}",
            },
            {
                "kind": "employer",
                "role": "respondent",
                "name": employer,
                "account": f"employer-{n}",
            },
        ],
        "claims": [{"kind": "wages", "amount": f"{rng.randint(30, 400) * 100}.00"}],
        "worker_count": rng.choice((1, 1, 1, 2, 3, 12)),
        "is_migrant_worker": rng.random() < 0.4,
        "employment_ended_on": ended.isoformat(),
        "knew_of_infringement_on": ended.isoformat(),
        "received_on": start.isoformat(),
    }


def _identity_number(rng: random.Random, region: str) -> str:
    """A synthetic but well-formed identity number (GB 11643 check digit)."""
    birth = date(1965, 1, 1) + timedelta(days=rng.randint(0, 365 * 38))
    first17 = f"{region}{birth:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + _identity_check_digit(first17)


def _fill(data: dict[str, Any], day: date) -> dict[str, Any]:
    def value(v: Any) -> Any:
        if v == "{d}":
            return day.isoformat()
        if isinstance(v, str) and v.startswith("+") and v[1:].isdigit():
            return (day + timedelta(days=int(v[1:]))).isoformat()
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        return v

    return {k: value(v) for k, v in data.items()}


def _resolved_at(history: list[Any], flow: Any) -> str:
    """Which stage produced the outcome (the last binding act in the history)."""
    labels = {
        "sign_settlement": "协商和解",
        "issue_mediation_statement": "仲裁调解",
        "award_takes_effect": "仲裁裁决",
        "dismiss_revocation": "仲裁裁决",
        "issue_court_mediation_statement": "司法调解",
        "judgment_takes_effect": "判决",
        "deliver_final_judgment": "判决",
        "payment_order_takes_effect": "支付令",
        "confirm_agreement": "司法确认",
        "withdraw_lawsuit": "仲裁裁决（撤诉后生效）",
        "withdraw": "撤回",
        "reject_out_of_scope": "不予受理（非劳动争议）",
    }
    mediation = {
        "union_mediation": "工会调解",
        "peoples_mediation": "人民调解",
        "administrative_mediation": "行政调解",
        "prefiling_mediation": "诉前调解",
    }
    outcome = "未结"
    for event in history:
        if event.trigger == "sign_agreement":
            source = flow.state_map.get(event.source)
            outcome = mediation.get(event.source) or (source.label_zh if source else "调解")
        elif event.trigger in labels and (
            event.trigger != "withdraw_lawsuit" or event.dest == "enforceable"
        ):
            outcome = labels[event.trigger]
    return outcome


def run_demo(
    engine: Engine,
    *,
    cases: int = 300,
    seed: int = 2025,
    start: date = date(2025, 1, 6),
    region: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Open ``cases`` synthetic cases (seeded) from ``start`` on and drive each along its
    scenario, with ``tick`` run every simulated morning. With ``region``, every case is opened
    there and the scenarios of the region's plugins (hook ``demo_scenarios``) join the national
    ones. ``progress(done_days, total_days)`` is called once per simulated day."""
    rng = random.Random(seed)
    scenarios = dict(SCENARIOS)
    if region is not None:
        scenarios.update(engine.demo_scenarios(region))
    names = list(scenarios)
    weights = [scenarios[n].weight for n in names]
    plans: list[_Plan] = []
    for i in range(cases):
        scenario = rng.choices(names, weights)[0]
        opened = start + timedelta(days=rng.randint(0, 150) + i % 3)
        plans.append(_Plan(scenario, scenarios[scenario].steps, due=opened))
    result = DemoResult()
    intakes = {
        id(p): {**_intake(rng, p.due, region, n), **scenarios[p.scenario].intake}
        for n, p in enumerate(plans)
    }
    longest_wait = max(sum(step[0] for step in sc.steps) for sc in scenarios.values())
    last = max(p.due for p in plans) + timedelta(days=longest_wait + 1)
    day, total, done = start, (last - start).days + 1, 0
    pending = list(plans)
    while pending and day <= last:
        morning = datetime.combine(day, time(0, 30), SHANGHAI)
        result.expiries += len(engine.tick(morning))
        for plan in pending:
            if plan.due <= day:
                _advance(engine, plan, intakes[id(plan)], day, result)
        pending = [p for p in pending if p.position < len(p.steps)]
        day += timedelta(days=1)
        done += 1
        if progress:
            progress(done, total)
    if progress:
        progress(total, total)
    for plan in plans:
        case = engine.get(plan.case_id)
        history = engine.history(plan.case_id)
        result.final_states[case.state] += 1
        flow = engine.flow_for(case.region)
        result.resolved_at[_resolved_at(history, flow)] += 1
        states = [flow.state_map.get(e.dest) for e in history]
        for channel in {s.channel for s in states if s is not None and s.channel is not None}:
            result.channels[channel.value] += 1
    longest = max(plans, key=lambda p: len(p.steps))
    result.sample_case = longest.case_id
    return result


def _advance(
    engine: Engine, plan: _Plan, intake: dict[str, Any], day: date, result: DemoResult
) -> None:
    """Open the case if needed, then run every step of the plan that is due by ``day``."""
    at = datetime.combine(day, time(10, 0), SHANGHAI)
    if plan.case_id == 0:
        case = engine.open_case(intake, actor=Actor("intake-desk", Role.intake_officer), at=at)
        plan.accounts = {p["kind"]: p.get("account") for p in intake["parties"]}
        plan.case_id = case.id
        result.cases += 1
        result.case_ids.append(case.id)
        result.scenarios[plan.scenario] += 1
        plan.due = day + timedelta(days=plan.steps[0][0])
    while plan.position < len(plan.steps) and plan.due <= day:
        _wait, trigger, data, role = plan.steps[plan.position]
        plan.position += 1
        if trigger is not None:
            try:
                engine.fire(
                    plan.case_id,
                    trigger,
                    data=_fill(data, day),
                    actor=_actor(engine, plan, role, trigger, data),
                    at=at,
                )
                result.transitions += 1
            except Exception as exc:  # the demo finishes and reports what went wrong
                result.errors.append(f"case {plan.case_id} ({plan.scenario}): {exc}")
                plan.position = len(plan.steps)
                return
        if plan.position < len(plan.steps):
            plan.due = day + timedelta(days=plan.steps[plan.position][0])
