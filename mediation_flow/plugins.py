"""Regional plugins: loading, region scoping, the statutory floor, and calling the hooks.

Plugins come from ``Engine(plugins=...)`` and from the ``mediation_flow.plugins`` entry-point
group; a plugin passed explicitly replaces an installed one whose entry point has its name.
Each serves the regions whose division code starts with one of its ``regions`` prefixes (all
regions when it declares none). A broken plugin (it fails to import, has no name, declares a bad
prefix, implements an unknown hook or a hook with the wrong arguments or without ``@hookimpl``,
registers a national name, vetoes a statutory option, or its flow breaks the statutory floor) is
refused when the engine starts: a :class:`~mediation_flow.errors.PluginError` naming it (and the
region, the national element and the rule) is raised whenever one of *its* regions is used, and
``mediation-flow plugins`` lists it; the other regions run. An exception a hook raises reaches the
caller as a ``PluginError`` naming the plugin and the hook.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pluggy
from sqlalchemy.exc import OperationalError

from mediation_flow import hookspecs
from mediation_flow.calendar import Calendar
from mediation_flow.errors import (
    DuplicateDefinition,
    FlowDefinitionError,
    InvalidIntake,
    MediationFlowError,
    PluginError,
)
from mediation_flow.flow.definition import FlowDefinition, TransitionDef
from mediation_flow.flow.registry import FlowNames, Registrations

__all__ = [
    "ENTRY_POINT_GROUP",
    "AttributeSpec",
    "PluginInfo",
    "Plugins",
    "Route",
    "check_statutory_floor",
    "statutory_options",
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
    """What ``mediation-flow plugins`` shows about a plugin: ``refused`` says why it was refused
    (its regions do not start), ``None`` when it is in use."""

    name: str
    regions: tuple[str, ...]
    hooks: tuple[str, ...]
    source: str
    refused: str | None = None


#: The hooks of the contract (``mediation_flow.hookspecs``).
HOOK_NAMES = tuple(
    name
    for name, fn in vars(hookspecs).items()
    if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")
)


def statutory_options(flow: FlowDefinition) -> frozenset[str]:
    """The triggers no plugin may veto or make refusable, read from ``flow`` (the national
    flow): the acts of a party (``party_act``: applying, suing, appealing, withdrawing) and the
    triggers a statutory deadline fires when it runs out."""
    acts = {t.trigger for t in flow.transitions if t.party_act}
    expiries = {e for k in flow.deadline_kinds if k.statutory for e in k.expiry}
    return frozenset(acts | expiries)


class Plugins:
    """The loaded plugins of one engine, with their hooks scoped by region.

    A plugin that cannot be used (it fails to load, implements an unknown hook, breaks the
    statutory floor, conflicts with another plugin, or raises in a start-up hook) is *refused*:
    it is kept out, and the regions it serves raise its ``PluginError`` whenever they are used,
    while every other region runs. :meth:`info` lists the refusals.
    """

    def __init__(self, plugins: Iterable[object] = (), *, entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._order: list[object] = []
        self._regions: dict[str, tuple[str, ...]] = {}
        self._sources: dict[str, str] = {}
        #: name -> (regions, or None when unknown: every region; the error).
        self.refused: dict[str, tuple[tuple[str, ...] | None, PluginError]] = {}
        self._registrations: dict[str, Registrations] = {}
        self._names: dict[tuple[str, ...], FlowNames] = {}
        for plugin in plugins:
            self._register(plugin, "Engine(plugins=...)")
        if entry_points:
            self._load_entry_points()

    # -- loading ----------------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.has_plugin(ep.name) or ep.name in self.refused:
                # The host passed its own instance (configured, say, with a notifier): it
                # takes the place of the installed one of the same name.
                continue
            try:
                obj = ep.load()
                plugin = obj() if isinstance(obj, type) else obj
            except Exception as exc:
                error = PluginError(
                    ep.name,
                    f"failed to load entry point {ep.value!r}: {type(exc).__name__}: {exc}; "
                    "its regions are unknown, so no region starts until it is fixed or removed",
                )
                error.__cause__ = exc
                self._refuse(ep.name, None, error, f"entry point {ep.value}")
                continue
            self._register(plugin, f"entry point {ep.value}")

    def _refuse(
        self, name: str, regions: tuple[str, ...] | None, error: PluginError, source: str = ""
    ) -> None:
        if name in self.refused:
            return
        self.refused[name] = (regions, error)
        self._sources.setdefault(name, source)
        self._names.clear()
        if self.pm.has_plugin(name):
            plugin = self.pm.get_plugin(name)
            self.pm.unregister(name=name)
            self._order = [p for p in self._order if p is not plugin]

    def refuse(self, error: PluginError) -> None:
        """Refuse the plugins ``error`` names (``"a, b"``: both), for every region they serve."""
        for name in (n.strip() for n in error.plugin.split(",")):
            if name in self._regions:
                self._refuse(name, self._regions[name], error)

    def _register(self, plugin: object, source: str) -> None:
        if isinstance(plugin, type):
            try:
                plugin = plugin()
            except Exception as exc:
                error = PluginError(repr(plugin), f"cannot be created: {type(exc).__name__}: {exc}")
                self._refuse(repr(plugin), None, error, source)
                return
        name = getattr(plugin, "name", None)
        if not isinstance(name, str) or not name:
            error = PluginError(repr(plugin), "a plugin needs a non-empty string attribute 'name'")
            self._refuse(repr(plugin), None, error, source)
            return
        regions = tuple(getattr(plugin, "regions", ()) or ())
        for prefix in regions:
            if not isinstance(prefix, str) or not _PREFIX.match(prefix):
                error = PluginError(
                    name,
                    f"region prefix {prefix!r} is not 2 to 6 digits; its regions are unknown, "
                    "so no region starts until it is fixed",
                )
                self._refuse(name, None, error, source)
                return
        if self.pm.has_plugin(name) or name in self.refused:
            error = PluginError(
                f"{name} ({self._sources[name]}), {name} ({source})",
                "two plugins have this name; rename one",
            )
            self._refuse(f"{name} ({source})", regions, error, source)
            return
        try:
            self.pm.register(plugin, name=name)
            self._check_hooks(plugin, name)
            try:
                self._check_plugin(plugin, name, regions)
            except PluginError:
                self.pm.unregister(plugin)
                raise
        except pluggy.PluginValidationError as exc:
            self._refuse(name, regions, PluginError(name, f"invalid hook implementation: {exc}"))
            return
        except PluginError as exc:
            self._refuse(name, regions, exc, source)
            return
        self._order.append(plugin)
        self._regions[name] = regions
        self._sources[name] = source

    @staticmethod
    def _check_plugin(plugin: object, name: str, regions: tuple[str, ...]) -> None:
        marker = f"{hookspecs.PROJECT}_impl"
        for attr in dir(plugin):
            if attr.startswith("_"):
                continue
            value = getattr(type(plugin), attr, None) or getattr(plugin, attr, None)
            if not callable(value):
                continue
            if attr in HOOK_NAMES:
                if not hasattr(value, marker):
                    raise PluginError(
                        name,
                        f"defines {attr}() without @hookimpl, so it would never be called; "
                        "mark it with @hookimpl (from mediation_flow.plugin import hookimpl)",
                    )
                continue
            close = difflib.get_close_matches(attr, HOOK_NAMES, n=1, cutoff=0.85)
            if close:
                raise PluginError(
                    name, f"defines {attr}(), which is no hook: did you mean {close[0]}()?"
                )

    def _check_hooks(self, plugin: object, name: str) -> None:
        for caller in self.pm.get_hookcallers(plugin) or ():
            if caller.spec is None:  # what pluggy's check_pending reports
                close = difflib.get_close_matches(caller.name, HOOK_NAMES, n=1, cutoff=0.6)
                hint = f": did you mean {close[0]}()?" if close else ""
                self.pm.unregister(plugin)
                raise PluginError(name, f"implements the unknown hook {caller.name}(){hint}")
        self.pm.check_pending()
        if hasattr(plugin, "veto_transition"):
            vetoes = getattr(plugin, "vetoes", None)
            if (
                not isinstance(vetoes, tuple | list | frozenset | set)
                or not vetoes
                or not all(isinstance(t, str) and t for t in vetoes)
            ):
                self.pm.unregister(plugin)
                raise PluginError(
                    name,
                    "implements veto_transition, so it must declare the triggers it may "
                    "refuse: vetoes = ('trigger', ...)",
                )
        impl = getattr(plugin, "registrations", None)
        if impl is not None:
            try:
                registrations = impl()
            except Exception as exc:
                self.pm.unregister(plugin)
                raise _hook_error(name, "registrations", exc) from exc
            if registrations is not None:
                if not isinstance(registrations, Registrations):
                    self.pm.unregister(plugin)
                    raise PluginError(
                        name, f"registrations returned {registrations!r}, not Registrations"
                    )
                self._registrations[name] = registrations

    def check(self, base: FlowDefinition) -> None:
        """Refuse the plugins whose vetoes touch a statutory option of ``base``."""
        statutory = statutory_options(base)
        for p in list(self._order):
            name = self.name_of(p)
            touched = sorted(set(getattr(p, "vetoes", ()) or ()) & statutory)
            if touched and hasattr(p, "veto_transition"):
                error = PluginError(
                    name,
                    f"declares a veto of {', '.join(touched)}, a party's statutory option "
                    "(a party act or the expiry of a statutory deadline): no plugin may "
                    "refuse it; state the requirement as a procedural guard, or act on it "
                    "after the fact",
                )
                error.element = touched[0]
                self._refuse(name, self._regions[name], error)

    # -- scoping ----------------------------------------------------------------------------------

    def name_of(self, plugin: object) -> str:
        name = self.pm.get_name(plugin)
        assert name is not None
        return name

    def refusal(self, region: str) -> PluginError | None:
        """The refusal of a plugin that serves ``region``, if any (the region cannot start)."""
        for regions, error in self.refused.values():
            if regions is None or not regions or any(region.startswith(r) for r in regions):
                return error
        return None

    def serving(self, region: str) -> list[object]:
        """The plugins that serve ``region``, in registration order. Raises the refusal of a
        refused plugin that serves it."""
        if self.refused:
            error = self.refusal(region)
            if error is not None:
                raise error
        return [
            p
            for p in self._order
            if not self._regions[self.name_of(p)]
            or any(region.startswith(prefix) for prefix in self._regions[self.name_of(p)])
        ]

    def names_serving(self, region: str) -> str:
        """The names of the plugins serving ``region``, comma-separated (for an error)."""
        return ", ".join(self.name_of(p) for p in self.serving(region)) or "?"

    def declared_regions(self) -> list[str]:
        """One representative 6-digit code per declared prefix (for building flows early)."""
        regions = [*self._regions.values(), *(r for r, _ in self.refused.values() if r)]
        codes = {prefix.ljust(6, "0") for rs in regions for prefix in rs}
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
        for name, (regions, error) in self.refused.items():
            out.append(PluginInfo(name, regions or (), (), self._sources.get(name, ""), error.rule))
        return out

    def names_for(self, plugins: Sequence[str]) -> FlowNames | None:
        """The names a flow of ``plugins`` resolves (``None``: national names only)."""
        key = tuple(plugins)
        regs = [self._registrations[n] for n in key if n in self._registrations]
        if not regs:
            return None
        if key not in self._names:
            self._names[key] = FlowNames(regs)
        return self._names[key]

    def bind(self, definition: FlowDefinition) -> FlowDefinition:
        """``definition`` resolving its plugins' registrations (a flow given by the host)."""
        names = self.names_for(definition.plugins)
        return definition if names is None else replace(definition, names=names)

    # -- hooks ------------------------------------------------------------------------------------

    def build_flow(self, base: FlowDefinition, region: str) -> FlowDefinition:
        """The flow of ``region``: ``base`` extended by each serving plugin in turn, each result
        checked against the statutory floor. A plugin that fails is refused."""
        flow = base
        owners = {("state", s.id): "national" for s in base.states}
        owners.update({("deadline kind", k.id): "national" for k in base.deadline_kinds})
        for p in self.serving(region):
            name = self.name_of(p)
            try:
                flow = self._extend(p, name, flow, base, region, owners)
            except PluginError as exc:
                self._refuse(name, self._regions.get(name), exc)
                self.refuse(exc)
                raise
        return flow

    def _extend(
        self,
        plugin: object,
        name: str,
        flow: FlowDefinition,
        base: FlowDefinition,
        region: str,
        owners: dict[tuple[str, str], str],
    ) -> FlowDefinition:
        plugins = (*flow.plugins, name)
        try:
            names = self.names_for(plugins)
        except PluginError as exc:
            raise PluginError(exc.plugin, f"{exc.rule} (region {region})") from exc
        extend = getattr(plugin, "extend_flow", None)
        if extend is None:
            return flow if names is None else replace(flow, names=names, plugins=plugins)
        try:
            result = extend(flow=flow, region=region)
        except DuplicateDefinition as exc:
            owner = owners.get((exc.what, exc.id), "?")
            if owner == "national":
                raise PluginError(
                    name, f"defines the national {exc.what} {exc.id!r} again (region {region})"
                ) from exc
            raise PluginError(
                f"{owner}, {name}",
                f"both plugins define the {exc.what} {exc.id!r} for region {region}",
            ) from exc
        except FlowDefinitionError as exc:
            raise PluginError(name, f"its flow is inconsistent: {exc}") from exc
        except Exception as exc:
            raise _hook_error(name, "extend_flow", exc) from exc
        if result is None:
            result = flow
        if not isinstance(result, FlowDefinition):
            raise PluginError(
                name, f"extend_flow returned {type(result).__name__}, not a FlowDefinition"
            )
        for s in result.states:
            owners.setdefault(("state", s.id), name)
        for k in result.deadline_kinds:
            owners.setdefault(("deadline kind", k.id), name)
        result = replace(
            result,
            names=names,
            plugins=result.plugins if name in result.plugins else (*result.plugins, name),
        )
        check_statutory_floor(base, result, name, region=region)
        return result

    def calendar(self, calendar: Calendar) -> Calendar:
        for p in list(self._order):
            name = self.name_of(p)
            impl = getattr(p, "regional_rest_days", None)
            if impl is None:
                continue
            try:
                days = impl() or {}
                extended = calendar
                for prefix, dates in days.items():
                    if isinstance(dates, Mapping):  # {"rest": [...], "workdays": [...]}
                        unknown = set(dates) - {"rest", "workdays"}
                        if unknown:
                            raise ValueError(
                                f"{prefix!r}: unknown keys {sorted(unknown)} (rest, workdays)"
                            )
                        extended = extended.with_rest_days(prefix, dates.get("rest", ()))
                        extended = extended.with_workdays(prefix, dates.get("workdays", ()))
                    else:
                        extended = extended.with_rest_days(prefix, dates)
            except Exception as exc:
                error = _hook_error(name, "regional_rest_days", exc)
                self._refuse(name, self._regions[name], error)
                continue
            calendar = extended
        return calendar

    def early_warning_rules(self) -> list[Any]:
        """The plugins' early-warning rules, each limited to its plugin's regions."""
        from mediation_flow.early_warning import Rule

        out: list[Any] = []
        for p in list(self._order):
            name = self.name_of(p)
            impl = getattr(p, "early_warning_rules", None)
            if impl is None:
                continue
            regions = self._regions[name]
            try:
                rules = list(impl() or ())
                for rule in rules:
                    if not isinstance(rule, Rule):
                        raise PluginError(
                            name, f"early_warning_rules returned {rule!r}, not a Rule"
                        )
                    if regions and not rule.regions:
                        rule.regions = regions
                    elif regions and not all(
                        any(r.startswith(p) for p in regions) for r in rule.regions
                    ):
                        raise PluginError(
                            name,
                            f"rule {rule.id} watches {rule.regions} outside the plugin's regions",
                        )
            except PluginError as exc:
                self._refuse(name, regions, exc)
                continue
            except Exception as exc:
                self._refuse(name, regions, _hook_error(name, "early_warning_rules", exc))
                continue
            out.extend(rules)
        return out

    def veto(self, region: str, ctx: Any, transition: TransitionDef) -> tuple[str, str] | None:
        for name, fn in self._impls("veto_transition", region):
            plugin = self.pm.get_plugin(name)
            if transition.trigger not in getattr(plugin, "vetoes", ()):
                continue  # a veto touches only the triggers it declared
            try:
                reason = fn(ctx=ctx, transition=transition)
            except Exception as exc:
                raise _hook_error(name, "veto_transition", exc, region) from exc
            if reason:
                return name, str(reason)
        return None

    def authorize(self, actor: Any, case: Any, trigger: str | None) -> tuple[str, str] | None:
        for name, fn in self._impls("authorize", case.region):
            try:
                reason = fn(actor=actor, case=case, trigger=trigger)
            except Exception as exc:
                raise _hook_error(name, "authorize", exc, case.region) from exc
            if reason:
                return name, str(reason)
        return None

    def in_transaction(self, region: str, ctx: Any, event: Any, connection: Any) -> None:
        for name, fn in self._impls("in_transaction", region):
            try:
                fn(ctx=ctx, event=event, connection=connection)
            except Exception as exc:
                raise _hook_error(name, "in_transaction", exc, region) from exc

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
            try:
                route = fn(intake=intake, region=region)
            except Exception as exc:
                raise _hook_error(name, "suggest_route", exc, region) from exc
            if route is not None:
                out.append(Route(route.trigger, route.reason, dict(route.data), name))
        return out

    def demo_scenarios(self, region: str) -> dict[str, Any]:
        scenarios: dict[str, Any] = {}
        for name, fn in self._impls("demo_scenarios", region):
            try:
                scenarios.update(fn(region=region) or {})
            except Exception as exc:
                raise _hook_error(name, "demo_scenarios", exc, region) from exc
        return scenarios

    def numbering_rules(self, region: str) -> list[Any]:
        """The region's plugins' numbering rules, in registration order; two plugins that
        define a rule of one key, or number one trigger, are refused together."""
        from mediation_flow.numbering import NumberingRule

        rules: list[Any] = []
        keys: dict[str, str] = {}
        triggers: dict[str, str] = {}
        for name, fn in self._impls("numbering_rules", region):
            try:
                found = list(fn(region=region) or ())
            except Exception as exc:
                raise _hook_error(name, "numbering_rules", exc, region) from exc
            for rule in found:
                if not isinstance(rule, NumberingRule):
                    raise PluginError(name, f"numbering_rules returned {rule!r}, not a rule")
                other = keys.get(rule.key)
                if other is not None and other != name:
                    raise PluginError(
                        f"{other}, {name}",
                        f"both plugins define the numbering rule {rule.key!r} for region {region}",
                    )
                keys[rule.key] = name
                for trigger in rule.triggers:
                    other = triggers.get(trigger)
                    if other is not None and other != name:
                        raise PluginError(
                            f"{other}, {name}",
                            f"both plugins number the trigger {trigger!r} for region {region}",
                        )
                    triggers[trigger] = name
            rules.extend(found)
        return rules

    def document_templates(self, region: str) -> dict[str, str]:
        """The region's plugins' templates by name; a later plugin's replaces an earlier's."""
        templates: dict[str, str] = {}
        for name, fn in self._impls("document_templates", region):
            try:
                found = dict(fn(region=region) or {})
            except Exception as exc:
                raise _hook_error(name, "document_templates", exc, region) from exc
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
            try:
                found = dict(fn(region=region) or {})
            except Exception as exc:
                raise _hook_error(name, "case_attributes", exc, region) from exc
            for key, spec in found.items():
                if key in specs and specs[key][0] != name:
                    raise PluginError(
                        f"{specs[key][0]}, {name}",
                        f"both plugins declare the case attribute {key!r} for region {region}",
                    )
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


