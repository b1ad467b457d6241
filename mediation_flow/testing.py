"""Tools for testing plugins and host systems: a fixed clock, an in-memory engine with chosen
plugins, a realistic intake, and the pytest fixture ``mf_engine``.

The fixture is registered with pytest automatically (a ``pytest11`` entry point) wherever
mediation-flow is installed::

    def test_park_station(mf_engine):
        engine = mf_engine(ParkPlugin(), at="2025-03-03")
        case = engine.open_case(sample_intake(region="510302"))
        case = engine.fire(case.id, "refer_to_park_station")
        engine.clock.advance(days=16)
        engine.tick()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from mediation_flow.calendar import Calendar
from mediation_flow.engine import SHANGHAI, Engine
from mediation_flow.flow.definition import FlowDefinition

__all__ = ["FixedClock", "check_plugin", "make_engine", "mf_engine", "moment", "sample_intake"]


def moment(value: str | date | datetime, hour: int = 9, minute: int = 0) -> datetime:
    """``"2025-03-03"`` (or a date) at ``hour:minute`` in Asia/Shanghai; aware datetimes pass."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return datetime.combine(day, time(hour, minute), SHANGHAI)


class FixedClock:
    """A clock that stands still until moved: ``clock.set("2025-03-20")``,
    ``clock.advance(days=16)``, ``clock.end_of_day()``."""

    def __init__(self, at: str | date | datetime = "2025-03-03") -> None:
        self.now = moment(at)

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: str | date | datetime, hour: int = 9, minute: int = 0) -> datetime:
        self.now = moment(at, hour, minute)
        return self.now

    def advance(self, *, days: int = 0, hours: int = 0, minutes: int = 0) -> datetime:
        self.now += timedelta(days=days, hours=hours, minutes=minutes)
        return self.now

    def end_of_day(self) -> datetime:
        """23:59 of the current day: a deadline due today has not expired yet."""
        self.now = self.now.replace(hour=23, minute=59, second=0, microsecond=0)
        return self.now

    def next_morning(self) -> datetime:
        """00:01 of the next day: a deadline due yesterday has expired."""
        self.now = (self.now + timedelta(days=1)).replace(hour=0, minute=1, second=0, microsecond=0)
        return self.now


class FixedClockEngine(Engine):
    """An engine with a :class:`FixedClock` at ``engine.clock``."""

    clock: FixedClock


def make_engine(
    *plugins: object,
    at: str | date | datetime = "2025-03-03",
    url: str = "sqlite://",
    calendar: Calendar | None = None,
    **options: Any,
) -> FixedClockEngine:
    """An engine on an in-memory database with exactly ``plugins`` (no entry points) and a
    fixed clock at ``at`` (``engine.clock``)."""
    clock = FixedClock(at)
    engine = FixedClockEngine(
        url, plugins=plugins, entry_points=False, clock=clock, calendar=calendar, **options
    )
    engine.clock = clock
    return engine


def sample_intake(**overrides: Any) -> dict[str, Any]:
    """A wage dispute of one worker against one employer; override any field."""
    intake: dict[str, Any] = {
        "region": "430102",
        "parties": [
            {"kind": "worker", "role": "applicant", "name": "张三"},
            {"kind": "employer", "role": "respondent", "name": "某建筑工程有限公司"},
        ],
        "claims": [{"kind": "wages", "amount": "18000.00"}],
        "knew_of_infringement_on": "2024-12-31",
        "employment_ended_on": "2024-12-31",
    }
    intake.update(overrides)
    return intake


try:
    import pytest
except ImportError:  # pragma: no cover - the fixture needs pytest; the helpers do not
    pass
else:

    @pytest.fixture
    def mf_engine() -> Iterator[Callable[..., FixedClockEngine]]:
        """A factory of in-memory engines: ``mf_engine(*plugins, at="2025-03-03")``. Every
        engine it made is closed after the test."""
        made: list[Engine] = []

        def factory(*plugins: object, **kwargs: Any) -> FixedClockEngine:
            engine = make_engine(*plugins, **kwargs)
            made.append(engine)
            return engine

        yield factory
        for engine in made:
            engine.close()


# --- the conformance kit -------------------------------------------------------------------------


