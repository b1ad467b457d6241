"""The flow as data: states, transitions, deadline kinds and the data each trigger takes.

A :class:`FlowDefinition` is an immutable value. Code that needs the flow (the compiler, the
engine, the CLI's ``states`` table) walks this one object; nothing keeps a second hand-written
copy. Guards, branch conditions and data types are referred to *by name*; the functions behind
the names live in :mod:`mediation_flow.flow.guards` and :mod:`mediation_flow.flow.data`. Because
the definition holds only names and numbers, it has a stable :attr:`~FlowDefinition.fingerprint`.

``extend`` returns a new definition with more states, transitions or deadline kinds; it is how a
regional flow is built from the national one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

from mediation_flow.errors import DuplicateDefinition, FlowDefinitionError
from mediation_flow.models import Channel, Resolution, Unit

__all__ = [
    "DataField",
    "DeadlineKind",
    "DeadlineOp",
    "FlowDefinition",
    "StateDef",
    "TransitionDef",
    "Unit",
]


@dataclass(frozen=True)
class DeadlineKind:
    """A kind of deadline (flow.md §4).

    ``expiry`` names the triggers the engine tries, in order, when the deadline expires (fired by
    the ``system`` actor); the first one legal in the case's state whose guards pass is fired.
    When none applies, an ``expiry_event`` is recorded instead (a reminder, or a window that just
    closes a guard). ``alive_in`` lists the states in which the deadline stays open: when the case
    moves to any other state, a pending deadline of this kind is cancelled.
    """

    id: str
    label_zh: str
    label_en: str
    unit: Unit
    length: int | None
    alive_in: tuple[str, ...]
    source: str
    max_extension: int = 0
    per_party: bool = False
    expiry: tuple[str, ...] = ()
    expiry_event: str = "deadline_expired"
    #: Data given to the expiry trigger, e.g. ``(("reason", "expired"),)`` for fail_mediation.
    expiry_data: tuple[tuple[str, str], ...] = ()
    statutory: bool = True
    #: Who must act within the period: ``"party"`` (a window to act, a right: while its due date
    #: is provisional it never closes before the latest date a notice could give) or
    #: ``"official"`` (an organisation's limit whose expiry opens the party's next step: it
    #: never opens it later than the earliest such date). See docs/deadlines.md.
    holder: Literal["party", "official"] = "party"


@dataclass(frozen=True)
class DeadlineOp:
    """What a transition (or entering a state) does to deadlines.

    ``op`` is one of:

    - ``start``: open a deadline of ``kind``, counted from ``start``: ``"event"`` (the date of
      the ``at`` of the command) or the name of a date field of the trigger's data. For a
      per-party kind, ``start`` names a per-party date field and one deadline opens for each
      party in ``parties`` whose date is given. For an agreed-date kind, the date *is* the due
      date and the deadline opens only when the field is given.
    - ``meet``: the act was done: open deadlines of ``kind`` become ``met``, or ``expired`` if
      their due day had already passed (for a per-party kind, only the acting party's, from
      ``data["by"]``).
    - ``cancel``: pending deadlines of ``kind`` become ``cancelled``.
    - ``restart``: cancel the open deadline of ``kind`` and start a new one from ``start``.
    - ``extend``: lengthen the open deadline of ``kind`` by ``data["days"]`` (default: the kind's
      ``max_extension``), counted from the original start (flow.md §4).
    - ``pause`` / ``resume``: stop the clock, and on resumption add the days it stood still.

    ``when`` names a condition (:mod:`mediation_flow.flow.guards`) that must hold for the op to
    apply, for example ``org_is_enterprise_committee``.

    A ``start`` op with ``before`` opens a deadline placed relative to another: due ``length``
    ``unit`` (``"wd"`` or ``"cd"``) before the open deadline of kind ``before`` ends, and placed
    again whenever that one moves (an extension, a suspension, a new start). It opens only while
    a deadline of kind ``before`` is open, and only if its day is still ahead.
    """

    op: Literal["start", "meet", "cancel", "restart", "extend", "pause", "resume"]
    kind: str
    start: str = "event"
    parties: tuple[str, ...] = ("worker", "employer")
    when: str | None = None
    #: Overrides the kind's length (judicial mediation: 15 cd ordinary, 7 cd simple).
    length: int | None = None
    #: A relative start: the kind of the deadline this one is placed before.
    before: str | None = None
    #: The unit of a relative start's ``length`` (``"wd"`` or ``"cd"``).
    unit: str | None = None


@dataclass(frozen=True)
class DataField:
    """A field of a trigger's ``data``: its name, its type (a name in
    :mod:`mediation_flow.flow.data`), whether it is required, and whether its value is recorded
    in the case's ``attributes``."""

    name: str
    type: str
    required: bool = False
    record: bool = False


