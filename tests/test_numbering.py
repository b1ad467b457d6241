"""Case numbers (案号) and serials: issued at the transition that opens an organisation's file,
unique and gap-free per (prefix, year) on SQLite and PostgreSQL, also with two processes issuing
at once; a failed command gives its number back; a case keeps every number it was given."""

from __future__ import annotations

import multiprocessing
import re
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from mediation_flow import (
    Engine,
    FlowDefinitionError,
    InvalidData,
    NumberingRule,
    PluginError,
    hookimpl,
    retry_on_conflict,
)
from mediation_flow.numbering import new_serial, normalise_reference
from mediation_flow.storage.repository import case_numbers
from tests.conftest import at, make_intake


def to_arbitration_received(engine: Engine, n: int, when: Any = None) -> list[int]:
    when = when or at(2025, 3, 3)
    ids = []
    for _ in range(n):
        case = engine.open_case(make_intake(), at=when)
        engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=when)
        ids.append(case.id)
    return ids


def test_accepting_an_arbitration_issues_the_commissions_number() -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        first, second = to_arbitration_received(engine, 2)
        case = engine.fire(first, "accept_arbitration", at=at(2025, 3, 5))
        assert case.number("arbitration") == "湘430102劳人仲案字〔2025〕第1号"
        assert [n.label for n in case.numbers] == ["仲裁案号"]
        event = engine.history(first)[-1]
        recorded = event.data["case_number"]
        assert (recorded["key"], recorded["number"], recorded["seq"], recorded["year"]) == (
            "arbitration",
            "湘430102劳人仲案字〔2025〕第1号",
            1,
            2025,
        )
        later = engine.fire(second, "accept_arbitration", at=at(2025, 3, 6))
        assert later.number("arbitration") == "湘430102劳人仲案字〔2025〕第2号"
        assert engine.verify(first).ok and engine.verify(second).ok


def test_numbers_restart_each_year_and_courts_use_their_own_form() -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        (old,) = to_arbitration_received(engine, 1, at(2025, 12, 29))
        assert engine.fire(old, "accept_arbitration", at=at(2025, 12, 30)).number(
            "arbitration"
        ) == ("湘430102劳人仲案字〔2025〕第1号")
        (new,) = to_arbitration_received(engine, 1, at(2026, 1, 5))
        assert engine.fire(new, "accept_arbitration", at=at(2026, 1, 6)).number("arbitration") == (
            "湘430102劳人仲案字〔2026〕第1号"
        )
        wage_iou = engine.open_case(make_intake(), at=at(2026, 1, 7))
        sued = engine.fire(wage_iou.id, "file_lawsuit", data={"wage_iou": True}, at=at(2026, 1, 7))
        assert sued.number("court_first_instance") == "（2026）湘0102民初1号"


def test_a_case_keeps_every_number_and_a_second_referral_keeps_the_first() -> None:
    with Engine("sqlite://", entry_points=False, clock=lambda: at(2025, 3, 3, 10)) as engine:
        case = engine.open_case(make_intake(), at=at(2025, 3, 3))
        engine.fire(case.id, "refer_to_peoples_mediation", data={"org_id": "芙蓉区调委会"})
        engine.fire(case.id, "refer_to_union_mediation", data={"org_id": "区总工会"})
        c = engine.fire(case.id, "refer_to_peoples_mediation", data={"org_id": "芙蓉区调委会"})
        assert [(n.key, n.number) for n in c.numbers] == [
            ("peoples_mediation", "湘430102人调字〔2025〕第1号"),
            ("union_mediation", "湘430102工调字〔2025〕第1号"),
        ]
        c = engine.fire(case.id, "fail_mediation", data={"reason": "no_agreement"})
        c = engine.fire(case.id, "apply_arbitration", data={"by": "worker"})
        c = engine.fire(case.id, "accept_arbitration")
        assert [n.key for n in c.numbers] == ["peoples_mediation", "union_mediation", "arbitration"]