def _hook_error(
    plugin: str, hook: str, exc: BaseException, region: str | None = None
) -> PluginError:
    """An exception raised by a plugin's hook, as a ``PluginError`` naming both."""
    if isinstance(exc, MediationFlowError | OperationalError):
        raise exc  # the engine's own errors (and a busy database) keep their meaning
    where = f" (region {region})" if region else ""
    error = PluginError(plugin, f"hook {hook}{where} raised {type(exc).__name__}: {exc}")
    error.hook = hook
    return error


def check_statutory_floor(
    base: FlowDefinition, flow: FlowDefinition, plugin: str, *, region: str = ""
) -> None:
    """Refuse a regional flow that takes away a national right or shortens a statutory clock.

    ``flow`` is the region's flow as compiled (whatever the plugin says it did), ``base`` the
    national flow; every rule is read from their data (procedure.md §6.1, S8):

    1. every national state stays, with the deadline ops it runs on entry;
    2. every national trigger stays reachable from every national state it left, to the same
       destination, tried before any plugin edge of that trigger; it keeps its deadline ops,
       resolution and limitation interruption, and gains no required data field, and no guard
       that can refuse it unless the guard is declared procedural (a legal basis, and triggers
       that satisfy it, legal from that state); it gains no ``cancel``, ``meet``, ``pause``
       or ``restart`` of a statutory deadline;
    3. every statutory deadline kind keeps its unit, a length and extension at least as long,
       the states it is alive in, and its expiry triggers; every op that starts one either is a
       national op or counts at least the national length, from a date, never relative;
    4. no non-statutory deadline fires, on expiry, a national trigger that moves a case out of
       its state (ends a party's option): only a statutory clock may.
    """
    where = f" (region {region})" if region else ""

    def refuse(element: str, rule: str) -> PluginError:
        error = PluginError(plugin, f"{rule}{where}")
        error.region, error.element = region or None, element
        return error

    states = flow.state_map
    for state in base.states:
        if state.id not in states:
            raise refuse(state.id, f"removes the national state {state.id!r}")
        missing = [op for op in state.on_enter if op not in states[state.id].on_enter]
        if missing:
            raise refuse(
                state.id,
                f"removes the deadline {missing[0].kind!r} started on entering {state.id!r}",
            )
    names = flow.names
    procedural = names.procedural if names is not None else {}
    kinds, national_kinds = flow.deadline_map, base.deadline_map
    statutory = {k.id for k in base.deadline_kinds if k.statutory}
    for source in base.state_map:
        for trigger in dict.fromkeys(t.trigger for t in base.transitions_from(source)):
            national = [t for t in base.transitions_from(source) if t.trigger == trigger]
            regional = [t for t in flow.transitions_from(source) if t.trigger == trigger]
            for i, n in enumerate(national):
                label = f"{trigger!r} from {source!r} (to {n.dest or source!r})"
                r = regional[i] if i < len(regional) else None
                if r is None or (r.dest, r.when) != (n.dest, n.when):
                    if any((t.dest, t.when) == (n.dest, n.when) for t in regional):
                        raise refuse(
                            trigger,
                            f"puts an edge of its own before the national option {label}",
                        )
                    raise refuse(trigger, f"removes the statutory option {label}")
                _check_edge(n, r, source, label, flow, procedural, statutory, refuse)
    for kind in base.deadline_kinds:
        new = kinds.get(kind.id)
        if new is None:
            raise refuse(kind.id, f"removes the deadline kind {kind.id!r}")
        if not kind.statutory:
            continue
        if new.unit != kind.unit:
            raise refuse(
                kind.id,
                f"changes the unit of the statutory deadline {kind.id!r} "
                f"from {kind.unit.value} to {new.unit.value}",
            )
        if (new.length or 0) < (kind.length or 0) or new.max_extension < kind.max_extension:
            raise refuse(
                kind.id,
                f"shortens the statutory deadline {kind.id!r} "
                f"({kind.length} {kind.unit.value} -> {new.length})",
            )
        if tuple(new.expiry[: len(kind.expiry)]) != kind.expiry:
            raise refuse(kind.id, f"changes what happens when {kind.id!r} expires")
        gone = [s for s in kind.alive_in if s not in new.alive_in]
        if gone:
            raise refuse(kind.id, f"stops the statutory deadline {kind.id!r} in {', '.join(gone)}")
        if not new.statutory or new.per_party != kind.per_party:
            raise refuse(kind.id, f"changes the nature of the statutory deadline {kind.id!r}")
    national_ops = {op for t in base.transitions for op in t.deadlines}
    national_ops |= {op for s in base.states for op in s.on_enter}
    national_lengths = {(op.kind, op.length, op.when) for op in national_ops}
    places = [(f"state {s.id!r}", s.on_enter) for s in flow.states]
    places += [(f"trigger {t.trigger!r}", t.deadlines) for t in flow.transitions]
    for place, ops in places:
        for op in ops:
            if op.kind not in statutory or op.op not in ("start", "restart"):
                continue
            if op in national_ops:
                continue
            length = national_kinds[op.kind].length or 0
            if op.before is not None:
                raise refuse(
                    op.kind,
                    f"starts the statutory deadline {op.kind!r} relative to {op.before!r} "
                    f"({place}): a statutory clock counts from a date",
                )
            if (
                op.length is not None
                and op.length < length
                and (op.kind, op.length, op.when) not in national_lengths
            ):
                raise refuse(
                    op.kind,
                    f"starts the statutory deadline {op.kind!r} with {op.length} "
                    f"{national_kinds[op.kind].unit.value} instead of {length} ({place})",
                )
    moving = {t.trigger for t in base.transitions if t.dest is not None and t.dest not in t.sources}
    for kind in flow.deadline_kinds:
        if kind.statutory:
            continue
        allowed = national_kinds[kind.id].expiry if kind.id in national_kinds else ()
        fired = [e for e in kind.expiry if e in moving and e not in allowed]
        if fired:
            raise refuse(
                fired[0],
                f"lets the non-statutory deadline {kind.id!r} fire the national trigger "
                f"{fired[0]!r} on expiry, which ends a party's option; only a statutory clock "
                "may (record a reminder instead: expiry_event)",
            )


