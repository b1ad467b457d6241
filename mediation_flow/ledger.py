"""The ledger: a database-wide, append-only, hash-linked record of every write that matters,
anchored outside the database by signed checkpoints.

Each case's events are hash-chained already (:mod:`mediation_flow.audit`), but a chain alone
cannot show what needs no hashing: a case deleted with its events, the last events deleted and
the head rolled back, a column edited (region, resolution, deadlines, holds...). The ledger
closes that gap the way transparency logs and ledger databases do (Trillian's signed tree heads,
QLDB digests, immudb's state):

- **Entries.** Every command that writes a case (opening it, a fired trigger or an expiry, an
  import, a hold or its release) inserts one ``mf_ledger`` row in the same transaction: the case
  id, the kind of write, and the *state digest*: SHA-256 over the case's whole stored state after
  the write (every case column, including its event-chain head, the parties, claims and
  deadlines). One row per command, written with the case's update (the same statement on
  PostgreSQL, one executemany for a tick's batch); nothing else on the command path.
- **Sequencing.** A checkpoint (:meth:`Engine.checkpoint <mediation_flow.engine.Engine.checkpoint>`,
  ``mediation-flow checkpoint``) gives the entries not yet sequenced their ``position`` (1, 2,
  3... in insertion order) and ``head = SHA-256(previous head, entry)``, like Trillian's
  sequencer; so commands never contend on a global head.
- **Checkpoints.** The checkpoint is small: the ledger size, its head, when, and an Ed25519
  signature. The operator keeps it outside the database (another system, a file, a notary).
- **Verification.** ``verify --all --checkpoint FILE`` recomputes the chain from the first entry:
  a ledger shorter than the checkpoint was truncated or rolled back; a different head at the
  checkpoint's size means an entry before it was edited, deleted or reordered. Then each case's
  stored state is digested again and compared with its latest entry, and each case an entry
  names must still exist. With the case's own checks (event hashes, replay, columns derived from
  the events), anything written before the checkpoint that is changed afterwards shows.

What a checkpoint cannot do: it vouches for nothing written after it (an attacker with write
access may append forged entries after the last checkpoint: take checkpoints often and keep them
apart from the database), and it does not stop an edit, it only shows one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from mediation_flow.errors import MediationFlowError
from mediation_flow.models import Claim, Party
from mediation_flow.records import DEADLINE_FIELDS, CaseRecord, DeadlineRecord
from mediation_flow.storage.tables import LedgerRow

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "entry_head",
    "state_digest",
]

ledger = LedgerRow.__table__  # type: ignore[attr-defined]
_INSERT = insert(ledger)

#: The case columns a state digest covers (every stored column but the id).
CASE_COLUMNS = (
    "region",
    "state",
    "version",
    "flow_fingerprint",
    "resolution",
    "worker_count",
    "is_migrant_worker",
    "knew_of_infringement_on",
    "employment_ended_on",
    "received_on",
    "limitation_expires_on",
    "opened_at",
    "updated_at",
    "attributes",
    "event_hash",
    "serial",
    "chain_id",
    "held_by",
    "held_since",
)
_DEADLINE_COLUMNS = DEADLINE_FIELDS
_CENT = Decimal("0.01")
#: A checkpoint file is a few hundred bytes; anything much larger is not one.
MAX_CHECKPOINT_BYTES = 4096


class CheckpointError(MediationFlowError, ValueError):
    """A checkpoint cannot be made (no signing key) or read (not a checkpoint, a bad
    signature, another key). Says what to do."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.quantize(_CENT))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _canonical(value: Any) -> bytes:
    return json.dumps(
        _plain(value), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.quantize(_CENT))
    raise TypeError(f"{type(value).__name__} is not JSON")


#: The state digest's encoder: enumerations are text (StrEnum), dates ISO, amounts to the cent.
_encode = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
).encode


def state_digest(
    case: CaseRecord,
    parties: Iterable[Party],
    claims: Iterable[Claim | Any],
    deadlines: Iterable[DeadlineRecord],
) -> str:
    """SHA-256 over a case's whole stored state: its columns, parties, claims and deadlines
    (deadline row ids aside: they are the database's, not the case's). On the command path:
    one JSON encoding, no intermediate copies."""
    content = [
        case.id,
        [getattr(case, name) for name in CASE_COLUMNS],
        [[p.kind, p.role, p.name, p.id_number, p.phone, p.account] for p in parties],
        [[c.kind, Decimal(c.amount)] for c in claims],
        sorted(_encode([getattr(d, n) for n in _DEADLINE_COLUMNS]) for d in deadlines),
    ]
    return hashlib.sha256(_encode(content).encode("utf-8")).hexdigest()


