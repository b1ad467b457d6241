"""The plugin contract: every hook a regional plugin may implement.

A plugin is any object (a module, a class instance) with a ``name``, the ``regions`` it serves
(administrative division prefixes such as ``"43"`` for Hunan or ``"5203"`` for one city; empty
for every region) and one or more of the functions below, decorated with ``@hookimpl``
(a plugin imports everything it needs from :mod:`mediation_flow.plugin`)::

    from mediation_flow.plugin import hookimpl

    class ParkMediation:
        name = "example-park"
        regions = ("510304",)

        @hookimpl
        def extend_flow(self, flow, region):
            return flow.extend(states=[...], transitions=[...], plugin=self.name)

Hooks are called only for the plugins that serve the case's region. The flow hooks run once per
region when its flow is compiled; the others run on every command. A method named like a hook
but not marked, or marked with a name that is no hook (``sugest_route``), refuses the plugin; an
exception a hook raises reaches the caller as a ``PluginError`` naming the plugin and the hook.
``docs/plugins.md`` has a tutorial and a longer example of each hook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from mediation_flow.demo import Scenario
    from mediation_flow.early_warning import Rule
    from mediation_flow.flow.context import Context
    from mediation_flow.flow.definition import FlowDefinition, TransitionDef
    from mediation_flow.flow.registry import Registrations
    from mediation_flow.models import Actor, Case, Event, Intake
    from mediation_flow.numbering import NumberingRule
    from mediation_flow.plugins import AttributeSpec, Route
    from mediation_flow.policy import CaseScope

__all__ = ["hookimpl", "hookspec"]

PROJECT = "mediation_flow"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def extend_flow(flow: FlowDefinition, region: str) -> FlowDefinition | None:
    """Return ``flow`` with this plugin's states, transitions and deadline kinds added.

    When: once per region, when the region's flow is compiled (at start-up or on first use).
    Plugins run in registration order, each receiving the previous one's result.

    Arguments: ``flow``, the definition so far; ``region``, the 6-digit division code whose flow
    is being built. Return: a new definition (use ``flow.extend(..., plugin=self.name)``), or
    ``None`` to leave it unchanged.

    Rules (the statutory floor, checked on the compiled regional flow when the engine starts; a
    breach refuses the plugin with a ``PluginError`` naming it, the region, the national element
    and the rule): every national state and every national trigger from every state it left
    stays, with its deadline ops and no guard that could refuse it (unless registered
    procedural, with a legal basis and the triggers that satisfy it); no statutory deadline gets
    a shorter length, another unit or start, or fewer states it runs in; no non-statutory
    deadline fires a national trigger that moves the case on. Plugins may add steps, handoffs,
    internal targets and reminders; :class:`mediation_flow.plugin.FlowEditor` makes the edits.

    Example (Da'an: a park mediation station before the channels)::

        @hookimpl
        def extend_flow(self, flow, region):
            return flow.extend(
                plugin=self.name,
                states=[StateDef("park_mediation", "园区调解站调解中", "park station mediation")],
                transitions=[TransitionDef("refer_to_park_station", ("received",),
                                           "park_mediation", "转园区调解站", "refer to the park")],
            )
    """


@hookspec
def registrations() -> Registrations | None:
    """The guards, conditions, warnings, effects and data types this plugin's flow names.

    When: once, when the engine loads the plugin. The names are seen only by the flows of the
    regions the plugin serves, never by another region's flow or another engine. A name the
    national flow uses (``both_parties_consent``), or one another plugin of the same region
    registers, refuses the plugin (``PluginError`` naming the plugins and the name).

    Return: a :class:`mediation_flow.plugin.Registrations`, usually built at module level.

    Example (Da'an: only enterprises of the park go to its station)::

        names = Registrations("zigong-daan")

        @names.guard("zigong-daan.park_enterprise")
        def park_enterprise(ctx):
            if not ctx.case.attributes.get("park"):
                return Refusal("园区调解驿站只调解园区企业的劳动纠纷", needs_data=True)
            return None

        class DaanPlugin:
            @hookimpl
            def registrations(self):
                return names
    """


@hookspec
def suggest_route(intake: Intake, region: str) -> Route | None:
    """Suggest the first step for a new case, with a reason an officer can read.

    When: ``engine.suggest_routes(intake)`` (before or after ``open_case``). All suggestions are
    returned, plugins' first, the national default last; the officer decides.

    Return: a :class:`~mediation_flow.plugins.Route` (a trigger legal from ``received``, the data
    to give it, a reason in zh-CN) or ``None``.

    Example (Hunan: migrant workers' wage arrears go to the fast-track tribunal)::

        @hookimpl
        def suggest_route(self, intake, region):
            if intake.is_migrant_worker and {c.kind for c in intake.claims} == {"wages"}:
                return Route("apply_arbitration", "农民工欠薪案件，建议直接申请仲裁并进入速裁庭",
                             data={"by": "worker"})
            return None
    """


@hookspec
def veto_transition(ctx: Context, transition: TransitionDef) -> str | None:
    """Refuse a transition the machine would take: return the reason, or ``None`` to allow.

    When: on every ``fire`` and expiry of one of the triggers the plugin declares in its
    ``vetoes`` attribute, after the flow's own guards passed and before anything is written. A
    reason raises ``GuardFailed`` with ``guard="<plugin>:veto"``. A plugin that implements this
    hook must declare ``vetoes``; declaring a party's statutory option (a ``party_act`` trigger
    such as ``apply_arbitration``, or a trigger a statutory deadline fires on expiry) refuses the
    plugin at start-up.

    Arguments: ``ctx``, the command (``ctx.case``, ``ctx.data``, ``ctx.actor``, ``ctx.today``,
    ``ctx.deadlines``); ``transition``, the edge about to be taken.

    Example (Shiyan: arbitration accepts only a complete element-based filing)::

        vetoes = ("accept_arbitration",)

        @hookimpl
        def veto_transition(self, ctx, transition):
            if transition.trigger == "accept_arbitration":
                missing = REQUIRED - set(ctx.case.attributes.get("elements", []))
                if missing:
                    return "要素式立案材料不全：" + "、".join(sorted(missing))
            return None
    """


@hookspec
def authorize(actor: Actor, case: CaseScope, trigger: str | None) -> str | None:
    """Refuse what the policy allows (tighten it; a plugin can never loosen it).

    When: on every command and read of a case of the region, after the policy allowed it.
    ``trigger`` is the trigger to fire, or ``None`` for reading. Return a reason to refuse
    (``PermissionDenied``), or ``None``.

    Example (a region where only arbitrators of the fast-track tribunal assign to it)::

        @hookimpl
        def authorize(self, actor, case, trigger):
            if trigger == "assign_fast_track" and actor.org_id != "速裁庭":
                return "only the fast-track tribunal assigns cases to itself"
            return None
    """


@hookspec
def regional_rest_days() -> Mapping[str, Iterable[date] | Mapping[str, Iterable[date]]] | None:
    """Regional rest days, and a region's own make-up working days, by division prefix, added
    to the national calendar.

    When: once, when the engine starts. A rest day is not a working day in its region, and a
    calendar-day deadline that ends on it rolls over (flow.md §4). A regional make-up working
    day (a weekend day the region works for its own holiday) is a working day there.

    Return ``{prefix: [rest days]}``, or ``{prefix: {"rest": [...], "workdays": [...]}}`` when
    the region also publishes make-up working days.

    Example (Guangxi's two-day 三月三 holiday)::

        @hookimpl
        def regional_rest_days(self):
            return {"45": [date(2025, 3, 31), date(2025, 4, 1)]}

    Example (the same with a Sunday worked, as a region may publish)::

        @hookimpl
        def regional_rest_days(self):
            return {"45": {"rest": [date(2025, 3, 31), date(2025, 4, 1)],
                           "workdays": [date(2025, 3, 30)]}}
    """


@hookspec
def in_transaction(ctx: Context, event: Event, connection: Connection) -> None:
    """React inside the transaction of a transition; may write to the database.

    When: after the engine wrote the case's state, event and deadlines, before the commit. Any
    exception rolls the whole command back (nothing is written) and reaches the caller as a
    ``PluginError`` naming the plugin and the hook.

    Arguments: ``ctx``, the command; ``event``, the event being written; ``connection``, the
    SQLAlchemy connection of the transaction (write your own tables with it).

    Example (Guizhou: record which liaison arbitrator follows a mediation)::

        @hookimpl
        def in_transaction(self, ctx, event, connection):
            if event.trigger == "refer_to_peoples_mediation":
                connection.execute(liaison.insert().values(case_id=event.case_id, ...))
    """


@hookspec
def after_commit(case: Case, event: Event) -> None:
    """React after a transition was committed: notifications, referrals to other systems.

    When: after the commit of every fired trigger and expiry. A failure is logged
    (``after_commit_failed`` with the plugin's name) and never undoes the transition.

    Example (Liudong: hand a worker whose employment ended to the re-employment service)::

        @hookimpl
        def after_commit(self, case, event):
            if event.trigger == "refer_to_reemployment":
                reemployment_service.notify(case.id, case.region)
    """


@hookspec
def case_attributes(region: str) -> Mapping[str, AttributeSpec] | None:
    """Declare the extra case attributes a region records at intake.

    When: on ``open_case`` for a case of the region. The intake's ``attributes`` are checked
    against the declarations of the region's plugins (type, allowed values, required); a bad
    value raises ``InvalidIntake`` naming ``attributes.<name>``. Undeclared attributes are kept.

    Example (Da'an: which first-line mediation point the dispute came from)::

        @hookimpl
        def case_attributes(self, region):
            return {"grassroots_point": AttributeSpec(
                "text", "基层调解点", choices=("企业", "社区", "园区"))}
    """


@hookspec
def demo_scenarios(region: str) -> Mapping[str, Scenario] | None:
    """Scenarios that show the region's own steps in ``mediation-flow demo --region CODE``.

    When: once per demo run with ``--region``. Names should carry the plugin's prefix.

    Return: ``{name: Scenario(description_zh, weight, steps, intake)}``; see
    :class:`mediation_flow.demo.Scenario` for the step format.

    Example::

        @hookimpl
        def demo_scenarios(self, region):
            return {"daan_park": Scenario("园区调解站化解", 20, [
                (0, "refer_to_park_station", {"org_id": "工业园区调解站"}, Role.union_mediator),
                (6, "sign_agreement", {"effective_on": "{d}"}, Role.union_mediator),
            ])}
    """


@hookspec
def early_warning_rules() -> Iterable[Rule] | None:
    """Early-warning rules this plugin adds (:mod:`mediation_flow.early_warning`).

    When: once, when the engine starts. A rule that declares no region prefix is limited to the
    plugin's ``regions``; a rule id must be unique among all rules (the built-in ones take the
    prefix: ``IndustryWatch(region_prefix="510304")`` is ``industry_watch@510304``).

    Example (Da'an: construction and catering are watched industries)::

        @hookimpl
        def early_warning_rules(self):
            return [IndustryWatch(("建筑", "餐饮"), region_prefix="510304")]
    """


@hookspec
def numbering_rules(region: str) -> Iterable[NumberingRule] | None:
    """Case-number rules (案号) for the region's organisations (:mod:`mediation_flow.numbering`).

    When: once per region, the first time a case of the region is numbered. Each rule replaces
    the national rule of the same ``key`` (and a deployment's ``Engine(numbering=...)`` replaces
    the plugin's). A rule names the transitions that open the organisation's file; a transition
    belongs to one rule.

    Example (Hunan: the Changsha commission's abbreviation, a county people's mediation
    committee's own prefix)::

        @hookimpl
        def numbering_rules(self, region):
            return [
                NumberingRule("arbitration", "仲裁案号", ("accept_arbitration",), "长劳人仲案字"),
                NumberingRule("peoples_mediation", "人民调解案号",
                              ("refer_to_peoples_mediation",), "{province}{county}人调字",
                              prefixes={"芙蓉区人民调解委员会": "芙人调字"}),
            ]
    """


@hookspec
def document_templates(region: str) -> Mapping[str, str] | None:
    """Jinja2 templates that replace (or add to) the built-in documents for the region
    (:mod:`mediation_flow.documents`).

    When: once per region, the first time a document of the region is rendered. Return
    ``{template name: Jinja2 source}``; a built-in name (``mediation_agreement``,
    ``acceptance_notice``, ``non_acceptance_notice``, ``arbitration_mediation_statement``,
    ``service_receipt``) replaces that template, a new name adds one. Templates write the
    HTML subset that :func:`mediation_flow.documents.html_to_docx` turns into DOCX; the
    context variables are listed in ``docs/howto/documents.md``.

    Example (a regional heading on the mediation agreement, kept in the plugin's package)::

        @hookimpl
        def document_templates(self, region):
            source = resources.files(__package__).joinpath("agreement.html.j2").read_text("utf-8")
            return {"mediation_agreement": source}
    """
