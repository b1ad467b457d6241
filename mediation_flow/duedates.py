"""Due dates: the last day of a period, counted as flow.md §4 "Counting" says, and the limitation
period of a case (LDMAL 27). Pure date arithmetic on top of :mod:`mediation_flow.calendar`;
which deadlines exist is decided in :mod:`mediation_flow.deadlines`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from mediation_flow.calendar import Calendar
from mediation_flow.errors import CalendarNotAvailable
from mediation_flow.models import ClaimKind, Unit
from mediation_flow.records import DeadlineRecord

__all__ = ["anniversary", "due_date", "limitation_expiry", "settle"]


def due_date(
    calendar: Calendar, unit: str, starts_on: date, length: int, region: str | None
) -> tuple[date, bool]:
    """The last day of a period of ``length`` ``unit`` counted from ``starts_on``, and whether
    that day is provisional.

    A period of years usually ends in a year whose holiday schedule is not yet published. Its due
    date is then the anniversary itself, marked provisional: the roll-over can only move it later,
    so the provisional date never lets a window stay open too long, and ``settle`` recomputes it
    once the calendar covers the year. Day periods get no such grace: a due date that needs an
    unpublished schedule raises ``CalendarNotAvailable``.
    """
    if unit == Unit.calendar_days:
        # CPL 85; AR 19: the start day is not counted; a rest last day rolls over.
        return calendar.add_calendar_days(starts_on, length, region=region), False
    if unit == Unit.working_days:
        # AR 80: "三日、五日、十日" are working days.
        return calendar.add_working_days(starts_on, length, region=region), False
    if unit == Unit.years:
        # Civil Code 200-203.
        try:
            return calendar.add_years(starts_on, length, region=region), False
        except CalendarNotAvailable:
            return anniversary(starts_on, length), True
    raise ValueError(f"a {unit!r} deadline has no computed due date")


def anniversary(start: date, years: int) -> date:
    """The same day ``years`` later; 28 February for a 29 February (Civil Code 202)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def settle(calendar: Calendar, d: DeadlineRecord, region: str | None) -> bool:
    """Recompute a provisional due date if the calendar now covers it; True if it changed."""
    if not d.provisional or d.length is None:
        return False
    due, provisional = due_date(calendar, d.unit, d.starts_on, d.length, region)
    if provisional:
        return False
    d.due, d.provisional, d.dirty = due, False, True
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
    ``"provisional"``: whether a date is an unrolled anniversary (see :func:`due_date`).
    """
    kinds = {ClaimKind(k) for k in claim_kinds}
    stops = sorted(interruptions)

    provisional = False

    def year_after(day: date) -> date:
        nonlocal provisional
        due, unsure = due_date(calendar, Unit.years, day, 1, region)
        provisional = provisional or unsure
        return due

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
