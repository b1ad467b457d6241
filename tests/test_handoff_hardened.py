"""Handoff safe by default: signatures required unless the receiver opts out per sender, the
fields a package carries checked, only the holder continues a case, size and depth limits
before parsing, the seals before the schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mediation_flow import Engine, HandoffRejected, HandoffSettings
from mediation_flow.handoff import MAX_PACKAGE_BYTES
from mediation_flow.storage.repository import cases
from tests.conftest import at
from tests.test_handoff import CENTRE, COURT, case_in_arbitration, centre, count, court


def resealed(data: dict[str, Any], change: Any) -> dict[str, Any]:
    """The package edited by ``change`` and sealed again, unsigned, as its sender would."""
    body = {
        k: v for k, v in json.loads(json.dumps(data)).items() if k not in ("digest", "signature")
    }
    change(body)
    return HandoffSettings(org_id=CENTRE).seal(body)


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    with centre() as sender:
        data: dict[str, Any] = sender.export_handoff(case_in_arbitration(sender), to_org=COURT).data
        return data


def test_an_engine_refuses_unsigned_packages_by_default(package: dict[str, Any]) -> None:
    with Engine("sqlite://", entry_points=False) as receiver:
        with pytest.raises(HandoffRejected, match=r"\(signature\).*not signed"):
            receiver.import_handoff(package)
        assert count(receiver, cases) == 0
    # The opt-out is per sender: another sender's unsigned packages are still refused.
    other = HandoffSettings(org_id=COURT, unsigned_from={"某仲裁委"})
    with (
        Engine("sqlite://", entry_points=False, handoff=other) as receiver,
        pytest.raises(HandoffRejected, match="not signed"),
    ):
        receiver.import_handoff(package)
    with court() as receiver:  # opts out for the centre
        assert receiver.import_handoff(package).outcome == "created"


def test_a_signed_package_from_a_trusted_sender_needs_no_opt_out() -> None:
    key = Ed25519PrivateKey.generate()
    with centre(signing_key=key, unsigned_from=()) as sender:
        data = sender.export_handoff(case_in_arbitration(sender), to_org=COURT).data
    with court(trusted_keys={CENTRE: key.public_key()}, unsigned_from=()) as receiver:
        assert receiver.import_handoff(data).signed_by == CENTRE


def test_an_injected_organisation_is_refused(package: dict[str, Any]) -> None:
    def inject(body: dict[str, Any]) -> None:
        body["case"]["attributes"]["org_id"] = "贵阳市总工会"

    with court() as receiver, pytest.raises(HandoffRejected, match="organisation"):
        receiver.import_handoff(resealed(package, inject))


def test_a_deadline_parked_in_2199_is_refused(package: dict[str, Any]) -> None:
    def park(body: dict[str, Any]) -> None:
        pending = next(d for d in body["deadlines"] if d["status"] == "pending")
        pending["due"] = "2199-12-31"

    with court() as receiver:
        with pytest.raises(HandoffRejected, match=r"\(deadlines\).*2199"):
            receiver.import_handoff(resealed(package, park))
        assert count(receiver, cases) == 0


def test_a_case_number_out_of_range_is_refused() -> None:
    with centre() as sender:
        sender.advance_numbering("湘430102劳人仲案字", 2025, to=2**31 - 10)
        data = sender.export_handoff(case_in_arbitration(sender), to_org=COURT).data
    with court() as receiver, pytest.raises(HandoffRejected, match=r"\(numbers\)"):
        receiver.import_handoff(data)


def test_size_and_depth_are_checked_before_parsing(package: dict[str, Any]) -> None:
    with court() as receiver:
        with pytest.raises(HandoffRejected, match=r"\(size\)"):
            receiver.import_handoff(b" " * (MAX_PACKAGE_BYTES + 1))
        with pytest.raises(HandoffRejected, match="nested too deeply"):
            receiver.import_handoff(b"[" * 100_000 + b"]" * 100_000)
        with pytest.raises(HandoffRejected, match=r"\(size\)"):
            receiver.import_handoff({**package, "extra": "x" * (MAX_PACKAGE_BYTES + 1)})


def test_only_the_holder_continues_a_case() -> None:
    """A copy (hold=False) lets the court read the case; it cannot act for the centre."""
    with centre() as one_stop, court() as court_platform:
        case_id = case_in_arbitration(one_stop)
        copy = one_stop.export_handoff(case_id, to_org=COURT, hold=False, at=at(2025, 3, 14))
        there = court_platform.import_handoff(copy, at=at(2025, 3, 14)).case_id
        court_platform.fire(there, "start_arbitration_mediation", at=at(2025, 3, 17))
        back = court_platform.export_handoff(there, to_org=CENTRE, at=at(2025, 3, 21))
        before = one_stop.get(case_id)
        with pytest.raises(HandoffRejected, match=r"\(holder\)"):
            one_stop.import_handoff(back, at=at(2025, 3, 21))
        assert one_stop.get(case_id) == before
