"""Working days and due dates in mainland China.

Counting rules (procedure.md §3, flow.md §4 "Counting"):

* **Calendar days** (CPL 85; AR 19): the start day is not counted, so day *n* is ``start + n``.
  If that day is a rest day, the due date moves to the next day that is not.
* **Working days** (AR 80): count the working days after the start day and return the *n*-th.
  A working day is Monday to Friday except public holidays, plus the make-up working days
  (调休上班日) of the State Council's yearly notice; regional rest days are not working days in
  their region, regional make-up days are. There is no further roll-over.
* **Years** (Civil Code 200-203): the same month and day *n* years later (28 February when there is
  no 29 February), then the rest-day roll-over.
* A **rest day** (for the roll-over) is a weekend day that is not a make-up working day, a public
  holiday, or a regional rest day (for example Guangxi's 三月三). Whether a make-up working day
  also counts as a rest day for the roll-over is the ``makeup_days_are_rest_days`` setting; the
  default is that it does not (no text says so expressly: procedure.md §7 item 6).

Where the national schedule of a year comes from (its :class:`Basis`), first match wins:

1. a **registered** notice (:meth:`Calendar.with_schedule`; an engine loads the notices stored
   with :meth:`Engine.register_holiday_schedule`);
2. the **package** ``chinese-calendar`` (the notices it carries);
3. a **prediction** from the statutory holidays and the published principles
   (:mod:`mediation_flow.holiday_schedule`), for 2025-2100.

Nothing blocks on an unpublished year: a computation that touches a predicted day is answered
from the prediction, and :meth:`Calendar.depends_on_prediction` says so, so that the due date
is marked provisional and re-dated when the notice is registered. A calendar has a ``view`` of
the predicted years: the prediction itself (``estimate``, the default), the ``latest`` schedule
a notice could give (every day of the envelope a rest day, no make-up day) or the ``earliest``
(only the statutory holidays rest, every envelope weekend day worked); official years look the
same in every view. Only years before the package's first year (2004) and after 2100, unless
registered, raise :class:`~mediation_flow.errors.CalendarNotAvailable`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Literal

import chinese_calendar

from mediation_flow.errors import CalendarNotAvailable
from mediation_flow.holiday_schedule import (
    PREDICTABLE_YEARS,
    Basis,
    HolidaySchedule,
    official,
    predict_schedule,
    statutory_holidays,
)

__all__ = [
    "DEFAULT_CALENDAR",
    "MAX_NOTICE_REST_DAYS",
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
# (A public holiday is told apart from a weekend day: a region's make-up day turns only the
# latter into a working day.)
_WORKING, _MAKEUP, _REST, _HOLIDAY = 0, 1, 2, 3


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


def _workdays(prefix: str, days: Iterable[date]) -> frozenset[date]:
    """A region's make-up working days, checked: weekend days only."""
    _check_prefix(prefix)
    added = frozenset(_check_day(d, f"working day of {prefix!r}") for d in days)
    if weekdays := sorted(d for d in added if d.weekday() < 5):
        raise ValueError(
            f"regional make-up working days of {prefix!r} must be weekend days, not {weekdays}"
        )
    return added


def _check_n(n: int) -> int:
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n!r}")
    return n


View = Literal["estimate", "latest", "earliest"]
_VIEWS = ("estimate", "latest", "earliest")
_BASIS_RANK = {Basis.package: 0, Basis.registered: 0, Basis.predicted: 1}


def _package_schedule(year: int) -> HolidaySchedule:
    first = date(year - 1, 12, 25)
    last = date(year, 12, 31)
    rest = {d for d in _PACKAGE_HOLIDAYS if first <= d <= last}
    work = {d for d in _PACKAGE_WORKDAYS if first <= d <= last}
    return official(year, rest, work, Basis.package, "chinese-calendar")


