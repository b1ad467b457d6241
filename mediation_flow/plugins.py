"""Regional plugins: loading, region scoping, the statutory floor, and calling the hooks.

Plugins come from ``Engine(plugins=...)`` and from the ``mediation_flow.plugins`` entry-point
group; a plugin passed explicitly replaces an installed one whose entry point has its name.
Each serves the regions whose division code starts with one of its ``regions`` prefixes (all
regions when it declares none). A broken plugin (it fails to import, has no name, declares a bad
prefix, implements a hook with the wrong arguments, or its flow breaks the statutory floor)
raises :class:`~mediation_flow.errors.PluginError` naming it when the engine starts.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pluggy

from mediation_flow import hookspecs
from mediation_flow.calendar import Calendar
from mediation_flow.errors import FlowDefinitionError, InvalidIntake, PluginError
from mediation_flow.flow.definition import FlowDefinition, TransitionDef

__all__ = [
    "ENTRY_POINT_GROUP",
    "AttributeSpec",
    "PluginInfo",
    "Plugins",
    "Route",
    "check_statutory_floor",
]

ENTRY_POINT_GROUP = "mediation_flow.plugins"
_PREFIX = re.compile(r"^\d{2,6}$")


@dataclass(frozen=True)
class Route:
    """A suggested first step for a new case: a trigger legal from ``received``, the data to
    fire it with, and a reason an officer can read (zh-CN). ``plugin`` is filled in."""

    trigger: str
    reason: str
    data: Mapping[str, Any] = field(default_factory=dict)
    plugin: str = "national"


@dataclass(frozen=True)
class AttributeSpec:
    """An extra case attribute a region records: its type (``text``, ``bool``, ``int``,
    ``date``, ``money``), a zh-CN label, optional allowed values, whether it is required."""

    type: str
    label_zh: str
    choices: tuple[Any, ...] = ()
    required: bool = False

    def check(self, value: Any) -> Any:
        """The value as stored (JSON), or ``ValueError`` with a reason."""
        if self.type == "text":
            if not isinstance(value, str) or not value.strip():
                raise ValueError("expected a non-empty string")
        elif self.type == "bool":
            if not isinstance(value, bool):
                raise ValueError("expected true or false")
        elif self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("expected a whole number")
        elif self.type == "date":
            try:
                value = date.fromisoformat(value) if isinstance(value, str) else value
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO date") from None
            if not isinstance(value, date):
                raise ValueError("expected a date")
            value = value.isoformat()
        elif self.type == "money":
            try:
                amount = Decimal(str(value))
            except InvalidOperation:
                raise ValueError(f"{value!r} is not an amount") from None
            if not amount.is_finite() or amount < 0:
                raise ValueError(f"{value!r} is not a non-negative amount")
            value = str(amount)
        else:
            raise ValueError(f"unknown attribute type {self.type!r}")
        if self.choices and value not in self.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(map(str, self.choices))}")
        return value


@dataclass(frozen=True)
class PluginInfo:
    """What ``mediation-flow plugins`` shows about a loaded plugin."""

    name: str
    regions: tuple[str, ...]
    hooks: tuple[str, ...]
    source: str


class Plugins:
    """The loaded plugins of one engine, with their hooks scoped by region."""

    def __init__(self, plugins: Iterable[object] = (), *, entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._order: list[object] = []
        self._regions: dict[str, tuple[str, ...]] = {}
        self._sources: dict[str, str] = {}
        for plugin in plugins:
            self._register(plugin, "Engine(plugins=...)")
        if entry_points:
            self._load_entry_points()

    # -- loading ----------------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.has_plugin(ep.name):
                # The host passed its own instance (configured, say, with a notifier): it
                # takes the place of the installed one of the same name.
                continue
            try:
                obj = ep.load()
                plugin = obj() if isinstance(obj, type) else obj
            except Exception as exc:
                raise PluginError(
                    ep.name, f"failed to load entry point {ep.value!r}: {type(exc).__name__}: {exc}"
                ) from exc
            self._register(plugin, f"entry point {ep.value}")

    def _register(self, plugin: object, source: str) -> None:
        if isinstance(plugin, type):
            plugin = plugin()
        name = getattr(plugin, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(repr(plugin), "a plugin needs a non-empty string attribute 'name'")
        if self.pm.has_plugin(name):
            raise PluginError(
                name, f"a plugin of that name is already loaded ({self._sources[name]})"
            )
        regions = tuple(getattr(plugin, "regions", ()) or ())
        for prefix in regions:
            if not isinstance(prefix, str) or not _PREFIX.match(prefix):
                raise PluginError(name, f"region prefix {prefix!r} is not 2 to 6 digits")
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(name, f"invalid hook implementation: {exc}") from exc
        self._order.append(plugin)
        self._regions[name] = regions
        self._sources[name] = source

    # -- scoping ----------------------------------------------------------------------------------

    def name_of(self, plugin: object) -> str:
        name = self.pm.get_name(plugin)
        assert name is not None
        return name

    def serving(self, region: str) -> list[object]:
        """The plugins that serve ``region``, in registration order."""
        return [
            p
            for p in self._order
            if not self._regions[self.name_of(p)]
            or any(region.startswith(prefix) for prefix in self._regions[self.name_of(p)])
        ]

    def declared_regions(self) -> list[str]:
        """One representative 6-digit code per declared prefix (for building flows early)."""
        codes = {prefix.ljust(6, "0") for regions in self._regions.values() for prefix in regions}
        return sorted(codes)

    def _impls(self, hook: str, region: str) -> list[tuple[str, Any]]:
        serving = {id(p) for p in self.serving(region)}
        impls = {
            id(impl.plugin): impl.function for impl in getattr(self.pm.hook, hook).get_hookimpls()
        }
        return [
            (self.name_of(p), impls[id(p)])
            for p in self._order
            if id(p) in serving and id(p) in impls
        ]

    def info(self) -> list[PluginInfo]:
        out = []
        for p in self._order:
            name = self.name_of(p)
            hooks = tuple(caller.name for caller in self.pm.get_hookcallers(p) or ())
            out.append(PluginInfo(name, self._regions[name], hooks, self._sources[name]))
        return out

    # -- hooks ------------------------------------------------------------------------------------

    def build_flow(self, base: FlowDefinition, region: str) -> FlowDefinition:
        """The flow of ``region``: ``base`` extended by each serving plugin in turn, each result
        checked against the statutory floor."""
        flow = base
        for name, extend in self._impls("extend_flow", region):
            try:
                result = extend(flow=flow, region=region)
            except FlowDefinitionError as exc:
                raise PluginError(name, f"its flow is inconsistent: {exc}") from exc
            except Exception as exc:
                raise PluginError(name, f"extend_flow failed: {type(exc).__name__}: {exc}") from exc
            if result is None:
                continue
            if not isinstance(result, FlowDefinition):
                raise PluginError(
                    name, f"extend_flow returned {type(result).__name__}, not a FlowDefinition"
                )
            check_statutory_floor(base, result, name)
            if name not in result.plugins:
                result = result.extend(plugin=name)
            flow = result
        return flow

    def calendar(self, calendar: Calendar) -> Calendar:
        for p in self._order:
            name = self.name_of(p)
            impl = getattr(p, "regional_rest_days", None)
            if impl is None:
                continue
            try:
                days = impl() or {}
                for prefix, dates in days.items():
                    if isinstance(dates, Mapping):  # {"rest": [...], "workdays": [...]}
                        unknown = set(dates) - {"rest", "workdays"}
                        if unknown:
                            raise ValueError(
                                f"{prefix!r}: unknown keys {sorted(unknown)} (rest, workdays)"
                            )
                        calendar = calendar.with_rest_days(prefix, dates.get("rest", ()))
                        calendar = calendar.with_workdays(prefix, dates.get("workdays", ()))
                    else:
                        calendar = calendar.with_rest_days(prefix, dates)
            except Exception as exc:
                raise PluginError(name, f"regional_rest_days failed: {exc}") from exc
        return calendar

    def early_warning_rules(self) -> list[Any]:
        """The plugins' early-warning rules, each limited to its plugin's regions."""
        from mediation_flow.early_warning import Rule

        out: list[Any] = []
        for p in self._order:
            name = self.name_of(p)
            impl = getattr(p, "early_warning_rules", None)
            if impl is None:
                continue
            try:
                rules = list(impl() or ())
            except Exception as exc:
                raise PluginError(name, f"early_warning_rules failed: {exc}") from exc
            regions = self._regions[name]
            for rule in rules:
                if not isinstance(rule, Rule):
                    raise PluginError(name, f"early_warning_rules returned {rule!r}, not a Rule")
                if regions and not rule.regions:
                    rule.regions = regions
                elif regions and not all(
                    any(r.startswith(p) for p in regions) for r in rule.regions
                ):
                    raise PluginError(
                        name, f"rule {rule.id} watches {rule.regions} outside the plugin's regions"
                    )
                out.append(rule)
        return out

    def veto(self, region: str, ctx: Any, transition: TransitionDef) -> tuple[str, str] | None:
        for name, fn in self._impls("veto_transition", region):
            reason = fn(ctx=ctx, transition=transition)
            if reason:
                return name, str(reason)
        return None

    def authorize(self, actor: Any, case: Any, trigger: str | None) -> tuple[str, str] | None:
        for name, fn in self._impls("authorize", case.region):
            reason = fn(actor=actor, case=case, trigger=trigger)
            if reason:
                return name, str(reason)
        return None

    def in_transaction(self, region: str, ctx: Any, event: Any, connection: Any) -> None:
        for _name, fn in self._impls("in_transaction", region):
            fn(ctx=ctx, event=event, connection=connection)

    def after_commit(self, region: str, case: Any, event: Any, log: Any) -> None:
        for name, fn in self._impls("after_commit", region):
            try:
                fn(case=case, event=event)
            except Exception as exc:  # never undoes the committed transition
                log.error(
                    "after_commit_failed",
                    plugin=name,
                    case_id=event.case_id,
                    trigger=event.trigger,
                    error=f"{type(exc).__name__}: {exc}",
                )

    def routes(self, intake: Any, region: str) -> list[Route]:
        out = []
        for name, fn in self._impls("suggest_route", region):
            route = fn(intake=intake, region=region)
            if route is not None:
                out.append(Route(route.trigger, route.reason, dict(route.data), name))
        return out

    def demo_scenarios(self, region: str) -> dict[str, Any]:
        scenarios: dict[str, Any] = {}
        for _name, fn in self._impls("demo_scenarios", region):
            scenarios.update(fn(region=region) or {})
        return scenarios

    def numbering_rules(self, region: str) -> list[Any]:
        """The region's plugins' numbering rules, in registration order."""
        from mediation_flow.numbering import NumberingRule

        rules: list[Any] = []
        for name, fn in self._impls("numbering_rules", region):
            try:
                found = list(fn(region=region) or ())
            except Exception as exc:
                raise PluginError(
                    name, f"numbering_rules failed: {type(exc).__name__}: {exc}"
                ) from exc
            for rule in found:
                if not isinstance(rule, NumberingRule):
                    raise PluginError(name, f"numbering_rules returned {rule!r}, not a rule")
            rules.extend(found)
        return rules

    def document_templates(self, region: str) -> dict[str, str]:
        """The region's plugins' templates by name; a later plugin's replaces an earlier's."""
        templates: dict[str, str] = {}
        for name, fn in self._impls("document_templates", region):
            try:
                found = dict(fn(region=region) or {})
            except Exception as exc:
                raise PluginError(
                    name, f"document_templates failed: {type(exc).__name__}: {exc}"
                ) from exc
            for key, source in found.items():
                if not isinstance(key, str) or not isinstance(source, str):
                    raise PluginError(
                        name, f"document_templates must map names to Jinja2 source, got {key!r}"
                    )
            templates.update(found)
        return templates

    def attributes(self, region: str) -> dict[str, tuple[str, AttributeSpec]]:
        specs: dict[str, tuple[str, AttributeSpec]] = {}
        for name, fn in self._impls("case_attributes", region):
            for key, spec in (fn(region=region) or {}).items():
                specs[key] = (name, spec)
        return specs

    def check_attributes(self, region: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Intake attributes checked against the region's declarations (``InvalidIntake``)."""
        out = dict(attributes)
        for key, (_plugin, spec) in self.attributes(region).items():
            if key not in attributes or attributes[key] is None:
                if spec.required:
                    raise InvalidIntake(
                        f"attributes.{key}", f"required in this region ({spec.label_zh})"
                    )
                continue
            try:
                out[key] = spec.check(attributes[key])
            except ValueError as exc:
                raise InvalidIntake(f"attributes.{key}", str(exc)) from None
        return out