@dataclass(frozen=True)
class StateDef:
    """A state: its id (flow.md §2), labels, channel, whether it is terminal, and the deadline
    ops run when a case enters it."""

    id: str
    label_zh: str
    label_en: str
    channel: Channel | None = None
    terminal: bool = False
    on_enter: tuple[DeadlineOp, ...] = ()


@dataclass(frozen=True)
class TransitionDef:
    """One edge of the flow: ``trigger`` from any of ``sources`` to ``dest`` (``None``: the case
    stays in its state, an internal transition).

    Several ``TransitionDef`` may share a trigger and source; they are tried in definition order
    and the first whose ``when`` condition holds is taken (for example ``issue_award`` goes to
    ``award_final`` when the award is final, else to ``award_nonfinal``). ``guards`` are then
    checked, each by name; a failing guard refuses the trigger with a reason.
    """

    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    label_zh: str
    label_en: str
    source: str = ""
    guards: tuple[str, ...] = ()
    when: str | None = None
    data: tuple[DataField, ...] = ()
    deadlines: tuple[DeadlineOp, ...] = ()
    #: Named effects (:mod:`mediation_flow.flow.effects`) that record case attributes.
    effects: tuple[str, ...] = ()
    #: Named warnings (:mod:`mediation_flow.flow.guards`): checked like guards, never blocking;
    #: their codes are stored in ``Event.warnings``.
    warnings: tuple[str, ...] = ()
    resolution: Resolution | None = None
    #: A limitation-interruption event (LDMAL 27 ¶2): the limitation period restarts on it.
    interrupts_limitation: bool = False
    #: Fired by the engine when a deadline expires; officers may still fire it by hand.
    automatic: bool = False
    #: The act of a party (application, suit, appeal, withdrawal): ``data["by"]`` names it.
    party_act: bool = False


