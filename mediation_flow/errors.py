"""Errors raised by mediation_flow.

Every error is a :class:`MediationFlowError`; catch that one class to handle them all. Each error
carries its facts as attributes (``case_id``, ``state``, ``trigger``, ...) for programs, and a
message that says what went wrong and what to do for people::

    MediationFlowError
    ├── InvalidIntake          bad intake data: names the field and why
    ├── InvalidData            bad data on a command: names the trigger, the field and why
    │   └── StorageError       the database refused a value (the message holds none of it)
    ├── CaseNotFound           no case with that id
    ├── UnknownFlow            the case was opened under a flow definition this engine lacks
    ├── FlowDefinitionError    a flow definition is inconsistent (unknown state, guard, ...)
    │   └── PluginError        a plugin failed to load, or broke the statutory floor
    ├── CalendarNotAvailable   the holiday schedule of a year is not known
    ├── ConcurrentUpdate       someone else changed the case first; reload and retry
    ├── IdempotencyConflict    an idempotency key was used for a different command
    ├── InvalidActor           an Actor built with a bad id, role or scope
    ├── PermissionDenied       the actor may not do this (who, what and why)
    │   └── ActorRequired      no actor given, and the engine has no default actor
    ├── DatabaseBusy           the database stayed locked past the busy timeout
    ├── DatabaseError          the database failed a statement (no values in the message)
    │   └── DatabaseUnavailable   the connection to the database was lost or refused
    ├── SchemaMismatch         the database schema is not the one this release needs
    ├── DocumentError          a document template is unknown or fails to render
    ├── HandoffRejected        a handoff package failed a check; nothing was imported
    ├── NotFound               no case has that case number or serial (progress look-up)
    └── TransitionError        a trigger cannot be fired now
        ├── IllegalTransition  the trigger is not legal in the case's state
        ├── GuardFailed        the trigger is legal here but a guard refused it
        └── CaseHandedOver     the case was handed to another system and is acted on there

Nothing is written to the database when any of these is raised by a command.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

__all__ = [
    "ActorRequired",
    "CalendarNotAvailable",
    "CaseHandedOver",
    "CaseNotFound",
    "ConcurrentUpdate",
    "DatabaseBusy",
    "DatabaseError",
    "DatabaseUnavailable",
    "DocumentError",
    "DuplicateDefinition",
    "FlowDefinitionError",
    "GuardFailed",
    "HandoffRejected",
    "IdempotencyConflict",
    "IllegalTransition",
    "InvalidActor",
    "InvalidData",
    "InvalidIntake",
    "MediationFlowError",
    "NotFound",
    "PermissionDenied",
    "PluginError",
    "SchemaMismatch",
    "StorageError",
    "TransitionError",
    "UnknownFlow",
]


class MediationFlowError(Exception):
    """Base class of every error raised by mediation_flow."""


def _safe(text: object, limit: int = 300) -> str:
    """Text an error may repeat: identity and phone numbers masked, control characters shown
    escaped, at most ``limit`` characters (an error never echoes raw input)."""
    from mediation_flow.personal_data import mask_text

    value = text if isinstance(text, str) else str(text)
    if len(value) > 4 * limit:
        value = value[: 4 * limit]
    value = mask_text(value)
    # Whatever the boundaries, an error shows no long run of digits (x430102199001011238x).
    value = re.sub(r"[0-9\uff10-\uff19]{11,}", lambda m: f"{m[0][:3]}****{m[0][-4:]}", value)
    value = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


class InvalidIntake(MediationFlowError, ValueError):
    """The intake of a new case is invalid; ``field`` says where (``parties[0].kind``)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field = _safe(field, 120)
        self.reason = reason = _safe(reason)
        super().__init__(f"invalid intake: {field}: {reason}")


class InvalidData(MediationFlowError, ValueError):
    """The ``data`` given with a trigger is missing a field or has a bad value."""

    def __init__(self, trigger: str, field: str, reason: str) -> None:
        self.trigger = trigger = _safe(trigger, 120)
        self.field = field = _safe(field, 120)
        self.reason = reason = _safe(reason)
        super().__init__(f"invalid data for {trigger!r}: {field}: {reason}")


class CaseNotFound(MediationFlowError, LookupError):
    """No case has this id (or it is outside what the caller may see)."""

    def __init__(self, case_id: int) -> None:
        self.case_id = case_id
        super().__init__(f"case {case_id} not found")


class UnknownFlow(MediationFlowError):
    """The case was opened under a flow definition that this engine does not have.

    This happens when the plugins of a deployment changed while cases were open. The engine refuses
    rather than silently reinterpret the case under another flow.
    """

    def __init__(self, case_id: int | None, fingerprint: str, known: Sequence[str] = ()) -> None:
        self.case_id = case_id
        self.fingerprint = fingerprint
        self.known = tuple(known)
        where = f"case {case_id} was opened under" if case_id is not None else "no"
        known_text = ", ".join(k[:12] for k in self.known) or "none"
        super().__init__(
            f"{where} flow definition {fingerprint[:12]}, which this engine does not know "
            f"(known: {known_text}); start the engine with the plugins the case was opened "
            f"under, or pass that definition in Engine(flows=...)"
        )


