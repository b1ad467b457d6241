"""Expiry: ``tick`` applies every deadline whose day has ended (its expiry trigger or its
expiry event), in batches of claimed deadlines per transaction, exactly once across workers; the
early-warning rules that run on the whole database; and the catch-up a command runs for the
expiries of its own case that no tick has applied yet.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from mediation_flow.early_warning import Alert, Level, Rule
from mediation_flow.engine.holidays import HolidayCalendar
from mediation_flow.engine.step import CalendarChanged, WriteStep
from mediation_flow.errors import ConcurrentUpdate, GuardFailed, InvalidData
from mediation_flow.flow.context import Context
from mediation_flow.models import SYSTEM, DeadlineStatus, Event
from mediation_flow.records import CaseRecord, DeadlineRecord
from mediation_flow.redating import calendar_warnings
from mediation_flow.storage.repository import WritePlan


class Expiry(WriteStep, HolidayCalendar):
    """``tick`` and the expiries a command catches up on; the database-wide early warning."""

    def tick(
        self, at: datetime | None = None, *, limit: int | None = None, batch: int = 100
    ) -> list[Event]:
        """Apply every expiry due before ``at``; return the new events.

        Each deadline whose due day ended before ``at`` fires its expiry trigger (as the
        ``system`` actor) or records its expiry event. Expiries are claimed, decided and written
        in batches of at most ``batch`` per transaction: on PostgreSQL the deadline rows and
        their cases' rows are claimed with ``FOR UPDATE SKIP LOCKED``, so any number of workers
        may tick at once, each expiry happens exactly once, and a case a command is writing is
        left to the next tick; a worker killed mid-batch loses nothing (its open transaction
        rolls back and another worker claims the deadlines). On SQLite, writers take turns
        (``BEGIN IMMEDIATE``). When an expiry of a batch fails, the batch is rolled back and its
        expiries are applied one per transaction, so that the others still happen. Running
        ``tick`` twice fires nothing twice. ``limit`` caps the expiries of one call.
        """
        at = self._at(at, "tick")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise InvalidData("tick", "batch", f"must be a positive whole number, not {batch!r}")
        today = self._day(at)
        produced: list[Event] = []
        if self._sync_calendar():
            # A notice was registered by another engine: its deadlines were re-dated then, but
            # one written since on the old calendar is settled here before anything expires.
            produced.extend(self._redate(at, SYSTEM, "calendar changed"))
        self._tick_alerts(today, at)
        after: tuple[date, int] | None = None
        while limit is None or len(produced) < limit:
            size = batch if limit is None else min(batch, limit - len(produced))
            try:
                claimed = self._expire_batch(today, at, after, size)
            except Exception:
                # Rolled back whole: apply this batch's expiries one per transaction; the one
                # that fails raises (or, for a conflict, is retried) as it would on its own.
                done = self._tick_one_by_one(today, at, after, size, produced)
                if done is None:
                    return produced
                after = done
                continue
            if claimed is None:
                return produced
            after, events = claimed
            produced.extend(events)
        return produced

    def _tick_one_by_one(
        self,
        today: date,
        at: datetime,
        after: tuple[date, int] | None,
        count: int,
        produced: list[Event],
    ) -> tuple[date, int] | None:
        """Up to ``count`` expiries after the key ``after``, one per transaction; the key of
        the last, or None when no deadline is due any more."""
        conflicts: dict[int, int] = {}
        claimed_keys = 0
        while claimed_keys < count:
            try:
                claimed = self._expire_next(today, at, after)
            except CalendarChanged:
                continue  # a notice was registered meanwhile: decide again on it
            except ConcurrentUpdate as exc:
                # A command changed the case while this expiry was being decided: decide again
                # on the new state, at most three times, then leave it to the next tick.
                key = getattr(exc, "deadline_key", None)
                self._log.info("concurrent_update", trigger="tick", deadline=key and key[1])
                slot = key[1] if key is not None else 0
                conflicts[slot] = conflicts.get(slot, 0) + 1
                if conflicts[slot] >= 3:
                    if key is None:
                        return None  # the claim itself keeps failing: the next tick
                    after = key
                    claimed_keys += 1
                continue
            if claimed is None:
                return None
            after, event = claimed
            claimed_keys += 1
            if event is not None:
                produced.append(event)
        return after

    def _expire_batch(
        self, today: date, at: datetime, after: tuple[date, int] | None, size: int
    ) -> tuple[tuple[date, int], list[Event]] | None:
        """Claim up to ``size`` due deadlines after the key ``after`` and apply their expiries,
        in one transaction. Returns the last deadline's key and the events, or None when no
        deadline is due."""
        started = time.perf_counter()
        done: list[tuple[Context, dict[str, Any], Event]] = []
        # Plugins that work inside the transaction see each expiry written before the next;
        # without them, the batch's rows are written together (one executemany per statement).
        plan = None if self._plugins.pm.hook.in_transaction.get_hookimpls() else WritePlan()
        with self._store.connect() as conn, self._store.writing(conn):
            claims = self._store.claim_due_batch(conn, today, after, size)
            if not claims:
                return None
            loaded = self._store.load_commands(conn, sorted({c for _, c, _ in claims}))
            for deadline_id, case_id, _ in claims:
                prepared = self._prepare_expiry(
                    conn, deadline_id, case_id, today, at, loaded=loaded.get(case_id)
                )
                if prepared is not None:
                    ctx, version, event_row = prepared
                    event = self._write(conn, ctx, version, event_row, plan=plan)
                    done.append((ctx, event_row, event))
            if plan is not None:
                self._store.save_plan(conn, plan)
        plugins = bool(self._plugins.pm.get_plugins())
        for ctx, event_row, event in done:
            self._log_transition(ctx, event_row, started)
            if plugins:
                case = self._read_case(ctx.case.id)
                self._plugins.after_commit(ctx.case.region, case, event, self._log)
        last_id, _, last_due = claims[-1]
        return (last_due, last_id), [event for _, _, event in done]

    def _expire_next(
        self, today: date, at: datetime, after: tuple[date, int] | None
    ) -> tuple[tuple[date, int], Event | None] | None:
        """Claim the next due deadline after the key ``after`` and apply its expiry, in one
        transaction. Returns the deadline's key and the event (None if nothing was due to
        happen), or None when no deadline is due."""
        started = time.perf_counter()
        key: tuple[date, int] | None = None
        try:
            with self._store.connect() as conn, self._store.writing(conn):
                claim = self._store.claim_due(conn, today, after)
                if claim is None:
                    return None
                deadline_id, case_id, due = claim
                key = (due, deadline_id)
                prepared = self._prepare_expiry(conn, deadline_id, case_id, today, at)
                if prepared is None:
                    return key, None
                ctx, version, event_row = prepared
                event = self._write(conn, ctx, version, event_row)
        except ConcurrentUpdate as exc:
            # Also a PostgreSQL lock conflict (NOWAIT), translated when the transaction ends:
            # the key lets tick count the attempts and move on.
            exc.deadline_key = key  # type: ignore[attr-defined]
            raise
        self._log_transition(ctx, event_row, started)
        if self._plugins.pm.get_plugins():
            self._plugins.after_commit(ctx.case.region, self._read_case(case_id), event, self._log)
        return key, event

    def _prepare_expiry(
        self,
        conn: Connection,
        deadline_id: int,
        case_id: int,
        today: date,
        at: datetime,
        *,
        loaded: tuple[CaseRecord, list[DeadlineRecord]] | None = None,
    ) -> tuple[Context, int, dict[str, Any]] | None:
        """Decide the expiry of a deadline. ``loaded``: the case and its deadlines, read (and
        on PostgreSQL locked) with the batch's claim, as earlier expiries of the batch left
        them in memory."""
        if loaded is None:
            self._store.lock_case(conn, case_id)
            loaded = self._store.load_command(conn, case_id)
        if loaded is None or loaded[0].held_by is not None:
            return None  # a case handed over: its clocks run where it is now
        case, deadlines = loaded
        expiring = next((d for d in deadlines if d.id == deadline_id), None)
        if expiring is None or expiring.status != DeadlineStatus.pending:
            return None  # already handled: tick is idempotent
        flow = self._flow_of(case)
        at = max(at, case.updated_at)  # the history stays in order
        # A provisional deadline expires on its conservative due date: never before the latest
        # date a notice could give for a party's window, never after the earliest for an
        # official's limit (duedates.Due; docs/deadlines.md).
        kind = flow.definition.deadline_map[expiring.kind]
        expiring.set_status(DeadlineStatus.expired)
        version = case.version
        # When windows that jointly decide a transition (each party's suit window, say) have
        # all run out before this tick, the transition belongs to the last of them: it takes
        # effect on the day after the latest due day (flow.md §3-§4).
        kinds = flow.definition.deadline_map
        later = [
            d
            for d in deadlines
            if d is not expiring
            and d.status == DeadlineStatus.pending
            and expiring.due < d.due < today
            and set(kinds[d.kind].expiry) & set(kind.expiry)
        ]
        # The joint transition is left to the later window; this one only records its expiry.
        for trigger in () if later else kind.expiry:
            if trigger not in flow.legal_triggers(case.state):
                continue
            ctx = self._context(
                conn,
                flow,
                case,
                trigger,
                dict(kind.expiry_data),
                SYSTEM,
                at,
                deadlines=deadlines,
                expiring=expiring,
            )
            try:
                tdef, dest = flow.fire(ctx)
                self._veto(ctx, tdef)
            except GuardFailed:
                continue  # e.g. the other party's window still runs
            return ctx, version, self._apply(ctx, tdef, dest)
        ctx = self._context(
            conn,
            flow,
            case,
            kind.expiry_event,
            {},
            SYSTEM,
            at,
            deadlines=deadlines,
            expiring=expiring,
            parse=False,
        )
        return ctx, version, self._record(ctx, dest=case.state, data={})

    def _catch_up(self, case_id: int, at: datetime, deadline_ids: list[int]) -> None:
        """Apply the expiries of the case's deadlines whose day ended before ``at`` (each in
        its own transaction, in due order, as :meth:`tick` does), so that a command never
        closes a deadline that ran out without its expiry in the history."""
        today = self._day(at)
        for deadline_id in deadline_ids:
            for attempt in range(3):
                started = time.perf_counter()
                try:
                    with self._store.connect() as conn, self._store.writing(conn):
                        prepared = self._prepare_expiry(conn, deadline_id, case_id, today, at)
                        if prepared is None:
                            break
                        ctx, version, event_row = prepared
                        event = self._write(conn, ctx, version, event_row)
                except (ConcurrentUpdate, CalendarChanged):
                    # A tick applied it meanwhile, or a notice was registered: decide again.
                    if attempt == 2:
                        raise  # a tick is applying it: the caller retries the command
                    time.sleep(0.02 * (attempt + 1))
                    continue
                self._log_transition(ctx, event_row, started)
                if self._plugins.pm.get_plugins():
                    self._plugins.after_commit(
                        ctx.case.region, self._read_case(case_id), event, self._log
                    )
                break

    def _tick_alerts(self, today: date, at: datetime) -> list[Alert]:
        """Evaluate the early-warning rules on the database; store the alerts not stored yet
        (mf_alert, unique key). Returns the new ones."""
        alerts = self._calendar_alerts(today)
        if not len(self.early_warning) and not alerts:
            return []
        with self._store.connect() as conn:
            with self._store.reading(conn):
                if len(self.early_warning):
                    alerts += self.early_warning.evaluate_tick(conn, today)
                if not alerts:
                    return []
                known = self._store.alert_keys(conn, [a.key for a in alerts])
            fresh = [a for a in alerts if a.key not in known]
            if not fresh:
                return []
            with self._store.writing(conn):
                stored = self._new_alerts(conn, fresh, at)
        for alert in stored:
            self._log.warning(
                "early_warning",
                rule=alert.rule,
                level=alert.level.value,
                key=alert.key,
                region=alert.region,
                case_id=alert.case_id,
            )
        return stored

    def _calendar_alerts(self, today: date) -> list[Alert]:
        """A region-independent alert, once per year, when the next year's holiday notice is
        still unregistered from 1 November (mediation_flow.redating.calendar_warnings)."""
        return [
            Alert(
                rule="calendar_predicted",
                level=Level.warning,
                reason=warning,
                key=f"calendar_predicted:{today.year}:{n}",
                data={"year": today.year + n},
            )
            for n, warning in calendar_warnings(self.calendar, today)
        ]

    def _early_warning_failed(self, rule: Rule, exc: Exception) -> None:
        self._log.error("early_warning_failed", rule=rule.id, error=f"{type(exc).__name__}: {exc}")
