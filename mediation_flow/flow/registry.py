"""Per-plugin, per-flow names: the guards, conditions, warnings, effects and data types a flow
refers to.

The national names live in the tables of :mod:`mediation_flow.flow.guards`,
:mod:`mediation_flow.flow.effects` and :mod:`mediation_flow.flow.data`, filled when those
modules are imported and never replaced. A plugin's own names live in its
:class:`Registrations` (``mediation_flow.plugin`` re-exports it); they are seen only by the
flows that plugin is part of: a region's flow resolves a name in the registrations of its own
plugins, then in the national tables. Nothing a plugin registers is process-global, and a plugin
may not register a national name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mediation_flow.errors import PluginError

__all__ = ["KINDS", "FlowNames", "ProceduralGuard", "Registrations", "national_names"]

#: The kinds of name a plugin registers, as the tables call them.
KINDS = ("guard", "condition", "warning", "effect", "data type")

Fn = Callable[..., Any]


@dataclass(frozen=True)
class ProceduralGuard:
    """A guard a plugin adds to a national edge: a procedural requirement with its legal basis,
    satisfiable by the triggers ``satisfied_by`` (each must be legal from the guarded state)."""

    name: str
    basis: str
    satisfied_by: tuple[str, ...]


class Registrations:
    """The names one plugin registers, for the flows it is part of.

    ::

        names = Registrations("park")

        @names.guard("park.enterprise_in_park")
        def enterprise_in_park(ctx):
            ...

    Return it from the plugin's ``registrations`` hook. Names should carry the plugin's prefix
    (``"park."``); a national name, or a name another plugin of the same flow registered, is
    refused with a :class:`~mediation_flow.errors.PluginError` when the engine starts.
    """

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.tables: dict[str, dict[str, Fn]] = {kind: {} for kind in KINDS}
        self.procedural: dict[str, ProceduralGuard] = {}

    def _add(self, kind: str, name: str, fn: Fn) -> Fn:
        if not isinstance(name, str) or not name or name.startswith("not ") or ":" in name:
            raise PluginError(self.plugin, f"{kind} name {name!r} must be a plain non-empty name")
        table = self.tables[kind]
        if name in table and table[name] is not fn:
            raise PluginError(self.plugin, f"registers the {kind} {name!r} twice")
        table[name] = fn
        return fn

    def guard(
        self,
        name: str,
        *,
        procedural: bool = False,
        basis: str = "",
        satisfied_by: Iterable[str] = (),
    ) -> Callable[[Fn], Fn]:
        """Decorator: ``fn(ctx, *args) -> Refusal | None`` is the guard ``name``.

        A guard on one of the plugin's own edges needs nothing more. A guard the plugin adds to
        a *national* edge can take a national option away, so the statutory floor refuses it
        unless it is declared ``procedural=True`` with its legal ``basis`` and the triggers that
        satisfy it (``satisfied_by``, each legal from the state the edge leaves).
        """
        satisfied = tuple(satisfied_by)
        if procedural and (not basis.strip() or not satisfied):
            raise PluginError(
                self.plugin,
                f"the procedural guard {name!r} needs its legal basis and the triggers that "
                "satisfy it (basis=..., satisfied_by=(...))",
            )

        def deco(fn: Fn) -> Fn:
            self._add("guard", name, fn)
            if procedural:
                self.procedural[name] = ProceduralGuard(name, basis, satisfied)
            return fn

        return deco

    def condition(self, name: str) -> Callable[[Fn], Fn]:
        """Decorator: ``fn(ctx) -> bool`` is the condition ``name`` (a branch's ``when``, a
        deadline op's ``when``)."""
        return lambda fn: self._add("condition", name, fn)

    def warning(self, name: str) -> Callable[[Fn], Fn]:
        """Decorator: ``fn(ctx) -> bool`` is the warning ``name`` (true means: warn)."""
        return lambda fn: self._add("warning", name, fn)

    def effect(self, name: str) -> Callable[[Fn], Fn]:
        """Decorator: ``fn(ctx, *args) -> dict`` is the effect ``name`` (attribute updates)."""
        return lambda fn: self._add("effect", name, fn)

    def data_type(self, name: str) -> Callable[[Fn], Fn]:
        """Decorator: ``fn(value, data) -> value`` is the data type ``name`` (raise
        ``ValueError`` with a reason). ``mediation_flow.plugin.list_of`` makes list types."""
        return lambda fn: self._add("data type", name, fn)

    def names(self) -> Iterable[tuple[str, str]]:
        for kind, table in self.tables.items():
            for name in table:
                yield kind, name

    def __repr__(self) -> str:
        count = sum(len(t) for t in self.tables.values())
        return f"<Registrations of {self.plugin!r}: {count} names>"


_national: dict[str, Mapping[str, Fn]] = {}


def national_names() -> dict[str, Mapping[str, Fn]]:
    """The national tables, by kind."""
    if _national:
        return _national
    from mediation_flow.flow.data import DATA_TYPES
    from mediation_flow.flow.effects import EFFECTS
    from mediation_flow.flow.guards import CONDITIONS, GUARDS, WARNINGS

    _national.update(
        {
            "guard": GUARDS,
            "condition": CONDITIONS,
            "warning": WARNINGS,
            "effect": EFFECTS,
            "data type": DATA_TYPES,
        }
    )
    return _national


class FlowNames:
    """The names one flow resolves: its plugins' registrations, then the national tables."""

    def __init__(self, registrations: Iterable[Registrations] = ()) -> None:
        self.registrations = tuple(registrations)
        self.tables: dict[str, dict[str, Fn]] = {kind: {} for kind in KINDS}
        self.owner: dict[tuple[str, str], str] = {}
        self.procedural: dict[str, ProceduralGuard] = {}
        national = national_names()
        for reg in self.registrations:
            for kind, name in reg.names():
                if name in national[kind]:
                    raise PluginError(
                        reg.plugin,
                        f"registers the {kind} {name!r}, a national name: a plugin may not "
                        f"replace it (register it under the plugin's prefix, "
                        f"'{reg.plugin}.{name}')",
                    )
                other = self.owner.get((kind, name))
                if other is not None and other != reg.plugin:
                    raise PluginError(
                        f"{other}, {reg.plugin}",
                        f"both plugins register the {kind} {name!r} for one flow",
                    )
                self.owner[kind, name] = reg.plugin
                self.tables[kind][name] = reg.tables[kind][name]
            self.procedural.update(reg.procedural)

    def lookup(self, kind: str, name: str) -> Fn | None:
        fn = self.tables[kind].get(name)
        if fn is None:
            fn = national_names()[kind].get(name)
        return fn
