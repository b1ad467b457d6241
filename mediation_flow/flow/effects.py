"""Named effects: what a transition records in the case's ``attributes`` beyond its plain data
fields. ``effect(ctx, *args) -> dict`` returns the attribute updates; the engine writes them in
the same transaction as the state change. Names may carry arguments like guards:
``"mark:mediation_extended"``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from mediation_flow.duedates import due_date
from mediation_flow.errors import FlowDefinitionError, InvalidData
from mediation_flow.flow.context import Context
from mediation_flow.flow.data import to_json
from mediation_flow.flow.guards import award_finality, split_name
from mediation_flow.models import (
    Party,
    PartyKind,
    PartyRole,
    Unit,
    party_ids,
)

__all__ = ["EFFECTS", "apply_effect", "register_effect"]

Effect = Callable[..., dict[str, Any]]
EFFECTS: dict[str, Effect] = {}


def register_effect(name: str) -> Callable[[Effect], Effect]:
    """Decorator: register ``fn`` as the effect called ``name``."""

    def deco(fn: Effect) -> Effect:
        if name in EFFECTS and EFFECTS[name] is not fn:
            raise FlowDefinitionError(f"the national effect {name!r} cannot be replaced")
        EFFECTS[name] = fn
        return fn

    return deco


def apply_effect(spec: str, ctx: Context) -> dict[str, Any]:
    name, args = split_name(spec)
    names = getattr(ctx.flow, "names", None)
    fn = names.lookup("effect", name) if names is not None else EFFECTS.get(name)
    if fn is None:
        raise FlowDefinitionError(f"unknown effect {name!r}")
    result: dict[str, Any] = fn(ctx, *args)
    return result


@register_effect("mark")
def mark(ctx: Context, attribute: str) -> dict[str, Any]:
    return {attribute: True}


@register_effect("set")
def set_attribute(ctx: Context, attribute: str, value: str) -> dict[str, Any]:
    return {attribute: value}


@register_effect("clear")
def clear(ctx: Context, *attributes: str) -> dict[str, Any]:
    return dict.fromkeys(attributes)


@register_effect("record_award")
def record_award(ctx: Context) -> dict[str, Any]:
    """LDMAL 47; AR 50: record the finality of each awarded item and of the award."""
    items = ctx.data["items"]
    final, flags = award_finality(items, ctx.data.get("monthly_minimum_wage"))
    awarded = [{**item, "final": flag} for item, flag in zip(items, flags, strict=True)]
    made_on = ctx.data.get("made_on") or ctx.event_day
    # LDMAL 47: a final award is in force from the day it is made; CPL 250: enforcement counts
    # from its performance date, else from that day.
    effective_from = ctx.data.get("perform_by") or made_on
    updates: dict[str, Any] = {
        "award_items": to_json(awarded),
        "award_final": final,
        "award_made_on": made_on.isoformat(),
        "award_effective_from": effective_from.isoformat() if any(flags) else None,
        "award_documents": None,
        "suit_withdrawn": None,
        "suits": None,
        "award_effective_on": None,
    }
    if any(flags) and not final:
        # AR 50 ¶4: final and non-final items go into separate award documents, each with its
        # own remedies (LDMAL 48-50).
        final_items = [i for i in awarded if i["final"]]
        other_items = [i for i in awarded if not i["final"]]
        updates["award_documents"] = to_json(
            [
                {
                    "document": "final",
                    "items": final_items,
                    "made_on": made_on,
                    "effective_on": effective_from,
                    "remedies": {"worker": "suit_window", "employer": "revocation_window"},
                    "source": "LDMAL 47-49",
                },
                {
                    "document": "nonfinal",
                    "items": other_items,
                    "made_on": made_on,
                    "effective_on": None,
                    "remedies": {"worker": "suit_window", "employer": "suit_window"},
                    "source": "LDMAL 50",
                },
            ]
        )
    return updates


@register_effect("record_suit")
def record_suit(ctx: Context) -> dict[str, Any]:
    """I-2000: whether an award preceded the suit decides what withdrawing it does; LDI-1 21: a
    worker's suit on a final award bars the employer's revocation petition."""
    after_award = ctx.state in ("award_final", "award_nonfinal")
    return {
        "award_before_suit": after_award,
        "worker_sued": ctx.by_kind == "worker" and ctx.state == "award_final",
        "suit_from": ctx.state,
        "suit_withdrawn": None,
    }


@register_effect("record_person_suit")
def record_person_suit(ctx: Context) -> dict[str, Any]:
    """LDI-1 17: the award does not take effect for a worker who sues; the suit is recorded by
    party id and day while the other workers' windows still run."""
    assert ctx.by is not None
    suits = dict(ctx.case.attributes.get("suits") or {})
    suits[ctx.person(ctx.by)] = ctx.today.isoformat()
    return {"suits": suits, "award_before_suit": True}


