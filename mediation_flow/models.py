"""Value types of the public API: what goes in (``Intake``, ``Actor``) and what comes out
(``Case``, ``Event``, ``Deadline``), with the enumerations of flow.md.

These are plain immutable values: a ``Case`` is a snapshot of a database row, never a live object.
The database tables are in :mod:`mediation_flow.storage.tables`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mediation_flow.errors import InvalidActor, InvalidIntake

__all__ = [
    "PARTY_ID",
    "SYSTEM",
    "Actor",
    "Case",
    "CaseNumber",
    "Channel",
    "Claim",
    "ClaimKind",
    "Deadline",
    "DeadlineStatus",
    "Event",
    "Intake",
    "IntakeClaim",
    "IntakeParty",
    "Party",
    "PartyKind",
    "PartyRole",
    "Resolution",
    "Role",
    "Unit",
    "canonical_party",
    "parse_intake",
    "party_ids",
    "party_kind_of",
]


class Channel(StrEnum):
    """The five channels of the linkage (flow.md §1)."""

    union = "union"
    peoples = "peoples"
    administrative = "administrative"
    arbitration = "arbitration"
    judicial = "judicial"

    @property
    def label_zh(self) -> str:
        return _CHANNEL_LABELS[self]


_CHANNEL_LABELS = {
    Channel.union: "工会调解",
    Channel.peoples: "人民调解",
    Channel.administrative: "行政调解",
    Channel.arbitration: "仲裁（含仲裁调解）",
    Channel.judicial: "司法（含诉前调解、司法调解、司法确认）",
}


class ClaimKind(StrEnum):
    """Claim kinds (flow.md §5)."""

    wages = "wages"
    work_injury_medical = "work_injury_medical"
    economic_compensation = "economic_compensation"
    damages = "damages"
    social_insurance = "social_insurance"
    working_time_leave = "working_time_leave"
    labour_relationship = "labour_relationship"
    other = "other"

    @property
    def label_zh(self) -> str:
        return _CLAIM_LABELS[self]


_CLAIM_LABELS = {
    ClaimKind.wages: "劳动报酬",
    ClaimKind.work_injury_medical: "工伤医疗费",
    ClaimKind.economic_compensation: "经济补偿",
    ClaimKind.damages: "赔偿金",
    ClaimKind.social_insurance: "社会保险",
    ClaimKind.working_time_leave: "工作时间、休息休假",
    ClaimKind.labour_relationship: "确认劳动关系",
    ClaimKind.other: "其他",
}


#: Claims whose awarded amount decides finality (LDMAL 47(1)); also the payment-order kinds
#: of LDMAL 16.
MONEY_CLAIMS = frozenset(
    {
        ClaimKind.wages,
        ClaimKind.work_injury_medical,
        ClaimKind.economic_compensation,
        ClaimKind.damages,
    }
)


class PartyKind(StrEnum):
    """A party is the worker side or the employer side of the dispute."""

    worker = "worker"
    employer = "employer"


class PartyRole(StrEnum):
    """Who brought the dispute (applicant) and who answers it (respondent)."""

    applicant = "applicant"
    respondent = "respondent"


class Role(StrEnum):
    """Actor roles (flow.md §6)."""

    intake_officer = "intake_officer"
    union_mediator = "union_mediator"
    peoples_mediator = "peoples_mediator"
    administrative_mediator = "administrative_mediator"
    arbitrator = "arbitrator"
    judge = "judge"
    worker = "worker"
    employer = "employer"
    system = "system"


class Resolution(StrEnum):
    """How a ``closed`` case ended (flow.md §2)."""

    performed = "performed"
    settled = "settled"
    withdrawn = "withdrawn"
    out_of_scope = "out_of_scope"
    enforced = "enforced"
    abandoned = "abandoned"


class Unit(StrEnum):
    """How a deadline's length is counted (flow.md §4 "Counting")."""

    calendar_days = "cd"
    working_days = "wd"
    years = "years"
    agreed_date = "agreed"


class DeadlineStatus(StrEnum):
    """``pending``; ``met`` (the act came in time); ``expired``; ``cancelled`` (the case left
    the stage); ``paused`` (the clock stands still, e.g. a suspended arbitration)."""

    pending = "pending"
    met = "met"
    expired = "expired"
    cancelled = "cancelled"
    paused = "paused"


