"""Progress look-up by case number or serial: the stage in zh-CN, since when, the next deadline
and what it means, and nothing personal."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mediation_flow import Engine, NotFound
from mediation_flow.cli import main
from tests.conftest import at, make_intake

ID_NUMBER = "430102199001011238"
PHONE = "13800138000"


def arbitration_case(engine: Engine) -> int:
    case = engine.open_case(make_intake(), at=at(2025, 3, 3))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 4))
    engine.fire(case.id, "accept_arbitration", at=at(2025, 3, 6))
    return case.id


def test_the_view_names_the_stage_the_day_and_the_next_deadline() -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        case_id = arbitration_case(engine)
        case = engine.get(case_id)
        view = engine.lookup(case.number("arbitration") or "")
        assert view.stage == "仲裁审理中" and view.stage_key == "arbitration"
        assert view.channel == "仲裁（含仲裁调解）"
        assert str(view.since) == "2025-03-06"
        assert view.numbers == (("仲裁案号", "湘430102劳人仲案字〔2025〕第1号"),)
        nxt = view.next_deadline
        assert nxt is not None
        assert nxt.label == "答辩期限" and str(nxt.due) == "2025-03-20"
        assert "答辩" in nxt.meaning
        assert engine.lookup(case.serial) == view
        assert not view.closed and view.outcome is None


def test_the_view_holds_no_identity_number_phone_or_other_partys_details() -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        case_id = arbitration_case(engine)
        case = engine.get(case_id)
        for reference in (case.serial, case.number("arbitration") or ""):
            view = engine.lookup(reference)
            text = json.dumps(view.to_json(), ensure_ascii=False) + view.to_text() + repr(view)
            for secret in (ID_NUMBER, PHONE, "张三", "长沙某建筑工程有限公司", "18000"):
                assert secret not in text, secret


def test_references_typed_by_people_are_understood() -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        case = engine.get(arbitration_case(engine))
        sloppy_serial = case.serial.lower().replace("-", " ")
        assert engine.lookup(f"  {sloppy_serial} ").stage_key == "arbitration"
        ascii_brackets = "湘430102劳人仲案字[2025]第1号"
        assert engine.lookup(ascii_brackets).stage_key == "arbitration"


@pytest.mark.parametrize("reference", ["", "   ", "430102-250303-ZZZZZZZZ", "湘〔2025〕第99号", 7])
def test_an_unknown_reference_is_not_found_and_says_what_to_check(reference: object) -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        arbitration_case(engine)
        with pytest.raises(NotFound, match="acceptance notice or the intake receipt"):
            engine.lookup(reference)  # type: ignore[arg-type]


def test_a_closed_case_shows_its_outcome() -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        case = engine.open_case(make_intake(), at=at(2025, 3, 3))
        engine.fire(case.id, "withdraw", data={"by": "worker"}, at=at(2025, 3, 4))
        view = engine.lookup(case.serial)
        assert view.closed and view.outcome == "撤回" and view.next_deadline is None


def test_the_cli_looks_up_by_number(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/cases.db"
    with Engine(url, entry_points=False) as engine:
        case = engine.get(arbitration_case(engine))
    result = CliRunner().invoke(main, ["--db", url, "lookup", case.number("arbitration") or ""])
    assert result.exit_code == 0, result.output
    assert "当前阶段：仲裁审理中（自2025年3月6日起）" in result.output
    assert "答辩期限" in result.output
    as_json = CliRunner().invoke(main, ["--db", url, "lookup", case.serial, "--json"])
    assert json.loads(as_json.output)["stage_key"] == "arbitration"
    missing = CliRunner().invoke(main, ["--db", url, "lookup", "no-such-number"])
    assert missing.exit_code == 1 and "no case with the number" in missing.output


def test_a_case_handed_over_says_where_it_is() -> None:
    from mediation_flow import HandoffSettings

    with Engine(
        "sqlite://", entry_points=False, handoff=HandoffSettings(org_id="一站式调处中心")
    ) as engine:
        case = engine.get(arbitration_case(engine))
        engine.export_handoff(case.id, to_org="区人民法院诉调对接中心", at=at(2025, 3, 7))
        view = engine.lookup(case.serial)
        assert view.handed_over_to == "区人民法院诉调对接中心"
        assert "案件已移交区人民法院诉调对接中心办理" in view.to_text()
        # Its clocks run where it is now: no deadline is announced here.
        assert view.next_deadline is None
