"""A template regional plugin: a community mediation point in front of the formal channels.

Copy ``plugins/template`` to ``plugins/<region>``, rename the package and the entry point in
``pyproject.toml``, set ``name`` and ``regions``, and replace the example hooks with the region's
own. Every hook is optional; ``docs/plugins.md`` explains each one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

import structlog

from mediation_flow.plugin import (
    AttributeSpec,
    Case,
    Channel,
    DataField,
    DeadlineKind,
    DeadlineOp,
    Event,
    FlowDefinition,
    Intake,
    Registrations,
    Resolution,
    Role,
    Route,
    Scenario,
    StateDef,
    TransitionDef,
    Unit,
    hookimpl,
)

__all__ = ["TemplatePlugin"]

log = structlog.get_logger("mediation_flow_template")


class TemplatePlugin:
    """Beijing Chaoyang (example): small disputes first go to a community mediation point,
    which has an internal target of 3 working days before it escalates to people's mediation."""

    name = "template"
    regions = ("110105",)

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        # The national agreement edge, reused from the new state: its deadlines (the review and
        # confirmation windows) come with it.
        sign = flow.find("sign_agreement", "peoples_mediation", "agreement_in_performance")
        assert sign is not None
        return flow.extend(
            plugin=self.name,
            states=[
                StateDef(
                    "community_mediation",
                    "社区调解点调解中",
                    "at the community mediation point",
                    Channel.peoples,
                    on_enter=(DeadlineOp("start", "community_target"),),
                ),
            ],
            transitions=[
                TransitionDef(
                    "refer_to_community_point",
                    ("received",),
                    "community_mediation",
                    "转社区调解点",
                    "refer to the community mediation point",
                    source="Op-71 (regional practice)",
                    data=(DataField("org_id", "text", record=True),),
                ),
                replace(
                    sign,
                    sources=("community_mediation",),
                    deadlines=(*sign.deadlines, DeadlineOp("meet", "community_target")),
                ),
                TransitionDef(
                    "escalate_to_peoples_mediation",
                    ("community_mediation",),
                    "peoples_mediation",
                    "升级至人民调解",
                    "escalate to people's mediation",
                    source="regional practice",
                    data=(DataField("org_id", "text", record=True),),
                ),
                # Mediation is never compulsory (LDMAL 5): the new step keeps both exits.
                TransitionDef(
                    "apply_arbitration",
                    ("community_mediation",),
                    "arbitration_received",
                    "申请仲裁",
                    "apply for arbitration",
                    source="LDMAL 5",
                    party_act=True,
                    interrupts_limitation=True,
                    data=(DataField("received_on", "date", record=True),),
                ),
                TransitionDef(
                    "withdraw",
                    ("community_mediation",),
                    "closed",
                    "撤回",
                    "withdraw",
                    party_act=True,
                    resolution=Resolution.withdrawn,
                ),
            ],
            deadline_kinds=[
                DeadlineKind(
                    "community_target",
                    "社区调解内部时限",
                    "community point internal target",
                    Unit.working_days,
                    3,
                    ("community_mediation",),
                    "regional practice",
                    statutory=False,
                ),
            ],
        )

    @hookimpl
    def suggest_route(self, intake: Intake, region: str) -> Route | None:
        total = sum((c.amount for c in intake.claims), Decimal(0))
        if intake.workers <= 3 and total <= Decimal(10000):
            return Route("refer_to_community_point", "小额个体争议，建议先到社区调解点就地化解")
        return None

    @hookimpl
    def case_attributes(self, region: str) -> Mapping[str, AttributeSpec]:
        return {"community": AttributeSpec("text", "所属社区")}

    @hookimpl
    def demo_scenarios(self, region: str) -> Mapping[str, Scenario]:
        point = {"org_id": "望京社区调解点"}
        return {
            "template_community_point": Scenario(
                "社区调解点就地化解",
                20,
                [
                    (0, "refer_to_community_point", point, Role.intake_officer),
                    (
                        2,
                        "sign_agreement",
                        {"effective_on": "{d}", "perform_by": "+10"},
                        Role.peoples_mediator,
                    ),
                    (12, "confirm_performance", {}, Role.intake_officer),
                ],
            ),
            "template_escalated": Scenario(
                "社区调解点未果，升级人民调解",
                10,
                [
                    (0, "refer_to_community_point", point, Role.intake_officer),
                    (
                        4,
                        "escalate_to_peoples_mediation",
                        {"org_id": "街道人民调解委员会"},
                        Role.intake_officer,
                    ),
                    (6, "sign_agreement", {"effective_on": "{d}"}, Role.peoples_mediator),
                    (3, "withdraw", {"by": "worker"}, Role.worker),
                ],
            ),
        }

    @hookimpl
    def after_commit(self, case: Case, event: Event) -> None:
        if event.trigger == "escalate_to_peoples_mediation":
            log.info("community_point_escalated", case_id=case.id, region=case.region)

    def __repr__(self) -> str:
        return f"<{self.name} plugin for {', '.join(self.regions)}>"
