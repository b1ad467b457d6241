"""Handoff packages: export from one engine, import into another with a different database; the
same state, history and open deadlines; the package matches its published schema; a changed
byte, a forged signature or a broken chain is refused with nothing written; importing twice is a
no-op; a case that comes back with more events takes them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from mediation_flow import (
    Actor,
    CaseHandedOver,
    CaseNotFound,
    Engine,
    HandoffRejected,
    HandoffSettings,
    InvalidData,
    PermissionDenied,
    Role,
)
from mediation_flow.handoff import canonical_bytes
from mediation_flow.storage.repository import cases, events
from tests.conftest import at, make_intake

ROOT = Path(__file__).resolve().parents[1]
CENTRE = "芙蓉区劳动争议一站式调处中心"
COURT = "芙蓉区人民法院诉调对接中心"


def centre(url: str = "sqlite://", **settings: Any) -> Engine:
    settings.setdefault("unsigned_from", {COURT})  # the tests' packages are mostly unsigned
    return Engine(url, entry_points=False, handoff=HandoffSettings(org_id=CENTRE, **settings))


def court(url: str = "sqlite://", **settings: Any) -> Engine:
    settings.setdefault("unsigned_from", {CENTRE})
    return Engine(url, entry_points=False, handoff=HandoffSettings(org_id=COURT, **settings))


def case_in_arbitration(engine: Engine) -> int:
    """A case that went through people's mediation to an accepted arbitration, with a
    rendered notice: numbers, several deadline kinds, closed and open deadlines."""
    case = engine.open_case(make_intake(), at=at(2025, 3, 3))
    engine.fire(
        case.id, "refer_to_peoples_mediation", data={"org_id": "芙蓉区调委会"}, at=at(2025, 3, 3)
    )
    engine.fire(case.id, "fail_mediation", data={"reason": "no_agreement"}, at=at(2025, 3, 10))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 11))
    engine.fire(
        case.id,
        "accept_arbitration",
        data={"respondent_served_on": "2025-03-14"},
        at=at(2025, 3, 13),
    )
    engine.render_document(case.id, "acceptance_notice", format="docx", at=at(2025, 3, 13, 10))
    return case.id


def snapshot(engine: Engine, case_id: int) -> dict[str, Any]:
    case = engine.get(case_id)
    return {
        "serial": case.serial,
        "state": case.state,
        "version": case.version,
        "attributes": case.attributes,
        "parties": case.parties,
        "claims": case.claims,
        "limitation": case.limitation_expires_on,
        "history": [
            (e.seq, e.trigger, e.source, e.dest, e.at, e.data, e.hash)
            for e in engine.history(case_id)
        ],
        "deadlines": [
            (d.kind, d.party, d.status, d.starts_on, d.due) for d in engine.deadlines(case_id)
        ],
        "documents": [(d["template"], d["sha256"]) for d in engine.documents(case_id)],
    }


def count(engine: Engine, table: Any) -> int:
    with engine._store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_export_then_import_into_another_database_keeps_everything(
    db_url: str, tmp_path: Path
) -> None:
    with centre(f"sqlite:///{tmp_path / 'centre.db'}") as sender, court(db_url) as receiver:
        case_id = case_in_arbitration(sender)
        # The receiving database already has cases of its own: the ids differ.
        receiver.open_case(make_intake(), at=at(2025, 3, 1))
        package = sender.export_handoff(case_id, to_org=COURT, at=at(2025, 3, 14))
        result = receiver.import_handoff(package.to_bytes(), at=at(2025, 3, 14, 10))
        assert result.outcome == "created" and result.new_events == 5
        assert result.case_id != case_id
        assert snapshot(receiver, result.case_id) == snapshot(sender, case_id)
        assert receiver.verify(result.case_id).ok
        # The case runs on here: the award limit and the other open deadlines are live.
        open_here = [d.kind for d in receiver.deadlines(result.case_id) if d.status == "pending"]
        assert "award_limit" in open_here
        after = receiver.fire(result.case_id, "start_arbitration_mediation", at=at(2025, 3, 17))
        assert after.state == "arbitration_mediation"
        assert receiver.verify(result.case_id).ok
        assert receiver.lookup(package.serial).stage == "仲裁调解中"
        assert [h["direction"] for h in receiver.handoffs(result.case_id)] == ["in"]
        assert [h["direction"] for h in sender.handoffs(case_id)] == ["out"]


def test_the_package_matches_its_published_schema(tmp_path: Path) -> None:
    published = json.loads((ROOT / "docs/reference/handoff-package.schema.json").read_text())
    shipped = json.loads((ROOT / "mediation_flow/handoff-package.schema.json").read_text())
    assert published == shipped
    jsonschema.Draft202012Validator.check_schema(published)
    with centre() as sender:
        package = sender.export_handoff(case_in_arbitration(sender), to_org=COURT)
    validator = jsonschema.Draft202012Validator(
        published, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert list(validator.iter_errors(package.data)) == []
    body = {k: v for k, v in package.data.items() if k not in ("digest", "signature")}
    assert package.digest == hashlib.sha256(canonical_bytes(body)).hexdigest()
    assert package.data["version"] == 1 and package.data["from_org"] == CENTRE


def test_importing_twice_creates_one_case(tmp_path: Path) -> None:
    with centre() as sender, court() as receiver:
        package = sender.export_handoff(case_in_arbitration(sender), to_org=COURT)
        path = package.write(tmp_path / "case.json")
        first = receiver.import_handoff(path)
        second = receiver.import_handoff(path)
        assert (second.case_id, second.outcome, second.new_events) == (
            first.case_id,
            "unchanged",
            0,
        )
        assert count(receiver, cases) == 1
        assert len(receiver.handoffs(first.case_id)) == 1


@pytest.mark.parametrize("position", [0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
def test_a_package_with_one_changed_byte_is_refused_and_nothing_is_written(
    position: float,
) -> None:
    with centre() as sender, court() as receiver:
        raw = bytearray(sender.export_handoff(case_in_arbitration(sender), to_org=COURT).to_bytes())
        i = int(len(raw) * position)
        while raw[i] >= 0x80:  # inside a multi-byte character: still one byte changed
            i += 1
        raw[i] = ord("7") if raw[i] != ord("7") else ord("8")
        with pytest.raises(HandoffRejected) as refused:
            receiver.import_handoff(bytes(raw))
        assert refused.value.check in ("format", "digest")
        assert count(receiver, cases) == 0 and count(receiver, events) == 0


def test_an_edited_and_resealed_package_fails_the_hash_chain() -> None:
    """Someone changes the award limit's history and recomputes the digest: the events' own
    hashes give it away."""
    with centre() as sender, court() as receiver:
        data = sender.export_handoff(case_in_arbitration(sender), to_org=COURT).data
        data = json.loads(json.dumps(data))
        data["history"][3]["data"]["received_on"] = "2025-01-01"
        resealed = HandoffSettings(org_id=CENTRE).seal(
            {k: v for k, v in data.items() if k not in ("digest", "signature")}
        )
        with pytest.raises(HandoffRejected, match="hash mismatch") as refused:
            receiver.import_handoff(resealed)
        assert refused.value.check == "chain"
        data["case"]["attributes"]["case_numbers"][0]["number"] = "伪造〔2025〕第9号"
        data["history"][3]["data"].pop("received_on")
        resealed = HandoffSettings(org_id=CENTRE).seal(
            {k: v for k, v in data.items() if k not in ("digest", "signature")}
        )
        with pytest.raises(HandoffRejected, match="numbers were edited"):
            receiver.import_handoff(resealed)
        assert count(receiver, cases) == 0


def test_signed_packages_verify_with_the_senders_public_key(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    with centre(signing_key=key) as sender:
        package = sender.export_handoff(case_in_arbitration(sender), to_org=COURT)
    assert package.data["signature"]["signer"] == CENTRE
    with court(trusted_keys={CENTRE: key.public_key()}, require_signature=True) as receiver:
        assert receiver.import_handoff(package).signed_by == CENTRE
    with court(trusted_keys={CENTRE: other.public_key()}) as receiver:
        with pytest.raises(HandoffRejected, match="does not verify"):
            receiver.import_handoff(package)
        assert count(receiver, cases) == 0
    with (
        court() as receiver,
        pytest.raises(HandoffRejected, match="not among this system's trusted keys"),
    ):
        receiver.import_handoff(package)
    with centre() as unsigned_sender:
        unsigned = unsigned_sender.export_handoff(
            case_in_arbitration(unsigned_sender), to_org=COURT
        )
    with (
        court(require_signature=True) as receiver,
        pytest.raises(HandoffRejected, match="not signed"),
    ):
        receiver.import_handoff(unsigned)


def test_a_case_handed_back_with_more_events_continues_here() -> None:
    """The centre delegates; the court's platform mediates and hands the case back."""
    with centre() as one_stop, court() as court_platform:
        case_id = case_in_arbitration(one_stop)
        out = one_stop.export_handoff(case_id, to_org=COURT, at=at(2025, 3, 14))
        there = court_platform.import_handoff(out, at=at(2025, 3, 14)).case_id
        court_platform.fire(there, "start_arbitration_mediation", at=at(2025, 3, 17))
        court_platform.fire(
            there,
            "issue_mediation_statement",
            data={"perform_by": "2025-04-30"},
            at=at(2025, 3, 20),
        )
        back = court_platform.export_handoff(there, to_org=CENTRE, at=at(2025, 3, 21))
        result = one_stop.import_handoff(back, at=at(2025, 3, 21))
        assert (result.case_id, result.outcome, result.new_events) == (case_id, "updated", 2)
        assert snapshot(one_stop, case_id) == snapshot(court_platform, there)
        assert one_stop.verify(case_id).ok
        # The case runs here again; the stale first package changes nothing at the court.
        assert one_stop.get(case_id).state == "enforceable"
        assert "apply_enforcement" in one_stop.triggers(case_id, at=at(2025, 3, 22))
        assert court_platform.import_handoff(out).outcome == "unchanged"


