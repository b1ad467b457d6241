"""Types of the fields a trigger's ``data`` may carry, and their parsing.

Each type is a function ``parse(value, data) -> value`` registered by name; a
:class:`~mediation_flow.flow.definition.DataField` refers to its type by that name. Parsing
raises ``ValueError`` with a short reason; the engine turns it into ``InvalidData`` naming the
trigger and the field. ``to_json`` turns parsed values back into what the event row stores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from mediation_flow.models import MONEY_CLAIMS, PARTY_ID, ClaimKind, PartyKind
from mediation_flow.personal_data import mask_text

__all__ = [
    "COMMON_FIELDS",
    "DATA_TYPES",
    "EARLIEST",
    "LATEST",
    "as_date",
    "parse_data",
    "register_data_type",
    "to_json",
]

Parser = Callable[[Any, Mapping[str, Any]], Any]


#: Dates a dispute can carry: the labour-dispute law's era, with room for deadlines after them.
EARLIEST, LATEST = date(1950, 1, 1), date(2199, 12, 31)


def as_date(value: Any) -> date:
    """An ISO date string (``"2025-06-03"``), a ``date`` or a ``datetime`` (its date), between
    1950 and 2199."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{_shown(value)} is not an ISO date like '2025-06-03'") from None
    else:
        raise ValueError(f"expected a date or an ISO date string, got {type(value).__name__}")
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"{day.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return day


def _shown(value: Any) -> str:
    """A value quoted in an error message, with any identity or phone number in it masked (a
    number typed into the wrong field must not come back in a log line)."""
    return repr(mask_text(value) if isinstance(value, str) else value)


def _party_dates(value: Any, data: Mapping[str, Any]) -> dict[str, date]:
    # flow.md §6: per-party dates are a mapping by party id (LDI-1 17: each worker has their own
    # service date), or by party kind when the case has one party of that kind; a single date
    # goes with data["party"] (serve_award). Which party an id or kind names is resolved against
    # the case's parties when the deadline starts (mediation_flow.deadlines).
    if isinstance(value, Mapping):
        out: dict[str, date] = {}
        for party, day in value.items():
            out[_party_kind(party, data)] = as_date(day)
        return out
    party = data.get("party")
    if party is None:
        raise ValueError("give a mapping like {'worker': '2025-06-03'}, or a date with 'party'")
    return {_party_kind(party, data): as_date(value)}


def _party_kind(value: Any, data: Mapping[str, Any]) -> str:
    if isinstance(value, str) and PARTY_ID.match(value):
        return value
    try:
        return PartyKind(value).value
    except ValueError:
        raise ValueError(
            f"{_shown(value)} is not a party id ('worker-2') or kind (worker, employer)"
        ) from None


def _by(value: Any, data: Mapping[str, Any]) -> str:
    if value in ("worker", "employer", "both"):
        return str(value)
    if isinstance(value, str) and PARTY_ID.match(value):
        return value
    raise ValueError(f"{_shown(value)} is not one of worker, employer, both or a party id")


def _bool(value: Any, data: Mapping[str, Any]) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {value!r}")


def _text(value: Any, data: Mapping[str, Any]) -> str:
    from mediation_flow.models import MAX_TEXT, control_character_problem

    if isinstance(value, str) and value.strip():
        if len(value) > MAX_TEXT:
            raise ValueError(f"longer than {MAX_TEXT} characters")
        problem = control_character_problem(value, newlines=True)
        if problem is not None:
            raise ValueError(problem)
        return value.strip()
    raise ValueError("expected a non-empty string")


def _choice(*options: str) -> Parser:
    def parse(value: Any, data: Mapping[str, Any]) -> str:
        if value in options:
            return str(value)
        raise ValueError(f"{_shown(value)} is not one of {', '.join(options)}")

    return parse


def _money(value: Any, data: Mapping[str, Any]) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"expected an amount, got {_shown(value)}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{_shown(value)} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{_shown(value)} is not a non-negative amount")
    return amount


def _days(value: Any, data: Mapping[str, Any]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a whole number of days >= 1, got {value!r}")
    return value


def _award_items(value: Any, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("expected a non-empty list of {'kind': ..., 'amount': ...}")
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or "kind" not in item:
            raise ValueError(f"item {i}: expected {{'kind': ..., 'amount': ...}}")
        try:
            kind = ClaimKind(item["kind"])
        except ValueError:
            raise ValueError(f"item {i}: {item['kind']!r} is not a claim kind") from None
        if kind in MONEY_CLAIMS and "amount" not in item:
            raise ValueError(f"item {i}: a {kind.value} item needs its awarded amount")
        amount = _money(item.get("amount", 0), data)
        items.append({"kind": kind.value, "amount": amount})
    return items


DATA_TYPES: dict[str, Parser] = {
    "date": lambda value, data: as_date(value),
    "party_dates": _party_dates,
    "party": _party_kind,
    "by": _by,
    "bool": _bool,
    "text": _text,
    "money": _money,
    "days": _days,
    "count": _days,
    "award_items": _award_items,
    "claim_items": _award_items,
    "party_kind": _choice("worker", "employer"),
    "party_role": _choice("applicant", "respondent"),
    "union_org_type": _choice("enterprise_committee", "union_org", "union_legal_station"),
    "procedure": _choice("ordinary", "simple"),
    "failure_reason": _choice("refused", "no_agreement", "expired", "confirmation_rejected"),
}


def register_data_type(name: str) -> Callable[[Parser], Parser]:
    """Decorator: register a data field type ``parse(value, data) -> value`` (raise
    ``ValueError`` with a reason). Plugins prefix the name with theirs: ``"shiyan.elements"``."""

    def deco(fn: Parser) -> Parser:
        if name in DATA_TYPES and DATA_TYPES[name] is not fn:
            raise ValueError(f"data type {name!r} is already registered")
        DATA_TYPES[name] = fn
        return fn

    return deco


#: Fields every trigger accepts.
COMMON_FIELDS = {"by": "by", "note": "text", "consent": "text"}


def parse_data(
    fields: Mapping[str, str], data: Mapping[str, Any], names: Any = None
) -> dict[str, Any]:
    """Parse ``data`` by ``fields`` (name -> type name). Raises ``KeyError(name)`` for an
    unknown field and ``ValueError`` (with ``.field`` set) for a bad value. ``names`` (a flow's
    :class:`~mediation_flow.flow.registry.FlowNames`) resolves its plugins' data types."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        type_name = fields.get(name) or COMMON_FIELDS.get(name)
        if type_name is None:
            raise KeyError(name)
        if value is None:
            continue
        parse = names.lookup("data type", type_name) if names is not None else None
        try:
            out[name] = (parse or DATA_TYPES[type_name])(value, data)
        except ValueError as exc:
            exc.field = name  # type: ignore[attr-defined]
            raise
    return out


def to_json(value: Any) -> Any:
    """Dates to ISO strings, amounts to strings, recursively: what the event row stores."""
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value