def check_plugin(
    plugin: object,
    regions: Iterable[str] | None = None,
    *,
    flow: FlowDefinition | None = None,
    walks: int = 60,
    case_walks: int = 10,
) -> None:
    """Check a regional plugin the way the engine will, then harder: for a plugin author's CI.

    1. The plugin loads (name, regions, hooks, registrations, vetoes), and for each of
       ``regions`` (default: one code per declared prefix) its flow is built, checked against the
       statutory floor (:func:`mediation_flow.plugins.check_statutory_floor`) and compiled, and
       its numbering rules, templates, attributes and early-warning rules load. The first
       refusal is raised as the engine would raise it: a ``PluginError`` naming the plugin, the
       region, the national element and the rule.
    2. Random walks (hypothesis) over the regional flow, beside the national one (``flow``,
       default :func:`~mediation_flow.flow.national.national_flow`): in every state a walk
       reaches, every act a party could take in the last national state of the walk (a
       ``party_act`` trigger: applying, suing, withdrawing) can still be reached; in a
       national state, every national trigger stays, to the same destination, and every
       statutory deadline alive there stays alive with the same or a longer length.
    3. ``case_walks`` random cases run side by side on two in-memory engines, one with the
       plugin and one without, firing the same national triggers with the same data on the same
       days (and ticking both) for as long as both cases are in the same national state: every
       party act the national case may take, the regional case may take too, and every open
       statutory deadline of the national case is open in the regional case, due the same day or
       later.

    A failure of 2 or 3 raises ``AssertionError`` naming the walk.
    """
    from mediation_flow.errors import PluginError
    from mediation_flow.flow.compiler import compile_flow
    from mediation_flow.flow.national import national_flow
    from mediation_flow.plugins import Plugins, statutory_options

    base = flow or national_flow()
    plugins = Plugins([plugin], entry_points=False)
    plugins.check(base)
    plugins.early_warning_rules()
    plugins.calendar(Calendar())
    for _regions, error in plugins.refused.values():
        raise error
    codes = list(regions) if regions is not None else plugins.declared_regions()
    if not codes:
        codes = ["110101"]
    flows: list[FlowDefinition] = []
    for region in codes:
        regional = plugins.build_flow(base, region)
        try:
            compile_flow(regional)
        except PluginError:
            raise
        except Exception as exc:
            name = ", ".join(regional.plugins) or "?"
            raise PluginError(name, f"the flow for {region} does not compile: {exc}") from exc
        plugins.numbering_rules(region)
        plugins.document_templates(region)
        plugins.attributes(region)
        flows.append(regional)

    options = statutory_options(base)
    national_reach = _reachable_options(base, options)
    for regional in flows:
        _walk(base, regional, national_reach, _reachable_options(regional, options), walks)
    if case_walks and flow is None:
        for region in codes:
            _case_walks(plugin, region, options, case_walks)