class FlowDefinitionError(MediationFlowError):
    """A flow definition is inconsistent: an unknown state, guard, effect or deadline kind."""


class DuplicateDefinition(FlowDefinitionError):
    """A flow defines a state or a deadline kind twice (``what`` is ``"state"`` or
    ``"deadline kind"``, ``id`` its id): two plugins of one region added the same one."""

    def __init__(self, flow: str, what: str, id: str) -> None:
        self.what = what
        self.id = id
        super().__init__(f"flow {flow!r}: {what} {id!r} defined twice")


class PluginError(FlowDefinitionError):
    """A plugin failed to load or to build its flow, or its flow breaks the statutory floor.

    ``plugin`` names the plugin (two, comma-separated, when they conflict) and ``rule`` says
    which rule it broke (or what failed); ``region``, ``element`` (the national state, trigger or
    deadline kind concerned) and ``hook`` are set when known.
    """

    def __init__(self, plugin: str, rule: str) -> None:
        self.plugin = plugin
        self.rule = rule
        self.region: str | None = None
        self.element: str | None = None
        self.hook: str | None = None
        super().__init__(f"plugin {plugin!r}: {rule}")


class CalendarNotAvailable(MediationFlowError, LookupError):
    """The national holiday schedule of ``year`` is not known, so no due date can be computed.

    The State Council publishes each year's schedule late in the year before; update the
    ``chinese-calendar`` package, or register the published schedule with
    :meth:`mediation_flow.calendar.Calendar.with_schedule`.
    """

    def __init__(self, year: int, covered: tuple[int, int] | None = None) -> None:
        self.year = year
        self.covered = covered
        span = f" (known years: {covered[0]}-{covered[1]})" if covered else ""
        super().__init__(
            f"the holiday schedule of {year} is not available{span}; upgrade chinese-calendar "
            f"or register the State Council's {year} schedule with Calendar.with_schedule()"
        )


class ConcurrentUpdate(MediationFlowError):
    """Another command changed the case between this command's read and its write.

    Nothing was written. Reload the case (its state may have moved on) and decide again; see
    :func:`mediation_flow.retry_on_conflict` for a bounded automatic retry.
    """

    def __init__(self, case_id: int, expected_version: int, actual_version: int | None) -> None:
        self.case_id = case_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        now = f"now at version {actual_version}" if actual_version is not None else "changed"
        super().__init__(
            f"case {case_id} was changed by someone else (expected version {expected_version}, "
            f"{now}); nothing was written: reload the case and try again"
        )


class IdempotencyConflict(MediationFlowError):
    """An idempotency key came back with a different command than the one it was first used
    for. Nothing was written; a new command needs a new key."""

    def __init__(self, key: str, case_id: int) -> None:
        self.key = key
        self.case_id = case_id
        super().__init__(
            f"idempotency key {key!r} was already used for a different command (on case "
            f"{case_id}); nothing was written: give each distinct command its own key"
        )


class PermissionDenied(MediationFlowError):
    """The actor may not do this: ``actor_id``, ``role``, ``action`` and ``reason`` say who,
    what and why. Nothing was written or returned."""

    def __init__(
        self, actor_id: str, role: str, action: str, case_id: int | None, reason: str
    ) -> None:
        self.actor_id = actor_id
        self.role = role
        self.action = action
        self.case_id = case_id
        self.reason = reason
        on = f" case {case_id}" if case_id is not None else ""
        super().__init__(f"{actor_id} ({role}) may not {action}{on}: {reason}")


