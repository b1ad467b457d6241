"""The holiday calendar in the database: registering a year's State Council notice, re-dating
the provisional deadlines on it (:mod:`mediation_flow.redating`), settling them when the
calendar learns a year, and the calendar's status. Bringing an engine's calendar up to the
notices in the database (``_sync_calendar``) is in :mod:`.core`: every command needs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from mediation_flow.calendar import check_notice, checked_schedule
from mediation_flow.duedates import Holder
from mediation_flow.engine.core import EngineCore
from mediation_flow.errors import CalendarNotAvailable, InvalidData, PermissionDenied
from mediation_flow.holiday_schedule import Basis
from mediation_flow.models import SYSTEM, Actor, Event, Role
from mediation_flow.redating import CalendarStatus, RedatePass, calendar_status, redate


class HolidayCalendar(EngineCore):
    """Holiday notices in the database and the re-dating they bring."""

    def register_holiday_schedule(
        self,
        year: int,
        *,
        holidays: Iterable[date],
        workdays: Iterable[date],
        source: str,
        replace: bool = False,
        actor: Actor | None = None,
        at: datetime | None = None,
    ) -> list[Event]:
        """Store the State Council's holiday notice for ``year`` in the database and re-date
        every open provisional deadline on it; returns the ``deadline_redated`` events.

        ``holidays`` are all rest days of the notice's blocks (weekend days inside a block
        included), ``workdays`` its make-up working days (调休上班), ``source`` where the notice
        comes from (its number and date, say). Every engine and tick worker on the database uses
        the notice from its next command; it overrides the package and the prediction for the
        year. A year that is already official (registered, or in the package) is replaced only
        with ``replace=True`` (the State Council has amended published schedules, as for the
        2020 Spring Festival); the deadlines computed on the old notice are re-dated too. A due
        date whose official day has already passed keeps the date that was relied on and is
        reported in its event (``"held": true``; :mod:`mediation_flow.redating`).

        Raises ``InvalidData`` for a schedule that fails the checks (days outside the year, a day
        both, a make-up day on a weekday, a statutory holiday left as a working day, more rest
        days than any notice gives, an official year without ``replace``),
        ``PermissionDenied`` for an actor who is not the system (the operator's own code).
        """
        actor = actor or SYSTEM
        at = self._at(at, "register_holiday_schedule")
        if actor.role is not Role.system:
            raise PermissionDenied(
                actor.id, actor.role.value, "register a holiday schedule for", 0, "operators only"
            )
        if not isinstance(source, str) or not source.strip() or len(source) > 2000:
            raise InvalidData("register_holiday_schedule", "source", "must be 1 to 2000 characters")
        try:
            schedule = checked_schedule(year, holidays, workdays, source)
            check_notice(schedule)
        except (TypeError, ValueError) as exc:
            raise InvalidData("register_holiday_schedule", "schedule", str(exc)) from None
        self._sync_calendar()
        try:
            basis = self.calendar.basis(year)
        except CalendarNotAvailable:
            basis = Basis.predicted
        if basis is not Basis.predicted and not replace:
            raise InvalidData(
                "register_holiday_schedule",
                "year",
                f"{year} is already official ({basis.value}); pass replace=True "
                f"(mediation-flow calendar import --replace) to replace its notice",
            )
        row = {
            "year": year,
            "holidays": json.dumps(sorted(d.isoformat() for d in schedule.holidays)),
            "workdays": json.dumps(sorted(d.isoformat() for d in schedule.workdays)),
            "source": source,
            "registered_at": at,
            "registered_by": actor.id,
        }
        with self._store.connect() as conn, self._store.writing(conn):
            self._store.lock_calendar(conn)
            self._store.put_holiday_schedule(conn, row)
            self._sync_calendar(conn)
            done = redate(
                self._store,
                conn,
                self.calendar,
                self._holder_of,
                at=at,
                today=self._day(at),
                actor=actor,
                reason=f"{year}: {source}",
                registered=basis is not Basis.predicted,
            )
        return self._redated(done)

    def settle_calendar(self, *, at: datetime | None = None) -> list[Event]:
        """Re-date every open provisional deadline on the calendar as it is now (after a
        package upgrade that brings a year's notice, say); returns the ``deadline_redated``
        events. Engines do this at start when they find deadlines to settle."""
        at = self._at(at, "settle_calendar")
        self._sync_calendar()
        return self._redate(at, SYSTEM, "calendar settled")

    def calendar_status(self, *, at: datetime | None = None) -> CalendarStatus:
        """Which years are official (package or registered) and which predicted, how many open
        deadlines are provisional, and a warning from 1 November when the next year is still
        predicted."""
        at = self._at(at, "calendar_status")
        self._sync_calendar()
        with self._store.connect() as conn, self._store.reading(conn):
            status = calendar_status(self._store, conn, self.calendar, self._day(at))
        unreadable = tuple(
            f"the registered notice for {year} is unreadable (edited in the database?): "
            f"register it again with mediation-flow calendar import --replace"
            for year in self._calendar_problems
        )
        return replace(status, warnings=unreadable + status.warnings)

    def _settle_at_start(self) -> None:
        """Re-date the provisional deadlines that the calendar now knows officially (a package
        upgrade brought their year): found with one count on the partial index."""
        covered = date(self.calendar.covered_years()[1] + 1, 1, 1)
        with self._store.connect() as conn, self._store.reading(conn):
            settled = self._store.count_provisional(conn, before=covered)
        if settled:
            self._redate(self._at(None), SYSTEM, "calendar settled at start")

    def _redate(self, at: datetime, actor: Actor, reason: str) -> list[Event]:
        with self._store.connect() as conn, self._store.writing(conn):
            done = redate(
                self._store,
                conn,
                self.calendar,
                self._holder_of,
                at=at,
                today=self._day(at),
                actor=actor,
                reason=reason,
            )
        return self._redated(done)

    def _redated(self, done: RedatePass) -> list[Event]:
        for held in done.held:
            self._log.warning("deadline_redate_held", **held)
        if done.events:
            self._log.info("deadlines_redated", cases=len(done.events), examined=done.examined)
        return [self._event(row) for row in done.events]

    def _holder_of(self, fingerprint: str, kind: str) -> Holder:
        compiled = self._flows.get(fingerprint)
        found = compiled.definition.deadline_map.get(kind) if compiled else None
        return found.holder if found is not None else "party"
