"""Early warning (监测预警): every rule fires at its threshold and not one below it, at the edge
of its window and not one day past it; scoping by region and industry; stable keys.

Cases are opened through an engine (``make_engine``) whose clock stands at 2025-03-31; their
``received_on`` places them in the windows. The rules are then evaluated directly on a
connection of the engine's store, as the engine will. Windows are inclusive: the 90-day window
ending 2025-03-31 starts on 2025-01-01; the 30-day window ending 2025-03-31 starts on 2025-03-02
and the 30 days before it run from 2025-01-31 to 2025-03-01.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from mediation_flow_zigong_daan import DAAN, DaanPlugin
from sqlalchemy import Connection

from mediation_flow.early_warning import (
    TRIGGER,
    Alert,
    CaseFacts,
    CollectiveCase,
    IndustryWatch,
    Level,
    RepeatEmployer,
    Rule,
    RuleSet,
    WageArrearsRise,
    canonical_industry,
    default_rules,
)
from mediation_flow.errors import CaseNotFound
from mediation_flow.personal_data import check_credit_code
from mediation_flow.testing import FixedClockEngine, make_engine, moment, sample_intake

TODAY = date(2025, 3, 31)
CHANGSHA = "430102"  # 长沙市芙蓉区 (city 4301)
CHANGSHA_2 = "430103"  # 长沙市天心区 (same city)
ZHUZHOU = "430202"  # 株洲市荷塘区 (city 4302)
EMPLOYER = "长沙某建筑工程有限公司"

# --- GB 32100 credit codes (computed here, checked by the engine's own validator) ----------------

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code(n: int) -> str:
    """A valid unified social credit code: 91 (enterprise), division 430102, an organisation
    code built from ``n`` with its GB 11714 check character, and the GB 32100 check character."""
    body = f"{n:08d}"
    c9 = 11 - sum(int(c, 36) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    first17 = "91430102" + body + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    total = sum(_ALPHABET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + _ALPHABET[(31 - total % 31) % 31]


CODE_A, CODE_B = credit_code(10001), credit_code(10002)


def test_the_credit_codes_of_these_tests_are_valid() -> None:
    assert check_credit_code(CODE_A) == CODE_A
    assert check_credit_code("91350100M000100Y43") == "91350100M000100Y43"
    assert CODE_A != CODE_B


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def engine() -> Iterator[FixedClockEngine]:
    eng = make_engine(at=TODAY)
    yield eng
    eng.close()


def open_case(
    engine: FixedClockEngine,
    received_on: date | str = TODAY,
    *,
    employer: str = EMPLOYER,
    code: str | None = None,
    region: str = CHANGSHA,
    workers: int | None = None,
    industry: str | None = None,
    wages: bool = True,
    migrant: bool = False,
) -> int:
    party: dict[str, Any] = {"kind": "employer", "role": "respondent", "name": employer}
    if code is not None:
        party["id_number"] = code
    intake = sample_intake(
        region=region,
        received_on=str(received_on),
        parties=[{"kind": "worker", "role": "applicant", "name": "张三"}, party],
        claims=[{"kind": "wages" if wages else "social_insurance", "amount": "18000.00"}],
        worker_count=workers,
        is_migrant_worker=migrant,
        attributes={"industry": industry} if industry else {},
    )
    return engine.open_case(intake).id


def on_open(
    engine: FixedClockEngine, rules: RuleSet | Rule, case_id: int, today: date = TODAY
) -> list[Alert]:
    ruleset = rules if isinstance(rules, RuleSet) else RuleSet([rules])
    with engine._store.connect() as conn, engine._store.reading(conn):
        return ruleset.evaluate_open(conn, case_id, today)


def on_tick(
    engine: FixedClockEngine,
    rules: RuleSet | Rule,
    today: date = TODAY,
    region: str | None = None,
) -> list[Alert]:
    ruleset = rules if isinstance(rules, RuleSet) else RuleSet([rules])
    with engine._store.connect() as conn, engine._store.reading(conn):
        return ruleset.evaluate_tick(conn, today, region)


def many(engine: FixedClockEngine, count: int, received_on: date | str, **kwargs: Any) -> None:
    for _ in range(count):
        open_case(engine, received_on, **kwargs)


# --- RepeatEmployer ------------------------------------------------------------------------------


def test_repeat_employer_fires_on_the_third_case_of_a_credit_code_in_90_days(
    engine: FixedClockEngine,
) -> None:
    rule = RepeatEmployer(window_days=90, threshold=3)
    first = open_case(engine, "2025-01-15", code=CODE_A)
    # The same code under the employer's former name is the same employer.
    second = open_case(engine, "2025-02-20", code=CODE_A, employer="长沙某建设有限公司")
    assert on_open(engine, rule, second) == []  # threshold - 1
    third = open_case(engine, TODAY, code=CODE_A)
    [alert] = on_open(engine, rule, third)
    assert (alert.rule, alert.level, alert.case_id, alert.region) == (
        "repeat_employer",
        Level.warning,
        third,
        CHANGSHA,
    )
    assert alert.data["count"] == 3
    assert alert.data["case_ids"] == [first, second, third]
    assert alert.data["matched_by"] == "credit_code"
    assert alert.data["window"] == ["2025-01-01", "2025-03-31"]
    assert f"“{EMPLOYER}”近90日（2025-01-01至2025-03-31）已有劳动争议案件3件（含本案）" in (
        alert.reason
    )
    assert alert.key.startswith(f"repeat_employer/case/{third}/")


def test_repeat_employer_does_not_fire_below_the_threshold_or_across_credit_codes(
    engine: FixedClockEngine,
) -> None:
    rule = RepeatEmployer(window_days=90, threshold=3)
    open_case(engine, "2025-02-01", code=CODE_A)
    # Another legal entity of the same name: a different credit code never matches.
    open_case(engine, "2025-02-02", code=CODE_B)
    third = open_case(engine, TODAY, code=CODE_A)
    assert on_open(engine, rule, third) == []
    # A lower threshold fires on the same facts.
    [alert] = on_open(engine, RepeatEmployer(threshold=2), third)
    assert alert.data["count"] == 2


@pytest.mark.parametrize(
    ("oldest", "fires"),
    [("2025-01-01", True), ("2024-12-31", False)],
    ids=["first-day-of-window", "one-day-before"],
)
def test_repeat_employer_window_edge(engine: FixedClockEngine, oldest: str, fires: bool) -> None:
    rule = RepeatEmployer(window_days=90, threshold=3)
    open_case(engine, oldest, code=CODE_A)
    open_case(engine, "2025-02-01", code=CODE_A)
    third = open_case(engine, TODAY, code=CODE_A)
    alerts = on_open(engine, rule, third)
    assert bool(alerts) is fires
    # The window ends on the day of evaluation: a day later the oldest case drops out.
    if fires:
        assert on_open(engine, rule, third, date(2025, 4, 1)) == []


def test_repeat_employer_matches_names_without_spaces_brackets_or_case(
    engine: FixedClockEngine,
) -> None:
    rule = RepeatEmployer(threshold=3)
    open_case(engine, "2025-03-01", employer="ABC建筑（长沙）有限公司")
    open_case(engine, "2025-03-02", employer="abc建筑(长沙) 有限公司")
    open_case(engine, "2025-03-03", employer="某餐饮管理有限公司")  # another employer
    third = open_case(engine, TODAY, employer="ABC建筑 (长沙)有限公司")
    [alert] = on_open(engine, rule, third)
    assert (alert.data["count"], alert.data["matched_by"]) == (3, "name")
    # A new case with a credit code also counts the earlier cases that gave only the name.
    fourth = open_case(engine, TODAY, employer="ABC建筑（长沙）有限公司", code=CODE_A)
    [alert] = on_open(engine, rule, fourth)
    assert (alert.data["count"], alert.data["matched_by"]) == (4, "credit_code")
    # And a name-only case counts the cases that gave the code with that name.
    fifth = open_case(engine, TODAY, employer="ABC建筑（长沙）有限公司")
    assert on_open(engine, rule, fifth)[0].data["count"] == 5


def test_repeat_employer_single_case_does_not_fire(engine: FixedClockEngine) -> None:
    only = open_case(engine, TODAY, employer="长沙某餐饮有限公司", code=CODE_B)
    assert on_open(engine, RepeatEmployer(), only) == []


# --- CollectiveCase ------------------------------------------------------------------------------


def test_collective_case_fires_at_ten_workers(engine: FixedClockEngine) -> None:
    case_id = open_case(engine, workers=10)
    [alert] = on_open(engine, CollectiveCase(), case_id)
    assert (alert.rule, alert.level, alert.key) == (
        "collective_case",
        Level.warning,
        f"collective_case/case/{case_id}",
    )
    assert "劳动者10人" in alert.reason
    assert "劳动争议调解仲裁法第七条" in alert.reason
    assert "优先立案、优先审理" in alert.reason
    assert alert.data == {"worker_count": 10, "threshold": 10, "migrant_wages": False}


def test_collective_case_does_not_fire_at_nine_workers(engine: FixedClockEngine) -> None:
    case_id = open_case(engine, workers=9)
    assert on_open(engine, CollectiveCase(), case_id) == []
    assert on_open(engine, CollectiveCase(threshold=9), case_id) != []


def test_collective_migrant_wage_arrears_is_critical(engine: FixedClockEngine) -> None:
    wages = open_case(engine, workers=30, migrant=True)
    [alert] = on_open(engine, CollectiveCase(), wages)
    assert alert.level is Level.critical
    assert "农民工" in alert.reason
    other = open_case(engine, workers=30, migrant=True, wages=False)
    assert on_open(engine, CollectiveCase(), other)[0].level is Level.warning
    plain = CollectiveCase(migrant_wages_level=None)
    assert on_open(engine, plain, wages)[0].level is Level.warning


# --- IndustryWatch -------------------------------------------------------------------------------


@pytest.mark.parametrize("industry", ["建筑", "construction", "餐饮服务", "Catering"])
def test_industry_watch_fires_for_a_watched_industry(
    engine: FixedClockEngine, industry: str
) -> None:
    case_id = open_case(engine, industry=industry)
    [alert] = on_open(engine, IndustryWatch(), case_id)
    code = canonical_industry(industry)
    assert code in ("construction", "catering")
    assert (alert.rule, alert.level, alert.data["industry"]) == ("industry_watch", Level.info, code)
    assert "建筑领域、餐饮服务" in alert.reason


@pytest.mark.parametrize("industry", ["制造", "electronics", None])
def test_industry_watch_does_not_fire_for_other_industries(
    engine: FixedClockEngine, industry: str | None
) -> None:
    case_id = open_case(engine, industry=industry)
    assert on_open(engine, IndustryWatch(), case_id) == []


def test_industry_watch_with_a_prefix_watches_only_its_region(engine: FixedClockEngine) -> None:
    rules = RuleSet([IndustryWatch(region_prefix="4301")])
    inside = open_case(engine, industry="建筑", region=CHANGSHA)
    outside = open_case(engine, industry="建筑", region=ZHUZHOU)
    [alert] = on_open(engine, rules, inside)
    assert alert.rule == "industry_watch@4301"
    assert "区划4301" in alert.reason
    assert on_open(engine, rules, outside) == []


def test_industry_watch_on_a_da_an_case_recorded_by_the_plugin() -> None:
    engine = make_engine(DaanPlugin(), at=TODAY)
    try:
        rules = RuleSet([IndustryWatch(("建筑", "餐饮"), region_prefix=DAAN)])
        catering = engine.open_case(sample_intake(region=DAAN, attributes={"industry": "catering"}))
        park = engine.open_case(sample_intake(region=DAAN, attributes={"industry": "electronics"}))
        [alert] = on_open(engine, rules, catering.id)
        assert (alert.rule, alert.data["industry"]) == (f"industry_watch@{DAAN}", "catering")
        assert on_open(engine, rules, park.id) == []
    finally:
        engine.close()


# --- WageArrearsRise -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "current", "fires"),
    [
        (0, 5, True),  # minimum reached, nothing before
        (0, 4, False),  # minimum - 1
        (4, 6, True),  # exactly 1.5 x previous
        (4, 5, False),  # below 1.5 x previous
    ],
)
def test_wage_arrears_rise_thresholds(
    engine: FixedClockEngine, previous: int, current: int, fires: bool
) -> None:
    many(engine, previous, "2025-02-10")
    many(engine, current, "2025-03-20")
    alerts = on_tick(engine, WageArrearsRise(window_days=30, factor=1.5, minimum=5))
    assert bool(alerts) is fires
    if fires:
        [alert] = alerts
        assert (alert.rule, alert.case_id, alert.region, alert.level) == (
            "wage_arrears_rise.region",
            None,
            "4301",
            Level.warning,
        )
        assert alert.region_level
        assert alert.data["current"] == {"from": "2025-03-02", "to": "2025-03-31", "count": current}
        assert alert.data["previous"] == {
            "from": "2025-01-31",
            "to": "2025-03-01",
            "count": previous,
        }
        assert f"新收追索劳动报酬争议案件{current}件" in alert.reason


@pytest.mark.parametrize(
    ("day", "fires"),
    [("2025-03-02", True), ("2025-03-01", False)],
    ids=["first-day-of-window", "last-day-of-previous-window"],
)
def test_wage_arrears_rise_window_edge(engine: FixedClockEngine, day: str, fires: bool) -> None:
    many(engine, 4, "2025-03-25")
    open_case(engine, day)
    alerts = on_tick(engine, WageArrearsRise())
    assert bool(alerts) is fires
    if not fires:
        # The fifth case fell in the previous window: 4 now against 1 before.
        [alert] = on_tick(engine, WageArrearsRise(minimum=4))
        assert (alert.data["current"]["count"], alert.data["previous"]["count"]) == (4, 1)


def test_wage_arrears_rise_counts_only_wage_claims(engine: FixedClockEngine) -> None:
    many(engine, 4, "2025-03-20")
    open_case(engine, "2025-03-20", wages=False)  # social insurance: not wage arrears
    assert on_tick(engine, WageArrearsRise()) == []
    open_case(engine, "2025-03-21")
    assert len(on_tick(engine, WageArrearsRise())) == 1


def test_wage_arrears_rise_is_per_city(engine: FixedClockEngine) -> None:
    many(engine, 3, "2025-03-20", region=CHANGSHA)
    many(engine, 2, "2025-03-21", region=CHANGSHA_2)  # same city 4301
    many(engine, 4, "2025-03-22", region=ZHUZHOU)  # 4302: 4 < minimum
    rule = WageArrearsRise()
    [alert] = on_tick(engine, rule)
    assert (alert.region, alert.data["current"]["count"]) == ("4301", 5)
    # Asking for the province finds the same alert (same key); asking for Zhuzhou finds none.
    assert [a.key for a in on_tick(engine, rule, region="43")] == [alert.key]
    assert on_tick(engine, rule, region="4302") == []
    # A district is its own population: 3 cases in 430102 are not a rise.
    assert on_tick(engine, rule, region=CHANGSHA) == []


def test_wage_arrears_rise_by_industry(engine: FixedClockEngine) -> None:
    many(engine, 3, "2025-03-20", industry="建筑")
    many(engine, 2, "2025-03-21", industry="construction")  # the same industry
    many(engine, 4, "2025-03-22", industry="餐饮")  # below the minimum
    many(engine, 3, "2025-03-22")  # no industry recorded: not counted by industry
    [alert] = on_tick(engine, WageArrearsRise(by="industry"))
    assert (alert.rule, alert.region, alert.data["industry"]) == (
        "wage_arrears_rise.industry",
        "4301",
        "construction",
    )
    assert alert.data["current"]["count"] == 5
    assert "区划4301建筑行业" in alert.reason
    # Nationwide per industry (prefix_len=None): the same count, a key without a region.
    [national] = on_tick(engine, WageArrearsRise(by="industry", prefix_len=None))
    assert national.region is None
    assert national.key.startswith("wage_arrears_rise.industry/*/construction/")


def test_wage_arrears_rise_by_industry_does_not_fire_on_a_steady_industry(
    engine: FixedClockEngine,
) -> None:
    many(engine, 4, "2025-02-15", industry="建筑")
    many(engine, 5, "2025-03-15", industry="建筑")  # 5 < 1.5 x 4
    assert on_tick(engine, WageArrearsRise(by="industry")) == []


def test_a_rule_limited_to_a_region_ticks_only_there(engine: FixedClockEngine) -> None:
    many(engine, 5, "2025-03-20", region=CHANGSHA)
    assert on_tick(engine, WageArrearsRise(region_prefix="4302")) == []
    [alert] = on_tick(engine, WageArrearsRise(region_prefix="4301"))
    assert alert.rule == "wage_arrears_rise.region@4301"
    assert on_tick(engine, WageArrearsRise(region_prefix="4301"), region="4302") == []


# --- keys ----------------------------------------------------------------------------------------


def test_keys_are_stable_across_evaluations_and_ticks_of_a_period(
    engine: FixedClockEngine,
) -> None:
    rules = RuleSet([*default_rules(), IndustryWatch(region_prefix="4301")])
    many(engine, 5, "2025-03-20", industry="建筑", code=CODE_A)
    case_id = open_case(engine, TODAY, industry="建筑", code=CODE_A, workers=12)
    opened = [a.key for a in on_open(engine, rules, case_id)]
    assert opened == [a.key for a in on_open(engine, rules, case_id)]
    assert [k.split("/")[0] for k in opened] == [
        "repeat_employer",
        "collective_case",
        "industry_watch@4301",
    ]
    ticked = [a.key for a in on_tick(engine, rules)]
    assert ticked == [a.key for a in on_tick(engine, rules)]
    assert [k.split("/")[0] for k in ticked] == [
        "wage_arrears_rise.region",
        "wage_arrears_rise.industry",
    ]
    assert all(len(k) <= 200 for k in [*opened, *ticked])
    # At most one alert per group and 30-day period: a tick on another day of the period gives
    # the same keys; a rise in the next period gets a new key.
    [region_alert, _] = on_tick(engine, rules)
    assert region_alert.data["period"] == ["2025-03-22", "2025-04-20"]
    assert region_alert.key == "wage_arrears_rise.region/4301/2025-03-22"
    assert [a.key for a in on_tick(engine, rules, date(2025, 3, 22))] == ticked
    engine.clock.set("2025-04-21")
    many(engine, 8, "2025-04-21")  # 9 in 03-23..04-21 against 5 in 02-21..03-22
    [next_period] = on_tick(engine, rules, date(2025, 4, 21))
    assert next_period.key == "wage_arrears_rise.region/4301/2025-04-21"


def test_every_days_one_gives_a_daily_key(engine: FixedClockEngine) -> None:
    many(engine, 5, "2025-03-20")
    rule = WageArrearsRise(every_days=1)
    [today] = on_tick(engine, rule)
    [tomorrow] = on_tick(engine, rule, date(2025, 4, 1))
    assert today.key == "wage_arrears_rise.region/4301/2025-03-31"
    assert tomorrow.key == "wage_arrears_rise.region/4301/2025-04-01"


# --- alerts as events, rule sets -----------------------------------------------------------------


def test_an_alert_as_event_data_and_row(engine: FixedClockEngine) -> None:
    case_id = open_case(engine, workers=10)
    [alert] = on_open(engine, CollectiveCase(), case_id)
    row = alert.event_row(seq=2, state="received", at=moment(TODAY))
    assert (row["trigger"], row["source"], row["dest"], row["actor_id"]) == (
        TRIGGER,
        "received",
        "received",
        "system",
    )
    assert row["data"] == {
        "rule": "collective_case",
        "level": "warning",
        "reason": alert.reason,
        "key": alert.key,
        "region": CHANGSHA,
        "details": {"worker_count": 10, "threshold": 10, "migrant_wages": False},
    }
    many(engine, 5, "2025-03-20")
    [region_alert] = on_tick(engine, WageArrearsRise())
    with pytest.raises(ValueError, match="region-level"):
        region_alert.event_row(seq=2, state="received", at=moment(TODAY))


def test_rule_set_rejects_duplicate_and_malformed_ids() -> None:
    with pytest.raises(ValueError, match="two early-warning rules"):
        RuleSet([IndustryWatch(), IndustryWatch(("制造",))])
    RuleSet([IndustryWatch(), IndustryWatch(("制造",), id="industry_watch.manufacturing")])
    with pytest.raises(ValueError, match="rule id"):
        RuleSet([CollectiveCase(id="Collective Case")])
    with pytest.raises(ValueError, match="region_prefix"):
        IndustryWatch(region_prefix="51A")
    assert [r.id for r in default_rules()] == [
        "repeat_employer",
        "collective_case",
        "wage_arrears_rise.region",
        "wage_arrears_rise.industry",
    ]
    extended = RuleSet(default_rules()).with_rules([IndustryWatch(region_prefix=DAAN)])
    assert len(extended) == 5


class Broken(Rule):
    id = "broken"

    def on_open(self, conn: Connection, case: CaseFacts, today: date) -> list[Alert]:
        conn.exec_driver_sql("SELECT * FROM no_such_table")
        return []


def test_a_failing_rule_is_reported_and_skipped_inside_a_transaction(
    engine: FixedClockEngine,
) -> None:
    case_id = open_case(engine, workers=10)
    failures: list[tuple[str, str]] = []
    rules = RuleSet(
        [Broken(), CollectiveCase()],
        on_error=lambda rule, exc: failures.append((rule.id, type(exc).__name__)),
    )
    with engine._store.connect() as conn, engine._store.writing(conn):
        [alert] = rules.evaluate_open(conn, case_id, TODAY)
        # The failed statement was rolled back to its savepoint: the transaction goes on.
        assert conn.exec_driver_sql("SELECT count(*) FROM mf_case").scalar() == 1
    assert alert.rule == "collective_case"
    assert failures == [("broken", "OperationalError")]
    with pytest.raises(Exception, match="no_such_table"):
        on_open(engine, RuleSet([Broken()]), case_id)


class BadKey(Rule):
    id = "bad_key"

    def on_tick(self, conn: Connection, today: date, region: str | None) -> list[Alert]:
        return [Alert(self.id, Level.info, "…", f"{today}", None, region)]


def test_a_key_must_start_with_the_rule_id(engine: FixedClockEngine) -> None:
    with pytest.raises(ValueError, match="must start with 'bad_key/'"):
        on_tick(engine, BadKey())
    failures: list[str] = []
    rules = RuleSet([BadKey()], on_error=lambda rule, exc: failures.append(rule.id))
    assert on_tick(engine, rules) == []
    assert failures == ["bad_key"]


def test_an_unknown_case_raises_case_not_found(engine: FixedClockEngine) -> None:
    with pytest.raises(CaseNotFound):
        on_open(engine, RuleSet(default_rules()), 999)


# --- PostgreSQL (JSON paths, replace() on parameters) --------------------------------------------


def test_rules_on_each_database(db_url: str) -> None:
    engine = make_engine(at=TODAY, url=db_url)
    try:
        open_case(engine, "2025-03-01", employer="ABC建筑（长沙）有限公司", industry="建筑")
        open_case(engine, "2025-03-02", employer="abc建筑(长沙) 有限公司", industry="建筑")
        many(engine, 3, "2025-03-20", industry="construction", code=CODE_A)
        third = open_case(engine, TODAY, employer="ABC建筑 (长沙)有限公司", industry="建筑")
        rules = RuleSet(default_rules())
        [repeat] = on_open(engine, rules, third)
        assert (repeat.rule, repeat.data["count"]) == ("repeat_employer", 3)
        ticked = [
            (a.rule, a.region, a.data["industry"], a.data["current"]["count"])
            for a in on_tick(engine, rules)
        ]
        assert ticked == [
            ("wage_arrears_rise.region", "4301", None, 5),  # 03-01 is in the previous window
            ("wage_arrears_rise.industry", "4301", "construction", 5),
        ]
    finally:
        engine.close()