class Calendar:
    """National schedule plus regional rest and working days; immutable, with per-day answers
    cached.

    ``regional_rest_days`` maps a division-code prefix (``"45"`` = Guangxi, ``"4502"`` = Liuzhou)
    to extra rest days for every region code starting with it; ``regional_workdays`` likewise to
    a region's own make-up working days. ``makeup_days_are_rest_days`` makes make-up working days
    rest days for the roll-over only (CPL 85; procedure.md §7 item 6). ``predict_from`` treats
    every year from it on as unpublished even where the package has it (to measure the predictor,
    or to test what a deployment sees before a notice). ``view`` is described in the module
    docstring.
    """

    __slots__ = (
        "_covered",
        "_makeup_rest",
        "_predict_from",
        "_regions",
        "_rest",
        "_schedules",
        "_statuses",
        "_view",
        "_views",
        "_work",
        "_years",
    )

    def __init__(
        self,
        *,
        regional_rest_days: Mapping[str, Iterable[date]] | None = None,
        regional_workdays: Mapping[str, Iterable[date]] | None = None,
        makeup_days_are_rest_days: bool = False,
        predict_from: int | None = None,
        view: View = "estimate",
    ) -> None:
        rest: dict[str, frozenset[date]] = {}
        for prefix, days in (regional_rest_days or {}).items():
            _check_prefix(prefix)
            rest[prefix] = frozenset(_check_day(d, f"rest day of {prefix!r}") for d in days)
        if view not in _VIEWS:
            raise ValueError(f"view must be one of {_VIEWS}, not {view!r}")
        work = {p: _workdays(p, days) for p, days in (regional_workdays or {}).items()}
        for prefix in set(rest) & set(work):
            if both := sorted(rest[prefix] & work[prefix]):
                raise ValueError(f"days both rest and working days of {prefix!r}: {both}")
        self._setup(rest, work, {}, bool(makeup_days_are_rest_days), predict_from, view)

    def _setup(
        self,
        rest: dict[str, frozenset[date]],
        work: dict[str, frozenset[date]],
        schedules: dict[int, HolidaySchedule],
        makeup_rest: bool,
        predict_from: int | None,
        view: View,
    ) -> None:
        self._rest = rest
        self._work = work
        self._schedules = schedules
        self._makeup_rest = makeup_rest
        self._predict_from = predict_from
        self._view = view
        first, last = _PACKAGE_YEARS
        if predict_from is not None:
            last = min(last, predict_from - 1)
        while first - 1 in schedules:
            first -= 1
        while last + 1 in schedules:
            last += 1
        self._covered = (first, last)
        self._statuses: dict[date, int] = {}
        self._regions: dict[str, tuple[frozenset[date], frozenset[date]]] = {}
        self._years: dict[int, HolidaySchedule] = {}
        self._views: dict[str, Calendar] = {view: self}

    def _derive(
        self,
        *,
        rest: dict[str, frozenset[date]] | None = None,
        work: dict[str, frozenset[date]] | None = None,
        schedules: dict[int, HolidaySchedule] | None = None,
        view: View | None = None,
    ) -> Calendar:
        new = Calendar.__new__(Calendar)
        new._setup(
            self._rest if rest is None else rest,
            self._work if work is None else work,
            self._schedules if schedules is None else schedules,
            self._makeup_rest,
            self._predict_from,
            self._view if view is None else view,
        )
        return new

    def with_rest_days(self, region_prefix: str, days: Iterable[date]) -> Calendar:
        """A new calendar with ``days`` added as rest days for regions under ``region_prefix``."""
        _check_prefix(region_prefix)
        added = frozenset(_check_day(d, f"rest day of {region_prefix!r}") for d in days)
        rest = dict(self._rest)
        rest[region_prefix] = rest.get(region_prefix, frozenset()) | added
        if both := sorted(added & self._work.get(region_prefix, frozenset())):
            raise ValueError(f"days both rest and working days of {region_prefix!r}: {both}")
        return self._derive(rest=rest)

    def with_workdays(self, region_prefix: str, days: Iterable[date]) -> Calendar:
        """A new calendar with ``days`` added as make-up working days for regions under
        ``region_prefix`` (a region that works a weekend day for its own holiday)."""
        added = _workdays(region_prefix, days)
        if both := sorted(added & self._rest.get(region_prefix, frozenset())):
            raise ValueError(f"days both rest and working days of {region_prefix!r}: {both}")
        work = dict(self._work)
        work[region_prefix] = work.get(region_prefix, frozenset()) | added
        return self._derive(work=work)

    def with_schedule(
        self,
        year: int,
        *,
        holidays: Iterable[date],
        workdays: Iterable[date],
        source: str = "",
    ) -> Calendar:
        """A new calendar that knows ``year`` from the State Council's notice for it.

        ``holidays`` are all rest days of the holiday blocks (weekend days inside a block
        included), ``workdays`` the make-up working days; other days follow Monday to Friday.
        Days of the December before are allowed (a New Year block may start there). For a year
        the package covers, the given schedule replaces the package's. Raises ``ValueError`` for
        a day outside the year, a day that is both, or a make-up day that is not a weekend day.
        """
        return self._derive(
            schedules={**self._schedules, year: checked_schedule(year, holidays, workdays, source)}
        )

    def with_view(self, view: View) -> Calendar:
        """The same calendar with another view of the predicted years (module docstring)."""
        found = self._views.get(view)
        if found is None:
            if view not in _VIEWS:
                raise ValueError(f"view must be one of {_VIEWS}, not {view!r}")
            found = self._views[view] = self._derive(view=view)
        return found

    def __repr__(self) -> str:
        first, last = self._covered
        return (
            f"Calendar(official={first}-{last}, registered={sorted(self._schedules)}, "
            f"regions={sorted(self._rest)}, makeup_days_are_rest_days={self._makeup_rest}, "
            f"view={self._view!r})"
        )

    @property
    def makeup_days_are_rest_days(self) -> bool:
        """Whether make-up working days count as rest days for the roll-over (CPL 85)."""
        return self._makeup_rest

    @property
    def view(self) -> View:
        return self._view

    @property
    def registered_years(self) -> list[int]:
        """The years with a registered notice."""
        return sorted(self._schedules)

    def covered_years(self) -> tuple[int, int]:
        """First and last year of the contiguous range whose national schedule is official."""
        return self._covered

    def basis(self, year: int) -> Basis:
        """Where the national schedule of ``year`` comes from."""
        return self.schedule(year).basis

    def schedule(self, year: int) -> HolidaySchedule:
        """The national schedule of ``year``: registered, from the package, or predicted.
        Raises ``CalendarNotAvailable`` outside the years that can be known or predicted."""
        found = self._years.get(year)
        if found is None:
            if year in self._schedules:
                found = self._schedules[year]
            elif _PACKAGE_YEARS[0] <= year <= _PACKAGE_YEARS[1] and (
                self._predict_from is None or year < self._predict_from
            ):
                found = _package_schedule(year)
            elif max(_PACKAGE_YEARS[0], PREDICTABLE_YEARS[0]) <= year <= PREDICTABLE_YEARS[1]:
                found = predict_schedule(year)
            else:
                raise CalendarNotAvailable(year, self._covered)
            self._years[year] = found
        return found

    def _governing(self, day: date) -> tuple[HolidaySchedule, ...]:
        """The schedules that can speak of ``day``: its year's, and in the last December days
        the next year's (a New Year block may start in December)."""
        own = self.schedule(day.year)
        if day.month == 12 and day.day >= 25:
            try:
                return (own, self.schedule(day.year + 1))
            except CalendarNotAvailable:
                return (own,)
        return (own,)

    def depends_on_prediction(self, first: date, last: date) -> bool:
        """Whether a day from ``first`` to ``last`` (inclusive) is a day of a predicted year:
        a result computed from those days is provisional."""
        day = first
        while day <= last:
            if any(s.basis is Basis.predicted for s in self._governing(day)):
                return True
            # The days of one year share their schedule up to 24 December.
            boundary = date(day.year, 12, 25)
            day = boundary if day < boundary else day + _ONE_DAY
        return False

    def basis_of(self, first: date, last: date) -> Basis:
        """The weakest basis of the days from ``first`` to ``last``: ``predicted`` if any is
        predicted, else ``registered`` if any is from a registered notice, else ``package``."""
        if self.depends_on_prediction(first, last):
            return Basis.predicted
        years = range(first.year, last.year + 2 if last.month == 12 else last.year + 1)
        if any(y in self._schedules for y in years):
            return Basis.registered
        return Basis.package

    def _status(self, day: date) -> int:
        status = self._statuses.get(day)
        if status is None:
            rest = work = False
            for s in self._governing(day):
                if s.basis is not Basis.predicted or self._view == "estimate":
                    holidays, workdays = s.holidays, s.workdays
                elif self._view == "latest":
                    holidays, workdays = s.possible_rest, frozenset()
                else:  # earliest: only the statutory days rest; every envelope weekend day worked
                    holidays, workdays = s.certain_rest, s.possible_workdays
                rest = rest or day in holidays
                work = work or day in workdays
            if work and not rest:
                status = _MAKEUP
            elif rest:
                status = _HOLIDAY
            elif day.weekday() >= 5:
                status = _REST
            else:
                status = _WORKING
            self._statuses[day] = status
        return status

    def _regional(self, region: str | None) -> tuple[frozenset[date], frozenset[date]]:
        if region is None:
            return _NO_DAYS
        days = self._regions.get(region)
        if days is None:
            _check_region(region)
            rest = frozenset[date]().union(
                *(v for p, v in self._rest.items() if region.startswith(p))
            )
            work = frozenset[date]().union(
                *(v for p, v in self._work.items() if region.startswith(p))
            )
            days = (rest, work)
            self._regions[region] = days
        return days

    def is_working_day(self, day: date, *, region: str | None = None) -> bool:
        """Monday to Friday except public holidays, plus make-up working days (AR 80); a
        region's own rest days are not working days there, its own make-up days are."""
        rest, work = self._regional(region)
        if day in rest:
            return False
        status = self._status(_check_day(day))
        return status in (_WORKING, _MAKEUP) or (status == _REST and day in work)

    def is_rest_day(self, day: date, *, region: str | None = None) -> bool:
        """A day the roll-over skips: weekend, public holiday or regional rest day (CPL 85)."""
        rest, work = self._regional(region)
        status = self._status(_check_day(day))
        if day in rest:
            return True
        if status == _REST and day in work:
            status = _MAKEUP
        if status == _MAKEUP and not self._makeup_rest:
            status = _WORKING
        return status != _WORKING

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
        return self.roll_over(anniversary(start, _check_n(n)), region=region)


