"""Zigong Da'an district (自贡市大安区, division code 510304): disputes kept inside the plant and
the park before they reach the national channels.

Source: the 2022 provincial pilot plan for harmonious labour relations in Da'an district,
``/work/shared/seeds/001_63c4ad3cb03e418b.txt`` (procedure.md §5.2). The plan wants labour
disputes resolved "不出厂区、不出社区、不出园区": trained in-enterprise mediators ("企业和事佬", the
enterprise's "第一道防线") first, then the park's labour-dispute mediation station ("园区劳动纠纷
调解驿站", "企业自治、驿站协调、园区管委会主导"), then the "五调联动" channels (union, people's,
administrative, arbitration and judicial mediation), with "背包仲裁" (arbitrators who travel to
the workplace) and early warning for construction and catering.

What the plugin adds to the national flow (``docs/regions/zigong_daan.md`` has the tables):

- ``inplant_mediation`` (厂区和事佬调解中, union channel) and ``park_station_mediation``
  (园区调解驿站调解中, administrative channel), each a labour-dispute mediation organisation
  with its own LDMAL 14 clock (``mediation_limit``, 15 cd from *that* organisation's receipt);
- the escalation chain ``refer_to_inplant_mediator`` -> ``escalate_to_park_station`` -> the
  national referrals, plus ``refer_to_park_station`` for park enterprises without in-plant
  mediators and after a failed in-plant mediation;
- ``inplant_target``: a 3-working-day internal target (not statutory) for the in-plant
  mediator to take the dispute up, hand it to the station or settle it;
- ``arrange_on_site_hearing`` (背包仲裁) inside arbitration;
- intake attributes, a route suggestion, notifications after commit and demo scenarios.

Mediation stays voluntary (LDMAL 5): both new states keep ``apply_arbitration`` and
``withdraw``.
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
    Context,
    DataField,
    DeadlineKind,
    DeadlineOp,
    Event,
    FlowDefinition,
    IndustryWatch,
    Intake,
    Refusal,
    Registrations,
    Role,
    Route,
    Scenario,
    StateDef,
    TransitionDef,
    Unit,
    hookimpl,
)

__all__ = [
    "DAAN",
    "INDUSTRIES",
    "INPLANT",
    "NEW_STATES",
    "PARK_STATION",
    "DaanPlugin",
]


def _log() -> Any:
    """The plugin's logger, looked up on each use so that it follows the host's structlog
    configuration at that moment (a module-level proxy would cache the first one)."""
    return structlog.get_logger("mediation_flow_zigong_daan")


#: 自贡市大安区 (GB/T 2260; Zigong is 5103, its districts 510302 自流井区, 510303 贡井区,
#: 510304 大安区, 510311 沿滩区).
DAAN = "510304"
INPLANT = "inplant_mediation"
PARK_STATION = "park_station_mediation"
NEW_STATES = (INPLANT, PARK_STATION)
SEED = "seed 001 (大安区改革试点, 2022)"
#: Industries of the intake form; the seed names construction (建筑领域) and catering (餐饮服务)
#: for early warning, and the pilot park is a smart-terminal (electronics) park.
INDUSTRIES = (
    "construction",
    "catering",
    "electronics",
    "manufacturing",
    "logistics",
    "services",
    "other",
)
EARLY_WARNING_INDUSTRIES = ("construction", "catering")

PLUGIN = "zigong-daan"
GUARD_HAS_MEDIATORS = f"{PLUGIN}.has_inplant_mediators"
GUARD_PARK_ENTERPRISE = f"{PLUGIN}.park_enterprise"


# --- guards ---------------------------------------------------------------------------------------


def _intake(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """What intake recorded (the case keeps it under ``attributes["intake"]``)."""
    intake = attributes.get("intake") or {}
    return intake if isinstance(intake, Mapping) else {}


#: The plugin's own guards, conditions, warnings, effects and data types.
names = Registrations(PLUGIN)


@names.guard(GUARD_HAS_MEDIATORS)
def has_inplant_mediators(ctx: Context) -> Refusal | None:
    """Seed 001: the in-plant step exists only where the enterprise has trained mediators
    (在试点企业内部探索建立劳动纠纷调解员队伍，培育“企业和事佬”). Refused when intake recorded that
    the employer has none; an unknown answer does not refuse (the officer checks)."""
    if _intake(ctx.case.attributes).get("has_inplant_mediators") is False:
        return Refusal(
            "该企业未培育“企业和事佬”（受理登记 has_inplant_mediators=false）："
            "请转园区调解驿站或其他调解组织，或直接申请仲裁"
        )
    return None


def _park(ctx: Context) -> str | None:
    for value in (
        ctx.data.get("park"),
        ctx.case.attributes.get("park"),
        _intake(ctx.case.attributes).get("park"),
    ):
        if isinstance(value, str) and value.strip():
            return value
    return None


@names.guard(GUARD_PARK_ENTERPRISE)
def park_enterprise(ctx: Context) -> Refusal | None:
    """Seed 001: the park's mediation station serves the park's enterprises (以西南智能终端产业园
    为示范点，设立园区劳动纠纷调解驿站). The park comes from intake or from data 'park'."""
    if _park(ctx) is None:
        return Refusal(
            "园区调解驿站只调解园区企业的劳动纠纷：受理登记未记录所在园区，"
            "请在 data 'park' 中注明用人单位所在园区",
            needs_data=True,
        )
    return None


# --- the plugin -----------------------------------------------------------------------------------


class DaanPlugin:
    """Zigong Da'an district: in-plant mediator (企业和事佬) -> park mediation station (园区调解
    驿站) -> the national channels, each organisation with its own LDMAL 14 clock."""

    name = PLUGIN
    regions = (DAAN,)

    @hookimpl
    def registrations(self) -> Registrations:
        return names

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        def national(trigger: str, source: str, dest: str) -> TransitionDef:
            edge = flow.find(trigger, source, dest)
            if edge is None:  # pragma: no cover - the national flow has every one of these
                raise LookupError(f"the flow has no edge {trigger} {source} -> {dest}")
            return edge

        # The national referral: its data (org_id, received_on), its deadline ops (the previous
        # organisation's clocks are cancelled) and its effects (a new organisation may extend
        # once again) are what a referral to a new organisation does in the chain too.
        referral = national(
            "refer_to_administrative_mediation", "received", "administrative_mediation"
        )
        accept = national("accept_mediation", "union_mediation", "union_mediation")
        sign = national("sign_agreement", "union_mediation", "agreement_in_performance")
        meet_target = DeadlineOp("meet", "inplant_target")
        limit = flow.deadline_map["mediation_limit"]
        chain_data = (
            DataField("org_id", "text", record=True),
            DataField("received_on", "date", record=True),
            DataField("park", "text", record=True),
        )
        return flow.extend(
            plugin=self.name,
            states=[
                StateDef(
                    INPLANT,
                    "厂区和事佬调解中",
                    "in-plant mediation by the enterprise's peacemaker (企业和事佬)",
                    # The enterprise's own mediation is chaired by the union (LDMAL 10(1);
                    # ENMP 15), which flow.md files under the union channel.
                    Channel.union,
                    on_enter=(
                        # LDMAL 14 ¶3: 15 cd from this organisation's receipt.
                        DeadlineOp("start", "mediation_limit", "received_on"),
                        DeadlineOp("start", "inplant_target", "received_on"),
                    ),
                ),
                StateDef(
                    PARK_STATION,
                    "园区调解驿站调解中",
                    "at the park's labour-dispute mediation station (园区调解驿站)",
                    # A regional organisation led by the park's management committee
                    # (园区管委会主导): LDMAL 10(3), the administrative channel of flow.md.
                    Channel.administrative,
                    on_enter=(DeadlineOp("start", "mediation_limit", "received_on"),),
                ),
            ],
            transitions=[
                TransitionDef(
                    "refer_to_inplant_mediator",
                    ("received", "negotiation_failed", "settlement_breached"),
                    INPLANT,
                    "转厂区和事佬调解",
                    "refer to the in-plant mediator",
                    source=f"{SEED} 企业和事佬, 劳动纠纷不出厂区; LDMAL 10(1); ENMP 13-14",
                    guards=(GUARD_HAS_MEDIATORS,),
                    interrupts_limitation=True,
                    data=chain_data[:2],
                ),
                TransitionDef(
                    "escalate_to_park_station",
                    (INPLANT,),
                    PARK_STATION,
                    "升级至园区调解驿站",
                    "escalate to the park mediation station",
                    source=f"{SEED} 企业自治、驿站协调、园区管委会主导; LDMAL 10(3), 14",
                    guards=(GUARD_PARK_ENTERPRISE,),
                    interrupts_limitation=True,
                    data=chain_data,
                    # The in-plant clock closes; the station's own 15 days start on entry.
                    deadlines=(*referral.deadlines, meet_target),
                    effects=referral.effects,
                ),
                TransitionDef(
                    "refer_to_park_station",
                    (
                        "received",
                        "negotiation_failed",
                        "settlement_breached",
                        "mediation_failed",
                        "arbitration_received",
                    ),
                    PARK_STATION,
                    "转园区调解驿站",
                    "refer to the park mediation station",
                    source=f"{SEED} 劳动纠纷不出园区; LDMAL 10(3), 14",
                    guards=(GUARD_PARK_ENTERPRISE,),
                    interrupts_limitation=True,
                    data=chain_data,
                    deadlines=referral.deadlines,
                    effects=referral.effects,
                ),
                # From either level up to the national channels (五调联动). Each referral
                # cancels the current organisation's clock; the next one starts its own.
                *(
                    replace(national(trigger, "received", dest), sources=NEW_STATES)
                    for trigger, dest in (
                        ("refer_to_union_mediation", "union_mediation"),
                        ("refer_to_peoples_mediation", "peoples_mediation"),
                        ("refer_to_administrative_mediation", "administrative_mediation"),
                    )
                ),
                replace(accept, sources=NEW_STATES, deadlines=(*accept.deadlines, meet_target)),
                replace(
                    national("extend_mediation", "union_mediation", "union_mediation"),
                    sources=NEW_STATES,
                ),
                replace(sign, sources=NEW_STATES, deadlines=(*sign.deadlines, meet_target)),
                replace(
                    national("fail_mediation", "union_mediation", "mediation_failed"),
                    sources=NEW_STATES,
                ),
                # Mediation is never compulsory (LDMAL 5): both levels keep the exits.
                replace(
                    national("apply_arbitration", "received", "arbitration_received"),
                    sources=NEW_STATES,
                ),
                replace(national("withdraw", "received", "closed"), sources=NEW_STATES),
                TransitionDef(
                    "arrange_on_site_hearing",
                    ("arbitration", "arbitration_mediation"),
                    None,
                    "安排背包仲裁（赴企业、园区现场办案）",
                    "arrange an on-site (backpack) arbitration hearing",
                    source=f"{SEED} 背包仲裁; AOR 12",
                    data=(DataField("hearing_venue", "text", required=True, record=True),),
                ),
            ],
            deadline_kinds=[
                DeadlineKind(
                    "inplant_target",
                    "厂区调解内部时限",
                    "in-plant mediator's internal target",
                    Unit.working_days,
                    3,
                    (INPLANT,),
                    f"{SEED} 企业调解“第一道防线”; modelled on ENMP 22 (local practice)",
                    expiry_event="inplant_target_overdue",
                    statutory=False,
                ),
            ],
            replace_deadline_kinds=[replace(limit, alive_in=(*limit.alive_in, *NEW_STATES))],
        )

    @hookimpl
    def case_attributes(self, region: str) -> Mapping[str, AttributeSpec]:
        return {
            "industry": AttributeSpec("text", "行业", choices=INDUSTRIES),
            "park": AttributeSpec("text", "所在园区（如西南智能终端产业园）"),
            "has_inplant_mediators": AttributeSpec(
                "bool", "企业已培育“企业和事佬”（企业劳动纠纷调解员）"
            ),
            "community": AttributeSpec("text", "所在社区（“1+N”劳动关系协调包挂）"),
        }

    @hookimpl
    def suggest_route(self, intake: Intake, region: str) -> Route | None:
        attrs = intake.attributes
        park = attrs.get("park") or None
        mediators = attrs.get("has_inplant_mediators")
        if mediators is True or (park and mediators is None):
            then = f"，未化解的可升级至{park}劳动纠纷调解驿站" if park else ""
            reason = f"劳动纠纷不出厂区：建议先由企业和事佬在企业内部调解{then}"
            return Route(
                "refer_to_inplant_mediator",
                reason + "；调解自愿，当事人可随时申请仲裁（劳动争议调解仲裁法第5条）",
            )
        if park:
            return Route(
                "refer_to_park_station",
                f"劳动纠纷不出园区：用人单位位于{park}且未培育企业和事佬，"
                "建议由园区劳动纠纷调解驿站调解；调解自愿，当事人可随时申请仲裁",
                data={"park": park, "org_id": f"{park}劳动纠纷调解驿站"},
            )
        if attrs.get("community"):
            community = attrs["community"]
            return Route(
                "refer_to_peoples_mediation",
                f"劳动纠纷不出社区：建议由{community}人民调解组织（“1+N”包挂）调解",
                data={"org_id": f"{community}人民调解委员会"},
            )
        return None

    @hookimpl
    def early_warning_rules(self) -> list[IndustryWatch]:
        # Seed 001 动态预警: "加强对建筑领域、餐饮服务等行业和重点企业的预警防控".
        return [IndustryWatch(EARLY_WARNING_INDUSTRIES, region_prefix=self.regions[0])]

    @hookimpl
    def after_commit(self, case: Case, event: Event) -> None:
        if event.trigger == "inplant_target_overdue":
            # 驿站协调: the station hears of disputes the in-plant mediator has not taken up.
            _log().info("daan_inplant_target_overdue", case_id=case.id, notify="park_station")
        elif event.trigger in ("escalate_to_park_station", "refer_to_park_station"):
            _log().info(
                "daan_park_station_referral",
                case_id=case.id,
                park=case.attributes.get("park") or _intake(case.attributes).get("park"),
                station=case.attributes.get("org_id"),
            )

    @hookimpl
    def demo_scenarios(self, region: str) -> Mapping[str, Scenario]:
        union, admin = Role.union_mediator, Role.administrative_mediator
        worker, arbitrator = Role.worker, Role.arbitrator
        park = "西南智能终端产业园"
        station = {"org_id": f"{park}劳动纠纷调解驿站"}
        inplant = {"org_id": "园区企业“企业和事佬”"}
        intake = {
            "attributes": {"park": park, "has_inplant_mediators": True, "industry": "electronics"}
        }
        agreement = {"effective_on": "{d}", "perform_by": "+15"}
        return {
            "daan_park_station_resolved": Scenario(
                "厂区和事佬未化解，升级园区调解驿站达成协议并履行",
                12,
                [
                    (0, "refer_to_inplant_mediator", inplant, union),
                    (1, "accept_mediation", {}, union),
                    (4, "escalate_to_park_station", station, admin),
                    (6, "sign_agreement", agreement, admin),
                    (14, "confirm_performance", {}, admin),
                ],
                intake,
            ),
            "daan_park_station_to_national": Scenario(
                "园区调解驿站未化解，转人民调解期满未果，申请仲裁并背包仲裁现场调解结案",
                10,
                [
                    (0, "refer_to_inplant_mediator", inplant, union),
                    (3, "escalate_to_park_station", station, admin),
                    (5, "refer_to_peoples_mediation", {"org_id": "大安区人民调解委员会"}, admin),
                    (25, None, {}, admin),  # 15 days pass: fail_mediation by tick
                    (2, "apply_arbitration", {"by": "worker"}, worker),
                    (3, "accept_arbitration", {}, arbitrator),
                    (2, "arrange_on_site_hearing", {"hearing_venue": park}, arbitrator),
                    (3, "start_arbitration_mediation", {"entrusted": False}, arbitrator),
                    (4, "issue_mediation_statement", {"perform_by": "+15"}, arbitrator),
                    (20, "confirm_performance", {}, arbitrator),
                ],
                intake,
            ),
            "daan_inplant_expired_then_station": Scenario(
                "厂区调解期满未果，另行申请园区调解驿站调解并达成协议",
                6,
                [
                    (0, "refer_to_inplant_mediator", inplant, union),
                    (25, None, {}, union),  # 15 days pass: fail_mediation by tick
                    (1, "refer_to_park_station", station, admin),
                    (5, "sign_agreement", agreement, admin),
                    (16, "confirm_performance", {}, admin),
                ],
                intake,
            ),
        }

    def __repr__(self) -> str:
        return f"<{self.name} plugin for {', '.join(self.regions)}>"
