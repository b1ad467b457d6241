"""A case's deadlines recomputed from its history, with no database.

:func:`replay_deadlines` starts from the opened case (the history's first event) and applies each
later event as the engine applied it when it was recorded: a transition through the case's
compiled flow (its recorded data parsed again, its edge's effects and deadline rules applied by
:func:`mediation_flow.deadlines.apply_transition` on the given calendar), an expiry (the deadline
the event names expires: it must be open, due on the day the event names, and past that day when
the event was recorded), a re-dating (``deadline_redated``: the named open provisional deadlines
are computed again), an early-warning alert (nothing). What comes out are the deadline records
the engine would hold for the case had it recorded the same history itself, on this calendar.

The handoff import (:mod:`mediation_flow.handoff`) stores these instead of the deadlines a
package lists, and compares the two (:func:`compare_deadlines`).

The in-memory part of firing, :func:`apply_fired`, is the engine's own: its write step
(``WriteStep._apply``) calls it, so a command and its replay cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mediation_flow.calendar import Calendar
from mediation_flow.deadlines import apply_transition
from mediation_flow.duedates import limitation_expiry, settle
from mediation_flow.errors import CalendarNotAvailable, InvalidActor, MediationFlowError
from mediation_flow.flow import guards as _guards
from mediation_flow.flow.compiler import CompiledFlow
from mediation_flow.flow.context import Context
from mediation_flow.flow.data import parse_data, to_json
from mediation_flow.flow.definition import TransitionDef
from mediation_flow.flow.effects import apply_effect
from mediation_flow.flow.guards import limitation_day
from mediation_flow.models import (
    SYSTEM,
    Actor,
    Claim,
    DeadlineStatus,
    Event,
    Party,
    Role,
    party_ids,
)
from mediation_flow.records import CaseRecord, DeadlineRecord

__all__ = [
    "DeadlineDifference",
    "ReplayError",
    "compare_deadlines",
    "deadline_rows",
    "replay_deadlines",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Keys the engine adds to an event's data after the command's own (not parsed again).
_ENGINE_KEYS = ("case_number", "expired_deadline")
#: The case attributes set at intake, before the first transition (``Engine.open_case``).
_INTAKE_ATTRIBUTES = ("collective", "representatives", "intake")
#: How far apart two systems' due dates for the same period may be when one of them stands on a
#: predicted holiday schedule: a prediction moves a period by the holidays it guesses wrong (a
#: Spring Festival or National Day run is at most nine days), never by more than a month.
MAX_CALENDAR_SHIFT_DAYS = 31


class ReplayError(MediationFlowError):
    """The history cannot be replayed: an event the flow cannot apply, data it cannot parse, an
    expiry of a deadline that is not there. The message names the event, never its values."""


def replay_deadlines(
    flow: CompiledFlow,
    calendar: Calendar,
    case: CaseRecord,
    parties: Sequence[Party],
    claims: Sequence[Claim],
    events: Sequence[Event],
) -> list[DeadlineRecord]:
    """The deadlines of a case whose history is ``events``, recomputed on ``calendar``.

    ``case`` is the case as it was opened: its region, intake dates and intake attributes; its
    state, version, resolution, limitation period, last change and other attributes are
    replayed (the record is changed in place).
    ``parties`` are every party of the case, those added in arbitration (``add_party``) last.
    Raises :class:`ReplayError` when an event cannot be applied."""
    if not events or events[0].trigger != "open_case":
        raise ReplayError("a history starts with the open_case event")
    case.state = flow.definition.initial
    case.version = 1
    case.resolution = None
    case.updated_at = events[0].at
    received = events[0].data.get("received_on")
    case.attributes = {
        **{k: case.attributes[k] for k in _INTAKE_ATTRIBUTES if k in case.attributes},
        "limitation_interruptions": [received if isinstance(received, str) else ""],
    }
    try:
        # LDMAL 27 ¶2: the first claim interrupts the limitation period (Engine.open_case).
        limitation = limitation_expiry(
            calendar,
            case.region,
            knew_of_infringement_on=case.knew_of_infringement_on,
            employment_ended_on=case.employment_ended_on,
            claim_kinds=[c.kind for c in claims],
            interruptions=[case.received_on],
        )
    except CalendarNotAvailable as exc:
        raise ReplayError(
            f"event 1 (open_case): the limitation falls where the calendar is unknown ({exc})"
        ) from None
    case.limitation_expires_on = limitation["expires_on"]
    if limitation["provisional"]:
        case.attributes["limitation_provisional"] = True
    ids = party_ids(p.kind for p in parties)
    everyone = tuple(replace(p, id=pid) for p, pid in zip(parties, ids, strict=True))
    added = sum(1 for e in events if e.trigger == "add_party")
    present = len(everyone) - added
    if present < 0:
        raise ReplayError("the history adds more parties than the case has")
    deadlines: list[DeadlineRecord] = []
    reminders = {k.expiry_event: k.id for k in flow.definition.deadline_kinds}
    for event in events[1:]:
        where = f"event {event.seq} ({event.trigger})"
        try:
            if event.source == event.dest and event.trigger in reminders:
                _expire(deadlines, event, where)
            elif event.source == event.dest and event.trigger == "early_warning":
                pass  # an alert: no deadline changes
            elif event.source == event.dest and event.trigger == "deadline_redated":
                _redate(flow, calendar, case, deadlines, event, where)
            else:
                present = _fire(
                    flow, calendar, case, everyone[:present], claims, deadlines, event, where
                )
        except CalendarNotAvailable as exc:
            raise ReplayError(
                f"{where}: a due date falls where the calendar is unknown ({exc})"
            ) from None
        except ReplayError:
            raise
        except MediationFlowError as exc:
            raise ReplayError(f"{where}: {type(exc).__name__} in the replay") from None
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            # Data no command of the flow could have recorded (the history came from elsewhere).
            raise ReplayError(
                f"{where}: its data cannot be applied ({type(exc).__name__})"
            ) from None
        case.state = event.dest
        case.version = event.seq
        case.updated_at = event.at
    return deadlines


def _actor(event: Event) -> Actor:
    """Who acted, as far as the rules care: the role (a party's role names the acting party)."""
    try:
        role = Role(event.actor_role)
    except ValueError:
        raise ReplayError(f"event {event.seq}: unknown role") from None
    if role is Role.system:
        return SYSTEM
    try:
        return Actor("history", role)
    except InvalidActor:  # pragma: no cover - any role but system builds
        raise ReplayError(f"event {event.seq}: unknown role") from None


def _named(deadlines: list[DeadlineRecord], named: Any, where: str) -> DeadlineRecord:
    """The deadline an event names by ``{"kind", "party", "due"}``: the open one of that kind
    and party (the one due on that day, if several), else the latest one."""
    if not isinstance(named, Mapping):
        raise ReplayError(f"{where}: the expired deadline is not named")
    kind, party, due = named.get("kind"), named.get("party"), named.get("due")
    same = [d for d in deadlines if d.kind == kind and d.party == party]
    open_ = [d for d in same if d.status == DeadlineStatus.pending]
    for d in open_:
        if d.due.isoformat() == due:
            return d
    if open_:
        return min(open_, key=lambda d: d.due)
    if same:
        return same[-1]
    raise ReplayError(f"{where}: names a deadline {kind} the history never started")


def _expiring(
    deadlines: list[DeadlineRecord], named: Any, event: Event, where: str
) -> DeadlineRecord:
    """The deadline an expiry closes: open here, due on the day the event names (the history's
    own due date, not the event's word for it), and past its due day when the event was
    recorded (an expiry fires from the day after the due day)."""
    d = _named(deadlines, named, where)
    if d.status != DeadlineStatus.pending:
        raise ReplayError(f"{where}: expires the deadline {d.kind}, which is not open")
    if named.get("due") != d.due.isoformat():
        raise ReplayError(
            f"{where}: names the deadline {d.kind} as due on another day than the "
            f"{d.due.isoformat()} its history gives"
        )
    if event.at.astimezone(SHANGHAI).date() <= d.due:
        raise ReplayError(
            f"{where}: expires the deadline {d.kind} before its due day {d.due.isoformat()} ended"
        )
    return d


def _expire(deadlines: list[DeadlineRecord], event: Event, where: str) -> None:
    """An expiry recorded without a transition: the deadline ran out."""
    _expiring(deadlines, event.data.get("expired_deadline"), event, where).set_status(
        DeadlineStatus.expired
    )


def _redate(
    flow: CompiledFlow,
    calendar: Calendar,
    case: CaseRecord,
    deadlines: list[DeadlineRecord],
    event: Event,
    where: str,
) -> None:
    """A holiday notice re-dated provisional deadlines: compute them again on this calendar.

    Only a deadline this replay holds open and provisional is re-dated (one computed on a
    registered schedule here has its official date already). An entry ``held`` kept the date
    already relied on when the official one had passed: that date must be the one this replay
    had before the re-dating (a held date is never a new one), and it is kept here too when
    this calendar gives the same official date."""
    entries = event.data.get("deadlines")
    if not isinstance(entries, list):
        raise ReplayError(f"{where}: no re-dated deadlines")
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ReplayError(f"{where}: a re-dated deadline is not named")
        d = _named(
            deadlines,
            {"kind": entry.get("kind"), "party": entry.get("party"), "due": entry.get("old_due")},
            where,
        )
        if not d.is_open:
            raise ReplayError(f"{where}: re-dates the deadline {d.kind}, which is not open")
        if not d.provisional:
            continue  # computed on a registered schedule here: nothing to re-date
        before = d.due
        if entry.get("held") is True and entry.get("new_due") != before.isoformat():
            raise ReplayError(
                f"{where}: holds the deadline {d.kind} on a date that is not the one it had "
                "before the re-dating"
            )
        holder = flow.definition.deadline_map[d.kind].holder
        settle(calendar, d, case.region, holder, force=True)
        if (
            entry.get("held") is True
            and entry.get("official_due") == d.due.isoformat()
            and before > d.due
        ):
            d.due = before  # never moved into the past (mediation_flow.redating)


def _edge(flow: CompiledFlow, ctx: Context, event: Event, where: str) -> TransitionDef:
    """The edge the event took: the only one of its trigger from its source to its dest, or
    the one the flow's branch conditions choose among several."""
    edges = [
        t
        for t in flow.candidates(event.source, event.trigger)
        if (t.dest or event.source) == event.dest
    ]
    if len(edges) == 1:
        return edges[0]
    if not edges:
        raise ReplayError(f"{where}: the flow has no such edge")
    try:
        tdef, dest = flow.fire(ctx)
    except MediationFlowError:
        raise ReplayError(f"{where}: no branch of the trigger applies to its data") from None
    if dest != event.dest or tdef not in edges:
        raise ReplayError(f"{where}: its data choose another branch of the trigger")
    return tdef


def _fire(
    flow: CompiledFlow,
    calendar: Calendar,
    case: CaseRecord,
    parties: tuple[Party, ...],
    claims: Sequence[Claim],
    deadlines: list[DeadlineRecord],
    event: Event,
    where: str,
) -> int:
    """Apply one transition event; return how many parties the case has after it."""
    if event.source != case.state:
        raise ReplayError(f"{where}: starts from another state than the history reached")
    raw = {k: v for k, v in event.data.items() if k not in _ENGINE_KEYS}
    try:
        data = parse_data(flow.data_fields(event.source, event.trigger), raw, flow.definition.names)
    except KeyError:
        raise ReplayError(f"{where}: its data has a field the trigger does not take") from None
    except ValueError as exc:
        field = getattr(exc, "field", "data")
        raise ReplayError(f"{where}: its field {field!r} does not parse") from None
    expiring: DeadlineRecord | None = None
    if "expired_deadline" in event.data:
        # The transition took effect the day after the deadline's due day.
        record = _expiring(deadlines, event.data["expired_deadline"], event, where)
        record.set_status(DeadlineStatus.expired)
        expiring = replace(record)
    ctx = Context(
        case=case,
        trigger=event.trigger,
        data=data,
        actor=_actor(event),
        at=event.at,
        today=event.at.astimezone(SHANGHAI).date(),
        deadlines=deadlines,
        flow=flow.definition,
        calendar=calendar,
        load_claims=lambda: tuple(claims),
        load_parties=lambda: parties,
        expiring=expiring,
    )
    tdef = _edge(flow, ctx, event, where)
    missing = [f.name for f in tdef.data if f.required and f.name not in data]
    if missing:
        raise ReplayError(f"{where}: its data lacks the required {', '.join(missing)}")
    ctx.transition = tdef
    apply_fired(ctx, tdef, event.dest, calendar)
    return len(parties) + len(ctx.added_parties)


def apply_fired(ctx: Context, tdef: TransitionDef, dest: str, calendar: Calendar) -> None:
    """Apply a decided transition to ``ctx.case`` and ``ctx.deadlines`` in memory: the recorded
    fields and effects, warnings, deadlines, the limitation period, the resolution. The engine's
    write step (``WriteStep._apply``) and the replay of a handed-over history both run it."""
    case = ctx.case
    updates: dict[str, Any] = {
        f.name: to_json(ctx.data[f.name]) for f in tdef.data if f.record and f.name in ctx.data
    }
    for spec in tdef.effects:
        updates.update(apply_effect(spec, ctx))
    ctx.warnings.extend(w for w in tdef.warnings if _guards.warning(w, ctx))
    apply_transition(ctx, tdef, dest)
    attributes = {**case.attributes, **updates}
    if tdef.interrupts_limitation:
        # LDMAL 27 ¶2: the period restarts from the interruption, if it was still running.
        day = limitation_day(ctx).isoformat()
        stops = [s for s in attributes.get("limitation_interruptions", []) if s]
        if day not in stops:
            stops.append(day)
        attributes["limitation_interruptions"] = stops
        limitation = limitation_expiry(
            calendar,
            case.region,
            knew_of_infringement_on=case.knew_of_infringement_on,
            employment_ended_on=case.employment_ended_on,
            claim_kinds=[c.kind for c in ctx.claims],
            interruptions=[date.fromisoformat(d) for d in stops],
        )
        case.limitation_expires_on = limitation["expires_on"]
        attributes["limitation_provisional"] = limitation["provisional"] or None
    case.attributes = {k: v for k, v in attributes.items() if v is not None}
    if tdef.resolution is not None:
        case.resolution = tdef.resolution.value
    elif dest not in ("closed", "archived"):
        case.resolution = None


def deadline_rows(deadlines: Sequence[DeadlineRecord]) -> list[dict[str, Any]]:
    """The ``mf_deadline`` rows of recomputed deadlines (without the case id)."""
    return [{k: v for k, v in d.values().items() if k != "case_id"} for d in deadlines]


@dataclass(frozen=True)
class DeadlineDifference:
    """A deadline whose due date here differs from the package's, for a reason a calendar
    explains (one of the two stands on a predicted holiday schedule)."""

    kind: str
    party: str | None
    starts_on: date
    theirs: date
    ours: date
    ours_provisional: bool
    theirs_provisional: bool


def _label(kind: str, party: str | None, starts_on: date) -> str:
    who = f" of {party}" if party else ""
    return f"{kind}{who} from {starts_on.isoformat()}"


def compare_deadlines(
    ours: Sequence[DeadlineRecord], theirs: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[DeadlineDifference]]:
    """Compare the recomputed deadlines with a package's (``Contents.deadlines``).

    Returns the problems (each a sentence naming the deadline and both values; no personal
    data) and the due dates that differ for a reason a calendar explains. The two lists must
    hold the same deadlines in the same order (kind, party, start), each open or closed alike,
    and an open one with the same status, unit, length, extensions and pause. Their due dates
    may differ only when one side computed its date on a predicted holiday schedule
    (``provisional``) and by at most :data:`MAX_CALENDAR_SHIFT_DAYS`; two dates both on
    registered schedules must agree. A closed deadline's due date and exact status (expired or
    cancelled, which follows from its due date) are not compared: it is history, and the
    history's own events say what happened to it."""
    problems: list[str] = []
    differences: list[DeadlineDifference] = []
    for i in range(max(len(ours), len(theirs))):
        if i >= len(ours):
            t = theirs[i]
            problems.append(
                f"the package lists a deadline {_label(t['kind'], t['party'], t['starts_on'])} "
                "that its history never started"
            )
            continue
        o = ours[i]
        if i >= len(theirs):
            problems.append(
                f"the package leaves out the deadline {_label(o.kind, o.party, o.starts_on)} "
                "its history started"
            )
            continue
        t = theirs[i]
        mine = _label(o.kind, o.party, o.starts_on)
        if (o.kind, o.party, o.starts_on) != (t["kind"], t["party"], t["starts_on"]):
            problems.append(
                f"deadline {i + 1} is {_label(t['kind'], t['party'], t['starts_on'])} in the "
                f"package and {mine} in its history"
            )
            continue
        theirs_open = t["status"] in (DeadlineStatus.pending.value, DeadlineStatus.paused.value)
        if o.is_open != theirs_open:
            problems.append(
                f"the deadline {mine} is {t['status']} in the package and {o.status.value} in "
                "its history"
            )
            continue
        if not o.is_open:
            if o.due != t["due"]:
                differences.append(_difference(o, t))
            continue
        for name, here in (
            ("status", o.status.value),
            ("unit", o.unit),
            ("length", o.length),
            ("extended", o.extended),
            ("paused_on", o.paused_on),
        ):
            if here != t[name]:
                problems.append(
                    f"the open deadline {mine} has {name} {_shown(t[name])} in the package and "
                    f"{_shown(here)} in its history"
                )
        if o.due == t["due"]:
            continue
        explained = (o.provisional or bool(t["provisional"])) and abs(
            (o.due - t["due"]).days
        ) <= MAX_CALENDAR_SHIFT_DAYS
        if not explained:
            why = (
                "both on registered holiday schedules"
                if not (o.provisional or t["provisional"])
                else f"more than {MAX_CALENDAR_SHIFT_DAYS} days apart"
            )
            problems.append(
                f"the open deadline {mine} falls due {_shown(t['due'])} in the package and "
                f"{o.due.isoformat()} computed here from its history ({why})"
            )
            continue
        differences.append(_difference(o, t))
    return problems, differences


def _difference(o: DeadlineRecord, t: Mapping[str, Any]) -> DeadlineDifference:
    return DeadlineDifference(
        kind=o.kind,
        party=o.party,
        starts_on=o.starts_on,
        theirs=t["due"],
        ours=o.due,
        ours_provisional=o.provisional,
        theirs_provisional=bool(t["provisional"]),
    )


def _shown(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return repr(value)
