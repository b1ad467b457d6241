"""A receiver stores the deadlines it computes from a package's history on its own calendar, not
the ones the package lists, and takes in only case numbers its numbering rules would issue.

The attacker here is a trusted sender: its packages are signed with a key the receiver trusts,
so the digest, the signature and (for numbers) the hash chain, which it rewrites, all hold."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mediation_flow_guizhou import GuizhouPlugin
from structlog.testing import capture_logs

from mediation_flow import (
    Actor,
    Engine,
    HandoffRejected,
    HandoffSettings,
    NumberingRule,
    PermissionDenied,
    Role,
)
from mediation_flow.audit import event_hash
from mediation_flow.handoff import MAX_PACKAGE_EVENTS
from mediation_flow.storage.repository import cases
from mediation_flow.testing import sample_intake
from tests.conftest import at, make_intake
from tests.test_handoff import CENTRE, COURT, case_in_arbitration, count, snapshot
from tests.test_holiday_calendar import FINAL_AWARD, NOTICE_2027

KEY = Ed25519PrivateKey.generate()


def sender(url: str = "sqlite://", unsigned_from: tuple[str, ...] = (), **engine: Any) -> Engine:
    return Engine(
        url,
        entry_points=False,
        handoff=HandoffSettings(org_id=CENTRE, signing_key=KEY, unsigned_from=unsigned_from),
        **engine,
    )


def receiver(url: str = "sqlite://", **engine: Any) -> Engine:
    return Engine(
        url,
        entry_points=False,
        handoff=HandoffSettings(
            org_id=COURT, trusted_keys={CENTRE: KEY.public_key()}, unsigned_from=()
        ),
        **engine,
    )


def resigned(data: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The package edited by ``change`` and signed again with the trusted sender's key."""
    body = {
        k: v for k, v in json.loads(json.dumps(data)).items() if k not in ("digest", "signature")
    }
    change(body)
    return HandoffSettings(org_id=CENTRE, signing_key=KEY).seal(body)


def rechained(body: dict[str, Any]) -> None:
    """Hash the package's history again, as a sender rewriting its own history would."""
    previous = None
    for event in body["history"]:
        fields = {
            **event,
            "case_id": body["case"]["chain_id"],
            "at": datetime.fromisoformat(event["at"]),
        }
        event["hash"] = previous = event_hash(previous, fields)
    body["case"]["head"] = previous


def deadlines_of(engine: Engine, case_id: int) -> list[tuple[Any, ...]]:
    return [(*_dates(d), d.unit, d.length, d.estimate, d.basis) for d in engine.deadlines(case_id)]


def _dates(d: Any) -> tuple[Any, ...]:
    return (d.kind, d.party, d.status, d.starts_on, d.due, d.provisional)


def through_arbitration(engine: Engine) -> int:
    """Mediation extended, then failed; arbitration accepted, the respondent's defence period
    run out, the award limit extended, the arbitration suspended and resumed."""
    case = engine.open_case(make_intake(), at=at(2025, 3, 3))
    engine.fire(
        case.id, "refer_to_peoples_mediation", data={"org_id": "芙蓉区调委会"}, at=at(2025, 3, 3)
    )
    engine.fire(case.id, "extend_mediation", data={"by": "both", "days": 10}, at=at(2025, 3, 10))
    engine.fire(case.id, "fail_mediation", data={"reason": "no_agreement"}, at=at(2025, 3, 20))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 21))
    engine.fire(
        case.id,
        "accept_arbitration",
        data={"respondent_served_on": "2025-03-24"},
        at=at(2025, 3, 24),
    )
    assert engine.tick(at(2025, 4, 10))  # the defence period (10 days) ran out
    engine.fire(case.id, "extend_award_limit", data={"days": 15}, at=at(2025, 4, 14))
    engine.fire(case.id, "suspend_arbitration", data={"reason": "鉴定"}, at=at(2025, 4, 15))
    engine.fire(case.id, "resume_arbitration", at=at(2025, 4, 25))
    return case.id


