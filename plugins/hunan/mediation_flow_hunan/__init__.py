"""Hunan (湖南, division prefix ``43``): the migrant-worker wage fast-track tribunal.

Seed: ``/work/shared/seeds/000_4cdd2bbc22b34dff.txt`` (Hunan provincial government report,
2024-03-20), section 三: "设立农民工工资争议速裁庭" beside the "三调结合" of labour-dispute,
people's and judicial mediation. Spec: ``/work/shared/domain/procedure.md`` §5.1
(``hn.migrant_wage_fast_track``) and §4 (``migrant_worker_wage_arrears``).

What the plugin adds to the national flow (``docs/regions/hunan.md`` has the tables):

- the state ``fast_track_tribunal`` (速裁庭审理中), inside arbitration, entered from
  ``arbitration`` (after acceptance) by ``assign_fast_track``, which only a migrant worker's
  wage-only dispute passes (guard ``hunan.migrant_wage_case``) and which records the case's
  ``priority`` (``"fast_track"``);
- an internal, non-statutory target ``fast_track_target`` (15 calendar days from the assignment
  by default, a parameter of the plugin) whose expiry records a ``fast_track_overdue`` reminder;
- the statutory clocks keep running in the new state (``award_limit``, LDMAL 43, and
  ``defence_due``, LDMAL 30, are replaced by copies alive in it), and every national outcome of
  the hearing stays reachable from it: ``issue_award`` (final or not),
  ``issue_mediation_statement``, ``withdraw``, ``file_lawsuit`` once the award limit has run
  out, ``suspend_arbitration`` and ``extend_award_limit`` (both leave the fast track), and the
  handoff ``return_to_ordinary``.

Law and practice: the award limit, its extension, suspension, finality and the parties' remedies
are national law [V]; the fast track itself, the priority and the target are local practice
following the MOHRSS 2023 notice on fast-track tribunals [S][P]. No source fixes a Hunan target:
the notice asks only to "缩短办案时限"; local reports name 30 days from filing (Hubei, Jiangxi
Shangrao). The default of 15 calendar days from assignment is this plugin's parameter, chosen so
that a case assigned within 30 days of acceptance meets its target inside the 45-day limit; a
later assignment is allowed and warned about (``hunan.target_after_award_limit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import structlog

from mediation_flow.plugin import (
    AttributeSpec,
    Case,
    Channel,
    ClaimKind,
    Context,
    DataField,
    DeadlineKind,
    DeadlineOp,
    Event,
    FlowDefinition,
    Intake,
    Refusal,
    Registrations,
    Role,
    Route,
    Scenario,
    StateDef,
    TransitionDef,
    Unit,
    due_date,
    hookimpl,
)

__all__ = ["AWARD_LIMIT_DAYS", "FAST_TRACK", "HunanPlugin"]

log = structlog.get_logger("mediation_flow_hunan")

#: The new state: the migrant-worker wage fast-track tribunal, inside arbitration.
FAST_TRACK = "fast_track_tribunal"
#: LDMAL 43: the award is due 45 calendar days after acceptance; an internal target must fit.
AWARD_LIMIT_DAYS = 45
#: The value of the ``priority`` attribute while a case is on the fast track.
PRIORITY = "fast_track"

_NOTICE = "MOHRSS General Office 2023 notice 关于开展农民工工资争议速裁庭建设专项行动的通知 [S][P]"
_SEED = "seed 000 (Hunan 2024): 设立农民工工资争议速裁庭 [P]"


# --- guard, effect, warnings -------------------------------------------------------------------


#: The plugin's own guards, conditions, warnings, effects and data types.
names = Registrations("hunan")


@names.guard("hunan.migrant_wage_case")
def migrant_wage_case(ctx: Context) -> Refusal | None:
    """The fast track takes a migrant worker's dispute whose every claim is for wages
    (procedure.md §4 ``migrant_worker_wage_arrears``; MWPR; 2023 MOHRSS notice [S][P])."""
    if not ctx.case.is_migrant_worker:
        return Refusal(
            "速裁庭只办理农民工工资争议：本案申请人未登记为农民工 / the fast-track tribunal "
            "takes migrant workers' wage disputes only: the case is not a migrant worker's "
            "(is_migrant_worker is false)"
        )
    others = sorted({c.kind.value for c in ctx.claims} - {ClaimKind.wages.value})
    if others:
        return Refusal(
            f"速裁庭只办理单纯追索劳动报酬的争议：本案还请求 {'、'.join(others)} / the "
            f"fast-track tribunal takes wage-only disputes: the case also claims "
            f"{', '.join(others)}; hear it in ordinary arbitration"
        )
    return None


@names.effect("hunan.fast_track_priority")
def fast_track_priority(ctx: Context) -> dict[str, Any]:
    """2023 MOHRSS notice: migrant workers' wage cases are handled with priority (优先受理、
    快调速裁) [S][P]."""
    return {"priority": PRIORITY}


@names.condition("hunan.within_target")
def within_target(ctx: Context) -> bool:
    """The outcome comes by the end of the target's due day. The engine's ``meet`` marks an open
    deadline met whatever its due day when no ``tick`` ran in between; with this condition a late
    outcome leaves the target to close as ``expired`` when the case leaves the fast track."""
    return any(d.due >= ctx.today for d in ctx.open_deadlines("fast_track_target"))


@names.warning("hunan.target_after_award_limit")
def target_after_award_limit(ctx: Context) -> bool:
    """The internal target would end after the statutory award limit (LDMAL 43): the target no
    longer means anything; the award limit alone binds."""
    award = ctx.latest_deadline("award_limit")
    target = ctx.flow.deadline_map.get("fast_track_target")
    if award is None or target is None or target.length is None:
        return False
    due, _ = due_date(
        ctx.calendar, target.unit.value, ctx.event_day, target.length, ctx.case.region
    )
    return due > award.due


@names.warning("hunan.collective_case")
def collective_case(ctx: Context) -> bool:
    """A collective case (10+ workers, LDMAL 7): three arbitrators (AR 62-67) and the notice's
    "稳慎办理重大集体劳动争议案件"; the fast track does not change that."""
    return ctx.case.worker_count >= 10


# --- the plugin ---------------------------------------------------------------------------------


class HunanPlugin:
    """Hunan: migrant workers' wage disputes are heard by the fast-track tribunal inside the
    arbitration institute, with priority and an internal target, inside the statutory limit.

    ``target_days`` is the internal target in calendar days from the assignment (default 15);
    it must be shorter than the 45-day award limit (LDMAL 43).
    """

    name = "hunan"
    regions = ("43",)

    @hookimpl
    def registrations(self) -> Registrations:
        return names

    def __init__(self, target_days: int = 15) -> None:
        if isinstance(target_days, bool) or not isinstance(target_days, int):
            raise TypeError(f"target_days must be a whole number of days, not {target_days!r}")
        if not 1 <= target_days < AWARD_LIMIT_DAYS:
            raise ValueError(
                f"target_days must be 1 to {AWARD_LIMIT_DAYS - 1}: an internal target must end "
                f"inside the {AWARD_LIMIT_DAYS}-day award limit (LDMAL 43), not {target_days}"
            )
        self.target_days = target_days

    # -- the flow ----------------------------------------------------------------------------------

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        def national(trigger: str, dest: str) -> TransitionDef:
            found = flow.find(trigger, "arbitration", dest)
            assert found is not None, f"national edge {trigger} arbitration -> {dest} missing"
            return found

        meet_target = DeadlineOp("meet", "fast_track_target", when="hunan.within_target")
        leave_target = DeadlineOp("cancel", "fast_track_target")
        final = national("issue_award", "award_final")
        nonfinal = national("issue_award", "award_nonfinal")
        statement = national("issue_mediation_statement", "enforceable")
        withdraw = national("withdraw", "closed")
        overdue_suit = national("file_lawsuit", "litigation")
        suspend = national("suspend_arbitration", "arbitration_suspended")
        extend = flow.find("extend_award_limit", "arbitration", "arbitration")
        assert extend is not None
        award_limit = flow.deadline_map["award_limit"]
        defence_due = flow.deadline_map["defence_due"]
        here = (FAST_TRACK,)
        return flow.extend(
            plugin=self.name,
            states=[
                StateDef(
                    FAST_TRACK,
                    "速裁庭审理中",
                    "before the migrant-worker wage fast-track tribunal",
                    Channel.arbitration,
                    on_enter=(DeadlineOp("start", "fast_track_target"),),
                ),
            ],
            transitions=[
                TransitionDef(
                    "assign_fast_track",
                    ("arbitration",),
                    FAST_TRACK,
                    "转农民工工资争议速裁庭",
                    "assign to the migrant-worker wage fast-track tribunal",
                    source=f"{_SEED}; {_NOTICE}; AR 56 (simple procedure)",
                    guards=("hunan.migrant_wage_case",),
                    warnings=("hunan.target_after_award_limit", "hunan.collective_case"),
                    data=(
                        DataField("tribunal_id", "text", record=True),
                        DataField("simple_procedure", "bool", record=True),
                    ),
                    effects=("hunan.fast_track_priority",),
                ),
                # The outcomes of the hearing, as in ordinary arbitration; the award limit is met
                # by the national ops, the internal target by ours.
                replace(final, sources=here, deadlines=(*final.deadlines, meet_target)),
                replace(nonfinal, sources=here, deadlines=(*nonfinal.deadlines, meet_target)),
                replace(statement, sources=here, deadlines=(*statement.deadlines, meet_target)),
                replace(withdraw, sources=here),
                # LDMAL 43; LDI-1 12: no award in time lets the parties sue, fast track or not.
                replace(overdue_suit, sources=here),
                # AR 47: a suspended case cannot be fast; it resumes in ordinary arbitration.
                replace(
                    suspend,
                    sources=here,
                    label_zh="仲裁中止（退出速裁）",
                    label_en="suspend the arbitration (leaves the fast track)",
                    deadlines=(*suspend.deadlines, leave_target),
                    effects=(*suspend.effects, "clear:priority"),
                ),
                # LDMAL 43: a case complex enough for the extension is heard in ordinary
                # arbitration; extending takes it back there in one act.
                replace(
                    extend,
                    sources=here,
                    dest="arbitration",
                    label_zh="延长审理期限（转普通程序）",
                    label_en="extend the award limit (back to ordinary arbitration)",
                    deadlines=(*extend.deadlines, leave_target),
                    effects=(*extend.effects, "clear:priority"),
                ),
                TransitionDef(
                    "return_to_ordinary",
                    here,
                    "arbitration",
                    "退出速裁转普通程序",
                    "return to ordinary arbitration",
                    source=f"{_NOTICE}; AR 56-61 (simple procedure and its end)",
                    data=(DataField("return_reason", "text", required=True, record=True),),
                    deadlines=(leave_target,),
                    effects=("clear:priority",),
                ),
            ],
            deadline_kinds=[
                DeadlineKind(
                    "fast_track_target",
                    "速裁庭内部审结目标",
                    "fast-track internal target",
                    Unit.calendar_days,
                    self.target_days,
                    here,
                    f"{_NOTICE}: 缩短办案时限 (no number); plugin parameter, inside LDMAL 43",
                    expiry_event="fast_track_overdue",
                    statutory=False,
                ),
            ],
            replace_deadline_kinds=[
                replace(award_limit, alive_in=(*award_limit.alive_in, FAST_TRACK)),
                replace(defence_due, alive_in=(*defence_due.alive_in, FAST_TRACK)),
            ],
        )

    # -- intake ------------------------------------------------------------------------------------

    @hookimpl
    def suggest_route(self, intake: Intake, region: str) -> Route | None:
        if intake.is_migrant_worker and {c.kind for c in intake.claims} == {ClaimKind.wages}:
            return Route(
                "apply_arbitration",
                "农民工追索劳动报酬：建议直接申请仲裁，受理后转农民工工资争议速裁庭优先审理"
                "（快立快调快审快结）；调解自愿，也可申请支付令（劳动合同法第30条）",
                data={"by": "worker"},
            )
        return None

    @hookimpl
    def case_attributes(self, region: str) -> Mapping[str, AttributeSpec]:
        # MWPR 29-30: in construction, the general contractor answers first for its
        # subcontractors' wage arrears; the project identifies the wage account and deposit.
        return {
            "project_name": AttributeSpec("text", "工程建设项目名称"),
            "general_contractor": AttributeSpec("text", "施工总承包单位"),
        }

    @hookimpl
    def after_commit(self, case: Case, event: Event) -> None:
        if event.trigger == "assign_fast_track":
            log.info("fast_track_assigned", case_id=case.id, region=case.region)
        elif event.trigger == "fast_track_overdue":
            log.warning("fast_track_overdue", case_id=case.id, region=case.region)

    # -- demo --------------------------------------------------------------------------------------

    @hookimpl
    def demo_scenarios(self, region: str) -> Mapping[str, Scenario]:
        arb, worker = Role.arbitrator, Role.worker
        tribunal = {"tribunal_id": "市劳动人事争议仲裁院农民工工资争议速裁庭"}
        served = {"served_on": {"worker": "{d}", "employer": "{d}"}}

        def award(amount: int) -> dict[str, Any]:
            # 12 x 1,930 = 23,160: at most that is final (LDMAL 47; an example minimum wage).
            return {
                "items": [{"kind": "wages", "amount": str(amount)}],
                "monthly_minimum_wage": "1930",
                **served,
            }

        start = [
            (0, "apply_arbitration", {"by": "worker"}, worker),
            (1, "accept_arbitration", {}, arb),
            (0, "assign_fast_track", {**tribunal, "simple_procedure": True}, arb),
        ]
        migrant = {"is_migrant_worker": True, "worker_count": 1}
        return {
            "hunan_fast_track_award": Scenario(
                "农民工欠薪速裁：速裁庭终局裁决，期满生效后履行",
                12,
                [
                    *start,
                    (9, "issue_award", award(16000), arb),
                    (45, None, {}, arb),  # suit and revocation windows run out
                    (5, "confirm_performance", {}, arb),
                ],
                migrant,
            ),
            "hunan_fast_track_mediated": Scenario(
                "农民工欠薪速裁：速裁庭调解，出具仲裁调解书并履行",
                10,
                [
                    *start,
                    (5, "issue_mediation_statement", {"perform_by": "+10"}, arb),
                    (12, "confirm_performance", {}, arb),
                ],
                migrant,
            ),
            "hunan_fast_track_overdue": Scenario(
                "农民工欠薪速裁：超出内部审结目标（提醒），仍在法定期限内裁决",
                5,
                [
                    *start,
                    (20, None, {}, arb),  # the internal target runs out: fast_track_overdue
                    (2, "issue_award", award(20000), arb),
                    (45, None, {}, arb),
                    (5, "confirm_performance", {}, arb),
                ],
                migrant,
            ),
            "hunan_fast_track_returned": Scenario(
                "农民工欠薪速裁：案情复杂退出速裁，普通程序非终局裁决",
                5,
                [
                    *start,
                    (4, "return_to_ordinary", {"return_reason": "涉及劳动关系认定，案情复杂"}, arb),
                    (25, "issue_award", award(48000), arb),
                    (25, None, {}, arb),  # neither party sues: the award takes effect
                    (5, "confirm_performance", {}, arb),
                ],
                migrant,
            ),
        }

    def __repr__(self) -> str:
        return f"<{self.name} plugin for {', '.join(self.regions)}>"