#: Only :meth:`Actor.system` passes this: the system role is never built from a value.
_SYSTEM_KEY = object()
_SCOPE_TEXT = 200
_REGION_SCOPE = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who fires a trigger: an id the host system knows, a role, and optionally an organisation
    and a region scope (an administrative division prefix of ASCII digits, ``"43"`` for Hunan;
    ``None`` for every region).

    Scopes are never empty strings and the ``system`` role (the engine itself, the host's trusted
    code) is built with :meth:`Actor.system` only, never from a role value that could come from
    a user's request; anything else raises ``InvalidActor``."""

    id: str
    role: Role
    org_id: str | None = None
    region: str | None = None
    _key: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _printable(self.id):
            raise InvalidActor(
                "id", f"must be 1 to {_SCOPE_TEXT} printable characters, without spaces around"
            )
        try:
            role = Role(self.role)
        except ValueError:
            raise InvalidActor(
                "role", f"unknown role; one of {', '.join(r.value for r in Role)}"
            ) from None
        if role is Role.system and self._key is not _SYSTEM_KEY:
            raise InvalidActor(
                "role", "the system actor is built with Actor.system(), not from a role value"
            )
        object.__setattr__(self, "role", role)
        if self.org_id is not None and (
            not isinstance(self.org_id, str) or not _printable(self.org_id)
        ):
            raise InvalidActor(
                "org_id",
                f"must be None or 1 to {_SCOPE_TEXT} printable characters, without spaces "
                "around (an empty scope is not 'every organisation')",
            )
        if self.region is not None and (
            not isinstance(self.region, str) or not _REGION_SCOPE.fullmatch(self.region)
        ):
            raise InvalidActor(
                "region",
                "must be None (every region) or a division prefix of 1 to 6 ASCII digits "
                "(an empty scope is not 'every region')",
            )

    @classmethod
    def system(cls, id: str = "system") -> Actor:
        """The all-powerful ``system`` actor: the engine itself and the host's trusted code.
        Never hand it to a user."""
        return cls(id, Role.system, _key=_SYSTEM_KEY)


def _printable(text: str) -> bool:
    return (
        0 < len(text) <= _SCOPE_TEXT
        and text == text.strip()
        and all(ch.isprintable() and ch not in "\u200b\u200c\u200d\u2060\ufeff" for ch in text)
    )


#: The actor of automatic transitions (deadline expiry) and the default actor.
SYSTEM = Actor.system()


@dataclass(frozen=True, slots=True)
class Party:
    """A party of a case as stored; ``repr`` masks identity numbers and phones."""

    kind: PartyKind
    role: PartyRole
    name: str
    id_number: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    #: The party's account in the host system: a worker or employer actor with this id acts
    #: for this party (:mod:`mediation_flow.policy`).
    account: str | None = None
    #: The party's stable id in its case, given at intake: its kind and its number among the
    #: parties of that kind, in intake order (``"worker-1"``, ``"worker-2"``, ``"employer-1"``).
    #: Per-person dates and windows are keyed by it (LDI-1 17: each worker has their own
    #: service date and remedy); a party added later (``add_party``) gets the next number.
    id: str = ""

    def __repr__(self) -> str:
        from mediation_flow.personal_data import mask_value

        id_number = mask_value("id_number", self.id_number)
        phone = mask_value("phone", self.phone)
        return (
            f"Party(id={self.id!r}, kind={self.kind.value!r}, role={self.role.value!r}, "
            f"name={self.name!r}, id_number={id_number!r}, phone={phone!r}, "
            f"account={self.account!r})"
        )


#: A party id: the party's kind and its number among the parties of that kind.
PARTY_ID = re.compile(r"^(worker|employer)-([1-9][0-9]{0,4})$")


def party_ids(kinds: Iterable[PartyKind | str]) -> list[str]:
    """The ids of parties of ``kinds``, in order (:attr:`Party.id`)."""
    seen: dict[str, int] = {}
    ids = []
    for kind in kinds:
        k = PartyKind(kind).value
        seen[k] = seen.get(k, 0) + 1
        ids.append(f"{k}-{seen[k]}")
    return ids


def party_kind_of(key: str) -> str | None:
    """The party kind a per-party key names: a kind itself (the key of cases opened before
    party ids, meaning the first party of that kind) or a party id."""
    if key in ("worker", "employer"):
        return key
    match = PARTY_ID.match(key)
    return match.group(1) if match else None


