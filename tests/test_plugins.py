"""The plugin system: scoping by region, the statutory floor, broken plugins, every hook."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from structlog.testing import capture_logs

from mediation_flow import (
    Actor,
    AttributeSpec,
    Engine,
    GuardFailed,
    IllegalTransition,
    InvalidIntake,
    PluginError,
    Role,
    Route,
    StateDef,
    TransitionDef,
    UnknownFlow,
    hookimpl,
)
from mediation_flow.testing import make_engine, sample_intake
from tests.conftest import at

DAY = at(2025, 3, 3)


class ParkStation:
    """A small regional plugin: a park mediation station in Zigong (5103)."""

    name = "park"
    regions = ("5103",)

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        return flow.extend(
            plugin=self.name,
            states=[StateDef("park_mediation", "园区调解中", "park mediation")],
            transitions=[
                TransitionDef(
                    "refer_to_park",
                    ("received",),
                    "park_mediation",
                    "转园区调解",
                    "refer to the park station",
                ),
                TransitionDef("withdraw", ("park_mediation",), "closed", "撤回", "withdraw"),
            ],
        )


def snapshot(engine: Engine, case_id: int) -> tuple[Any, ...]:
    case = engine.get(case_id)
    return case.state, case.version, len(engine.history(case_id)), engine.deadlines(case_id)


# --- scoping ------------------------------------------------------------------------------------


def test_a_plugin_step_exists_only_in_its_regions() -> None:
    engine = make_engine(ParkStation())
    zigong = engine.open_case(sample_intake(region="510302"), at=DAY)
    assert engine.fire(zigong.id, "refer_to_park", at=DAY).state == "park_mediation"
    changsha = engine.open_case(sample_intake(region="430102"), at=DAY)
    with pytest.raises(IllegalTransition):
        engine.fire(changsha.id, "refer_to_park", at=DAY)
    assert engine.get(zigong.id).flow_fingerprint != engine.get(changsha.id).flow_fingerprint
    assert engine.flow_for("510302").plugins == ("park",)
    assert engine.flow_for("430102").plugins == ()


def test_a_region_flow_survives_a_restart_on_the_same_database(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'park.db'}"
    with Engine(url, plugins=[ParkStation()], entry_points=False) as first:
        case = first.open_case(sample_intake(region="510302"), at=DAY)
    with Engine(url, plugins=[ParkStation()], entry_points=False) as second:
        assert second.fire(case.id, "refer_to_park", at=DAY).state == "park_mediation"
    with (
        Engine(url, entry_points=False) as without,
        pytest.raises(UnknownFlow, match="which this engine does not know"),
    ):
        without.fire(case.id, "refer_to_park", at=DAY)


def test_the_plugins_are_listed_with_their_regions_and_hooks() -> None:
    engine = make_engine(ParkStation())
    (info,) = engine.plugins
    assert (info.name, info.regions, info.hooks) == ("park", ("5103",), ("extend_flow",))


# --- the statutory floor ------------------------------------------------------------------------


class RemovesArbitration:
    name = "no-arbitration"
    regions = ("43",)

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        kept = tuple(
            dataclasses.replace(t, sources=tuple(s for s in t.sources if s != "mediation_failed"))
            if t.trigger == "apply_arbitration"
            else t
            for t in flow.transitions
        )
        return dataclasses.replace(flow, transitions=kept)


class ShortensMediation:
    name = "short-mediation"
    regions = ("43",)

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        kind = flow.deadline_map["mediation_limit"]
        return flow.extend(replace_deadline_kinds=[dataclasses.replace(kind, length=10)])


class CountsWorkingDays:
    name = "working-days"
    regions = ("43",)

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        from mediation_flow import Unit

        kind = flow.deadline_map["suit_window"]
        return flow.extend(
            replace_deadline_kinds=[dataclasses.replace(kind, unit=Unit.working_days)]
        )


class LengthensMediation:
    name = "long-mediation"
    regions = ("43",)

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        kind = flow.deadline_map["mediation_limit"]
        return flow.extend(replace_deadline_kinds=[dataclasses.replace(kind, length=20)])


def refusal(plugin: Any, region: str = "430102") -> PluginError:
    """The engine starts; the plugin's region raises its refusal when used."""
    engine = make_engine(plugin)
    with pytest.raises(PluginError) as info:
        engine.flow_for(region)
    return info.value


