"""Named guards and branch conditions, each citing its legal source.

A **guard** refuses a trigger with a reason: ``guard(ctx, *args) -> Refusal | None``. A
**condition** picks a branch or decides whether a deadline op applies: ``condition(ctx) -> bool``.
A flow definition refers to both by name; a guard name may carry arguments after a colon,
comma-separated: ``"within:suit_window"``, ``"claims_only:wages"``. Regional plugins register
their own with :class:`mediation_flow.plugin.Registrations`, seen only by their regions' flows;
:func:`register_guard` and its siblings fill the national tables, and refuse to replace a name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from mediation_flow.duedates import settle
from mediation_flow.errors import FlowDefinitionError, InvalidData
from mediation_flow.flow.context import Context
from mediation_flow.models import MONEY_CLAIMS, ClaimKind, DeadlineStatus

__all__ = [
    "CONDITIONS",
    "GUARDS",
    "WARNINGS",
    "Refusal",
    "award_finality",
    "check_guard",
    "condition",
    "limitation_day",
    "register_condition",
    "register_guard",
    "register_warning",
    "warning",
]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a guard refused: a sentence, and the deadline and due date when a window closed."""

    reason: str
    deadline: str | None = None
    due: date | None = None
    #: The refusal depends on what the command says (who acts, a flag in its data), not on the
    #: case: ``engine.triggers`` still lists the trigger.
    needs_data: bool = False


Guard = Callable[..., Refusal | None]
Condition = Callable[[Context], bool]

GUARDS: dict[str, Guard] = {}
CONDITIONS: dict[str, Condition] = {}
#: Warnings: like conditions (true = warn), never blocking.
WARNINGS: dict[str, Condition] = {}


def register_guard(name: str) -> Callable[[Guard], Guard]:
    """Decorator: register ``fn`` as the guard called ``name``."""

    def deco(fn: Guard) -> Guard:
        _refuse_replacing("guard", GUARDS, name, fn)
        GUARDS[name] = fn
        return fn

    return deco


def register_condition(name: str) -> Callable[[Condition], Condition]:
    """Decorator: register ``fn`` as the condition called ``name``."""

    def deco(fn: Condition) -> Condition:
        _refuse_replacing("condition", CONDITIONS, name, fn)
        CONDITIONS[name] = fn
        return fn

    return deco


def register_warning(name: str) -> Callable[[Condition], Condition]:
    """Decorator: register ``fn`` as the warning called ``name`` (true means: warn)."""

    def deco(fn: Condition) -> Condition:
        _refuse_replacing("warning", WARNINGS, name, fn)
        WARNINGS[name] = fn
        return fn

    return deco


def _refuse_replacing(kind: str, table: dict[str, Any], name: str, fn: Any) -> None:
    if name in table and table[name] is not fn:
        raise FlowDefinitionError(
            f"the national {kind} {name!r} is already registered and cannot be replaced; a "
            f"regional plugin registers its own names with mediation_flow.plugin.Registrations"
        )


def _lookup(kind: str, table: dict[str, Any], name: str, ctx: Context | None) -> Any:
    names = getattr(ctx.flow, "names", None) if ctx is not None else None
    fn = names.lookup(kind, name) if names is not None else table.get(name)
    if fn is None:
        raise FlowDefinitionError(f"unknown {kind} {name!r}")
    return fn


def split_name(spec: str) -> tuple[str, tuple[str, ...]]:
    """``"within:suit_window"`` -> ``("within", ("suit_window",))``."""
    name, _, args = spec.partition(":")
    return name, tuple(a for a in args.split(",") if a)


def check_guard(spec: str, ctx: Context) -> Refusal | None:
    name, args = split_name(spec)
    fn: Guard = _lookup("guard", GUARDS, name, ctx)
    return fn(ctx, *args)


def condition(name: str, ctx: Context) -> bool:
    negate = name.startswith("not ")
    key = name[4:] if negate else name
    fn: Condition = _lookup("condition", CONDITIONS, key, ctx)
    return bool(fn(ctx)) is not negate


def warning(name: str, ctx: Context) -> bool:
    """Whether the warning ``name`` applies to the command."""
    fn: Condition = _lookup("warning", WARNINGS, name, ctx)
    return bool(fn(ctx))