def test_a_deployment_names_its_commissions_prefixes() -> None:
    rules = [
        NumberingRule(
            "peoples_mediation",
            "人民调解案号",
            ("refer_to_peoples_mediation",),
            "{province}{county}人调字",
            prefixes={"芙蓉区人民调解委员会": "芙人调字"},
        ),
        NumberingRule("arbitration", "仲裁案号", ("accept_arbitration",), "长劳人仲案字"),
    ]
    with Engine(
        "sqlite://", entry_points=False, numbering=rules, clock=lambda: at(2025, 3, 3, 10)
    ) as engine:
        a = engine.open_case(make_intake(), at=at(2025, 3, 3))
        b = engine.open_case(make_intake(), at=at(2025, 3, 3))
        a2 = engine.fire(
            a.id, "refer_to_peoples_mediation", data={"org_id": "芙蓉区人民调解委员会"}
        )
        b2 = engine.fire(b.id, "refer_to_peoples_mediation", data={"org_id": "街道调委会"})
        assert a2.number("peoples_mediation") == "芙人调字〔2025〕第1号"
        assert b2.number("peoples_mediation") == "湘0102人调字〔2025〕第1号"


def test_a_host_that_numbers_cases_itself_turns_the_national_rules_off() -> None:
    mine = NumberingRule("arbitration", "仲裁案号", ("accept_arbitration",), "长劳人仲案字")
    with Engine("sqlite://", entry_points=False, national_numbering=False) as engine:
        (case_id,) = to_arbitration_received(engine, 1)
        assert engine.fire(case_id, "accept_arbitration", at=at(2025, 3, 5)).numbers == ()
    with Engine(
        "sqlite://", entry_points=False, national_numbering=False, numbering=[mine]
    ) as engine:
        case = engine.open_case(make_intake(), at=at(2025, 3, 3))
        referred = engine.fire(
            case.id, "refer_to_peoples_mediation", data={"org_id": "调委会"}, at=at(2025, 3, 3)
        )
        assert referred.numbers == ()
        (case_id,) = to_arbitration_received(engine, 1)
        assert engine.fire(case_id, "accept_arbitration", at=at(2025, 3, 5)).number(
            "arbitration"
        ) == ("长劳人仲案字〔2025〕第1号")


def test_each_organisation_with_its_own_prefix_numbers_the_case_once() -> None:
    """A case referred from one people's mediation committee to another is numbered by each;
    referred back, it keeps the first committee's number."""
    rule = NumberingRule(
        "peoples_mediation",
        "人民调解案号",
        ("refer_to_peoples_mediation",),
        "{province}{county}人调字",
        prefixes={"东湖街道调委会": "东人调字", "芙蓉区医调委": "芙医调字"},
    )
    with Engine(
        "sqlite://", entry_points=False, numbering=[rule], clock=lambda: at(2025, 3, 3, 10)
    ) as engine:
        case = engine.open_case(make_intake(), at=at(2025, 3, 3))
        engine.fire(case.id, "refer_to_peoples_mediation", data={"org_id": "东湖街道调委会"})
        engine.fire(case.id, "fail_mediation", data={"reason": "no_agreement"})
        c = engine.fire(case.id, "refer_to_peoples_mediation", data={"org_id": "芙蓉区医调委"})
        assert [n.number for n in c.numbers] == ["东人调字〔2025〕第1号", "芙医调字〔2025〕第1号"]
        assert c.number("peoples_mediation") == "芙医调字〔2025〕第1号"
        engine.fire(case.id, "fail_mediation", data={"reason": "no_agreement"})
        c = engine.fire(case.id, "refer_to_peoples_mediation", data={"org_id": "东湖街道调委会"})
        assert len(c.numbers) == 2


def test_a_rule_by_organisation_needs_a_transition_that_names_one() -> None:
    by_org = NumberingRule("arbitration", "仲裁案号", ("accept_arbitration",), "{org}仲案字")
    with pytest.raises(FlowDefinitionError, match="records no org_id"):
        Engine("sqlite://", entry_points=False, numbering=[by_org])


