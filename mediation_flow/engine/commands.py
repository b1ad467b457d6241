"""The command path: ``open_case`` and ``fire``. A command checks its input, loads the case
with its deadlines in its one transaction, authorises the actor, decides on the flow's shared
machine (legality, guards, the plugins' vetoes), and ends in the write step (:mod:`.step`);
after the commit it logs and runs the plugins' after-commit hooks. Idempotency keys, the
expiries a command catches up on first, and the retry helper live here too.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection

from mediation_flow import ledger
from mediation_flow.audit import event_hash, intake_digest
from mediation_flow.calendar_config import calendar_error
from mediation_flow.duedates import limitation_expiry
from mediation_flow.early_warning import CaseFacts, Employer
from mediation_flow.engine.core import SHANGHAI, handed_over
from mediation_flow.engine.expiry import Expiry
from mediation_flow.engine.rows import intake_party_rows, snapshot
from mediation_flow.engine.step import CalendarChanged
from mediation_flow.errors import (
    CalendarNotAvailable,
    CaseNotFound,
    ConcurrentUpdate,
    GuardFailed,
    IdempotencyConflict,
    InvalidData,
    InvalidIntake,
    MediationFlowError,
    PermissionDenied,
)
from mediation_flow.flow.data import to_json
from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.idempotency import check_key, intake_request, scoped_key
from mediation_flow.inputs import check_actor, nul_path
from mediation_flow.ledger import state_digest
from mediation_flow.models import (
    Actor,
    Case,
    Claim,
    DeadlineStatus,
    Intake,
    Party,
    PartyKind,
    Role,
    json_limit_problem,
    parse_intake,
    party_ids,
)
from mediation_flow.numbering import new_serial
from mediation_flow.plugins import Route
from mediation_flow.records import CaseRecord, DeadlineRecord
from mediation_flow.storage.repository import DuplicateKey

T = TypeVar("T")

_CENT = Decimal("0.01")


class Commands(Expiry):
    """``open_case`` and ``fire``: the command path."""

    def open_case(
        self,
        intake: Intake | dict[str, Any],
        *,
        actor: Actor | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Case:
        """Register a new dispute at one-stop intake; it starts in ``received``.

        Raises ``InvalidIntake`` naming the field for bad input; nothing is stored then.
        ``idempotency_key`` makes a retried intake safe: the same key with the same intake (and
        actor) opens one case, and every retry returns it as it was opened; the same key with
        another intake raises ``IdempotencyConflict`` (keys are scoped per actor,
        :mod:`mediation_flow.idempotency`).
        """
        started = time.perf_counter()
        actor = check_actor(self._acting(actor, "open a case"), "open_case")
        parsed = parse_intake(intake)  # bounds the size and depth before anything walks it
        if isinstance(intake, dict) and (where := nul_path(intake)) is not None:
            raise InvalidIntake(where, "must not contain a NUL character")
        at = self._at(at, "open_case")
        if idempotency_key is None:
            return self._open_case(parsed, actor, at, started, None)
        key = scoped_key(actor, check_key(idempotency_key, "open_case"))
        request = intake_request(parsed, actor)
        with self._store.connect() as conn:
            # The stored result first: a retry is answered whatever the clock says now.
            replayed = self._replay_idempotent(
                conn, key, request, None, actor, None, idempotency_key
            )
        if replayed is not None:
            return replayed
        try:
            return self._open_case(parsed, actor, at, started, (key, request))
        except (MediationFlowError, DuplicateKey):
            # The same intake with the same key may have committed in the meantime.
            with self._store.connect() as conn:
                replayed = self._replay_idempotent(
                    conn, key, request, None, actor, None, idempotency_key
                )
            if replayed is not None:
                return replayed
            raise

    def _open_case(
        self,
        parsed: Intake,
        actor: Actor,
        at: datetime,
        started: float,
        idempotent: tuple[str, str] | None,
    ) -> Case:
        today = self._day(at)
        received_on = parsed.received_on or today
        if received_on > today:
            raise InvalidIntake("received_on", f"{received_on} is after the intake date {today}")
        knew = parsed.knew_of_infringement_on
        if knew is not None and knew > received_on:
            raise InvalidIntake(
                "knew_of_infringement_on", f"{knew} is after the receipt date {received_on}"
            )
        self._authorize_intake(actor, parsed)
        compiled = self._compiled_for(parsed.region)
        flow = compiled.definition
        extra = self._plugins.check_attributes(parsed.region, parsed.attributes)
        # LDMAL 27 ¶2: the first claim interrupts the limitation period.
        try:
            limitation = limitation_expiry(
                self.calendar,
                parsed.region,
                knew_of_infringement_on=knew,
                employment_ended_on=parsed.employment_ended_on,
                claim_kinds=[c.kind for c in parsed.claims],
                interruptions=[received_on],
            )
            if limitation["provisional"] and self._sync_calendar():
                limitation = limitation_expiry(
                    self.calendar,
                    parsed.region,
                    knew_of_infringement_on=knew,
                    employment_ended_on=parsed.employment_ended_on,
                    claim_kinds=[c.kind for c in parsed.claims],
                    interruptions=[received_on],
                )
        except CalendarNotAvailable as exc:
            raise calendar_error(exc, "open_case", today) from None
        attributes: dict[str, Any] = {"limitation_interruptions": [received_on.isoformat()]}
        if parsed.is_collective:  # LDMAL 7; AR 62-67
            attributes["collective"] = True
            attributes["representatives"] = list(parsed.representatives)
        if extra:
            # Kept apart from the attributes the flow records, so intake cannot preset them.
            attributes["intake"] = to_json(extra)
        if limitation["provisional"]:
            attributes["limitation_provisional"] = True
        serial = new_serial(parsed.region, today)
        values = {
            "serial": serial,
            "region": parsed.region,
            "state": flow.initial,
            "version": 1,
            "flow_fingerprint": compiled.fingerprint,
            "resolution": None,
            "worker_count": parsed.workers,
            "is_migrant_worker": parsed.is_migrant_worker,
            "knew_of_infringement_on": knew,
            "employment_ended_on": parsed.employment_ended_on,
            "received_on": received_on,
            "limitation_expires_on": limitation["expires_on"],
            "opened_at": at,
            "updated_at": at,
            "attributes": attributes,
        }
        party_rows = intake_party_rows(parsed, today)
        claim_rows = [
            {"position": i, "kind": c.kind.value, "amount": c.amount}
            for i, c in enumerate(parsed.claims)
        ]
        parties = tuple(
            Party(**{k: v for k, v in row.items() if k != "position"}, id=pid)
            for row, pid in zip(party_rows, party_ids(r["kind"] for r in party_rows), strict=True)
        )
        # As the database gives them back (NUMERIC(14, 2)).
        claims = tuple(Claim(c.kind, c.amount.quantize(_CENT)) for c in parsed.claims)
        # One transaction: the case, parties, claims, the early-warning rules' queries (one for
        # the national rules), the alerts (if any), the events and their outbox entries (one
        # executemany each), the chain head, the ledger entry and, with a key, its record.
        with self._store.connect() as conn, self._store.writing(conn):
            case_id = self._store.insert_case(conn, values, party_rows, claim_rows)
            opened: dict[str, Any] = {
                "case_id": case_id,
                "seq": 1,
                "trigger": "open_case",
                "source": "",
                "dest": flow.initial,
                "actor_id": actor.id,
                "actor_role": actor.role.value,
                "at": at,
                "data": {
                    "serial": serial,
                    "received_on": received_on.isoformat(),
                    "intake_digest": intake_digest(parties, parsed.claims),
                },
                "warnings": [],
            }
            head = opened["hash"] = event_hash(None, opened)
            rows = [opened]
            facts = CaseFacts(
                id=case_id,
                region=parsed.region,
                state=flow.initial,
                worker_count=parsed.workers,
                is_migrant_worker=bool(parsed.is_migrant_worker),
                received_on=received_on,
                attributes=attributes,
                claim_kinds=tuple(c.kind.value for c in claims),
                employers=tuple(
                    Employer(p.name, (p.id_number or "").strip().upper() or None)
                    for p in parties
                    if p.kind is PartyKind.employer
                ),
            )
            for alert in self._new_alerts(
                conn, self.early_warning.evaluate_open(conn, facts, today), at
            ):
                row = alert.event_row(seq=len(rows) + 1, state=flow.initial, at=at)
                head = row["hash"] = event_hash(head, row)
                rows.append(row)
            self._store.insert_events(conn, rows)
            self._store.set_event_hash(conn, case_id, head, version=len(rows))
            record = CaseRecord(
                id=case_id,
                region=parsed.region,
                state=flow.initial,
                version=len(rows),
                flow_fingerprint=compiled.fingerprint,
                resolution=None,
                worker_count=parsed.workers,
                is_migrant_worker=parsed.is_migrant_worker,
                knew_of_infringement_on=knew,
                employment_ended_on=parsed.employment_ended_on,
                received_on=received_on,
                limitation_started_on=None,
                limitation_expires_on=limitation["expires_on"],
                opened_at=at,
                updated_at=at,
                attributes=attributes,
                event_hash=head,
                serial=serial,
            )
            # The ledger entry (mediation_flow.ledger): the state digest after the intake.
            ledger.append(conn, case_id, "open", state_digest(record, parties, claims, ()), at)
            if idempotent is not None:
                self._store.insert_idempotency(
                    conn,
                    {
                        "key": idempotent[0],
                        "case_id": case_id,
                        "request": idempotent[1],
                        "created_at": at,
                        "result": snapshot(record),
                    },
                )
        self._intake.put(case_id, head, (parties, claims))
        case = self._view(compiled, record, parties, claims)
        self._log.info(
            "case_opened",
            case_id=case_id,
            region=parsed.region,
            actor_id=actor.id,
            actor_role=actor.role.value,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        self._plugins.after_commit(case.region, case, self._event(opened), self._log)
        return case

    def _authorize_intake(self, actor: Actor, intake: Intake) -> None:
        if actor.role is Role.system:
            return
        reason = None
        if actor.region and not intake.region.startswith(actor.region):
            reason = f"region {intake.region} is outside the actor's scope {actor.region}"
        elif actor.role in (Role.worker, Role.employer) and not any(
            p.kind.value == actor.role.value and p.account == actor.id for p in intake.parties
        ):
            reason = f"a {actor.role.value} opens only their own case (a party with their account)"
        if reason is not None:
            raise PermissionDenied(
                actor.id, actor.role.value, "open a case in region", None, reason
            )

    def suggest_routes(self, intake: Intake | dict[str, Any]) -> list[Route]:
        """Suggested first steps for a dispute, each with a reason: the region's plugins'
        suggestions first, then the national default. The officer decides."""
        parsed = parse_intake(intake)
        routes = self._plugins.routes(parsed, parsed.region)
        # ENMP 8; Op-71: negotiation first, mediation always optional (LDMAL 5).
        routes.append(
            Route(
                "refer_to_negotiation",
                "协商优先：双方可先行协商和解；调解自愿，也可直接申请仲裁（劳动争议调解仲裁法第4、5条）",
            )
        )
        return routes

    def demo_scenarios(self, region: str) -> dict[str, Any]:
        """The demo scenarios of the plugins that serve ``region``."""
        return self._plugins.demo_scenarios(region)

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

    def _replay_idempotent(
        self,
        conn: Connection,
        key: str,
        request: str | None,
        case_id: int | None,
        actor: Actor,
        trigger: str | None,
        shown: str | None = None,
    ) -> Case | None:
        """The stored result of the command stored under ``key`` (None if there is none);
        ``case_id`` and ``trigger`` None: an intake, whose case the record names."""
        with self._store.reading(conn):
            return self._replayed(conn, key, request, case_id, actor, trigger, shown)

    def _replayed(
        self,
        conn: Connection,
        key: str,
        request: str | None,
        case_id: int | None,
        actor: Actor,
        trigger: str | None,
        shown: str | None = None,
    ) -> Case | None:
        """The result of the command stored under ``key``, if any (inside a transaction);
        ``shown``: the key as the caller gave it (``key`` is scoped to the actor)."""
        prior = self._store.idempotency(conn, key)
        if prior is None:
            return None
        if prior["request"] != request or (case_id is not None and prior["case_id"] != case_id):
            raise IdempotencyConflict(shown or key, prior["case_id"])
        case_id = int(prior["case_id"])
        case = self._load(conn, case_id)
        # A replay answers only an actor who may still see the case and fire the trigger.
        scope = self._scope(case, self._store.load_parties(conn, case_id))
        if self._read_refusal(actor, scope) is not None:
            raise CaseNotFound(case_id)
        reason = (
            None
            if trigger is None
            else self.policy.role_refusal(actor, trigger, self._flow_of(case).definition)
        )
        if reason is not None:
            raise PermissionDenied(
                actor.id, actor.role.value, f"fire {trigger!r} on", case_id, reason
            )
        snapshot = prior["result"]
        case.state, case.version = snapshot["state"], snapshot["version"]
        case.resolution, case.attributes = snapshot["resolution"], snapshot["attributes"]
        case.updated_at = datetime.fromisoformat(snapshot["updated_at"])
        expires = snapshot["limitation_expires_on"]
        case.limitation_expires_on = date.fromisoformat(expires) if expires else None
        return self._view(
            self._flow_of(case),
            case,
            self._store.load_parties(conn, case_id),
            self._store.load_claims(conn, case_id),
        )

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
