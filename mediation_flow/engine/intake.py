"""One-stop intake: ``open_case`` registers a dispute in one transaction (the case, its parties
and claims, the opening event, the early-warning rules run at intake and their alerts, the
ledger entry, an idempotency record), and ``suggest_routes`` proposes its first step.
"""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from mediation_flow import ledger
from mediation_flow.audit import event_hash, intake_digest
from mediation_flow.calendar_config import calendar_error
from mediation_flow.duedates import limitation_expiry
from mediation_flow.early_warning import CaseFacts, Employer
from mediation_flow.engine.rows import intake_party_rows, snapshot
from mediation_flow.engine.step import WriteStep
from mediation_flow.errors import (
    CalendarNotAvailable,
    InvalidIntake,
    MediationFlowError,
    PermissionDenied,
)
from mediation_flow.flow.data import to_json
from mediation_flow.idempotency import check_key, intake_request, scoped_key
from mediation_flow.inputs import check_actor, nul_path
from mediation_flow.ledger import state_digest
from mediation_flow.models import (
    Actor,
    Case,
    Claim,
    Intake,
    Party,
    PartyKind,
    Role,
    parse_intake,
    party_ids,
)
from mediation_flow.numbering import new_serial
from mediation_flow.plugins import Route
from mediation_flow.records import CaseRecord
from mediation_flow.storage.repository import DuplicateKey

_CENT = Decimal("0.01")


class OneStopIntake(WriteStep):
    """``open_case``, its authorisation and checks; the routes suggested for an intake."""

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
            # The chain head, and the ledger entry (mediation_flow.ledger): the state digest
            # after the intake.
            entry = ledger.entry(case_id, "open", state_digest(record, parties, claims, ()), at)
            self._store.set_event_hash(conn, case_id, head, version=len(rows), entry=entry)
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