@register_effect("record_award_effect")
def record_award_effect(ctx: Context) -> dict[str, Any]:
    """LDI-1 17; LDMAL 47, 50: the day the award takes effect for each worker who did not sue
    (``award_effective_on``, by party id). A final award is in force from the day it is made; a
    non-final one from the day after the last of that worker's and the employer's suit windows."""
    suits = dict(ctx.case.attributes.get("suits") or {})
    if ctx.trigger == "file_lawsuit":
        # The last worker who may sue does: the case goes to court now.
        if len(ctx.persons("worker")) < 2 or ctx.by_kind != "worker" or ctx.by is None:
            return {}
        suits[ctx.person(ctx.by)] = ctx.today.isoformat()
    made_on = ctx.case.attributes.get("award_made_on")
    # The employer's windows: they all have closed (or close with this transition).
    employer_last = [
        d.due
        for d in (ctx.latest_deadline("suit_window", pid) for pid in ctx.persons("employer"))
        if d is not None
    ]
    effective: dict[str, str | None] = {}
    for pid in ctx.persons("worker"):
        if pid in suits:
            effective[pid] = None
            continue
        if ctx.state == "award_final" and made_on:
            effective[pid] = made_on
            continue
        own = ctx.latest_deadline("suit_window", pid)
        last = max([*employer_last, *([own.due] if own else [])], default=ctx.event_day)
        effective[pid] = (last + timedelta(days=1)).isoformat()
    return {"award_effective_on": effective, "suits": suits or None}


@register_effect("record_suit_withdrawn")
def record_suit_withdrawn(ctx: Context) -> dict[str, Any]:
    """LDI-1 21 ¶2: the worker's suit against a final award was withdrawn or dismissed; the award
    stands and the employer may petition for revocation within 30 days of the ruling."""
    return {
        "worker_sued": None,
        "suit_withdrawn": True,
        "award_before_suit": None,
        "suits": None,
    }


@register_effect("record_payment_order_basis")
def record_payment_order_basis(ctx: Context) -> dict[str, Any]:
    """LDI-1 13: the route after an upheld objection depends on what the order rested on."""
    basis = "mediation_agreement" if ctx.state == "agreement_breached" else "wages"
    return {"payment_order_basis": basis}