def test_a_case_with_extensions_suspension_and_an_expiry_comes_through_with_its_deadlines(
    db_url: str,
) -> None:
    # The court signs nothing here: the centre accepts its unsigned packages.
    with sender(unsigned_from=(COURT,)) as centre, receiver(db_url) as court_platform:
        case_id = through_arbitration(centre)
        kinds = {d.kind: d for d in centre.deadlines(case_id)}
        assert kinds["award_limit"].length == 45 + 15 + 10  # extended, and 10 days suspended
        assert kinds["mediation_limit"].length == 15 + 10  # extended
        assert any(d.status == "expired" for d in kinds.values())
        package = centre.export_handoff(case_id, to_org=COURT, at=at(2025, 4, 28))
        there = court_platform.import_handoff(package.to_bytes(), at=at(2025, 4, 28)).case_id
        assert snapshot(court_platform, there) == snapshot(centre, case_id)
        assert deadlines_of(court_platform, there) == deadlines_of(centre, case_id)
        assert court_platform.verify(there).ok
        # The court acts on it and hands it back; the centre recomputes in turn.
        court_platform.fire(there, "start_arbitration_mediation", at=at(2025, 4, 29))
        back = court_platform.export_handoff(there, to_org=CENTRE, at=at(2025, 4, 30))
        assert centre.import_handoff(back, at=at(2025, 4, 30)).outcome == "updated"
        assert deadlines_of(centre, case_id) == deadlines_of(court_platform, there)
        assert centre.verify(case_id).ok


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    with sender() as centre:
        data: dict[str, Any] = centre.export_handoff(
            through_arbitration(centre), to_org=COURT, at=at(2025, 4, 28)
        ).data
        return data


def _open(body: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        d for d in body["deadlines"] if d["kind"] == kind and d["status"] == "pending"
    )
    return found


def _later(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def test_an_open_due_date_moved_by_one_day_is_refused(package: dict[str, Any]) -> None:
    def move(body: dict[str, Any]) -> None:
        limit = _open(body, "award_limit")
        limit["due"] = _later(limit["due"], 1)

    due = _open(package, "award_limit")["due"]
    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=r"\(deadlines\)") as refused:
            court_platform.import_handoff(resigned(package, move))
        message = str(refused.value)
        assert "award_limit" in message and due in message and _later(due, 1) in message
        assert "registered holiday schedules" in message
        assert count(court_platform, cases) == 0


def test_a_due_date_called_provisional_is_replaced_by_the_receivers(
    package: dict[str, Any],
) -> None:
    """A prediction explains a few days' difference: the import goes through, the receiver's
    date is stored and the difference logged. It does not explain six weeks."""

    def move(days: int) -> Callable[[dict[str, Any]], None]:
        def change(body: dict[str, Any]) -> None:
            limit = _open(body, "award_limit")
            limit["due"], limit["provisional"] = _later(limit["due"], days), True

        return change

    due = _open(package, "award_limit")["due"]
    with receiver() as court_platform, capture_logs() as logs:
        there = court_platform.import_handoff(resigned(package, move(3))).case_id
        (stored,) = [d for d in court_platform.deadlines(there) if d.kind == "award_limit"]
        assert (stored.due.isoformat(), stored.provisional) == (due, False)
        (logged,) = [e for e in logs if e["event"] == "handoff_deadline_redated"]
        assert (logged["package_due"], logged["due"]) == (_later(due, 3), due)
    with (
        receiver() as court_platform,
        pytest.raises(HandoffRejected, match="more than 31 days apart"),
    ):
        court_platform.import_handoff(resigned(package, move(40)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda body: body["deadlines"].remove(_open(body, "award_limit")),
            "leaves out the deadline|is award_limit",
        ),
        (
            lambda body: body["deadlines"].append(
                {**_open(body, "award_limit"), "kind": "suit_window"}
            ),
            "that its history never started",
        ),
        (
            lambda body: _open(body, "award_limit").update(party="worker-1"),
            "award_limit of worker-1",
        ),
        (
            lambda body: _open(body, "award_limit").update(status="met"),
            "is met in the package and pending in its history",
        ),
        (
            lambda body: _open(body, "award_limit").update(starts_on="2025-03-31"),
            "in the package and award_limit from 2025-03-24 in its history",
        ),
        (
            lambda body: _open(body, "award_limit").update(length=90),
            "length 90 in the package and 70",
        ),
    ],
    ids=["deleted", "added", "party", "status", "start", "length"],
)
def test_deadlines_that_are_not_the_historys_are_refused(
    package: dict[str, Any], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=rf"\(deadlines\).*({message})"):
            court_platform.import_handoff(resigned(package, change))
        assert count(court_platform, cases) == 0