class DatabaseBusy(MediationFlowError):
    """The database stayed locked by another writer past the busy timeout (SQLite), or a
    statement ran past the statement timeout (PostgreSQL). Nothing was written."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"the database is locked by another writer or overloaded ({detail}); nothing was "
            f"written: retry later, or raise busy_timeout / statement_timeout_ms"
        )


class DatabaseError(MediationFlowError):
    """The database refused or failed a statement for a reason that is not a conflict, a lock
    or a timeout: a constraint (``kind="integrity"``), a lost connection (``"connection"``,
    :class:`DatabaseUnavailable`) or anything else (``"other"``). Nothing was written.

    The message names the kind, the SQLSTATE and the driver's one-line reason, never the
    statement's values: a party's name or identity number does not end up in a log."""

    def __init__(self, kind: str, sqlstate: str | None, detail: str) -> None:
        self.kind = kind
        self.sqlstate = sqlstate
        self.detail = detail
        code = f" (SQLSTATE {sqlstate})" if sqlstate else ""
        super().__init__(f"the database failed the command: {kind}{code}: {detail}; nothing "
                         f"was written")  # fmt: skip


class DatabaseUnavailable(DatabaseError):
    """The connection to the database was lost or could not be made (a restarted server, a
    terminated connection, a network fault). Nothing was written; retry: the pool reconnects."""

    def __init__(self, sqlstate: str | None, detail: str) -> None:
        super().__init__("connection", sqlstate, detail)


class SchemaMismatch(MediationFlowError):
    """The database's schema revision is not the one this release needs; the message says
    which command to run."""

    def __init__(self, current: str | None, needed: str, advice: str) -> None:
        self.current = current
        self.needed = needed
        super().__init__(
            f"database schema revision {current or 'none'}, this release needs {needed}: {advice}"
        )


class DocumentError(MediationFlowError):
    """A document template is unknown, or it failed to render (``template`` names it)."""

    def __init__(self, template: str, reason: str) -> None:
        self.template = template
        self.reason = reason
        super().__init__(f"document {template!r}: {reason}")


class HandoffRejected(MediationFlowError):
    """A handoff package was refused: ``check`` names the check it failed (``digest``,
    ``signature``, ``chain``, ``schema``, ``conflict``...) and ``reason`` says what to do.
    Nothing of the package was written."""

    def __init__(self, check: str, reason: str) -> None:
        self.check = check
        self.reason = reason = _safe(reason, 600)  # a schema error may quote the package
        super().__init__(f"handoff package refused ({check}): {reason}")


class NotFound(MediationFlowError, LookupError):
    """No case has this case number or serial. The message does not say whether the number
    exists elsewhere: a look-up reveals nothing about other cases."""

    def __init__(self, reference: str) -> None:
        self.reference = reference = _safe(reference, 64)
        super().__init__(
            f"no case with the number or serial {reference!r}; check the number on the "
            f"acceptance notice or the intake receipt"
        )


class TransitionError(MediationFlowError):
    """A trigger cannot be fired on a case now."""

    def __init__(self, message: str, *, case_id: int | None, state: str, trigger: str) -> None:
        self.case_id = case_id
        self.state = state
        self.trigger = trigger
        super().__init__(message)


class IllegalTransition(TransitionError):
    """The trigger is not defined from the case's current state; ``legal`` lists what is."""

    def __init__(
        self, *, case_id: int | None, state: str, trigger: str, legal: Sequence[str]
    ) -> None:
        self.legal = tuple(legal)
        who = f"case {case_id}" if case_id is not None else "the case"
        options = ", ".join(self.legal) if self.legal else "none (the case is terminal)"
        super().__init__(
            f"{trigger!r} is not legal: {who} is in {state!r}; legal triggers: {options}",
            case_id=case_id,
            state=state,
            trigger=trigger,
        )


class GuardFailed(TransitionError):
    """A guard refused the trigger; ``guard`` names it and ``reason`` says why.

    ``deadline`` and ``due`` are set when the guard is a closed time window.
    """

    def __init__(
        self,
        *,
        case_id: int | None,
        state: str,
        trigger: str,
        guard: str,
        reason: str,
        deadline: str | None = None,
        due: date | None = None,
    ) -> None:
        self.guard = guard
        self.reason = reason
        self.deadline = deadline
        self.due = due
        who = f"case {case_id}" if case_id is not None else "the case"
        super().__init__(
            f"{trigger!r} refused on {who} in {state!r}: guard {guard!r}: {reason}",
            case_id=case_id,
            state=state,
            trigger=trigger,
        )


class CaseHandedOver(TransitionError):
    """The case was handed over to another organisation's system (``Engine.export_handoff``)
    and is acted on there: nothing is fired on it here, and its deadlines wait, until it comes
    back (``Engine.import_handoff``) or is taken back (``Engine.reclaim``)."""

    def __init__(self, case_id: int, state: str, trigger: str, held_by: str, since: str) -> None:
        self.held_by = held_by
        self.since = since
        super().__init__(
            f"case {case_id} was handed over to {held_by} on {since} and is acted on there; "
            f"import the package it sends back (import_handoff), or take the case back with "
            f"reclaim() if it will not come back",
            case_id=case_id,
            state=state,
            trigger=trigger,
        )


class InvalidActor(MediationFlowError, ValueError):
    """An :class:`~mediation_flow.models.Actor` was built with a bad ``field``: an empty id or
    scope, an unknown role, a region that is not ASCII digits, or the ``system`` role from a
    value (the system actor is built with ``Actor.system()`` only)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"invalid actor: {field}: {reason}")


class StorageError(InvalidData):
    """The database refused a value (a character it cannot store, a text too long, a number out
    of range): bad data, so an ``InvalidData`` (``trigger`` ``"database"``, ``field``
    ``"value"``). The message holds no value of the command, only the SQLSTATE: nothing
    personal reaches a log. Nothing was written."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(
            "database",
            "value",
            f"the database refused a value of this command (SQLSTATE {sqlstate or '?'}): a text "
            "holds a character it cannot store (no NUL) or is too long, or a number is out of "
            "range; nothing was written",
        )
        self.sqlstate = sqlstate


class ActorRequired(PermissionDenied):
    """A call came without an actor and the engine fails closed (``Engine(default_actor=None)``):
    pass ``actor=``. Nothing was written or returned."""

    def __init__(self, action: str) -> None:
        super().__init__(
            "(no actor)",
            "none",
            action,
            None,
            "this engine has no default actor (Engine(default_actor=None)): pass actor=",
        )
