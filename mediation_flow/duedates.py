"""Due dates: the last day of a period, counted as flow.md §4 "Counting" says, and the limitation
period of a case (LDMAL 27). Pure date arithmetic on top of :mod:`mediation_flow.calendar`;
which deadlines exist is decided in :mod:`mediation_flow.deadlines`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, Literal, NamedTuple

from mediation_flow.calendar import Calendar, anniversary
from mediation_flow.errors import CalendarNotAvailable
from mediation_flow.holiday_schedule import Basis
from mediation_flow.models import ClaimKind, Unit
from mediation_flow.records import DeadlineRecord

__all__ = [
    "Due",
    "Holder",
    "anniversary",
    "compute_due",
    "due_date",
    "limitation_expiry",
    "settle",
]

#: Who must act within a period: a party (its window to act: a right that a prediction must
#: never cut short) or an official (a limit whose expiry opens the party's next step, which a
#: prediction must never hold back).
Holder = Literal["party", "official"]
_DAY = timedelta(days=1)


class Due(NamedTuple):
    """A computed due date.

    ``due`` is the last day the engine treats as in time: the official due date, or for a
    provisional one the conservative date (the latest a notice could give for a party's window,
    the earliest for an official's limit). ``estimate`` is the predicted due date (``due`` when
    not provisional), the date to show. ``basis`` is the weakest basis of the days it was
    computed on.
    """

    due: date
    provisional: bool
    estimate: date
    basis: Basis


def _compute(
    calendar: Calendar, unit: str, starts_on: date, length: int, region: str | None
) -> tuple[date, date]:
    """The due date and the first day its computation looked at."""
    if unit == Unit.calendar_days:
        # CPL 85; AR 19: the start day is not counted; a rest last day rolls over.
        return calendar.add_calendar_days(starts_on, length, region=region), starts_on + (
            length * _DAY
        )
    if unit == Unit.working_days:
        # AR 80: "三日、五日、十日" are working days.
        return calendar.add_working_days(starts_on, length, region=region), starts_on + _DAY
    if unit == Unit.years:
        # Civil Code 200-203.
        return calendar.add_years(starts_on, length, region=region), anniversary(starts_on, length)
    raise ValueError(f"a {unit!r} deadline has no computed due date")


def due_date(
    calendar: Calendar,
    unit: str,
    starts_on: date,
    length: int,
    region: str | None,
    holder: Holder = "party",
) -> tuple[date, bool]:
    """The last day of a period (the day the engine acts on) and whether it is provisional:
    :func:`compute_due` without the estimate and the basis."""
    due = compute_due(calendar, unit, starts_on, length, region, holder)
    return due.due, due.provisional


def compute_due(
    calendar: Calendar,
    unit: str,
    starts_on: date,
    length: int,
    region: str | None,
    holder: Holder = "party",
) -> Due:
    """The last day of a period of ``length`` ``unit`` counted from ``starts_on``.

    When a day the computation needs lies in a year whose notice is not yet published, the
    date is computed on the predicted schedule and marked provisional, and ``due`` is the
    conservative date for ``holder`` (see :class:`Due` and ``docs/deadlines.md``).
    """
    try:
        estimate, first = _compute(calendar, unit, starts_on, length, region)
    except CalendarNotAvailable:
        if unit != Unit.years:
            raise
        # A year period ending in a year no schedule can speak of (before 2004, after 2100):
        # the plain anniversary, provisional; the roll-over could only move it later.
        plain = anniversary(starts_on, length)
        return Due(plain, True, plain, Basis.predicted)
    if not calendar.depends_on_prediction(first, estimate):
        return Due(estimate, False, estimate, calendar.basis_of(first, estimate))
    bound_view = calendar.with_view("latest" if holder == "party" else "earliest")
    bound, _ = _compute(bound_view, unit, starts_on, length, region)
    return Due(bound, True, estimate, Basis.predicted)


def settle(
    calendar: Calendar,
    d: DeadlineRecord,
    region: str | None,
    holder: Holder = "party",
    *,
    force: bool = False,
) -> bool:
    """Recompute a provisional deadline's dates on ``calendar`` (with ``force``, any computed
    deadline's: a registered notice was replaced); True if anything changed (its due date, its
    estimate, whether it is provisional, or its basis)."""
    if not (d.provisional or force) or d.length is None:
        return False
    new = compute_due(calendar, d.unit, d.starts_on, d.length, region, holder)
    estimate = new.estimate if new.provisional else None
    values = (new.due, new.provisional, estimate, new.basis.value)
    if values == (d.due, d.provisional, d.estimate, d.basis):
        return False
    d.due, d.provisional, d.estimate, d.basis = values
    d.dirty = True
    return True


def limitation_expiry(
    calendar: Calendar,
    region: str,
    *,
    knew_of_infringement_on: date | None,
    employment_ended_on: date | None,
    claim_kinds: Iterable[ClaimKind | str],
    interruptions: Iterable[date],
) -> dict[str, Any]:
    """The limitation period of a case (LDMAL 27; flow.md §4 ``limitation``).

    One year from when the party knew of the infringement, restarted by each interruption event
    that comes while the period still runs (an expired period is not revived). Wage claims do not
    run while the employment continues; after it ended they run one year from the end date
    (LDMAL 27 ¶4). Returns ``{"general": date | None, "wages": date | None, "expires_on": ...}``
    where ``expires_on`` is the earliest of the two (the one an officer must watch), and
    ``"provisional"``: whether a date was computed on a predicted schedule (:func:`due_date`).
    """
    kinds = {ClaimKind(k) for k in claim_kinds}
    stops = sorted(interruptions)

    provisional = False

    def year_after(day: date) -> date:
        # A right to act (LDMAL 27): a prediction never shortens it.
        nonlocal provisional
        due = compute_due(calendar, Unit.years, day, 1, region, "party")
        provisional = provisional or due.provisional
        return due.due

    def run(start: date | None) -> date | None:
        if start is None:
            start = stops[0] if stops else None
            if start is None:
                return None
        expires = year_after(start)
        for day in stops:
            if start <= day <= expires:
                expires = year_after(day)
        return expires

    general = run(knew_of_infringement_on) if kinds - {ClaimKind.wages} else None
    wages: date | None = None
    if ClaimKind.wages in kinds and employment_ended_on is not None:
        wages = run(employment_ended_on)
    candidates = [d for d in (general, wages) if d is not None]
    return {
        "general": general,
        "wages": wages,
        "expires_on": min(candidates, default=None),
        "provisional": provisional,
    }
