"""Fuzzing the public commands: random Unicode, control characters, huge and deep inputs raise
only ``MediationFlowError`` subclasses (never a raw ``RecursionError``, ``TypeError`` or driver
error), and a refused command writes nothing. Plus the personal-data and input-limit rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mediation_flow import (
    Actor,
    Engine,
    InvalidActor,
    InvalidData,
    InvalidIntake,
    MediationFlowError,
    Role,
)
from mediation_flow.errors import StorageError
from mediation_flow.personal_data import mask_text
from mediation_flow.reports import to_csv
from mediation_flow.storage.repository import cases, events
from mediation_flow.storage.tables import LedgerRow
from mediation_flow.testing import make_engine
from tests.conftest import at, make_intake

DAY = at(2025, 3, 3)
ZHANG_ID = "430102199001011238"
ledger = LedgerRow.__table__  # type: ignore[attr-defined]


class _Deep(dict):  # type: ignore[type-arg]
    """A deeply nested mapping whose repr stays short (for hypothesis's reports)."""

    def __repr__(self) -> str:
        return "<deeply nested mapping>"


class _Huge(str):
    def __repr__(self) -> str:
        return f"<{len(self)} characters>"


def deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = _Deep(k=value)
    return value


HUGE = _Huge("长" * 5_000_000)
weird_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "张三\x00",
            "张三[/]",
            "[bold]x",
            "430102\n",
            "４３０１０２",
            "٤٣٠١٠٢",
            "\u202e\u200b",
            '=HYPERLINK("http://x")',
            "\ud800",
            "a" * 300,
        ]
    ),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), weird_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(weird_text, inner, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.one_of(
    json_values,
    st.just(HUGE),
    st.just(deep(5000)),
    st.just(_Deep(note=HUGE)),
    st.just(_Deep(k=_Huge("x" * 20_000_000))),
)


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine._store.connect() as conn, engine._store.reading(conn):
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (cases, events, ledger)
        )


@pytest.fixture(scope="module")
def engine() -> Any:
    eng = make_engine(at="2025-03-03")
    eng.open_case(make_intake(), at=DAY)
    yield eng
    eng.close()


def attempt(engine: Engine, command: Any) -> None:
    before = counts(engine)
    try:
        command()
    except MediationFlowError:
        assert counts(engine) == before  # a refused command writes nothing
    except Exception as exc:  # pragma: no cover - the failure this test looks for
        pytest.fail(f"{type(exc).__name__} escaped: {str(exc)[:200]}")


FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(trigger=st.one_of(weird_text, st.sampled_from(["withdraw", "apply_arbitration"])),
       data=payloads)  # fmt: skip
def test_fire_with_random_data(engine: Engine, trigger: Any, data: Any) -> None:
    attempt(engine, lambda: engine.fire(1, trigger, data=data, at=DAY))
    attempt(engine, lambda: engine.fire(1, trigger, data=data, at=DAY, idempotency_key="k"))


@FUZZ
@given(field=st.sampled_from(["name", "id_number", "phone", "account", "region", "attributes",
                              "claims", "parties", "worker_count", "received_on"]),
       value=payloads)  # fmt: skip
def test_open_case_with_random_intake(engine: Engine, field: str, value: Any) -> None:
    intake = make_intake()
    if field in ("name", "id_number", "phone", "account"):
        intake["parties"][0][field] = value
    else:
        intake[field] = value
    attempt(engine, lambda: engine.open_case(intake, at=DAY))


@FUZZ
@given(value=payloads)
def test_reads_and_lookups_with_random_input(engine: Engine, value: Any) -> None:
    try:
        text = value if isinstance(value, str) else json.dumps(value)
    except (RecursionError, ValueError):
        text = "[" * 100_000  # the same depth, as a package file's text
    for command in (
        lambda: engine.get(value),
        lambda: engine.history(value),
        lambda: engine.export(value),
        lambda: engine.lookup(value),
        lambda: engine.report(region=value, at=DAY),
        lambda: engine.triggers(value, at=DAY),
        lambda: engine.verify(value),
        lambda: engine.advance_numbering(value, 2025, to=1),
        lambda: engine.import_handoff(value),
        lambda: engine.import_handoff(text),
        lambda: engine.import_handoff(text.encode("utf-8", "surrogatepass")),
    ):
        attempt(engine, command)


