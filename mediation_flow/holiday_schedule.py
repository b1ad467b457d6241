"""The national holiday schedule of one year: official, or predicted from the law.

Three layers decide whether a day is a rest day (``shared/domain/calendar.md``):

1. the statutory holidays of 《全国年节及纪念日放假办法》 (as amended in 2024, in force from
   2025): 13 days a year, four of them on lunar dates and one on a solar term;
2. the State Council's yearly notice (国务院办公厅关于YYYY年部分节假日安排的通知), which fixes the
   rest blocks (放假调休) and the weekend days that become working days (调休上班);
3. regional rest and working days (:mod:`mediation_flow.calendar`).

Only the notice is law for a year. Until it is published this module *predicts* the year from
the statutory holidays and the principles the 2025 notice stated (Spring Festival 8 days from
New Year's Eve; National Day 7 days from 1 October, 8 with an adjoining Mid-Autumn; Labour Day 5
days; the others 3 days, or 1 day when the holiday is a Wednesday). Make-up working days are
predicted only where the principles fix them: a 3-day block around a Tuesday or a Thursday
holiday needs the weekend day on its far side (2026's New Year: Thursday 1 January to Saturday
3 January off, Sunday 4 January worked). Elsewhere none is predicted.

A predicted schedule also carries its *envelope*: the days that a plausible notice could still
make rest days (``possible_rest``) or make-up working days (``possible_workdays``). The calendar
uses the envelope to give a provisional due date its latest and earliest possible values
(:mod:`mediation_flow.duedates`), so that no party loses a right to a prediction.

Lunar dates and the Qingming solar term come from the ``holidays`` package (its ``China``
class), which computes them for 1950-2100.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

__all__ = [
    "PREDICTABLE_YEARS",
    "Basis",
    "HolidaySchedule",
    "predict_schedule",
    "statutory_holidays",
]

_DAY = timedelta(days=1)
#: The years whose statutory holidays can be computed (the ``holidays`` package's range) under
#: the 2024 amendment of the holiday law (in force from 2025).
PREDICTABLE_YEARS: tuple[int, int] = (2025, 2100)
#: How far from a holiday block a make-up working day has been placed (2026: 20 September for
#: a block from 1 October, 11 days; 28 February after a block that ended on 23 February, 5 days).
_MAKEUP_REACH = 14


class Basis(StrEnum):
    """Where a year's schedule comes from."""

    #: The ``chinese-calendar`` package (the State Council's notices, as the package carries them).
    package = "package"
    #: A notice registered by the operator (:meth:`Engine.register_holiday_schedule`).
    registered = "registered"
    #: Predicted from the statutory holidays and the published principles.
    predicted = "predicted"

    @property
    def label_zh(self) -> str:
        return {
            "package": "官方（日历包）",
            "registered": "官方（已登记通知）",
            "predicted": "预测",
        }[self.value]


@dataclass(frozen=True)
class HolidaySchedule:
    """The national schedule of ``year``.

    ``holidays`` are all rest days of the holiday blocks (weekend days inside a block included),
    ``workdays`` the make-up working days; every other day follows Monday to Friday. A notice may
    reach into the last days of the year before (a New Year block from 30 December), so days of
    the previous December are allowed. For a predicted schedule ``possible_rest`` and
    ``possible_workdays`` are the envelope (see the module docstring) and ``certain_rest`` the
    statutory holiday days; for an official one they equal ``holidays``, ``workdays`` and
    ``holidays``.
    """

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    basis: Basis
    source: str = ""
    possible_rest: frozenset[date] = field(default=frozenset())
    possible_workdays: frozenset[date] = field(default=frozenset())
    #: Days no notice can make working days: the statutory holidays themselves.
    certain_rest: frozenset[date] = field(default=frozenset())

    @property
    def first_day(self) -> date:
        """The first day the schedule can speak of (a New Year block may start in December)."""
        return date(self.year - 1, 12, 25)

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= date(self.year, 12, 31)

    def as_json(self) -> dict[str, object]:
        return {
            "year": self.year,
            "basis": self.basis.value,
            "source": self.source,
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "workdays": sorted(d.isoformat() for d in self.workdays),
        }


def official(
    year: int, holidays: Iterable[date], workdays: Iterable[date], basis: Basis, source: str = ""
) -> HolidaySchedule:
    rest, work = frozenset(holidays), frozenset(workdays)
    return HolidaySchedule(year, rest, work, basis, source, rest, work, rest)


