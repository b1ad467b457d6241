"""The rows the engine stores, built from the models: parties at intake and added later,
events, case numbers, and the snapshot an idempotent retry returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from functools import partial
from typing import Any

from mediation_flow.handoff import Contents
from mediation_flow.models import CaseNumber, Event, Intake, Party, PartyKind
from mediation_flow.personal_data import (
    check_credit_code,
    check_identity_number,
    check_intake_field,
    check_phone,
)
from mediation_flow.records import CaseRecord


def snapshot(case: CaseRecord) -> dict[str, Any]:
    """The result an idempotent retry returns."""
    return {
        "state": case.state,
        "version": case.version,
        "resolution": case.resolution,
        "attributes": case.attributes,
        "updated_at": case.updated_at.isoformat(),
        "limitation_expires_on": (
            case.limitation_expires_on.isoformat() if case.limitation_expires_on else None
        ),
    }


def intake_party_rows(intake: Intake, today: date) -> list[dict[str, Any]]:
    """The parties as stored, their identity numbers and phones checked and normalised: a
    worker's identity number (GB 11643), an employer's unified social credit code (GB 32100)."""
    rows = []
    for i, p in enumerate(intake.parties):
        id_number = p.id_number
        if id_number is not None:
            check: Callable[[str], str] = (
                partial(check_identity_number, today=today)
                if p.kind is PartyKind.worker
                else check_credit_code
            )
            id_number = check_intake_field(f"parties[{i}].id_number", id_number, check)
        phone = p.phone
        if phone is not None:
            phone = check_intake_field(f"parties[{i}].phone", phone, check_phone)
        rows.append(
            {
                "position": i,
                "kind": p.kind,
                "role": p.role,
                "name": p.name,
                "id_number": id_number,
                "phone": phone,
                "account": p.account,
            }
        )
    return rows


def added_party_rows(after: int, added: Iterable[Party]) -> list[dict[str, Any]]:
    """The mf_party rows of parties added after intake, positioned after the ``after`` ones."""
    return [
        {
            "position": after + i,
            "kind": p.kind,
            "role": p.role,
            "name": p.name,
            "id_number": None,
            "phone": None,
            "account": p.account,
        }
        for i, p in enumerate(added)
    ]


def event_rows(case_id: int, events: Iterable[Event]) -> list[dict[str, Any]]:
    return [{**e.as_dict(), "case_id": case_id} for e in events]


def number_row(case_id: int, number: CaseNumber, issued_at: datetime) -> dict[str, Any]:
    """The mf_case_number row of an issued number."""
    return {
        "case_id": case_id,
        "key": number.key,
        "prefix": number.prefix,
        "year": number.year,
        "seq": number.seq,
        "number": number.number,
        "issued_at": issued_at,
    }


def number_rows(case_id: int, contents: Contents) -> list[dict[str, Any]]:
    """The rows of the numbers a package brings, each issued when its event happened."""
    by_seq = {e.seq: e for e in contents.events}
    return [number_row(case_id, n, by_seq[n.event_seq].at) for n in contents.numbers]
