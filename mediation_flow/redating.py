"""Re-dating: when a year's official holiday schedule arrives, every open provisional deadline
is computed again on it, in one pass.

A deadline is provisional when its due date was computed on a predicted schedule
(:mod:`mediation_flow.holiday_schedule`). When the State Council's notice for that year is
registered (:meth:`mediation_flow.Engine.register_holiday_schedule`), or a package upgrade brings
it (found at engine start or by ``mediation-flow calendar settle``), the pass

1. takes the re-dating lock (one pass at a time in the whole database);
2. reads the open provisional deadlines in id order, in bounded batches, with the case fields it
   needs (the case rows locked on PostgreSQL);
3. recomputes each from its start and length (:func:`mediation_flow.duedates.settle`);
4. writes, per batch, the changed deadlines, one ``deadline_redated`` event per affected case
   (sealed into the case's hash chain) and the cases' new heads, each as one executemany.

**A date is never moved into the past.** If the official due date is earlier than the day of the
re-dating, a command may already have relied on the provisional date (a party that filed on
the last provisional day, say). The deadline then keeps its provisional date as its due date,
the event marks the entry ``"held": true`` with the official date, and the pass returns it so
that the operator sees it (``mediation-flow calendar import`` prints it). Nothing is lost; an
official decides what follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from mediation_flow import ledger
from mediation_flow.audit import event_hash
from mediation_flow.calendar import Calendar
from mediation_flow.duedates import Holder, settle
from mediation_flow.errors import CalendarNotAvailable
from mediation_flow.holiday_schedule import Basis
from mediation_flow.models import Actor
from mediation_flow.records import DeadlineRecord
from mediation_flow.storage.repository import Store

__all__ = ["REDATED", "CalendarStatus", "RedatePass", "YearStatus", "calendar_status", "redate"]

#: The trigger of the event a re-dating records on a case (no transition: the state stays).
REDATED = "deadline_redated"
_BATCH = 5000


@dataclass
class RedatePass:
    """What one pass did: the event rows written (oldest case first) and the entries that were
    held because the official date had already passed."""

    events: list[dict[str, Any]]
    held: list[dict[str, Any]]
    examined: int = 0


def redate(
    store: Store,
    conn: Connection,
    calendar: Calendar,
    holder_of: Callable[[str, str], Holder],
    *,
    at: datetime,
    today: date,
    actor: Actor,
    reason: str,
    registered: bool = False,
) -> RedatePass:
    """Re-date every open provisional deadline on ``calendar`` inside the caller's write
    transaction (see the module docstring); with ``registered`` also the deadlines computed on a
    registered notice (one was replaced). ``holder_of(flow_fingerprint, kind)`` says whose
    period a deadline is; ``reason`` goes into each event (the notice's source)."""
    store.lock_calendar(conn)
    done = RedatePass([], [])
    after = 0
    while True:
        batch = store.provisional_batch(conn, after, _BATCH, registered=registered)
        if not batch:
            return done
        after = batch[-1][0].id or after
        done.examined += len(batch)
        changed: list[DeadlineRecord] = []
        entries: dict[int, list[dict[str, Any]]] = {}
        cases: dict[int, dict[str, Any]] = {}
        for d, case in batch:
            if case["held_by"] is not None:
                continue  # handed over: its clocks run where the case is now
            old_due, old_estimate = d.due, d.estimate
            holder = holder_of(case["flow_fingerprint"], d.kind)
            if not settle(calendar, d, case["region"], holder, force=registered):
                continue
            entry: dict[str, Any] = {
                "id": d.id,
                "kind": d.kind,
                "party": d.party,
                "old_due": old_due.isoformat(),
                "old_estimate": (old_estimate or old_due).isoformat(),
                "new_due": d.due.isoformat(),
                "provisional": d.provisional,
                "basis": d.basis,
            }
            if d.due < old_due and d.due < today:
                # The official date has passed: keep the date that was relied on, report it.
                entry.update(held=True, official_due=d.due.isoformat(), new_due=old_due.isoformat())
                d.due = old_due
                done.held.append({"case_id": d.case_id, **entry})
            changed.append(d)
            entries.setdefault(d.case_id, []).append(entry)
            cases[d.case_id] = case
        heads, rows = [], []
        for case_id, items in entries.items():
            case = cases[case_id]
            when = max(at, case["updated_at"])
            row: dict[str, Any] = {
                "case_id": case_id,
                "seq": case["version"] + 1,
                "trigger": REDATED,
                "source": case["state"],
                "dest": case["state"],
                "actor_id": actor.id,
                "actor_role": actor.role.value,
                "at": when,
                "data": {"reason": reason, "deadlines": items},
                "warnings": [],
            }
            row["hash"] = event_hash(case["event_hash"], {**row, "case_id": case["chain_id"]})
            heads.append(
                {
                    "b_id": case_id,
                    "b_version": case["version"],
                    "version": case["version"] + 1,
                    "event_hash": row["hash"],
                    "updated_at": when,
                }
            )
            rows.append(row)
        store.save_redated(conn, changed, heads, rows)
        for row in rows:
            # Every write that matters has its ledger entry (mediation_flow.ledger): the case's
            # stored state after the re-dating.
            digest = ledger.stored_digest(conn, row["case_id"])
            assert digest is not None
            ledger.append(conn, row["case_id"], "redate", digest, row["at"])
        done.events.extend(rows)


@dataclass(frozen=True)
class YearStatus:
    """Where one year's schedule comes from."""

    year: int
    basis: Basis
    source: str


@dataclass(frozen=True)
class CalendarStatus:
    """The calendar as an operator needs to see it (``mediation-flow calendar status``)."""

    today: date
    years: tuple[YearStatus, ...]
    #: Open deadlines whose due date is provisional.
    provisional_deadlines: int
    #: What the operator should do now (empty: nothing).
    warnings: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "years": [
                {"year": y.year, "basis": y.basis.value, "source": y.source} for y in self.years
            ],
            "provisional_deadlines": self.provisional_deadlines,
            "warnings": list(self.warnings),
        }


def calendar_warnings(calendar: Calendar, today: date) -> list[tuple[int, str]]:
    """What the operator must do about the calendar on ``today``: for the current year if it is
    predicted (``0``), and from 1 November for the next year if it is predicted (``1``); each
    with a zh-CN and English sentence."""
    out = []
    for offset, due in ((0, True), (1, today.month >= 11)):
        year = today.year + offset
        try:
            predicted = calendar.basis(year) is Basis.predicted
        except CalendarNotAvailable:
            predicted = True
        if due and predicted:
            out.append(
                (
                    offset,
                    f"{year}年节假日安排尚未登记，{year}年的期限为预测日期（provisional）；"
                    f"国务院办公厅通知发布后请用 mediation-flow calendar import 登记。"
                    f"The {year} holiday notice is not registered: due dates in {year} are "
                    f"provisional; register it with `mediation-flow calendar import`.",
                )
            )
    return out


def calendar_status(
    store: Store, conn: Connection, calendar: Calendar, today: date
) -> CalendarStatus:
    years = []
    for year in range(today.year - 1, today.year + 3):
        try:
            schedule = calendar.schedule(year)
        except CalendarNotAvailable:
            continue
        years.append(YearStatus(year, schedule.basis, schedule.source))
    return CalendarStatus(
        today=today,
        years=tuple(years),
        provisional_deadlines=store.count_provisional(conn),
        warnings=tuple(w for _, w in calendar_warnings(calendar, today)),
    )
