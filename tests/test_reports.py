"""Reports: eleven known cases on SQLite and PostgreSQL, every figure checked by hand.

The cases (Asia/Shanghai times; region 430102 unless said otherwise):

====  ======================================================================================
A1    negotiation 3-03 09:00, settlement signed after 2 days, performed 3-20
A2    negotiation 3-03, the employer answers 3-04, settlement after 4 days, performed 3-21
A3    430111, opened 3-31 23:30 (still March in China, already 15:30 UTC), settlement after
      6 days (4-06 23:30), performed 4-20 10:00
B1    opened 3-03, union mediation from 3-04, agreement 3-10, performed 3-24
B2    opened 3-04, union mediation (enterprise committee) accepted 3-05, agreement 3-14,
      judicial confirmation applied 3-17, confirmed 3-24, performed 4-02
C1    arbitration applied 3-03, accepted 3-05, final award 4-04, takes effect when the windows
      expire (tick at 5-20 00:30), performed 5-26
D1    people's mediation 3-03, withdrawn 3-07
E1    arbitration applied 3-03, accepted 3-05, no award: the award limit expires (tick 5-20)
F1    opened 5-06, people's mediation: its 15 days end 5-21, no tick since -> pending
G1    510302, opened 4-01 07:00 (April in China, still 3-31 in UTC), not a labour dispute
      08:00
H1    union mediation 3-03 fails 3-13; arbitration applied 3-14, accepted 3-17, arbitration
      mediation 3-20, mediation statement 3-27, performed 4-08
====  ======================================================================================

The report is taken on 2025-06-01.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest

from mediation_flow import Engine
from mediation_flow.reports import (
    DeadlineCounts,
    Duration,
    MonthCount,
    Movement,
    OverdueItem,
    Report,
    build_report,
    report_from_json,
    to_csv,
    to_html,
    to_json,
    to_table,
)
from mediation_flow.storage.repository import Store
from tests.conftest import PG_URL, at, make_intake, require_postgres

TODAY = date(2025, 6, 1)
H = 1 / 24  # an hour, in days


def _award(day: str) -> dict[str, Any]:
    # 16,000 of wages is at most 12 monthly minimum wages: a final award (LDMAL 47).
    return {
        "items": [{"kind": "wages", "amount": "16000"}],
        "monthly_minimum_wage": "2100",
        "served_on": {"worker": day, "employer": day},
    }


def seed(engine: Engine) -> dict[str, int]:
    """Open and drive the cases of the module docstring; return their ids by name."""
    ids: dict[str, int] = {}

    def open_case(name: str, when: datetime, region: str = "430102") -> int:
        ids[name] = engine.open_case(make_intake(region=region), at=when).id
        return ids[name]

    def fire(name: str, trigger: str, when: datetime, **data: Any) -> None:
        # As the trusted system actor: who acts is not what a report counts.
        engine.fire(ids[name], trigger, data=data, at=when)

    for name, sign_day, perform_day in (("A1", 5, 20), ("A2", 7, 21)):
        open_case(name, at(2025, 3, 3))
        fire(name, "refer_to_negotiation", at(2025, 3, 3))
        if name == "A2":
            fire(name, "accept_negotiation", at(2025, 3, 4))
        fire(name, "sign_settlement", at(2025, 3, sign_day), perform_by=f"2025-03-{perform_day}")
        fire(name, "confirm_performance", at(2025, 3, perform_day))
    open_case("A3", at(2025, 3, 31, 23, 30), region="430111")
    fire("A3", "refer_to_negotiation", at(2025, 3, 31, 23, 30))
    fire("A3", "sign_settlement", at(2025, 4, 6, 23, 30), perform_by="2025-04-20")
    fire("A3", "confirm_performance", at(2025, 4, 20, 10))

    open_case("B1", at(2025, 3, 3))
    fire("B1", "refer_to_union_mediation", at(2025, 3, 4), org_id="区总工会", org_type="union_org")
    fire(
        "B1", "sign_agreement", at(2025, 3, 10), effective_on="2025-03-10", perform_by="2025-03-24"
    )
    fire("B1", "confirm_performance", at(2025, 3, 24))

    open_case("B2", at(2025, 3, 4))
    fire(
        "B2",
        "refer_to_union_mediation",
        at(2025, 3, 4),
        org_id="区总工会",
        org_type="enterprise_committee",
    )
    fire("B2", "accept_mediation", at(2025, 3, 5), accepted_on="2025-03-05")
    fire(
        "B2", "sign_agreement", at(2025, 3, 14), effective_on="2025-03-14", perform_by="2025-04-30"
    )
    fire("B2", "apply_judicial_confirmation", at(2025, 3, 17), by="both", accepted_on="2025-03-17")
    fire("B2", "confirm_agreement", at(2025, 3, 24), perform_by="2025-04-15")
    fire("B2", "confirm_performance", at(2025, 4, 2))

    for name in ("C1", "E1"):
        open_case(name, at(2025, 3, 3))
        fire(name, "apply_arbitration", at(2025, 3, 3), by="worker")
        fire(name, "accept_arbitration", at(2025, 3, 5))
    fire("C1", "issue_award", at(2025, 4, 4), **_award("2025-04-04"))

    open_case("D1", at(2025, 3, 3))
    fire("D1", "refer_to_peoples_mediation", at(2025, 3, 3), org_id="街道人民调解委员会")
    fire("D1", "withdraw", at(2025, 3, 7), by="worker")

    open_case("G1", at(2025, 4, 1, 7), region="510302")
    fire("G1", "reject_out_of_scope", at(2025, 4, 1, 8))

    open_case("H1", at(2025, 3, 3))
    fire("H1", "refer_to_union_mediation", at(2025, 3, 3), org_id="区总工会", org_type="union_org")
    fire("H1", "fail_mediation", at(2025, 3, 13), reason="no_agreement")
    fire("H1", "apply_arbitration", at(2025, 3, 14), by="worker")
    fire("H1", "accept_arbitration", at(2025, 3, 17))
    fire("H1", "start_arbitration_mediation", at(2025, 3, 20), entrusted=False)
    fire("H1", "issue_mediation_statement", at(2025, 3, 27), perform_by="2025-04-10")
    fire("H1", "confirm_performance", at(2025, 4, 8))

    open_case("F1", at(2025, 5, 6))
    fire("F1", "refer_to_peoples_mediation", at(2025, 5, 6), org_id="社区人民调解委员会")

    # C1's windows and E1's award limit run out.
    engine.tick(at(2025, 5, 20, 0, 30))
    fire("C1", "confirm_performance", at(2025, 5, 26))
    return ids


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, int]]]:
    """The cases of the module docstring, seeded once per backend (the ``db_url`` fixture's two
    databases: a SQLite file, then a fresh PostgreSQL schema), for every test of the module."""
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'cases.db'}"
    else:
        require_postgres()
        import psycopg

        schema = f"mf_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            PG_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True
        ) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    engine = Engine(url, entry_points=False, clock=lambda: at(2025, 6, 1))
    try:
        yield engine, seed(engine)
    finally:
        engine.close()
        if schema is not None:
            import psycopg

            plain = PG_URL.replace("postgresql+psycopg", "postgresql")
            with psycopg.connect(plain, autocommit=True) as c:
                c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def report_of(engine: Engine, **filters: Any) -> Report:
    return build_report(engine._store, engine.flow, today=TODAY, **filters)


def days(d: Duration | None) -> tuple[int, float, float, float] | None:
    """A duration's figures, rounded to 1e-6 day (a tenth of a second) for comparison."""
    if d is None:
        return None
    return (d.count, round(d.median_days, 6), round(d.p90_days, 6), round(d.mean_days, 6))