def _check_edge(
    n: TransitionDef,
    r: TransitionDef,
    source: str,
    label: str,
    flow: FlowDefinition,
    procedural: Mapping[str, Any],
    statutory: set[str],
    refuse: Any,
) -> None:
    """A national edge ``n`` as the regional flow has it (``r``), from ``source``."""
    missing = [op for op in n.deadlines if op not in r.deadlines]
    if missing:
        raise refuse(
            n.trigger, f"removes the deadline op {missing[0].op} {missing[0].kind!r} of {label}"
        )
    for op in r.deadlines:
        if op not in n.deadlines and op.kind in statutory and op.op not in ("start", "extend"):
            raise refuse(
                n.trigger,
                f"adds a {op.op!r} of the statutory deadline {op.kind!r} to {label}",
            )
    fields = {f.name for f in n.data}
    required = [f.name for f in r.data if f.required and f.name not in fields]
    required += [
        f.name
        for f in r.data
        if f.required and any(g.name == f.name and not g.required for g in n.data)
    ]
    if required:
        raise refuse(
            n.trigger,
            f"makes the field {required[0]!r} required for {label}: a command the national flow "
            "accepts would be refused",
        )
    if (r.resolution, r.interrupts_limitation) != (n.resolution, n.interrupts_limitation):
        raise refuse(n.trigger, f"changes what {label} records (resolution, limitation)")
    for spec in r.guards:
        if spec in n.guards:
            continue
        name = spec.partition(":")[0]
        declared = procedural.get(name)
        if declared is None:
            raise refuse(
                n.trigger,
                f"adds the guard {spec!r} to the national option {label}, which could refuse "
                "it; a guard on a national edge must be registered procedural=True with its "
                "legal basis and the triggers that satisfy it",
            )
        legal = {t.trigger for t in flow.transitions_from(source)}
        unmet = [t for t in declared.satisfied_by if t not in legal]
        if unmet:
            raise refuse(
                n.trigger,
                f"declares the procedural guard {name!r} on {label} satisfiable by "
                f"{', '.join(unmet)}, which cannot be fired from {source!r}",
            )
