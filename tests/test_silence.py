"""The library is silent until its host configures logging; the CLI configures it itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import logging, sys
    from datetime import datetime
    from zoneinfo import ZoneInfo
    {setup}
    import mediation_flow
    from mediation_flow import Engine

    at = datetime(2025, 3, 3, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    intake = {{
        "region": "430102",
        "parties": [
            {{"kind": "worker", "role": "applicant", "name": "张三",
              "id_number": "430102199001011238", "phone": "13800138000"}},
            {{"kind": "employer", "role": "respondent", "name": "长沙某建筑工程有限公司"}},
        ],
        "claims": [{{"kind": "wages", "amount": "18000.00"}}],
        "knew_of_infringement_on": "2024-12-31",
        "employment_ended_on": "2024-12-31",
        "worker_count": 12,
    }}
    with Engine("sqlite://", clock=lambda: at) as engine:
        case = engine.open_case(intake, at=at)
        engine.fire(case.id, "refer_to_union_mediation", data={{"org_id": "U1"}}, at=at)
        engine.tick(datetime(2025, 6, 3, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    """
)


def run(setup: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_importing_and_running_commands_prints_nothing() -> None:
    # Opening a collective case raises a warning-level alert, tick expires a deadline (an
    # info event) and logs the early-warning rules: none of it is printed.
    done = run()
    assert (done.stdout, done.stderr) == ("", "")


def test_the_host_turns_the_library_logs_on_with_the_standard_logging() -> None:
    done = run("logging.basicConfig(level=logging.INFO, stream=sys.stdout)")
    assert "INFO:mediation_flow:case_opened" in done.stdout
    assert "trigger='refer_to_union_mediation'" in done.stdout
    # Personal data stays masked in these lines too.
    assert "430102199001011238" not in done.stdout
    assert done.stderr == ""