def test_bad_rules_are_refused_when_the_engine_starts() -> None:
    typo = NumberingRule("arbitration", "仲裁案号", ("accept_arbitraton",), "劳人仲案字")
    with pytest.raises(FlowDefinitionError, match="accept_arbitraton"):
        Engine("sqlite://", entry_points=False, numbering=[typo])
    twice = NumberingRule("mine", "案号", ("accept_arbitration",), "X")
    with pytest.raises(FlowDefinitionError, match="both number at 'accept_arbitration'"):
        Engine("sqlite://", entry_points=False, numbering=[twice])
    with pytest.raises(FlowDefinitionError, match="must use exactly"):
        NumberingRule("x", "案号", ("accept_arbitration",), "X", pattern="{prefix}第{seq}号")
    with pytest.raises(FlowDefinitionError, match="may use"):
        NumberingRule("x", "案号", ("accept_arbitration",), "{district}仲")
    with pytest.raises(FlowDefinitionError, match="non-empty tuple"):
        NumberingRule("x", "案号", "accept_arbitration", "X")  # type: ignore[arg-type]


class BrokenPlugin:
    name = "broken-numbering"
    regions = ("43",)

    @hookimpl
    def numbering_rules(self, region: str) -> Any:
        return [NumberingRule("arbitration", "仲裁案号", ("no_such_trigger",), "X")]


def test_a_plugins_rule_naming_an_unknown_trigger_is_refused_at_start_up() -> None:
    with Engine("sqlite://", entry_points=False, plugins=[BrokenPlugin()]) as engine:
        (info,) = engine.plugins
        assert "no_such_trigger" in (info.refused or "")
        with pytest.raises(PluginError, match="no_such_trigger"):
            engine.flow_for("430102")  # its regions stop; the others run
        assert engine.flow_for("110105").plugins == ()


class HunanNumbering:
    name = "hunan-numbering"
    regions = ("4301",)

    @hookimpl
    def numbering_rules(self, region: str) -> Any:
        return [NumberingRule("arbitration", "仲裁案号", ("accept_arbitration",), "长劳人仲案字")]


def test_a_plugin_numbers_its_regions_and_the_deployment_overrides_it() -> None:
    with Engine(
        "sqlite://", entry_points=False, plugins=[HunanNumbering()], clock=lambda: at(2025, 3, 4)
    ) as engine:
        (case_id,) = to_arbitration_received(engine, 1)
        assert engine.fire(case_id, "accept_arbitration").number("arbitration") == (
            "长劳人仲案字〔2025〕第1号"
        )
    mine = NumberingRule("arbitration", "仲裁案号", ("accept_arbitration",), "省仲案字")
    with Engine(
        "sqlite://",
        entry_points=False,
        plugins=[HunanNumbering()],
        numbering=[mine],
        clock=lambda: at(2025, 3, 4),
    ) as engine:
        (case_id,) = to_arbitration_received(engine, 1)
        assert engine.fire(case_id, "accept_arbitration").number("arbitration") == (
            "省仲案字〔2025〕第1号"
        )


class FailsOnce:
    """Fails the first accept_arbitration inside its transaction (after the number was drawn)."""

    name = "fails-once"
    regions = ()

    def __init__(self) -> None:
        self.failed = False

    @hookimpl
    def in_transaction(self, ctx: Any, event: Any, connection: Any) -> None:
        if event.trigger == "accept_arbitration" and not self.failed:
            self.failed = True
            raise RuntimeError("the host's own table refused the write")


def test_a_failed_command_gives_its_number_back(db_url: str) -> None:
    with Engine(db_url, entry_points=False, plugins=[FailsOnce()]) as engine:
        first, second = to_arbitration_received(engine, 2)
        with pytest.raises(Exception, match="refused the write"):
            engine.fire(first, "accept_arbitration", at=at(2025, 3, 5))
        assert engine.get(first).state == "arbitration_received"
        assert engine.get(first).numbers == ()
        assert engine.fire(second, "accept_arbitration", at=at(2025, 3, 5)).number(
            "arbitration"
        ) == ("湘430102劳人仲案字〔2025〕第1号")
        assert engine.fire(first, "accept_arbitration", at=at(2025, 3, 5)).number(
            "arbitration"
        ) == ("湘430102劳人仲案字〔2025〕第2号")