def test_a_plugin_that_removes_a_statutory_option_is_refused() -> None:
    error = refusal(RemovesArbitration())
    assert "removes the statutory option 'apply_arbitration' from 'mediation_failed'" in str(error)
    assert error.plugin == "no-arbitration"


def test_a_plugin_that_shortens_the_mediation_limit_is_refused() -> None:
    assert "shortens the statutory deadline 'mediation_limit'" in str(refusal(ShortensMediation()))


def test_a_plugin_that_changes_a_deadline_unit_is_refused() -> None:
    assert "changes the unit of the statutory deadline" in str(refusal(CountsWorkingDays()))


def test_a_plugin_may_lengthen_a_statutory_deadline() -> None:
    # 20 cd from Mon 2025-03-03: Sun 03-23 rolls over to Mon 03-24.
    engine = make_engine(LengthensMediation())
    case = engine.open_case(sample_intake(region="430102"), at=DAY)
    engine.fire(case.id, "refer_to_peoples_mediation", data={"org_id": "P"}, at=DAY)
    (limit,) = engine.deadlines(case.id)
    assert str(limit.due) == "2025-03-24"


# --- broken plugins fail at start-up, with their name --------------------------------------------


class Nameless:
    regions = ("43",)


class BadPrefix:
    name = "bad-prefix"
    regions = ("Hunan",)


class CrashingFlow:
    name = "crashing"
    regions = ("43",)

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        raise RuntimeError("table missing")


class WrongArguments:
    name = "wrong-arguments"

    @hookimpl
    def extend_flow(self, flow: Any, province: str) -> Any:
        return flow


class UnknownGuard:
    name = "unknown-guard"
    regions = ("43",)

    @hookimpl
    def extend_flow(self, flow: Any, region: str) -> Any:
        return flow.extend(
            transitions=[TransitionDef("x", ("received",), "closed", "x", "x", guards=("nope",))]
        )


@pytest.mark.parametrize(
    ("plugin", "name", "message"),
    [
        (Nameless(), None, "needs a non-empty string attribute 'name'"),
        (BadPrefix(), "bad-prefix", "region prefix 'Hunan' is not 2 to 6 digits"),
        (CrashingFlow(), "crashing", "hook extend_flow raised RuntimeError: table missing"),
        (WrongArguments(), "wrong-arguments", "invalid hook implementation"),
        (UnknownGuard(), "unknown-guard", "nope"),
    ],
)
def test_a_broken_plugin_is_refused_at_start_up_with_its_name(
    plugin: Any, name: str | None, message: str
) -> None:
    engine = make_engine(plugin)
    (info,) = [i for i in engine.plugins if i.refused]
    assert message in info.refused
    with pytest.raises(PluginError, match=message) as error:
        engine.flow_for("430102")
    if name:
        assert name in error.value.plugin


def test_two_plugins_with_one_name_are_refused_naming_both() -> None:
    engine = make_engine(ParkStation(), ParkStation())
    with pytest.raises(PluginError, match="two plugins have this name") as info:
        engine.flow_for("510302")
    assert info.value.plugin.count("park (Engine(plugins=...))") == 2


# --- hooks on commands --------------------------------------------------------------------------


class Recorder:
    name = "recorder"
    regions = ("43",)

    def __init__(
        self, *, veto: str | None = None, fail_inside: bool = False, fail_after: bool = False
    ) -> None:
        self.veto, self.fail_inside, self.fail_after = veto, fail_inside, fail_after
        self.vetoes = (veto or "accept_arbitration",)
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    def veto_transition(self, ctx: Any, transition: Any) -> str | None:
        if self.veto and transition.trigger == self.veto:
            return "本地规定：须先完成要素登记"
        return None

    @hookimpl
    def in_transaction(self, ctx: Any, event: Any, connection: Any) -> None:
        from sqlalchemy import text

        connection.execute(text("CREATE TABLE IF NOT EXISTS audit_note (case_id INT, trig TEXT)"))
        connection.execute(
            text("INSERT INTO audit_note VALUES (:c, :t)"), {"c": event.case_id, "t": event.trigger}
        )
        if self.fail_inside:
            raise RuntimeError("regional ledger unavailable")

    @hookimpl
    def after_commit(self, case: Any, event: Any) -> None:
        self.seen.append((event.trigger, case.state))
        if self.fail_after:
            raise ConnectionError("SMS gateway down")