#: Texts no database stores: a lone surrogate (from broken decoding), a NUL, both.
UNSTORABLE = ["\ud800", "\udfff", "A\ud83d", "x\x00", "\x00\udc80"]


@pytest.mark.parametrize("text", UNSTORABLE)
def test_unstorable_text_is_refused_by_every_command_that_takes_text(
    engine: Engine, text: str
) -> None:
    """Found by the fuzz test: a lone surrogate reached the database as a raw
    UnicodeEncodeError from lookup and advance_numbering."""
    case = engine.open_case(make_intake(), at=DAY)
    for command in (
        lambda: engine.lookup(text),
        lambda: engine.advance_numbering(text, 2025, to=1),
        lambda: engine.open_case(make_intake(region=text), at=DAY),
        lambda: engine.fire(case.id, text, at=DAY),
        lambda: engine.fire(case.id, "refer_to_negotiation", data={"note": text}, at=DAY),
        lambda: engine.report(region=text, at=DAY),
        lambda: engine.export_handoff(case.id, to_org=text, from_org="A", at=DAY),
        lambda: engine.import_handoff(text),
    ):
        attempt(engine, command)


def test_a_text_the_driver_cannot_encode_is_a_storage_error_at_any_depth(db_url: str) -> None:
    """The net under the commands' own checks: a lone surrogate reaching a statement is a
    StorageError (no value in its message), on SQLite and PostgreSQL."""
    with make_engine(url=db_url) as eng:
        store = eng._store
        for call in (
            lambda c: store.case_by_serial(c, "\ud800"),
            lambda c: store.case_by_reference(c, serial=None, numbers=["A\udfff"]),
        ):
            with pytest.raises(StorageError) as info, store.connect() as conn, store.reading(conn):
                call(conn)
            assert "ud800" not in str(info.value) and "udfff" not in str(info.value)


@FUZZ
@given(id_=weird_text, role=weird_text, org=st.one_of(st.none(), weird_text),
       region=st.one_of(st.none(), weird_text))  # fmt: skip
def test_actors_from_random_input_are_checked(id_: str, role: str, org: Any, region: Any) -> None:
    try:
        actor = Actor(id_, role, org_id=org, region=region)  # type: ignore[arg-type]
    except InvalidActor:
        return
    assert actor.role is not Role.system
    assert actor.region is None or (actor.region.isascii() and actor.region.isdigit())


def test_the_reported_inputs_are_refused_with_the_field_and_the_limit(engine: Engine) -> None:
    case_id = engine.open_case(make_intake(), at=DAY).id
    with pytest.raises(InvalidData, match=r"data: is larger than 64 KiB"):
        engine.fire(case_id, "refer_to_negotiation", data={"note": "x" * 5_000_000}, at=DAY)
    with pytest.raises(InvalidData, match=r"note: longer than 10000 characters"):
        engine.fire(case_id, "refer_to_negotiation", data={"note": "x" * 20_000}, at=DAY)
    with pytest.raises(InvalidIntake, match=r"attributes: .*larger than 64 KiB"):
        engine.open_case(make_intake(attributes={"k": "x" * 20_000_000}), at=DAY)
    with pytest.raises(InvalidIntake, match=r"attributes: .*nested more than 16"):
        engine.open_case(make_intake(attributes=deep(5000)), at=DAY)
    with pytest.raises(InvalidData, match="nested more than 16"):
        engine.fire(case_id, "refer_to_negotiation", data=deep(5000), at=DAY)
    for region in ("430102\n", "４３０１０２", "٤٣٠١٠٢"):
        with pytest.raises(InvalidIntake, match="region"):
            engine.open_case(make_intake(region=region), at=DAY)
    with pytest.raises(InvalidIntake, match=r"parties\[0\]\.name: .*control"):
        engine.open_case(make_intake(parties=[{**make_intake()["parties"][0], "name": "张三\x00"},
                                              make_intake()["parties"][1]]), at=DAY)  # fmt: skip
    with pytest.raises(InvalidData, match="region"):
        engine.report(region='=HYPERLINK("http://x")', at=DAY)


def test_errors_never_echo_raw_input(engine: Engine) -> None:
    case_id = engine.open_case(make_intake(), at=DAY).id
    with pytest.raises(MediationFlowError) as info:
        engine.fire(case_id, "refer_to_negotiation", data={f"x{ZHANG_ID}" * 50: 1}, at=DAY)
    assert ZHANG_ID not in str(info.value)
    assert len(str(info.value)) < 600
    with pytest.raises(MediationFlowError) as info:
        engine.lookup(f"ID{ZHANG_ID}\x1b[31m")
    assert ZHANG_ID not in str(info.value) and "\x1b" not in str(info.value)


