"""The predictor measured on the years whose notices are known (2025 and 2026, the first two under
the 2024 principles), the envelope that keeps provisional due dates safe, and the notice parser
on the published texts (shared/domain/calendar.md)."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediation_flow.calendar import DEFAULT_CALENDAR, Calendar
from mediation_flow.duedates import compute_due, settle
from mediation_flow.errors import InvalidData
from mediation_flow.holiday_notice import parse_notice, read_schedule
from mediation_flow.holiday_schedule import predict_schedule, statutory_holidays
from mediation_flow.models import DeadlineStatus
from mediation_flow.records import DeadlineRecord

DAY = timedelta(days=1)
#: 2025 and 2026 as a deployment saw them before their notices: predicted.
UNPUBLISHED = Calendar(predict_from=2025)

NOTICE_2025 = """国务院办公厅关于2025年部分节假日安排的通知
国办发明电〔2024〕12号
一、元旦：1月1日（周三）放假1天，不调休。
二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。1月26日（周日）、2月8日（周六）上班。
三、清明节：4月4日（周五）至6日（周日）放假，共3天。
四、劳动节：5月1日（周四）至5日（周一）放假调休，共5天。4月27日（周日）上班。
五、端午节：5月31日（周六）至6月2日（周一）放假，共3天。
六、国庆节、中秋节：10月1日（周三）至8日（周三）放假调休，共8天。9月28日（周日）、10月11日（周六）上班。
"""
# As copies on the web print it: half-width punctuation.
NOTICE_2026 = """国务院办公厅关于2026年部分节假日安排的通知
一、元旦:1月1日(周四)至3日(周六)放假调休,共3天。1月4日(周日)上班。
二、春节:2月15日(农历腊月二十八、周日)至23日(农历正月初七、周一)放假调休,共9天。2月14日(周六)、2月28日(周六)上班。
三、清明节:4月4日(周六)至6日(周一)放假,共3天。
四、劳动节:5月1日(周五)至5日(周二)放假调休,共5天。5月9日(周六)上班。
五、端午节:6月19日(周五)至21日(周日)放假,共3天。
六、中秋节:9月25日(周五)至27日(周日)放假,共3天。
七、国庆节:10月1日(周四)至7日(周三)放假调休,共7天。9月20日(周日)、10月10日(周六)上班。
"""


def _days(year: int) -> list[date]:
    return [
        date(year, 1, 1) + i * DAY for i in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)
    ]


def _rest(calendar: Calendar, year: int) -> set[date]:
    return {d for d in _days(year) if not calendar.is_working_day(d)}


# --- the predictor ------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_prediction_gets_every_official_rest_day(year: int) -> None:
    official = {d for d in _days(year) if not chinese_calendar.is_workday(d)}
    predicted = _rest(UNPUBLISHED, year)
    assert official <= predicted
    # What it gets wrong are make-up working days it does not predict, never a rest day.
    assert predicted - official <= set(chinese_calendar.workdays)


def test_the_prediction_measured_on_2025_and_2026() -> None:
    """The figures in docs/deadlines.md ("How good is the prediction")."""
    rest_right = rest_total = work_right = work_total = wrong_days = 0
    for year in (2025, 2026):
        official_rest = {d for d in _days(year) if not chinese_calendar.is_workday(d)}
        official_work = {d for d in _days(year) if d in chinese_calendar.workdays}
        predicted_rest = _rest(UNPUBLISHED, year)
        predicted_work = set(predict_schedule(year).workdays)
        rest_total += len(official_rest)
        rest_right += len(official_rest & predicted_rest)
        work_total += len(official_work)
        work_right += len(official_work & predicted_work)
        wrong_days += sum(
            UNPUBLISHED.is_working_day(d) != chinese_calendar.is_workday(d) for d in _days(year)
        )
    assert (rest_right, rest_total) == (234, 234)
    assert (work_right, work_total) == (1, 11)
    assert wrong_days == 10  # of 730 days: the 10 make-up days not predicted


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_envelope_holds_the_official_schedule(year: int) -> None:
    predicted = predict_schedule(year)
    law = {d for days in statutory_holidays(year).values() for d in days}
    official_holidays = {
        d for d in _days(year) if chinese_calendar.is_holiday(d) and d.weekday() < 5
    }
    official_work = {d for d in _days(year) if d in chinese_calendar.workdays}
    assert law <= predicted.certain_rest
    assert official_holidays <= predicted.possible_rest
    assert official_work <= predicted.possible_workdays


def test_statutory_holidays_follow_the_2024_amendment() -> None:
    law = statutory_holidays(2027)
    assert law["spring_festival"] == tuple(date(2027, 2, 5) + i * DAY for i in range(4))
    assert law["labour_day"] == (date(2027, 5, 1), date(2027, 5, 2))
    assert sum(len(v) for v in law.values()) == 13
    assert law["qingming"] == (date(2027, 4, 5),)
    with pytest.raises(ValueError, match="2025-2100"):
        statutory_holidays(2024)


def test_three_day_blocks_and_their_makeup_days() -> None:
    # 2026 New Year (Thursday): Thu-Sat off, Sunday 01-04 worked, as the notice said.
    assert set(predict_schedule(2026).workdays) == {date(2026, 1, 4)}
    # 2027 Dragon Boat (Wednesday 06-09): one day, no make-up day.
    assert date(2027, 6, 9) in predict_schedule(2027).holidays
    assert date(2027, 6, 8) not in predict_schedule(2027).holidays


# --- provisional due dates ----------------------------------------------------------------------

UNITS = st.sampled_from(["cd", "wd", "years"])
STARTS = st.dates(min_value=date(2024, 11, 1), max_value=date(2026, 11, 30))


def _length(unit: str, n: int) -> int:
    return 1 + n % 2 if unit == "years" else n


@settings(max_examples=400, deadline=None)
@given(
    start=STARTS, unit=UNITS, n=st.integers(1, 60), holder=st.sampled_from(["party", "official"])
)
def test_predicted_then_settled_equals_the_official_computation(
    start: date, unit: str, n: int, holder: str
) -> None:
    length = _length(unit, n)
    direct = compute_due(DEFAULT_CALENDAR, unit, start, length, "430102", holder)  # type: ignore[arg-type]
    first = compute_due(UNPUBLISHED, unit, start, length, "430102", holder)  # type: ignore[arg-type]
    record = DeadlineRecord(
        id=1,
        case_id=1,
        kind="k",
        party=None,
        status=DeadlineStatus.pending,
        starts_on=start,
        unit=unit,
        length=length,
        due=first.due,
        provisional=first.provisional,
        estimate=first.estimate if first.provisional else None,
        basis=first.basis.value,
    )
    settle(DEFAULT_CALENDAR, record, "430102", holder)  # type: ignore[arg-type]
    assert (record.due, record.provisional) == (direct.due, direct.provisional)


@settings(max_examples=400, deadline=None)
@given(start=STARTS, unit=UNITS, n=st.integers(1, 60))
def test_a_provisional_party_window_never_closes_early_nor_an_officials_limit_late(
    start: date, unit: str, n: int
) -> None:
    length = _length(unit, n)
    official = compute_due(DEFAULT_CALENDAR, unit, start, length, "430102").due
    party = compute_due(UNPUBLISHED, unit, start, length, "430102", "party")
    limit = compute_due(UNPUBLISHED, unit, start, length, "430102", "official")
    assert party.due >= official  # tick acts on party.due: never before the official date
    assert limit.due <= official  # nor later for an official's limit
    assert party.due >= party.estimate >= limit.due


# --- the notice parser --------------------------------------------------------------------------


@pytest.mark.parametrize(("year", "text"), [(2025, NOTICE_2025), (2026, NOTICE_2026)])
def test_the_published_notices_give_exactly_the_packages_schedule(year: int, text: str) -> None:
    notice = read_schedule(text)
    assert notice.year == year
    registered = DEFAULT_CALENDAR.with_schedule(
        year, holidays=notice.holidays, workdays=notice.workdays
    )
    for day in _days(year):
        assert registered.is_working_day(day) == chinese_calendar.is_workday(day), day
    assert set(notice.workdays) == {d for d in chinese_calendar.workdays if d.year == year}
    assert "春节" in notice.summary()


def test_a_wrong_weekday_is_refused_naming_the_line() -> None:
    text = NOTICE_2025.replace("4月4日（周五）", "4月4日（周四）")
    with pytest.raises(InvalidData, match=r"line 5: .*2025-04-04 is a 周五.*周四"):
        parse_notice(text)


def test_a_wrong_day_count_is_refused_naming_the_line() -> None:
    text = NOTICE_2025.replace("放假调休，共8天。1月26日", "放假调休，共7天。1月26日")
    with pytest.raises(InvalidData, match=r"line 4: .*共7天.*8 days"):
        parse_notice(text)


def test_a_makeup_day_on_a_weekday_is_refused() -> None:
    text = NOTICE_2025.replace("4月27日（周日）上班", "4月28日上班")
    with pytest.raises(InvalidData, match=r"line 6: .*not a weekend day"):
        parse_notice(text)


def test_text_without_holiday_lines_or_year_is_refused() -> None:
    with pytest.raises(InvalidData, match="no numbered holiday line"):
        parse_notice("关于2027年部分节假日安排的通知\n各省、自治区、直辖市人民政府：")
    with pytest.raises(InvalidData, match="give the year"):
        parse_notice("一、元旦：1月1日（周五）至3日（周日）放假，共3天。")
    assert parse_notice(
        "一、元旦：1月1日（周五）至3日（周日）放假，共3天。", year=2027
    ).holidays == (
        date(2027, 1, 1),
        date(2027, 1, 2),
        date(2027, 1, 3),
    )


def test_the_json_form() -> None:
    notice = read_schedule(
        '{"year": 2027, "source": "test", "holidays": ["2027-01-01"], "workdays": ["2027-02-20"]}'
    )
    assert (notice.year, notice.holidays, notice.workdays) == (
        2027,
        (date(2027, 1, 1),),
        (date(2027, 2, 20),),
    )
    with pytest.raises(InvalidData, match="not a YYYY-MM-DD"):
        read_schedule('{"year": 2027, "holidays": ["1 Jan"]}')
    with pytest.raises(InvalidData, match="not JSON"):
        read_schedule("{year: 2027}")


def test_notices_as_older_years_and_copies_print_them() -> None:
    # The 2021 notice's New Year line crossed the year; its make-up days shared a month; some
    # copies number the lines 1. 2. instead of 一、二、.
    text = """关于2021年部分节假日安排的通知
