"""Tamper evidence with anchors: the ledger, signed checkpoints, and ``verify --all
--checkpoint`` against direct edits of the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, delete, insert, select, update

from mediation_flow import Actor, Engine, HandoffSettings, PermissionDenied, Role
from mediation_flow.cli import main
from mediation_flow.ledger import Checkpoint, CheckpointError
from mediation_flow.storage.repository import (
    case_numbers,
    cases,
    claims,
    deadlines,
    events,
    parties,
)
from mediation_flow.storage.tables import LedgerRow
from tests.conftest import at, make_intake

ledger = LedgerRow.__table__  # type: ignore[attr-defined]
KEY = Ed25519PrivateKey.generate()


def engine_on(url: str, key: Any = KEY) -> Engine:
    return Engine(
        url,
        entry_points=False,
        clock=lambda: at(2025, 3, 3),
        handoff=HandoffSettings(org_id="长沙市劳动人事争议仲裁委员会", signing_key=key),
    )


def build(engine: Engine) -> dict[str, int]:
    """Four cases: one in arbitration with a case number and deadlines, one that a deadline
    moved on (system events), one handed over (held), one just opened."""
    arbitration = engine.open_case(make_intake(), at=at(2025, 3, 3)).id
    engine.fire(arbitration, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 3))
    engine.fire(
        arbitration,
        "accept_arbitration",
        data={"respondent_served_on": "2025-03-05"},
        at=at(2025, 3, 4),
    )
    negotiation = engine.open_case(make_intake(), at=at(2025, 3, 3)).id
    engine.fire(negotiation, "refer_to_negotiation", at=at(2025, 3, 3))
    engine.tick(at(2025, 3, 20))
    held = engine.open_case(make_intake(region="430103"), at=at(2025, 3, 3)).id
    engine.fire(
        held,
        "refer_to_union_mediation",
        data={"org_id": "芙蓉区总工会", "org_type": "union_org"},
        at=at(2025, 3, 3),
    )
    engine.export_handoff(held, to_org="长沙市中级人民法院", at=at(2025, 3, 21))
    fresh = engine.open_case(make_intake(), at=at(2025, 3, 21)).id
    return {"arbitration": arbitration, "negotiation": negotiation, "held": held, "fresh": fresh}


Edit = Callable[[Connection, dict[str, int]], None]


def _set(table: Any, where: Any, **values: Any) -> Edit:
    def edit(conn: Connection, ids: dict[str, int]) -> None:
        result = conn.execute(update(table).where(where(ids)).values(**values))
        assert result.rowcount >= 1

    return edit


def _case(name: str, **values: Any) -> Edit:
    return _set(cases, lambda ids: cases.c.id == ids[name], **values)


def _last_event(ids: dict[str, int], conn: Connection, name: str = "arbitration") -> Any:
    return conn.execute(
        select(events).where(events.c.case_id == ids[name]).order_by(events.c.seq.desc()).limit(1)
    ).one()


def _event(seq: int, **values: Any) -> Edit:
    return _set(
        events,
        lambda ids: (events.c.case_id == ids["arbitration"]) & (events.c.seq == seq),
        **values,
    )


def delete_all_events(conn: Connection, ids: dict[str, int]) -> None:
    conn.execute(delete(events).where(events.c.case_id == ids["arbitration"]))


def delete_last_event(conn: Connection, ids: dict[str, int]) -> None:
    last = _last_event(ids, conn)
    conn.execute(delete(events).where(events.c.id == last.id))


def roll_back_last_event(conn: Connection, ids: dict[str, int]) -> None:
    """Delete the last event and set the case back to where it was before it, head included."""
    last = _last_event(ids, conn)
    conn.execute(delete(events).where(events.c.id == last.id))
    previous = _last_event(ids, conn)
    conn.execute(
        update(cases)
        .where(cases.c.id == ids["arbitration"])
        .values(
            event_hash=previous.hash,
            version=previous.seq,
            state=last.source,
            updated_at=previous.at,
        )
    )


def reorder_events(conn: Connection, ids: dict[str, int]) -> None:
    rows = conn.execute(
        select(events.c.id, events.c.seq)
        .where(events.c.case_id == ids["arbitration"])
        .order_by(events.c.seq)
    ).all()
    second, third = rows[1], rows[2]
    conn.execute(update(events).where(events.c.id == second.id).values(seq=-1))
    conn.execute(update(events).where(events.c.id == third.id).values(seq=second.seq))
    conn.execute(update(events).where(events.c.id == second.id).values(seq=third.seq))


def append_forged_event(conn: Connection, ids: dict[str, int]) -> None:
    last = _last_event(ids, conn)
    row = {k: v for k, v in last._mapping.items() if k != "id"}
    row.update(seq=last.seq + 1, trigger="withdraw", source=last.dest, dest="closed")
    conn.execute(insert(events).values(**row))
    conn.execute(
        update(cases)
        .where(cases.c.id == ids["arbitration"])
        .values(state="closed", version=last.seq + 1, resolution="withdrawn")
    )


def edit_attributes(**changes: Any) -> Edit:
    def edit(conn: Connection, ids: dict[str, int]) -> None:
        attrs = conn.execute(
            select(cases.c.attributes).where(cases.c.id == ids["arbitration"])
        ).scalar_one()
        conn.execute(
            update(cases)
            .where(cases.c.id == ids["arbitration"])
            .values(attributes={**attrs, **changes})
        )

    return edit


def edit_number_in_attributes(conn: Connection, ids: dict[str, int]) -> None:
    attrs = conn.execute(
        select(cases.c.attributes).where(cases.c.id == ids["arbitration"])
    ).scalar_one()
    numbers = [dict(n, number=n["number"].replace("第1号", "第9号")) for n in attrs["case_numbers"]]
    conn.execute(
        update(cases)
        .where(cases.c.id == ids["arbitration"])
        .values(attributes={**attrs, "case_numbers": numbers})
    )


def _party(position: int, **values: Any) -> Edit:
    return _set(
        parties,
        lambda ids: (parties.c.case_id == ids["arbitration"]) & (parties.c.position == position),
        **values,
    )


def delete_party(conn: Connection, ids: dict[str, int]) -> None:
    conn.execute(
        delete(parties).where(parties.c.case_id == ids["arbitration"], parties.c.position == 1)
    )


def _deadline(**values: Any) -> Edit:
    def edit(conn: Connection, ids: dict[str, int]) -> None:
        first = conn.execute(
            select(deadlines.c.id)
            .where(deadlines.c.case_id == ids["arbitration"], deadlines.c.status == "pending")
            .order_by(deadlines.c.id)
            .limit(1)
        ).scalar_one()
        conn.execute(update(deadlines).where(deadlines.c.id == first).values(**values))

    return edit


def delete_deadline(conn: Connection, ids: dict[str, int]) -> None:
    conn.execute(
        delete(deadlines).where(
            deadlines.c.case_id == ids["arbitration"], deadlines.c.status == "pending"
        )
    )


def insert_deadline(conn: Connection, ids: dict[str, int]) -> None:
    row = conn.execute(
        select(deadlines).where(deadlines.c.case_id == ids["arbitration"]).limit(1)
    ).one()
    values = {k: v for k, v in row._mapping.items() if k != "id"}
    conn.execute(insert(deadlines).values(**{**values, "kind": "award_limit", "party": None}))


def edit_case_number_row(conn: Connection, ids: dict[str, int]) -> None:
    conn.execute(
        update(case_numbers)
        .where(case_numbers.c.case_id == ids["arbitration"])
        .values(number="湘430102劳人仲案字〔2025〕第999号", seq=999)
    )


def delete_case_number_row(conn: Connection, ids: dict[str, int]) -> None:
    conn.execute(delete(case_numbers).where(case_numbers.c.case_id == ids["arbitration"]))


def delete_case(name: str) -> Edit:
    def edit(conn: Connection, ids: dict[str, int]) -> None:
        for table in (events, parties, claims, deadlines, case_numbers):
            conn.execute(delete(table).where(table.c.case_id == ids[name]))
        from mediation_flow.storage.repository import handoffs, idempotency

        for table in (handoffs, idempotency):
            conn.execute(delete(table).where(table.c.case_id == ids[name]))
        conn.execute(delete(cases).where(cases.c.id == ids[name]))

    return edit


def truncate_ledger(conn: Connection, ids: dict[str, int]) -> None:
    last = conn.execute(select(ledger.c.id).order_by(ledger.c.id.desc()).limit(1)).scalar_one()
    conn.execute(delete(ledger).where(ledger.c.id == last))


def empty_ledger(conn: Connection, ids: dict[str, int]) -> None:
    conn.execute(delete(ledger))


def delete_ledger_entry(conn: Connection, ids: dict[str, int]) -> None:
    conn.execute(delete(ledger).where(ledger.c.position == 2))


def edit_ledger_digest(conn: Connection, ids: dict[str, int]) -> None:
    conn.execute(update(ledger).where(ledger.c.position == 1).values(digest="0" * 64))


def reorder_ledger(conn: Connection, ids: dict[str, int]) -> None:
    conn.execute(update(ledger).where(ledger.c.position == 1).values(position=-1))
    conn.execute(update(ledger).where(ledger.c.position == 2).values(position=1))
    conn.execute(update(ledger).where(ledger.c.position == -1).values(position=2))


def rewrite_ledger_after_edit(conn: Connection, ids: dict[str, int]) -> None:
    """Edit a case and its latest ledger entry's digest and head to match: the chain breaks."""
    _case("arbitration", region="520102")(conn, ids)
    from mediation_flow.ledger import entry_head

    row = conn.execute(
        select(ledger)
        .where(ledger.c.case_id == ids["arbitration"])
        .order_by(ledger.c.id.desc())
        .limit(1)
    ).one()
    conn.execute(
        update(ledger)
        .where(ledger.c.id == row.id)
        .values(digest="1" * 64, head=entry_head(None, row.position, {**row._mapping}))
    )