def entry_head(previous: str | None, position: int, entry: Mapping[str, Any]) -> str:
    """The ledger head after the entry at ``position``: SHA-256 over the previous head and the
    entry's canonical content."""
    content = [position, entry["case_id"], entry["kind"], entry["digest"], entry["at"]]
    payload = (previous or "").encode("ascii") + b"\n" + _canonical(content)
    return hashlib.sha256(payload).hexdigest()


# -- storage --------------------------------------------------------------------------------------


def entry(case_id: int, kind: str, digest: str, at: datetime) -> dict[str, Any]:
    """A ledger entry's row: on the command path the store writes it with the case's update
    (:meth:`~mediation_flow.storage.repository.Store.save`; one statement with it on
    PostgreSQL, a prebuilt INSERT beside it on SQLite, one executemany for a tick's batch)."""
    return {"case_id": case_id, "kind": kind, "digest": digest, "at": at}


def append(conn: Connection, case_id: int, kind: str, digest: str, at: datetime) -> None:
    """Record a write (one INSERT, inside the command's transaction)."""
    conn.execute(_INSERT, entry(case_id, kind, digest, at))


def stored_digest(conn: Connection, case_id: int) -> str | None:
    """The state digest of the case as stored now (None: no such case), read through
    ``conn`` alone (a migration has no engine)."""
    from mediation_flow.models import ClaimKind, PartyKind, PartyRole
    from mediation_flow.storage.repository import (
        _case_record,
        _deadline_record,
        cases,
        claims,
        deadlines,
        parties,
    )

    row = conn.execute(select(cases).where(cases.c.id == case_id)).first()
    if row is None:
        return None
    case = _case_record(row)
    stored_parties = [
        Party(PartyKind(r.kind), PartyRole(r.role), r.name, r.id_number, r.phone, r.account)
        for r in conn.execute(
            select(parties).where(parties.c.case_id == case_id).order_by(parties.c.position)
        )
    ]
    stored_claims = [
        Claim(ClaimKind(r.kind), r.amount)
        for r in conn.execute(
            select(claims).where(claims.c.case_id == case_id).order_by(claims.c.position)
        )
    ]
    stored_deadlines = [
        _deadline_record(r)
        for r in conn.execute(select(deadlines).where(deadlines.c.case_id == case_id))
    ]
    return state_digest(case, stored_parties, stored_claims, stored_deadlines)


def adopt(conn: Connection, at: datetime) -> int:
    """Give every case without a ledger entry one (kind ``adopt``) recording it as it is now:
    cases stored before the ledger existed. Returns how many."""
    adopted = unledgered_cases(conn)
    for case_id in adopted:
        digest = stored_digest(conn, case_id)
        if digest is not None:
            append(conn, case_id, "adopt", digest, at)
    return len(adopted)


def unledgered_cases(conn: Connection) -> list[int]:
    """Cases with no ledger entry: stored before the ledger existed."""
    from mediation_flow.storage.repository import cases

    have = select(ledger.c.case_id).where(ledger.c.case_id == cases.c.id).exists()
    return [int(r[0]) for r in conn.execute(select(cases.c.id).where(~have).order_by(cases.c.id))]


def sequence(conn: Connection) -> tuple[int, str | None]:
    """Give the entries not yet sequenced their positions and heads, in insertion order;
    returns the ledger's size and head. Inside a write transaction."""
    last = conn.execute(
        select(ledger.c.position, ledger.c.head)
        .where(ledger.c.position.is_not(None))
        .order_by(ledger.c.position.desc())
        .limit(1)
    ).first()
    size, head = (int(last.position), last.head) if last is not None else (0, None)
    pending = conn.execute(
        select(ledger.c.id, ledger.c.case_id, ledger.c.kind, ledger.c.digest, ledger.c.at)
        .where(ledger.c.position.is_(None))
        .order_by(ledger.c.id)
    ).all()
    changes = []
    for row in pending:
        size += 1
        head = entry_head(head, size, dict(row._mapping))
        changes.append({"b_id": row.id, "position": size, "head": head})
    if changes:
        conn.execute(
            update(ledger)
            .where(ledger.c.id == bindparam("b_id"))
            .values(position=bindparam("position"), head=bindparam("head")),
            changes,
        )
    return size, head


def entries(conn: Connection) -> list[Any]:
    """Every ledger row: the sequenced ones in position order, then the rest in insertion
    order."""
    rows = conn.execute(
        select(
            ledger.c.id,
            ledger.c.case_id,
            ledger.c.kind,
            ledger.c.digest,
            ledger.c.at,
            ledger.c.position,
            ledger.c.head,
        ).order_by(ledger.c.position.is_(None), ledger.c.position, ledger.c.id)
    ).all()
    return list(rows)


