"""Everything a regional plugin needs, in one module: ``from mediation_flow.plugin import ...``.

This is the plugin authoring API. A plugin imports from here (and from nothing else in
``mediation_flow``); what is here stays, what is elsewhere may move between releases.

- the hook marker :data:`hookimpl`, and the hooks themselves in :mod:`mediation_flow.hookspecs`;
- :class:`FlowEditor`: add states, edges, deadline kinds, and operations on national edges,
  without rebuilding definitions by hand;
- :class:`Registrations`: the plugin's own guards, conditions, warnings, effects and data
  types, seen only by its regions' flows (:func:`list_of` and :func:`choice` make data types);
- relative deadlines: ``DeadlineOp("start", "award_reminder", before="award_limit", length=3,
  unit="wd")`` is due three working days before the award limit ends, and moves with it;
- the flow's data types (:class:`StateDef`, :class:`TransitionDef`, :class:`DeadlineKind`,
  :class:`DeadlineOp`, :class:`DataField`), the command :class:`Context` guards see and the
  :class:`Refusal` they return, the hook arguments and results (:class:`Case`, :class:`Event`,
  :class:`Intake`, :class:`Route`, :class:`AttributeSpec`, :class:`NumberingRule`,
  :class:`Rule`, :class:`IndustryWatch`, :class:`Scenario`), and the enums.

``docs/plugins.md`` walks through a plugin from the template to a passing
:func:`mediation_flow.testing.check_plugin`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from mediation_flow.calendar import Calendar
from mediation_flow.demo import SCENARIOS, Scenario, Step
from mediation_flow.duedates import due_date
from mediation_flow.early_warning import CollectiveCase, IndustryWatch, RepeatEmployer, Rule
from mediation_flow.errors import PluginError
from mediation_flow.flow.context import Context
from mediation_flow.flow.definition import (
    DataField,
    DeadlineKind,
    DeadlineOp,
    FlowDefinition,
    StateDef,
    TransitionDef,
)
from mediation_flow.flow.guards import Refusal
from mediation_flow.flow.national import MEDIATION_STATES
from mediation_flow.flow.registry import Registrations
from mediation_flow.hookspecs import hookimpl
from mediation_flow.models import (
    Actor,
    Case,
    Channel,
    ClaimKind,
    DeadlineStatus,
    Event,
    Intake,
    Resolution,
    Role,
    Unit,
)
from mediation_flow.numbering import NumberingRule
from mediation_flow.plugins import AttributeSpec, Route

__all__ = [
    "MEDIATION_STATES",
    "SCENARIOS",
    "Actor",
    "AttributeSpec",
    "Calendar",
    "Case",
    "Channel",
    "ClaimKind",
    "CollectiveCase",
    "Context",
    "DataField",
    "DeadlineKind",
    "DeadlineOp",
    "DeadlineStatus",
    "Event",
    "FlowDefinition",
    "FlowEditor",
    "IndustryWatch",
    "Intake",
    "NumberingRule",
    "PluginError",
    "Refusal",
    "Registrations",
    "RepeatEmployer",
    "Resolution",
    "Role",
    "Route",
    "Rule",
    "Scenario",
    "StateDef",
    "Step",
    "TransitionDef",
    "Unit",
    "choice",
    "due_date",
    "hookimpl",
    "list_of",
]

Parser = Callable[[Any, Mapping[str, Any]], Any]


def list_of(item: Parser, *, non_empty: bool = True) -> Parser:
    """A data type for a list whose items ``item`` parses: ``names.data_type("x.ids")(
    list_of(choice("a", "b")))``. A bad item is reported with its position."""

    def parse(value: Any, data: Mapping[str, Any]) -> list[Any]:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        values = list(value)
        if non_empty and not values:
            raise ValueError("expected a non-empty list")
        out = []
        for i, v in enumerate(values):
            try:
                out.append(item(v, data))
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from None
        return out

    return parse


def choice(*options: str) -> Parser:
    """A data type that accepts one of ``options``."""

    def parse(value: Any, data: Mapping[str, Any]) -> str:
        if value in options:
            return str(value)
        raise ValueError(f"{value!r} is not one of {', '.join(options)}")

    return parse


class FlowEditor:
    """Edits of a flow by one plugin, applied together by :meth:`build`::

        @hookimpl
        def extend_flow(self, flow, region):
            edit = FlowEditor(flow, self.name)
            edit.add_state(StateDef("community_mediation", "社区调解中", "community mediation",
                                    Channel.peoples))
            edit.add_edge(TransitionDef("refer_to_community", ("received",),
                                        "community_mediation", "转社区调解", "refer"))
            edit.copy_edge("fail_mediation", "peoples_mediation", to=("community_mediation",))
            edit.keep_alive("mediation_limit", "community_mediation")
            edit.add_ops("sign_agreement", DeadlineOp("meet", "community_target"))
            return edit.build()

    National edges are found by :meth:`edge` (a clear error when one is missing); copying one to
    new states keeps its guards, data, effects and deadline ops. The national flow itself is
    never changed: :meth:`build` returns a new definition, which the engine checks against the
    statutory floor.
    """

    def __init__(self, flow: FlowDefinition, plugin: str) -> None:
        self.flow = flow
        self.plugin = plugin
        self._states: list[StateDef] = []
        self._edges: list[TransitionDef] = []
        self._kinds: list[DeadlineKind] = []
        self._alive: dict[str, list[str]] = {}
        self._ops: list[tuple[str, str | None, tuple[DeadlineOp, ...]]] = []
        self._on_enter: dict[str, list[DeadlineOp]] = {}

    def edge(self, trigger: str, source: str, dest: str | None = None) -> TransitionDef:
        """The edge ``trigger`` takes from ``source`` (to ``dest``, when it has several)."""
        for t in self.flow.transitions_from(source):
            if t.trigger == trigger and (dest is None or (t.dest or source) == dest):
                return t
        to = f" to {dest!r}" if dest else ""
        raise PluginError(self.plugin, f"the flow has no {trigger!r} from {source!r}{to}")

    def add_state(self, state: StateDef) -> FlowEditor:
        """A new state."""
        self._states.append(state)
        return self

    def add_edge(self, edge: TransitionDef) -> FlowEditor:
        """A new edge (a new trigger, or a known trigger from a new state)."""
        self._edges.append(edge)
        return self

    def copy_edge(
        self,
        trigger: str,
        source: str,
        dest: str | None = None,
        *,
        to: Iterable[str],
        add_ops: Iterable[DeadlineOp] = (),
        **changes: Any,
    ) -> FlowEditor:
        """The edge ``trigger`` takes from ``source``, also from the states ``to``, with every
        guard, data field, effect and deadline op it has, ``add_ops`` after them, and any other
        field changed by keyword (``label_zh=...``, ``dest=...``)."""
        edge = self.edge(trigger, source, dest)
        ops = (*edge.deadlines, *add_ops)
        self._edges.append(replace(edge, sources=tuple(to), deadlines=ops, **changes))
        return self

    def add_ops(self, trigger: str, *ops: DeadlineOp, source: str | None = None) -> FlowEditor:
        """Append deadline ops to every edge of ``trigger`` (from ``source`` only, if given),
        national edges and those added here; the edge's own ops run first."""
        if not any(t.trigger == trigger for t in (*self.flow.transitions, *self._edges)):
            raise PluginError(self.plugin, f"the flow has no trigger {trigger!r}")
        self._ops.append((trigger, source, ops))
        return self

    def on_enter(self, state: str, *ops: DeadlineOp) -> FlowEditor:
        """Append deadline ops run when a case enters ``state``."""
        self._on_enter.setdefault(state, []).extend(ops)
        return self

    def add_deadline(self, kind: DeadlineKind) -> FlowEditor:
        """A new deadline kind (an internal target, a reminder: ``statutory=False``)."""
        self._kinds.append(kind)
        return self

    def keep_alive(self, kind: str, *states: str) -> FlowEditor:
        """Keep the deadline ``kind`` running in ``states`` too (a national clock in a new
        step)."""
        self._alive.setdefault(kind, []).extend(states)
        return self

    def build(self) -> FlowDefinition:
        """The flow with every edit."""
        flow = self.flow.extend(
            plugin=self.plugin,
            states=self._states,
            transitions=self._edges,
            deadline_kinds=self._kinds,
        )
        kinds = tuple(
            replace(k, alive_in=(*k.alive_in, *self._alive[k.id])) if k.id in self._alive else k
            for k in flow.deadline_kinds
        )
        unknown = set(self._alive) - {k.id for k in kinds}
        if unknown:
            raise PluginError(self.plugin, f"keep_alive names unknown kinds {sorted(unknown)}")

        def ops_of(t: TransitionDef) -> tuple[DeadlineOp, ...]:
            extra = [
                op
                for trigger, source, ops in self._ops
                if trigger == t.trigger and (source is None or source in t.sources)
                for op in ops
            ]
            return (*t.deadlines, *extra)

        transitions = tuple(
            replace(t, deadlines=ops_of(t)) if any(o[0] == t.trigger for o in self._ops) else t
            for t in flow.transitions
        )
        states = tuple(
            replace(s, on_enter=(*s.on_enter, *self._on_enter[s.id]))
            if s.id in self._on_enter
            else s
            for s in flow.states
        )
        return replace(flow, states=states, transitions=transitions, deadline_kinds=kinds)
