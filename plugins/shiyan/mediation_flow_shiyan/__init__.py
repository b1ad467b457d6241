"""Shiyan (十堰市, Hubei; division prefix ``4203``): element-based filing and the joint mediation
studio at the arbitration institution.

Source: ``/work/shared/seeds/002_e4f13bebd49298e0.txt``, the Shiyan HRSS bureau's reply of
2023-08-20 to a CPPCC proposal, summarised in procedure.md §5.3. Two passages become flow:

- "在仲裁机构设立了'一站式'联调工作室，搭建了法院、总工会、人社等单位的一站式联处调解平台"
  (§一(二)4): the **joint mediation studio** (一站式联调工作室). Here it is the place where an
  arbitration application whose acceptance is deferred for mediation (AR 69, 暂缓受理) is
  mediated: new state ``joint_mediation_studio``, entered from ``arbitration_received`` by
  ``refer_to_joint_mediation_studio`` with both parties' consent, under the LDMAL 14 15-day
  clock (``mediation_limit``), with the national exits ``sign_agreement``, ``fail_mediation``,
  ``apply_arbitration``, ``withdraw`` (and ``extend_mediation``).
- "实行要素式办案模式" (§二(三)): **element-based filing** (要素式立案). ``record_elements``
  records the claim elements the applicant has supplied; a veto refuses ``accept_arbitration``
  while an element of the checklist for the case's claim kinds (:data:`CHECKLISTS`) is missing.

The veto never touches the statutory acceptance clock (``arbitration_acceptance``, 5 working
days, LDMAL 29; AR 80): an incomplete file is handled by the national ``request_supplement``
(pauses the clock, AR 29) and ``supplement`` (restarts it from the day the file is complete,
AR 46(2)); if the commission neither accepts nor pauses the clock in time, the clock expires into
``reject_arbitration`` as everywhere else, and that expiry is *not* vetoed (LDMAL 29: the
applicant may then sue). The checklist and the studio are local practice [P]; the clocks and
exits they use are national law [V]. ``docs/regions/shiyan.md`` has the details.

The seed's other items stay with the national flow: the labour-dispute 诉调工作室 at the
intermediate court is an ``org_id`` of the national court-mediation triggers, and mobile
arbitration (流动仲裁) is preventive outreach without a case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from mediation_flow.plugin import (
    SCENARIOS,
    AttributeSpec,
    Channel,
    ClaimKind,
    Context,
    DataField,
    DeadlineOp,
    DeadlineStatus,
    FlowDefinition,
    Intake,
    Refusal,
    Registrations,
    Role,
    Route,
    Scenario,
    StateDef,
    Step,
    TransitionDef,
    hookimpl,
)

__all__ = [
    "CHECKLISTS",
    "ELEMENTS",
    "ShiyanPlugin",
    "missing_elements",
    "required_elements",
]

SEED = "/work/shared/seeds/002_e4f13bebd49298e0.txt"

#: The state and triggers this plugin adds.
STUDIO = "joint_mediation_studio"
STUDIO_ORG = "十堰市劳动人事争议仲裁院一站式联调工作室"

#: Case attributes written by ``record_elements``.
ELEMENTS_ATTR = "shiyan_elements"
MISSING_ATTR = "shiyan_elements_missing"

# --- the element-based filing checklist (要素式立案) -------------------------------------------
#
# Seed 002, §二(三): "实行要素式办案模式，推进互联网+'调解仲裁'，加快实现标准化、规范化、
# 信息化办案".
# The seed names the mode, not the form; the elements below are the project's reading of a
# labour-arbitration element form (要素表) per claim kind: the facts the tribunal needs to decide
# the claim, which the applicant states item by item at filing. Local practice [P]; the form may
# be changed here without touching the flow.

#: Element id -> zh-CN label, in the order the form asks for them.
ELEMENTS: dict[str, str] = {
    "labour_relationship": "劳动关系证明",
    "employment_start": "入职时间",
    "work_position": "工作岗位及工作地点",
    "wage_standard": "工资标准",
    "arrears_period": "欠薪期间",
    "arrears_amount": "欠薪金额",
    "service_length": "工作年限",
    "termination": "解除或终止劳动关系的时间及原因",
    "compensation_basis": "赔偿金请求依据及计算方式",
    "injury_recognition": "工伤认定结论",
    "medical_expenses": "医疗费用票据",
    "insurance_period": "应缴社会保险期间",
    "insurance_payment": "社会保险缴纳情况",
    "working_time_record": "工作时间及休息休假记录",
}

#: Claim kind -> the elements a complete filing states for it (seed 002, §二(三), [P]).
CHECKLISTS: dict[ClaimKind, tuple[str, ...]] = {
    ClaimKind.wages: ("labour_relationship", "wage_standard", "arrears_period", "arrears_amount"),
    ClaimKind.economic_compensation: (
        "labour_relationship",
        "wage_standard",
        "service_length",
        "termination",
    ),
    ClaimKind.damages: (
        "labour_relationship",
        "wage_standard",
        "termination",
        "compensation_basis",
    ),
    ClaimKind.work_injury_medical: (
        "labour_relationship",
        "injury_recognition",
        "medical_expenses",
    ),
    ClaimKind.social_insurance: ("labour_relationship", "insurance_period", "insurance_payment"),
    ClaimKind.working_time_leave: (
        "labour_relationship",
        "working_time_record",
        "wage_standard",
    ),
    ClaimKind.labour_relationship: ("labour_relationship", "employment_start", "work_position"),
    ClaimKind.other: ("labour_relationship",),
}

#: What the demo records for its wage claims: the whole wage checklist.
WAGE_ELEMENTS = list(CHECKLISTS[ClaimKind.wages])


def _in_form_order(ids: Iterable[str]) -> list[str]:
    chosen = set(ids)
    return [e for e in ELEMENTS if e in chosen]


def required_elements(kinds: Iterable[ClaimKind | str]) -> list[str]:
    """The elements a filing with claims of ``kinds`` must state, in form order."""
    out: set[str] = set()
    for kind in kinds:
        out.update(CHECKLISTS[ClaimKind(kind)])
    return _in_form_order(out)


def missing_elements(kinds: Iterable[ClaimKind | str], recorded: Iterable[str]) -> list[str]:
    """The required elements not yet recorded, in form order."""
    have = set(recorded)
    return [e for e in required_elements(kinds) if e not in have]


def labels(ids: Iterable[str]) -> str:
    """``["wage_standard", "arrears_period"]`` -> ``"工资标准、欠薪期间"``."""
    return "、".join(ELEMENTS[e] for e in ids)


# --- registrations (names carry the plugin's prefix) ---------------------------------------------


def _parse_elements(value: Any, data: Mapping[str, Any]) -> list[str]:
    """Data type ``shiyan.elements``: a non-empty list of element ids of :data:`ELEMENTS`."""
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError(
            "expected a non-empty list of element ids, e.g. ['labour_relationship', "
            "'wage_standard']"
        )
    unknown = [v for v in value if not isinstance(v, str) or v not in ELEMENTS]
    if unknown:
        raise ValueError(
            f"unknown element {unknown[0]!r} (known: {', '.join(ELEMENTS)})",
        )
    return _in_form_order(value)


#: The plugin's own guards, conditions, warnings, effects and data types.
names = Registrations("shiyan")
names.data_type("shiyan.elements")(_parse_elements)


@names.effect("shiyan.record_elements")
def record_elements(ctx: Context) -> dict[str, Any]:
    """Seed 002 §二(三) [P]: add the elements given (or, with ``replace``, set them) and record
    which elements of the case's checklist are still missing."""
    given: list[str] = ctx.data["elements"]
    before: list[str] = (
        [] if ctx.data.get("replace") else ctx.case.attributes.get(ELEMENTS_ATTR, [])
    )
    recorded = _in_form_order([*before, *given])
    missing = missing_elements((c.kind for c in ctx.claims), recorded)
    return {ELEMENTS_ATTR: recorded, MISSING_ATTR: missing}