def test_a_closed_deadlines_date_is_history_and_taken_from_the_replay(
    package: dict[str, Any],
) -> None:
    def move(body: dict[str, Any]) -> None:
        closed = next(d for d in body["deadlines"] if d["status"] == "expired")
        closed["due"] = "2031-01-01"

    with receiver() as court_platform:
        there = court_platform.import_handoff(resigned(package, move)).case_id
        stored = next(d for d in court_platform.deadlines(there) if d.status == "expired")
        assert stored.due < date(2026, 1, 1)


# -- case numbers ---------------------------------------------------------------------------------


def _number_change(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Edit the arbitration number in the event that issued it and in the attributes alike, and
    hash the history again: only the numbering rule can tell."""

    def change(body: dict[str, Any]) -> None:
        issuing = next(
            e
            for e in body["history"]
            if e["data"].get("case_number", {}).get("key") == "arbitration"
        )
        edit(issuing["data"]["case_number"])
        body["case"]["attributes"]["case_numbers"] = [
            e["data"]["case_number"] for e in body["history"] if "case_number" in e["data"]
        ]
        rechained(body)

    return change


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda n: n.update(
                prefix="京110101劳人仲案字", number="京110101劳人仲案字〔2025〕第1号"
            ),
            "has the prefix '京110101劳人仲案字'",
        ),
        (
            lambda n: n.update(number="湘430102劳人仲案字2025年第1号"),
            "is not laid out by its rule",
        ),
        (
            # The text still names 第1号; "2" is in 2025 and 430102, so a substring check passes.
            lambda n: n.update(seq=2),
            "is not laid out by its rule 'arbitration' from its prefix, year 2025 and sequence "
            "number 2",
        ),
        (lambda n: n.update(event_seq=2), "is not recorded by the event 2"),
        (lambda n: n.update(label="二审案号"), "is labelled"),
        (lambda n: n.update(key="court_appeal"), "issue no 'court_appeal' number"),
        (lambda n: n.update(issued_on="2025-01-02"), "not on the day of its event"),
    ],
    ids=["prefix", "layout", "seq", "event", "label", "rule", "day"],
)
def test_a_forged_case_number_is_refused(
    edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    with sender() as centre:
        data = centre.export_handoff(case_in_arbitration(centre), to_org=COURT).data
    forged = resigned(data, _number_change(edit))
    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=r"\(numbers\)") as refused:
            court_platform.import_handoff(forged)
        assert message in str(refused.value)
        assert count(court_platform, cases) == 0


def test_a_receiver_checks_numbers_against_the_senders_rules() -> None:
    """The commission numbers under its own prefix: a receiver that knows only the national
    rule refuses the number, and takes it in once it is given the commission's rule."""
    commission = [NumberingRule("arbitration", "仲裁案号", ("accept_arbitration",), "长劳人仲案字")]
    with sender(numbering=commission) as centre:
        data = centre.export_handoff(case_in_arbitration(centre), to_org=COURT).data
    assert data["case"]["attributes"]["case_numbers"][-1]["number"] == "长劳人仲案字〔2025〕第1号"
    with receiver() as court_platform, pytest.raises(HandoffRejected, match="numbering rules"):
        court_platform.import_handoff(data)
    with receiver(numbering=commission) as court_platform:
        assert court_platform.import_handoff(data).outcome == "created"


# -- calendars ------------------------------------------------------------------------------------


def _award_in_2027(engine: Engine) -> int:
    case = engine.open_case(make_intake(), at=at(2026, 12, 7))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2026, 12, 7))
    engine.fire(case.id, "accept_arbitration", data={}, at=at(2026, 12, 7))
    engine.fire(case.id, "issue_award", data=FINAL_AWARD, at=at(2027, 1, 20))
    return case.id


