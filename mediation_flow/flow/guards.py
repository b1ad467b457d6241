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
    if ctx.by_kind != party:
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


@register_guard("claims_include")
def claims_include(ctx: Context, *kinds: str) -> Refusal | None:
    """The case claims at least one of ``kinds`` (advance execution: LDMAL 44)."""
    if not {c.kind.value for c in ctx.claims} & set(kinds):
        return Refusal(f"the case claims none of {', '.join(kinds)} (LDMAL 44)")
    return None


@register_guard("items_only")
def items_only(ctx: Context, *kinds: str) -> Refusal | None:
    """Every item of the command's ``items`` is one of ``kinds`` (advance execution covers
    remuneration, medical costs, compensation and damages only: LDMAL 44)."""
    others = sorted({str(i["kind"]) for i in ctx.data.get("items") or ()} - set(kinds))
    if others:
        return Refusal(
            f"items of kind {', '.join(others)} cannot be executed in advance (LDMAL 44)",
            needs_data=True,
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
    assert ctx.by is not None
    try:
        return ctx.person(ctx.by), None
    except InvalidData as exc:  # several workers: say which one acts (LDI-1 17)
        return None, Refusal(exc.reason, needs_data=True)


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
    posted = ctx.data.get("posted_on")
    if isinstance(posted, date) and posted > ctx.today:
        return Refusal(
            f"posted_on {posted.isoformat()} is after today; give the postmark date",
            needs_data=True,
        )
    # CPL 85 ¶4: a filing posted before the window closed is in time (its postmark counts).
    day = ctx.act_day
    if deadline.status != DeadlineStatus.expired and day > deadline.due:
        # A provisional date may be known by now (a notice registered since it was computed).
        settle(ctx.calendar, deadline, ctx.case.region, ctx.flow.deadline_map[kind].holder)
    late = day > deadline.due or (deadline.status == DeadlineStatus.expired and posted is None)
    if late and _late_for_good_cause(ctx):
        return None
    if late:
        unsure = (
            f" (provisional: the {deadline.due.year} holiday notice is not registered yet; this "
            f"is the latest date any notice could give, so the window has closed whatever it "
            f"says)"
            if deadline.provisional
            else ""
        )
        return Refusal(
            f"{whose}{kind} closed at the end of {deadline.due.isoformat()}{unsure}",
            deadline=kind,
            due=deadline.due,
        )
    return None


def _late_for_good_cause(ctx: Context) -> bool:
    """CPL 86: a party who missed a period for a good reason may file within 10 days after the
    obstacle ended (``data["obstacle_ended_on"]``); the court decides, the engine records it."""
    ended = ctx.data.get("obstacle_ended_on")
    if not isinstance(ended, date) or ended > ctx.today:
        return False
    last = ctx.calendar.add_calendar_days(ended, 10, region=ctx.case.region)
    return ctx.today <= last


@register_guard("limitation_not_suspended")
def limitation_not_suspended(ctx: Context) -> Refusal | None:
    """LDMAL 27 ¶3: a suspended limitation period cannot be suspended again."""
    since = ctx.case.attributes.get("limitation_suspended_on")
    if since:
        return Refusal(f"the limitation period is already suspended since {since}")
    return None


@register_guard("limitation_suspended")
def limitation_suspended(ctx: Context) -> Refusal | None:
    """LDMAL 27 ¶3: only a suspended limitation period runs on again."""
    if not ctx.case.attributes.get("limitation_suspended_on"):
        return Refusal("the limitation period is not suspended")
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
    judgment takes effect (LDMAL 47, 50; CPL 171). A spec ending in ``?`` counts only if that
    window was started (the employer's revocation window on a separate final award, AR 50 ¶4).
    A suit window met by a suit that was later withdrawn or dismissed counts as passed (LDI-1 21
    ¶2: the award stands)."""
    for spec in specs:
        optional = spec.endswith("?")
        kind, _, side = spec.removesuffix("?").partition("@")
        # Per person (LDI-1 17): every party of that side, each with their own window.
        for party in ctx.persons(side):
            deadline = ctx.latest_deadline(kind, party)
            if deadline is None:
                if optional:
                    continue
                return Refusal(
                    f"the {party}'s {kind} has not started (not yet served)", deadline=kind
                )
            if deadline.status == DeadlineStatus.met and _suit_stood_down(ctx, kind, party):
                continue
            if deadline.status == DeadlineStatus.met:
                return Refusal(f"the {party} acted within {kind}", deadline=kind, due=deadline.due)
            if deadline.status != DeadlineStatus.expired and ctx.today <= deadline.due:
                return Refusal(
                    f"the {party}'s {kind} runs until the end of {deadline.due.isoformat()}",
                    deadline=kind,
                    due=deadline.due,
                )
    return None


def _suit_stood_down(ctx: Context, kind: str, party: str) -> bool:
    """A suit window used by a suit later withdrawn or dismissed (LDI-1 21 ¶2: the award
    stands), or, for the transition that sends the case to court, by a suit at all."""
    if kind != "suit_window":
        return False
    attributes = ctx.case.attributes
    return bool(attributes.get("suit_withdrawn")) or party in (attributes.get("suits") or {})


@register_guard("once")
def once(ctx: Context, attribute: str) -> Refusal | None:
    """An act allowed once (extend_mediation: ENMP 29; extend_award_limit: LDMAL 43)."""
    if ctx.case.attributes.get(attribute):
        return Refusal(f"this was already done once ({attribute})")
    return None


@register_guard("marked")
def marked(ctx: Context, attribute: str) -> Refusal | None:
    """The act that ends what ``attribute`` marks needs it to be marked (the publication period
    of AR 46 ends only once it began)."""
    if not ctx.case.attributes.get(attribute):
        return Refusal(f"nothing to end: {attribute} is not set")
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


@register_guard("suit_on_final_award")
def suit_on_final_award_guard(ctx: Context) -> Refusal | None:
    """LDI-1 21 ¶2: dismissing the worker's suit against a final award reopens the employer's
    revocation petition; other suits are not modelled as dismissed."""
    if not suit_on_final_award(ctx):
        return Refusal("the suit was not brought by the worker against a final award (LDI-1 21)")
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
    if ctx.case.attributes.get("limitation_suspended_on"):
        return False  # LDMAL 27 ¶3: the period stands still
    expires = ctx.case.limitation_expires_on
    return expires is not None and limitation_day(ctx) > expires


def limitation_day(ctx: Context) -> date:
    """The day an event interrupts the limitation period: the day the body received the
    application (``data["received_on"]``), the last day of a period that ran out (ENMP 31), else
    the day of the event (LDMAL 27 ¶2)."""
    received = ctx.data.get("received_on")
    if isinstance(received, date):
        return received
    if ctx.expiring is not None:
        # ENMP 31: a period that runs out without agreement restarts limitation from its last
        # day (调解期满之日).
        return ctx.expiring.due
    return ctx.event_day


@register_condition("order_rests_on_agreement")
def order_rests_on_agreement(ctx: Context) -> bool:
    """LDI-1 13: after an upheld objection, an order on a mediation agreement goes to court,
    an order on wages alone (LCL 30) to arbitration."""
    return ctx.case.attributes.get("payment_order_basis") == "mediation_agreement"


@register_condition("suit_on_final_award")
def suit_on_final_award(ctx: Context) -> bool:
    """LDI-1 21 ¶2: the suit in court is the worker's suit against a final award."""
    return bool(ctx.case.attributes.get("worker_sued"))


@register_condition("other_workers_may_sue")
def other_workers_may_sue(ctx: Context) -> bool:
    """LDI-1 17: a worker sues while another worker's suit window is still open; the award may
    yet take effect for that other worker."""
    if ctx.by is None or ctx.by_kind != "worker" or len(ctx.persons("worker")) < 2:
        return False
    me = ctx.person(ctx.by)
    for other in ctx.persons("worker"):
        if other == me:
            continue
        window = ctx.latest_deadline("suit_window", other)
        if window is None:
            return True  # not served yet: their window is still to come
        if window.status == DeadlineStatus.pending and window.due >= ctx.today:
            return True
    return False


@register_condition("some_worker_sued")
def some_worker_sued(ctx: Context) -> bool:
    """LDI-1 17: some of several workers sued on the award."""
    return bool(ctx.case.attributes.get("suits"))


@register_condition("tracks_procedure")
def tracks_procedure(ctx: Context) -> bool:
    """AR 33, 37, 64: the commission's own 5-working-day timers are kept for a collective case
    and when ``accept_arbitration`` asks for them with ``procedural_timers=True``."""
    return ctx.data.get("procedural_timers") is True or collective(ctx)


@register_condition("tracks_copy_service")
def tracks_copy_service(ctx: Context) -> bool:
    """LDMAL 30; AR 33: the copy is to be served, unless the acceptance already served it."""
    return tracks_procedure(ctx) and not isinstance(ctx.data.get("respondent_served_on"), date)


@register_condition("collective")
def collective(ctx: Context) -> bool:
    """LDMAL 7; AR 62-67: a collective dispute (``Case.collective``)."""
    return bool(ctx.case.attributes.get("collective"))


@register_guard("tribunal_size")
def tribunal_size(ctx: Context) -> Refusal | None:
    """LDMAL 31; AR 64-65: a collective case is heard by three arbitrators; any other case by
    three, or by one in a simple case."""
    members = ctx.data.get("arbitrators")
    if members is None:
        return None
    if collective(ctx) and members != 3:
        return Refusal(
            f"a collective case is heard by a tribunal of three arbitrators, not {members} "
            "(AR 64-65)",
            needs_data=True,
        )
    if members not in (1, 3):
        return Refusal(f"a tribunal has one or three arbitrators, not {members} (LDMAL 31)")
    return None


@register_guard("hearing_notice_in_time")
def hearing_notice_in_time(ctx: Context) -> Refusal | None:
    """LDMAL 35; AR 38: the parties are notified of the hearing at least 5 working days before
    it (AR 80)."""
    hearing = ctx.data.get("hearing_on")
    if not isinstance(hearing, date):
        return None
    earliest = ctx.calendar.add_working_days(ctx.today, 5, region=ctx.case.region)
    if hearing < earliest:
        return Refusal(
            f"the hearing must be notified at least 5 working days before it (AR 38): "
            f"notified on {ctx.today.isoformat()}, it can be on {earliest.isoformat()} at the "
            "earliest",
            needs_data=True,
        )
    return None


@register_condition("enforcement_suspended")
def enforcement_suspended(ctx: Context) -> bool:
    """LDI-1 25: enforcement of the final award was suspended by the employer's petition."""
    return bool(ctx.case.attributes.get("enforcement_suspended"))


@register_condition("enforcement_window_open")
def enforcement_window_open(ctx: Context) -> bool:
    """LDMAL 47: a final award's enforcement window already runs when the case becomes
    enforceable; it is not started again."""
    return bool(ctx.open_deadlines("enforcement_window"))


@register_condition("award_is_mixed")
def award_is_mixed(ctx: Context) -> bool:
    """AR 50 ¶4: some items are final and others not, so two award documents are made."""
    items = ctx.data.get("items") or []
    try:
        _, flags = award_finality(items, ctx.data.get("monthly_minimum_wage"))
    except ValueError as exc:
        raise InvalidData(ctx.trigger, "monthly_minimum_wage", str(exc)) from None
    return any(flags) and not all(flags)


@register_condition("split_award")
def split_award(ctx: Context) -> bool:
    """AR 50 ¶4: the case has a separate final award beside the non-final one."""
    return len(ctx.case.attributes.get("award_documents") or ()) > 1


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
