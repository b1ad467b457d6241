"""Liuzhou Liudong New Area (柳州市柳东新区, Guangxi): mediation linked to re-employment services.

Seed: ``shared/seeds/003_cac998cf9b8d3b54.txt`` (柳东管发〔2022〕32号, the new area's 2022 plan
for a national model industrial park of harmonious labour relations), section 三(二): an online
mediation platform covering "申请、受理、调解、结案、归档"; a closed loop of the human-resources
bureau, the union and the court ("人社、工会、法院一体化全程闭环"); and, its third point (三是),
mediation linked to employment services "让因劳动人事争议而失业的人员尽快实现再就业".
procedure.md §5.4 (``ld.reemployment_link``) classes the link as local practice [P].

What the plugin adds (``docs/regions/liuzhou_liudong.md`` has the tables):

- ``refer_to_reemployment`` (转介再就业服务): an internal transition (the state does not change)
  from the states where the dispute is settled, agreed or decided, and from ``closed``; guarded
  by the employment having ended; it records the referral in ``case.attributes`` and starts the
  reminder ``reemployment_followup`` (10 working days, not statutory). After the commit, the
  plugin hands the referral to an employment-service notifier (injectable; the default logs it).
- ``record_reemployment_followup`` (登记再就业回访结果): records the follow-up, meets the reminder.
- ``regional_rest_days``: Guangxi's 壮族三月三 holiday of 2024, 2025 and 2026 (prefix ``45``).

The plugin serves every Liuzhou code (``4502``): the new area is a development zone run by an
administrative committee (管理委员会), not a division with a code of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog

from mediation_flow.plugin import (
    Case,
    Context,
    DataField,
    DeadlineKind,
    DeadlineOp,
    Event,
    FlowDefinition,
    Refusal,
    Registrations,
    Role,
    Scenario,
    TransitionDef,
    Unit,
    hookimpl,
)

__all__ = [
    "GUANGXI_SANYUESAN",
    "REFERRAL_STATES",
    "LiudongPlugin",
    "Notifier",
    "ReemploymentReferral",
    "log_referral",
]

log = structlog.get_logger("mediation_flow_liuzhou_liudong")

PLUGIN = "liuzhou-liudong"
SEED = "seed 003 (柳东管发〔2022〕32号) 三(二)"

#: The states in which the dispute has an outcome and the case is still open: a settlement
#: being performed (ENMP 11-12), a mediation agreement being performed (LDMAL 14), an instrument
#: in force or being enforced (CPL 247-250). ``closed`` is handled separately (see ``extend_flow``).
REFERRAL_STATES = (
    "settlement_in_performance",
    "agreement_in_performance",
    "enforceable",
    "enforcement",
)

#: Guangxi's 壮族三月三 rest days, by year, as the notices of the autonomous region's
#: government office (广西壮族自治区人民政府办公厅) fix them under 自治区人民政府令第98号
#: (two days a year; when they fall on a weekend, weekdays are given instead, 补休).
GUANGXI_SANYUESAN: Mapping[int, tuple[date, ...]] = {
    # Notice of 2024-03-22: "4月11日至12日放假，与周末连休" (三月初三 = Thu 04-11).
    2024: (date(2024, 4, 11), date(2024, 4, 12)),
    # Notice of 2025-02-26: "3月31日至4月1日放假，与周末连休" (三月初三 = Mon 03-31).
    2025: (date(2025, 3, 31), date(2025, 4, 1)),
    # Notice of 2026-03-04, as reported: 4月17日至20日 (三月初二/初三 = Sat 04-18 / Sun 04-19,
    # with Fri 04-17 and Mon 04-20 given as 补休).
    2026: (date(2026, 4, 17), date(2026, 4, 18), date(2026, 4, 19), date(2026, 4, 20)),
}

# Guards and effects, registered by name (prefixed with the plugin's name).
EMPLOYMENT_ENDED = f"{PLUGIN}.employment_ended"
LABOUR_DISPUTE = f"{PLUGIN}.labour_dispute"
REFERRED = f"{PLUGIN}.referred"
RECORD_REFERRAL = f"{PLUGIN}.record_referral"
RECORD_FOLLOWUP = f"{PLUGIN}.record_followup"

REFERRAL = "reemployment_referral"
FOLLOWUP = "reemployment_followup"


#: The plugin's own guards, conditions, warnings, effects and data types.
names = Registrations(PLUGIN)


@names.guard(EMPLOYMENT_ENDED)
def employment_ended(ctx: Context) -> Refusal | None:
    """Seed 003 三(二): only a worker who lost the job ("因劳动人事争议而失业的人员") is referred.
    The case record's ``employment_ended_on`` (recorded at intake) must be set and not later
    than today."""
    ended = ctx.case.employment_ended_on
    if ended is None:
        return Refusal(
            "the employment has not ended (the case records no employment_ended_on): "
            "there is nobody to refer to re-employment services"
        )
    if ended > ctx.today:
        return Refusal(f"the employment ends on {ended.isoformat()}, after today")
    return None


@names.guard(LABOUR_DISPUTE)
def labour_dispute(ctx: Context) -> Refusal | None:
    """A case closed as not a labour dispute (LDMAL 2) did not cost anyone a job through a labour
    dispute: no referral from it."""
    if ctx.case.resolution == "out_of_scope":
        return Refusal("the case was closed as not a labour or personnel dispute")
    return None


@names.guard(REFERRED)
def referred(ctx: Context) -> Refusal | None:
    """A follow-up needs a referral first."""
    if not ctx.case.attributes.get(REFERRAL):
        return Refusal("the worker has not been referred to re-employment services")
    return None


@names.effect(RECORD_REFERRAL)
def record_referral(ctx: Context) -> dict[str, Any]:
    """The referral as the case keeps it: to whom, when, for an employment that ended when, and
    from which stage of the dispute."""
    ended = ctx.case.employment_ended_on
    referred_on = ctx.data.get("referred_on") or ctx.event_day
    return {
        REFERRAL: {
            "service_org": ctx.data["service_org"],
            "referred_on": referred_on.isoformat(),
            "employment_ended_on": ended.isoformat() if ended else None,
            "from_state": ctx.state,
        }
    }


@names.effect(RECORD_FOLLOWUP)
def record_followup(ctx: Context) -> dict[str, Any]:
    """The follow-up of the referral: when, and whether the worker has found work."""
    return {FOLLOWUP: {"on": ctx.event_day.isoformat(), "reemployed": ctx.data["reemployed"]}}


@dataclass(frozen=True)
class ReemploymentReferral:
    """What the employment service receives: the case, the service it is referred to, the day of
    the referral and the day the employment ended. The worker's name and contact details are on
    ``case.parties`` (the notifier gets the case too)."""

    case_id: int
    region: str
    service_org: str
    referred_on: date
    employment_ended_on: date | None
    from_state: str

    @classmethod
    def from_case(cls, case: Case) -> ReemploymentReferral:
        recorded = case.attributes[REFERRAL]
        ended = recorded.get("employment_ended_on")
        return cls(
            case_id=case.id,
            region=case.region,
            service_org=recorded["service_org"],
            referred_on=date.fromisoformat(recorded["referred_on"]),
            employment_ended_on=date.fromisoformat(ended) if ended else None,
            from_state=recorded["from_state"],
        )


#: ``notifier(case, referral)``: hands a committed referral to the employment service (the
#: "大数据" platform link of the seed). It runs after the commit; an exception it raises is
#: logged by the engine (``after_commit_failed``) and never undoes the referral.
Notifier = Callable[[Case, ReemploymentReferral], None]


def log_referral(case: Case, referral: ReemploymentReferral) -> None:
    """The default notifier: a structured log line for the employment service to pick up (no
    personal data in it)."""
    log.info(
        "reemployment_referral",
        case_id=referral.case_id,
        region=referral.region,
        service_org=referral.service_org,
        referred_on=referral.referred_on.isoformat(),
        from_state=referral.from_state,
    )


_ADMIN, _UNION, _PEOPLES = Role.administrative_mediator, Role.union_mediator, Role.peoples_mediator
_INTAKE, _JUDGE, _WORKER = Role.intake_officer, Role.judge, Role.worker
_SERVICE = "柳东新区公共就业服务窗口"


class LiudongPlugin:
    """Liuzhou Liudong New Area: a worker who lost the job through the dispute is referred to
    the employment service once the dispute is settled, agreed or decided (seed 003 三(二))."""

    name = PLUGIN
    # The new area has no division code of its own (it is run by an administrative committee
    # inside Liuzhou's districts), so the plugin serves every Liuzhou code.
    regions = ("4502",)

    @hookimpl
    def registrations(self) -> Registrations:
        return names

    def __init__(self, notifier: Notifier | None = None) -> None:
        self.notifier: Notifier = notifier or log_referral

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        # The follow-up reminder outlives the stage the referral was made in: finding work does
        # not wait for the agreement to be performed. It stays open in every state except
        # ``archived`` (archiving seals the file: "结案、归档").
        followup_states = tuple(s.id for s in flow.states if s.id != "archived")
        data = (
            DataField("service_org", "text", required=True),
            DataField("referred_on", "date"),
        )
        refer = TransitionDef(
            "refer_to_reemployment",
            REFERRAL_STATES,
            None,
            "转介再就业服务",
            "refer the worker to re-employment services",
            source=f"{SEED} (local practice)",
            guards=(EMPLOYMENT_ENDED, f"once:{REFERRAL}"),
            data=data,
            deadlines=(DeadlineOp("start", FOLLOWUP, "referred_on"),),
            effects=(RECORD_REFERRAL,),
        )
        return flow.extend(
            plugin=self.name,
            transitions=[
                refer,
                # From ``closed`` too, as an internal transition: the case stays closed (and
                # terminal, with its resolution), but a worker whose case was withdrawn or closed
                # before anyone thought of the referral can still be referred until the file is
                # archived. Not from a case that was not a labour dispute.
                TransitionDef(
                    "refer_to_reemployment",
                    ("closed",),
                    None,
                    "转介再就业服务（结案后）",
                    "refer the worker to re-employment services (after closing)",
                    source=f"{SEED}; procedure.md §5.4 (local practice)",
                    guards=(LABOUR_DISPUTE, EMPLOYMENT_ENDED, f"once:{REFERRAL}"),
                    data=data,
                    deadlines=(DeadlineOp("start", FOLLOWUP, "referred_on"),),
                    effects=(RECORD_REFERRAL,),
                ),
                TransitionDef(
                    "record_reemployment_followup",
                    followup_states,
                    None,
                    "登记再就业回访结果",
                    "record the re-employment follow-up",
                    source=f"{SEED} (local practice)",
                    guards=(REFERRED, f"once:{FOLLOWUP}"),
                    data=(DataField("reemployed", "bool", required=True),),
                    deadlines=(DeadlineOp("meet", FOLLOWUP),),
                    effects=(RECORD_FOLLOWUP,),
                ),
            ],
            deadline_kinds=[
                DeadlineKind(
                    FOLLOWUP,
                    "再就业服务回访提醒",
                    "re-employment follow-up reminder",
                    Unit.working_days,
                    10,
                    followup_states,
                    f"{SEED} (local practice)",
                    statutory=False,
                ),
            ],
        )

    @hookimpl
    def regional_rest_days(self) -> Mapping[str, list[date]]:
        # Guangxi-wide (prefix "45"), not only Liuzhou: the 三月三 holiday is the autonomous
        # region's. Another Guangxi plugin giving the same days is harmless (they are a set).
        return {"45": [day for days in GUANGXI_SANYUESAN.values() for day in days]}

    @hookimpl
    def after_commit(self, case: Case, event: Event) -> None:
        if event.trigger == "refer_to_reemployment":
            # A failure here is the engine's to log (after_commit_failed); the referral stays.
            self.notifier(case, ReemploymentReferral.from_case(case))
        elif (
            event.dest != event.source
            and event.dest in (*REFERRAL_STATES, "closed")
            and case.employment_ended_on is not None
            and REFERRAL not in case.attributes
            and case.resolution != "out_of_scope"
        ):
            # The referral became possible: say so to the officers' log (a nudge, not a step).
            log.info(
                "reemployment_referral_available",
                case_id=case.id,
                region=case.region,
                state=case.state,
            )

    @hookimpl
    def demo_scenarios(self, region: str) -> Mapping[str, Scenario]:
        refer = {"service_org": _SERVICE, "referred_on": "{d}"}
        return {
            "liudong_agreement_reemployment": Scenario(
                "企业调委会调解达成协议（协议解除劳动关系），转介再就业服务并回访",
                14,
                [
                    (
                        0,
                        "refer_to_union_mediation",
                        {
                            "org_id": "柳东新区某企业劳动争议调解委员会",
                            "org_type": "enterprise_committee",
                        },
                        _INTAKE,
                    ),
                    (1, "accept_mediation", {}, _UNION),
                    (6, "sign_agreement", {"effective_on": "{d}", "perform_by": "+20"}, _UNION),
                    (1, "refer_to_reemployment", refer, _ADMIN),
                    (9, "record_reemployment_followup", {"reemployed": True}, _ADMIN),
                    (12, "confirm_performance", {}, _UNION),
                    (30, "archive", {}, _INTAKE),
                ],
            ),
            "liudong_confirmed_enforced_reemployment": Scenario(
                "人民调解协议经司法确认，执行中转介再就业服务（回访提醒到期）",
                10,
                [
                    (0, "refer_to_peoples_mediation", {"org_id": "雒容镇人民调解委员会"}, _INTAKE),
                    (7, "sign_agreement", {"effective_on": "{d}", "perform_by": "+10"}, _PEOPLES),
                    (5, "apply_judicial_confirmation", {"by": "both"}, _JUDGE),
                    (10, "confirm_agreement", {"perform_by": "+10"}, _JUDGE),
                    (15, "apply_enforcement", {"by": "worker"}, _WORKER),
                    (2, "refer_to_reemployment", refer, _ADMIN),
                    # No follow-up is recorded: the reminder expires (a deadline_expired event).
                    (30, "complete_enforcement", {}, _JUDGE),
                    (30, "archive", {}, _INTAKE),
                ],
            ),
            "liudong_withdrawn_reemployment": Scenario(
                "撤回调解申请结案后，转介再就业服务",
                8,
                [
                    (
                        0,
                        "refer_to_administrative_mediation",
                        {"org_id": "柳东新区人社局调解"},
                        _INTAKE,
                    ),
                    (5, "withdraw", {"by": "worker"}, _WORKER),
                    (3, "refer_to_reemployment", refer, _ADMIN),
                    (8, "record_reemployment_followup", {"reemployed": False}, _ADMIN),
                    (30, "archive", {}, _INTAKE),
                ],
            ),
        }

    def __repr__(self) -> str:
        return f"<{self.name} plugin for {', '.join(self.regions)}>"
