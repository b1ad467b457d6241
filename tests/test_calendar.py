"""Working days and due dates (mediation_flow.calendar).

Expected dates are worked out by hand from the State Council's holiday notices (as carried by
chinese-calendar 1.11); each case says how. "cd" = calendar days, "wd" = working days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from mediation_flow.calendar import (
    DEFAULT_CALENDAR,
    Calendar,
    add_calendar_days,
    add_working_days,
    add_years,
    is_rest_day,
    is_working_day,
    roll_over,
)
from mediation_flow.errors import CalendarNotAvailable

MAKEUP_REST = Calendar(makeup_days_are_rest_days=True)
# Guangxi's 2025 三月三 (lunar 3-3 fell on Mon 2025-03-31): Mon 03-31 and Tue 04-01 off.
SANYUESAN_2025 = [date(2025, 3, 31), date(2025, 4, 1)]
GUANGXI = Calendar(regional_rest_days={"45": SANYUESAN_2025})
LIUZHOU_DISTRICT = "450203"
BEIJING_DISTRICT = "110105"
# A made-up 2027 schedule for the tests (the real one is published in late 2026).
NEW_YEAR_2027 = [date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)]


# --- worked examples of flow.md §4 (2024) ---------------------------------------------------------


def test_suit_window_from_fri_2024_03_01_rolls_over_the_weekend() -> None:
    # 03-01 + 15 = Sat 03-16; Sun 03-17 rest -> Mon 03-18.
    assert add_calendar_days(date(2024, 3, 1), 15) == date(2024, 3, 18)


def test_arbitration_acceptance_five_working_days_from_fri_2024_03_01() -> None:
    # Mon 04 (1), Tue 05 (2), Wed 06 (3), Thu 07 (4), Fri 08 (5).
    assert add_working_days(date(2024, 3, 1), 5) == date(2024, 3, 8)


def test_arbitration_review_window_over_national_day_2024() -> None:
    # 09-20 + 15 = Sat 10-05, inside the 10-01..10-07 holiday -> Tue 10-08.
    assert add_calendar_days(date(2024, 9, 20), 15) == date(2024, 10, 8)


def test_judicial_confirmation_window_ending_on_sunday_2024_10_20() -> None:
    # 09-20 + 30 = Sun 10-20 (September has 30 days) -> Mon 10-21.
    assert add_calendar_days(date(2024, 9, 20), 30) == date(2024, 10, 21)


def test_suit_window_ending_on_makeup_saturday_2024_10_12_is_kept_by_default() -> None:
    # 09-27 + 15 = Sat 10-12, a make-up working day: a working day by default.
    assert add_calendar_days(date(2024, 9, 27), 15) == date(2024, 10, 12)
    assert not DEFAULT_CALENDAR.makeup_days_are_rest_days


def test_suit_window_ending_on_makeup_saturday_rolls_over_when_makeup_days_rest() -> None:
    # Sat 10-12 (make-up, now a rest day for the roll-over), Sun 10-13 -> Mon 10-14.
    assert MAKEUP_REST.add_calendar_days(date(2024, 9, 27), 15) == date(2024, 10, 14)
    assert MAKEUP_REST.makeup_days_are_rest_days


def test_makeup_setting_does_not_change_working_day_counting() -> None:
    # Fri 10-11 + 1 wd = Sat 10-12 (make-up working day) under either setting.
    assert MAKEUP_REST.add_working_days(date(2024, 10, 11), 1) == date(2024, 10, 12)
    assert MAKEUP_REST.is_working_day(date(2024, 10, 12))
    assert MAKEUP_REST.is_rest_day(date(2024, 10, 12))
    assert not is_rest_day(date(2024, 10, 12))


# --- more holidays, 2024-2026 ---------------------------------------------------------------------


def test_calendar_days_over_spring_festival_2024_land_on_makeup_sunday() -> None:
    # Sat 01-27 + 15 = Sun 02-11, inside the 02-10..02-17 holiday; Sun 02-18 is a make-up day.
    assert add_calendar_days(date(2024, 1, 27), 15) == date(2024, 2, 18)
    # With make-up days resting, Sun 02-18 is skipped too -> Mon 02-19.
    assert MAKEUP_REST.add_calendar_days(date(2024, 1, 27), 15) == date(2024, 2, 19)


def test_working_days_over_spring_festival_2025_count_makeup_sunday_01_26() -> None:
    # From Fri 01-24: Sat 25 rest, Sun 26 make-up (1), Mon 27 (2), 01-28..02-04 holiday,
    # Wed 02-05 (3).
    assert add_working_days(date(2025, 1, 24), 3) == date(2025, 2, 5)


def test_working_days_count_makeup_saturday_2025_02_08() -> None:
    # From Wed 02-05: Thu 06 (1), Fri 07 (2), Sat 08 make-up (3).
    assert add_working_days(date(2025, 2, 5), 3) == date(2025, 2, 8)
    assert is_working_day(date(2025, 2, 8))


def test_award_limit_over_spring_festival_2025_and_its_extension() -> None:
    # 2024-12-20 + 45: +11 = 12-31, +31 = 01-31, +3 = Mon 02-03 (holiday), Tue 02-04 -> Wed 02-05.
    assert add_calendar_days(date(2024, 12, 20), 45) == date(2025, 2, 5)
    # Extended to 60 cd from the same start: Tue 2025-02-18, a working day.
    assert add_calendar_days(date(2024, 12, 20), 60) == date(2025, 2, 18)


def test_arbitration_acceptance_over_spring_festival_2026() -> None:
    # From Thu 02-12: Fri 13 (1), Sat 14 make-up (2), 02-15..02-23 holiday, Tue 24 (3),
    # Wed 25 (4), Thu 26 (5).
    assert add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)


def test_mediation_limit_ending_in_spring_festival_2026() -> None:
    # Thu 02-05 + 15 = Fri 02-20 (holiday); 21, 22, 23 holiday -> Tue 02-24.
    assert add_calendar_days(date(2026, 2, 5), 15) == date(2026, 2, 24)


def test_suit_window_ending_on_national_day_2025_with_mid_autumn() -> None:
    # Tue 09-16 + 15 = Wed 10-01; the merged holiday runs to Wed 10-08 -> Thu 10-09.
    assert add_calendar_days(date(2025, 9, 16), 15) == date(2025, 10, 9)


def test_defence_due_over_national_day_2025_counts_both_makeup_days() -> None:
    # From Fri 09-26: Sun 09-28 make-up (1), Mon 29 (2), Tue 30 (3), 10-01..10-08 holiday,
    # Thu 09 (4), Fri 10 (5), Sat 11 make-up (6), Sun 12 rest, Mon 13 (7), Tue 14 (8),
    # Wed 15 (9), Thu 16 (10).
    assert add_working_days(date(2025, 9, 26), 10) == date(2025, 10, 16)


def test_suit_window_ending_on_plain_sunday_rolls_to_monday() -> None:
    # Sat 2025-07-05 + 15 = Sun 07-20 -> Mon 07-21.
    assert add_calendar_days(date(2025, 7, 5), 15) == date(2025, 7, 21)


def test_suit_window_ending_on_labour_day_2025() -> None:
    # Wed 04-16 + 15 = Thu 05-01; holiday 05-01..05-05 -> Tue 05-06.
    assert add_calendar_days(date(2025, 4, 16), 15) == date(2025, 5, 6)


def test_suit_window_ending_on_labour_day_2024() -> None:
    # Tue 04-16 + 15 = Wed 05-01; holiday 05-01..05-05 -> Mon 05-06.
    assert add_calendar_days(date(2024, 4, 16), 15) == date(2024, 5, 6)


def test_working_days_before_labour_day_2025_count_makeup_sunday_04_27() -> None:
    # From Fri 04-25: Sat 26 rest, Sun 27 make-up (1), Mon 28 (2).
    assert add_working_days(date(2025, 4, 25), 2) == date(2025, 4, 28)


def test_calendar_days_over_new_year_2026_land_on_makeup_sunday_01_04() -> None:
    # Wed 2025-12-17 + 15 = Thu 2026-01-01; 01-01..01-03 holiday; Sun 01-04 is a make-up day.
    assert add_calendar_days(date(2025, 12, 17), 15) == date(2026, 1, 4)
    # With make-up days resting -> Mon 01-05.
    assert MAKEUP_REST.add_calendar_days(date(2025, 12, 17), 15) == date(2026, 1, 5)


def test_calendar_days_over_tomb_sweeping_2026() -> None:
    # Fri 03-20 + 15 = Sat 04-04; holiday 04-04..04-06 -> Tue 04-07.
    assert add_calendar_days(date(2026, 3, 20), 15) == date(2026, 4, 7)


def test_working_days_over_mid_autumn_2024() -> None:
    # From Thu 09-12: Fri 13 (1), Sat 14 make-up (2), 09-15..09-17 holiday, Wed 18 (3).
    assert add_working_days(date(2024, 9, 12), 3) == date(2024, 9, 18)


def test_day_predicates_on_new_year_2026() -> None:
    assert is_rest_day(date(2026, 1, 1))  # Thursday, public holiday
    assert not is_working_day(date(2026, 1, 3))  # Saturday inside the holiday
    assert is_working_day(date(2026, 1, 4))  # Sunday, make-up working day
    assert not is_rest_day(date(2026, 1, 4))
    assert roll_over(date(2026, 1, 1)) == date(2026, 1, 4)
    assert roll_over(date(2026, 1, 5)) == date(2026, 1, 5)


# --- years (Civil Code 200-203) -------------------------------------------------------------------


def test_one_year_from_leap_day_is_28_february() -> None:
    # No 2025-02-29: Fri 2025-02-28, a working day.
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)


def test_limitation_anniversary_on_national_day_rolls_over() -> None:
    # 2024-10-01 + 1 year = Wed 2025-10-01, holiday to 10-08 -> Thu 2025-10-09.
    assert add_years(date(2024, 10, 1), 1) == date(2025, 10, 9)


def test_two_years_from_leap_day_land_on_makeup_saturday_2026_02_28() -> None:
    # 2026-02-28 is a Saturday make-up day: kept by default; else Sun 03-01 rest -> Mon 03-02.
    assert add_years(date(2024, 2, 29), 2) == date(2026, 2, 28)
    assert MAKEUP_REST.add_years(date(2024, 2, 29), 2) == date(2026, 3, 2)


# --- regional rest days ---------------------------------------------------------------------------


def test_sanyuesan_2025_moves_due_date_in_guangxi_only() -> None:
    # Sun 03-16 + 15 = Mon 03-31: Guangxi rests 03-31 and 04-01 -> Wed 04-02.
    start = date(2025, 3, 16)
    assert GUANGXI.add_calendar_days(start, 15, region=LIUZHOU_DISTRICT) == date(2025, 4, 2)
    assert GUANGXI.add_calendar_days(start, 15, region=BEIJING_DISTRICT) == date(2025, 3, 31)
    assert GUANGXI.add_calendar_days(start, 15) == date(2025, 3, 31)


def test_sanyuesan_2025_days_are_not_working_days_in_guangxi() -> None:
    # From Fri 03-28: Sat, Sun, Mon 31 and Tue 01 rest in Guangxi -> Wed 04-02 (1).
    assert GUANGXI.add_working_days(date(2025, 3, 28), 1, region=LIUZHOU_DISTRICT) == date(
        2025, 4, 2
    )
    assert GUANGXI.add_working_days(date(2025, 3, 28), 1, region=BEIJING_DISTRICT) == date(
        2025, 3, 31
    )
    assert not GUANGXI.is_working_day(date(2025, 3, 31), region=LIUZHOU_DISTRICT)
    assert GUANGXI.is_rest_day(date(2025, 4, 1), region=LIUZHOU_DISTRICT)
    assert GUANGXI.is_working_day(date(2025, 3, 31), region=BEIJING_DISTRICT)


def test_city_prefix_applies_to_its_districts_only_and_adds_to_existing_days() -> None:
    # Liuzhou ("4502") also rests Wed 04-02 (test data): 450203 is in Liuzhou, 450103 in Nanning.
    cal = GUANGXI.with_rest_days("4502", [date(2025, 4, 2)])
    assert cal.add_calendar_days(date(2025, 3, 16), 15, region="450203") == date(2025, 4, 3)
    assert cal.add_calendar_days(date(2025, 3, 16), 15, region="450103") == date(2025, 4, 2)
    # with_rest_days returns a new calendar; the old one is unchanged.
    assert GUANGXI.is_working_day(date(2025, 4, 2), region="450203")
    more = GUANGXI.with_rest_days("45", [date(2025, 4, 2)])
    assert more.add_calendar_days(date(2025, 3, 16), 15, region="450103") == date(2025, 4, 3)


# --- years without a schedule ---------------------------------------------------------------------


def test_due_date_in_2027_is_predicted() -> None:
    # 2026-12-25 + 15 = Sat 2027-01-09, a year chinese-calendar 1.11 does not cover: the
    # predicted schedule (New Year on a Friday: Fri-Sun, no make-up day) rolls it to Mon 01-11.
    assert add_calendar_days(date(2026, 12, 25), 15) == date(2027, 1, 11)
    assert DEFAULT_CALENDAR.depends_on_prediction(date(2027, 1, 9), date(2027, 1, 11))
    assert not DEFAULT_CALENDAR.depends_on_prediction(date(2026, 6, 1), date(2026, 12, 24))
    assert DEFAULT_CALENDAR.basis(2027) == "predicted"
    assert DEFAULT_CALENDAR.basis(2026) == "package"


def test_years_past_the_prediction_range_have_no_schedule() -> None:
    with pytest.raises(CalendarNotAvailable) as caught:
        add_calendar_days(date(2100, 12, 25), 15)
    assert caught.value.year == 2101


def test_due_date_before_2027_is_computed_without_it() -> None:
    # 2026-12-10 + 15 = Fri 2026-12-25, a working day.
    assert add_calendar_days(date(2026, 12, 10), 15) == date(2026, 12, 25)


def test_2003_has_no_schedule() -> None:
    with pytest.raises(CalendarNotAvailable) as caught:
        is_working_day(date(2003, 12, 31))
    assert caught.value.year == 2003
    with pytest.raises(CalendarNotAvailable):
        add_working_days(date(2003, 12, 29), 1)


def test_covered_years_come_from_the_package() -> None:
    years = {d.year for d in chinese_calendar.holidays}
    assert DEFAULT_CALENDAR.covered_years() == (min(years), max(years))
    assert DEFAULT_CALENDAR.covered_years()[0] <= 2024
    assert DEFAULT_CALENDAR.covered_years()[1] >= 2026


def test_with_schedule_for_2027_makes_the_computation_work() -> None:
    # 2027-01-09 is a Saturday; Sun 01-10 rest -> Mon 2027-01-11.
    cal = DEFAULT_CALENDAR.with_schedule(2027, holidays=NEW_YEAR_2027, workdays=[])
    assert cal.add_calendar_days(date(2026, 12, 25), 15) == date(2027, 1, 11)
    assert cal.covered_years() == (DEFAULT_CALENDAR.covered_years()[0], 2027)
    assert not cal.is_working_day(date(2027, 1, 1))  # Friday, New Year
    assert cal.basis(2027) == "registered"
    assert DEFAULT_CALENDAR.basis(2027) == "predicted"  # the default calendar is unchanged


def test_with_schedule_keeps_regions_and_setting() -> None:
    cal = Calendar(regional_rest_days={"45": SANYUESAN_2025}, makeup_days_are_rest_days=True)
    cal = cal.with_schedule(2027, holidays=NEW_YEAR_2027, workdays=[])
    assert cal.makeup_days_are_rest_days
    assert cal.is_rest_day(date(2025, 3, 31), region=LIUZHOU_DISTRICT)


def test_with_schedule_rejects_inconsistent_data() -> None:
    with pytest.raises(ValueError, match="outside 2027"):
        DEFAULT_CALENDAR.with_schedule(2027, holidays=[date(2026, 12, 1)], workdays=[])
    with pytest.raises(ValueError, match="weekend"):  # Mon 2027-01-04
        DEFAULT_CALENDAR.with_schedule(2027, holidays=[], workdays=[date(2027, 1, 4)])
    with pytest.raises(ValueError, match="both"):
        DEFAULT_CALENDAR.with_schedule(
            2027, holidays=[date(2027, 1, 2)], workdays=[date(2027, 1, 2)]
        )


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1])
def test_lengths_below_one_are_refused(n: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        add_calendar_days(date(2024, 3, 1), n)
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(date(2024, 3, 1), n)
    with pytest.raises(ValueError, match="at least 1"):
        add_years(date(2024, 3, 1), n)


@pytest.mark.parametrize("region", ["45", "4502030", "45020a", "", "４５０２０３"])
def test_bad_region_codes_are_refused(region: str) -> None:
    with pytest.raises(ValueError, match="6-digit"):
        is_working_day(date(2024, 3, 1), region=region)
    with pytest.raises(ValueError, match="6-digit"):
        GUANGXI.add_calendar_days(date(2024, 3, 1), 15, region=region)


@pytest.mark.parametrize("prefix", ["4", "4502031", "4x", "450000", "4500"])
def test_bad_region_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        DEFAULT_CALENDAR.with_rest_days(prefix, [])
    with pytest.raises(ValueError, match="prefix"):
        Calendar(regional_rest_days={prefix: []})


def test_regional_rest_days_must_be_dates() -> None:
    with pytest.raises(TypeError, match=r"datetime\.date"):
        Calendar(regional_rest_days={"45": ["2025-03-31"]})  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"datetime\.date"):
        DEFAULT_CALENDAR.with_rest_days("45", [datetime(2025, 3, 31)])


def test_datetimes_are_refused_as_days() -> None:
    with pytest.raises(TypeError, match=r"datetime\.date"):
        add_calendar_days(datetime(2024, 3, 1, 12), 15)


# --- properties over 2024-01-01..2026-11-30 -------------------------------------------------------

days = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 11, 30))
lengths = st.integers(min_value=1, max_value=60)
# (calendar, region) pairs: national default, make-up days resting, Guangxi with a region.
setups = st.sampled_from(
    [(DEFAULT_CALENDAR, None), (MAKEUP_REST, None), (GUANGXI, LIUZHOU_DISTRICT)]
)


def _or_reject(compute: Callable[[], date]) -> date:
    """Run ``compute``; discard the example when it reaches 2027 (no schedule yet)."""
    try:
        return compute()
    except CalendarNotAvailable as exc:
        missing = exc.year
    assert missing == 2027
    return reject()  # discards the example; never returns


@given(days, lengths, setups)
def test_calendar_day_deadline_never_lands_on_a_rest_day(
    start: date, n: int, setup: tuple[Calendar, str | None]
) -> None:
    cal, region = setup
    due = _or_reject(lambda: cal.add_calendar_days(start, n, region=region))
    assert not cal.is_rest_day(due, region=region)


@given(days, lengths, setups)
def test_calendar_day_deadline_only_skips_rest_days(
    start: date, n: int, setup: tuple[Calendar, str | None]
) -> None:
    cal, region = setup
    due = _or_reject(lambda: cal.add_calendar_days(start, n, region=region))
    day = start + timedelta(days=n)
    assert due >= day
    while day < due:
        assert cal.is_rest_day(day, region=region)
        day += timedelta(days=1)


@given(days, lengths, setups)
def test_working_day_deadline_has_exactly_n_working_days(
    start: date, n: int, setup: tuple[Calendar, str | None]
) -> None:
    cal, region = setup
    due = _or_reject(lambda: cal.add_working_days(start, n, region=region))
    assert cal.is_working_day(due, region=region)
    span = [start + timedelta(days=i) for i in range(1, (due - start).days + 1)]
    assert sum(cal.is_working_day(d, region=region) for d in span) == n


@given(days, days, lengths, lengths)
def test_working_day_deadline_is_monotonic(start1: date, start2: date, n1: int, n2: int) -> None:
    start1, start2 = sorted([start1, start2])
    n1, n2 = sorted([n1, n2])
    assert _or_reject(lambda: add_working_days(start1, n1)) <= _or_reject(
        lambda: add_working_days(start2, n1)
    )
    shorter = _or_reject(lambda: add_working_days(start1, n1))
    longer = _or_reject(lambda: add_working_days(start1, n2))
    assert shorter < longer or n1 == n2


@given(st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 12, 31)))
def test_national_working_days_agree_with_chinese_calendar(day: date) -> None:
    assert is_working_day(day) == chinese_calendar.is_workday(day)
    assert is_rest_day(day) == (not chinese_calendar.is_workday(day))