def test_a_veto_refuses_with_the_plugin_and_reason_and_writes_nothing() -> None:
    engine = make_engine(Recorder(veto="refer_to_negotiation"))
    case = engine.open_case(sample_intake(), at=DAY)
    before = snapshot(engine, case.id)
    with pytest.raises(GuardFailed, match="须先完成要素登记") as info:
        engine.fire(case.id, "refer_to_negotiation", at=DAY)
    assert info.value.guard == "recorder:veto"
    assert snapshot(engine, case.id) == before
    assert "refer_to_negotiation" not in engine.triggers(case.id, at=DAY)


def test_in_transaction_writes_commit_with_the_transition() -> None:
    engine = make_engine(Recorder())
    case = engine.open_case(sample_intake(), at=DAY)
    engine.fire(case.id, "refer_to_negotiation", at=DAY)
    from sqlalchemy import text

    with engine._store.engine.connect() as conn:
        rows = conn.execute(text("SELECT case_id, trig FROM audit_note")).all()
    assert [tuple(r) for r in rows] == [(case.id, "refer_to_negotiation")]


def test_a_plugin_raising_inside_the_transaction_leaves_nothing_written() -> None:
    from sqlalchemy import text

    engine = make_engine(Recorder(fail_inside=True))
    with engine._store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE audit_note (case_id INT, trig TEXT)"))
    case = engine.open_case(sample_intake(), at=DAY)
    before = snapshot(engine, case.id)
    with pytest.raises(PluginError, match="regional ledger unavailable") as info:
        engine.fire(
            case.id,
            "refer_to_union_mediation",
            at=DAY,
            data={"org_id": "U", "org_type": "union_org"},
        )
    assert info.value.plugin == "recorder"
    assert "hook in_transaction (region 430102) raised RuntimeError" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert snapshot(engine, case.id) == before  # no state, event or deadline
    with engine._store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_note")).scalar() == 0


def test_a_plugin_raising_after_commit_is_logged_and_the_transition_stays() -> None:
    recorder = Recorder(fail_after=True)
    engine = make_engine(recorder)
    case = engine.open_case(sample_intake(), at=DAY)
    with capture_logs() as logs:
        after = engine.fire(case.id, "refer_to_negotiation", at=DAY)
    assert after.state == "negotiation"
    assert engine.get(case.id).state == "negotiation"
    (failure,) = [e for e in logs if e["event"] == "after_commit_failed"]
    assert failure["plugin"] == "recorder"
    assert "SMS gateway down" in failure["error"]
    assert failure["log_level"] == "error"
    assert recorder.seen == [("open_case", "received"), ("refer_to_negotiation", "negotiation")]


def test_hooks_also_run_for_expiries() -> None:
    recorder = Recorder()
    engine = make_engine(recorder)
    case = engine.open_case(sample_intake(), at=DAY)
    engine.fire(case.id, "refer_to_negotiation", at=DAY)
    # negotiation_answer: 5 cd from Mon 03-03 is Sat 03-08, rolled over to Mon 03-10.
    (event,) = engine.tick(at(2025, 3, 11, 0, 1))
    assert event.trigger == "fail_negotiation"
    assert recorder.seen[-1] == ("fail_negotiation", "negotiation_failed")


def test_hooks_run_for_expiries_on_an_engine_that_fails_closed() -> None:
    """tick and a command's catch-up expiries read the case for the hooks as the trusted
    system: an engine without a default actor still runs them."""
    recorder = Recorder()
    engine = make_engine(recorder)
    engine.default_actor = None
    officer = Actor("officer-1", Role.intake_officer, region="43")
    case = engine.open_case(sample_intake(), at=DAY, actor=officer)
    engine.fire(case.id, "refer_to_negotiation", at=DAY, actor=officer)
    (event,) = engine.tick(at(2025, 3, 11, 0, 1))
    assert event.trigger == "fail_negotiation"
    assert recorder.seen[-1] == ("fail_negotiation", "negotiation_failed")
    # The catch-up path: a late command applies the expiry no tick has applied first.
    other = engine.open_case(sample_intake(), at=DAY, actor=officer)
    engine.fire(other.id, "refer_to_negotiation", at=DAY, actor=officer)
    with pytest.raises(IllegalTransition):
        engine.fire(other.id, "accept_negotiation", at=at(2025, 3, 20), actor=Actor.system())
    assert recorder.seen[-1] == ("fail_negotiation", "negotiation_failed")
    assert engine.get(other.id, actor=officer).state == "negotiation_failed"