def test_a_history_that_departs_from_the_one_here_is_refused() -> None:
    with centre() as one_stop, court() as court_platform:
        case_id = case_in_arbitration(one_stop)
        # A copy: the centre keeps acting on the case (hold=False).
        there = court_platform.import_handoff(
            one_stop.export_handoff(case_id, to_org=COURT, hold=False)
        ).case_id
        court_platform.fire(there, "start_arbitration_mediation", at=at(2025, 3, 17))
        one_stop.fire(
            case_id, "suspend_arbitration", data={"reason": "工伤认定"}, at=at(2025, 3, 17)
        )
        with pytest.raises(HandoffRejected, match="departs") as refused:
            one_stop.import_handoff(court_platform.export_handoff(there, to_org=CENTRE))
        assert refused.value.check == "conflict"
        assert one_stop.get(case_id).state == "arbitration_suspended"


def test_export_needs_the_organisation_and_an_official() -> None:
    with Engine("sqlite://", entry_points=False) as anonymous:
        case = anonymous.open_case(make_intake(), at=at(2025, 3, 3))
        with pytest.raises(Exception, match="org_id"):
            anonymous.export_handoff(case.id, to_org=COURT)
    with centre() as sender:
        worker = Actor("w-1", Role.worker)
        case = sender.open_case(make_intake(), at=at(2025, 3, 3))
        with pytest.raises(CaseNotFound):  # not the worker of this case: not found
            sender.export_handoff(case.id, to_org=COURT, actor=worker)
        package = sender.export_handoff(case.id, to_org=COURT)
    with court() as receiver:
        with pytest.raises(PermissionDenied):
            receiver.import_handoff(package, actor=Actor("e-1", Role.employer))
        outsider = Actor("arb-9", Role.arbitrator, region="51")
        with pytest.raises(PermissionDenied):
            receiver.import_handoff(package, actor=outsider)
        assert count(receiver, cases) == 0
        local = Actor("arb-1", Role.arbitrator, region="43")
        assert receiver.import_handoff(package, actor=local).outcome == "created"