def known(spec: str, names: Any = None) -> bool:
    """Whether a guard spec or condition name refers to something registered (in ``names``, a
    flow's :class:`~mediation_flow.flow.registry.FlowNames`, or the national tables)."""
    name, _ = split_name(spec)
    if names is not None:
        return bool(
            names.lookup("guard", name) or names.lookup("condition", name.removeprefix("not "))
        )
    return name in GUARDS or name.removeprefix("not ") in CONDITIONS


# --- who acts ------------------------------------------------------------------------------------


def _need_by(ctx: Context) -> Refusal | None:
    if ctx.by is None:
        return Refusal(
            "say which party acts: data 'by' must be 'worker', 'employer' or 'both' "
            f"(the actor's role {ctx.actor.role.value!r} does not tell)",
            needs_data=True,
        )
    return None


@register_guard("joint_application")
def joint_application(ctx: Context) -> Refusal | None:
    """AR 74; CPL 205; PML 33: arbitration review and judicial confirmation are applied for by
    both parties jointly."""
    if refusal := _need_by(ctx):
        return refusal
    if ctx.by != "both":
        return Refusal(
            f"this is a joint application of both parties; data 'by' is {ctx.by!r}",
            needs_data=True,
        )
    return None


@register_guard("both_parties_consent")
def both_parties_consent(ctx: Context) -> Refusal | None:
    """ENMP 29; N-2024-4: the mediation period is extended only with both parties' consent."""
    if ctx.by != "both":
        return Refusal("both parties must consent: set data 'by' to 'both'", needs_data=True)
    return None


@register_guard("by")
def by_party(ctx: Context, party: str) -> Refusal | None:
    """Only ``party`` may do this (the worker for a payment order, LDMAL 16; the worker sues on
    a final award, LDMAL 48; the employer petitions to revoke it, LDMAL 49)."""
    if refusal := _need_by(ctx):
        return refusal
    if ctx.by != party:
        return Refusal(f"only the {party} may do this; data 'by' is {ctx.by!r}", needs_data=True)
    return None


# --- claims --------------------------------------------------------------------------------------


@register_guard("claims_only")
def claims_only(ctx: Context, *kinds: str) -> Refusal | None:
    """Every claim of the case is one of ``kinds`` (payment orders: LDMAL 16, LCL 30; direct
    suit on a remuneration-only agreement: LDI-1 51)."""
    allowed = set(kinds)
    others = sorted({c.kind.value for c in ctx.claims} - allowed)
    if others:
        return Refusal(
            f"only claims of kind {', '.join(kinds)} qualify; the case also claims "
            f"{', '.join(others)}"
        )
    return None


@register_guard("wage_iou")
def wage_iou(ctx: Context) -> Refusal | None:
    """LDI-1 15: a written wage IOU may be sued on directly, without arbitration."""
    if ctx.data.get("wage_iou") is not True:
        return Refusal(
            "a direct suit needs the employer's written wage IOU: data 'wage_iou' must be true "
            "(LDI-1 15); otherwise arbitration comes first",
            needs_data=True,
        )
    return None


# --- the mediation agreement ---------------------------------------------------------------------


@register_guard("not_judicially_confirmed")
def not_judicially_confirmed(ctx: Context) -> Refusal | None:
    """AR 75(5): a judicially confirmed agreement cannot be sent for arbitration review."""
    if ctx.case.attributes.get("judicially_confirmed"):
        return Refusal("the agreement has already been judicially confirmed (AR 75(5))")
    return None


@register_guard("agreement_not_on_labour_relationship")
def agreement_not_on_labour_relationship(ctx: Context) -> Refusal | None:
    """AR 75(4): an agreement confirming a labour relationship cannot go to arbitration review."""
    if ctx.case.attributes.get("confirms_labour_relationship"):
        return Refusal(
            "the agreement confirms a labour relationship, which arbitration review "
            "cannot examine (AR 75(4)); apply for judicial confirmation instead"
        )
    return None


# --- windows and deadlines -----------------------------------------------------------------------