@dataclass(frozen=True)
class FlowDefinition:
    """A whole flow: the national one, or a region's with its plugins' additions."""

    name: str
    states: tuple[StateDef, ...]
    transitions: tuple[TransitionDef, ...]
    deadline_kinds: tuple[DeadlineKind, ...]
    initial: str = "received"
    #: Names of the plugins whose additions are in this definition, in order.
    plugins: tuple[str, ...] = field(default=())
    #: The plugins' guards, conditions, warnings, effects and data types this flow resolves
    #: (:class:`~mediation_flow.flow.registry.FlowNames`; ``None``: the national names only).
    #: Functions, not data: not part of :meth:`as_dict` or the fingerprint.
    names: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._check()

    # -- look-ups ---------------------------------------------------------------------------------

    @cached_property
    def state_map(self) -> Mapping[str, StateDef]:
        return {s.id: s for s in self.states}

    @cached_property
    def deadline_map(self) -> Mapping[str, DeadlineKind]:
        return {d.id: d for d in self.deadline_kinds}

    @cached_property
    def relative_kinds(self) -> Mapping[str, DeadlineOp]:
        """The deadline kinds started relative to another (``DeadlineOp(before=...)``), each
        with the op that places it."""
        out: dict[str, DeadlineOp] = {}
        ops = [op for s in self.states for op in s.on_enter]
        ops += [op for t in self.transitions for op in t.deadlines]
        for op in ops:
            if op.before is not None:
                out.setdefault(op.kind, op)
        return out

    @cached_property
    def trigger_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.trigger for t in self.transitions))

    def state(self, state_id: str) -> StateDef:
        try:
            return self.state_map[state_id]
        except KeyError:
            raise FlowDefinitionError(f"flow {self.name!r} has no state {state_id!r}") from None

    def transitions_from(self, state_id: str) -> tuple[TransitionDef, ...]:
        return tuple(t for t in self.transitions if state_id in t.sources)

    def find(self, trigger: str, source: str, dest: str) -> TransitionDef | None:
        """The transition an event ``source --trigger--> dest`` took, if the flow has it."""
        for t in self.transitions:
            if t.trigger == trigger and source in t.sources and (t.dest or source) == dest:
                return t
        return None

    # -- identity ---------------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description; the basis of the fingerprint."""
        return {
            "name": self.name,
            "initial": self.initial,
            "plugins": list(self.plugins),
            "states": [_plain(asdict(s)) for s in self.states],
            "transitions": [_plain(asdict(t)) for t in self.transitions],
            "deadline_kinds": [_kind_dict(d) for d in self.deadline_kinds],
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> FlowDefinition:
        """The definition :meth:`as_dict` described (as stored in ``mf_flow.definition``), with
        the same fingerprint: how a deployment keeps running the cases opened under an earlier
        release's flow (``Engine(url, flows=[...])``; docs/deployment.md)."""

        def ops(items: Iterable[Mapping[str, Any]]) -> tuple[DeadlineOp, ...]:
            return tuple(DeadlineOp(**{**op, "parties": tuple(op["parties"])}) for op in items)

        try:
            states = tuple(
                StateDef(
                    **{
                        **st,
                        "channel": Channel(st["channel"]) if st.get("channel") else None,
                        "on_enter": ops(st.get("on_enter", ())),
                    }
                )
                for st in value["states"]
            )
            transitions = tuple(
                TransitionDef(
                    **{
                        **t,
                        "sources": tuple(t["sources"]),
                        "guards": tuple(t.get("guards", ())),
                        "data": tuple(DataField(**f) for f in t.get("data", ())),
                        "deadlines": ops(t.get("deadlines", ())),
                        "effects": tuple(t.get("effects", ())),
                        "warnings": tuple(t.get("warnings", ())),
                        "resolution": Resolution(t["resolution"]) if t.get("resolution") else None,
                    }
                )
                for t in value["transitions"]
            )
            kinds = tuple(
                DeadlineKind(
                    **{
                        **k,
                        "unit": Unit(k["unit"]),
                        "alive_in": tuple(k["alive_in"]),
                        "expiry": tuple(k.get("expiry", ())),
                        "expiry_data": tuple(tuple(pair) for pair in k.get("expiry_data", ())),
                    }
                )
                for k in value["deadline_kinds"]
            )
            return cls(
                value["name"],
                states,
                transitions,
                kinds,
                initial=value.get("initial", "received"),
                plugins=tuple(value.get("plugins", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FlowDefinitionError(f"not a stored flow definition: {exc}") from None

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the definition: equal flows, equal fingerprints."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    # -- extension --------------------------------------------------------------------------------

    def extend(
        self,
        *,
        name: str | None = None,
        states: Iterable[StateDef] = (),
        transitions: Iterable[TransitionDef] = (),
        deadline_kinds: Iterable[DeadlineKind] = (),
        replace_deadline_kinds: Iterable[DeadlineKind] = (),
        plugin: str | None = None,
    ) -> FlowDefinition:
        """Return a new definition with added states, transitions and deadline kinds.

        ``replace_deadline_kinds`` swaps existing kinds by id (a region may lengthen one; the
        plugin system refuses one that shortens a statutory deadline).
        """
        replacements = {d.id: d for d in replace_deadline_kinds}
        unknown = set(replacements) - set(self.deadline_map)
        if unknown:
            raise FlowDefinitionError(f"cannot replace unknown deadline kinds: {sorted(unknown)}")
        kinds = tuple(replacements.get(d.id, d) for d in self.deadline_kinds)
        return replace(
            self,
            name=name or self.name,
            states=self.states + tuple(states),
            transitions=self.transitions + tuple(transitions),
            deadline_kinds=kinds + tuple(deadline_kinds),
            plugins=self.plugins + ((plugin,) if plugin else ()),
        )

    # -- consistency ------------------------------------------------------------------------------

    def _check(self) -> None:
        seen: set[str] = set()
        for s in self.states:
            if s.id in seen:
                raise DuplicateDefinition(self.name, "state", s.id)
            seen.add(s.id)
        kinds: set[str] = set()
        for d in self.deadline_kinds:
            if d.id in kinds:
                raise DuplicateDefinition(self.name, "deadline kind", d.id)
            kinds.add(d.id)
        if self.initial not in seen:
            raise FlowDefinitionError(f"flow {self.name!r}: initial state {self.initial!r} unknown")
        for d in self.deadline_kinds:
            for st in d.alive_in:
                if st not in seen:
                    raise FlowDefinitionError(
                        f"deadline kind {d.id!r}: alive_in names unknown state {st!r}"
                    )
        for s in self.states:
            self._check_ops(f"state {s.id!r}", s.on_enter, kinds)
        for t in self.transitions:
            where = f"transition {t.trigger!r}"
            for st in (*t.sources, *((t.dest,) if t.dest else ())):
                if st not in seen:
                    raise FlowDefinitionError(f"{where}: unknown state {st!r}")
            self._check_ops(where, t.deadlines, kinds)
        triggers = set(self.trigger_names)
        for d in self.deadline_kinds:
            for trig in d.expiry:
                if trig not in triggers:
                    raise FlowDefinitionError(
                        f"deadline kind {d.id!r}: expiry trigger {trig!r} is not in the flow"
                    )

    def _check_ops(self, where: str, ops: Iterable[DeadlineOp], kinds: set[str]) -> None:
        for op in ops:
            if op.kind not in kinds:
                raise FlowDefinitionError(f"{where}: unknown deadline kind {op.kind!r}")
            if op.before is None and op.unit is None:
                continue
            if op.op != "start" or op.before not in kinds or op.before == op.kind:
                raise FlowDefinitionError(
                    f"{where}: a relative deadline op is a 'start' placed before another "
                    f"known deadline kind (before={op.before!r})"
                )
            if op.unit not in ("wd", "cd") or not op.length or op.length < 1:
                raise FlowDefinitionError(
                    f"{where}: the relative start of {op.kind!r} needs length >= 1 and unit "
                    f"'wd' or 'cd', not length={op.length!r}, unit={op.unit!r}"
                )
            other = self.relative_kinds.get(op.kind)
            if other is not None and (other.before, other.length, other.unit) != (
                op.before,
                op.length,
                op.unit,
            ):
                raise FlowDefinitionError(
                    f"{where}: {op.kind!r} is placed relative to another deadline in two ways"
                )


#: DeadlineOp fields added after flows were first fingerprinted: left out of ``as_dict`` while
#: unset, so that the fingerprints of existing flows (and of the cases opened under them) stay.
_LATER_OP_FIELDS = ("before", "unit")


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    for key in ("on_enter", "deadlines"):
        if key in d:
            d[key] = [
                {k: v for k, v in op.items() if not (k in _LATER_OP_FIELDS and v is None)}
                for op in d[key]
            ]
    return d


def _kind_dict(kind: DeadlineKind) -> dict[str, Any]:
    """A deadline kind as JSON-ready data. ``holder`` is left out at its default (a party's
    window): a definition stored before the field existed keeps its fingerprint."""
    data = asdict(kind)
    if data.get("holder") == "party":
        del data["holder"]
    return data
