"""Errors as RFC 9457 problem details: one stable ``type`` and HTTP status per error class.

Every :class:`~mediation_flow.errors.MediationFlowError` a request raises is answered with
``application/problem+json``::

    {"type": "urn:mediation-flow:problem:guard-failed", "title": "Guard failed",
     "status": 409, "detail": "'sue' refused on case 12 in 'award_issued': ...",
     "error": "GuardFailed", "trigger": "sue", "guard": "windows_open:...", ...}

``type`` is ``urn:mediation-flow:problem:`` and the class name in kebab case; it never changes
for a class, so clients branch on it (or on ``error``, the class name). The error's facts
(``case_id``, ``trigger``, ``field``, ``legal``...) are extension members. A subclass without a
row of its own takes its nearest ancestor's status. The table (also in
``docs/howto/service.md``):
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from mediation_flow import errors
from mediation_flow.outbox import DeliveryError

__all__ = ["PROBLEM_STATUS", "problem", "problem_type"]

#: HTTP status per error class (nearest ancestor applies to a subclass without a row).
PROBLEM_STATUS: dict[type[Exception], int] = {
    errors.MediationFlowError: 500,
    errors.InvalidIntake: 422,
    errors.InvalidData: 422,
    errors.StorageError: 422,
    errors.InvalidActor: 422,
    errors.CaseNotFound: 404,
    errors.NotFound: 404,
    errors.UnknownFlow: 409,
    errors.FlowDefinitionError: 500,
    errors.DuplicateDefinition: 500,
    errors.PluginError: 500,
    errors.CalendarNotAvailable: 503,
    errors.ConcurrentUpdate: 409,
    errors.IdempotencyConflict: 409,
    errors.PermissionDenied: 403,
    errors.ActorRequired: 403,
    errors.DatabaseBusy: 503,
    errors.DatabaseError: 503,
    errors.DatabaseUnavailable: 503,
    errors.SchemaMismatch: 503,
    errors.DocumentError: 422,
    errors.HandoffRejected: 422,
    errors.TransitionError: 409,
    errors.IllegalTransition: 409,
    errors.GuardFailed: 409,
    errors.CaseHandedOver: 409,
    DeliveryError: 502,
}

#: The facts an error may carry, sent as extension members (never personal data: the
#: errors hold none).
_FACTS = (
    "case_id", "state", "trigger", "legal", "guard", "reason", "deadline", "due", "field",
    "expected_version", "actual_version", "key", "actor_id", "role", "action", "year",
    "covered", "template", "check", "reference", "held_by", "since", "kind", "sqlstate",
    "fingerprint", "plugin", "rule",
)  # fmt: skip


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem_type(exc_class: type[Exception]) -> str:
    """The stable problem ``type`` URI of an error class."""
    return f"urn:mediation-flow:problem:{_kebab(exc_class.__name__)}"


def status_of(exc_class: type[Exception]) -> int:
    for klass in exc_class.__mro__:
        if klass in PROBLEM_STATUS:
            return PROBLEM_STATUS[klass]
    return 500


def problem(exc: Exception) -> dict[str, Any]:
    """The problem details of ``exc``."""
    klass = type(exc)
    status = status_of(klass)
    body: dict[str, Any] = {
        "type": problem_type(klass),
        "title": _kebab(klass.__name__).replace("-", " ").capitalize(),
        "status": status,
        "detail": str(exc),
        "error": klass.__name__,
    }
    for name in _FACTS:
        value = getattr(exc, name, None)
        if value is None or name in body:
            continue
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        if isinstance(value, str | int | float | bool | list):
            body[name] = value
    return body


def table() -> list[tuple[str, str, int]]:
    """(class, type, status) for every row: the documented mapping."""
    return [(k.__name__, problem_type(k), v) for k, v in PROBLEM_STATUS.items()]
