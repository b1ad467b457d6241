"""Which deadlines a transition starts, meets, cancels, pauses or moves, and their due dates.

The rules are data (``DeadlineOp`` in the flow definition); this module applies them to the
deadlines of one case when a trigger fires. Order (see :mod:`mediation_flow.flow.national`):

1. the transition's own ops (``meet``, ``cancel``, ``extend``, ``pause``, ``resume``,
   ``restart``, ``start``);
2. for a transition that changes state, every still-open deadline that is not alive in the new
   state closes: ``expired`` if its due day has already passed, else ``cancelled``;
3. the new state's ``on_enter`` ops;
4. deadlines placed relative to another (``DeadlineOp(before=...)``) are placed again from the
   deadline they precede, which may have moved (extended, paused, resumed, started again).

Due dates come from :mod:`mediation_flow.duedates`. Extensions and suspended days lengthen the
period and the due date is recomputed from the original start, so the rest-day roll-over applies
once, to the new last day (flow.md §4 "Counting").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from mediation_flow.duedates import compute_due
from mediation_flow.errors import CalendarNotAvailable
from mediation_flow.flow import guards as _guards
from mediation_flow.flow.context import Context
from mediation_flow.flow.definition import DeadlineKind, DeadlineOp, TransitionDef, Unit
from mediation_flow.models import DeadlineStatus, party_kind_of
from mediation_flow.records import DeadlineRecord

__all__ = ["apply_transition", "place"]

_ONE_DAY = timedelta(days=1)


def apply_transition(ctx: Context, tdef: TransitionDef, dest: str) -> None:
    """Apply the deadline rules of firing ``tdef`` into ``dest`` to ``ctx.deadlines``.

    Changed and new records are marked ``dirty``; the repository writes them in the same
    transaction as the state change.
    """
    for op in tdef.deadlines:
        _apply(ctx, op)
    if tdef.dest is not None:
        for d in ctx.deadlines:
            if d.is_open and dest not in ctx.flow.deadline_map[d.kind].alive_in:
                _close(ctx, d)
        for op in ctx.flow.state(dest).on_enter:
            _apply(ctx, op)
    if ctx.flow.relative_kinds:
        _place_relative(ctx)


def _place_relative(ctx: Context) -> None:
    """Follow each open relative deadline to the deadline it precedes: paused with it, resumed
    with it, and due ``length`` days before its (new) due day."""
    for d in ctx.deadlines:
        op = ctx.flow.relative_kinds.get(d.kind)
        if op is None or not d.is_open or op.before is None:
            continue
        anchors = ctx.open_deadlines(op.before)
        if not anchors:
            continue  # the other deadline closed: this one closes by its own ops or states
        anchor = max(anchors, key=lambda a: a.due)
        if anchor.status == DeadlineStatus.paused and d.status == DeadlineStatus.pending:
            d.status, d.paused_on, d.dirty = DeadlineStatus.paused, ctx.today, True
        elif anchor.status == DeadlineStatus.pending and d.status == DeadlineStatus.paused:
            d.status, d.paused_on, d.dirty = DeadlineStatus.pending, None, True
        due, provisional = _before(ctx, anchor.due, op)
        if due < d.due and due <= ctx.event_day:
            continue  # never pulled back into the past
        if (due, provisional) != (d.due, d.provisional):
            d.due, d.provisional, d.dirty = due, provisional, True


def _before(ctx: Context, anchor_due: date, op: DeadlineOp) -> tuple[date, bool]:
    """The day ``op.length`` working (or calendar) days before ``anchor_due``."""
    length = op.length or 0
    if op.unit == "cd":
        return anchor_due - timedelta(days=length), False
    day, left = anchor_due, length
    while left:
        day -= _ONE_DAY
        try:
            working = ctx.calendar.is_working_day(day, region=ctx.case.region)
        except CalendarNotAvailable:  # before 2004 or after 2100
            return anchor_due - timedelta(days=length), True
        if working:
            left -= 1
    # Counted on a predicted year: provisional (a reminder, placed again when its anchor moves).
    return day, ctx.calendar.depends_on_prediction(day, anchor_due)


def _start_relative(ctx: Context, kind: DeadlineKind, op: DeadlineOp) -> None:
    assert op.before is not None
    anchors = ctx.open_deadlines(op.before)
    if not anchors:
        return  # nothing to be placed before
    anchor_due = max(a.due for a in anchors)
    given = ctx.data.get(op.start) if op.start != "event" else None
    starts = given if isinstance(given, date) else ctx.event_day
    due, provisional = _before(ctx, anchor_due, op)
    # A day already behind the act: due the next day, if that is still before the other ends.
    due = max(due, ctx.event_day + _ONE_DAY)
    if due >= anchor_due:
        return
    for old in ctx.open_deadlines(kind.id):
        old.set_status(DeadlineStatus.cancelled)
    ctx.deadlines.append(
        DeadlineRecord(
            id=None,
            case_id=ctx.case.id,
            kind=kind.id,
            party=None,
            status=DeadlineStatus.pending,
            starts_on=starts,
            unit=op.unit or kind.unit.value,
            length=None,
            due=due,
            provisional=provisional,
            dirty=True,
        )
    )


def _apply(ctx: Context, op: DeadlineOp) -> None:
    if op.when and not _guards.condition(op.when, ctx):
        return
    kind = ctx.flow.deadline_map[op.kind]
    if op.op == "start" and op.before is not None:
        _start_relative(ctx, kind, op)
    elif op.op == "start":
        _start(ctx, kind, op)
    elif op.op == "restart":
        for d in ctx.open_deadlines(kind.id):
            _close(ctx, d)
        _start(ctx, kind, op)
    elif op.op == "meet":
        # The act met the deadline if it came by the due day; a late act finds it expired
        # (a paused clock cannot run out).
        by = ctx.by
        acting = by is not None and ctx.by_kind in ("worker", "employer")
        party = ctx.person(by) if kind.per_party and by is not None and acting else None
        for d in ctx.open_deadlines(kind.id, party):
            # CPL 85 ¶4: a filing posted in time is in time.
            late = d.status == DeadlineStatus.pending and d.due < ctx.act_day
            d.set_status(DeadlineStatus.expired if late else DeadlineStatus.met)
    elif op.op == "cancel":
        for d in ctx.open_deadlines(kind.id):
            _close(ctx, d)
    elif op.op == "extend":
        days = int(ctx.data.get("days", kind.max_extension))
        for d in ctx.open_deadlines(kind.id):
            d.extended += days
            _lengthen(ctx, d, days)
    elif op.op == "pause":
        for d in ctx.open_deadlines(kind.id):
            if d.status == DeadlineStatus.pending and d.due < ctx.today:
                d.set_status(DeadlineStatus.expired)  # it ran out before the clock stopped
            elif d.status == DeadlineStatus.pending:
                d.status = DeadlineStatus.paused
                d.paused_on = ctx.today
                d.dirty = True
    elif op.op == "resume":
        for d in ctx.open_deadlines(kind.id):
            if d.status == DeadlineStatus.paused and d.paused_on is not None:
                # AR 46(6), 47: the days of suspension are not counted.
                suspended = (ctx.today - d.paused_on).days
                d.status = DeadlineStatus.pending
                d.paused_on = None
                _lengthen(ctx, d, suspended)
    else:  # pragma: no cover - DeadlineOp.op is a Literal
        raise ValueError(f"unknown deadline op {op.op!r}")


def _close(ctx: Context, d: DeadlineRecord) -> None:
    """Close an open deadline the case no longer waits for: ``expired`` if its day passed before
    the case moved on (even if no tick has run since), else ``cancelled``. A paused deadline's
    clock stood still, so it cannot have expired."""
    ran_out = d.status == DeadlineStatus.pending and d.due < ctx.today
    d.set_status(DeadlineStatus.expired if ran_out else DeadlineStatus.cancelled)


def _lengthen(ctx: Context, d: DeadlineRecord, days: int) -> None:
    if d.length is None:
        return
    d.length += days
    place(ctx, d)


def place(ctx: Context, d: DeadlineRecord) -> None:
    """(Re)compute a deadline's due date from its start and length, on the case's calendar."""
    assert d.length is not None
    holder = ctx.flow.deadline_map[d.kind].holder
    due = compute_due(ctx.calendar, d.unit, d.starts_on, d.length, ctx.case.region, holder)
    d.due, d.provisional, d.estimate, d.basis = (
        due.due,
        due.provisional,
        due.estimate if due.provisional else None,
        due.basis.value,
    )
    d.dirty = True


def _start(ctx: Context, kind: DeadlineKind, op: DeadlineOp) -> None:
    for party, starts_on in _start_dates(ctx, kind, op):
        for old in ctx.open_deadlines(kind.id, party):
            old.set_status(DeadlineStatus.cancelled)  # started again: the newer date counts
        record = DeadlineRecord(
            id=None,
            case_id=ctx.case.id,
            kind=kind.id,
            party=party,
            status=DeadlineStatus.pending,
            starts_on=starts_on,
            unit=kind.unit.value,
            length=None,
            due=starts_on,
            dirty=True,
        )
        if kind.unit == Unit.agreed_date:
            record.starts_on = ctx.today  # the agreed date is the due date
        else:
            record.length = op.length or kind.length
            place(ctx, record)
        ctx.deadlines.append(record)


def start_value(ctx: Context, start: str) -> date | None:
    """The date a deadline counts from: the first of the ``|``-separated sources that is given.
    A source is a date field of the trigger's data, or ``case:<attribute>`` for a date the case
    recorded earlier (a final award's date for its enforcement window, LDMAL 47). A source may
    end in an offset of working days, ``hearing_on-3wd`` (AR 38: 3 working days before the
    hearing) or ``posted_on+3wd`` (AR 20 ¶2: deemed served 3 working days after posting)."""
    for source in start.split("|"):
        name, offset = _offset(source)
        if name.startswith("case:"):
            raw = ctx.case.attributes.get(name.removeprefix("case:"))
            value = date.fromisoformat(raw) if isinstance(raw, str) else None
        else:
            value = ctx.data.get(name)
        if isinstance(value, date):
            return shift_working_days(ctx, value, offset)
    return None


_OFFSET = re.compile(r"^(.+?)([+-]\d+)wd$")


def _offset(source: str) -> tuple[str, int]:
    match = _OFFSET.match(source)
    return (match.group(1), int(match.group(2))) if match else (source, 0)


def shift_working_days(ctx: Context, day: date, n: int) -> date:
    """``day`` moved by ``n`` working days (AR 80): forward for n > 0, backward for n < 0."""
    if n >= 0:
        return ctx.calendar.add_working_days(day, n, region=ctx.case.region) if n else day
    left = -n
    while left:
        day -= timedelta(days=1)
        if ctx.calendar.is_working_day(day, region=ctx.case.region):
            left -= 1
    return day


def _start_dates(
    ctx: Context, kind: DeadlineKind, op: DeadlineOp
) -> Iterable[tuple[str | None, date]]:
    if kind.per_party:
        # Per person (LDI-1 17): each key is a party id, or a kind when the case has one party
        # of that kind; windows open for the parties of the op's kinds, workers first.
        name, offset = _offset(op.start)
        dates: dict[str, date] = ctx.data.get(name) or {}
        keyed = [
            (party_kind_of(key), key, shift_working_days(ctx, day, offset))
            for key, day in dates.items()
        ]
        return [
            (ctx.person(key, op.start), day)
            for k in op.parties
            for kind_of, key, day in keyed
            if kind_of == k
        ]
    if op.start == "event":
        return [(None, ctx.event_day)]
    value: Any = start_value(ctx, op.start)
    if value is None:
        # An agreed date that was not agreed opens nothing; any other period counts from the
        # event date when its start date is not given.
        return [] if kind.unit == Unit.agreed_date else [(None, ctx.event_day)]
    return [(None, value)]