def _walk(
    base: FlowDefinition,
    regional: FlowDefinition,
    national_reach: dict[str, set[str]],
    regional_reach: dict[str, set[str]],
    walks: int,
) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    # Every step from a national state into a regional one, checked exhaustively first.
    for s in regional.states:
        if s.id in base.state_map:
            continue
        for t in regional.transitions:
            if t.dest == s.id:
                for source in t.sources:
                    if source in base.state_map:
                        path = [source, f"-{t.trigger}-> {s.id}"]
                        _check_state(
                            base, regional, s.id, source, national_reach, regional_reach, path
                        )

    @settings(
        max_examples=walks,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
    def walk(choices: list[int]) -> None:
        state, anchor, path = regional.initial, regional.initial, [regional.initial]
        for choice in [*choices, 0]:
            _check_state(base, regional, state, anchor, national_reach, regional_reach, path)
            edges = [t for t in regional.transitions_from(state) if t.dest is not None]
            if not edges:
                return
            edge = edges[choice % len(edges)]
            state = edge.dest or state
            path.append(f"-{edge.trigger}-> {state}")
            if state in base.state_map:
                anchor = state

    walk()


def _reachable_options(flow: FlowDefinition, options: frozenset[str]) -> dict[str, set[str]]:
    """For each state, the party options that can still be taken from it or a later state."""
    out: dict[str, set[str]] = {}
    for s in flow.states:
        seen, todo, found = {s.id}, [s.id], set()
        while todo:
            here = todo.pop()
            for t in flow.transitions_from(here):
                if t.trigger in options:
                    found.add(t.trigger)
                dest = t.dest or here
                if dest not in seen:
                    seen.add(dest)
                    todo.append(dest)
        for kind in flow.deadline_kinds:
            if kind.statutory and seen & set(kind.alive_in):
                found.update(e for e in kind.expiry if e in options)
        out[s.id] = found
    return out


def _check_state(
    base: FlowDefinition,
    regional: FlowDefinition,
    state: str,
    anchor: str,
    national_reach: dict[str, set[str]],
    regional_reach: dict[str, set[str]],
    path: list[str],
) -> None:
    walked = " ".join(path)
    # The acts a party may take in ``anchor``, the last national state, stay within reach (a
    # regional step is never a trap: mediation is never compulsory, LDMAL 5).
    direct = {t.trigger for t in base.transitions_from(anchor) if t.party_act}
    lost = (direct & national_reach[anchor]) - regional_reach[state]
    assert not lost, (
        f"{', '.join(regional.plugins)}: after {walked}, the party options {sorted(lost)} can "
        f"no longer be reached (they can from {anchor!r} in the national flow)"
    )
    if state not in base.state_map:
        return
    national = {(t.trigger, t.dest) for t in base.transitions_from(state)}
    kept = {(t.trigger, t.dest) for t in regional.transitions_from(state)}
    assert national <= kept, f"after {walked}: national edges lost: {sorted(national - kept)}"
    for kind in base.deadline_kinds:
        if not kind.statutory or state not in kind.alive_in:
            continue
        new = regional.deadline_map[kind.id]
        assert state in new.alive_in, f"after {walked}: {kind.id!r} no longer runs in {state!r}"
        assert (new.length or 0) >= (kind.length or 0), f"after {walked}: {kind.id!r} is shorter"


#: Data for a national field type, on day ``d`` (an ISO date).
_SAMPLES: dict[str, Callable[[str], Any]] = {
    "date": lambda d: d,
    "party_dates": lambda d: {"worker": d, "employer": d},
    "party": lambda d: "worker",
    "by": lambda d: "worker",
    "bool": lambda d: False,
    "text": lambda d: "某调解组织",
    "money": lambda d: "2000",
    "days": lambda d: 5,
    "award_items": lambda d: [{"kind": "wages", "amount": "18000"}],
    "union_org_type": lambda d: "union_org",
    "procedure": lambda d: "ordinary",
    "failure_reason": lambda d: "no_agreement",
}


def _case_walks(plugin: object, region: str, options: frozenset[str], examples: int) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    from mediation_flow.errors import MediationFlowError

    steps = st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 10_000), st.sampled_from(_BYS)),
        min_size=1,
        max_size=12,
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        # Each example runs two engines: report the first failing walk as found, unshrunk.
        phases=(Phase.explicit, Phase.generate),
        derandomize=True,  # the same walks on every run: a plugin's CI does not flicker
    )
    @given(steps)
    def walk(plan: list[tuple[int, int, str]]) -> None:
        regional, national = make_engine(plugin), make_engine()
        try:
            intake = sample_intake(region=region)
            ours, theirs = (e.open_case(intake).id for e in (regional, national))
            path: list[str] = []
            for days, choice, by in plan:
                for engine in (regional, national):
                    engine.clock.advance(days=days)
                    engine.tick()
                path.append(f"+{days}d")
                state = national.get(theirs).state
                if regional.get(ours).state != state:
                    return  # the walk left the national flow: nothing to compare
                _compare(regional, national, ours, theirs, options, path)
                legal = national.triggers(theirs)
                if not legal:
                    return
                trigger = legal[choice % len(legal)]
                data = _sample_data(national, theirs, trigger, by)
                try:
                    national.fire(theirs, trigger, data=data)
                except MediationFlowError:
                    continue
                path.append(f"{trigger}({data})")
                try:
                    regional.fire(ours, trigger, data=data)
                except MediationFlowError as exc:
                    refused = f"{type(exc).__name__}: {exc}"
                else:
                    continue
                name = getattr(plugin, "name", plugin)
                assert trigger not in options, (
                    f"{name} ({region}): after {' '.join(path)}, the national flow lets the "
                    f"party {trigger}, the regional one refuses: {refused}"
                )
                return
        finally:
            regional.close()
            national.close()

    walk()


_BYS = ("worker", "employer", "both")


def _sample_data(engine: FixedClockEngine, case_id: int, trigger: str, by: str) -> dict[str, Any]:
    flow = engine.flow_for(engine.get(case_id).region)
    state = engine.get(case_id).state
    day = engine.clock().date().isoformat()
    data: dict[str, Any] = {}
    for t in flow.transitions_from(state):
        if t.trigger != trigger:
            continue
        for f in t.data:
            sample = _SAMPLES.get(f.type)
            if sample is not None:
                data[f.name] = sample(day)
        if t.party_act or t.guards:
            data["by"] = by
    if "items" in data:
        data["monthly_minimum_wage"] = "2000"
    return data


def _compare(
    regional: Engine,
    national: Engine,
    ours: int,
    theirs: int,
    options: frozenset[str],
    path: list[str],
) -> None:
    walked = " ".join(path) or "intake"
    statutory = {k.id for k in national.flow.deadline_kinds if k.statutory}
    mine = {(d.kind, d.party): d for d in regional.deadlines(ours) if d.status in _OPEN}
    for d in national.deadlines(theirs):
        if d.kind not in statutory or d.status not in _OPEN:
            continue
        other = mine.get((d.kind, d.party))
        assert other is not None, f"after {walked}: the statutory {d.kind} is not open"
        assert other.due >= d.due, (
            f"after {walked}: the statutory {d.kind} is due {other.due}, before the national "
            f"{d.due}"
        )
    acts = set(national.triggers(theirs)) & options
    lost = acts - set(regional.triggers(ours))
    assert not lost, f"after {walked}: the party can no longer {sorted(lost)}"


_OPEN = ("pending", "paused")
