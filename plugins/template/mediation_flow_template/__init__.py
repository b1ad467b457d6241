"""A template regional plugin: a community mediation point in front of the formal channels.

Copy ``plugins/template`` to ``plugins/<region>``, rename the package and the entry point in
``pyproject.toml``, set ``name`` and ``regions``, and replace the example hooks with the region's
own. Every hook is optional; ``docs/plugins.md`` explains each one, and
``mediation_flow.testing.check_plugin`` (or ``mediation-flow plugins check
mediation_flow_template:TemplatePlugin``) checks the result against the statutory floor.

The region is fictional: ``119901`` (Beijing has no prefecture ``1199``). It shows:

- a new mediation step with the statutory 15-day clock (LDMAL 14) and its ``fail_mediation``
  exit, the national exits kept (LDMAL 5), and an internal target of 3 working days;
- a case-number rule for the community point (``numbering_rules``);
- a document of its own, the referral slip (``document_templates``);
- an early-warning rule: an employer with three or more cases (``early_warning_rules``);
- a veto within the rules: escalation needs the point's note (``veto_transition``, ``vetoes``);
- a write in the command's transaction (``in_transaction``), and a log line after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import structlog
from sqlalchemy import Column, Connection, Date, Integer, MetaData, String, Table, Text

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
    FlowEditor,
    Intake,
    NumberingRule,
    RepeatEmployer,
    Role,
    Route,
    Rule,
    Scenario,
    StateDef,
    TransitionDef,
    Unit,
    hookimpl,
)

__all__ = ["REFERRALS", "REGION", "TemplatePlugin"]

log = structlog.get_logger("mediation_flow_template")

#: The (fictional) region the template serves.
REGION = "119901"
STATE = "community_mediation"

_metadata = MetaData()
#: The plugin's own table, written in the referral's transaction (created on first use).
REFERRALS = Table(
    "template_community_referrals",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("point", Text),
    Column("region", String(6), nullable=False),
    Column("referred_on", Date, nullable=False),
)

REFERRAL_SLIP = "\n".join(
    [
        '{% from "_macros" import number_line, seal %}',
        '<h1>{{ organisation or "社区调解点" }}<br>转介单</h1>',
        "{{ number_line(mediation_number) }}",
        '<p>{{ applicants | map(attribute="name") | join("、") }}与'
        '{{ respondents | map(attribute="name") | join("、") }}之间的{{ dispute }}，'
        "于{{ mediation_received_on | zh_date }}转至"
        '{{ mediation_org | default("社区调解点", true) }}调解。</p>',
        "{{ seal(organisation, today) }}",
    ]
)


class TemplatePlugin:
    """A community mediation point (社区调解点) in front of the formal channels, in the
    fictional region 119901: an internal target of 3 working days inside the statutory 15."""

    name = "template"
    regions = (REGION,)
    #: The triggers ``veto_transition`` may refuse: never a party's option (applying for
    #: arbitration, withdrawing) nor a statutory expiry (``fail_mediation``).
    vetoes = ("escalate_to_peoples_mediation",)

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        edit = FlowEditor(flow, self.name)
        edit.add_state(
            StateDef(
                STATE,
                "社区调解点调解中",
                "at the community mediation point",
                Channel.peoples,
                # LDMAL 14: the statutory 15 days run here too, and the internal target.
                on_enter=(
                    DeadlineOp("start", "mediation_limit", "received_on"),
                    DeadlineOp("start", "community_target"),
                ),
            )
        )
        edit.keep_alive("mediation_limit", STATE)
        edit.add_deadline(
            DeadlineKind(
                "community_target",
                "社区调解内部时限",
                "community point internal target",
                Unit.working_days,
                3,
                (STATE,),
                "regional practice (internal target)",
                expiry_event="community_target_overdue",
                statutory=False,
            )
        )
        edit.add_edge(
            TransitionDef(
                "refer_to_community_point",
                ("received",),
                STATE,
                "转社区调解点",
                "refer to the community mediation point",
                source="Op-71 (regional practice); LDMAL 10(3)",
                interrupts_limitation=True,
                data=(
                    DataField("org_id", "text", record=True),
                    DataField("received_on", "date", record=True),
                ),
            )
        )
        edit.add_edge(
            TransitionDef(
                "escalate_to_peoples_mediation",
                (STATE,),
                "peoples_mediation",
                "升级至人民调解",
                "escalate to people's mediation",
                source="regional practice",
                data=(DataField("org_id", "text", record=True),),
                deadlines=(DeadlineOp("cancel", "mediation_limit"),),
            )
        )
        # The national mediation outcomes and exits, reused from the new state with their ops:
        # the agreement opens the review and confirmation windows; the 15 days run out into
        # fail_mediation; mediation is never compulsory (LDMAL 5).
        meet_target = DeadlineOp("meet", "community_target")
        edit.copy_edge("sign_agreement", "peoples_mediation", to=(STATE,), add_ops=(meet_target,))
        edit.copy_edge("fail_mediation", "peoples_mediation", to=(STATE,))
        edit.copy_edge("apply_arbitration", "received", to=(STATE,))
        edit.copy_edge("withdraw", "received", to=(STATE,))
        return edit.build()

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
    def numbering_rules(self, region: str) -> list[NumberingRule]:
        return [
            NumberingRule(
                "community_mediation", "社区调解案号", ("refer_to_community_point",), "社调字"
            )
        ]

    @hookimpl
    def document_templates(self, region: str) -> Mapping[str, str]:
        return {"community_referral_slip": REFERRAL_SLIP}

    @hookimpl
    def early_warning_rules(self) -> list[Rule]:
        # 重点企业预警: an employer with three or more cases within 90 days.
        return [RepeatEmployer(90, 3, region_prefix=REGION)]

    @hookimpl
    def veto_transition(self, ctx: Context, transition: TransitionDef) -> str | None:
        if transition.trigger == "escalate_to_peoples_mediation" and not ctx.data.get("note"):
            return "升级前请写明社区调解点的调解经过（data 'note'）"
        return None

    @hookimpl
    def in_transaction(self, ctx: Context, event: Event, connection: Connection) -> None:
        if event.trigger != "refer_to_community_point":
            return
        REFERRALS.create(connection, checkfirst=True)
        connection.execute(
            REFERRALS.insert().values(
                case_id=event.case_id,
                seq=event.seq,
                point=ctx.data.get("org_id"),
                region=ctx.case.region,
                referred_on=ctx.event_day,
            )
        )

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
                        {"org_id": "街道人民调解委员会", "note": "调解未果"},
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