@lru_cache(maxsize=256)
def statutory_holidays(year: int) -> dict[str, tuple[date, ...]]:
    """The statutory holiday days of ``year`` by holiday (放假办法, as amended in 2024), for the
    years in :data:`PREDICTABLE_YEARS`.

    Keys: ``new_year``, ``spring_festival`` (New Year's Eve and the 1st to 3rd of the first lunar
    month), ``qingming``, ``labour_day``, ``dragon_boat``, ``mid_autumn``, ``national_day``.
    """
    first, last = PREDICTABLE_YEARS
    if not first <= year <= last:
        raise ValueError(f"statutory holidays are computed for {first}-{last}, not {year}")
    from holidays import country_holidays

    # One day may carry two holidays ("Mid-Autumn Festival; National Day" in 2028).
    labels = [
        (day, label)
        for day, names in country_holidays("CN", years=year, language="en_US").items()
        for label in names.split("; ")
    ]

    def one(label: str) -> date:
        found = [d for d, n in labels if n == label]
        if len(found) != 1:  # pragma: no cover - the package's names are part of its API
            raise RuntimeError(f"the holidays package gave no single {label!r} in {year}")
        return found[0]

    eve = one("Chinese New Year's Eve")
    return {
        "new_year": (date(year, 1, 1),),
        "spring_festival": tuple(eve + i * _DAY for i in range(4)),
        "qingming": (one("Tomb-Sweeping Day"),),
        "labour_day": (date(year, 5, 1), date(year, 5, 2)),
        "dragon_boat": (one("Dragon Boat Festival"),),
        "mid_autumn": (one("Mid-Autumn Festival"),),
        "national_day": (date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)),
    }


def _span(first: date, last: date) -> set[date]:
    return {first + i * _DAY for i in range((last - first).days + 1)}


def _three_day(day: date) -> tuple[set[date], set[date]]:
    """A one-day holiday's block and its make-up day under the 2025 principles."""
    weekday = day.weekday()  # Monday 0 .. Sunday 6
    if weekday == 2:  # Wednesday: one day, no make-up day
        return {day}, set()
    if weekday == 1:  # Tuesday: Sunday to Tuesday, the Saturday before worked
        return _span(day - 2 * _DAY, day), {day - 3 * _DAY}
    if weekday == 3:  # Thursday: Thursday to Saturday, the Sunday after worked (2026 New Year)
        return _span(day, day + 2 * _DAY), {day + 3 * _DAY}
    if weekday == 0:  # Monday: Saturday to Monday
        return _span(day - 2 * _DAY, day), set()
    if weekday == 4:  # Friday: Friday to Sunday
        return _span(day, day + 2 * _DAY), set()
    # Saturday or Sunday: the weekend and the Monday after (in lieu of the holiday).
    monday = day + (7 - weekday) * _DAY
    return _span(monday - 2 * _DAY, monday), set()


@lru_cache(maxsize=256)
def predict_schedule(year: int) -> HolidaySchedule:
    """The predicted schedule of ``year`` (see the module docstring), with its envelope."""
    law = statutory_holidays(year)
    rest: set[date] = set()
    work: set[date] = set()
    windows: list[tuple[date, date]] = []

    def block(days: set[date], makeup: Iterable[date] = ()) -> None:
        rest.update(days)
        work.update(makeup)

    national = date(year, 10, 1)
    mid_autumn = law["mid_autumn"][0]
    merged = national - 2 * _DAY <= mid_autumn <= national + 7 * _DAY
    for name in ("new_year", "qingming", "dragon_boat") + (() if merged else ("mid_autumn",)):
        day = law[name][0]
        block(*_three_day(day))
        windows.append((day - 2 * _DAY, day + 2 * _DAY))
    eve = law["spring_festival"][0]
    block(_span(eve, eve + 7 * _DAY))  # 8 days from New Year's Eve
    windows.append((eve - 2 * _DAY, eve + 9 * _DAY))
    block(_span(date(year, 5, 1), date(year, 5, 5)))  # Labour Day: 5 days
    windows.append((date(year, 4, 28), date(year, 5, 6)))
    if merged:  # National Day with Mid-Autumn: one 8-day block
        start = min(national, mid_autumn)
        block(_span(start, start + 7 * _DAY))
        windows.append((min(national, mid_autumn) - _DAY, date(year, 10, 9)))
    else:
        block(_span(national, national + 6 * _DAY))
        windows.append((date(year, 9, 30), date(year, 10, 8)))
    # Only a weekend day can be a make-up day; one the prediction already keeps in a block is
    # not predicted as worked.
    work = {d for d in work if d.weekday() >= 5 and d not in rest}
    statutory = {d for days in law.values() for d in days}
    possible_rest = set(rest)
    for first, last in windows:
        possible_rest |= _span(first, last)
    possible_work: set[date] = set()
    for first, last in windows:
        for d in _span(first - _MAKEUP_REACH * _DAY, last + _MAKEUP_REACH * _DAY):
            if d.weekday() >= 5 and d not in statutory:
                possible_work.add(d)
    low, high = date(year - 1, 12, 25), date(year, 12, 31)
    keep = _span(low, high)
    return HolidaySchedule(
        year=year,
        holidays=frozenset(rest & keep),
        workdays=frozenset(work & keep),
        basis=Basis.predicted,
        source="predicted from 全国年节及纪念日放假办法 (2024) and the 2025 notice's principles",
        possible_rest=frozenset(possible_rest & keep),
        possible_workdays=frozenset(possible_work & keep),
        certain_rest=frozenset(statutory),
    )