def canonical_party(key: str) -> str:
    """A per-party key as a party id: ``"worker"`` (cases opened before party ids) is the first
    worker, ``"worker-1"``."""
    return f"{key}-1" if key in ("worker", "employer") else key


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim of a case: its kind (flow.md §5) and the amount claimed."""

    kind: ClaimKind
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Event:
    """One row of a case's append-only history."""

    case_id: int
    seq: int
    trigger: str
    source: str
    dest: str
    actor_id: str
    actor_role: str
    at: datetime
    data: dict[str, Any]
    warnings: tuple[str, ...] = ()
    #: The event's link in the case's hash chain (:mod:`mediation_flow.audit`).
    hash: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Every field, as the event row stores it."""
        return {
            "case_id": self.case_id,
            "seq": self.seq,
            "trigger": self.trigger,
            "source": self.source,
            "dest": self.dest,
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "at": self.at,
            "data": self.data,
            "warnings": list(self.warnings),
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class Deadline:
    """A statutory or agreed time limit of a case.

    ``due`` is the last day on which the act is in time; the deadline expires at the end of that
    day (24:00 Asia/Shanghai).
    """

    id: int
    case_id: int
    kind: str
    party: str | None
    status: DeadlineStatus
    starts_on: date
    due: date
    unit: str
    length: int | None
    #: The due date was computed on a predicted holiday schedule (a year whose State Council
    #: notice is not yet published). ``due`` is then the date the engine acts on: the latest
    #: date a notice could give for a party's window, the earliest for an official's limit;
    #: ``estimate`` is the predicted date, the one to show. Both are re-dated when the year's
    #: schedule is registered (a ``deadline_redated`` event records the change).
    provisional: bool = False
    estimate: date | None = None
    #: Where the schedule of the days it was computed on comes from: ``package`` (the
    #: chinese-calendar package), ``registered`` (a notice registered in the database) or
    #: ``predicted``.
    basis: str = "package"


@dataclass(frozen=True, slots=True)
class CaseNumber:
    """A case number (案号) issued to a case: ``number`` is the text on the documents
    (``湘430102劳人仲案字〔2025〕第12号``), ``key`` the numbering rule that issued it, ``label``
    what it numbers in zh-CN (``仲裁案号``), ``prefix``/``year``/``seq`` its parts."""

    key: str
    label: str
    number: str
    prefix: str
    year: int
    seq: int
    issued_on: date
    event_seq: int

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "number": self.number,
            "prefix": self.prefix,
            "year": self.year,
            "seq": self.seq,
            "issued_on": self.issued_on.isoformat(),
            "event_seq": self.event_seq,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> CaseNumber:
        return cls(
            key=value["key"],
            label=value["label"],
            number=value["number"],
            prefix=value["prefix"],
            year=int(value["year"]),
            seq=int(value["seq"]),
            issued_on=date.fromisoformat(value["issued_on"]),
            event_seq=int(value["event_seq"]),
        )


@dataclass(frozen=True, slots=True)
class Case:
    """A snapshot of one case. Reload it (``engine.get``) to see later changes."""

    id: int
    region: str
    state: str
    state_label: str
    channel: Channel | None
    version: int
    resolution: Resolution | None
    parties: tuple[Party, ...]
    claims: tuple[Claim, ...]
    opened_at: datetime
    updated_at: datetime
    flow_fingerprint: str
    worker_count: int
    is_migrant_worker: bool
    knew_of_infringement_on: date | None
    employment_ended_on: date | None
    received_on: date
    limitation_expires_on: date | None
    attributes: dict[str, Any]
    #: The case's serial, issued at intake: its identity across systems (handoff packages) and
    #: the reference a party uses to look up progress (``Engine.lookup``).
    serial: str = ""
    #: The organisation the case was handed over to (``Engine.export_handoff``), which acts on
    #: it now; None while it runs here.
    handed_over_to: str | None = None

    @property
    def numbers(self) -> tuple[CaseNumber, ...]:
        """Every case number (案号) the case was given, oldest first
        (:mod:`mediation_flow.numbering`)."""
        return tuple(CaseNumber.from_json(n) for n in self.attributes.get("case_numbers", ()))

    def number(self, key: str) -> str | None:
        """The latest case number issued under the numbering rule ``key`` (``"arbitration"``,
        ``"peoples_mediation"``...), or None."""
        return next((n.number for n in reversed(self.numbers) if n.key == key), None)

    def to_json(self, *, clear_text: bool = False) -> dict[str, Any]:
        """The case as JSON-ready data: every field, dates and moments in ISO 8601, amounts
        as text, parties and claims as objects. Identity numbers and phones are masked
        (``430102********1238``) unless ``clear_text``: a host shows those only to an actor
        who may see them (``Engine.export(clear_text=True)`` checks)."""
        from mediation_flow.flow.data import to_json
        from mediation_flow.personal_data import mask_value

        def party(p: Party) -> dict[str, Any]:
            row = {"kind": p.kind.value, "role": p.role.value, "name": p.name,
                   "id_number": p.id_number, "phone": p.phone, "account": p.account}  # fmt: skip
            return row if clear_text else {k: mask_value(k, v) for k, v in row.items()}

        data: dict[str, Any] = to_json(
            {
                "id": self.id,
                "serial": self.serial,
                "region": self.region,
                "state": self.state,
                "state_label": self.state_label,
                "channel": self.channel,
                "version": self.version,
                "resolution": self.resolution,
                "opened_at": self.opened_at,
                "updated_at": self.updated_at,
                "received_on": self.received_on,
                "worker_count": self.worker_count,
                "is_migrant_worker": self.is_migrant_worker,
                "knew_of_infringement_on": self.knew_of_infringement_on,
                "employment_ended_on": self.employment_ended_on,
                "limitation_expires_on": self.limitation_expires_on,
                "flow_fingerprint": self.flow_fingerprint,
                "handed_over_to": self.handed_over_to,
                "numbers": [n.to_json() for n in self.numbers],
                "attributes": self.attributes,
            }
        )
        data["parties"] = [party(p) for p in self.parties]
        data["claims"] = [{"kind": c.kind.value, "amount": str(c.amount)} for c in self.claims]
        return data

    @property
    def is_collective(self) -> bool:
        """Ten or more workers sharing a claim (LDMAL 7)."""
        return self.worker_count >= 10

    @property
    def collective(self) -> bool:
        """A collective dispute, as recorded at intake (``Intake.collective``; LDMAL 7; AR
        62-67): ten or more workers with a common claim, represented by 3-5 representatives,
        heard by a three-arbitrator tribunal with priority and one combined notice."""
        return bool(self.attributes.get("collective"))

    @property
    def terminal(self) -> bool:
        return self.state in ("closed", "archived")


# --- intake -------------------------------------------------------------------------------------

_REGION = re.compile(r"[0-9]{6}")  # ASCII digits only: no full-width, no trailing newline
#: Limits of what a command or an intake may carry (``InvalidIntake``/``InvalidData`` beyond).
MAX_TEXT = 10_000
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16


def json_limit_problem(
    value: Any, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> str | None:
    """Why ``value`` (JSON-like data) is too large or too deeply nested, or None. Walks the
    value without recursion, so a 5,000-deep value is refused, not a ``RecursionError``."""
    size = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return f"nested more than {max_depth} levels deep"
        if isinstance(item, Mapping):
            size += 2
            for key, child in item.items():
                size += len(str(key)) + 4
                if size <= max_bytes and _SURROGATE.search(str(key)):
                    return "not valid Unicode text (it holds a lone surrogate)"
                stack.append((child, depth + 1))
        elif isinstance(item, list | tuple):
            size += 2
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            size += len(item.encode("utf-8", "surrogatepass")) + 2
            if size <= max_bytes and _SURROGATE.search(item):
                return "not valid Unicode text (it holds a lone surrogate)"
        else:
            size += 8
        if size > max_bytes:
            return f"larger than {max_bytes // 1024} KiB"
    return None


def control_character_problem(text: str, *, newlines: bool = False) -> str | None:
    """Why ``text`` may not be stored as given (a control or invisible formatting character),
    or None. ``newlines`` allows line breaks and tabs (free text)."""
    for ch in text:
        if newlines and ch in "\n\r\t":
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") or ch in _INVISIBLE:
            return f"holds the control or invisible character {ch!a}"
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u202a\u202b\u202c\u202d\u202e")
#: First two digits of the mainland, Hong Kong, Macao and Taiwan division codes (GB/T 2260).
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82".split()
)


class IntakeParty(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PartyKind
    role: PartyRole
    name: str = Field(min_length=1, max_length=200)
    id_number: str | None = Field(default=None, max_length=32, repr=False)
    phone: str | None = Field(default=None, max_length=32, repr=False)
    account: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        problem = control_character_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value.strip()

    @field_validator("id_number", "phone", "account")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None:
            problem = control_character_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value


class IntakeClaim(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClaimKind
    amount: Decimal = Field(default=Decimal(0), ge=0, max_digits=14, decimal_places=2)


class Intake(BaseModel):
    """What one-stop intake records about a new dispute.

    ``received_on`` defaults to the date of the ``at`` given to ``open_case``. ``attributes``
    holds anything else the intake desk records (JSON values); the case keeps it under
    ``case.attributes["intake"]``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    parties: tuple[IntakeParty, ...] = Field(min_length=1)
    claims: tuple[IntakeClaim, ...] = Field(min_length=1)
    worker_count: int | None = Field(default=None, ge=1, le=1_000_000)
    is_migrant_worker: bool = False
    employment_ended_on: date | None = None
    knew_of_infringement_on: date | None = None
    received_on: date | None = None
    #: A collective dispute (LDMAL 7; AR 62-67): ten or more workers with a common claim. None:
    #: decided from the number of workers (ten or more).
    collective: bool | None = None
    #: The workers' representatives in a collective dispute, 3 to 5 of them (LDMAL 7; AR 5).
    representatives: tuple[str, ...] = ()
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("region")
    @classmethod
    def _region_code(cls, value: str) -> str:
        if not isinstance(value, str) or not _REGION.fullmatch(value):
            raise ValueError("must be a 6-digit administrative division code such as '430102'")
        if value[:2] not in _PROVINCES:
            raise ValueError(f"{value[:2]!r} is not a province-level division code")
        return value

    @field_validator("employment_ended_on", "knew_of_infringement_on", "received_on")
    @classmethod
    def _plausible_date(cls, value: date | None) -> date | None:
        if value is not None and not date(1950, 1, 1) <= value <= date(2199, 12, 31):
            raise ValueError(f"{value.isoformat()} is outside 1950-2199")
        return value

    @field_validator("attributes")
    @classmethod
    def _json_attributes(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = json_limit_problem(value)
        if problem is not None:
            raise ValueError(problem)
        try:
            json.dumps(value, default=_json_default)
        except (TypeError, ValueError):
            raise ValueError(
                "values must be JSON: text, numbers, true/false, null, lists and objects "
                "(dates and amounts are kept as text)"
            ) from None
        return value

    @model_validator(mode="after")
    def _parties_and_counts(self) -> Intake:
        workers = sum(1 for p in self.parties if p.kind is PartyKind.worker)
        if workers == 0:
            raise ValueError("parties: a labour dispute needs at least one worker party")
        if not any(p.kind is PartyKind.employer for p in self.parties):
            raise ValueError("parties: a labour dispute needs the employer as a party")
        if self.worker_count is not None and self.worker_count < workers:
            raise ValueError(
                f"worker_count: {self.worker_count} is fewer than the {workers} worker parties"
            )
        if any(not r.strip() or len(r) > 200 for r in self.representatives):
            raise ValueError("representatives: each is a name of 1 to 200 characters")
        if self.collective and self.workers < 10:
            raise ValueError(
                f"collective: a collective dispute has ten or more workers (LDMAL 7); this one "
                f"has {self.workers} (give worker_count)"
            )
        if self.collective and not 3 <= len(self.representatives) <= 5:
            raise ValueError(
                "representatives: a collective dispute is brought by 3 to 5 representatives of "
                f"the workers (LDMAL 7; AR 5), not {len(self.representatives)}"
            )
        if self.representatives and not self.is_collective:
            raise ValueError("representatives: only a collective dispute has representatives")
        return self

    @property
    def is_collective(self) -> bool:
        """``collective`` as given, else ten or more workers (LDMAL 7)."""
        return self.collective if self.collective is not None else self.workers >= 10

    @property
    def workers(self) -> int:
        """The number of workers: ``worker_count`` or, if absent, the worker parties."""
        if self.worker_count is not None:
            return self.worker_count
        return sum(1 for p in self.parties if p.kind is PartyKind.worker)


def _json_default(value: Any) -> str:
    if isinstance(value, date | Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def parse_intake(intake: Intake | dict[str, Any]) -> Intake:
    """Validate a plain dict (or pass an ``Intake`` through); raise ``InvalidIntake``."""
    if isinstance(intake, Intake):
        return intake
    if not isinstance(intake, dict):
        raise InvalidIntake("intake", f"expected an Intake or a dict, got {type(intake).__name__}")
    try:
        return Intake.model_validate(intake)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error.get("loc", ())
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(
            "."
        )
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        if not path and ":" in message:
            path, _, message = message.partition(": ")
        raise InvalidIntake(path or "intake", message) from None