def test_a_redated_provisional_deadline_comes_through_on_either_calendar(db_url: str) -> None:
    """The centre registered the 2027 notice after the award: its windows were re-dated
    (``deadline_redated``). A court that has the notice computes the same dates; one that has
    not computes provisional dates on its prediction and stores those."""
    with sender() as centre:
        case_id = _award_in_2027(centre)
        centre.register_holiday_schedule(2027, **NOTICE_2027, at=at(2027, 1, 26))
        assert any(e.trigger == "deadline_redated" for e in centre.history(case_id))
        package = centre.export_handoff(case_id, to_org=COURT, at=at(2027, 1, 27))
        theirs = [_dates(d) for d in centre.deadlines(case_id)]
    with receiver(db_url) as court_platform:
        court_platform.register_holiday_schedule(2027, **NOTICE_2027, at=at(2027, 1, 26))
        there = court_platform.import_handoff(package, at=at(2027, 1, 27)).case_id
        # The same dates; the open ones the same in every respect. The court computed on the
        # notice from the start, so the award limit (met on 2027-01-20, 2027 then predicted
        # at the centre) is not provisional here, and a December period's basis is
        # "registered" (it names the next year's schedule).
        ours = [_dates(d) for d in court_platform.deadlines(there)]
        assert [d[:5] for d in ours] == [d[:5] for d in theirs]
        assert [d for d in ours if d[2] == "pending"] == [d for d in theirs if d[2] == "pending"]
        assert court_platform.verify(there).ok
    with receiver() as court_platform, capture_logs() as logs:
        there = court_platform.import_handoff(package, at=at(2027, 1, 27)).case_id
        (window,) = [
            d
            for d in court_platform.deadlines(there)
            if d.kind == "suit_window" and d.status == "pending"
        ]
        # The prediction's conservative date for the worker's window, not the notice's 02-12.
        assert (window.due, window.provisional, window.basis) == (
            date(2027, 2, 15),
            True,
            "predicted",
        )
        logged = {
            (e["kind"], e["package_due"], e["due"])
            for e in logs
            if e["event"] == "handoff_deadline_redated"
        }
        assert ("suit_window", "2027-02-12", "2027-02-15") in logged


