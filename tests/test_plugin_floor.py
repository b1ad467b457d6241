"""The sealed statutory floor and plugin isolation: what a plugin may not do, and how it is told.

Each plugin below is something a regional author tried; each is refused when the engine starts
(the refusal is raised when one of its regions is used, the other regions run), or, for typos and
exceptions, reported with the plugin's name.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from mediation_flow import PluginError
from mediation_flow.cli import main
from mediation_flow.flow import guards as national_guards
from mediation_flow.plugin import (
    Channel,
    DeadlineKind,
    DeadlineOp,
    FlowEditor,
    NumberingRule,
    Refusal,
    Registrations,
    StateDef,
    TransitionDef,
    Unit,
    hookimpl,
)
from mediation_flow.testing import check_plugin, make_engine, sample_intake
from tests.conftest import at

ROOT = Path(__file__).resolve().parents[1]
DAY = at(2025, 3, 3)
BAOAN = "440306"


def refusal(*plugins: Any, region: str = BAOAN) -> PluginError:
    """The engine starts; the region raises the refusal when it is used."""
    engine = make_engine(*plugins)
    with pytest.raises(PluginError) as info:
        engine.flow_for(region)
    assert any(i.refused for i in engine.plugins)
    return info.value


class Baoan:
    """Shenzhen Bao'an: community mediation first (the scenario of the table's rows)."""

    name = "baoan"
    regions = ("440306",)

    def community(self, flow: Any, *ops: DeadlineOp, kinds: tuple[DeadlineKind, ...] = ()) -> Any:
        edit = FlowEditor(flow, self.name)
        edit.add_state(
            StateDef(
                "community_mediation",
                "社区调解中",
                "community mediation",
                Channel.peoples,
                on_enter=ops,
            )
        )
        edit.add_edge(
            TransitionDef(
                "refer_to_community",
                ("received",),
                "community_mediation",
                "转社区",
                "refer to the community",
            )
        )
        edit.copy_edge("fail_mediation", "peoples_mediation", to=("community_mediation",))
        edit.copy_edge("apply_arbitration", "received", to=("community_mediation",))
        edit.keep_alive("mediation_limit", "community_mediation")
        for kind in kinds:
            edit.add_deadline(kind)
        return edit.build()


# --- row 1: a statutory clock started shorter ----------------------------------------------------


class ShortClock(Baoan):
    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        return self.community(flow, DeadlineOp("start", "mediation_limit", length=7))


def test_a_statutory_clock_started_shorter_is_refused() -> None:
    error = refusal(ShortClock())
    assert error.plugin == "baoan"
    assert error.region == BAOAN
    assert error.element == "mediation_limit"
    assert "starts the statutory deadline 'mediation_limit' with 7 cd instead of 15" in str(error)
    assert "region 440306" in str(error)


def test_a_statutory_clock_started_at_its_length_is_accepted() -> None:
    class FullClock(Baoan):
        @hookimpl
        def extend_flow(self, flow: Any, region: str) -> Any:
            return self.community(flow, DeadlineOp("start", "mediation_limit"))

    engine = make_engine(FullClock())
    case = engine.open_case(sample_intake(region=BAOAN), at=DAY)
    engine.fire(case.id, "refer_to_community", at=DAY)
    (limit,) = engine.deadlines(case.id)
    assert (limit.kind, str(limit.due)) == ("mediation_limit", "2025-03-18")


# --- row 2: an internal target that ends mediation -----------------------------------------------


class TargetFailsMediation:
    name = "baoan"
    regions = ("440306",)

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        edit = FlowEditor(flow, self.name)
        edit.add_deadline(
            DeadlineKind(
                "baoan_target",
                "内部时限",
                "internal target",
                Unit.calendar_days,
                3,
                ("peoples_mediation",),
                "local practice",
                expiry=("fail_mediation",),
                statutory=False,
            )
        )
        edit.on_enter("peoples_mediation", DeadlineOp("start", "baoan_target"))
        return edit.build()


def test_a_non_statutory_target_may_not_fire_fail_mediation() -> None:
    error = refusal(TargetFailsMediation())
    assert error.element == "fail_mediation"
    assert "non-statutory deadline 'baoan_target' fire the national trigger 'fail_mediation'" in (
        str(error)
    )


# --- row 3: a guard added to a national option ---------------------------------------------------


always = Registrations("baoan")


@always.guard("baoan.never")
def never(ctx: Any) -> Refusal | None:
    return Refusal("本地不受理")


procedural = Registrations("baoan")


@procedural.guard(
    "baoan.slip_recorded",
    procedural=True,
    basis="AR 29 (an application states its facts in writing)",
    satisfied_by=("record_referral_slip",),
)
def slip_recorded(ctx: Any) -> Refusal | None:
    if not ctx.case.attributes.get("slip"):
        return Refusal("record the referral slip first (record_referral_slip)")
    return None


class GuardsArbitration:
    name = "baoan"
    regions = ("440306",)

    def __init__(self, names: Registrations, guard: str, *, slip_edge: bool = True) -> None:
        self.names, self.guard, self.slip_edge = names, guard, slip_edge

    @hookimpl
    def registrations(self) -> Registrations:
        return self.names

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        transitions = tuple(
            t if t.trigger != "apply_arbitration" else _with_guard(t, self.guard)
            for t in flow.transitions
        )
        sources = tuple(
            s for t in flow.transitions if t.trigger == "apply_arbitration" for s in t.sources
        )
        slip = TransitionDef(
            "record_referral_slip",
            sources,
            None,
            "登记转介单",
            "record the referral slip",
            effects=("mark:slip",),
        )
        edges = (*transitions, slip) if self.slip_edge else transitions
        return with_transitions(flow, edges)


def _with_guard(t: TransitionDef, guard: str) -> TransitionDef:
    from dataclasses import replace

    return replace(t, guards=(*t.guards, guard))


def with_transitions(flow: Any, transitions: tuple[TransitionDef, ...]) -> Any:
    from dataclasses import replace

    return replace(flow, transitions=transitions)


def test_an_always_refusing_guard_on_a_national_option_is_refused() -> None:
    error = refusal(GuardsArbitration(always, "baoan.never"))
    assert error.element == "apply_arbitration"
    assert "adds the guard 'baoan.never' to the national option 'apply_arbitration'" in str(error)


def test_a_procedural_guard_shown_satisfiable_is_accepted() -> None:
    engine = make_engine(GuardsArbitration(procedural, "baoan.slip_recorded"))
    case = engine.open_case(sample_intake(region=BAOAN), at=DAY)
    assert "apply_arbitration" not in engine.triggers(case.id, at=DAY)  # the slip comes first
    with pytest.raises(Exception, match="record the referral slip"):
        engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=DAY)
    engine.fire(case.id, "record_referral_slip", at=DAY)
    assert "apply_arbitration" in engine.triggers(case.id, at=DAY)
    assert engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=DAY).state == (
        "arbitration_received"
    )


def test_a_procedural_guard_nothing_can_satisfy_is_refused() -> None:
    error = refusal(GuardsArbitration(procedural, "baoan.slip_recorded", slip_edge=False))
    assert "satisfiable by record_referral_slip, which cannot be fired from" in str(error)


# --- row 4: a veto of a statutory option ---------------------------------------------------------


class VetoesArbitration:
    name = "baoan"
    regions = ("440306",)
    vetoes = ("apply_arbitration",)

    @hookimpl
    def veto_transition(self, ctx: Any, transition: Any) -> str | None:
        return "先调解"


class UndeclaredVeto:
    name = "baoan"
    regions = ("440306",)

    @hookimpl
    def veto_transition(self, ctx: Any, transition: Any) -> str | None:
        return None


def test_a_veto_of_a_statutory_option_is_refused_at_start() -> None:
    error = refusal(VetoesArbitration())
    assert "declares a veto of apply_arbitration, a party's statutory option" in str(error)


def test_a_veto_must_declare_what_it_touches() -> None:
    assert "must declare the triggers it may refuse: vetoes" in str(refusal(UndeclaredVeto()))


def test_a_veto_touches_only_the_triggers_it_declared() -> None:
    class Declared:
        name = "baoan"
        regions = ("440306",)
        vetoes = ("refer_to_negotiation",)

        @hookimpl
        def veto_transition(self, ctx: Any, transition: Any) -> str | None:
            return "本地不受理"  # would refuse anything, but is asked only about its own

    engine = make_engine(Declared())
    case = engine.open_case(sample_intake(region=BAOAN), at=DAY)
    assert "refer_to_negotiation" not in engine.triggers(case.id, at=DAY)
    assert (
        engine.fire(
            case.id,
            "refer_to_union_mediation",
            at=DAY,
            data={"org_id": "U", "org_type": "union_org"},
        ).state
        == "union_mediation"
    )


# --- row 5: registrations are per plugin and per flow --------------------------------------------


def test_a_plugin_may_not_register_a_national_name() -> None:
    names = Registrations("baoan")

    @names.guard("both_parties_consent")
    def anything(ctx: Any) -> None:
        return None

    class Replaces:
        name = "baoan"
        regions = ("440306",)

        @hookimpl
        def registrations(self) -> Registrations:
            return names

        @hookimpl
        def extend_flow(self, flow: Any, region: str) -> Any:
            return flow

    error = refusal(Replaces())
    assert "registers the guard 'both_parties_consent', a national name" in str(error)
    # The national guard is untouched, in this process and every other region.
    assert national_guards.GUARDS["both_parties_consent"] is national_guards.both_parties_consent


def test_the_national_tables_refuse_a_replacement() -> None:
    with pytest.raises(Exception, match="cannot be replaced"):
        national_guards.register_guard("both_parties_consent")(lambda ctx: None)
    assert national_guards.GUARDS["both_parties_consent"] is national_guards.both_parties_consent


def test_a_plugins_names_are_seen_only_by_its_regions_flows() -> None:
    engine = make_engine(GuardsArbitration(procedural, "baoan.slip_recorded"))
    assert engine.flow_for(BAOAN).names.lookup("guard", "baoan.slip_recorded") is slip_recorded
    assert engine.flow_for("430102").names is None
    assert "baoan.slip_recorded" not in national_guards.GUARDS
    other = make_engine()
    case = other.open_case(sample_intake(region=BAOAN), at=DAY)
    assert other.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=DAY).state == (
        "arbitration_received"
    )


def test_two_plugins_registering_one_name_are_both_named() -> None:
    first, second = Registrations("one"), Registrations("two")
    first.condition("shared.name")(lambda ctx: True)
    second.condition("shared.name")(lambda ctx: False)

    def plugin(name: str, names: Registrations) -> Any:
        class P:
            regions = ("4403",)

            @hookimpl
            def registrations(self) -> Registrations:
                return names

        p = P()
        p.name = name  # type: ignore[attr-defined]
        return p

    error = refusal(plugin("one", first), plugin("two", second))
    assert error.plugin == "one, two"
    assert "both plugins register the condition 'shared.name'" in str(error)


# --- row 6: typos --------------------------------------------------------------------------------


class Typo:
    name = "baoan"
    regions = ("440306",)

    @hookimpl
    def sugest_route(self, intake: Any, region: str) -> None:
        return None


class Unmarked:
    name = "baoan"
    regions = ("440306",)

    def suggest_route(self, intake: Any, region: str) -> None:
        return None


class UnmarkedTypo:
    name = "baoan"
    regions = ("440306",)

    def sugest_route(self, intake: Any, region: str) -> None:
        return None


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (Typo(), "implements the unknown hook sugest_route(): did you mean suggest_route()?"),
        (Unmarked(), "defines suggest_route() without @hookimpl"),
        (UnmarkedTypo(), "defines sugest_route(), which is no hook: did you mean suggest_route()?"),
    ],
)
def test_a_hook_name_typo_or_a_missing_hookimpl_is_an_error(plugin: Any, message: str) -> None:
    error = refusal(plugin)
    assert error.plugin == "baoan"
    assert message in str(error)


# --- row 7: exceptions in hooks ------------------------------------------------------------------


class Raises:
    name = "baoan"
    regions = ("440306",)
    vetoes = ("refer_to_negotiation",)

    @hookimpl
    def suggest_route(self, intake: Any, region: str) -> None:
        return 1 / 0  # type: ignore[return-value]

    @hookimpl
    def veto_transition(self, ctx: Any, transition: Any) -> None:
        return 1 / 0  # type: ignore[return-value]

    @hookimpl
    def in_transaction(self, ctx: Any, event: Any, connection: Any) -> None:
        if event.trigger == "refer_to_union_mediation":
            raise ZeroDivisionError("division by zero")


@pytest.mark.parametrize(
    ("hook", "call"),
    [
        ("suggest_route", lambda e, c: e.suggest_routes(sample_intake(region=BAOAN))),
        ("veto_transition", lambda e, c: e.fire(c, "refer_to_negotiation", at=DAY)),
        (
            "in_transaction",
            lambda e, c: e.fire(
                c, "refer_to_union_mediation", at=DAY, data={"org_id": "U", "org_type": "union_org"}
            ),
        ),
    ],
)
def test_an_exception_in_a_hook_names_the_plugin_and_the_hook(hook: str, call: Any) -> None:
    engine = make_engine(Raises())
    case = engine.open_case(sample_intake(region=BAOAN), at=DAY)
    with pytest.raises(PluginError) as info:
        call(engine, case.id)
    assert info.value.plugin == "baoan"
    assert info.value.hook == hook
    assert f"hook {hook} (region 440306) raised ZeroDivisionError" in str(info.value)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert engine.get(case.id).state == "received"


# --- row 8: conflicts name both plugins ----------------------------------------------------------


def _state_plugin(name: str) -> Any:
    class P:
        regions = ("4403",)

        @hookimpl
        def extend_flow(self, flow: Any, region: str) -> Any:
            return flow.extend(states=[StateDef("community_mediation", "社区", "community")])

    p = P()
    p.name = name  # type: ignore[attr-defined]
    return p


def _numbering_plugin(name: str) -> Any:
    class P:
        regions = ("4403",)

        @hookimpl
        def numbering_rules(self, region: str) -> list[NumberingRule]:
            return [
                NumberingRule(
                    "peoples_mediation",
                    "人民调解案号",
                    ("refer_to_peoples_mediation",),
                    f"{name}调字",
                )
            ]

    p = P()
    p.name = name  # type: ignore[attr-defined]
    return p


def test_two_plugins_defining_one_state_are_both_named() -> None:
    error = refusal(_state_plugin("shenzhen"), _state_plugin("baoan"))
    assert error.plugin == "shenzhen, baoan"
    assert "both plugins define the state 'community_mediation' for region 440300" in str(error)


def test_redefining_a_national_state_names_the_plugin_not_national() -> None:
    class Redefines:
        name = "baoan"
        regions = ("440306",)

        @hookimpl
        def extend_flow(self, flow: Any, region: str) -> Any:
            return flow.extend(states=[StateDef("received", "受理", "received")])

    error = refusal(Redefines())
    assert error.plugin == "baoan"
    assert "defines the national state 'received' again" in str(error)


def test_two_plugins_defining_one_numbering_rule_are_both_named() -> None:
    error = refusal(_numbering_plugin("shenzhen"), _numbering_plugin("baoan"))
    assert error.plugin == "shenzhen, baoan"
    assert "both plugins define the numbering rule 'peoples_mediation'" in str(error)


# --- row 9: a broken plugin stops only its own regions -------------------------------------------


def test_a_broken_plugin_stops_only_its_regions() -> None:
    engine = make_engine(ShortClock())
    with pytest.raises(PluginError, match="baoan"):
        engine.open_case(sample_intake(region=BAOAN), at=DAY)
    case = engine.open_case(sample_intake(region="110105"), at=DAY)
    assert engine.fire(case.id, "refer_to_negotiation", at=DAY).state == "negotiation"
    (info,) = engine.plugins
    assert info.name == "baoan"
    assert "with 7 cd instead of 15" in (info.refused or "")


def test_the_cli_lists_a_refused_plugin_and_other_regions_start(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    spec = "tests.test_plugin_floor:ShortClock"
    runner = CliRunner(env={"COLUMNS": "250"})
    listing = runner.invoke(main, ["--db", db, "--plugin", spec, "plugins"])
    assert listing.exit_code == 0, listing.output
    assert "baoan" in listing.output
    assert "refused" in listing.output
    assert "7 cd instead of 15" in listing.output
    states = runner.invoke(main, ["--db", db, "--plugin", spec, "states", "--region", "110105"])
    assert states.exit_code == 0, states.output
    refused = runner.invoke(main, ["--db", db, "--plugin", spec, "states", "--region", BAOAN])
    assert refused.exit_code != 0
    assert "7 cd instead of 15" in refused.output


# --- relative deadlines --------------------------------------------------------------------------


class AwardReminder:
    """Bao'an's reminder three working days before the award limit."""

    name = "baoan"
    regions = ("440306",)

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        edit = FlowEditor(flow, self.name)
        edit.add_deadline(
            DeadlineKind(
                "award_reminder",
                "裁决期限届满前提醒",
                "award reminder",
                Unit.working_days,
                3,
                ("arbitration", "arbitration_suspended"),
                "local practice",
                statutory=False,
            )
        )
        edit.add_ops(
            "accept_arbitration",
            DeadlineOp("start", "award_reminder", before="award_limit", length=3, unit="wd"),
        )
        return edit.build()


def test_a_relative_deadline_follows_the_deadline_it_precedes() -> None:
    engine = make_engine(AwardReminder())
    case = engine.open_case(sample_intake(region=BAOAN), at=DAY)
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=DAY)
    engine.fire(case.id, "accept_arbitration", at=DAY)
    kinds = {d.kind: d for d in engine.deadlines(case.id)}
    # award_limit: 45 cd from Mon 03-03 = Thu 04-17; 3 working days before: Mon 04-14.
    assert str(kinds["award_limit"].due) == "2025-04-17"
    assert str(kinds["award_reminder"].due) == "2025-04-14"
    # Extended by 15 days (LDMAL 43): the limit moves to Fri 05-02 (a holiday: rolled over to
    # Tue 05-06), and the reminder with it: Tue 04-29 (Sun 04-27 is a make-up working day:
    # Mon 04-28, Sun 04-27, ... 3 working days before Tue 05-06 are Wed 04-30, Tue 04-29,
    # Mon 04-28).
    engine.fire(case.id, "extend_award_limit", at=at(2025, 4, 1), data={"days": 15})
    kinds = {d.kind: d for d in engine.deadlines(case.id)}
    limit, reminder = kinds["award_limit"], kinds["award_reminder"]
    steps_back = _working_days_between(engine, reminder.due, limit.due)
    assert steps_back == 3
    assert reminder.due > date_of("2025-04-14")


def test_a_relative_deadline_stands_still_with_a_suspension() -> None:
    engine = make_engine(AwardReminder())
    case = engine.open_case(sample_intake(region=BAOAN), at=DAY)
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=DAY)
    engine.fire(case.id, "accept_arbitration", at=DAY)
    # Suspended on Mon 03-10 (AR 47), resumed on Mon 03-24: 14 days do not count.
    engine.fire(case.id, "suspend_arbitration", at=at(2025, 3, 10))
    kinds = {d.kind: d for d in engine.deadlines(case.id)}
    assert (kinds["award_limit"].status, kinds["award_reminder"].status) == ("paused", "paused")
    # Neither expires while the clock stands still.
    expired = [e.data["expired_deadline"]["kind"] for e in engine.tick(at(2025, 3, 23, 23))]
    assert not {"award_limit", "award_reminder"} & set(expired)
    engine.fire(case.id, "resume_arbitration", at=at(2025, 3, 24))
    kinds = {d.kind: d for d in engine.deadlines(case.id)}
    limit, reminder = kinds["award_limit"], kinds["award_reminder"]
    assert (limit.status, reminder.status) == ("pending", "pending")
    assert limit.due > date_of("2025-04-17")
    assert _working_days_between(engine, reminder.due, limit.due) == 3


def date_of(value: str) -> Any:
    from datetime import date

    return date.fromisoformat(value)


def _working_days_between(engine: Any, start: Any, end: Any) -> int:
    from datetime import timedelta

    day, count = start, 0
    while day < end:
        if engine.calendar.is_working_day(day, region=BAOAN):
            count += 1
        day += timedelta(days=1)
    return count


def test_a_statutory_clock_may_not_be_relative() -> None:
    class Relative(Baoan):
        @hookimpl
        def extend_flow(self, flow: Any, region: str) -> Any:
            op = DeadlineOp("start", "mediation_limit", before="award_limit", length=3, unit="wd")
            return self.community(flow, op)

    assert "relative to 'award_limit'" in str(refusal(Relative()))


# --- the authoring API ---------------------------------------------------------------------------


def test_shipped_plugins_import_only_the_public_module() -> None:
    allowed = {"mediation_flow.plugin"}
    offenders = []
    for path in sorted((ROOT / "plugins").glob("*/mediation_flow_*/**/*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            for module in modules:
                if module.split(".")[0] == "mediation_flow" and module not in allowed:
                    offenders.append(f"{path.relative_to(ROOT)}: {module}")
    assert offenders == []
    assert len(list((ROOT / "plugins").glob("*/mediation_flow_*/__init__.py"))) == 6


def test_a_list_data_type_reports_the_bad_item() -> None:
    from mediation_flow.plugin import choice, list_of

    parse = list_of(choice("a", "b"))
    assert parse(["a", "b"], {}) == ["a", "b"]
    with pytest.raises(ValueError, match="item 1: 'c' is not one of a, b"):
        parse(["a", "c"], {})
    with pytest.raises(ValueError, match="expected a list"):
        parse("a", {})


def test_an_in_transaction_write_of_a_refused_region_never_happens() -> None:
    engine = make_engine(ShortClock())
    with pytest.raises(PluginError):
        engine.open_case(sample_intake(region=BAOAN), at=DAY)
    with engine._store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mf_case")).scalar() == 0


def test_check_plugin_raises_the_refusal() -> None:
    with pytest.raises(PluginError, match="with 7 cd instead of 15"):
        check_plugin(ShortClock())