def test_hooks_of_a_plugin_do_not_run_outside_its_regions() -> None:
    recorder = Recorder(veto="refer_to_negotiation")
    engine = make_engine(recorder)
    case = engine.open_case(sample_intake(region="110105"), at=DAY)
    assert engine.fire(case.id, "refer_to_negotiation", at=DAY).state == "negotiation"
    assert recorder.seen == []


# --- calendar, attributes, routes ---------------------------------------------------------------


class Guangxi:
    name = "guangxi-calendar"
    regions = ("45",)

    @hookimpl
    def regional_rest_days(self) -> dict[str, list[date]]:
        return {"45": [date(2025, 3, 31), date(2025, 4, 1)]}


def test_regional_rest_days_move_a_due_date_in_their_region_only() -> None:
    # Mediation received Sun 2025-03-16: day 15 is Mon 03-31, a 三月三 rest day in Guangxi, and
    # so is Tue 04-01: the limit rolls over to Wed 04-02. In Hunan it stays Mon 03-31.
    engine = make_engine(Guangxi())
    for region, due in (("450203", "2025-04-02"), ("430102", "2025-03-31")):
        case = engine.open_case(sample_intake(region=region), at=at(2025, 3, 16))
        engine.fire(case.id, "refer_to_peoples_mediation", data={"org_id": "P"}, at=at(2025, 3, 16))
        (limit,) = engine.deadlines(case.id)
        assert str(limit.due) == due, region


class Attributes:
    name = "attributes"
    regions = ("43",)

    @hookimpl
    def case_attributes(self, region: str) -> dict[str, AttributeSpec]:
        return {
            "industry": AttributeSpec("text", "行业", choices=("建筑", "餐饮", "制造")),
            "project_started_on": AttributeSpec("date", "项目开工日期"),
            "contract_sum": AttributeSpec("money", "合同金额", required=True),
        }


def test_declared_case_attributes_are_checked_at_intake() -> None:
    engine = make_engine(Attributes())
    case = engine.open_case(
        sample_intake(
            attributes={
                "industry": "建筑",
                "contract_sum": 120000,
                "project_started_on": "2024-05-01",
                "foreman": "王五",
            }
        ),
        at=DAY,
    )
    assert case.attributes["intake"] == {
        "industry": "建筑",
        "contract_sum": "120000",
        "project_started_on": "2024-05-01",
        "foreman": "王五",
    }
    for attrs, field in (
        ({"industry": "金融", "contract_sum": 1}, "attributes.industry"),
        ({"contract_sum": -1}, "attributes.contract_sum"),
        ({"industry": "建筑"}, "attributes.contract_sum"),
        ({"contract_sum": 1, "project_started_on": "soon"}, "attributes.project_started_on"),
    ):
        with pytest.raises(InvalidIntake) as info:
            engine.open_case(sample_intake(attributes=attrs), at=DAY)
        assert info.value.field == field
    # Another region has no such declarations.
    assert engine.open_case(sample_intake(region="110105"), at=DAY).state == "received"


class Router:
    name = "router"
    regions = ("43",)

    @hookimpl
    def suggest_route(self, intake: Any, region: str) -> Route | None:
        if intake.is_migrant_worker:
            return Route("apply_arbitration", "农民工欠薪，建议速裁", data={"by": "worker"})
        return None


def test_routes_come_from_the_regions_plugins_then_the_national_default() -> None:
    engine = make_engine(Router())
    routes = engine.suggest_routes(sample_intake(is_migrant_worker=True))
    assert [(r.trigger, r.plugin) for r in routes] == [
        ("apply_arbitration", "router"),
        ("refer_to_negotiation", "national"),
    ]
    assert "速裁" in routes[0].reason
    assert [r.plugin for r in engine.suggest_routes(sample_intake())] == ["national"]