def test_a_guizhou_case_with_relative_reminders_comes_through(db_url: str) -> None:
    """The Guizhou plugin's reminders fall three working days before the windows they precede;
    its settlement ran out (an agreed date) before the agreement was signed."""
    region = "520102"
    with sender(plugins=[GuizhouPlugin()]) as centre:
        case = centre.open_case(sample_intake(region=region), at=at(2025, 3, 3))
        steps: list[tuple[date, str, dict[str, Any]]] = [
            (date(2025, 3, 3), "refer_to_negotiation", {}),
            (date(2025, 3, 4), "accept_negotiation", {}),
            (date(2025, 3, 5), "sign_settlement", {"perform_by": "2025-03-14"}),
            (date(2025, 3, 17), "report_breach", {}),
            (date(2025, 3, 17), "request_union_guidance", {"union_org": "南明区总工会"}),
            (
                date(2025, 3, 19),
                "refer_to_peoples_mediation",
                {"org_id": "花果园街道人民调解委员会"},
            ),
            (
                date(2025, 3, 28),
                "sign_agreement",
                {"effective_on": "2025-03-28", "perform_by": "2025-05-30"},
            ),
        ]
        for day, trigger, data in steps:
            centre.fire(case.id, trigger, data=data, at=at(day.year, day.month, day.day, 10))
        reminders = [d for d in centre.deadlines(case.id) if d.kind.endswith("_reminder")]
        assert len(reminders) == 2 and all(d.length is None for d in reminders)
        package = centre.export_handoff(case.id, to_org=COURT, at=at(2025, 3, 31))
        theirs = deadlines_of(centre, case.id)
    with receiver(db_url, plugins=[GuizhouPlugin()]) as court_platform:
        there = court_platform.import_handoff(package, at=at(2025, 3, 31)).case_id
        assert deadlines_of(court_platform, there) == theirs
        assert court_platform.verify(there).ok


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda data: data.update(reason="bribed"), "field 'reason' does not parse"),
        (lambda data: data.update(days=3), "a field the trigger does not take"),
    ],
    ids=["value", "field"],
)
def test_a_rewritten_history_that_does_not_replay_is_refused(
    edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    """A trusted sender rewrites an event's data and hashes its history again: the chain holds,
    the replay does not."""

    def change(body: dict[str, Any]) -> None:
        edit(next(e for e in body["history"] if e["trigger"] == "fail_mediation")["data"])
        rechained(body)

    with sender() as centre:
        data = centre.export_handoff(case_in_arbitration(centre), to_org=COURT).data
    with receiver() as court_platform:
        with pytest.raises(
            HandoffRejected, match=r"\(deadlines\).*event 3 \(fail_mediation\)"
        ) as e:
            court_platform.import_handoff(resigned(data, change))
        assert message in str(e.value)
        assert count(court_platform, cases) == 0


# -- fields the history gives: re-datings ---------------------------------------------------------


def _appended(
    body: dict[str, Any], trigger: str, data: dict[str, Any], when: str, role: str = "system"
) -> None:
    """Append an event with no transition, as a re-dating or an expiry records it."""
    last = body["history"][-1]
    body["history"].append(
        {
            **last,
            "seq": last["seq"] + 1,
            "trigger": trigger,
            "source": last["dest"],
            "actor_id": role,
            "actor_role": role,
            "at": when,
            "data": data,
            "warnings": [],
        }
    )


def _sealed_again(body: dict[str, Any]) -> None:
    """Hash the history again and bring the case's version and head with it."""
    rechained(body)
    body["case"]["version"] = len(body["history"])
    body["case"]["updated_at"] = body["history"][-1]["at"]


def test_a_forged_held_redating_cannot_park_a_deadline() -> None:
    """A re-dating ``held`` keeps the date the deadline had before it: a sender cannot hold
    an award limit to 2199, whether the receiver's date is official or predicted."""
    with sender() as centre:
        data = centre.export_handoff(case_in_arbitration(centre), to_org=COURT).data
    due = _open(data, "award_limit")["due"]

    def park(body: dict[str, Any]) -> None:
        entry = {"kind": "award_limit", "party": None, "old_due": due}
        entry.update(official_due=due, new_due="2199-12-31", held=True)
        _appended(body, "deadline_redated", {"deadlines": [entry]}, body["exported_at"])
        _sealed_again(body)
        _open(body, "award_limit").update(due="2199-12-31")

    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=r"\(deadlines\).*award_limit") as refused:
            court_platform.import_handoff(resigned(data, park))
        assert due in str(refused.value)
        assert count(court_platform, cases) == 0

    # 2027 is predicted on both sides: the window is provisional, and the held date is new.
    with sender() as centre:
        case_id = _award_in_2027(centre)
        data = centre.export_handoff(case_id, to_org=COURT, at=at(2027, 1, 27)).data
    window = _open(data, "suit_window")

    def hold(body: dict[str, Any]) -> None:
        entry = {"kind": "suit_window", "party": window["party"], "old_due": window["due"]}
        entry.update(official_due="2027-02-12", new_due="2027-12-31", held=True)
        _appended(body, "deadline_redated", {"deadlines": [entry]}, "2027-01-26T02:00:00+00:00")
        _sealed_again(body)

    with receiver() as court_platform:
        with pytest.raises(
            HandoffRejected, match="not the one it had before the re-dating"
        ) as refused:
            court_platform.import_handoff(resigned(data, hold), at=at(2027, 1, 27))
        assert "2027-12-31" not in str(refused.value)
        assert count(court_platform, cases) == 0


# -- times ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def in_arbitration() -> dict[str, Any]:
    """A case in arbitration, exported on 2025-03-14 (its defence period runs to 03-28)."""
    with sender() as centre:
        data: dict[str, Any] = centre.export_handoff(
            case_in_arbitration(centre), to_org=COURT, at=at(2025, 3, 14)
        ).data
        return data


def _dated(seq: int, when: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["history"][seq - 1]["at"] = when
        _sealed_again(body)

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_dated(3, "2019-01-01T00:00:00+00:00"), "event 3 (fail_mediation) is dated before the"),
        (_dated(4, "2025-03-09T00:00:00+00:00"), "event 4 (apply_arbitration) is dated before"),
        (_dated(5, "2031-06-02T01:00:00+00:00"), "is dated after the package was exported"),
        (
            lambda body: (
                body.update(exported_at="2031-06-03T00:00:00+00:00")
                or _dated(5, "2031-06-02T01:00:00+00:00")(body)
            ),
            "event 5 (accept_arbitration) is dated after this import",
        ),
    ],
    ids=["before-opening", "out-of-order", "after-export", "after-import"],
)
def test_event_times_out_of_their_order_are_refused(
    in_arbitration: dict[str, Any], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=r"\(times\)") as refused:
            court_platform.import_handoff(resigned(in_arbitration, change), at=at(2025, 3, 14))
        assert message in str(refused.value)
        assert count(court_platform, cases) == 0