def _appended(ctx: Context, attribute: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {attribute: [*(ctx.case.attributes.get(attribute) or ()), to_json(entry)]}


@register_effect("record_added_party")
def record_added_party(ctx: Context) -> dict[str, Any]:
    """AR 46(1): a party added in arbitration gets the next id of its kind; the engine stores
    it with the event."""
    kind = PartyKind(ctx.data["party_kind"])
    existing = [p.kind for p in ctx.parties] + [p.kind for p in ctx.added_parties]
    pid = party_ids([*existing, kind])[-1]
    ctx.added_parties.append(Party(kind, PartyRole(ctx.data["role"]), ctx.data["name"], id=pid))
    return _appended(ctx, "parties_added", {"id": pid, "on": ctx.event_day})


@register_effect("record_claim_change")
def record_claim_change(ctx: Context) -> dict[str, Any]:
    """AR 46(3): the claims as changed, and when (the claims recorded at intake stay as they
    were: ``Case.claims``)."""
    return _appended(ctx, "claim_changes", {"on": ctx.event_day, "claims": ctx.data["claims"]})


@register_effect("record_counterclaim")
def record_counterclaim(ctx: Context) -> dict[str, Any]:
    """AR 46(4): the respondent's counterclaim, merged into the hearing."""
    entry = {"merged_on": ctx.event_day, "claims": ctx.data.get("claims") or []}
    return _appended(ctx, "counterclaims", entry)


@register_effect("record_transfer")
def record_transfer(ctx: Context) -> dict[str, Any]:
    """AR 31, 46(5): the commission the case was transferred to and its receipt date."""
    received = ctx.data.get("received_on") or ctx.event_day
    return _appended(
        ctx, "transfers", {"to": ctx.data["org_id"], "received_on": received, "from": ctx.state}
    )


@register_effect("record_deemed_withdrawal")
def record_deemed_withdrawal(ctx: Context) -> dict[str, Any]:
    """AR 39: a deemed withdrawal bars a new application on the same claim and facts; a
    voluntary one (``withdraw``, AR 35) does not."""
    return {"withdrawal": "deemed", "reapplication_barred": True}


@register_effect("record_partial_award")
def record_partial_award(ctx: Context) -> dict[str, Any]:
    """LDMAL 43 ¶2; AR 49: a partial award, with each item's finality and each served party's
    15-day suit window (LDMAL 48, 50), while the hearing goes on."""
    items = ctx.data["items"]
    try:
        _, flags = award_finality(items, ctx.data.get("monthly_minimum_wage"))
    except ValueError as exc:
        raise InvalidData(ctx.trigger, "monthly_minimum_wage", str(exc)) from None
    served: dict[str, Any] = {
        ctx.person(k, "served_on"): v for k, v in (ctx.data.get("served_on") or {}).items()
    }
    windows = {
        pid: due_date(ctx.calendar, Unit.calendar_days, day, 15, ctx.case.region)[0]
        for pid, day in served.items()
    }
    entry = {
        "made_on": ctx.event_day,
        "items": [{**i, "final": f} for i, f in zip(items, flags, strict=True)],
        "served_on": served,
        "suit_window_due": windows,
    }
    return _appended(ctx, "partial_awards", entry)


@register_effect("record_advance_execution")
def record_advance_execution(ctx: Context) -> dict[str, Any]:
    """LDMAL 44; AR 51: the ruling on advance execution, transferred to the court; it cannot
    be sued against (LDI-1 10)."""
    entry = {"ordered_on": ctx.event_day, "items": ctx.data["items"]}
    return _appended(ctx, "advance_executions", entry)


@register_effect("suspend_limitation")
def suspend_limitation(ctx: Context) -> dict[str, Any]:
    """LDMAL 27 ¶3; AR 28: the limitation period stops running from ``suspended_on`` (default:
    the event date)."""
    day = ctx.data.get("suspended_on") or ctx.event_day
    if day > ctx.today:
        raise InvalidData(ctx.trigger, "suspended_on", f"{day.isoformat()} is after today")
    return {"limitation_suspended_on": day.isoformat()}


@register_effect("resume_limitation")
def resume_limitation(ctx: Context) -> dict[str, Any]:
    """LDMAL 27 ¶3: the period runs on ("继续计算") from ``resumed_on``: its last day moves by
    the days it stood still (a rest last day rolls over, CPL 85). Unlike CC 194 there is no
    extra grace after the cause ends."""
    since = date.fromisoformat(ctx.case.attributes["limitation_suspended_on"])
    day = ctx.data.get("resumed_on") or ctx.event_day
    if day < since or day > ctx.today:
        raise InvalidData(
            ctx.trigger, "resumed_on", f"{day.isoformat()} is not between {since} and today"
        )
    stood = (day - since).days
    expires = ctx.case.limitation_expires_on
    if expires is not None and since <= expires and stood:
        ctx.case.limitation_expires_on = ctx.calendar.add_calendar_days(
            expires, stood, region=ctx.case.region
        )
    updates = _appended(ctx, "limitation_suspensions", {"from": since, "to": day, "days": stood})
    return {**updates, "limitation_suspended_on": None}


@register_effect("end_suspended_enforcement")
def end_suspended_enforcement(ctx: Context) -> dict[str, Any]:
    """LDI-1 25 ¶2: revoking the award ends the enforcement it suspended."""
    if not ctx.case.attributes.get("enforcement_suspended"):
        return {}
    return {"enforcement_suspended": None, "enforcement_terminated": True}