def _party_of(ctx: Context, kind: str) -> tuple[str | None, Refusal | None]:
    spec = ctx.flow.deadline_map[kind]
    if not spec.per_party:
        return None, None
    if refusal := _need_by(ctx):
        return None, refusal
    if ctx.by == "both":
        return None, Refusal(
            f"{kind} runs per party: say which party acts in data 'by'", needs_data=True
        )
    return ctx.by, None


@register_guard("within")
def within(ctx: Context, kind: str) -> Refusal | None:
    """The act comes within the open window ``kind`` (for per-party windows, the acting party's).
    A window is open up to the end of its due day (flow.md §4)."""
    party, refusal = _party_of(ctx, kind)
    if refusal:
        return refusal
    deadline = ctx.latest_deadline(kind, party)
    whose = f"the {party}'s " if party else ""
    if deadline is None:
        hint = " (record when the document was served on that party)" if party else ""
        return Refusal(f"{whose}{kind} has not started{hint}", deadline=kind)
    if deadline.status == DeadlineStatus.met:
        return Refusal(f"{whose}{kind} was already used", deadline=kind, due=deadline.due)
    if deadline.status != DeadlineStatus.expired and ctx.today > deadline.due:
        settle(ctx.calendar, deadline, ctx.case.region)  # a provisional date may now be known
    if deadline.status == DeadlineStatus.expired or ctx.today > deadline.due:
        unsure = (
            f" (provisional: the holiday schedule of {deadline.due.year} is not known, and a "
            f"rest-day roll-over may extend the window; update the calendar)"
            if deadline.provisional
            else ""
        )
        return Refusal(
            f"{whose}{kind} closed at the end of {deadline.due.isoformat()}{unsure}",
            deadline=kind,
            due=deadline.due,
        )
    return None


@register_guard("expired")
def expired(ctx: Context, kind: str) -> Refusal | None:
    """The deadline ``kind`` has run out (LDMAL 43: no award within the limit lets the parties
    sue)."""
    deadline = ctx.latest_deadline(kind)
    if deadline is None:
        return Refusal(f"{kind} has not started", deadline=kind)
    if deadline.status == DeadlineStatus.met:
        return Refusal(f"{kind} was met", deadline=kind, due=deadline.due)
    if ctx.today <= deadline.due and deadline.status != DeadlineStatus.expired:
        return Refusal(
            f"{kind} runs until the end of {deadline.due.isoformat()}",
            deadline=kind,
            due=deadline.due,
        )
    return None


@register_guard("windows_expired")
def windows_expired(ctx: Context, *specs: str) -> Refusal | None:
    """Every listed per-party window (``kind@party``) has expired without the act: the award or
    judgment takes effect (LDMAL 47, 50; CPL 171)."""
    for spec in specs:
        kind, _, party = spec.partition("@")
        deadline = ctx.latest_deadline(kind, party or None)
        if deadline is None:
            return Refusal(f"the {party}'s {kind} has not started (not yet served)", deadline=kind)
        if deadline.status == DeadlineStatus.met:
            return Refusal(f"the {party} acted within {kind}", deadline=kind, due=deadline.due)
        if deadline.status != DeadlineStatus.expired and ctx.today <= deadline.due:
            return Refusal(
                f"the {party}'s {kind} runs until the end of {deadline.due.isoformat()}",
                deadline=kind,
                due=deadline.due,
            )
    return None


@register_guard("once")
def once(ctx: Context, attribute: str) -> Refusal | None:
    """An act allowed once (extend_mediation: ENMP 29; extend_award_limit: LDMAL 43)."""
    if ctx.case.attributes.get(attribute):
        return Refusal(f"this was already done once ({attribute})")
    return None


@register_guard("extension_at_most")
def extension_at_most(ctx: Context, kind: str) -> Refusal | None:
    """The extension asked for (data 'days') is within the kind's maximum."""
    spec = ctx.flow.deadline_map[kind]
    days = ctx.data.get("days", spec.max_extension)
    if days > spec.max_extension:
        return Refusal(f"{kind} may be extended by at most {spec.max_extension} days, not {days}")
    open_ = ctx.open_deadlines(kind)
    if not open_:
        return Refusal(f"there is no open {kind} to extend", deadline=kind)
    lapsed = [d for d in open_ if d.status == DeadlineStatus.pending and d.due < ctx.today]
    if lapsed:
        # An extension is decided before the period ends (LDMAL 43; ENMP 29).
        return Refusal(
            f"{kind} already ran out at the end of {lapsed[0].due.isoformat()}",
            deadline=kind,
            due=lapsed[0].due,
        )
    return None


