"""The replay gives, from a history alone, the deadlines the engine itself stored when it recorded
that history: on the demo's cases of the national flow and of every shipped plugin (expiries,
extensions, suspensions, agreed dates, relative reminders, per-party windows)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from mediation_flow_guizhou import GuizhouPlugin
from mediation_flow_hunan import HunanPlugin
from mediation_flow_liuzhou_liudong import LiudongPlugin
from mediation_flow_shiyan import ShiyanPlugin
from mediation_flow_zigong_daan import DaanPlugin

from mediation_flow import Engine
from mediation_flow.demo import run_demo
from mediation_flow.records import CaseRecord
from mediation_flow.replay import ReplayError, replay_deadlines
from tests.conftest import at, make_intake


def _rows(deadlines: Any) -> list[tuple[Any, ...]]:
    fields = ("kind", "party", "status", "starts_on", "unit", "length", "due", "provisional")
    return [tuple(getattr(d, f) for f in (*fields, "estimate", "basis")) for d in deadlines]


def _opened(engine: Engine, case_id: int) -> CaseRecord:
    """The case as it was opened, from its public view."""
    case = engine.get(case_id)
    return CaseRecord(
        id=0,
        region=case.region,
        state="",
        version=0,
        flow_fingerprint=case.flow_fingerprint,
        resolution=None,
        worker_count=case.worker_count,
        is_migrant_worker=bool(case.is_migrant_worker),
        knew_of_infringement_on=case.knew_of_infringement_on,
        employment_ended_on=case.employment_ended_on,
        received_on=case.received_on,
        limitation_started_on=None,
        limitation_expires_on=case.limitation_expires_on,
        opened_at=case.opened_at,
        updated_at=case.opened_at,
        attributes=dict(case.attributes),
    )


def _replayed(engine: Engine, case_id: int) -> list[tuple[Any, ...]]:
    case = engine.get(case_id)
    return _rows(
        replay_deadlines(
            engine._compiled_for(case.region),
            engine.calendar,
            _opened(engine, case_id),
            case.parties,
            case.claims,
            engine.history(case_id),
        )
    )


@pytest.mark.parametrize(
    ("plugin", "region"),
    [
        (None, None),
        (GuizhouPlugin, "520102"),
        (HunanPlugin, "430102"),
        (LiudongPlugin, "450203"),
        (ShiyanPlugin, "420302"),
        (DaanPlugin, "510304"),
    ],
    ids=["national", "guizhou", "hunan", "liuzhou_liudong", "shiyan", "zigong_daan"],
)
def test_the_replay_gives_the_deadlines_the_engine_stored(plugin: Any, region: str | None) -> None:
    plugins = [plugin()] if plugin is not None else []
    with Engine("sqlite://", entry_points=False, plugins=plugins) as engine:
        result = run_demo(engine, cases=60, seed=13, region=region, start=date(2025, 1, 6))
        assert not result.errors
        checked = 0
        for case_id in result.case_ids:
            stored = _rows(engine.deadlines(case_id))
            assert _replayed(engine, case_id) == stored, f"case {case_id}"
            checked += bool(stored)
        assert checked > 30


def test_a_history_the_flow_cannot_apply_is_refused_naming_the_event() -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        case = engine.open_case(make_intake(), at=at(2025, 3, 3))
        engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 4))
        history = engine.history(case.id)
        flow = engine._compiled_for(case.region)
        forged = [history[0], replace(history[1], dest="closed")]
        with pytest.raises(ReplayError, match=r"event 2 \(apply_arbitration\)"):
            replay_deadlines(
                flow,
                engine.calendar,
                _opened(engine, case.id),
                case.parties,
                case.claims,
                forged,
            )
        engine.fire(case.id, "accept_arbitration", at=at(2025, 3, 5))
        award = {"items": [{"kind": "wages", "amount": "18000"}], "monthly_minimum_wage": "1930"}
        engine.fire(case.id, "issue_award", data=award, at=at(2025, 4, 1))
        history = engine.history(case.id)
        data = {k: v for k, v in history[-1].data.items() if k != "items"}
        with pytest.raises(
            ReplayError, match=r"\(issue_award\): its data lacks the required items"
        ):
            replay_deadlines(
                flow,
                engine.calendar,
                _opened(engine, case.id),
                case.parties,
                case.claims,
                [*history[:-1], replace(history[-1], data=data)],
            )
        with pytest.raises(ReplayError, match="starts with the open_case event"):
            replay_deadlines(
                flow, engine.calendar, _opened(engine, case.id), case.parties, case.claims, []
            )