EDITS: dict[str, Edit] = {
    "delete every event of a case": delete_all_events,
    "delete the last event": delete_last_event,
    "delete the last event and roll the head back": roll_back_last_event,
    "reorder two events": reorder_events,
    "append a forged event": append_forged_event,
    "edit an event's data": _event(2, data={"by": "employer"}),
    "edit an event's trigger": _event(2, trigger="refer_to_negotiation"),
    "edit an event's actor": _event(2, actor_id="someone-else"),
    "edit an event's time": _event(2, at=at(2025, 3, 1)),
    "edit an event's hash": _event(2, hash="f" * 64),
    "edit the resolution": _case("negotiation", resolution="performed"),
    "edit the region": _case("arbitration", region="520102"),
    "edit the state": _case("arbitration", state="closed"),
    "edit the version": _case("arbitration", version=99),
    "edit the serial": _case("arbitration", serial="430102-250303-AAAAAAAA"),
    "edit the chain head": _case("arbitration", event_hash=None),
    "edit the limitation expiry": _case("arbitration", limitation_expires_on=at(2030, 1, 1)),
    "edit updated_at": _case("arbitration", updated_at=at(2025, 3, 30)),
    "edit the worker count": _case("arbitration", worker_count=40),
    "edit the receipt day": _case("arbitration", received_on=at(2025, 1, 1).date()),
    "inject an org_id": edit_attributes(org_id="贵阳市总工会"),
    "edit a case number in the attributes": edit_number_in_attributes,
    "edit a case number row": edit_case_number_row,
    "delete a case number row": delete_case_number_row,
    "edit a party's account": _party(1, account="acct-attacker"),
    "edit a party's name": _party(0, name="李四"),
    "edit an identity number": _party(0, id_number="110101199003074514"),
    "edit a phone": _party(0, phone="13900000000"),
    "delete a party": delete_party,
    "edit a claim amount": _set(
        claims, lambda ids: claims.c.case_id == ids["arbitration"], amount=99999
    ),
    "edit a deadline's due day": _deadline(due=at(2199, 1, 1).date()),
    "edit a deadline's status": _deadline(status="met"),
    "delete the pending deadlines": delete_deadline,
    "insert a deadline": insert_deadline,
    "release a held case": _case("held", held_by=None, held_since=None),
    "hold a case": _case("arbitration", held_by="别的机构", held_since=at(2025, 3, 21)),
    "delete a whole case": delete_case("fresh"),
    "delete a case in arbitration": delete_case("arbitration"),
    "truncate the ledger": truncate_ledger,
    "empty the ledger": empty_ledger,
    "delete a ledger entry": delete_ledger_entry,
    "edit a ledger entry": edit_ledger_digest,
    "reorder the ledger": reorder_ledger,
    "edit a case and rewrite its ledger entry": rewrite_ledger_after_edit,
}


