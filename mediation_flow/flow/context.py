"""The context a guard, a condition or an effect sees when a trigger is evaluated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mediation_flow.errors import InvalidData
from mediation_flow.models import Actor, Claim, Party, Role, canonical_party, party_kind_of
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
    #: Parties this command adds (``add_party``); the engine stores them with the event.
    added_parties: list[Party] = field(default_factory=list)

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
    def act_day(self) -> date:
        """The day a party's filing counts as made: its postmark (``data["posted_on"]``; CPL 85
        ¶4: a filing posted before the period ends is in time), else today."""
        posted = self.data.get("posted_on")
        return posted if isinstance(posted, date) and posted <= self.today else self.today

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

    @property
    def by_kind(self) -> str | None:
        """The kind of the acting party (``"worker"``, ``"employer"``), ``"both"``, or None:
        ``data["by"]`` may name a party by its id (``"worker-2"``)."""
        by = self.by
        if by is None or by == "both":
            return by
        return party_kind_of(by)

    def person(self, key: str, field: str = "by") -> str:
        """The id of the party ``key`` names: a party id of the case, or ``"worker"`` /
        ``"employer"`` when the case has exactly one party of that kind (flow.md §6). Raises
        ``InvalidData`` naming ``field`` otherwise."""
        if key in ("worker", "employer"):
            of_kind = [p.id for p in self.parties if p.kind.value == key]
            if len(of_kind) == 1:
                return of_kind[0]
            if not of_kind:
                # A case stored without parties of this kind (not from intake): the first one.
                return canonical_party(key)
            raise InvalidData(
                self.trigger,
                field,
                f"the case has {len(of_kind)} {key} parties: name one by its id "
                f"({', '.join(of_kind)}) (LDI-1 17)",
            )
        if key not in {p.id for p in self.parties}:
            ids = ", ".join(p.id for p in self.parties)
            raise InvalidData(self.trigger, field, f"{key!r} is not a party of the case ({ids})")
        return key

    def persons(self, kind: str) -> list[str]:
        """The ids of the case's parties of ``kind``, in intake order."""
        found = [p.id for p in self.parties if p.kind.value == kind]
        return found or [canonical_party(kind)]

    @cached_property
    def claims(self) -> tuple[Claim, ...]:
        return self.load_claims()

    @cached_property
    def parties(self) -> tuple[Party, ...]:
        return self.load_parties()

    def open_deadlines(self, kind: str, party: str | None = None) -> list[DeadlineRecord]:
        """The open deadlines of ``kind`` (of the person ``party``: a party id, or a kind for
        the first party of that kind)."""
        return [
            d
            for d in self.deadlines
            if d.kind == kind and d.is_open and (party is None or _same_party(d.party, party))
        ]

    def latest_deadline(self, kind: str, party: str | None = None) -> DeadlineRecord | None:
        """The most recently started deadline of ``kind`` (for ``party``), whatever its status,
        except cancelled ones."""
        found = [
            d
            for d in self.deadlines
            if d.kind == kind
            and d.status != "cancelled"
            and (party is None or _same_party(d.party, party))
        ]
        return max(found, key=lambda d: (d.starts_on, d.id or 0), default=None)


def _same_party(key: str | None, party: str) -> bool:
    """Whether a deadline's party key is ``party``'s: keys of cases opened before party ids are
    kinds, meaning the first party of that kind."""
    return key is not None and canonical_party(key) == canonical_party(party)