一、元旦：12月31日（周四）至1月2日（周六）放假调休，共3天。
2. 春节：2月11日至17日放假调休，共7天。2月7日（星期日）、20日（星期六）上班。
"""
    notice = parse_notice(text)
    assert notice.holidays[:3] == (date(2020, 12, 31), date(2021, 1, 1), date(2021, 1, 2))
    assert notice.workdays == (date(2021, 2, 7), date(2021, 2, 20))
    # A line about rest days that is not a numbered holiday line is not skipped silently.
    with pytest.raises(InvalidData, match=r"line 2: .*not a numbered holiday line"):
        parse_notice("关于2027年部分节假日安排的通知\n1) 元旦：1月1日放假。")
    with pytest.raises(InvalidData, match="not JSON"):
        read_schedule("{" + '"a":[' * 5000 + "]" * 5000 + "}")


def test_a_regional_workday_never_works_a_national_holiday() -> None:
    calendar = Calendar(regional_workdays={"45": [date(2026, 3, 29), date(2026, 10, 3)]})
    assert calendar.is_working_day(date(2026, 3, 29), region="450203")  # a plain Sunday
    assert not calendar.is_working_day(date(2026, 10, 3), region="450203")  # National Day
    assert not calendar.is_working_day(date(2026, 3, 29), region="430102")
    with pytest.raises(ValueError, match="weekend"):
        Calendar(regional_workdays={"45": [date(2026, 3, 30)]})
