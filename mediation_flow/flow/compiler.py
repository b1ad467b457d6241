"""Compile a :class:`FlowDefinition` into one shared ``transitions`` machine.

There is one :class:`CompiledFlow` (and one ``transitions.Machine``) per flow definition, never
one per case. To fire a trigger, the engine sets the state of a reusable *carrier* object from
the case row, fires, and reads the new state back: attaching a model costs far more than firing
on one that stays attached (STYLE.md, "Measure, then optimise"). Carriers are per thread, so one
compiled flow serves a threaded host.

Each ``TransitionDef`` becomes one machine transition whose conditions are, in order, its branch
condition (``when``) and its guards. A guard that refuses raises
:class:`~mediation_flow.errors.GuardFailed` from inside the machine, so the machine, not a second
copy of the rules, decides what fires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from transitions import EventData, Machine

from mediation_flow.errors import FlowDefinitionError, GuardFailed, IllegalTransition
from mediation_flow.flow import effects as _effects
from mediation_flow.flow import guards as _guards
from mediation_flow.flow.context import Context
from mediation_flow.flow.data import DATA_TYPES
from mediation_flow.flow.definition import FlowDefinition, TransitionDef

__all__ = ["CompiledFlow", "compile_flow"]


class _Carrier:
    """The machine's model: holds a case's state while one trigger fires."""

    state: str


def _ctx(event: EventData) -> Context:
    ctx: Context = event.kwargs["ctx"]
    return ctx


def _branch(name: str, event: EventData) -> bool:
    return _guards.condition(name, _ctx(event))


def _guard(spec: str, event: EventData) -> bool:
    ctx = _ctx(event)
    refusal = _guards.check_guard(spec, ctx)
    if refusal is not None:
        if ctx.dry_run and refusal.needs_data:
            return True  # engine.triggers: the command's data may satisfy it
        raise GuardFailed(
            case_id=ctx.case.id,
            state=ctx.state,
            trigger=ctx.trigger,
            guard=spec,
            reason=refusal.reason,
            deadline=refusal.deadline,
            due=refusal.due,
        )
    return True


def _taken(tdef: TransitionDef, event: EventData) -> None:
    _ctx(event).transition = tdef


class CompiledFlow:
    """A flow definition with its machine and the look-up tables the engine needs."""

    def __init__(self, definition: FlowDefinition) -> None:
        self.definition = definition
        self.fingerprint = definition.fingerprint
        _validate(definition)
        self._by_source: dict[tuple[str, str], tuple[TransitionDef, ...]] = {}
        for t in definition.transitions:
            for src in t.sources:
                key = (src, t.trigger)
                self._by_source[key] = (*self._by_source.get(key, ()), t)
        self._legal: dict[str, tuple[str, ...]] = {
            s.id: tuple(dict.fromkeys(t.trigger for t in definition.transitions_from(s.id)))
            for s in definition.states
        }
        self._fields: dict[tuple[str, str], Mapping[str, str]] = {
            key: {f.name: f.type for t in tdefs for f in t.data}
            for key, tdefs in self._by_source.items()
        }
        self.machine = Machine(
            model=None,
            states=[s.id for s in definition.states],
            initial=definition.initial,
            transitions=[self._machine_transition(t) for t in definition.transitions],
            send_event=True,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        self._local = threading.local()

    @staticmethod
    def _machine_transition(t: TransitionDef) -> dict[str, Any]:
        conditions: list[Callable[[EventData], bool]] = []
        if t.when:
            conditions.append(partial(_branch, t.when))
        conditions.extend(partial(_guard, g) for g in t.guards)
        return {
            "trigger": t.trigger,
            "source": list(t.sources),
            "dest": t.dest,  # None: an internal transition, the state does not change
            "conditions": conditions,
            "after": [partial(_taken, t)],
        }

    def _carrier(self) -> _Carrier:
        carrier: _Carrier | None = getattr(self._local, "carrier", None)
        if carrier is None:
            carrier = _Carrier()
            self.machine.add_model(carrier, initial=self.definition.initial)
            self._local.carrier = carrier
        return carrier

    # -- queries ----------------------------------------------------------------------------------

    def legal_triggers(self, state: str) -> tuple[str, ...]:
        """Triggers defined from ``state``, guards not evaluated."""
        return self._legal.get(state, ())

    def candidates(self, state: str, trigger: str) -> tuple[TransitionDef, ...]:
        return self._by_source.get((state, trigger), ())

    def data_fields(self, state: str, trigger: str) -> Mapping[str, str]:
        """The data fields ``trigger`` takes from ``state`` (name -> type name)."""
        return self._fields.get((state, trigger), {})

    # -- firing -----------------------------------------------------------------------------------

    def fire(self, ctx: Context) -> tuple[TransitionDef, str]:
        """Fire ``ctx.trigger`` from ``ctx.state`` on the machine; return the transition taken and
        the new state. Raises ``IllegalTransition`` or ``GuardFailed``.

        Firing touches nothing but the carrier, so it doubles as a dry run (``engine.triggers``).
        """
        if not self.candidates(ctx.state, ctx.trigger):
            raise IllegalTransition(
                case_id=ctx.case.id,
                state=ctx.state,
                trigger=ctx.trigger,
                legal=self.legal_triggers(ctx.state),
            )
        carrier = self._carrier()
        carrier.state = ctx.state
        ctx.transition = None
        fired = carrier.trigger(ctx.trigger, ctx=ctx)  # type: ignore[attr-defined]
        if not fired or ctx.transition is None:
            raise GuardFailed(
                case_id=ctx.case.id,
                state=ctx.state,
                trigger=ctx.trigger,
                guard="when",
                reason="no branch of this trigger applies",
            )
        return ctx.transition, carrier.state


def _validate(definition: FlowDefinition) -> None:
    """Every guard, condition, effect and data type the definition names must exist (in its
    plugins' registrations or the national tables)."""
    names = definition.names

    def has(kind: str, name: str, table: Mapping[str, Any]) -> bool:
        return bool(names.lookup(kind, name)) if names is not None else name in table

    for t in definition.transitions:
        where = f"flow {definition.name!r}, transition {t.trigger!r}"
        for spec in (*t.guards, *((t.when,) if t.when else ())):
            if not _guards.known(spec, names):
                raise FlowDefinitionError(f"{where}: unknown guard or condition {spec!r}")
        for spec in t.effects:
            if not has("effect", _guards.split_name(spec)[0], _effects.EFFECTS):
                raise FlowDefinitionError(f"{where}: unknown effect {spec!r}")
        for f in t.data:
            if not has("data type", f.type, DATA_TYPES):
                raise FlowDefinitionError(f"{where}: field {f.name!r} has unknown type {f.type!r}")
        for name in t.warnings:
            if not has("warning", name, _guards.WARNINGS):
                raise FlowDefinitionError(f"{where}: unknown warning {name!r}")
        for op in t.deadlines:
            if op.when and not _guards.known(op.when, names):
                raise FlowDefinitionError(f"{where}: unknown condition {op.when!r}")
    for s in definition.states:
        for op in s.on_enter:
            if op.when and not _guards.known(op.when, names):
                raise FlowDefinitionError(f"state {s.id!r}: unknown condition {op.when!r}")


_cache: dict[tuple[str, int], tuple[Any, CompiledFlow]] = {}
_cache_lock = threading.Lock()


def compile_flow(definition: FlowDefinition) -> CompiledFlow:
    """The compiled flow of ``definition``, built once per fingerprint (and plugin names) and
    shared."""
    key = (definition.fingerprint, id(definition.names))
    with _cache_lock:
        cached = _cache.get(key)
        if cached is None or cached[0] is not definition.names:
            cached = _cache[key] = (definition.names, CompiledFlow(definition))
        return cached[1]
