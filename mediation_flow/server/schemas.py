"""The request and response bodies of the HTTP service, as pydantic models.

Requests reuse the library's own models (an intake is :class:`mediation_flow.Intake`) and
enumerations (roles, channels, claim kinds, deadline statuses), so the OpenAPI document says what
the library accepts. Responses mirror the library's JSON forms (:meth:`mediation_flow.Case.to_json`,
:meth:`mediation_flow.outbox.FeedEvent.to_json`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mediation_flow.models import (
    Channel,
    ClaimKind,
    DeadlineStatus,
    PartyKind,
    PartyRole,
    Resolution,
)

__all__ = [
    "CaseOut",
    "DeadlineOut",
    "DocumentIn",
    "EventOut",
    "EventsPage",
    "FeedEventOut",
    "FireIn",
    "HandoffExportIn",
    "HandoffResultOut",
    "Problem",
]


class Problem(BaseModel):
    """RFC 9457 problem details; the error's facts are further members."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    error: str


class PartyOut(BaseModel):
    kind: PartyKind
    role: PartyRole
    name: str
    #: Masked (``430102********1238``) unless the export asked for clear text.
    id_number: str | None = None
    phone: str | None = None
    account: str | None = None


class ClaimOut(BaseModel):
    kind: ClaimKind
    amount: str


class CaseNumberOut(BaseModel):
    key: str
    label: str
    number: str
    prefix: str
    year: int
    seq: int
    issued_on: date
    event_seq: int


class CaseOut(BaseModel):
    """A case as :meth:`mediation_flow.Case.to_json` gives it (personal data masked)."""

    id: int
    serial: str
    region: str
    state: str
    state_label: str
    channel: Channel | None
    version: int
    resolution: Resolution | None
    opened_at: datetime
    updated_at: datetime
    received_on: date
    worker_count: int
    is_migrant_worker: bool
    knew_of_infringement_on: date | None
    employment_ended_on: date | None
    limitation_expires_on: date | None
    flow_fingerprint: str
    handed_over_to: str | None
    numbers: list[CaseNumberOut]
    attributes: dict[str, Any]
    parties: list[PartyOut]
    claims: list[ClaimOut]


class EventOut(BaseModel):
    seq: int
    trigger: str
    source: str
    dest: str
    actor_id: str
    actor_role: str
    at: datetime
    data: dict[str, Any]
    warnings: list[str]
    hash: str | None


class DeadlineOut(BaseModel):
    id: int
    kind: str
    party: str | None
    status: DeadlineStatus
    starts_on: date
    due: date
    unit: str
    length: int | None
    provisional: bool


class FireIn(BaseModel):
    """A trigger to fire (flow.md §3) with the data it needs."""

    model_config = ConfigDict(extra="forbid")

    trigger: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    #: Refuse (409 concurrent-update) unless the case is still at this version.
    expected_version: int | None = Field(default=None, ge=1, lt=2**31)


class FeedEventOut(BaseModel):
    id: int
    case_id: int
    serial: str
    region: str
    seq: int
    trigger: str
    source: str
    dest: str
    actor_id: str
    actor_role: str
    at: datetime
    data: dict[str, Any]
    warnings: list[str]
    hash: str | None


class EventsPage(BaseModel):
    """Events of the feed after a cursor; pass ``next_after`` as ``after`` for the next page."""

    events: list[FeedEventOut]
    next_after: int


class HandoffExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_org: str = Field(min_length=1, max_length=200)
    hold: bool = True


class HandoffResultOut(BaseModel):
    case_id: int
    outcome: Literal["created", "updated", "returned", "unchanged"]
    new_events: int
    signed_by: str | None


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=64)
    format: Literal["html", "docx"] = "html"
    values: dict[str, Any] = Field(default_factory=dict)