@names.guard("shiyan.parties_agree_to_mediate")
def parties_agree_to_mediate(ctx: Context) -> Refusal | None:
    """AR 69: acceptance is deferred for mediation only when the parties agree to mediate first;
    a party who does not agree has the application accepted in the normal way."""
    if ctx.by != "both":
        return Refusal(
            "暂缓受理转联调工作室调解须经双方当事人同意（劳动人事争议仲裁办案规则第69条）："
            "data 'by' must be 'both'",
            needs_data=True,
        )
    return None


# --- the plugin ----------------------------------------------------------------------------------


def _national(flow: FlowDefinition, trigger: str, source: str, dest: str) -> TransitionDef:
    edge = flow.find(trigger, source, dest)
    if edge is None:  # pragma: no cover - the national flow has these edges
        raise LookupError(f"the flow has no {trigger!r} from {source!r} to {dest!r}")
    return edge


class ShiyanPlugin:
    """Shiyan (十堰市): element-based filing before arbitration accepts, and the joint
    mediation studio (一站式联调工作室) for applications whose acceptance is deferred."""

    name = "shiyan"
    regions = ("4203",)
    #: The officer's acceptance only: never a party's option or a statutory expiry.
    vetoes = ("accept_arbitration",)

    @hookimpl
    def registrations(self) -> Registrations:
        return names

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        # National edges reused from the studio: their deadline ops (meet mediation_limit, open
        # the review and confirmation windows, ...) come with them.
        sign = _national(flow, "sign_agreement", "union_mediation", "agreement_in_performance")
        fail = _national(flow, "fail_mediation", "union_mediation", "mediation_failed")
        extend = _national(flow, "extend_mediation", "union_mediation", "union_mediation")
        apply = _national(flow, "apply_arbitration", "received", "arbitration_received")
        withdraw = _national(flow, "withdraw", "received", "closed")
        mediation_limit = flow.deadline_map["mediation_limit"]
        return flow.extend(
            plugin=self.name,
            states=[
                StateDef(
                    STUDIO,
                    "一站式联调工作室调解中（暂缓受理）",
                    "joint mediation studio at the arbitration institution (acceptance deferred)",
                    # procedure.md §1 row 7(a): mediation before acceptance is a form of
                    # arbitration mediation, held at the arbitration institution.
                    Channel.arbitration,
                    # LDMAL 14 ¶3: 15 days from the studio's receipt of the case.
                    on_enter=(DeadlineOp("start", "mediation_limit", "received_on"),),
                ),
            ],
            transitions=[
                TransitionDef(
                    "record_elements",
                    ("arbitration_received",),
                    None,
                    "记录立案要素",
                    "record the filing elements",
                    source=f"seed 002 §二(三) 要素式办案 ({SEED}) [P]; AR 29",
                    data=(
                        DataField("elements", "shiyan.elements", required=True),
                        DataField("replace", "bool"),
                    ),
                    effects=("shiyan.record_elements",),
                ),
                TransitionDef(
                    "refer_to_joint_mediation_studio",
                    ("arbitration_received",),
                    STUDIO,
                    "暂缓受理，转一站式联调工作室调解",
                    "defer acceptance and refer to the joint mediation studio",
                    source=f"AR 69; seed 002 §一(二)4 一站式联调工作室 ({SEED}) [P]",
                    guards=("shiyan.parties_agree_to_mediate",),
                    data=(
                        DataField("org_id", "text", record=True),
                        DataField("received_on", "date", record=True),
                    ),
                    # Acceptance is deferred: the acceptance clock stops here (it is not alive
                    # in the studio, so leaving arbitration_received would close it anyway).
                    deadlines=(DeadlineOp("cancel", "arbitration_acceptance"),),
                    effects=("clear:mediation_extended,accepted_on",),
                ),
                replace(sign, sources=(STUDIO,)),
                replace(fail, sources=(STUDIO,)),
                replace(extend, sources=(STUDIO,)),
                # Mediation is never compulsory (LDMAL 5; AR 69): the applicant may end the
                # deferral at any time; entering arbitration_received starts a new acceptance
                # clock from received_on (default: the day of the act).
                replace(
                    apply,
                    sources=(STUDIO,),
                    label_zh="不再调解，恢复仲裁受理审查",
                    label_en="end the deferral: back to the acceptance decision",
                    source="LDMAL 5; AR 69",
                ),
                replace(withdraw, sources=(STUDIO,)),
            ],
            replace_deadline_kinds=[
                replace(mediation_limit, alive_in=(*mediation_limit.alive_in, STUDIO)),
            ],
        )

    @hookimpl
    def veto_transition(self, ctx: Context, transition: TransitionDef) -> str | None:
        # Only the officer's acceptance is held back; reject_arbitration (by expiry or by hand),
        # request_supplement and supplement are never refused, so the statutory decision and
        # its consequence (LDMAL 29) stay as they are.
        if transition.trigger != "accept_arbitration":
            return None
        recorded = ctx.case.attributes.get(ELEMENTS_ATTR, [])
        missing = missing_elements((c.kind for c in ctx.claims), recorded)
        if not missing:
            return None
        return f"要素式立案材料不全，尚缺：{labels(missing)}。" + _clock_hint(ctx)

    @hookimpl
    def suggest_route(self, intake: Intake, region: str) -> Route | None:
        kinds = {c.kind for c in intake.claims}
        if intake.is_migrant_worker and kinds == {ClaimKind.wages}:
            return Route(
                "apply_arbitration",
                "农民工欠薪争议，可直接申请仲裁。十堰市仲裁实行要素式立案，申请时请一并提供："
                f"{labels(required_elements(kinds))}；受理前经双方同意，"
                "可暂缓受理转一站式联调工作室调解",
                data={"by": "worker"},
            )
        return None

    @hookimpl
    def case_attributes(self, region: str) -> Mapping[str, AttributeSpec]:
        # Seed 002 §二(三): the intake channels named in the reply [P].
        return {
            "intake_channel": AttributeSpec(
                "text",
                "申请渠道",
                choices=("窗口", "劳动人事争议网上受理平台", "12333", "劳动监察举报投诉平台"),
            )
        }

    @hookimpl
    def demo_scenarios(self, region: str) -> Mapping[str, Scenario]:
        return {**_with_elements(SCENARIOS), **SHIYAN_SCENARIOS}

    def __repr__(self) -> str:
        return f"<{self.name} plugin for {', '.join(self.regions)}>"