def test_malformed_packages_say_what_is_wrong() -> None:
    with court() as receiver:
        with pytest.raises(HandoffRejected, match="not a JSON package"):
            receiver.import_handoff(b"\xff not json")
        with centre() as sender:
            data = sender.export_handoff(case_in_arbitration(sender), to_org=COURT).data
        with pytest.raises(HandoffRejected, match="canonical form"):
            receiver.import_handoff(json.dumps(data, indent=2, ensure_ascii=False))
        broken = json.loads(json.dumps(data))
        broken["version"] = 2
        with pytest.raises(HandoffRejected, match="upgrade mediation_flow"):
            receiver.import_handoff(broken)
        broken["version"] = 1
        broken["history"][0]["seq"] = "one"
        # The seals are checked before the content: an edited package fails its digest...
        with pytest.raises(HandoffRejected, match=r"\(digest\)"):
            receiver.import_handoff(broken)
        # ... and one sealed again by its (trusted) sender fails the schema, naming the member.
        body = {k: v for k, v in broken.items() if k not in ("digest", "signature")}
        with pytest.raises(HandoffRejected, match=r"history/0/seq"):
            receiver.import_handoff(HandoffSettings(org_id=CENTRE).seal(body))
        assert count(receiver, cases) == 0


def test_the_cli_exports_and_imports_with_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from mediation_flow.cli import main

    runner = CliRunner()
    centre_db = f"sqlite:///{tmp_path / 'centre.db'}"
    court_db = f"sqlite:///{tmp_path / 'court.db'}"
    with centre(centre_db) as sender:
        case_id = case_in_arbitration(sender)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(main, ["handoff", "keygen", "centre"]).exit_code == 0
    out = runner.invoke(
        main,
        ["--db", centre_db, "--org", CENTRE, "--signing-key", "centre.key",
         "handoff", "export", str(case_id), "--to", COURT, "-o", "case.json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "signed" in out.output
    refused = runner.invoke(main, ["--db", court_db, "handoff", "import", "case.json"])
    assert refused.exit_code == 1 and "trusted keys" in refused.output
    trusting = ["--db", court_db, "--trust", f"{CENTRE}=centre.pub"]
    unaddressed = runner.invoke(main, [*trusting, "handoff", "import", "case.json"])
    assert unaddressed.exit_code == 1 and "--org" in unaddressed.output
    taken = runner.invoke(main, [*trusting, "--org", COURT, "handoff", "import", "case.json"])
    assert taken.exit_code == 0, taken.output
    assert "created (5 new events, signed by" in taken.output


def test_keys_that_are_not_ed25519_keys_are_refused_at_configuration(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="Ed25519 private key"):
        HandoffSettings(org_id=CENTRE, signing_key="not a key")
    with pytest.raises(TypeError, match="Ed25519 public key"):
        HandoffSettings(org_id=COURT, trusted_keys={CENTRE: b"-----BEGIN PUBLIC KEY-----\nxx"})
    key = Ed25519PrivateKey.generate()
    settings = HandoffSettings(
        org_id=CENTRE, signing_key=key, trusted_keys={CENTRE: key.public_key()}
    )
    sealed = settings.seal({"from_org": CENTRE, "x": 1})
    assert settings.check_seals(sealed) == CENTRE


def test_a_case_handed_over_waits_here_until_it_comes_back() -> None:
    """While the court holds the case the centre fires nothing on it and its clocks wait; a
    package from the court brings it back, with or without new events; reclaim takes it back."""
    with centre() as one_stop, court() as court_platform:
        case_id = case_in_arbitration(one_stop)
        out = one_stop.export_handoff(case_id, to_org=COURT, at=at(2025, 3, 14))
        with pytest.raises(CaseHandedOver, match=f"handed over to {COURT} on 2025-03-14"):
            one_stop.fire(case_id, "start_arbitration_mediation", at=at(2025, 3, 15))
        assert one_stop.triggers(case_id, at=at(2025, 3, 15)) == []
        # The award limit (45 days from 03-13) runs out while the court has the case: no
        # expiry here.
        assert one_stop.tick(at(2025, 5, 10)) == []
        assert [d.status for d in one_stop.deadlines(case_id) if d.kind == "award_limit"] == [
            "pending"
        ]
        with pytest.raises(CaseHandedOver):
            one_stop.export_handoff(case_id, to_org="another court", at=at(2025, 3, 15))
        there = court_platform.import_handoff(out, at=at(2025, 3, 14)).case_id
        back = court_platform.export_handoff(there, to_org=CENTRE, at=at(2025, 3, 16))
        result = one_stop.import_handoff(back, at=at(2025, 3, 16))
        assert (result.outcome, result.new_events) == ("returned", 0)
        one_stop.fire(case_id, "start_arbitration_mediation", at=at(2025, 3, 17))
        # Handed over again and taken back without an answer.
        one_stop.export_handoff(case_id, to_org=COURT, at=at(2025, 3, 18))
        # The court handed its copy back: it acts on it no more.
        with pytest.raises(CaseHandedOver, match=f"handed over to {CENTRE}"):
            court_platform.fire(there, "start_arbitration_mediation", at=at(2025, 3, 17))
        assert one_stop.reclaim(case_id, at=at(2025, 3, 25)).state == "arbitration_mediation"
        with pytest.raises(InvalidData, match="not handed over"):
            one_stop.reclaim(case_id, at=at(2025, 3, 25))
        assert [h["direction"] for h in one_stop.handoffs(case_id)] == [
            "out",
            "in",
            "out",
            "reclaim",
        ]


def test_an_unsigned_package_from_a_trusted_sender_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    with centre() as unsigned_sender:
        package = unsigned_sender.export_handoff(case_in_arbitration(unsigned_sender), to_org=COURT)
    # Signatures are required once a key is trusted; even when turned off, a package that
    # claims a trusted sender must carry its signature.
    for required in (None, False):
        with (
            court(trusted_keys={CENTRE: key.public_key()}, require_signature=required) as receiver,
            pytest.raises(HandoffRejected, match="not signed"),
        ):
            receiver.import_handoff(package)


def test_a_package_for_another_organisation_is_refused() -> None:
    with centre() as sender, court() as receiver:
        package = sender.export_handoff(case_in_arbitration(sender), to_org="某中级人民法院")
        with pytest.raises(HandoffRejected, match="addressed to '某中级人民法院'"):
            receiver.import_handoff(package)


def test_party_accounts_stay_with_the_system_that_gave_them() -> None:
    intake = make_intake()
    intake["parties"][0]["account"] = "user-1001"
    with centre() as sender, court() as receiver:
        case = sender.open_case(intake, at=at(2025, 3, 3))
        package = sender.export_handoff(case.id, to_org=COURT)
        assert [p["account"] for p in package.data["parties"]] == [None, None]
        there = receiver.import_handoff(package).case_id
        with pytest.raises(CaseNotFound):
            receiver.get(there, actor=Actor("user-1001", Role.worker))


def test_numbers_that_came_in_a_package_are_never_issued_here_again(db_url: str) -> None:
    """Both systems number under the national defaults: the court takes in a case numbered
    第1号 and then accepts an arbitration of its own, which gets 第2号."""
    with centre() as sender, court(db_url) as receiver:
        package = sender.export_handoff(case_in_arbitration(sender), to_org=COURT)
        receiver.import_handoff(package)
        own = receiver.open_case(make_intake(), at=at(2025, 3, 20))
        receiver.fire(own.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 20))
        accepted = receiver.fire(own.id, "accept_arbitration", at=at(2025, 3, 21))
        assert accepted.number("arbitration") == "湘430102劳人仲案字〔2025〕第2号"


def test_two_imports_of_the_same_package_at_once_create_one_case(db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with centre() as sender:
        raw = sender.export_handoff(case_in_arbitration(sender), to_org=COURT).to_bytes()
    with court(db_url) as receiver, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: receiver.import_handoff(raw), range(4)))
        assert sorted(r.outcome for r in results) == [
            "created",
            "unchanged",
            "unchanged",
            "unchanged",
        ]
        assert len({r.case_id for r in results}) == 1
        assert count(receiver, cases) == 1


