"""Internal records: what one command loads from the database and works on.

They are plain mutable dataclasses shared by :mod:`mediation_flow.storage` (which reads and
writes them) and the flow, deadline and engine code (which decides what changes). They live for
one command and are then dropped; the public, immutable views are in :mod:`mediation_flow.models`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mediation_flow.models import DeadlineStatus

__all__ = ["CaseRecord", "DeadlineRecord"]


@dataclass(slots=True)
class CaseRecord:
    id: int
    region: str
    state: str
    version: int
    flow_fingerprint: str
    resolution: str | None
    worker_count: int
    is_migrant_worker: bool
    knew_of_infringement_on: date | None
    employment_ended_on: date | None
    received_on: date
    limitation_started_on: date | None
    limitation_expires_on: date | None
    opened_at: datetime
    updated_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    #: The hash of the last event: the head of the case's hash chain.
    event_hash: str | None = None
    serial: str = ""
    #: The case id the events are hashed with (the id where the case was opened; this id for
    #: a case opened here).
    chain_id: int = 0
    #: Handed over to this organisation (export_handoff with hold), since then.
    held_by: str | None = None
    held_since: datetime | None = None

    def __post_init__(self) -> None:
        if not self.chain_id:
            self.chain_id = self.id


#: The stored fields of a deadline but its id and case, in the order of its table's columns (the
#: repository's writes, the ledger's digest and the handoff replay's rows use this one list).
DEADLINE_FIELDS = (
    "kind",
    "party",
    "status",
    "starts_on",
    "unit",
    "length",
    "extended",
    "paused_on",
    "due",
    "provisional",
    "estimate",
    "basis",
)


@dataclass(slots=True)
class DeadlineRecord:
    """One deadline row. ``length`` counts the kind's unit and already includes extensions and
    suspended days, so ``due`` can always be recomputed from ``starts_on`` and ``length``."""

    id: int | None
    case_id: int
    kind: str
    party: str | None
    status: DeadlineStatus
    starts_on: date
    unit: str
    length: int | None
    due: date
    extended: int = 0
    paused_on: date | None = None
    #: The due date was computed on a predicted holiday schedule (a year with no notice yet):
    #: ``due`` is then the conservative date the engine acts on and ``estimate`` the predicted
    #: date (:class:`mediation_flow.duedates.Due`).
    provisional: bool = False
    estimate: date | None = None
    #: Where the schedule of the days it was computed on comes from (``Basis``).
    basis: str = "package"
    #: Set when this command changed the record; the repository writes only changed ones.
    dirty: bool = False

    def set_status(self, status: DeadlineStatus) -> None:
        self.status = status
        self.dirty = True

    @property
    def is_open(self) -> bool:
        return self.status in (DeadlineStatus.pending, DeadlineStatus.paused)

    def values(self) -> dict[str, Any]:
        """The ``mf_deadline`` columns of the record but its id."""
        row = {"case_id": self.case_id, **{n: getattr(self, n) for n in DEADLINE_FIELDS}}
        row["status"] = self.status.value
        return row