class SlowCommit:
    """Holds every transaction open a little, so that concurrent issuers overlap."""

    name = "slow-commit"
    regions = ()

    @hookimpl
    def in_transaction(self, ctx: Any, event: Any, connection: Any) -> None:
        time.sleep(0.01)


def accept_worker(url: str, case_ids: list[int], ready: Any, go: Any, results: Any) -> None:
    with Engine(url, entry_points=False, create_schema=False, plugins=[SlowCommit()]) as engine:
        ready.set()
        go.wait(timeout=60)
        numbers = []
        for case_id in case_ids:
            case = retry_on_conflict(
                lambda cid=case_id: engine.fire(cid, "accept_arbitration", at=at(2025, 3, 5)),
                attempts=10,
            )
            numbers.append(case.number("arbitration"))
        results.put(numbers)


def test_two_processes_issuing_at_once_get_no_duplicate_and_no_gap(db_url: str) -> None:
    with Engine(db_url, entry_points=False) as engine:
        ids = to_arbitration_received(engine, 30)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    go = ctx.Event()
    readies = [ctx.Event(), ctx.Event()]
    halves = [ids[0::2], ids[1::2]]
    procs = [
        ctx.Process(target=accept_worker, args=(db_url, half, ready, go, results))
        for half, ready in zip(halves, readies, strict=True)
    ]
    for p in procs:
        p.start()
    for ready in readies:
        assert ready.wait(timeout=60)
    go.set()
    numbers = [n for _ in procs for n in results.get(timeout=180)]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    seqs = sorted(int(re.search(r"第(\d+)号", n).group(1)) for n in numbers)  # type: ignore[union-attr]
    assert seqs == list(range(1, 31))
    with Engine(db_url, entry_points=False, create_schema=False) as engine:
        with engine._store.connect() as conn:
            stored = conn.execute(select(case_numbers.c.seq)).scalars().all()
        assert sorted(stored) == list(range(1, 31))
        assert engine.verify_all() == []


def test_every_case_gets_a_serial_that_finds_it() -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        a = engine.open_case(make_intake(), at=at(2025, 3, 3))
        b = engine.open_case(make_intake(), at=at(2025, 3, 3))
        assert re.fullmatch(r"430102-250303-[0-9A-HJKMNP-TV-Z]{8}", a.serial)
        assert a.serial != b.serial
        assert engine.history(a.id)[0].data["serial"] == a.serial


@given(st.dates(), st.lists(st.sampled_from(["", " ", "-"]), min_size=3, max_size=3))
def test_a_serial_typed_sloppily_still_reads(day: Any, seps: list[str]) -> None:
    serial = new_serial("430102", day)
    region, opened, tail = serial.split("-")
    typed = f" {region}{seps[0]}{opened}{seps[1]}{tail.lower()}{seps[2]}"
    typed = typed.replace("0", "o")
    assert normalise_reference(typed) == serial
    assert normalise_reference("湘430102劳人仲案字〔2025〕第1号") is None


def test_an_organisation_continues_its_numbering_and_never_goes_back(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from mediation_flow.cli import main

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with Engine(url, entry_points=False) as engine:
        (first,) = to_arbitration_received(engine, 1)
    prefix = "湘430102劳人仲案字"
    result = CliRunner().invoke(main, ["--db", url, "numbers", "advance", prefix, "2025", "122"])
    assert result.exit_code == 0, result.output
    assert "the next number is 123" in result.output
    lower = CliRunner().invoke(main, ["--db", url, "numbers", "advance", prefix, "2025", "5"])
    assert "numbers up to 122 were issued already; the next is 123" in lower.output
    with Engine(url, entry_points=False) as engine:
        assert engine.advance_numbering(prefix, 2025, to=7) == 122  # lower: no effect
        case = engine.fire(first, "accept_arbitration", at=at(2025, 3, 5))
        assert case.number("arbitration") == "湘430102劳人仲案字〔2025〕第123号"
        with pytest.raises(InvalidData, match="expected a count"):
            engine.advance_numbering(prefix, 2025, to=-1)