def test_every_part_of_a_case_number_must_be_the_one_recorded() -> None:
    with centre() as sender, court() as receiver:
        data = json.loads(
            json.dumps(sender.export_handoff(case_in_arbitration(sender), to_org=COURT).data)
        )
        numbers = data["case"]["attributes"]["case_numbers"]
        numbers[-1]["seq"] = 5  # the text still says 第1号
        resealed = HandoffSettings(org_id=CENTRE).seal(
            {k: v for k, v in data.items() if k not in ("digest", "signature")}
        )
        with pytest.raises(HandoffRejected, match="numbers were edited"):
            receiver.import_handoff(resealed)
        data["case"]["attributes"]["case_numbers"] = numbers[:-1]  # a number dropped
        resealed = HandoffSettings(org_id=CENTRE).seal(
            {k: v for k, v in data.items() if k not in ("digest", "signature")}
        )
        with pytest.raises(HandoffRejected, match="numbers were edited"):
            receiver.import_handoff(resealed)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("case", "worker_count"), 10**12, "greater than the maximum"),
        (("case", "resolution"), "bribed", "is not one of"),
        (("deadlines", 0, "kind"), "no_such_deadline", "not in the case's flow"),
        (("case", "resolution"), "performed", "an open case"),
    ],
)
def test_values_a_sender_could_not_have_written_are_refused(
    path: tuple[Any, ...], value: Any, message: str
) -> None:
    with centre() as sender, court() as receiver:
        data = json.loads(
            json.dumps(sender.export_handoff(case_in_arbitration(sender), to_org=COURT).data)
        )
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        resealed = HandoffSettings(org_id=CENTRE).seal(
            {k: v for k, v in data.items() if k not in ("digest", "signature")}
        )
        with pytest.raises(HandoffRejected, match=message):
            receiver.import_handoff(resealed)
        assert count(receiver, cases) == 0


