"""Working days and due dates in mainland China.

Counting rules (procedure.md §3, flow.md §4 "Counting"):

* **Calendar days** (CPL 85; AR 19): the start day is not counted, so day *n* is ``start + n``.
  If that day is a rest day, the due date moves to the next day that is not.
* **Working days** (AR 80): count the working days after the start day and return the *n*-th.
  A working day is Monday to Friday except public holidays, plus the make-up working days
  (调休上班日) of the State Council's yearly notice; regional rest days are not working days in
  their region. There is no further roll-over.
* **Years** (Civil Code 200-203): the same month and day *n* years later (28 February when there is
  no 29 February), then the rest-day roll-over.
* A **rest day** (for the roll-over) is a weekend day that is not a make-up working day, a public
  holiday, or a regional rest day (for example Guangxi's 三月三). Whether a make-up working day
  also counts as a rest day for the roll-over is the ``makeup_days_are_rest_days`` setting; the
  default is that it does not (no text says so expressly: procedure.md §7 item 6).

The national schedule comes from the ``chinese-calendar`` package. Nothing is guessed: a
computation that needs a day of a year the calendar has no schedule for raises
:class:`~mediation_flow.errors.CalendarNotAvailable`. A deployment can register a year's published
schedule before the package is updated with :meth:`Calendar.with_schedule`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

import chinese_calendar

from mediation_flow.errors import CalendarNotAvailable

__all__ = [
    "DEFAULT_CALENDAR",
    "Calendar",
    "add_calendar_days",
    "add_working_days",
    "add_years",
    "is_rest_day",
    "is_working_day",
    "roll_over",
]

_ONE_DAY = timedelta(days=1)
_PACKAGE_HOLIDAYS: frozenset[date] = frozenset(chinese_calendar.holidays)
_PACKAGE_WORKDAYS: frozenset[date] = frozenset(chinese_calendar.workdays)
# The package supports every year between its first and last data year (as its own validation does).
_PACKAGE_YEARS: tuple[int, int] = (
    min(d.year for d in _PACKAGE_HOLIDAYS | _PACKAGE_WORKDAYS),
    max(d.year for d in _PACKAGE_HOLIDAYS | _PACKAGE_WORKDAYS),
)
_REGION = re.compile(r"[0-9]{6}")
_PREFIX = re.compile(r"[0-9]{2,6}")
# National status of a day.
_WORKING, _MAKEUP, _REST = 0, 1, 2


def _check_day(day: object, what: str = "day") -> date:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"{what} must be a datetime.date (the day in China), not {day!r}")
    return day


def _check_region(region: str | None) -> str | None:
    if region is not None and not (isinstance(region, str) and _REGION.fullmatch(region)):
        raise ValueError(f"region must be a 6-digit administrative division code, not {region!r}")
    return region


def _check_prefix(prefix: str) -> str:
    if not (isinstance(prefix, str) and _PREFIX.fullmatch(prefix)):
        raise ValueError(f"region prefix must be 2 to 6 digits, not {prefix!r}")
    if len(prefix) % 2 == 0 and prefix.endswith("00"):
        raise ValueError(
            f"region prefix {prefix!r} ends in '00' and matches only itself; register the "
            f"province or city by its leading digits instead (e.g. '45' for 450000)"
        )
    return prefix


def _check_n(n: int) -> int:
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n!r}")
    return n


class Calendar:
    """National schedule plus regional rest days; immutable, with per-day answers cached.

    ``regional_rest_days`` maps a division-code prefix (``"45"`` = Guangxi, ``"4502"`` = Liuzhou)
    to extra rest days for every region code starting with it. ``makeup_days_are_rest_days``
    makes make-up working days rest days for the roll-over only (CPL 85; procedure.md §7 item 6).
    """

    __slots__ = ("_covered", "_makeup_rest", "_regions", "_rest", "_schedules", "_statuses")

    def __init__(
        self,
        *,
        regional_rest_days: Mapping[str, Iterable[date]] | None = None,
        makeup_days_are_rest_days: bool = False,
    ) -> None:
        rest: dict[str, frozenset[date]] = {}
        for prefix, days in (regional_rest_days or {}).items():
            _check_prefix(prefix)
            rest[prefix] = frozenset(_check_day(d, f"rest day of {prefix!r}") for d in days)
        self._setup(rest, {}, bool(makeup_days_are_rest_days))

    def _setup(
        self,
        rest: dict[str, frozenset[date]],
        schedules: dict[int, tuple[frozenset[date], frozenset[date]]],
        makeup_rest: bool,
    ) -> None:
        self._rest = rest
        self._schedules = schedules
        self._makeup_rest = makeup_rest
        first, last = _PACKAGE_YEARS
        while first - 1 in schedules:
            first -= 1
        while last + 1 in schedules:
            last += 1
        self._covered = (first, last)
        self._statuses: dict[date, int] = {}
        self._regions: dict[str, frozenset[date]] = {}

    def _derive(
        self,
        rest: dict[str, frozenset[date]] | None = None,
        schedules: dict[int, tuple[frozenset[date], frozenset[date]]] | None = None,
    ) -> Calendar:
        new = Calendar.__new__(Calendar)
        new._setup(
            self._rest if rest is None else rest,
            self._schedules if schedules is None else schedules,
            self._makeup_rest,
        )
        return new

    def with_rest_days(self, region_prefix: str, days: Iterable[date]) -> Calendar:
        """A new calendar with ``days`` added as rest days for regions under ``region_prefix``."""
        _check_prefix(region_prefix)
        added = frozenset(_check_day(d, f"rest day of {region_prefix!r}") for d in days)
        rest = dict(self._rest)
        rest[region_prefix] = rest.get(region_prefix, frozenset()) | added
        return self._derive(rest=rest)

    def with_schedule(
        self, year: int, *, holidays: Iterable[date], workdays: Iterable[date]
    ) -> Calendar:
        """A new calendar that knows ``year`` from the State Council's notice for it.

        ``holidays`` are all rest days of the holiday blocks (weekend days inside a block
        included), ``workdays`` the make-up working days; other days follow Monday to Friday.
        For a year the package covers, the given schedule replaces the package's.
        """
        rest = frozenset(_check_day(d, "holiday") for d in holidays)
        work = frozenset(_check_day(d, "make-up working day") for d in workdays)
        if wrong := sorted(d for d in rest | work if d.year != year):
            raise ValueError(f"days outside {year} in its schedule: {wrong}")
        if both := sorted(rest & work):
            raise ValueError(f"days both holiday and make-up working day: {both}")
        if weekdays := sorted(d for d in work if d.weekday() < 5):
            raise ValueError(f"make-up working days must be weekend days, not {weekdays}")
        return self._derive(schedules={**self._schedules, year: (rest, work)})

    def __repr__(self) -> str:
        first, last = self._covered
        return (
            f"Calendar(years={first}-{last}, regions={sorted(self._rest)}, "
            f"makeup_days_are_rest_days={self._makeup_rest})"
        )

    @property
    def makeup_days_are_rest_days(self) -> bool:
        """Whether make-up working days count as rest days for the roll-over (CPL 85)."""
        return self._makeup_rest

    def covered_years(self) -> tuple[int, int]:
        """First and last year of the contiguous range whose national schedule is known."""
        return self._covered

    def _status(self, day: date) -> int:
        status = self._statuses.get(day)
        if status is None:
            if day.year in self._schedules:
                holidays, workdays = self._schedules[day.year]
            elif _PACKAGE_YEARS[0] <= day.year <= _PACKAGE_YEARS[1]:
                holidays, workdays = _PACKAGE_HOLIDAYS, _PACKAGE_WORKDAYS
            else:
                raise CalendarNotAvailable(day.year, self._covered)
            if day in workdays:
                status = _MAKEUP
            elif day.weekday() >= 5 or day in holidays:
                status = _REST
            else:
                status = _WORKING
            self._statuses[day] = status
        return status

    def _regional(self, region: str | None) -> frozenset[date]:
        if region is None:
            return frozenset()
        days = self._regions.get(region)
        if days is None:
            _check_region(region)
            matching = (v for p, v in self._rest.items() if region.startswith(p))
            days = frozenset[date]().union(*matching)
            self._regions[region] = days
        return days

    def is_working_day(self, day: date, *, region: str | None = None) -> bool:
        """Monday to Friday except public holidays, plus make-up working days (AR 80)."""
        regional = self._regional(region)
        return self._status(_check_day(day)) != _REST and day not in regional

    def is_rest_day(self, day: date, *, region: str | None = None) -> bool:
        """A day the roll-over skips: weekend, public holiday or regional rest day (CPL 85)."""
        regional = self._regional(region)
        status = self._status(_check_day(day))
        if status == _MAKEUP and not self._makeup_rest:
            status = _WORKING
        return status != _WORKING or day in regional

    def roll_over(self, day: date, *, region: str | None = None) -> date:
        """The first day on or after ``day`` that is not a rest day (CPL 85; Civil Code 203)."""
        while self.is_rest_day(day, region=region):
            day += _ONE_DAY
        return day

    def add_calendar_days(self, start: date, n: int, *, region: str | None = None) -> date:
        """Due date of ``n`` calendar days after ``start``, rolled over (CPL 85; AR 19)."""
        return self.roll_over(_check_day(start, "start") + _check_n(n) * _ONE_DAY, region=region)

    def add_working_days(self, start: date, n: int, *, region: str | None = None) -> date:
        """The ``n``-th working day after ``start`` (AR 80)."""
        day, left = _check_day(start, "start"), _check_n(n)
        while left:
            day += _ONE_DAY
            if self.is_working_day(day, region=region):
                left -= 1
        return day

    def add_years(self, start: date, n: int, *, region: str | None = None) -> date:
        """Same day ``n`` years later (29 Feb → 28 Feb), rolled over (Civil Code 200-203)."""
        _check_day(start, "start")
        year = start.year + _check_n(n)
        try:
            day = start.replace(year=year)
        except ValueError:  # 29 February in a common year
            day = date(year, 2, 28)
        return self.roll_over(day, region=region)


DEFAULT_CALENDAR: Calendar = Calendar()
"""The national calendar with the default settings (make-up working days are working days)."""


def add_calendar_days(start: date, n: int, *, region: str | None = None) -> date:
    """:meth:`Calendar.add_calendar_days` on :data:`DEFAULT_CALENDAR` (CPL 85; AR 19)."""
    return DEFAULT_CALENDAR.add_calendar_days(start, n, region=region)


def add_working_days(start: date, n: int, *, region: str | None = None) -> date:
    """:meth:`Calendar.add_working_days` on :data:`DEFAULT_CALENDAR` (AR 80)."""
    return DEFAULT_CALENDAR.add_working_days(start, n, region=region)


def add_years(start: date, n: int, *, region: str | None = None) -> date:
    """:meth:`Calendar.add_years` on :data:`DEFAULT_CALENDAR` (Civil Code 200-203)."""
    return DEFAULT_CALENDAR.add_years(start, n, region=region)


def is_working_day(day: date, *, region: str | None = None) -> bool:
    """:meth:`Calendar.is_working_day` on :data:`DEFAULT_CALENDAR` (AR 80)."""
    return DEFAULT_CALENDAR.is_working_day(day, region=region)


def is_rest_day(day: date, *, region: str | None = None) -> bool:
    """:meth:`Calendar.is_rest_day` on :data:`DEFAULT_CALENDAR` (CPL 85)."""
    return DEFAULT_CALENDAR.is_rest_day(day, region=region)


def roll_over(day: date, *, region: str | None = None) -> date:
    """:meth:`Calendar.roll_over` on :data:`DEFAULT_CALENDAR` (CPL 85; Civil Code 203)."""
    return DEFAULT_CALENDAR.roll_over(day, region=region)
