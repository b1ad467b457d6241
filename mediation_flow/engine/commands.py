"""The command path: ``fire``. A command checks its input, loads the case with its deadlines
in its one transaction (``_fire``), authorises the actor, decides on the flow's shared machine
(legality, guards, the plugins' vetoes), and ends in the write step (:mod:`.step`); after the
commit it logs and runs the plugins' after-commit hooks.

A command that finds deadlines of its case that ran out with no tick since (``_overdue``)
rolls back, has them applied as a tick would (``Expiry._catch_up`` in :mod:`.expiry`) and
decides again. Idempotency keys (the stored result of a retry, ``EngineCore._replayed``) and
``retry_on_conflict`` are here too; ``open_case`` is in :mod:`.intake`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection

from mediation_flow.calendar_config import calendar_error
from mediation_flow.engine.core import SHANGHAI, handed_over
from mediation_flow.engine.expiry import Expiry
from mediation_flow.engine.step import CalendarChanged
from mediation_flow.errors import (
    CalendarNotAvailable,
    CaseNotFound,
    ConcurrentUpdate,
    GuardFailed,
    InvalidData,
    MediationFlowError,
    PermissionDenied,
)
from mediation_flow.flow.data import to_json
from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.idempotency import check_key, scoped_key
from mediation_flow.inputs import check_actor
from mediation_flow.models import (
    Actor,
    Case,
    DeadlineStatus,
    Role,
    json_limit_problem,
)
from mediation_flow.records import DeadlineRecord
from mediation_flow.storage.repository import DuplicateKey

T = TypeVar("T")


class Commands(Expiry):
    """``fire``: the command path. It builds on :class:`~.expiry.Expiry` because a command
    applies the expiries of its case that no tick applied yet (``_catch_up``) first."""

    def fire(
        self,
        case_id: int,
        trigger: str,
        *,
        actor: Actor | None = None,
        at: datetime | None = None,
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Case:
        """Fire ``trigger`` on a case and return the case as it is afterwards.

        ``data`` carries what the trigger needs (flow.md §3). ``expected_version``, when given,
        makes the command refuse with ``ConcurrentUpdate`` unless the case is still at that
        version (the version the caller showed an officer, say). ``idempotency_key`` makes a
        retried command safe: the same key with the same command (case, trigger, data, actor)
        applies once and every retry returns the same result; the same key with another command
        raises ``IdempotencyConflict``. Raises ``CaseNotFound``, ``IllegalTransition``,
        ``GuardFailed``, ``InvalidData``, ``PermissionDenied``, ``ConcurrentUpdate``,
        ``DatabaseBusy``, and ``CalendarNotAvailable`` when a due date falls in a year whose
        holiday schedule is not known (``InvalidData`` for a year the calendar will never
        know); nothing of the command is written when it raises.

        Deadlines of the case that ran out before ``at`` with no :meth:`tick` since are
        applied first, each as a tick would have (its expiry trigger, or its expiry event), and
        the command is decided on the case as it is after them: the outcome does not depend on
        when the tick workers ran (a deadline the command itself meets in time, an act dated
        by its data, is not expired). Those expiries stay recorded even if the command is then
        refused (a tick would have recorded them too). A command refused on the case as it was
        read records nothing.
        """
        started = time.perf_counter()
        if not isinstance(trigger, str) or not 0 < len(trigger) <= 64 or not trigger.isascii():
            raise InvalidData("fire", "trigger", "must be the name of a trigger (flow.md §3)")
        if data is not None:
            # The size and depth first (nothing walks the data before); a NUL character is
            # refused with the data's fields, after the trigger's legality (_parse_data).
            if not isinstance(data, Mapping):
                raise InvalidData(trigger, "data", f"expected a mapping, got {type(data).__name__}")
            problem = json_limit_problem(data)
            if problem is not None:
                raise InvalidData(trigger, "data", f"is {problem}")
        actor = check_actor(self._acting(actor, f"fire {trigger!r} on"), trigger)
        at = self._at(at, trigger)
        request = key = None
        if idempotency_key is not None:
            key = scoped_key(actor, check_key(idempotency_key, trigger))
            request = request_digest(case_id, trigger, data or {}, actor)
        with self._store.connect() as conn:
            # The stored result of a retried command comes first, inside the command's
            # transaction (``_fire``): a retry is answered whatever the case or the clock says
            # now, to an actor who may still see the case and fire the trigger.
            command = partial(
                self._fire,
                conn,
                case_id,
                trigger,
                actor,
                at,
                data,
                expected_version,
                key,
                request,
                started,
                shown=idempotency_key,
            )

            def attempt(catch_up: bool) -> Case:
                try:
                    return command(catch_up=catch_up)
                except CalendarChanged:
                    # Decided again on the notice just registered.
                    return command(catch_up=catch_up)

            try:
                try:
                    return attempt(True)
                except _Overdue as overdue:
                    # Deadlines of the case ran out before ``at`` and no tick has applied them
                    # yet: apply them now, as a tick would have, then decide the command on
                    # the case as it is after them (the same outcome whenever the tick runs).
                    self._catch_up(case_id, at, overdue.deadlines)
                    return attempt(False)
            except CalendarNotAvailable as exc:
                raise calendar_error(exc, trigger, self._day(at)) from None
            except (MediationFlowError, DuplicateKey) as exc:
                if isinstance(exc, ConcurrentUpdate | DuplicateKey):
                    self._log.info(
                        "concurrent_update",
                        case_id=case_id,
                        trigger=trigger,
                        actor_id=actor.id,
                        error=str(exc),
                    )
                # The same command with the same key may have committed in the meantime (the
                # case then refuses it as illegal, conflicts, or has moved past ``at``):
                # return its result.
                if key is not None:
                    replayed = self._replay_idempotent(
                        conn, key, request, case_id, actor, trigger, idempotency_key
                    )
                    if replayed is not None:
                        return replayed
                raise

    def _fire(
        self,
        conn: Connection,
        case_id: int,
        trigger: str,
        actor: Actor,
        at: datetime,
        data: Mapping[str, Any] | None,
        expected_version: int | None,
        idempotency_key: str | None,
        request: str | None,
        started: float,
        *,
        shown: str | None = None,
        catch_up: bool = False,
    ) -> Case:
        # One transaction (BEGIN IMMEDIATE on SQLite): read the case and its deadlines in one
        # statement (parties and claims from the cache when their chain head is current),
        # decide, write. PostgreSQL runs it at READ COMMITTED: the read is one statement, so one
        # snapshot, and the write is checked against the version read (optimistic locking).
        with self._store.writing(conn):
            if idempotency_key is not None:
                replayed = self._replayed(
                    conn, idempotency_key, request, case_id, actor, trigger, shown
                )
                if replayed is not None:
                    return replayed
            case, deadlines = self._load_command(conn, case_id)
            head = case.event_hash
            flow = self._flow_of(case)
            data = data if data is not None else {}
            parties, claims = self._intake_of(conn, case)
            if actor.role is not Role.system:
                # Before anything about the case (its state, version, last event) is revealed.
                scope = self._scope(case, parties)
                if self._read_refusal(actor, scope) is not None:
                    raise CaseNotFound(case_id)  # no existence oracle
                reason = self._fire_refusal(actor, scope, trigger, data, flow.definition)
                if reason is not None:
                    raise PermissionDenied(
                        actor.id, actor.role.value, f"fire {trigger!r} on", case_id, reason
                    )
                missing = self.policy.consent_refusal(actor, scope, trigger, data, flow.definition)
                if missing is not None:
                    raise GuardFailed(
                        case_id=case_id,
                        state=case.state,
                        trigger=trigger,
                        guard="both_parties",
                        reason=missing,
                    )
                data = self.policy.acting_data(actor, scope, trigger, data, flow.definition)
            if case.held_by is not None:
                raise handed_over(case, trigger)
            if expected_version is not None and case.version != expected_version:
                raise ConcurrentUpdate(case_id, expected_version, case.version)
            if at < case.updated_at:
                # A history is recorded in order; a past act is dated by its data
                # (received_on, served_on, ...), not by recording it in the past.
                raise InvalidData(
                    trigger,
                    "at",
                    f"{at.isoformat()} is before the case's last event "
                    f"({case.updated_at.astimezone(SHANGHAI).isoformat()}); commands are "
                    "recorded in order",
                )
            ctx = self._context(
                conn,
                flow,
                case,
                trigger,
                data,
                actor,
                at,
                deadlines=deadlines,
                parties=parties,
                claims=claims,
            )
            tdef, dest = flow.fire(ctx)
            self._veto(ctx, tdef)
            overdue = _overdue(deadlines, ctx.today, flow.definition, trigger) if catch_up else []
            version = case.version
            event_row = self._apply(ctx, tdef, dest)
            if overdue:
                # The command would apply, but deadlines ran out before it: their expiries
                # come first (a refused command writes nothing, expiries included), but for a
                # deadline the command itself meets in time (an act dated by its data: a
                # complaint posted on the last day and recorded later, CPL 85 ¶4). Nothing
                # was written yet: the transaction is rolled back, the case read again.
                met = {d.id for d in ctx.deadlines if d.status == DeadlineStatus.met}
                overdue = [deadline_id for deadline_id in overdue if deadline_id not in met]
                if overdue:
                    raise _Overdue(overdue)
            idempotent = None
            if idempotency_key is not None:
                idempotent = {"key": idempotency_key, "case_id": case_id, "request": request}
            event = self._write(conn, ctx, version, event_row, idempotent)
        self._intake.advance(case_id, head, case.event_hash, (parties, claims))
        self._log_transition(ctx, event_row, started)
        view = self._view(flow, case, (*parties, *ctx.added_parties), claims)
        self._plugins.after_commit(case.region, view, event, self._log)
        return view


class _Overdue(Exception):
    """A command found deadlines of its case that ran out before it (internal)."""

    def __init__(self, deadlines: list[int]) -> None:
        self.deadlines = deadlines


def _overdue(
    deadlines: Iterable[DeadlineRecord], today: date, flow: FlowDefinition, trigger: str
) -> list[int]:
    """The ids of the pending deadlines whose day ended before ``today``, in due order, but
    those whose expiry is the command itself (an officer applying the expiry: the command's
    event records it)."""
    kinds = flow.deadline_map
    due = sorted(
        (d.due, d.id)
        for d in deadlines
        if d.status == DeadlineStatus.pending
        and d.due < today
        and d.id is not None
        and trigger not in kinds[d.kind].expiry
    )
    return [deadline_id for _, deadline_id in due]


def retry_on_conflict(command: Callable[[], T], *, attempts: int = 3) -> T:
    """Run ``command`` and retry it when it raises ``ConcurrentUpdate``, at most ``attempts``
    times in all; the last ``ConcurrentUpdate`` is re-raised.

    ``command`` must decide afresh on each call (reload the case, re-check the trigger):
    ``retry_on_conflict(lambda: engine.fire(case_id, "accept_arbitration", at=at))``.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return command()
        except ConcurrentUpdate:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def request_digest(case_id: int, trigger: str, data: Mapping[str, Any], actor: Actor) -> str:
    """What makes two commands "the same" for an idempotency key (the moment does not count:
    a retry comes later)."""
    content = {
        "case_id": case_id,
        "trigger": trigger,
        "data": to_json(data),
        "actor": [actor.id, actor.role.value],
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