def _expired(due: str, when: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        named = {"id": 4, "kind": "defence_due", "party": None, "due": due}
        _appended(body, "deadline_expired", {"expired_deadline": named}, when)
        _sealed_again(body)
        _open(body, "defence_due").update(status="expired")

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _expired("2025-03-28", "2025-03-14T00:30:00+00:00"),
            "expires the deadline defence_due before its due day 2025-03-28 ended",
        ),
        (
            _expired("2025-03-10", "2025-03-14T00:30:00+00:00"),
            "names the deadline defence_due as due on another day than the 2025-03-28",
        ),
    ],
    ids=["early", "named-due"],
)
def test_an_expiry_before_the_due_day_is_refused(
    in_arbitration: dict[str, Any], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=r"\(deadlines\)") as refused:
            court_platform.import_handoff(resigned(in_arbitration, change), at=at(2025, 3, 14))
        assert message in str(refused.value)
        assert count(court_platform, cases) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda body: body.update(exported_at="2025-03-14T00:00:00"),
            "a time without a time zone",
        ),
        (_dated(5, "9999-12-31T20:00:00+00:00"), "a date outside the years 1900 to 2199"),
        (
            lambda body: body["case"].update(knew_of_infringement_on="0001-01-01"),
            "a date outside the years 1900 to 2199",
        ),
    ],
    ids=["naive", "year-9999", "year-1"],
)
def test_times_without_a_zone_or_out_of_range_are_refused(
    in_arbitration: dict[str, Any], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=r"\(format\)") as refused:
            court_platform.import_handoff(resigned(in_arbitration, change), at=at(2025, 3, 14))
        assert message in str(refused.value)
        assert count(court_platform, cases) == 0


# -- case fields ----------------------------------------------------------------------------------


@pytest.mark.parametrize("limitation", ["2199-12-31", "2025-01-01", None])
def test_the_limitation_period_is_the_replays(
    in_arbitration: dict[str, Any], limitation: str | None
) -> None:
    """A calendar decides the limitation period: the receiver stores its own, whatever the
    package says (here the same calendar: the sender's)."""
    real = in_arbitration["case"]["limitation_expires_on"]
    forged = resigned(
        in_arbitration, lambda body: body["case"].update(limitation_expires_on=limitation)
    )
    with receiver() as court_platform:
        there = court_platform.import_handoff(forged, at=at(2025, 3, 14)).case_id
        assert court_platform.get(there).limitation_expires_on.isoformat() == real
        assert court_platform.verify(there).ok