_NO_DAYS: tuple[frozenset[date], frozenset[date]] = (frozenset(), frozenset())


def anniversary(start: date, years: int) -> date:
    """The same day ``years`` later; 28 February for a 29 February (Civil Code 202)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a common year
        return date(start.year + years, 2, 28)


def checked_schedule(
    year: int,
    holidays: Iterable[date],
    workdays: Iterable[date],
    source: str = "",
    basis: Basis = Basis.registered,
) -> HolidaySchedule:
    """A year's official schedule after the checks every notice must pass: its days lie in the
    year (or the December before), no day is both, make-up days are weekend days. Raises
    ``ValueError`` naming the days."""
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2199:
        raise ValueError(f"year must be a year from 1900 to 2199, not {year!r}")
    rest = frozenset(_check_day(d, "holiday") for d in holidays)
    work = frozenset(_check_day(d, "make-up working day") for d in workdays)
    first = date(year - 1, 12, 25)
    if wrong := sorted(d for d in rest | work if not first <= d <= date(year, 12, 31)):
        raise ValueError(f"days outside {year} in its schedule: {wrong}")
    if both := sorted(rest & work):
        raise ValueError(f"days both holiday and make-up working day: {both}")
    if weekdays := sorted(d for d in work if d.weekday() < 5):
        raise ValueError(f"make-up working days must be weekend days, not {weekdays}")
    return official(year, rest, work, basis, source)


#: More rest days than any notice has given (2026: 33, the weekends inside its blocks included).
MAX_NOTICE_REST_DAYS = 50


def check_notice(schedule: HolidaySchedule) -> None:
    """The checks a notice for a year under the 2024 holiday law must pass besides
    :func:`checked_schedule`'s: every statutory holiday is a rest day (a notice never works
    one; a missing one means a line was lost), and no more than :data:`MAX_NOTICE_REST_DAYS`
    rest days. Raises ``ValueError`` naming the days."""
    if len(schedule.holidays) > MAX_NOTICE_REST_DAYS:
        raise ValueError(
            f"{len(schedule.holidays)} rest days: more than any notice gives "
            f"({MAX_NOTICE_REST_DAYS}); check the dates"
        )
    if not PREDICTABLE_YEARS[0] <= schedule.year <= PREDICTABLE_YEARS[1]:
        return
    law = statutory_holidays(schedule.year)
    missing = sorted(
        d
        for days in law.values()
        for d in days
        if d in schedule.workdays or (d not in schedule.holidays and d.weekday() < 5)
    )
    if missing:
        names = ", ".join(d.isoformat() for d in missing)
        raise ValueError(
            f"statutory holidays left as working days: {names} (全国年节及纪念日放假办法); "
            f"a holiday line of the notice may be missing"
        )


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
