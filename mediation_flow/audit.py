"""Replaying a case's history: the state its events lead to, and whatever in the history the
flow cannot explain (a gap in the sequence, an event whose source is not the state before it,
an edge the flow does not have)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.models import Event

__all__ = ["Replay", "replay"]


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
        elif flow.find(event.trigger, event.source, event.dest) is None:
            problems.append(
                f"{where}: the flow has no edge {event.source} --{event.trigger}--> {event.dest}"
            )
        state = event.dest
    return Replay(state, problems)
