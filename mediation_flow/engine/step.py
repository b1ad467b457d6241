"""The write step every command shares: apply a decided transition to the case in memory
(effects, deadlines, the limitation period, the event row), then write it in the command's
transaction (the case number it opens, the hash chain, state + event + deadlines, the ledger
entry, the idempotency record, the plugins' in-transaction work) and log it after the commit.

A command (:mod:`.commands`) and an expiry (:mod:`.expiry`) both end here.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from mediation_flow import ledger
from mediation_flow.audit import event_hash
from mediation_flow.early_warning import Alert
from mediation_flow.engine.core import EngineCore
from mediation_flow.engine.rows import added_party_rows, number_row, snapshot
from mediation_flow.flow.context import Context
from mediation_flow.flow.data import to_json
from mediation_flow.flow.definition import TransitionDef
from mediation_flow.ledger import state_digest
from mediation_flow.models import CaseNumber, Event
from mediation_flow.records import CaseRecord
from mediation_flow.replay import apply_fired
from mediation_flow.storage.repository import WritePlan


class WriteStep(EngineCore):
    """The write step: a decided transition applied in memory, then written with its event,
    deadlines and ledger entry in the command's transaction."""

    def _apply(self, ctx: Context, tdef: TransitionDef, dest: str) -> dict[str, Any]:
        """Work out everything firing ``tdef`` changes; update ``ctx.case`` and
        ``ctx.deadlines`` in memory (:func:`mediation_flow.replay.apply_fired`, which the
        replay of a handed-over history runs too) and return the event row to write."""
        apply_fired(ctx, tdef, dest, self.calendar)
        return self._record(ctx, dest=dest, data=to_json(ctx.data))

    def _record(self, ctx: Context, *, dest: str, data: dict[str, Any]) -> dict[str, Any]:
        case = ctx.case
        source = case.state
        case.version += 1
        case.state = dest
        case.updated_at = ctx.at
        if ctx.expiring is not None:
            d = ctx.expiring
            data = {
                **data,
                "expired_deadline": {
                    "id": d.id,
                    "kind": d.kind,
                    "party": d.party,
                    "due": d.due.isoformat(),
                },
            }
        return {
            "case_id": case.id,
            "seq": case.version,
            "trigger": ctx.trigger,
            "source": source,
            "dest": dest,
            "actor_id": ctx.actor.id,
            "actor_role": ctx.actor.role.value,
            "at": ctx.at,
            "data": data,
            "warnings": list(ctx.warnings),
        }

    def _write(
        self,
        conn: Connection,
        ctx: Context,
        version: int,
        event_row: dict[str, Any],
        idempotent: dict[str, Any] | None = None,
        *,
        plan: WritePlan | None = None,
    ) -> Event:
        """Inside the write transaction: issue the case number the transition opens (if any),
        seal the event into the hash chain, write state + event + deadlines, the idempotency
        key, and run the plugins' in-transaction work.

        The write step of every command: a row more per command (a ledger entry, an outbox
        message) is one more prebuilt INSERT here, after ``save`` (and a list of rows in
        :class:`~mediation_flow.storage.repository.WritePlan` for tick's batches). With
        ``plan``, state + event + deadlines are added to it and written with the batch."""
        if (
            _decided_on_prediction(ctx)
            and self._store.locked_calendar_revision(conn) != self._calendar_revision
        ):
            # Decided on a prediction while a notice was registered: decide again on it. (The
            # shared lock keeps a registration from coming between this check and the commit.)
            self._sync_calendar(conn)
            raise CalendarChanged
        self._issue_number(conn, ctx, version, event_row)
        self._seal(ctx.case, event_row)
        event = self._event(event_row)
        # The ledger entry (mediation_flow.ledger): the state digest after the write, written
        # with the case's update.
        parties = (*ctx.parties, *ctx.added_parties)
        digest = state_digest(ctx.case, parties, ctx.claims, ctx.deadlines)
        entry = ledger.entry(ctx.case.id, "command", digest, ctx.at)
        if plan is None:
            self._store.save(conn, ctx.case, version, event_row, ctx.deadlines, entry)
        else:
            plan.add(ctx.case, version, event_row, ctx.deadlines, entry)
        if ctx.added_parties:  # add_party (AR 46)
            self._store.append_parties(
                conn, ctx.case.id, added_party_rows(len(ctx.parties), ctx.added_parties)
            )
        if idempotent is not None:
            self._store.insert_idempotency(
                conn, {**idempotent, "created_at": ctx.at, "result": snapshot(ctx.case)}
            )
        self._plugins.in_transaction(ctx.case.region, ctx, event, conn)
        return event

    def _issue_number(
        self, conn: Connection, ctx: Context, version: int, event_row: dict[str, Any]
    ) -> None:
        """Issue the case number of the organisation whose file this transition opens: the
        (prefix, year) counter is incremented in this transaction, so a command that fails
        gives its number back. The case row is locked first (every writer locks the case
        before the counter: no deadlock)."""
        case = ctx.case
        rule = self._numbering_for(case.region).rule_for(event_row["trigger"])
        if rule is None:
            return
        org = ctx.data.get("org_id")
        prefix = rule.prefix_for(case.region, org if isinstance(org, str) else None)
        issued = list(case.attributes.get("case_numbers", ()))
        if any(n.get("key") == rule.key and n.get("prefix") == prefix for n in issued):
            return  # a case keeps the number it was given
        year = ctx.today.year
        self._store.lock_version(conn, case.id, version)
        seq = self._store.next_number(conn, prefix, year)
        number = CaseNumber(
            key=rule.key,
            label=rule.label,
            number=rule.format(prefix, year, seq),
            prefix=prefix,
            year=year,
            seq=seq,
            issued_on=ctx.today,
            event_seq=event_row["seq"],
        )
        self._store.insert_case_number(conn, number_row(case.id, number, ctx.at), version)
        case.attributes = {**case.attributes, "case_numbers": [*issued, number.to_json()]}
        event_row["data"] = {**event_row["data"], "case_number": number.to_json()}

    @staticmethod
    def _seal(case: CaseRecord, event_row: dict[str, Any]) -> None:
        """Link the event into the case's hash chain (hashed with the case's chain id: its id
        where it was opened, :mod:`mediation_flow.handoff`)."""
        content = {**event_row, "case_id": case.chain_id}
        event_row["hash"] = case.event_hash = event_hash(case.event_hash, content)

    def _log_transition(self, ctx: Context, row: dict[str, Any], started: float) -> None:
        self._log.info(
            "transition",
            case_id=row["case_id"],
            trigger=row["trigger"],
            source=row["source"],
            dest=row["dest"],
            seq=row["seq"],
            actor_id=row["actor_id"],
            actor_role=row["actor_role"],
            warnings=row["warnings"] or None,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    def _new_alerts(self, conn: Connection, alerts: list[Alert], at: datetime) -> list[Alert]:
        """Store ``alerts`` in mf_alert (one statement), skipping keys stored already; return
        the new ones."""
        rows = [
            {
                "key": alert.key,
                "rule": alert.rule,
                "level": alert.level.value,
                "reason": alert.reason,
                "case_id": alert.case_id,
                "region": alert.region,
                "data": to_json(dict(alert.data)),
                "raised_at": at,
            }
            for alert in alerts
        ]
        stored = self._store.insert_alerts(conn, rows)
        return [alert for alert in alerts if alert.key in stored]


class CalendarChanged(Exception):
    """A notice was registered while the command was deciding on a prediction (internal)."""


def _decided_on_prediction(ctx: Context) -> bool:
    """Whether the command computed a date on a predicted schedule."""
    return any(d.dirty and d.provisional for d in ctx.deadlines)