def expect(count: int, median: float, p90: float, mean: float) -> tuple[int, float, float, float]:
    return (count, round(median, 6), round(p90, 6), round(mean, 6))


CHANNELS_ZERO = dict.fromkeys(
    ("intake", "negotiation", "union", "peoples", "administrative", "arbitration", "judicial"), 0
)
STAGES_ZERO = dict.fromkeys(
    (
        "negotiation",
        "union_mediation",
        "peoples_mediation",
        "administrative_mediation",
        "prefiling_mediation",
        "arbitration_mediation",
        "award",
        "judicial_mediation",
        "judgment",
        "payment_order",
        "withdrawn",
        "out_of_scope",
        "abandoned",
    ),
    0,
)
RESOLUTIONS_ZERO = dict.fromkeys(
    ("performed", "settled", "enforced", "withdrawn", "out_of_scope", "abandoned"), 0
)


def test_every_figure_of_eleven_known_cases(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = seeded
    r = report_of(engine)

    assert (r.region, r.since, r.until, r.today) == (None, None, None, TODAY)
    assert (r.cases, r.open, r.closed) == (11, 2, 9)
    assert r.open_by_state == {"peoples_mediation": 1, "arbitration": 1}  # F1, E1

    # First channel entered: A1-A3 negotiation; B1, B2, H1 union; D1, F1 people's; C1, E1
    # arbitration; G1 never left intake.
    assert r.opened_per_channel == {
        **CHANNELS_ZERO,
        "intake": 1,
        "negotiation": 3,
        "union": 3,
        "peoples": 2,
        "arbitration": 2,
    }
    # B2's agreement counts for the union although a court confirmed it; D1 ended in people's
    # mediation (withdrawn), G1 at intake (out of scope); C1 (award) and H1 (arbitration
    # mediation) in arbitration.
    assert r.closed_per_channel == {
        **CHANNELS_ZERO,
        "intake": 1,
        "negotiation": 3,
        "union": 2,
        "peoples": 1,
        "arbitration": 2,
    }
    assert r.resolutions == {**RESOLUTIONS_ZERO, "performed": 7, "withdrawn": 1, "out_of_scope": 1}
    assert r.resolved_by_stage == {
        **STAGES_ZERO,
        "negotiation": 3,
        "union_mediation": 2,
        "arbitration_mediation": 1,
        "award": 1,
        "withdrawn": 1,
        "out_of_scope": 1,
    }
    assert list(r.resolved_by_stage) == list(STAGES_ZERO)
    assert r.resolution_by_stage == {
        "negotiation": {"performed": 3},
        "union_mediation": {"performed": 2},
        "arbitration_mediation": {"performed": 1},
        "award": {"performed": 1},
        "withdrawn": {"withdrawn": 1},
        "out_of_scope": {"out_of_scope": 1},
    }
    assert r.confirmed_agreements == {"judicial_confirmation": 1, "arbitration_review": 0}
    # Negotiation (3) and union mediation (2) among the 7 resolved on the merits.
    assert (r.resolved_before_arbitration, r.resolved_on_merits) == (5, 7)
    assert r.share_resolved_before_arbitration == pytest.approx(5 / 7)

    # Spells by hand, in days (H = one hour). received: B1 waited a day, G1 an hour, the
    # other nine moved at once: sorted [0 x9, H, 1]; the median is rank 6 (0), p90 rank 10 (H).
    assert {d.key: days(d) for d in r.state_durations} == {
        "received": expect(11, 0, H, (1 + H) / 11),
        # A1 2, A2 4 (accept_negotiation does not end the spell), A3 6: p90 = 4 + 0.8 x 2.
        "negotiation": expect(3, 4, 5.6, 4),
        # A3 from 4-06 23:30 to 4-20 10:00 is 13 days 10.5 hours.
        "settlement_in_performance": expect(3, 14, 14.8, (13 + 10.5 * H + 14 + 15) / 3),
        "union_mediation": expect(3, 10, 10, 26 / 3),  # B1 6, B2 10, H1 10
        "peoples_mediation": expect(1, 4, 4, 4),  # D1; F1's spell still runs
        "mediation_failed": expect(1, 1, 1, 1),  # H1
        "agreement_in_performance": expect(2, 8.5, 3 + 0.9 * 11, 8.5),  # B2 3, B1 14
        "judicial_confirmation": expect(1, 7, 7, 7),  # B2
        "arbitration_received": expect(3, 2, 2.8, 7 / 3),  # C1 2, E1 2, H1 3
        "arbitration": expect(2, 16.5, 3 + 0.9 * 27, 16.5),  # H1 3, C1 30; E1 still there
        "arbitration_mediation": expect(1, 7, 7, 7),  # H1
        # C1: served 4-04 09:00, took effect at the tick of 5-20 00:30.
        "award_final": expect(1, 45 + 15.5 * H, 45 + 15.5 * H, 45 + 15.5 * H),
        # B2 9, C1 6 days 8.5 hours, H1 12.
        "enforceable": expect(3, 9, 9 + 0.8 * 3, (9 + 6 + 8.5 * H + 12) / 3),
    }
    assert [d.key for d in r.state_durations] == [
        "received",
        "negotiation",
        "settlement_in_performance",
        "union_mediation",
        "peoples_mediation",
        "mediation_failed",
        "agreement_in_performance",
        "judicial_confirmation",
        "arbitration_received",
        "arbitration",
        "arbitration_mediation",
        "award_final",
        "enforceable",
    ]
    # Channel spells: C1's arbitration runs from its application (3-03 09:00) through the
    # award to 5-20 00:30: 77 days 15.5 hours; H1's from 3-14 to the statement on 3-27.
    c1 = 77 + 15.5 * H
    assert {d.key: days(d) for d in r.channel_durations} == {
        "negotiation": expect(3, 4, 5.6, 4),
        "union": expect(3, 10, 10, 26 / 3),
        "peoples": expect(1, 4, 4, 4),
        "arbitration": expect(2, (13 + c1) / 2, 13 + 0.9 * (c1 - 13), (13 + c1) / 2),
        "judicial": expect(1, 7, 7, 7),  # B2's judicial confirmation
    }
    # Opening to closing: G1 H, D1 4, A1 17, A2 18, A3 19 d 10.5 h, B1 21, B2 29, H1 36, C1 84.
    closing = [H, 4, 17, 18, 19 + 10.5 * H, 21, 29, 36, 84]
    assert days(r.time_to_close) == expect(9, 19 + 10.5 * H, 36 + 0.2 * 48, sum(closing) / 9)

    assert r.deadlines == {
        "negotiation_answer": DeadlineCounts(met=3),
        "settlement_performance": DeadlineCounts(met=3),
        "mediation_limit": DeadlineCounts(met=2, cancelled=2, pending=1),
        "mediation_acceptance": DeadlineCounts(met=1),  # B2: an enterprise committee
        "agreement_performance": DeadlineCounts(met=1, cancelled=1),
        "arbitration_review_window": DeadlineCounts(cancelled=2),
        "judicial_confirmation_window": DeadlineCounts(met=1, cancelled=1),
        "confirmation_decision": DeadlineCounts(met=1),
        "arbitration_acceptance": DeadlineCounts(met=3),
        "defence_due": DeadlineCounts(expired=2, cancelled=1),
        "award_limit": DeadlineCounts(met=2, expired=1),
        "suit_window": DeadlineCounts(expired=1),
        "revocation_window": DeadlineCounts(expired=1),
        "enforcement_window": DeadlineCounts(cancelled=3),
    }
    assert list(r.deadlines)[:3] == [
        "negotiation_answer",
        "settlement_performance",
        "mediation_limit",
    ]
    assert r.deadlines["award_limit"].met_share == pytest.approx(2 / 3)
    assert r.deadlines["arbitration_review_window"].met_share is None

    # E1: 45 days from acceptance on 3-05 end on Saturday 4-19, so on Monday 4-21; no award
    # since. F1: people's mediation from 5-06, 15 days to 5-21, not yet ticked. E1's expired
    # defence_due is a window, not an overdue act.
    assert r.overdue_total == 2
    assert r.overdue == (
        OverdueItem(
            deadline_id=r.overdue[0].deadline_id,
            case_id=ids["E1"],
            region="430102",
            state="arbitration",
            kind="award_limit",
            party=None,
            status="expired",
            due=date(2025, 4, 21),
            days_overdue=41,
        ),
        OverdueItem(
            deadline_id=r.overdue[1].deadline_id,
            case_id=ids["F1"],
            region="430102",
            state="peoples_mediation",
            kind="mediation_limit",
            party=None,
            status="pending",
            due=date(2025, 5, 21),
            days_overdue=11,
        ),
    )
    ids_of = {d.id: d.kind for name in ("E1", "F1") for d in engine.deadlines(ids[name])}
    assert [ids_of[o.deadline_id] for o in r.overdue] == ["award_limit", "mediation_limit"]

    assert r.movements == (
        Movement("intake", "negotiation", 3),
        Movement("intake", "union", 3),
        Movement("intake", "peoples", 2),
        Movement("intake", "arbitration", 2),
        Movement("intake", "closed", 1),
        Movement("negotiation", "closed", 3),
        Movement("union", "arbitration", 1),  # H1
        Movement("union", "judicial", 1),  # B2's confirmation
        Movement("union", "closed", 1),  # B1
        Movement("peoples", "closed", 1),  # D1
        Movement("arbitration", "closed", 2),
        Movement("judicial", "closed", 1),
    )
    # A3 opened at 23:30 on 3-31 and G1 at 07:00 on 4-01, in China.
    assert r.per_month == (
        MonthCount(
            "2025-03",
            {**CHANNELS_ZERO, "negotiation": 3, "union": 3, "peoples": 1, "arbitration": 2},
            4,  # A1, A2, B1, D1
        ),
        MonthCount("2025-04", {**CHANNELS_ZERO, "intake": 1}, 4),  # A3, B2, G1, H1
        MonthCount("2025-05", {**CHANNELS_ZERO, "peoples": 1}, 1),  # C1
    )
    assert r.label("stage", "union_mediation") == "工会调解"
    assert r.label("state", "award_final") == "终局裁决已作出"
    assert r.label("deadline", "award_limit") == "仲裁审理期限"


def test_a_region_prefix_selects_the_cases_of_its_divisions(
    seeded: tuple[Engine, dict[str, int]],
) -> None:
    engine, _ids = seeded
    furong = report_of(engine, region="430102")  # A3 (430111) and G1 (510302) left out
    assert (furong.cases, furong.closed) == (9, 7)
    assert furong.opened_per_channel == {
        **CHANNELS_ZERO,
        "negotiation": 2,
        "union": 3,
        "peoples": 2,
        "arbitration": 2,
    }
    assert furong.resolved_by_stage["negotiation"] == 2
    assert furong.resolved_by_stage["out_of_scope"] == 0
    assert (furong.resolved_before_arbitration, furong.resolved_on_merits) == (4, 6)
    assert furong.time_to_close is not None and furong.time_to_close.count == 7
    assert [(m.month, sum(m.opened.values()), m.closed) for m in furong.per_month] == [
        ("2025-03", 8, 4),
        ("2025-04", 0, 2),  # B2, H1
        ("2025-05", 1, 1),
    ]
    assert furong.overdue_total == 2

    assert report_of(engine, region="43").cases == 10  # Hunan: all but G1 (Sichuan)
    changsha = report_of(engine, region="4301")
    assert (changsha.cases, changsha.closed) == (10, 8)
    assert changsha.resolved_by_stage["negotiation"] == 3

    zigong = report_of(engine, region="510302")
    assert (zigong.cases, zigong.closed, zigong.open) == (1, 1, 0)
    assert zigong.opened_per_channel["intake"] == 1
    assert zigong.closed_per_channel["intake"] == 1
    assert zigong.resolved_by_stage["out_of_scope"] == 1
    assert zigong.share_resolved_before_arbitration is None  # nothing resolved on the merits
    assert zigong.deadlines == {}
    assert zigong.overdue == ()

    assert report_of(engine, region="11").cases == 0
    assert report_of(engine, region="4309").cases == 0  # the range ends at "431"
    assert report_of(engine, region="9").cases == 0  # no upper bound


def test_since_and_until_are_days_in_china(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = seeded
    # G1 opened at 07:00 on 4-01 in China (23:00 on 3-31 UTC): April.
    april_on = report_of(engine, since=date(2025, 4, 1))
    assert (april_on.cases, april_on.closed) == (2, 1)  # G1 and F1
    assert april_on.opened_per_channel == {**CHANNELS_ZERO, "intake": 1, "peoples": 1}
    assert [
        (m.month, m.opened["intake"], m.opened["peoples"], m.closed) for m in april_on.per_month
    ] == [("2025-04", 1, 0, 1), ("2025-05", 0, 1, 0)]
    assert [o.case_id for o in april_on.overdue] == [ids["F1"]]
    assert april_on.since == date(2025, 4, 1)

    march = report_of(engine, until=date(2025, 3, 31))  # A3 (23:30 on 3-31) is in
    assert (march.cases, march.closed) == (9, 8)
    assert march.resolved_by_stage["negotiation"] == 3
    assert march.resolved_by_stage["out_of_scope"] == 0

    one_day = report_of(engine, since=date(2025, 3, 4), until=date(2025, 3, 4))
    assert one_day.cases == 1  # B2
    assert one_day.confirmed_agreements["judicial_confirmation"] == 1
    assert one_day.movements == (
        Movement("intake", "union", 1),
        Movement("union", "judicial", 1),
        Movement("judicial", "closed", 1),
    )

    with pytest.raises(ValueError, match="after until"):
        report_of(engine, since=date(2025, 4, 2), until=date(2025, 4, 1))


def test_a_connection_in_the_callers_transaction_gives_the_same_report(
    seeded: tuple[Engine, dict[str, int]],
) -> None:
    engine, _ids = seeded
    store: Store = engine._store
    with store.connect() as conn, store.reading(conn):
        from_connection = build_report(conn, [engine.flow], today=TODAY)
    assert from_connection == report_of(engine)


def test_csv_holds_every_figure(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = seeded
    r = report_of(engine)
    rows = list(csv.DictReader(io.StringIO(to_csv(r))))
    assert list(rows[0]) == ["section", "key", "subkey", "metric", "value", "label_zh"]

    def section(name: str) -> dict[str, str]:
        return {row["key"]: row["value"] for row in rows if row["section"] == name}

    for name in ("opened_per_channel", "closed_per_channel", "resolutions", "resolved_by_stage"):
        assert section(name) == {k: str(v) for k, v in getattr(r, name).items()}, name
    assert section("cases") == {"total": "11", "open": "2", "closed": "9"}
    assert section("before_arbitration") == {
        "resolved_before_arbitration": "5",
        "resolved_on_merits": "7",
        "share_resolved_before_arbitration": str(5 / 7),
    }
    durations = {
        (row["key"], row["metric"]): float(row["value"])
        for row in rows
        if row["section"] == "state_durations"
    }
    assert durations[("negotiation", "p90_days")] == pytest.approx(5.6)
    assert durations[("arbitration", "median_days")] == pytest.approx(16.5)
    assert len(durations) == 4 * len(r.state_durations)
    deadlines = {
        (row["key"], row["subkey"]): int(row["value"])
        for row in rows
        if row["section"] == "deadlines"
    }
    assert deadlines[("award_limit", "expired")] == 1
    assert deadlines[("mediation_limit", "pending")] == 1
    assert sum(deadlines.values()) == sum(c.total for c in r.deadlines.values())
    overdue = {
        row["metric"]: row["value"]
        for row in rows
        if row["section"] == "overdue" and row["key"] == str(ids["E1"])
    }
    assert overdue["days_overdue"] == "41"
    assert overdue["due"] == "2025-04-21"
    assert overdue["status"] == "expired"
    moves = {
        (row["key"], row["subkey"]): int(row["value"])
        for row in rows
        if row["section"] == "movements"
    }
    assert moves == {(m.source, m.dest): m.count for m in r.movements}
    assert {
        (row["key"], row["subkey"]): row["value"]
        for row in rows
        if row["section"] == "opened_per_month" and row["value"] != "0"
    } == {
        ("2025-03", "negotiation"): "3",
        ("2025-03", "union"): "3",
        ("2025-03", "peoples"): "1",
        ("2025-03", "arbitration"): "2",
        ("2025-04", "intake"): "1",
        ("2025-05", "peoples"): "1",
    }
    assert section("closed_per_month") == {"2025-03": "4", "2025-04": "4", "2025-05": "1"}
    labels = {(row["section"], row["key"]): row["label_zh"] for row in rows}
    assert labels[("resolved_by_stage", "award")] == "仲裁裁决"
    assert labels[("opened_per_channel", "union")] == "工会调解"


def test_json_round_trips_with_stable_keys(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, _ids = seeded
    r = report_of(engine)
    text = to_json(r)
    assert report_from_json(text) == r
    data = json.loads(text)
    assert list(data)[:8] == [
        "region",
        "since",
        "until",
        "today",
        "cases",
        "open",
        "closed",
        "open_by_state",
    ]
    assert data["today"] == "2025-06-01"
    assert data["opened_per_channel"]["union"] == 3
    assert data["movements"][0] == {"source": "intake", "dest": "negotiation", "count": 3}
    assert data["overdue"][0]["due"] == "2025-04-21"
    assert data["labels"]["channel"]["union"] == ["工会调解", "union mediation"]
    filtered = report_of(engine, region="4301", since=date(2025, 3, 1), until=date(2025, 3, 31))
    assert report_from_json(to_json(filtered)) == filtered


def test_html_is_one_offline_page_with_the_charts(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, _ids = seeded
    page = to_html(report_of(engine))
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    for external in ("<script", "<link", "<img", "<iframe", "@import", "url("):
        assert external not in page
    assert page.count("<svg") == 5  # flow diagram, channels, stages, months, durations
    assert "案件流转图 movements of cases between channels" in page
    for label in ("工会调解", "union mediation", "仲裁裁决", "按月受理与结案", "仲裁审理期限"):
        assert label in page
    assert "71.4%" in page  # resolved before arbitration
    assert "2025-04-21" in page  # E1's overdue award limit
    # Band widths follow the movements: union -> arbitration (H1) and union -> courts (B2).
    assert "工会调解 → 仲裁: 1" in page
    assert "工会调解 → 司法: 1" in page


def test_html_and_table_escape_and_align(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = seeded
    r = report_of(engine)
    labels = {**r.labels, "state": {**r.labels["state"], "arbitration": ("<b>&仲裁", "x")}}
    hostile = Report(**{**r.__dict__, "labels": labels, "region": "<script>"})
    page = to_html(hostile)
    assert "<b>&" not in page and "&lt;b&gt;&amp;仲裁" in page
    assert "<script>" not in page

    table = to_table(r)
    assert "仲裁前化解率 resolved before arbitration: 71.4%（5/7 件实体结案）" in table
    assert "受理至结案 time to close: 9 件，中位数 19.4 天，P90 45.6 天，平均 25.4 天" in table
    deadline_block = table.split("四、")[1].split("\n\n")[0].splitlines()[1:]
    widths = {_display_width(line) for line in deadline_block}
    assert len(widths) == 1, deadline_block  # CJK labels count two columns
    assert re.search(
        r"^\s*" + str(ids["E1"]) + r"\s+430102\s+仲裁审理中\s+仲裁审理期限.*41$", table, re.M
    )


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_an_empty_database_gives_an_empty_report(tmp_path: Any) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'empty.db'}", entry_points=False)
    try:
        r = report_of(engine)
    finally:
        engine.close()
    assert (r.cases, r.open, r.closed) == (0, 0, 0)
    assert r.opened_per_channel == CHANNELS_ZERO
    assert r.share_resolved_before_arbitration is None
    assert r.state_durations == () and r.time_to_close is None
    assert r.per_month == () and r.movements == () and r.deadlines == {}
    assert report_from_json(to_json(r)) == r
    assert "<svg" in to_html(r)
    assert "案件 0 件" in to_table(r)
    assert to_csv(r).startswith("section,key,subkey,metric,value,label_zh")


def test_stages_agree_with_the_demo_s_own_count(tmp_path: Any) -> None:
    """Every path of the demo, stage by stage, against ``demo._resolved_at`` (an independent
    reading of the same histories). The demo credits arbitration review to arbitration
    mediation and judicial confirmation to itself; the report credits both to the mediation
    that reached the agreement and counts them in ``confirmed_agreements``."""
    from mediation_flow.demo import run_demo

    engine = Engine(
        f"sqlite:///{tmp_path / 'demo.db'}", entry_points=False, clock=lambda: at(2025, 1, 6)
    )
    try:
        demo = run_demo(engine, cases=90, seed=7)
        r = build_report(engine._store, engine.flow, today=date(2026, 6, 1))
    finally:
        engine.close()
    assert not demo.errors
    seen = demo.resolved_at
    stage = r.resolved_by_stage
    confirmed = r.confirmed_agreements
    assert r.closed == demo.final_states["closed"] + demo.final_states["archived"]
    assert stage["negotiation"] == seen["协商和解"]
    assert stage["arbitration_mediation"] + confirmed["arbitration_review"] == seen["仲裁调解"]
    mediation = sum(
        stage[s]
        for s in (
            "union_mediation",
            "peoples_mediation",
            "administrative_mediation",
            "prefiling_mediation",
        )
    )
    assert mediation == (
        seen["工会调解"]
        + seen["人民调解"]
        + seen["行政调解"]
        + seen["诉前调解"]
        + seen["司法确认"]
        + confirmed["arbitration_review"]
    )
    assert confirmed["judicial_confirmation"] == seen["司法确认"]
    assert stage["award"] == seen["仲裁裁决"] + seen["仲裁裁决（撤诉后生效）"]
    assert stage["judicial_mediation"] == seen["司法调解"]
    assert stage["judgment"] == seen["判决"]
    assert stage["payment_order"] == seen["支付令"]
    assert stage["withdrawn"] == seen["撤回"]
    assert stage["out_of_scope"] == seen["不予受理（非劳动争议）"]
    assert sum(r.opened_per_channel.values()) == r.cases == demo.cases
    assert sum(r.closed_per_channel.values()) == r.closed