def test_the_scanner_catches_the_missed_shapes() -> None:
    for text in (
        f"ID{ZHANG_ID}",
        f"id:{ZHANG_ID}",
        "tel13800138000",
        "Tel:13800138000",
        "4301 0219 9001 0112 38",
        "4301-0219-9001-0112-38",
        "430102\u200b199001011238",
        "138\u200b0013\u200b8000",
    ):
        masked = mask_text(text)
        digits = "".join(ch for ch in masked if ch.isdigit())
        assert "1238" not in digits[:-4] or "****" in masked, (text, masked)
        assert ZHANG_ID not in masked.replace(" ", "").replace("-", ""), (text, masked)
        assert "13800138000" not in masked.replace("\u200b", ""), (text, masked)


def test_a_party_sees_the_other_sides_numbers_masked() -> None:
    with make_engine(at="2025-03-03") as engine:
        intake = make_intake()
        intake["parties"][0]["account"] = "acct-zhang"
        intake["parties"][1]["account"] = "acct-boss"
        intake["parties"][1]["phone"] = "13900139000"
        case = engine.open_case(intake, at=DAY)
        boss = Actor("acct-boss", Role.employer)
        zhang = Actor("acct-zhang", Role.worker)
        for seen in (engine.get(case.id, actor=boss), engine.cases(actor=boss)[0]):
            worker, employer = seen.parties
            assert (worker.id_number, worker.phone, worker.account) == (
                "430102********1238",
                "138****8000",
                None,
            )
            assert employer.phone == "13900139000"  # its own, in clear
        assert engine.get(case.id, actor=zhang).parties[0].id_number == ZHANG_ID
        assert engine.get(case.id).parties[1].phone == "13900139000"  # the system sees all


def test_exports_mask_numbers_typed_into_free_text() -> None:
    with make_engine(at="2025-03-03") as engine:
        case = engine.open_case(make_intake(attributes={"memo": f"身份证{ZHANG_ID}"}), at=DAY)
        engine.fire(
            case.id,
            "refer_to_union_mediation",
            data={"org_id": f"工会{ZHANG_ID}", "org_type": "union_org", "note": "电话13800138000"},
            at=DAY,
        )
        exported = json.dumps(engine.export(case.id), ensure_ascii=False)
        assert ZHANG_ID not in exported
        assert "13800138000" not in exported
        clear = json.dumps(engine.export(case.id, clear_text=True), ensure_ascii=False)
        assert ZHANG_ID in clear


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    with make_engine(at="2025-03-03") as engine:
        engine.open_case(make_intake(), at=DAY)
        rows = to_csv(engine.report(at=DAY)).splitlines()
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row.split(","))


@pytest.mark.postgres
def test_a_value_the_database_refuses_is_a_clear_error_without_personal_data(
    pg_url: str,
) -> None:
    with Engine(pg_url, entry_points=False) as engine:
        # A NUL character (which PostgreSQL cannot store) is refused before the database, on
        # every store, naming the field.
        intake = make_intake(attributes={"memo": "a\x00b"})
        intake["parties"][1]["phone"] = "13900139000"
        with pytest.raises(InvalidIntake, match=r"attributes\.memo") as info:
            engine.open_case(intake, at=DAY)
        assert ZHANG_ID not in str(info.value) and "13900139000" not in str(info.value)
        assert engine.cases() == []


def test_a_refused_value_is_translated_without_the_drivers_text() -> None:
    """What still reaches the database and is refused there: the driver's text quotes the value
    (PostgreSQL: ``invalid input syntax ...: "<value>"``); the error keeps only the SQLSTATE."""
    from sqlalchemy.exc import DataError

    from mediation_flow.storage.repository import _translated

    class Refused(Exception):
        sqlstate = "22P02"

    orig = Refused(f'invalid input syntax for type integer: "{ZHANG_ID}"')
    error = _translated(DataError("INSERT INTO mf_party ...", {"id_number": ZHANG_ID}, orig))
    assert isinstance(error, StorageError) and isinstance(error, InvalidData)
    assert error.sqlstate == "22P02" and ZHANG_ID not in str(error)
