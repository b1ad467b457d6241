"""The conformance kit (mediation_flow.testing.check_plugin): every shipped plugin passes it, and a
deliberately weakened copy of each is caught."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner
from mediation_flow_guizhou import GuizhouPlugin
from mediation_flow_hunan import HunanPlugin
from mediation_flow_liuzhou_liudong import LiudongPlugin
from mediation_flow_shiyan import ShiyanPlugin
from mediation_flow_template import TemplatePlugin
from mediation_flow_zigong_daan import DaanPlugin

from mediation_flow import PluginError
from mediation_flow.cli import main
from mediation_flow.plugin import FlowDefinition, hookimpl
from mediation_flow.testing import check_plugin

SHIPPED = [HunanPlugin, DaanPlugin, ShiyanPlugin, LiudongPlugin, GuizhouPlugin, TemplatePlugin]


@pytest.mark.parametrize("plugin", SHIPPED, ids=lambda p: p.__name__)
def test_every_shipped_plugin_passes(plugin: type) -> None:
    check_plugin(plugin(), walks=40, case_walks=3)


def _kinds(flow: FlowDefinition, kind: str, **changes: Any) -> FlowDefinition:
    kinds = tuple(replace(k, **changes) if k.id == kind else k for k in flow.deadline_kinds)
    return replace(flow, deadline_kinds=kinds)


class WeakHunan(HunanPlugin):
    """The fast-track target, when missed, lets the parties sue: a local target ending the
    arbitration the law still gives 45 days."""

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        flow = super().extend_flow(flow, region)
        return _kinds(flow, "fast_track_target", expiry=("file_lawsuit",))


class WeakDaan(DaanPlugin):
    """The in-plant target fails the mediation after 3 working days (LDMAL 14 gives 15 days)."""

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        flow = super().extend_flow(flow, region)
        return _kinds(flow, "inplant_target", expiry=("fail_mediation",))


class WeakShiyan(ShiyanPlugin):
    """The element checklist also holds back the refusal the acceptance clock fires (LDMAL 29)."""

    vetoes = ("accept_arbitration", "reject_arbitration")


class WeakLiudong(LiudongPlugin):
    """Only a worker whose job ended may withdraw: a guard on a national party act."""

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        flow = super().extend_flow(flow, region)
        guard = "liuzhou-liudong.employment_ended"
        edges = tuple(
            replace(t, guards=(*t.guards, guard)) if t.trigger == "withdraw" else t
            for t in flow.transitions
        )
        return replace(flow, transitions=edges)


class WeakGuizhou(GuizhouPlugin):
    """A breached settlement must go through the union: withdrawal is taken away there."""

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        flow = super().extend_flow(flow, region)
        edges = tuple(
            replace(t, sources=tuple(s for s in t.sources if s != "settlement_breached"))
            if t.trigger == "withdraw"
            else t
            for t in flow.transitions
        )
        return replace(flow, transitions=tuple(t for t in edges if t.sources))


class WeakTemplate(TemplatePlugin):
    """The community point keeps the case: no exit at all (the floor cannot see a new state's
    exits; the random walks do)."""

    @hookimpl
    def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
        flow = super().extend_flow(flow, region)
        edges = tuple(t for t in flow.transitions if "community_mediation" not in t.sources)
        return replace(flow, transitions=edges)


@pytest.mark.parametrize(
    ("plugin", "error", "message"),
    [
        (WeakHunan, PluginError, "fire the national trigger 'file_lawsuit'"),
        (WeakDaan, PluginError, "fire the national trigger 'fail_mediation'"),
        (WeakShiyan, PluginError, "declares a veto of reject_arbitration"),
        (WeakLiudong, PluginError, "adds the guard 'liuzhou-liudong.employment_ended'"),
        (WeakGuizhou, PluginError, "removes the statutory option 'withdraw' from"),
        (WeakTemplate, AssertionError, "can no longer be reached"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) and v.__name__.startswith("Weak") else "",
)
def test_a_weakened_copy_of_each_shipped_plugin_is_caught(
    plugin: type, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_plugin(plugin(), walks=40, case_walks=0)


class LedgerFailsOnArbitration(TemplatePlugin):
    """The regional ledger cannot take an arbitration application: the floor cannot see it, the
    cases run side by side do."""

    @hookimpl
    def in_transaction(self, ctx: Any, event: Any, connection: Any) -> None:
        if event.trigger == "apply_arbitration":
            raise RuntimeError("ledger unavailable")


def test_the_case_walks_catch_a_party_act_the_region_refuses() -> None:
    with pytest.raises(AssertionError, match="the regional one refuses: PluginError"):
        check_plugin(LedgerFailsOnArbitration(), walks=5, case_walks=30)


def test_a_field_made_required_on_a_national_option_is_refused() -> None:
    from mediation_flow.plugin import DataField

    class RequiresSlip(TemplatePlugin):
        @hookimpl
        def extend_flow(self, flow: FlowDefinition, region: str) -> FlowDefinition:
            flow = super().extend_flow(flow, region)
            slip = DataField("slip_no", "text", required=True)
            edges = tuple(
                replace(t, data=(*t.data, slip)) if t.trigger == "apply_arbitration" else t
                for t in flow.transitions
            )
            return replace(flow, transitions=edges)

    with pytest.raises(PluginError, match="makes the field 'slip_no' required"):
        check_plugin(RequiresSlip(), case_walks=0)


def test_the_command_line_runs_the_kit() -> None:
    runner = CliRunner()
    ok = runner.invoke(
        main,
        ["plugins", "check", "mediation_flow_template:TemplatePlugin", "--case-walks", "2"],
    )
    assert ok.exit_code == 0, ok.output
    assert "template: passes the statutory floor" in ok.output
    weak = runner.invoke(main, ["plugins", "check", "tests.test_conformance:WeakDaan"])
    assert weak.exit_code == 1
    assert "fire the national trigger 'fail_mediation'" in weak.output
