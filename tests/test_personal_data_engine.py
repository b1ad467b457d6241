"""Personal data in the engine: checked at intake, never in a log line, masked in reprs and
exports unless an official asks for clear text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mediation_flow import Actor, Engine, InvalidIntake, PermissionDenied, Role
from mediation_flow.cli import main
from mediation_flow.storage.repository import parties
from tests.conftest import at, make_intake

DAY = at(2025, 3, 3)
ZHANG_ID = "430102199001011238"
EMPLOYER_CODE = "91350100M000100Y43"


def count_cases(engine: Engine) -> int:
    with engine._store.connect() as conn, engine._store.reading(conn):
        return engine._store.count_cases(conn)


@pytest.mark.parametrize(
    ("party", "field", "value"),
    [
        (0, "id_number", "430102199001011234"),  # wrong check digit
        (0, "id_number", "430102199002301238"),  # 30 February
        (0, "id_number", "43010290010112"),  # too short
        (1, "id_number", "91350100M000100Y44"),  # wrong GB 32100 check character
        (0, "phone", "12800138000"),  # no such mobile prefix
    ],
)
def test_bad_identity_numbers_codes_and_phones_are_refused(
    engine: Engine, party: int, field: str, value: str
) -> None:
    intake = make_intake()
    intake["parties"][party][field] = value
    with pytest.raises(InvalidIntake) as info:
        engine.open_case(intake, at=DAY)
    assert info.value.field == f"parties[{party}].{field}"
    assert value not in str(info.value)
    assert count_cases(engine) == 0


def test_good_numbers_are_stored_normalised(engine: Engine) -> None:
    intake = make_intake()
    intake["parties"][0]["id_number"] = "11010519491231002x"
    intake["parties"][0]["phone"] = "138 0013 8000"
    intake["parties"][1]["id_number"] = EMPLOYER_CODE.lower()
    case = engine.open_case(intake, at=DAY)
    worker, employer = case.parties
    assert (worker.id_number, worker.phone) == ("11010519491231002X", "13800138000")
    assert employer.id_number == EMPLOYER_CODE
    assert engine.verify(case.id).ok


def test_reprs_mask_personal_data(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    text = repr(case)
    assert ZHANG_ID not in text
    assert "13800138000" not in text
    assert "430102********1238" in text
    assert "138****8000" in text


def test_exports_mask_unless_an_official_asks_for_clear_text(engine: Engine) -> None:
    case = engine.open_case(make_intake(), at=DAY)
    masked = engine.export(case.id)
    assert masked["parties"][0]["id_number"] == "430102********1238"
    assert masked["parties"][0]["phone"] == "138****8000"
    assert len(masked["history"]) == 1
    officer = Actor("desk-1", Role.intake_officer, region="43")
    clear = engine.export(case.id, actor=officer, clear_text=True)
    assert clear["parties"][0]["id_number"] == ZHANG_ID
    intake = make_intake()
    intake["parties"][1]["account"] = "acct-boss"
    other = engine.open_case(intake, at=DAY)
    with pytest.raises(PermissionDenied, match="personal data"):
        engine.export(other.id, actor=Actor("acct-boss", Role.employer), clear_text=True)
    assert (
        engine.export(other.id, actor=Actor("acct-boss", Role.employer))["parties"][0]["id_number"]
        == "430102********1238"
    )


def test_no_identity_number_or_phone_reaches_the_demo_logs(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(main, ["--db", db, "--log-json", "demo", "--cases", "60"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("{")]
    assert len(lines) > 300  # every event was logged, as JSON
    with Engine(db) as engine, engine._store.connect() as conn:
        rows = conn.execute(select(parties.c.id_number, parties.c.phone)).all()
    numbers = {value for row in rows for value in row if value}
    assert len(numbers) >= 100  # the demo's workers have identity numbers and phones
    leaked = [n for n in numbers if n in result.output]
    assert leaked == []
    assert not re.search(r"(?<!\d)\d{17}[\dX](?!\d)", result.output)