def _attributes(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["case"]["attributes"].update(values)


@pytest.mark.parametrize(
    ("change", "check", "message"),
    [
        (_attributes(settled=True), "chain", "attributes are not the ones its history gives"),
        (
            _attributes(limitation_interruptions=["2099-01-01"]),
            "chain",
            "'limitation_interruptions'",
        ),
        (_attributes(limitation_suspended_on="2025-03-01"), "chain", "'limitation_suspended_on'"),
        (_attributes(respondent_served_on="2030-01-01"), "chain", "'respondent_served_on'"),
        (
            lambda body: body["case"]["attributes"].pop("limitation_interruptions"),
            "chain",
            "'limitation_interruptions'",
        ),
        (_attributes(intake={"note": "x"}), "intake", "plugins declare for its region"),
        (_attributes(collective=True), "intake", "ten or more workers and 3 to 5"),
        (_attributes(representatives=["甲", "乙", "丙"]), "intake", "belong to a collective"),
        (
            lambda body: body["case"].update(received_on="2025-03-01"),
            "intake",
            "receipt date is not the one its open_case event records",
        ),
        (
            lambda body: body["case"].update(opened_at="2001-01-01T00:00:00+00:00"),
            "intake",
            "not opened at the time of its open_case",
        ),
        (
            lambda body: body["case"].update(knew_of_infringement_on="2025-03-04"),
            "intake",
            "known only after the receipt date",
        ),
        (
            lambda body: body["case"].update(updated_at="2025-03-13T00:00:00+00:00"),
            "chain",
            "last change is not the time of its last event",
        ),
        (
            lambda body: body["documents"][0].update(case_version=99),
            "documents",
            "rendered for version 99 of a case that has 5",
        ),
        (
            lambda body: body["documents"][0].update(rendered_at="2025-03-15T00:00:00+00:00"),
            "documents",
            "after the export",
        ),
    ],
    ids=[
        "extra-key",
        "interruptions",
        "suspended",
        "recorded-field",
        "dropped-key",
        "intake",
        "collective",
        "representatives",
        "received-on",
        "opened-at",
        "knew-of",
        "updated-at",
        "document-version",
        "document-time",
    ],
)
def test_case_fields_the_history_does_not_give_are_refused(
    in_arbitration: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    check: str,
    message: str,
) -> None:
    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=rf"\({check}\)") as refused:
            court_platform.import_handoff(resigned(in_arbitration, change), at=at(2025, 3, 14))
        assert message in str(refused.value)
        assert count(court_platform, cases) == 0


def test_a_closed_cases_resolution_is_the_historys() -> None:
    with sender() as centre:
        case = centre.open_case(make_intake(), at=at(2025, 3, 3))
        centre.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 4))
        centre.fire(case.id, "withdraw", data={"by": "worker"}, at=at(2025, 3, 5))
        data = centre.export_handoff(case.id, to_org=COURT, at=at(2025, 3, 6)).data
    assert data["case"]["resolution"] == "withdrawn"
    forged = resigned(data, lambda body: body["case"].update(resolution="settled"))
    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=r"\(chain\).*the history leads to"):
            court_platform.import_handoff(forged, at=at(2025, 3, 6))
        assert count(court_platform, cases) == 0
        there = court_platform.import_handoff(data, at=at(2025, 3, 6)).case_id
        assert court_platform.get(there).resolution == "withdrawn"


# -- cost -----------------------------------------------------------------------------------------


def test_a_history_longer_than_the_cap_is_refused_before_the_schema(
    in_arbitration: dict[str, Any],
) -> None:
    def lengthen(body: dict[str, Any]) -> None:
        last = body["history"][-1]
        body["history"] += [{**last, "seq": last["seq"] + 1 + i} for i in range(MAX_PACKAGE_EVENTS)]

    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=r"\(format\).* more than the 2000 a package"):
            court_platform.import_handoff(resigned(in_arbitration, lengthen))
        assert count(court_platform, cases) == 0


