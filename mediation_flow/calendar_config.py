"""The working-day calendar of a deployment: from a settings file, and its limits.

:func:`load_calendar` reads a calendar from a JSON file (``mediation-flow --calendar FILE``)::

    {
      "makeup_days_are_rest_days": false,
      "regional_rest_days": {"45": ["2025-03-31", "2026-04-20"]},
      "schedules": {"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-02-07"]}}
    }

every key optional: the make-up-day setting, regional rest days per division prefix, and the
State Council's schedules of years newer than the installed calendar package
(:meth:`mediation_flow.calendar.Calendar.with_schedule`).

Dates the working-day calendar cannot count are a data error, or a schedule still to come.

The data model accepts dates from 1950 to 2199 (intake, command data), and the calendar knows
the holiday schedules of a range of years (:mod:`mediation_flow.calendar`). A due date that
needs a year before that range, or years beyond the next one, will never be counted: the date
given is wrong, and the command is refused with ``InvalidData`` naming the year and the range.
A due date in the current year or the next one, whose schedule the State Council has not
published yet (or the installed calendar does not have), stays ``CalendarNotAvailable``: it is
a deployment matter (update the calendar), not bad input.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from mediation_flow.calendar import Calendar
from mediation_flow.errors import CalendarNotAvailable, InvalidData, MediationFlowError

__all__ = ["calendar_error", "load_calendar"]


def load_calendar(path: str | Path) -> Calendar:
    """The calendar a JSON settings file describes (format above). Raises ``ValueError``
    naming the key for a malformed file, ``OSError`` when it cannot be read."""
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    unknown = set(data) - {"makeup_days_are_rest_days", "regional_rest_days", "schedules"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")

    def days(value: Any, where: str) -> list[date]:
        if not isinstance(value, list):
            raise ValueError(f"{path}: {where}: expected a list of ISO dates")
        try:
            return [date.fromisoformat(str(v)) for v in value]
        except ValueError as exc:
            raise ValueError(f"{path}: {where}: {exc}") from None

    makeup = data.get("makeup_days_are_rest_days", False)
    if not isinstance(makeup, bool):
        raise ValueError(f"{path}: makeup_days_are_rest_days: expected true or false")
    regional = data.get("regional_rest_days", {})
    if not isinstance(regional, dict):
        raise ValueError(f"{path}: regional_rest_days: expected an object of prefixes")
    calendar = Calendar(
        regional_rest_days={p: days(v, f"regional_rest_days.{p}") for p, v in regional.items()},
        makeup_days_are_rest_days=makeup,
    )
    schedules = data.get("schedules", {})
    if not isinstance(schedules, dict):
        raise ValueError(f"{path}: schedules: expected an object of years")
    for year, schedule in sorted(schedules.items()):
        if not str(year).isdigit() or not isinstance(schedule, dict):
            raise ValueError(f"{path}: schedules.{year}: expected a year and an object")
        calendar = calendar.with_schedule(
            int(year),
            holidays=days(schedule.get("holidays", []), f"schedules.{year}.holidays"),
            workdays=days(schedule.get("workdays", []), f"schedules.{year}.workdays"),
        )
    return calendar


def calendar_error(exc: CalendarNotAvailable, what: str, today: date) -> MediationFlowError:
    """``exc`` as the command ``what`` on ``today`` should report it."""
    first, last = exc.covered if exc.covered else (today.year, today.year)
    if first <= exc.year <= max(last, today.year + 1):
        return exc
    return InvalidData(
        what,
        "date",
        f"a due date falls in {exc.year}, outside the working-day calendar ({first}-{last}): "
        "check the dates given (received_on, served_on, start and agreed dates)",
    )