def check_statutory_floor(base: FlowDefinition, flow: FlowDefinition, plugin: str) -> None:
    """Refuse a flow that removes a statutory option or shortens a statutory deadline.

    The rules (procedure.md §6.1, S8): every state and every ``(trigger, source, destination)``
    of ``base`` stays; the deadline ops ``base`` attaches to a state or transition stay; every
    statutory deadline kind keeps its unit, a length and extension at least as long, and its
    expiry triggers.
    """
    states = flow.state_map
    for state in base.states:
        if state.id not in states:
            raise PluginError(plugin, f"removes the state {state.id!r}")
        missing = [op for op in state.on_enter if op not in states[state.id].on_enter]
        if missing:
            raise PluginError(
                plugin, f"removes the deadline {missing[0].kind!r} started on entering {state.id!r}"
            )
    edges = _edges(flow.transitions)
    for t in base.transitions:
        for source in t.sources:
            key = (t.trigger, source, t.dest)
            if key not in edges:
                raise PluginError(
                    plugin,
                    f"removes the statutory option {t.trigger!r} from {source!r} "
                    f"(to {t.dest or source!r})",
                )
            missing_ops = [op for op in t.deadlines if op not in edges[key]]
            if missing_ops:
                raise PluginError(
                    plugin,
                    f"removes the deadline op {missing_ops[0].op} "
                    f"{missing_ops[0].kind!r} of {t.trigger!r}",
                )
    kinds = flow.deadline_map
    for kind in base.deadline_kinds:
        new = kinds.get(kind.id)
        if new is None:
            raise PluginError(plugin, f"removes the deadline kind {kind.id!r}")
        if not kind.statutory:
            continue
        if new.unit != kind.unit:
            raise PluginError(
                plugin,
                f"changes the unit of the statutory deadline {kind.id!r} "
                f"from {kind.unit.value} to {new.unit.value}",
            )
        if (new.length or 0) < (kind.length or 0) or new.max_extension < kind.max_extension:
            raise PluginError(
                plugin,
                f"shortens the statutory deadline {kind.id!r} "
                f"({kind.length} {kind.unit.value} -> {new.length})",
            )
        if tuple(new.expiry[: len(kind.expiry)]) != kind.expiry:
            raise PluginError(plugin, f"changes what happens when {kind.id!r} expires")


def _edges(transitions: Sequence[TransitionDef]) -> dict[tuple[str, str, str | None], list[Any]]:
    edges: dict[tuple[str, str, str | None], list[Any]] = {}
    for t in transitions:
        for source in t.sources:
            edges.setdefault((t.trigger, source, t.dest), []).extend(t.deadlines)
    return edges