def _clock_hint(ctx: Context) -> str:
    """Where the acceptance clock stands, and what the commission may do (AR 29, 46(2);
    LDMAL 29)."""
    clocks = ctx.open_deadlines("arbitration_acceptance")
    if any(d.status == DeadlineStatus.paused for d in clocks):
        return (
            "已通知补正，受理审查期限暂停；"
            "补齐后请记录要素（record_elements）并补正（supplement）。"
        )
    due = min((d.due for d in clocks), default=None)
    when = f"受理审查期限至 {due.isoformat()} 届满，" if due else ""
    return (
        f"请记录已提供的要素（record_elements），或一次性通知补正（request_supplement，"
        f"期限暂停）。{when}逾期未作决定的，申请人可依法向人民法院起诉（劳动争议调解仲裁法第29条）。"
    )


# --- demo scenarios ------------------------------------------------------------------------------

W, ARB = Role.worker, Role.arbitrator
_RECORD_ALL: Step = (0, "record_elements", {"elements": WAGE_ELEMENTS}, ARB)


def _award(amount: int) -> dict[str, Any]:
    # 12 x 2,100 = 25,200: an award above that is non-final.
    return {
        "items": [{"kind": "wages", "amount": str(amount)}],
        "monthly_minimum_wage": "2100",
        "served_on": {"worker": "{d}", "employer": "{d}"},
    }


