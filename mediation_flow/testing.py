"""Tools for testing plugins and host systems: a fixed clock, an in-memory engine with chosen
plugins, a realistic intake, and the pytest fixture ``mf_engine``.

The fixture is registered with pytest automatically (a ``pytest11`` entry point) wherever
mediation-flow is installed::

    def test_park_station(mf_engine):
        engine = mf_engine(ParkPlugin(), at="2025-03-03")
        case = engine.open_case(sample_intake(region="510302"))
        case = engine.fire(case.id, "refer_to_park_station")
        engine.clock.advance(days=16)
        engine.tick()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from mediation_flow.calendar import Calendar
from mediation_flow.engine import SHANGHAI, Engine

__all__ = ["FixedClock", "make_engine", "mf_engine", "moment", "sample_intake"]


def moment(value: str | date | datetime, hour: int = 9, minute: int = 0) -> datetime:
    """``"2025-03-03"`` (or a date) at ``hour:minute`` in Asia/Shanghai; aware datetimes pass."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return datetime.combine(day, time(hour, minute), SHANGHAI)


class FixedClock:
    """A clock that stands still until moved: ``clock.set("2025-03-20")``,
    ``clock.advance(days=16)``, ``clock.end_of_day()``."""

    def __init__(self, at: str | date | datetime = "2025-03-03") -> None:
        self.now = moment(at)

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: str | date | datetime, hour: int = 9, minute: int = 0) -> datetime:
        self.now = moment(at, hour, minute)
        return self.now

    def advance(self, *, days: int = 0, hours: int = 0, minutes: int = 0) -> datetime:
        self.now += timedelta(days=days, hours=hours, minutes=minutes)
        return self.now

    def end_of_day(self) -> datetime:
        """23:59 of the current day: a deadline due today has not expired yet."""
        self.now = self.now.replace(hour=23, minute=59, second=0, microsecond=0)
        return self.now

    def next_morning(self) -> datetime:
        """00:01 of the next day: a deadline due yesterday has expired."""
        self.now = (self.now + timedelta(days=1)).replace(hour=0, minute=1, second=0, microsecond=0)
        return self.now


class FixedClockEngine(Engine):
    """An engine with a :class:`FixedClock` at ``engine.clock``."""

    clock: FixedClock


def make_engine(
    *plugins: object,
    at: str | date | datetime = "2025-03-03",
    url: str = "sqlite://",
    calendar: Calendar | None = None,
    **options: Any,
) -> FixedClockEngine:
    """An engine on an in-memory database with exactly ``plugins`` (no entry points) and a
    fixed clock at ``at`` (``engine.clock``)."""
    clock = FixedClock(at)
    engine = FixedClockEngine(
        url, plugins=plugins, entry_points=False, clock=clock, calendar=calendar, **options
    )
    engine.clock = clock
    return engine


def sample_intake(**overrides: Any) -> dict[str, Any]:
    """A wage dispute of one worker against one employer; override any field."""
    intake: dict[str, Any] = {
        "region": "430102",
        "parties": [
            {"kind": "worker", "role": "applicant", "name": "张三"},
            {"kind": "employer", "role": "respondent", "name": "某建筑工程有限公司"},
        ],
        "claims": [{"kind": "wages", "amount": "18000.00"}],
        "knew_of_infringement_on": "2024-12-31",
        "employment_ended_on": "2024-12-31",
    }
    intake.update(overrides)
    return intake


try:
    import pytest
except ImportError:  # pragma: no cover - the fixture needs pytest; the helpers do not
    pass
else:

    @pytest.fixture
    def mf_engine() -> Iterator[Callable[..., FixedClockEngine]]:
        """A factory of in-memory engines: ``mf_engine(*plugins, at="2025-03-03")``. Every
        engine it made is closed after the test."""
        made: list[Engine] = []

        def factory(*plugins: object, **kwargs: Any) -> FixedClockEngine:
            engine = make_engine(*plugins, **kwargs)
            made.append(engine)
            return engine

        yield factory
        for engine in made:
            engine.close()