def latest_digest(conn: Connection, case_id: int) -> str | None:
    """The state digest of the case's latest ledger entry, or None."""
    row = conn.execute(
        select(ledger.c.digest)
        .where(ledger.c.case_id == case_id)
        .order_by(ledger.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else str(row.digest)


def number_rows(conn: Connection, case_id: int) -> list[str]:
    """The case numbers stored for the case (``mf_case_number``)."""
    from mediation_flow.storage.repository import case_numbers

    rows = conn.execute(select(case_numbers.c.number).where(case_numbers.c.case_id == case_id))
    return [str(r.number) for r in rows]


def size(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


# -- checkpoints ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the ledger: ``size`` entries ending in ``head``, at ``at``,
    signed with the Ed25519 key ``key_id`` (its public key is carried along)."""

    size: int
    head: str
    at: str
    key_id: str
    public_key: str
    signature: str

    def body(self) -> dict[str, Any]:
        return {
            "format": "mediation-flow-checkpoint/1",
            "size": self.size,
            "head": self.head,
            "at": self.at,
            "key_id": self.key_id,
            "public_key": self.public_key,
        }

    def to_json(self) -> str:
        """The checkpoint as a small JSON document, one line."""
        return json.dumps(
            {**self.body(), "signature": self.signature}, ensure_ascii=False, sort_keys=True
        )

    @classmethod
    def sign(cls, size: int, head: str, at: datetime, signing_key: Any) -> Checkpoint:
        from mediation_flow.handoff import key_id

        public = signing_key.public_key()
        unsigned = cls(size, head, _plain(at), key_id(public), _public_text(public), "")
        signature = signing_key.sign(_canonical(unsigned.body()))
        return cls(
            size,
            head,
            unsigned.at,
            unsigned.key_id,
            unsigned.public_key,
            base64.b64encode(signature).decode("ascii"),
        )

    @classmethod
    def parse(cls, text: str | bytes, *, expected_key: Any = None) -> Checkpoint:
        """Read a checkpoint and check its signature (against ``expected_key``, a public key,
        when given: a checkpoint signed by another key is refused)."""
        if len(text) > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"not a checkpoint: more than {MAX_CHECKPOINT_BYTES} bytes")
        try:
            data = json.loads(text)
            if data.get("format") != "mediation-flow-checkpoint/1":
                raise ValueError("format")
            checkpoint = cls(
                size=int(data["size"]),
                head=str(data["head"]),
                at=str(data["at"]),
                key_id=str(data["key_id"]),
                public_key=str(data["public_key"]),
                signature=str(data["signature"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CheckpointError(
                "not a mediation-flow checkpoint: print one with 'mediation-flow checkpoint'"
            ) from None
        checkpoint.check_signature(expected_key)
        return checkpoint

    def check_signature(self, expected_key: Any = None) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        from mediation_flow.handoff import key_id

        try:
            public = Ed25519PublicKey.from_public_bytes(
                base64.b64decode(self.public_key, validate=True)
            )
            signature = base64.b64decode(self.signature, validate=True)
        except (ValueError, TypeError):
            raise CheckpointError("the checkpoint's key or signature is malformed") from None
        if key_id(public) != self.key_id:
            raise CheckpointError("the checkpoint's key id does not match its key")
        if expected_key is not None and key_id(expected_key) != self.key_id:
            raise CheckpointError(
                f"the checkpoint is signed by key {self.key_id}, not by this deployment's key "
                f"{key_id(expected_key)}"
            )
        try:
            public.verify(signature, _canonical(self.body()))
        except InvalidSignature:
            raise CheckpointError(
                "the checkpoint's signature does not verify: it was altered"
            ) from None


def _public_text(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def check_ledger(rows: Sequence[Any], checkpoint: Checkpoint | None) -> list[str]:
    """Recompute the ledger's chain over its sequenced entries and hold it against the stored
    heads and ``checkpoint``. Returns the problems."""
    problems: list[str] = []
    head: str | None = None
    sequenced = [r for r in rows if r.position is not None]
    for expected, row in enumerate(sequenced, start=1):
        if row.position != expected:
            problems.append(
                f"ledger entry {expected} is missing (found position {row.position}): entries "
                "were deleted or reordered"
            )
            break
        head = entry_head(head, expected, dict(row._mapping))
        if row.head != head:
            problems.append(
                f"ledger entry {expected} (case {row.case_id}, {row.kind}) does not match its "
                "head: the entry or one before it was edited"
            )
            break
        if checkpoint is not None and expected == checkpoint.size and head != checkpoint.head:
            problems.append(
                f"the ledger's head at the checkpoint's size {checkpoint.size} is not the "
                "checkpoint's: an entry before it was edited, deleted or reordered"
            )
    if checkpoint is not None and len(sequenced) < checkpoint.size:
        problems.append(
            f"the ledger holds {len(sequenced)} sequenced entries, and the checkpoint "
            f"{checkpoint.size}: the ledger was truncated or rolled back"
        )
    return problems