def test_there_are_at_least_thirty_kinds_of_edit() -> None:
    assert len(EDITS) >= 30


@pytest.mark.parametrize("name", sorted(EDITS))
def test_every_direct_edit_is_detected_against_the_checkpoint(db_url: str, name: str) -> None:
    with engine_on(db_url) as engine:
        ids = build(engine)
        checkpoint = engine.checkpoint(at=at(2025, 3, 22)).to_json()
        assert engine.verify_all(checkpoint=checkpoint) == []
        with engine._store.connect() as conn, engine._store.writing(conn):
            EDITS[name](conn, ids)
        problems = engine.verify_all(checkpoint=checkpoint)
        assert problems, f"{name}: not detected"


def test_an_untouched_database_verifies_and_new_writes_after_a_checkpoint_too(
    db_url: str,
) -> None:
    with engine_on(db_url) as engine:
        ids = build(engine)
        first = engine.checkpoint(at=at(2025, 3, 22))
        engine.fire(ids["fresh"], "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 23))
        engine.reclaim(ids["held"], at=at(2025, 3, 23))
        engine.tick(at(2025, 6, 1))
        assert engine.verify_all(checkpoint=first) == []
        second = engine.checkpoint(at=at(2025, 6, 2))
        assert second.size > first.size
        assert engine.verify_all(checkpoint=second.to_json()) == []
        assert engine.verify_all(checkpoint=first.to_json()) == []


def test_a_checkpoint_is_small_signed_and_checked() -> None:
    with engine_on("sqlite://") as engine:
        build(engine)
        checkpoint = engine.checkpoint(at=at(2025, 3, 22))
        text = checkpoint.to_json()
        assert len(text) < 600
        assert Checkpoint.parse(text, expected_key=KEY.public_key()) == checkpoint
        forged = text.replace(f'"size": {checkpoint.size}', f'"size": {checkpoint.size - 1}')
        with pytest.raises(CheckpointError, match="altered"):
            engine.verify_all(checkpoint=forged)
        other = Ed25519PrivateKey.generate()
        foreign = Checkpoint.sign(checkpoint.size, checkpoint.head, at(2025, 3, 22), other)
        with pytest.raises(CheckpointError, match="not by this deployment's key"):
            engine.verify_all(checkpoint=foreign.to_json())
        with pytest.raises(CheckpointError, match="not a mediation-flow checkpoint"):
            engine.verify_all(checkpoint="{}")
        with pytest.raises(CheckpointError, match="bytes"):
            engine.verify_all(checkpoint="x" * 10_000)
        with pytest.raises(PermissionDenied, match="system actor"):
            engine.checkpoint(actor=Actor("a-1", Role.arbitrator))
    with Engine("sqlite://", entry_points=False) as unsigned, pytest.raises(CheckpointError):
        unsigned.checkpoint()


def test_cases_stored_before_the_ledger_are_adopted_by_the_first_checkpoint() -> None:
    with engine_on("sqlite://") as engine:
        ids = build(engine)
        with engine._store.connect() as conn, engine._store.writing(conn):
            conn.execute(delete(ledger))  # as if stored by an older release
        found = engine.verify_all()
        assert [v.case_id for v in found] == sorted(ids.values())
        assert all("no ledger entry" in v.problems[0] for v in found)
        checkpoint = engine.checkpoint(at=at(2025, 3, 22))
        assert checkpoint.size == 4
        assert engine.verify_all(checkpoint=checkpoint) == []


def test_the_cli_prints_a_checkpoint_and_verifies_against_it(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with engine_on(db) as engine:
        ids = build(engine)
    runner = CliRunner()
    base = ["--db", db, "--signing-key", str(key_file)]
    made = runner.invoke(main, [*base, "checkpoint"])
    assert made.exit_code == 0, made.output
    checkpoint_file = tmp_path / "checkpoint.json"
    checkpoint_file.write_text(made.output)
    ok = runner.invoke(main, [*base, "verify", "--all", "--checkpoint", str(checkpoint_file)])
    assert ok.exit_code == 0, ok.output
    with engine_on(db) as engine, engine._store.connect() as conn, engine._store.writing(conn):
        delete_case("fresh")(conn, ids)
    bad = runner.invoke(main, [*base, "verify", "--all", "--checkpoint", str(checkpoint_file)])
    assert bad.exit_code == 1
    assert f"case {ids['fresh']}: the case was deleted" in bad.output
