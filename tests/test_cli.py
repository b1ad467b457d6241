"""The mediation-flow command: the demo, case show, states."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mediation_flow import Engine
from mediation_flow.cli import main
from mediation_flow.demo import SCENARIOS, run_demo
from tests.conftest import at


def test_the_demo_drives_every_scenario_to_its_end_without_errors() -> None:
    with Engine("sqlite://") as engine:
        result = run_demo(engine, cases=120, seed=7)
        assert result.errors == []
        assert result.cases == 120
        assert set(result.scenarios) == set(SCENARIOS)
        # Every case ended: closed (or archived after closing).
        assert set(result.final_states) <= {"closed", "archived"}
        assert sum(result.final_states.values()) == 120
        # Expiries did real work: mediation ran out, awards took effect, orders too.
        assert result.expiries > 0
        assert {"仲裁裁决", "支付令", "协商和解", "司法调解", "判决"} <= set(result.resolved_at)
        assert {"union", "peoples", "administrative", "arbitration", "judicial"} == set(
            result.channels
        )


def test_the_demo_is_reproducible() -> None:
    with Engine("sqlite://") as a, Engine("sqlite://") as b:
        first, second = run_demo(a, cases=40, seed=3), run_demo(b, cases=40, seed=3)
        assert first.resolved_at == second.resolved_at
        assert [e.trigger for e in a.history(first.sample_case or 0)] == [
            e.trigger for e in b.history(second.sample_case or 0)
        ]


def test_demo_command_prints_the_summary_and_a_path(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(main, ["--db", db, "demo", "--cases", "30"])
    assert result.exit_code == 0, result.output
    for text in (
        "Cases and channels",
        "工会调解",
        "How the cases were resolved",
        "The path of one case",
        "30 cases",
    ):
        assert text in result.output


def test_case_show_prints_deadlines_and_history(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'show.db'}"
    with Engine(db) as engine:
        case = engine.open_case(
            {
                "region": "430102",
                "parties": [
                    {"kind": "worker", "role": "applicant", "name": "李四"},
                    {"kind": "employer", "role": "respondent", "name": "某物流有限公司"},
                ],
                "claims": [{"kind": "wages", "amount": "5000"}],
            },
            at=at(2025, 3, 3),
        )
        engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 3))
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        main, ["--db", db, "case", "show", str(case.id)]
    )
    assert result.exit_code == 0, result.output
    for text in (
        "arbitration_received",
        "李四",
        "arbitration_acceptance",
        "2025-03-10",
        "申请仲裁",
    ):
        assert text in result.output
    missing = CliRunner(env={"COLUMNS": "200"}).invoke(main, ["--db", db, "case", "show", "999"])
    assert missing.exit_code == 1
    assert "case 999 not found" in missing.output


@pytest.mark.parametrize(("lang", "text"), [("zh", "仲裁中止"), ("en", "arbitration suspended")])
def test_states_prints_the_flow(lang: str, text: str, tmp_path: Path) -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        main, ["--db", f"sqlite:///{tmp_path / 's.db'}", "states", "--lang", lang]
    )
    assert result.exit_code == 0, result.output
    assert text in result.output
    assert "award_nonfinal" in result.output


def test_tick_command_applies_what_is_due(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tick.db'}"
    with Engine(db) as engine:
        case = engine.open_case(
            {
                "region": "430102",
                "parties": [
                    {"kind": "worker", "role": "applicant", "name": "王五"},
                    {"kind": "employer", "role": "respondent", "name": "某餐饮管理有限公司"},
                ],
                "claims": [{"kind": "wages", "amount": "3000"}],
            },
            at=at(2025, 3, 3),
        )
        engine.fire(case.id, "refer_to_negotiation", at=at(2025, 3, 3))
    runner = CliRunner(env={"COLUMNS": "200"})
    # negotiation_answer: due Mon 2025-03-10 (5 cd, rolled over from Sat 03-08).
    early = runner.invoke(main, ["--db", db, "tick", "--at", "2025-03-10T23:59+08:00"])
    assert "0 expiries applied" in early.output
    due = runner.invoke(main, ["--db", db, "tick", "--at", "2025-03-11T00:01+08:00"])
    assert due.exit_code == 0, due.output
    assert f"case {case.id}: fail_negotiation (negotiation -> negotiation_failed)" in due.output
    bad = runner.invoke(main, ["--db", db, "tick", "--at", "2025-03-11T00:01"])
    assert bad.exit_code == 1
    assert "timezone-aware" in bad.output


def test_demo_with_a_regions_plugin_shows_its_steps(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'region.db'}"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        main,
        [
            "--db",
            db,
            "--plugin",
            "mediation_flow_template:TemplatePlugin",
            "demo",
            "--region",
            "119901",
            "--cases",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "plugins for 119901: template" in result.output
    assert "社区调解点就地化解" in result.output
    assert "社区调解点调解中" in result.output


def test_diagram_command_draws_a_cases_path(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'diagram.db'}"
    with Engine(db) as engine:
        case = engine.open_case(
            {
                "region": "430102",
                "parties": [
                    {"kind": "worker", "role": "applicant", "name": "赵六"},
                    {"kind": "employer", "role": "respondent", "name": "某电子科技有限公司"},
                ],
                "claims": [{"kind": "wages", "amount": "7000"}],
            },
            at=at(2025, 3, 3),
        )
        engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 3))
    runner = CliRunner()
    mermaid = runner.invoke(main, ["--db", db, "diagram"])
    assert mermaid.exit_code == 0, mermaid.output
    assert mermaid.output.startswith("stateDiagram-v2")
    assert "工会调解中" in mermaid.output
    out = tmp_path / "case.bpmn"
    bpmn = runner.invoke(
        main,
        [
            "--db",
            db,
            "diagram",
            "--format",
            "bpmn",
            "--case",
            str(case.id),
            "--lang",
            "en",
            "-o",
            str(out),
        ],
    )
    assert bpmn.exit_code == 0, bpmn.output
    text = out.read_text()
    assert "http://www.omg.org/spec/BPMN/20100524/MODEL" in text
    assert 'mf:current="true"' in text or "mf:current" in text
    missing = runner.invoke(main, ["--db", db, "diagram", "--case", "999"])
    assert missing.exit_code == 1
    assert "case 999 not found" in missing.output


def test_report_command_in_every_format(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'report.db'}"
    runner = CliRunner(env={"COLUMNS": "200"})
    assert runner.invoke(main, ["--db", db, "demo", "--cases", "30"]).exit_code == 0
    table = runner.invoke(main, ["--db", db, "report"])
    assert table.exit_code == 0, table.output
    assert "案件 30 件" in table.output
    assert "仲裁前化解率" in table.output
    csv_out = runner.invoke(main, ["--db", db, "report", "--format", "csv"])
    assert csv_out.output.startswith("section,key")
    html = tmp_path / "report.html"
    written = runner.invoke(main, ["--db", db, "report", "--format", "html", "-o", str(html)])
    assert written.exit_code == 0, written.output
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page
    assert "https://" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    scoped = runner.invoke(main, ["--db", db, "report", "--region", "43", "--format", "json"])
    assert '"region": "43"' in scoped.output
