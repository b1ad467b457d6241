"""Named effects: what a transition records in the case's ``attributes`` beyond its plain data
fields. ``effect(ctx, *args) -> dict`` returns the attribute updates; the engine writes them in
the same transaction as the state change. Names may carry arguments like guards:
``"mark:mediation_extended"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mediation_flow.errors import FlowDefinitionError
from mediation_flow.flow.context import Context
from mediation_flow.flow.data import to_json
from mediation_flow.flow.guards import award_finality, split_name

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
    return {
        "award_items": to_json(awarded),
        "award_final": final,
    }


@register_effect("record_suit")
def record_suit(ctx: Context) -> dict[str, Any]:
    """I-2000: whether an award preceded the suit decides what withdrawing it does; LDI-1 21: a
    worker's suit on a final award bars the employer's revocation petition."""
    after_award = ctx.state in ("award_final", "award_nonfinal")
    return {
        "award_before_suit": after_award,
        "worker_sued": ctx.by == "worker" and ctx.state == "award_final",
        "suit_from": ctx.state,
    }


@register_effect("record_payment_order_basis")
def record_payment_order_basis(ctx: Context) -> dict[str, Any]:
    """LDI-1 13: the route after an upheld objection depends on what the order rested on."""
    basis = "mediation_agreement" if ctx.state == "agreement_breached" else "wages"
    return {"payment_order_basis": basis}
