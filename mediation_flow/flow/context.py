"""The context a guard, a condition or an effect sees when a trigger is evaluated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mediation_flow.models import Actor, Claim, Party, Role
from mediation_flow.records import CaseRecord, DeadlineRecord

if TYPE_CHECKING:
    from mediation_flow.calendar import Calendar
    from mediation_flow.flow.definition import FlowDefinition, TransitionDef

__all__ = ["Context"]


@dataclass(eq=False)
class Context:
    """One command under evaluation: the case as loaded, the trigger and its parsed data, who
    acts and when. Claims and parties are loaded from the database only if a guard asks."""

    case: CaseRecord
    trigger: str
    data: dict[str, Any]
    actor: Actor
    at: datetime
    today: date
    deadlines: list[DeadlineRecord]
    flow: FlowDefinition
    calendar: Calendar
    load_claims: Callable[[], tuple[Claim, ...]]
    load_parties: Callable[[], tuple[Party, ...]]
    #: The deadline whose expiry fired this trigger (``tick``), else None.
    expiring: DeadlineRecord | None = None
    #: The transition taken; set while the trigger fires.
    transition: TransitionDef | None = None
    #: ``engine.triggers``: evaluate without the command's data.
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.case.state

    @property
    def event_day(self) -> date:
        """The day the act takes effect: today, or for a transition fired by an expiry the day
        after the due day (a deadline expires at the end of its due day, flow.md §4), however
        late ``tick`` ran."""
        if self.expiring is not None:
            return self.expiring.due + timedelta(days=1)
        return self.today

    @property
    def by(self) -> str | None:
        """Which party performs the act: ``data["by"]``, else the actor's own party role
        (flow.md §6 "Who acts")."""
        by = self.data.get("by")
        if by is not None:
            return str(by)
        if self.actor.role in (Role.worker, Role.employer):
            return self.actor.role.value
        return None

    @cached_property
    def claims(self) -> tuple[Claim, ...]:
        return self.load_claims()

    @cached_property
    def parties(self) -> tuple[Party, ...]:
        return self.load_parties()

    def open_deadlines(self, kind: str, party: str | None = None) -> list[DeadlineRecord]:
        return [
            d
            for d in self.deadlines
            if d.kind == kind and d.is_open and (party is None or d.party == party)
        ]

    def latest_deadline(self, kind: str, party: str | None = None) -> DeadlineRecord | None:
        """The most recently started deadline of ``kind`` (for ``party``), whatever its status,
        except cancelled ones."""
        found = [
            d
            for d in self.deadlines
            if d.kind == kind and d.status != "cancelled" and (party is None or d.party == party)
        ]
        return max(found, key=lambda d: (d.starts_on, d.id or 0), default=None)