def _with_elements(national: Mapping[str, Scenario]) -> dict[str, Scenario]:
    """The national scenarios that reach ``accept_arbitration``, with the element record on the
    same day just before it: in Shiyan the veto refuses an acceptance without it. Same names, so
    the demo of a Shiyan region runs these instead of the national ones."""
    out: dict[str, Scenario] = {}
    for name, scenario in national.items():
        if not any(step[1] == "accept_arbitration" for step in scenario.steps):
            continue
        steps: list[Step] = []
        for wait, trigger, data, role in scenario.steps:
            if trigger == "accept_arbitration":
                steps.append((wait, *_RECORD_ALL[1:]))
                wait = 0
            steps.append((wait, trigger, data, role))
        out[name] = replace(
            scenario, description=scenario.description + "（要素式立案）", steps=steps
        )
    return out


SHIYAN_SCENARIOS: dict[str, Scenario] = {
    "shiyan_elements_supplement": Scenario(
        "要素式立案：要素不全通知补正，补齐后受理，仲裁委托调解结案",
        8,
        [
            (0, "apply_arbitration", {"by": "worker"}, W),
            (1, "record_elements", {"elements": ["labour_relationship", "arrears_amount"]}, ARB),
            (0, "request_supplement", {"items": "工资标准、欠薪期间"}, ARB),
            (6, "record_elements", {"elements": ["wage_standard", "arrears_period"]}, ARB),
            (0, "supplement", {}, ARB),
            (2, "accept_arbitration", {}, ARB),
            (5, "start_arbitration_mediation", {"entrusted": True}, ARB),
            (6, "issue_mediation_statement", {"perform_by": "+15"}, ARB),
            (20, "confirm_performance", {}, ARB),
        ],
    ),
    "shiyan_joint_studio": Scenario(
        "暂缓受理转一站式联调工作室，达成协议经仲裁审查出具调解书",
        10,
        [
            (0, "apply_arbitration", {"by": "worker"}, W),
            (1, "refer_to_joint_mediation_studio", {"by": "both", "org_id": STUDIO_ORG}, ARB),
            # The studio's mediators (union, HRSS, court) sign, not the arbitrator.
            (
                8,
                "sign_agreement",
                {"effective_on": "{d}", "perform_by": "+20"},
                Role.administrative_mediator,
            ),
            (3, "apply_arbitration_review", {"by": "both"}, ARB),
            (3, "issue_mediation_statement", {"perform_by": "+10"}, ARB),
            (15, "confirm_performance", {}, ARB),
        ],
    ),
    "shiyan_joint_studio_expired": Scenario(
        "联调工作室15日未达成协议，重新申请仲裁，要素齐备后受理并裁决",
        6,
        [
            (0, "apply_arbitration", {"by": "worker"}, W),
            (1, "refer_to_joint_mediation_studio", {"by": "both", "org_id": STUDIO_ORG}, ARB),
            (25, None, {}, ARB),  # 15 days (plus any holiday roll-over): fail_mediation by tick
            (2, "apply_arbitration", {"by": "worker"}, W),
            _RECORD_ALL,
            (2, "accept_arbitration", {}, ARB),
            (40, "issue_award", _award(48000), ARB),
            (25, None, {}, ARB),  # both suit windows expire: award_takes_effect
            (10, "confirm_performance", {}, ARB),
        ],
    ),
}
