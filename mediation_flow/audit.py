"""The tamper-evident history: hashing events into a chain, replaying a history through its
flow, and verifying a case.

Each event row carries ``hash = SHA-256(previous event's hash, this event's canonical content)``
and the case row carries the hash of its last event, the head of the chain. Editing an event's
content breaks its hash; deleting, inserting or reordering events breaks the chain at the next
event (or at the head); the open_case event holds a digest of the parties and claims, so editing
them shows too. Replaying the events through the flow checks that the stored state is the one
the history leads to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.models import Claim, Event, Party

__all__ = [
    "Replay",
    "Verification",
    "derived_problems",
    "event_hash",
    "intake_digest",
    "replay",
    "verify_case",
]

_EVENT_FIELDS = (
    "case_id",
    "seq",
    "trigger",
    "source",
    "dest",
    "actor_id",
    "actor_role",
    "at",
    "data",
    "warnings",
)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _at(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(previous: str | None, event: Mapping[str, Any]) -> str:
    """The chain hash of an event (an event row or the fields of an :class:`Event`)."""
    content = {name: event[name] for name in _EVENT_FIELDS}
    content["at"] = _at(content["at"])
    content["warnings"] = list(content["warnings"] or ())
    payload = (previous or "") + "\n" + _canonical(content)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def intake_digest(parties: Iterable[Party | Any], claims: Iterable[Claim | Any]) -> str:
    """A digest of a case's parties and claims, stored in its open_case event."""
    content = {
        "parties": [[str(p.kind), str(p.role), p.name, p.id_number, p.phone] for p in parties],
        "claims": [[str(c.kind), str(Decimal(c.amount).quantize(Decimal("0.01")))] for c in claims],
    }
    return hashlib.sha256(_canonical(content).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Replay:
    """The outcome of replaying a history: the state it ends in, and its problems."""

    state: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def replay(flow: FlowDefinition, events: Sequence[Event]) -> Replay:
    """Walk ``events`` (oldest first) through ``flow``."""
    problems: list[str] = []
    reminders = {k.expiry_event for k in flow.deadline_kinds}
    state: str | None = None
    for expected_seq, event in enumerate(events, start=1):
        where = f"event {event.seq} ({event.trigger})"
        if event.seq != expected_seq:
            problems.append(f"{where}: sequence number {event.seq}, expected {expected_seq}")
        if expected_seq == 1:
            if event.trigger != "open_case" or event.dest != flow.initial:
                problems.append(f"{where}: a history starts with open_case into {flow.initial}")
            state = event.dest
            continue
        if event.source != state:
            problems.append(f"{where}: starts from {event.source!r} but the case was in {state!r}")
        if event.trigger in reminders and event.source == event.dest:
            pass  # an expiry recorded without a transition
        elif event.trigger == "early_warning" and event.source == event.dest:
            pass  # an alert recorded on the case (mediation_flow.early_warning)
        elif event.trigger == "deadline_redated" and event.source == event.dest:
            pass  # due dates re-dated on a registered notice (mediation_flow.redating)
        elif flow.find(event.trigger, event.source, event.dest) is None:
            problems.append(
                f"{where}: the flow has no edge {event.source} --{event.trigger}--> {event.dest}"
            )
        state = event.dest
    return Replay(state, problems)


@dataclass(frozen=True)
class Verification:
    """The result of verifying one case: ``ok``, or the problems, each naming the event."""

    case_id: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_case(
    flow: FlowDefinition,
    case_id: int,
    state: str,
    head: str | None,
    events: Sequence[Event],
    parties: Sequence[Party],
    claims: Sequence[Claim],
    *,
    chain_id: int | None = None,
) -> Verification:
    """Check a case's hash chain, its intake digest and its state against its history.

    ``chain_id`` is the case id the events were hashed with, when it is not ``case_id`` (a case
    that came in a handoff package keeps the id of the system where it was opened)."""
    problems: list[str] = []
    previous: str | None = None
    for event in events:
        if event.hash is None:
            problems.append(
                f"event {event.seq} ({event.trigger}) has no hash (written before "
                f"the hash chain existed, or the hash was removed)"
            )
            previous = None
            continue
        if event.hash != event_hash(previous, _fields(event, chain_id)):
            problems.append(
                f"event {event.seq} ({event.trigger}): hash mismatch: the event was edited, or "
                f"an event before it was deleted, inserted or reordered"
            )
        previous = event.hash
    if events and head != events[-1].hash:
        problems.append(
            f"the case's chain head does not match its last event {events[-1].seq}: "
            f"events after it were deleted, or the head was changed"
        )
    if events and events[0].trigger == "open_case":
        digest = events[0].data.get("intake_digest")
        # Parties added in arbitration (add_party, AR 46) come after the intake's.
        added = sum(1 for e in events if e.trigger == "add_party")
        intake_parties = list(parties)[: len(parties) - added] if added else parties
        if digest is not None and digest != intake_digest(intake_parties, claims):
            problems.append("the parties or claims differ from those recorded at intake (event 1)")
    outcome = replay(flow, events)
    problems.extend(outcome.problems)
    if outcome.state is not None and outcome.state != state:
        problems.append(
            f"the stored state {state!r} is not the state the history leads to ({outcome.state!r})"
        )
    return Verification(case_id, problems)


def _fields(event: Event, chain_id: int | None = None) -> dict[str, Any]:
    fields = event.as_dict()
    if chain_id is not None:
        fields["case_id"] = chain_id
    return fields


def derived_problems(
    flow: FlowDefinition,
    case: Any,
    events: Sequence[Event],
    number_rows: Sequence[str],
) -> list[str]:
    """The case columns that follow from its history, derived from the events and compared
    with the stored ones: the version, the time of the last change, the serial issued at intake,
    the resolution, and the case numbers (as the events issued them, the case's attributes and
    the number rows)."""
    if not events:
        return ["the case has no history: its events were deleted"]
    problems: list[str] = []
    if case.version != len(events):
        problems.append(
            f"the stored version {case.version} is not the number of events ({len(events)})"
        )
    if _at(case.updated_at) != _at(events[-1].at):
        problems.append("the case's last change is not the time of its last event")
    serial = events[0].data.get("serial") if events[0].trigger == "open_case" else None
    if serial is not None and serial != case.serial:
        problems.append(f"the serial {case.serial} is not the one issued at intake")
    resolution: str | None = None
    for event in events[1:]:
        edge = flow.find(event.trigger, event.source, event.dest)
        if edge is None:
            continue  # an expiry or an alert recorded without a transition
        if edge.resolution is not None:
            resolution = edge.resolution.value
        elif event.dest not in ("closed", "archived"):
            resolution = None
    if resolution != case.resolution:
        problems.append(
            f"the stored resolution {case.resolution!r} is not the one the history leads to "
            f"({resolution!r})"
        )
    issued = sorted(
        str(e.data["case_number"].get("number"))
        for e in events
        if isinstance(e.data.get("case_number"), Mapping)
    )
    recorded = sorted(
        str(n.get("number"))
        for n in case.attributes.get("case_numbers", ())
        if isinstance(n, Mapping)
    )
    if issued and recorded != issued:
        problems.append(
            "the case numbers in the case's attributes are not the ones its events issued"
        )
    if issued and sorted(number_rows) != issued:
        problems.append("the case-number rows are not the numbers the case's events issued")
    return problems