def test_a_deeply_nested_file_is_refused_cleanly() -> None:
    with court() as receiver, pytest.raises(HandoffRejected, match="nested too deeply"):
        receiver.import_handoff(b"[" * 100_000 + b"]" * 100_000)


def test_replaying_an_old_package_does_not_bring_a_case_back() -> None:
    """The court hands the case back untouched and so holds its copy; the centre's original
    package imported there again must not make the court act on the case too."""
    with centre() as one_stop, court() as court_platform:
        case_id = case_in_arbitration(one_stop)
        out = one_stop.export_handoff(case_id, to_org=COURT, at=at(2025, 3, 14))
        there = court_platform.import_handoff(out, at=at(2025, 3, 14)).case_id
        back = court_platform.export_handoff(there, to_org=CENTRE, at=at(2025, 3, 15))
        assert one_stop.import_handoff(back, at=at(2025, 3, 15)).outcome == "returned"
        assert court_platform.import_handoff(out, at=at(2025, 3, 16)).outcome == "unchanged"
        assert court_platform.triggers(there, at=at(2025, 3, 16)) == []
        assert court_platform.get(there).handed_over_to == CENTRE
        assert one_stop.get(case_id).handed_over_to is None


def test_a_system_does_not_hand_a_case_to_itself() -> None:
    with centre() as engine:
        case = engine.open_case(make_intake(), at=at(2025, 3, 3))
        with pytest.raises(InvalidData, match="this system's own organisation"):
            engine.export_handoff(case.id, to_org=CENTRE)