@register_guard("worker_has_not_sued")
def worker_has_not_sued(ctx: Context) -> Refusal | None:
    """LDMAL 49; LDI-1 21: the employer may not petition to revoke while the worker sues."""
    if ctx.case.attributes.get("worker_sued"):
        return Refusal("the worker has sued on the final award (LDI-1 21)")
    return None


# --- conditions ----------------------------------------------------------------------------------


@register_condition("org_is_enterprise_committee")
def org_is_enterprise_committee(ctx: Context) -> bool:
    """ENMP 22: only the enterprise committee has a 3-working-day acceptance decision."""
    return bool(ctx.data.get("org_type") == "enterprise_committee")


@register_condition("entrusted")
def entrusted(ctx: Context) -> bool:
    """AR 70: entrusted pre-hearing mediation has a 10-working-day limit."""
    return ctx.data.get("entrusted") is True


@register_condition("procedure_simple")
def procedure_simple(ctx: Context) -> bool:
    """SMP 27: entrusted court mediation, 7 cd in simple procedure, 15 cd in ordinary."""
    return ctx.data.get("procedure") == "simple"


@register_condition("award_is_final")
def award_is_final(ctx: Context) -> bool:
    """LDMAL 47; AR 50: see :func:`award_finality`."""
    items = ctx.data.get("items") or []
    try:
        final, _ = award_finality(items, ctx.data.get("monthly_minimum_wage"))
    except ValueError as exc:
        raise InvalidData(ctx.trigger, "monthly_minimum_wage", str(exc)) from None
    return final


# --- warnings ------------------------------------------------------------------------------------


@register_warning("limitation_expired")
def limitation_expired(ctx: Context) -> bool:
    """LDMAL 27; AR 30: the limitation period has run out. Arbitration may not refuse a case for
    it (it is the respondent's defence), so this only warns."""
    expires = ctx.case.limitation_expires_on
    return expires is not None and limitation_day(ctx) > expires


def limitation_day(ctx: Context) -> date:
    """The day an application interrupts the limitation period: the day the body received it
    (``data["received_on"]``), else the day of the event (LDMAL 27 ¶2)."""
    received = ctx.data.get("received_on")
    return received if isinstance(received, date) else ctx.event_day


@register_condition("order_rests_on_agreement")
def order_rests_on_agreement(ctx: Context) -> bool:
    """LDI-1 13: after an upheld objection, an order on a mediation agreement goes to court,
    an order on wages alone (LCL 30) to arbitration."""
    return ctx.case.attributes.get("payment_order_basis") == "mediation_agreement"


@register_condition("award_preceded_suit")
def award_preceded_suit(ctx: Context) -> bool:
    """I-2000: withdrawing a suit against an award lets the award take effect."""
    return bool(ctx.case.attributes.get("award_before_suit"))


def award_finality(
    items: Iterable[dict[str, Any]], monthly_minimum_wage: Decimal | None
) -> tuple[bool, list[bool]]:
    """Finality of an award and of each item (LDMAL 47; AR 50; flow.md §5).

    A money item is final when its *awarded* amount is at most 12 times the local monthly minimum
    wage; social-insurance and working-time/leave items are final whatever the amount; a
    labour-relationship or other item is never final. The award is final when every item is.
    """
    flags: list[bool] = []
    for item in items:
        kind = ClaimKind(item["kind"])
        if kind in MONEY_CLAIMS:
            if monthly_minimum_wage is None:
                raise ValueError("monthly_minimum_wage is needed to decide a money item's finality")
            flags.append(Decimal(item["amount"]) <= 12 * monthly_minimum_wage)
        else:
            flags.append(kind in (ClaimKind.social_insurance, ClaimKind.working_time_leave))
    return bool(flags) and all(flags), flags