def test_a_history_here_already_is_answered_without_a_replay(
    in_arbitration: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiver() as court_platform:
        there = court_platform.import_handoff(in_arbitration, at=at(2025, 3, 14)).case_id

        def replayed(*_: Any) -> None:
            pytest.fail("a history here already was replayed")

        monkeypatch.setattr(court_platform, "_check_imported", replayed)
        for moved_on in (False, True):  # the same head; then an older one
            if moved_on:
                court_platform.fire(there, "start_arbitration_mediation", at=at(2025, 3, 15))
            again = court_platform.import_handoff(in_arbitration, at=at(2025, 3, 16))
            assert (again.case_id, again.outcome, again.new_events) == (there, "unchanged", 0)


@pytest.mark.parametrize("error", [OverflowError, TypeError, ValueError, KeyError])
def test_an_unforeseen_error_of_a_check_is_a_refusal(
    in_arbitration: dict[str, Any], monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    """Whatever a check meets, the import raises ``HandoffRejected`` with no value of the
    package in its message."""

    def unforeseen(*_: Any) -> None:
        raise error("张三 430102199001011234")

    monkeypatch.setattr("mediation_flow.engine.importing.check_times", unforeseen)
    with receiver() as court_platform:
        with pytest.raises(HandoffRejected, match=r"\(format\)") as refused:
            court_platform.import_handoff(in_arbitration, at=at(2025, 3, 14))
        assert error.__name__ in str(refused.value) and "张三" not in str(refused.value)
        assert count(court_platform, cases) == 0


# -- who hands a case over ------------------------------------------------------------------------


def test_only_the_offices_that_take_cases_in_hand_them_over_and_take_them_back() -> None:
    """A mediator of the organisation the case was referred to may export a copy; handing
    the case over (its clocks stop here) and taking it back is for the importing offices."""
    mediator = Actor("m-1", Role.peoples_mediator, org_id="芙蓉区调委会", region="430102")
    officer = Actor("i-1", Role.intake_officer, region="430102")
    with sender() as centre:
        case = centre.open_case(make_intake(), at=at(2025, 3, 3))
        centre.fire(
            case.id,
            "refer_to_peoples_mediation",
            data={"org_id": "芙蓉区调委会"},
            at=at(2025, 3, 3),
        )
        copy = centre.export_handoff(case.id, to_org=COURT, hold=False, actor=mediator)
        assert copy.serial == case.serial
        with pytest.raises(PermissionDenied, match="handed over and taken back by intake"):
            centre.export_handoff(case.id, to_org=COURT, actor=mediator, at=at(2025, 3, 4))
        assert [h["direction"] for h in centre.handoffs(case.id)] == ["copy"]
        centre.export_handoff(case.id, to_org=COURT, actor=officer, at=at(2025, 3, 4))
        with pytest.raises(PermissionDenied, match="handed over and taken back by intake"):
            centre.reclaim(case.id, actor=mediator, at=at(2025, 3, 5))
        assert [h["direction"] for h in centre.handoffs(case.id)] == ["copy", "out"]
        centre.reclaim(case.id, actor=officer, at=at(2025, 3, 5))
        assert [h["direction"] for h in centre.handoffs(case.id)] == ["copy", "out", "reclaim"]


def test_a_receiver_that_trusts_senders_must_know_who_it_is(
    in_arbitration: dict[str, Any],
) -> None:
    elsewhere = resigned(in_arbitration, lambda body: body.update(to_org="某其他法院"))
    careless = HandoffSettings(trusted_keys={CENTRE: KEY.public_key()})
    with Engine("sqlite://", entry_points=False, handoff=careless) as court_platform:
        for package in (elsewhere, in_arbitration):
            with pytest.raises(HandoffRejected, match=r"\(address\).*HandoffSettings\(org_id="):
                court_platform.import_handoff(package, at=at(2025, 3, 14))
        assert count(court_platform, cases) == 0
    with (
        receiver() as court_platform,
        pytest.raises(HandoffRejected, match=r"\(address\).*addressed to '某其他法院'"),
    ):
        court_platform.import_handoff(elsewhere, at=at(2025, 3, 14))


def test_a_package_cannot_make_the_receivers_own_series_jump(package: dict[str, Any]) -> None:
    """A number far ahead in the receiver's own series is stored with its case; the receiver
    keeps numbering its own cases in order, stepping over the numbers stored already."""
    far = 10_000_000

    def ahead(n: dict[str, Any]) -> None:
        n.update(seq=far, number=f"湘430102劳人仲案字〔2025〕第{far}号")

    with receiver() as court:
        result = court.import_handoff(resigned(package, _number_change(ahead)), at=at(2025, 4, 29))
        stored = {n["key"]: n for n in court.get(result.case_id).attributes["case_numbers"]}
        assert stored["arbitration"]["seq"] == far
        own = {
            n["key"]: n for n in court.get(case_in_arbitration(court)).attributes["case_numbers"]
        }
        assert own["arbitration"]["seq"] == 1  # the series did not jump
        shared = [
            key
            for key, number in own.items()
            if key != "arbitration" and key in stored and stored[key]["prefix"] == number["prefix"]
        ]
        assert shared  # the package's mediation number is in the receiver's series too
        for key in shared:
            assert own[key]["seq"] == stored[key]["seq"] + 1  # stepped over the package's
        # Near the imported number, the series steps over it.
        court.advance_numbering("湘430102劳人仲案字", 2025, to=far - 1)
        later = court.get(case_in_arbitration(court)).attributes["case_numbers"]
        arbitration = next(n for n in later if n["key"] == "arbitration")
        assert arbitration["number"] == f"湘430102劳人仲案字〔2025〕第{far + 1}号"
