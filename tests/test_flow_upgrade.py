"""Cases opened under the previous release's national flow keep running under it after the
upgrade (docs/deployment.md, "Running cases across a flow change")."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mediation_flow import Engine
from mediation_flow.errors import FlowDefinitionError, UnknownFlow
from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.flow.national import national_flow
from tests.conftest import at, make_intake

#: The national flow before the 2026-12 amendments of flow.md §4, §6 and §7, as a deployment's
#: mf_flow table stores it.
BEFORE = Path(__file__).parent / "data" / "national_flow_before_2026_12.json"
BEFORE_FINGERPRINT = "a542e5c4293d1a161d7b8ed11172ff9461f831320fe3944d168313f2ad31dd2c"


def stored_flows(url: str) -> list[FlowDefinition]:
    """Every flow definition the database's cases were opened under."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT definition FROM mf_flow")).scalars().all()
    finally:
        engine.dispose()
    return [FlowDefinition.from_dict(json.loads(r) if isinstance(r, str) else r) for r in rows]


def test_a_stored_definition_rebuilds_with_its_fingerprint() -> None:
    before = FlowDefinition.from_dict(json.loads(BEFORE.read_text()))
    assert before.fingerprint == BEFORE_FINGERPRINT
    assert before.fingerprint != national_flow().fingerprint
    now = json.loads(json.dumps(national_flow().as_dict(), default=str))
    assert FlowDefinition.from_dict(now).fingerprint == national_flow().fingerprint
    with pytest.raises(FlowDefinitionError):
        FlowDefinition.from_dict({"name": "x"})


def test_a_case_opened_before_the_upgrade_finishes_under_its_flow(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mf.db'}"
    before = FlowDefinition.from_dict(json.loads(BEFORE.read_text()))
    # The previous release: a non-final award served on 张三 Tue 2025-06-03 and on the employer
    # Fri 06-06 (15 cd: Wed 06-18 and Sat 06-21 -> Mon 06-23, LDMAL 50).
    with Engine(url, flow=before, entry_points=False, early_warning=()) as old:
        case = old.open_case(make_intake(), at=at(2025, 5, 5))
        old.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 5, 5))
        old.fire(case.id, "accept_arbitration", at=at(2025, 5, 6))
        old.fire(
            case.id,
            "issue_award",
            data={
                "items": [{"kind": "wages", "amount": "90000"}],
                "monthly_minimum_wage": "2000",
                "served_on": {"worker": "2025-06-03", "employer": "2025-06-06"},
            },
            at=at(2025, 6, 3),
        )
    # That release keyed its windows by party kind.
    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text("UPDATE mf_deadline SET party = 'worker' WHERE party = 'worker-1'"))
        conn.execute(text("UPDATE mf_deadline SET party = 'employer' WHERE party = 'employer-1'"))
    db.dispose()

    with Engine(url, entry_points=False, early_warning=()) as new, pytest.raises(UnknownFlow):
        new.fire(case.id, "file_lawsuit", data={"by": "employer"}, at=at(2025, 6, 10))
    with Engine(url, flows=stored_flows(url), entry_points=False, early_warning=()) as new:
        assert new.get(case.id).flow_fingerprint == BEFORE_FINGERPRINT
        # New cases get the current flow; the old case its own.
        fresh = new.open_case(make_intake(), at=at(2025, 6, 10))
        assert fresh.flow_fingerprint == national_flow().fingerprint
        events = new.tick(at(2025, 6, 24, 0, 1))
        moved = [e for e in events if e.case_id == case.id]
        assert [(e.trigger, e.dest) for e in moved][-1] == ("award_takes_effect", "enforceable")
        # The previous flow's rule: the 2 years count from the day the award took effect.
        (window,) = [d for d in new.deadlines(case.id) if d.kind == "enforcement_window"]
        assert window.starts_on == date(2025, 6, 24)
        assert new.verify(case.id).ok
