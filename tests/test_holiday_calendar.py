"""A calendar that never stops: years with no published notice are predicted, their due dates
provisional; a registered notice re-dates them in every engine on the database.

The 2027 notice used here is made up for the tests (it differs from the prediction on purpose):
the prediction with the Spring Festival block Fri 2027-02-05 (New Year's Eve) to Thu 02-11,
seven days, and Sat 02-20 worked.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from mediation_flow import Engine
from mediation_flow.errors import InvalidData, PermissionDenied
from mediation_flow.holiday_notice import read_schedule
from mediation_flow.holiday_schedule import predict_schedule
from mediation_flow.models import Actor, DeadlineStatus, Role
from tests.conftest import at, make_intake

DAY = timedelta(days=1)
#: The prediction of 2027 with the Spring Festival block a day shorter and a Saturday worked.
NOTICE_2027: dict[str, Any] = {
    "holidays": sorted(set(predict_schedule(2027).holidays) - {date(2027, 2, 12)}),
    "workdays": [date(2027, 2, 20)],
    "source": "国务院办公厅关于2027年部分节假日安排的通知（测试用）",
}
FINAL_AWARD = {  # 18,000 <= 12 x 1,930: final (LDMAL 47)
    "items": [{"kind": "wages", "amount": "18000"}],
    "monthly_minimum_wage": "1930",
    "served_on": {"worker": "2027-01-25", "employer": "2027-01-25"},
}


def _to_award(engine: Engine) -> int:
    """A case opened on 2026-12-07 and taken through acceptance to a final award served on
    Mon 2027-01-25."""
    case = engine.open_case(make_intake(), at=at(2026, 12, 7))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2026, 12, 7))
    engine.fire(case.id, "accept_arbitration", data={}, at=at(2026, 12, 7))
    engine.fire(case.id, "issue_award", data=FINAL_AWARD, at=at(2027, 1, 20))
    return case.id


def _open(engine: Engine, case_id: int, kind: str, party: str | None = None) -> Any:
    (found,) = [
        d
        for d in engine.deadlines(case_id)
        if d.kind == kind
        and (d.party or "").partition("-")[0] == (party or "")
        and d.status == DeadlineStatus.pending
    ]
    return found


def test_a_case_runs_into_2027_and_is_redated_by_a_notice_from_another_engine(db_url: str) -> None:
    first = Engine(db_url)
    case_id = _to_award(first)
    # The award limit (LDMAL 43: 45 days from Mon 2026-12-07) ends Thu 2027-01-21: a day of a
    # predicted year, so provisional, though no holiday is near.
    # The worker's suit window (LDMAL 48: 15 days from service on 2027-01-25) would end on Tue
    # 02-09, inside the predicted Spring Festival block (Fri 02-05 to Fri 02-12): rolled over
    # the weekend to Mon 02-15. A notice could make every day to Sun 02-14 a rest day, so the
    # engine keeps the window open to 02-15 too.
    window = _open(first, case_id, "suit_window", "worker")
    assert (window.due, window.estimate, window.provisional) == (
        date(2027, 2, 15),
        date(2027, 2, 15),
        True,
    )
    assert window.basis == "predicted"
    # The employer's revocation window (LDMAL 49: 30 days) ends Wed 02-24, also predicted.
    assert _open(first, case_id, "revocation_window", "employer").provisional

    second = Engine(db_url)
    events = second.register_holiday_schedule(2027, **NOTICE_2027, at=at(2027, 1, 26))
    assert [e.case_id for e in events] == [case_id]
    # Officially the block ends on Thu 02-11, so Tue 02-09 rolls to Fri 02-12.
    window = _open(first, case_id, "suit_window", "worker")
    assert (window.due, window.provisional, window.estimate, window.basis) == (
        date(2027, 2, 12),
        False,
        None,
        "registered",
    )
    (redated,) = [e for e in first.history(case_id) if e.trigger == "deadline_redated"]
    moved = {(d["kind"], d["party"].partition("-")[0]): d for d in redated.data["deadlines"]}
    assert moved["suit_window", "worker"]["old_due"] == "2027-02-15"
    assert moved["suit_window", "worker"]["new_due"] == "2027-02-12"
    assert redated.source == redated.dest == "award_final"
    assert first.verify(case_id).ok
    # The first engine computes new dates on the registered notice from its next command.
    assert first.calendar.basis(2027) == "predicted"
    first.tick(at(2027, 2, 12, 23, 0))
    assert first.calendar.basis(2027) == "registered"
    assert first.get(case_id).state == "award_final"  # 02-12 is still in time
    # After both windows ran out (the employer's on Wed 02-24) the award takes effect.
    first.tick(at(2027, 2, 25, 0, 1))
    assert first.get(case_id).state == "enforceable"
    assert first.verify(case_id).ok
    first.close()
    second.close()


def test_tick_never_closes_a_provisional_window_before_its_latest_date() -> None:
    engine = Engine("sqlite://")
    case_id = _to_award(engine)
    # The prediction says Mon 02-15 and a notice could say no later: not closed on 02-15.
    engine.tick(at(2027, 2, 15, 23, 59))
    assert _open(engine, case_id, "suit_window", "worker").status == DeadlineStatus.pending
    events = engine.tick(at(2027, 2, 16, 0, 1))
    assert {e.data["expired_deadline"]["kind"] for e in events} >= {"suit_window"}


def test_a_notice_whose_date_has_passed_is_held_and_reported() -> None:
    engine = Engine("sqlite://")
    case_id = _to_award(engine)
    # Registered on Sat 02-13: the official due date (Fri 02-12) has passed while the worker
    # could still rely on Mon 02-15. The window keeps 02-15; the event says so.
    events = engine.register_holiday_schedule(2027, **NOTICE_2027, at=at(2027, 2, 13))
    window = _open(engine, case_id, "suit_window", "worker")
    assert (window.due, window.provisional) == (date(2027, 2, 15), False)
    entry = next(d for d in events[0].data["deadlines"] if d["kind"] == "suit_window")
    assert entry["held"] is True
    assert entry["official_due"] == "2027-02-12"
    assert entry["new_due"] == "2027-02-15"
    assert engine.verify(case_id).ok


def test_an_officials_limit_opens_the_next_step_no_later_than_the_earliest_date() -> None:
    # People's mediation received Tue 2027-01-26: 15 days (LDMAL 14) end Wed 02-10, inside the
    # predicted Spring Festival block, which rolls it to Mon 02-15. A notice can only make the
    # statutory days (New Year's Eve to the 3rd, 02-05 to 02-08) certain rest days, so the
    # earliest date is 02-10 itself: mediation counts as failed from 02-11 and the worker may
    # apply for arbitration then.
    engine = Engine("sqlite://")
    case = engine.open_case(make_intake(), at=at(2027, 1, 26))
    engine.fire(
        case.id,
        "refer_to_peoples_mediation",
        data={"org_id": "芙蓉区人民调解委员会"},
        at=at(2027, 1, 26),
    )
    limit = _open(engine, case.id, "mediation_limit")
    assert (limit.due, limit.estimate, limit.provisional) == (
        date(2027, 2, 10),
        date(2027, 2, 15),
        True,
    )
    engine.tick(at(2027, 2, 11, 0, 1))
    assert engine.get(case.id).state == "mediation_failed"


def test_registering_again_replaces_the_notice_and_redates_again() -> None:
    engine = Engine("sqlite://")
    case_id = _to_award(engine)
    engine.register_holiday_schedule(2027, **NOTICE_2027, at=at(2027, 1, 26))
    assert _open(engine, case_id, "suit_window", "worker").due == date(2027, 2, 12)
    amended = {**NOTICE_2027, "holidays": [*NOTICE_2027["holidays"], date(2027, 2, 12)]}
    # An official year is replaced only on purpose.
    with pytest.raises(InvalidData, match="already official"):
        engine.register_holiday_schedule(2027, **amended, at=at(2027, 1, 27))
    # The amendment makes Fri 02-12 a rest day: the window is re-dated again, to Mon 02-15.
    events = engine.register_holiday_schedule(2027, **amended, replace=True, at=at(2027, 1, 27))
    assert [e.case_id for e in events] == [case_id]
    window = _open(engine, case_id, "suit_window", "worker")
    assert (window.due, window.provisional, window.basis) == (
        date(2027, 2, 15),
        False,
        "registered",
    )
    assert engine.calendar.is_rest_day(date(2027, 2, 12))
    assert engine.verify(case_id).ok


def test_a_notice_that_lost_a_line_is_refused() -> None:
    engine = Engine("sqlite://")
    # National Day missing (a line not read): its statutory days would be working days.
    partial = [d for d in NOTICE_2027["holidays"] if d.month != 10]
    with pytest.raises(InvalidData, match=r"statutory holidays left as working days: 2027-10-01"):
        engine.register_holiday_schedule(2027, **{**NOTICE_2027, "holidays": partial})
    with pytest.raises(InvalidData, match="more than any notice"):
        engine.register_holiday_schedule(
            2027,
            holidays=[date(2027, 1, 1) + i * DAY for i in range(365)],
            workdays=[],
            source="x",
        )
    from tests.test_holiday_prediction import NOTICE_2025

    notice = read_schedule(NOTICE_2025)
    with pytest.raises(InvalidData, match="already official"):
        engine.register_holiday_schedule(
            2025, holidays=notice.holidays, workdays=notice.workdays, source=notice.source
        )
    assert engine.calendar.basis(2027) == "predicted"


def test_an_edited_notice_row_does_not_stop_the_engine(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with Engine(url) as engine:
        engine.register_holiday_schedule(2027, **NOTICE_2027, at=at(2026, 12, 7))
        with engine._store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE mf_holiday_schedule SET holidays = '[\"2027-02-30\"'")
    with Engine(url) as engine:
        assert engine.calendar.basis(2027) == "predicted"
        (warning, *_) = engine.calendar_status(at=at(2026, 12, 7)).warnings
        assert "2027 is unreadable" in warning and "--replace" in warning


def test_a_bad_notice_or_an_unauthorised_actor_writes_nothing() -> None:
    engine = Engine("sqlite://")
    case_id = _to_award(engine)
    before = engine.history(case_id)
    with pytest.raises(InvalidData, match="weekend"):
        engine.register_holiday_schedule(
            2027, holidays=[], workdays=[date(2027, 2, 22)], source="x", at=at(2027, 1, 26)
        )
    with pytest.raises(InvalidData, match="both"):
        engine.register_holiday_schedule(
            2027,
            holidays=[date(2027, 2, 20)],
            workdays=[date(2027, 2, 20)],
            source="x",
            at=at(2027, 1, 26),
        )
    with pytest.raises(InvalidData, match="source"):
        engine.register_holiday_schedule(2027, **{**NOTICE_2027, "source": " "})
    with pytest.raises(PermissionDenied):
        engine.register_holiday_schedule(
            2027, **NOTICE_2027, actor=Actor("a1", Role.arbitrator, region="430102")
        )
    assert engine.history(case_id) == before
    assert engine.calendar.basis(2027) == "predicted"


def test_an_engine_started_after_a_package_upgrade_settles_at_start(tmp_path: Any) -> None:
    # A deployment ran with 2026 unpublished (predict_from=2026) and then got a calendar that
    # knows it (the package upgrade): the next engine start re-dates the 2026 deadlines.
    from mediation_flow.calendar import Calendar

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    old = Engine(url, calendar=Calendar(predict_from=2026))
    case = old.open_case(make_intake(), at=at(2025, 12, 22))
    old.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 12, 22))
    old.fire(case.id, "accept_arbitration", data={}, at=at(2025, 12, 22))
    limit = _open(old, case.id, "award_limit")
    assert limit.provisional  # 45 days: Thu 2026-02-05
    old.close()
    new = Engine(url)
    limit = _open(new, case.id, "award_limit")
    assert (limit.due, limit.provisional, limit.basis) == (date(2026, 2, 5), False, "package")
    assert [e.trigger for e in new.history(case.id)][-1] == "deadline_redated"
    assert new.verify(case.id).ok


def test_calendar_status_warns_from_november_and_raises_one_alert() -> None:
    engine = Engine("sqlite://")
    status = engine.calendar_status(at=at(2026, 10, 31))
    assert status.warnings == ()
    assert {y.year: y.basis for y in status.years}[2027] == "predicted"
    status = engine.calendar_status(at=at(2026, 11, 1))
    assert len(status.warnings) == 1
    assert "2027" in status.warnings[0]
    assert "mediation-flow calendar import" in status.warnings[0]
    engine.tick(at(2026, 11, 2))
    engine.tick(at(2026, 11, 3))  # evaluated again: stored once
    with engine._store.connect() as conn:
        rows = conn.exec_driver_sql("SELECT rule, region, case_id FROM mf_alert").all()
    assert [tuple(r) for r in rows] == [("calendar_predicted", None, None)]
    engine.register_holiday_schedule(2027, **NOTICE_2027, at=at(2026, 11, 20))
    assert engine.calendar_status(at=at(2026, 11, 20)).warnings == ()


def test_regional_workdays_come_through_the_plugin_hook() -> None:
    from mediation_flow import hookimpl

    class Guangxi:
        name = "guangxi_test"
        regions = ("45",)

        @hookimpl
        def regional_rest_days(self) -> dict[str, Any]:
            # 三月三 2025 on Mon 03-31 and Tue 04-01, with Sun 03-30 worked (test data).
            return {
                "45": {
                    "rest": [date(2025, 3, 31), date(2025, 4, 1)],
                    "workdays": [date(2025, 3, 30)],
                }
            }

    from mediation_flow.calendar import DEFAULT_CALENDAR
    from mediation_flow.plugins import Plugins

    calendar = Plugins([Guangxi()], entry_points=False).calendar(DEFAULT_CALENDAR)
    assert calendar.is_working_day(date(2025, 3, 30), region="450203")
    assert not calendar.is_working_day(date(2025, 3, 30), region="430102")
    assert not calendar.is_working_day(date(2025, 3, 31), region="450203")
    # Fri 03-28 + 1 working day in Liuzhou: Sun 03-30.
    assert calendar.add_working_days(date(2025, 3, 28), 1, region="450203") == date(2025, 3, 30)


# --- the command line ---------------------------------------------------------------------------


def test_calendar_import_status_and_settle_from_the_command_line(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from mediation_flow.cli import main
    from tests.test_holiday_prediction import NOTICE_2025

    db = f"sqlite:///{tmp_path / 'cases.db'}"
    notice = tmp_path / "notice.txt"
    runner = CliRunner()
    status = runner.invoke(main, ["--db", db, "calendar", "status", "--json"])
    assert status.exit_code == 0, status.output
    assert '"basis": "predicted"' in status.output
    # A wrong weekday: refused, naming the line; nothing stored.
    notice.write_text(NOTICE_2025.replace("4月4日（周五）", "4月4日（周四）"), encoding="utf-8")
    refused = runner.invoke(main, ["--db", db, "calendar", "import", str(notice)])
    assert refused.exit_code == 1
    assert "line 5" in refused.output and "周五" in refused.output
    notice.write_text(NOTICE_2025, encoding="utf-8")
    shown = runner.invoke(main, ["--db", db, "calendar", "import", str(notice), "--dry-run"])
    assert shown.exit_code == 0 and "春节：01-28（周二）至02-04（周二）共8天" in shown.output
    assert "dry run" in shown.output
    # 2025 is in the package already: replaced only on purpose.
    refused = runner.invoke(main, ["--db", db, "calendar", "import", str(notice)])
    assert refused.exit_code == 1 and "--replace" in refused.output
    stored = runner.invoke(main, ["--db", db, "calendar", "import", str(notice), "--replace"])
    assert stored.exit_code == 0, stored.output
    assert "stored 2025" in stored.output
    with Engine(db) as engine:
        assert engine.calendar.basis(2025) == "registered"
    settled = runner.invoke(main, ["--db", db, "calendar", "settle"])
    assert settled.exit_code == 0 and "0 case(s) re-dated" in settled.output
    text = runner.invoke(main, ["--db", db, "calendar", "status"])
    assert text.exit_code == 0 and "open provisional deadlines: 0" in text.output
    notice.write_bytes(b"\xff\xfe\x00bad")
    assert (
        "not UTF-8" in runner.invoke(main, ["--db", db, "calendar", "import", str(notice)]).output
    )


def test_the_party_lookup_shows_a_provisional_date_as_expected() -> None:
    engine = Engine("sqlite://")
    case_id = _to_award(engine)
    view = engine.lookup(engine.get(case_id).serial)
    assert view.next_deadline is not None and view.next_deadline.provisional
    assert "预计日期" in view.to_text() and view.to_json()["next_deadline"]["provisional"]
