"""Guizhou (贵州省): the union steps in after a breached settlement, and liaison arbitrators remind
the parties to consolidate a mediation agreement before its windows close.

Seed: ``shared/seeds/004_6bb7176ad6c69e1f.txt``, a 2023-06-21 report on the nine-department
provincial plan that implements Op-71 (《贵州省关于进一步加强劳动人事争议协商调解工作实施方案》);
procedure.md §5.5 (``gz.settlement_breach_to_mediation``, ``gz.arbitrator_liaison``). The
plugin turns three of the plan's sentences into flow:

- "未按期履行和解协议的，工会组织要主动做好引导申请调解等工作": a new step ``union_guidance``
  (工会引导调解中) after ``settlement_breached``, entered by ``request_union_guidance``, with an
  internal target of 5 working days and exits to the three mediation channels, to arbitration
  and to withdrawal (LDMAL 5: mediation is never compulsory).
- "建立仲裁员分片联系调解组织制度": when a case is referred to a mediation organisation, the
  liaison arbitrator of its area (from the roster given to the constructor) is recorded in the
  plugin's own table, inside the referral's transaction (hook ``in_transaction``).
- "引导双方提起仲裁审查申请或者司法确认申请，及时巩固调解成果": two reminder deadlines, started when
  an agreement is signed at a mediation organisation, due three working days before the
  arbitration review window (AR 74, 15 cd) and the judicial confirmation window (CPL 205, 30 cd)
  close (relative deadline ops: they move when a window moves); met when the parties apply for
  either.

It also suggests negotiation first (the plan's "支持协商和解"). ``docs/regions/guizhou.md``
describes every addition and says which parts are law and which are local practice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from types import MappingProxyType

import structlog
from sqlalchemy import Column, Connection, Date, Integer, MetaData, String, Table, Text, inspect

from mediation_flow.plugin import (
    MEDIATION_STATES,
    Case,
    Context,
    DataField,
    DeadlineKind,
    DeadlineOp,
    Event,
    FlowDefinition,
    FlowEditor,
    Intake,
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
    "DEFAULT_ROSTER",
    "LIAISON_TABLE",
    "REMINDER_LEAD_WORKING_DAYS",
    "GuizhouPlugin",
    "LiaisonAssignment",
    "liaison_assignments",
]

log = structlog.get_logger("mediation_flow_guizhou")

SEED = "贵州实施方案 2023 (seed 004)"
REFERRALS = (
    "refer_to_union_mediation",
    "refer_to_peoples_mediation",
    "refer_to_administrative_mediation",
)
_DIGITS = re.compile(r"^\d{2,6}$")

# --- the liaison arbitrators' reminders -----------------------------------------------------------

#: A reminder is due this many working days before the window's last day, so that the liaison
#: arbitrator, who hears of it the next morning, still has this many working days (the last day
#: included) to get the joint application in.
REMINDER_LEAD_WORKING_DAYS = 3


@dataclass(frozen=True)
class _Reminder:
    kind: str
    window: str
    label_zh: str
    label_en: str
    source: str


REMINDERS = (
    _Reminder(
        "review_window_reminder",
        "arbitration_review_window",
        "仲裁审查申请期限届满前提醒",
        "reminder before the arbitration review window closes",
        f"{SEED}: 仲裁员分片联系调解组织，引导双方提起仲裁审查申请; AR 74 (window)",
    ),
    _Reminder(
        "confirmation_window_reminder",
        "judicial_confirmation_window",
        "司法确认申请期限届满前提醒",
        "reminder before the judicial confirmation window closes",
        f"{SEED}: 引导双方提起司法确认申请，及时巩固调解成果; CPL 205 (window)",
    ),
)
_BY_KIND = {r.kind: r for r in REMINDERS}

names = Registrations("guizhou")


@names.condition("guizhou.agreed_at_mediation_organisation")
def agreed_at_mediation_organisation(ctx: Context) -> bool:
    """Only an agreement reached at a mediation organisation has a liaison arbitrator
    (court-delegated pre-filing mediation reports to the court)."""
    return ctx.state in MEDIATION_STATES


@names.condition("guizhou.had_confirmation_reminder")
def had_confirmation_reminder(ctx: Context) -> bool:
    """AR 78: after a refused review, watch the confirmation window again only for an agreement
    that had the reminder."""
    return any(d.kind == "confirmation_window_reminder" for d in ctx.deadlines)


def _remind(reminder: _Reminder, when: str, start: str = "event") -> DeadlineOp:
    """Due three working days before the window closes, moved with it (a window that moves
    moves its reminder); not started when that day is already past the window."""
    return DeadlineOp(
        "start",
        reminder.kind,
        start,
        before=reminder.window,
        length=REMINDER_LEAD_WORKING_DAYS,
        unit="wd",
        when=when,
    )


# --- the liaison arbitrators' roster and table ----------------------------------------------------

#: Liaison posts by area when the host gives no roster: one per prefecture-level area, named by
#: the post (the arbitration institute's liaison arbitrator), not by a person.
DEFAULT_ROSTER: Mapping[str, str] = MappingProxyType(
    {
        "52": "贵州省劳动人事争议仲裁院片区联系仲裁员",
        "5201": "贵阳市劳动人事争议仲裁院片区联系仲裁员",
        "5202": "六盘水市劳动人事争议仲裁院片区联系仲裁员",
        "5203": "遵义市劳动人事争议仲裁院片区联系仲裁员",
        "5204": "安顺市劳动人事争议仲裁院片区联系仲裁员",
        "5205": "毕节市劳动人事争议仲裁院片区联系仲裁员",
        "5206": "铜仁市劳动人事争议仲裁院片区联系仲裁员",
        "5223": "黔西南州劳动人事争议仲裁院片区联系仲裁员",
        "5226": "黔东南州劳动人事争议仲裁院片区联系仲裁员",
        "5227": "黔南州劳动人事争议仲裁院片区联系仲裁员",
    }
)

_metadata = MetaData()
#: The plugin's own table (hook ``in_transaction``); created on first use.
LIAISON_TABLE = Table(
    "guizhou_liaison_assignments",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("area", String(6), nullable=False),
    Column("arbitrator", Text, nullable=False),
    Column("org_id", Text),
    Column("mediation_state", String(40), nullable=False),
    Column("assigned_on", Date, nullable=False),
)


@dataclass(frozen=True)
class LiaisonAssignment:
    """A liaison arbitrator assigned to follow a case's mediation: the referral event (``seq``),
    the roster area it matched, the organisation and the mediation state referred to."""

    case_id: int
    seq: int
    area: str
    arbitrator: str
    org_id: str | None
    mediation_state: str
    assigned_on: date


def liaison_assignments(connection: Connection, case_id: int) -> list[LiaisonAssignment]:
    """The liaison arbitrators assigned to a case, oldest first (the last one is current)."""
    if not inspect(connection).has_table(LIAISON_TABLE.name):
        return []
    t = LIAISON_TABLE
    rows = connection.execute(
        t.select().where(t.c.case_id == case_id).order_by(t.c.seq, t.c.id)
    ).all()
    return [
        LiaisonAssignment(
            r.case_id, r.seq, r.area, r.arbitrator, r.org_id, r.mediation_state, r.assigned_on
        )
        for r in rows
    ]


# --- the plugin -----------------------------------------------------------------------------------


class GuizhouPlugin:
    """Guizhou province: union guidance after a breached settlement; liaison arbitrators who
    follow the mediation organisations of their area and remind the parties to have an
    agreement reviewed or confirmed before the windows close.

    ``roster`` maps division-code prefixes (2 to 6 digits) to the liaison arbitrator of that
    area; the longest matching prefix wins. Without one, :data:`DEFAULT_ROSTER` names the post.
    """

    name = "guizhou"
    regions = ("52",)

    def __init__(self, roster: Mapping[str, str] | None = None) -> None:
        roster = dict(DEFAULT_ROSTER if roster is None else roster)
        for prefix, arbitrator in roster.items():
            if not isinstance(prefix, str) or not _DIGITS.match(prefix):
                raise ValueError(f"roster area {prefix!r} is not a 2- to 6-digit division prefix")
            if not isinstance(arbitrator, str) or not arbitrator.strip():
                raise ValueError(f"roster area {prefix}: the arbitrator must be a non-empty name")
        self.roster: Mapping[str, str] = MappingProxyType(roster)

    def liaison_for(self, region: str) -> tuple[str, str]:
        """``(area, arbitrator)`` for a case of ``region``: the longest roster prefix that
        matches, else the provincial post."""
        matches = [p for p in self.roster if region.startswith(p)]
        if not matches:
            return "52", DEFAULT_ROSTER["52"]
        area = max(matches, key=len)
        return area, self.roster[area]

    # -- the flow ---------------------------------------------------------------------------------

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        national = {
            t: flow.find(t, "settlement_breached", dest)
            for t, dest in (
                ("refer_to_union_mediation", "union_mediation"),
                ("refer_to_peoples_mediation", "peoples_mediation"),
                ("refer_to_administrative_mediation", "administrative_mediation"),
                ("apply_arbitration", "arbitration_received"),
                ("withdraw", "closed"),
            )
        }
        missing = [t for t, d in national.items() if d is None]
        if missing:
            raise LookupError(f"the flow has no {', '.join(missing)} from settlement_breached")
        meet_target = DeadlineOp("meet", "union_guidance_target")
        guided = "union_guidance"
        transitions: list[TransitionDef] = [
            TransitionDef(
                "request_union_guidance",
                ("settlement_breached",),
                guided,
                "工会引导申请调解",
                "the union guides the worker to apply for mediation",
                source=f"{SEED}: 未按期履行和解协议的，工会组织要主动做好引导申请调解等工作; "
                "ENMP 12, 31",
                data=(DataField("union_org", "text", record=True),),
            ),
        ]
        # The union's guidance ends when the worker applies to one of the three mediation
        # channels: the national referral edges, reused from the new state with their data,
        # limitation interruption and clocks (the organisation's 15 days start on entry).
        for trigger in REFERRALS:
            t = national[trigger]
            assert t is not None
            transitions.append(
                replace(
                    t,
                    sources=(guided,),
                    source=f"{t.source}; {SEED}",
                    deadlines=(*t.deadlines, meet_target),
                )
            )
        # LDMAL 5: mediation is never compulsory; arbitration and withdrawal stay open.
        for trigger in ("apply_arbitration", "withdraw"):
            t = national[trigger]
            assert t is not None
            transitions.append(replace(t, sources=(guided,)))

        review, confirmation = REMINDERS
        at_organisation = "guizhou.agreed_at_mediation_organisation"
        meet_both = (DeadlineOp("meet", review.kind), DeadlineOp("meet", confirmation.kind))
        edit = FlowEditor(flow, self.name)
        # No channel: the union guides, it does not mediate. The case reaches a channel (and the
        # LDMAL 14 clock) when the application reaches a mediation organisation.
        edit.add_state(
            StateDef(
                guided,
                "工会引导调解中",
                "the union is guiding the worker towards mediation",
                on_enter=(DeadlineOp("start", "union_guidance_target"),),
            )
        )
        for t in transitions:
            edit.add_edge(t)
        edit.add_deadline(
            DeadlineKind(
                "union_guidance_target",
                "工会引导调解内部时限",
                "internal target for the union's guidance",
                Unit.working_days,
                5,
                (guided,),
                f"{SEED} (主动做好引导申请调解); internal target, local practice",
                statutory=False,
            )
        )
        for r in REMINDERS:
            edit.add_deadline(
                DeadlineKind(
                    r.kind,
                    r.label_zh,
                    r.label_en,
                    Unit.working_days,
                    REMINDER_LEAD_WORKING_DAYS,
                    ("agreement_in_performance",),
                    r.source,
                    statutory=False,
                )
            )
        # The national agreement edges carry the reminder ops after their own (AR 74; CPL 205:
        # both windows run from the agreement's effective date, and the reminders precede them).
        reminders = tuple(_remind(r, at_organisation, "effective_on") for r in REMINDERS)
        edit.add_ops("sign_agreement", *reminders)
        # Either application consolidates the agreement (AR 75(5): they are alternatives).
        edit.add_ops("apply_arbitration_review", *meet_both)
        edit.add_ops("apply_judicial_confirmation", *meet_both)
        # AR 78: after a refused review the confirmation window may still be open; the liaison
        # arbitrator watches it again.
        edit.add_ops("refuse_review", _remind(confirmation, "guizhou.had_confirmation_reminder"))
        return edit.build()

    @hookimpl
    def registrations(self) -> Registrations:
        return names

    @hookimpl
    def suggest_route(self, intake: Intake, region: str) -> Route | None:
        return Route(
            "refer_to_negotiation",
            "贵州实施方案：支持协商和解，先行协商；工会引导帮助劳动者与用人单位协商并签订和解协议，"
            "和解协议未按期履行的，工会引导申请调解",
        )

    # -- the liaison arbitrator -------------------------------------------------------------------

    @hookimpl
    def in_transaction(self, ctx: Context, event: Event, connection: Connection) -> None:
        if event.trigger not in REFERRALS or event.dest not in MEDIATION_STATES:
            return
        area, arbitrator = self.liaison_for(ctx.case.region)
        LIAISON_TABLE.create(connection, checkfirst=True)
        connection.execute(
            LIAISON_TABLE.insert().values(
                case_id=event.case_id,
                seq=event.seq,
                area=area,
                arbitrator=arbitrator,
                org_id=ctx.data.get("org_id"),
                mediation_state=event.dest,
                assigned_on=ctx.event_day,
            )
        )

    @hookimpl
    def after_commit(self, case: Case, event: Event) -> None:
        expired = (event.data or {}).get("expired_deadline") or {}
        kind = expired.get("kind")
        if event.trigger == "deadline_expired" and kind in _BY_KIND:
            area, arbitrator = self.liaison_for(case.region)
            log.info(
                "liaison_reminder",
                case_id=case.id,
                region=case.region,
                reminder=kind,
                window=_BY_KIND[kind].window,
                arbitrator=arbitrator,
                area=area,
            )
        elif event.trigger == "deadline_expired" and kind == "union_guidance_target":
            log.info("union_guidance_overdue", case_id=case.id, region=case.region)

    # -- the demo ---------------------------------------------------------------------------------

    @hookimpl
    def demo_scenarios(self, region: str) -> Mapping[str, Scenario]:
        settlement_breached = [
            (0, "refer_to_negotiation", {}, Role.intake_officer),
            (1, "accept_negotiation", {}, Role.employer),
            (4, "sign_settlement", {"perform_by": "+10", "consent": "用人单位签字页"}, Role.worker),
            (14, "report_breach", {}, Role.worker),
            # The one-stop desk records the union's guidance and the referral it leads to.
            (1, "request_union_guidance", {"union_org": "区总工会"}, Role.intake_officer),
        ]
        return {
            "guizhou_breach_union_guidance": Scenario(
                "和解协议未履行，工会引导申请人民调解，达成协议后申请仲裁审查",
                8,
                [
                    *settlement_breached,
                    (
                        2,
                        "refer_to_peoples_mediation",
                        {"org_id": "街道人民调解委员会"},
                        Role.intake_officer,
                    ),
                    (
                        6,
                        "sign_agreement",
                        {"effective_on": "{d}", "perform_by": "+30"},
                        Role.peoples_mediator,
                    ),
                    (5, "apply_arbitration_review", {"by": "both"}, Role.arbitrator),
                    (4, "issue_mediation_statement", {"perform_by": "+10"}, Role.arbitrator),
                    (14, "confirm_performance", {}, Role.arbitrator),
                ],
            ),
            "guizhou_liaison_reminder": Scenario(
                "工会调解达成协议，联系仲裁员到期前提醒，双方申请司法确认",
                8,
                [
                    (
                        0,
                        "refer_to_union_mediation",
                        {"org_id": "企业劳动争议调解委员会", "org_type": "enterprise_committee"},
                        Role.intake_officer,
                    ),
                    (1, "accept_mediation", {}, Role.union_mediator),
                    (
                        7,
                        "sign_agreement",
                        {"effective_on": "{d}", "perform_by": "+45"},
                        Role.union_mediator,
                    ),
                    (20, "apply_judicial_confirmation", {"by": "both"}, Role.judge),
                    (12, "confirm_agreement", {"perform_by": "+20"}, Role.judge),
                    (15, "confirm_performance", {}, Role.judge),
                ],
            ),
            "guizhou_guidance_to_arbitration": Scenario(
                "工会引导调解逾期未申请，劳动者直接申请仲裁",
                5,
                [
                    *settlement_breached,
                    (10, None, {}, Role.union_mediator),  # the 5-wd target runs out: a reminder
                    (1, "apply_arbitration", {"by": "worker"}, Role.worker),
                    (3, "accept_arbitration", {}, Role.arbitrator),
                    (5, "start_arbitration_mediation", {"entrusted": True}, Role.arbitrator),
                    (6, "issue_mediation_statement", {"perform_by": "+15"}, Role.arbitrator),
                    (20, "confirm_performance", {}, Role.arbitrator),
                ],
            ),
        }

    def __repr__(self) -> str:
        return f"<{self.name} plugin for {', '.join(self.regions)}>"
