r"""Handoff packages: a case handed from one system to another (a one-stop centre to the court's
mediation platform for delegated mediation, and back) as one self-checking JSON file.

A package (format ``mediation_flow.handoff``, version :data:`FORMAT_VERSION`; the JSON Schema is
``docs/reference/handoff-package.schema.json``) holds the case, its parties and claims, its whole
history with the hash of every event, its deadlines and the metadata of the documents rendered
for it.
It is sealed by:

- a **digest**: SHA-256 of the package's canonical JSON without the ``digest`` and ``signature``
  members: object keys sorted by code point, no insignificant whitespace, strings in UTF-8 with
  only the escapes JSON requires (``\"``, ``\\``, control characters as ``\n`` or ``\u00XX``),
  integers only (amounts are strings). The file is written in that form, so a changed byte
  anywhere changes the digest or breaks the form;
- an optional **signature**: Ed25519 over the same bytes, by the sending organisation's key
  (:class:`HandoffSettings`). The receiver holds only the sender's public key;
- the case's own **hash chain** (:mod:`mediation_flow.audit`): every event's hash is checked
  against its content and the previous hash, the chain's head against the case, the intake digest
  against the parties and claims, and the history is replayed through the flow to the state.

The receiving engine (``Engine.import_handoff``) checks all three before it writes anything,
checks each case number against the numbering rule that issues it (:func:`check_numbers`),
recomputes the case's deadlines from the history on its own calendar and compares them with the
package's (:func:`recompute_deadlines`), and then writes the case, with its own deadlines, in
one transaction. The case's serial is its identity across systems:
importing a package whose case is already here with the same history does nothing; a package
that continues the history here (the case comes back with more events) brings the new events;
a package whose history departs from the one here is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mediation_flow.calendar import Calendar
from mediation_flow.errors import FlowDefinitionError, HandoffRejected
from mediation_flow.flow.compiler import CompiledFlow
from mediation_flow.flow.data import to_json
from mediation_flow.models import (
    CaseNumber,
    Claim,
    ClaimKind,
    DeadlineStatus,
    Event,
    Party,
    PartyKind,
    PartyRole,
)
from mediation_flow.numbering import Numbering
from mediation_flow.records import CaseRecord, DeadlineRecord
from mediation_flow.replay import (
    DeadlineDifference,
    ReplayError,
    compare_deadlines,
    deadline_rows,
    replay_deadlines,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Contents",
    "HandoffPackage",
    "HandoffResult",
    "HandoffSettings",
    "canonical_bytes",
    "check_intake",
    "check_numbers",
    "check_times",
    "load_package",
    "package_body",
    "parse_package",
    "recompute_deadlines",
    "schema",
]

FORMAT = "mediation_flow.handoff"
FORMAT_VERSION = 1
_SHANGHAI = ZoneInfo("Asia/Shanghai")
_SEALS = ("digest", "signature")


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON form the digest and signature are computed over."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def _body(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in _SEALS}


def _key_source(key: Any) -> Any:
    """PEM text or a PEM file's path as bytes; anything else as it is."""
    if isinstance(key, Path):
        return key.read_bytes()
    if isinstance(key, str):
        if "-----BEGIN" not in key and Path(key).is_file():
            return Path(key).read_bytes()
        return key.encode("ascii", errors="replace")
    return key


def _load_key(key: Any, *, private: bool) -> Any:
    """An Ed25519 key from a key object, PEM (text, bytes or a file's path) or 32 raw bytes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    cls = Ed25519PrivateKey if private else Ed25519PublicKey
    if isinstance(key, cls):
        return key
    key = _key_source(key)
    loaded: Any = None
    if isinstance(key, bytes):
        try:
            if len(key) == 32:
                loaded = (
                    Ed25519PrivateKey.from_private_bytes(key)
                    if private
                    else Ed25519PublicKey.from_public_bytes(key)
                )
            elif private:
                loaded = serialization.load_pem_private_key(key, password=None)
            else:
                loaded = serialization.load_pem_public_key(key)
        except (ValueError, TypeError):
            loaded = None
    if isinstance(loaded, cls):
        return loaded
    what = (
        "signing_key must be an Ed25519 private"
        if private
        else "a trusted key must be an Ed25519 public"
    )
    raise TypeError(
        f"{what} key: a cryptography {cls.__name__}, its PEM (text, bytes or a file path) "
        "or its 32 raw bytes"
    )


def key_id(public_key: Any) -> str:
    """A short fingerprint of a public key: the first 16 hex digits of SHA-256 of its raw
    bytes."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class HandoffSettings:
    """A deployment's side of the handoff: who it is and which keys it signs and trusts.

    ``org_id`` names this system's organisation in the packages it sends (``from_org``).
    ``signing_key`` (optional) is its Ed25519 private key: packages it exports are signed.
    ``trusted_keys`` maps a sending organisation to its Ed25519 public key: a package signed by
    a listed organisation must verify with that key; one signed by an unlisted organisation is
    refused. Unsigned packages are refused (an unsigned package proves nothing about who made
    it: its digest and hash chain hold no secret), except from the organisations in
    ``unsigned_from``, a receiver's opt-out per sender; ``require_signature=False`` accepts them
    from every sender (a test bed, never production) and ``True`` refuses them from every
    sender. Keys are cryptography key objects, PEM text or bytes, a PEM file's path, or 32 raw
    bytes.

    Generate a key pair with ``mediation-flow handoff keygen``.
    """

    org_id: str | None = None
    signing_key: Any = None
    trusted_keys: Mapping[str, Any] = field(default_factory=dict)
    require_signature: bool | None = None
    #: Senders whose unsigned packages this system accepts (an opt-out per sender).
    unsigned_from: Collection[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "unsigned_from", frozenset(self.unsigned_from))
        if self.signing_key is not None:
            object.__setattr__(self, "signing_key", _load_key(self.signing_key, private=True))
        object.__setattr__(
            self,
            "trusted_keys",
            {org: _load_key(key, private=False) for org, key in dict(self.trusted_keys).items()},
        )

    @property
    def signatures_required(self) -> bool:
        """Whether unsigned packages are refused (from every sender not in
        ``unsigned_from``): always, unless ``require_signature=False``."""
        return self.require_signature is not False

    def seal(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with its digest and (with a signing key) its signature."""
        payload = canonical_bytes(body)
        sealed = dict(body)
        sealed["digest"] = {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}
        sealed["signature"] = None
        if self.signing_key is not None:
            public = self.signing_key.public_key()
            sealed["signature"] = {
                "algorithm": "ed25519",
                "signer": body["from_org"],
                "key_id": key_id(public),
                "value": base64.b64encode(self.signing_key.sign(payload)).decode("ascii"),
            }
        return sealed

    def check_seals(self, data: Mapping[str, Any]) -> str | None:
        """Verify the digest and the signature; return the signer (None if unsigned)."""
        payload = canonical_bytes(_body(data))
        digest = data.get("digest")
        if not isinstance(digest, Mapping) or digest.get("algorithm") != "sha256":
            raise HandoffRejected("digest", "the package has no sha256 digest")
        if digest.get("value") != hashlib.sha256(payload).hexdigest():
            raise HandoffRejected(
                "digest",
                "the content does not match the package's digest: it was changed after it was "
                "exported; ask the sender for the package again",
            )
        signature = data.get("signature")
        if signature is None:
            sender = data.get("from_org")
            opted_out = (
                self.require_signature is None
                and isinstance(sender, str)
                and sender in self.unsigned_from
            )
            if (self.signatures_required and not opted_out) or sender in self.trusted_keys:
                raise HandoffRejected(
                    "signature",
                    "the package is not signed and this system accepts only signed packages; "
                    "ask the sender to configure a signing key (or accept this sender's "
                    "unsigned packages: HandoffSettings(unsigned_from={...}), "
                    "--accept-unsigned-from ORG)",
                )
            return None
        if not isinstance(signature, Mapping) or signature.get("algorithm") != "ed25519":
            raise HandoffRejected("signature", "unknown signature algorithm (expected ed25519)")
        signer = signature.get("signer")
        if signer != data.get("from_org"):
            raise HandoffRejected(
                "signature", f"signed by {signer!r} but sent by {data.get('from_org')!r}"
            )
        public = self.trusted_keys.get(str(signer))
        if public is None:
            raise HandoffRejected(
                "signature",
                f"signed by {signer!r}, whose public key is not among this system's trusted "
                "keys; add it if the sender is trusted (HandoffSettings.trusted_keys, or "
                "--trust ORG=PUBLIC_KEY_FILE on the command line)",
            )
        from cryptography.exceptions import InvalidSignature

        try:
            public.verify(base64.b64decode(str(signature.get("value")), validate=True), payload)
        except (InvalidSignature, ValueError):
            raise HandoffRejected(
                "signature",
                f"the signature does not verify with the trusted key {key_id(public)} of "
                f"{signer!r}: the package was changed, or signed with another key",
            ) from None
        return str(signer)


@dataclass(frozen=True)
class HandoffPackage:
    """An exported package: ``data`` is its JSON content; :meth:`to_bytes` its file."""

    data: dict[str, Any]

    @property
    def digest(self) -> str:
        return str(self.data["digest"]["value"])

    @property
    def serial(self) -> str:
        return str(self.data["case"]["serial"])

    def to_bytes(self) -> bytes:
        """The package file: canonical JSON, UTF-8."""
        return canonical_bytes(self.data)

    def write(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_bytes(self.to_bytes())
        return target


@dataclass(frozen=True)
class HandoffResult:
    """What an import did: ``created`` a new case; ``updated`` one with the new events
    (``new_events``); ``returned``, a case handed over from here came back with no new events;
    or nothing (``unchanged``: this history is here already)."""

    case_id: int
    outcome: str
    new_events: int
    signed_by: str | None


#: The largest package taken in (its file's bytes), checked before anything is parsed.
MAX_PACKAGE_BYTES = 16 * 1024 * 1024
#: How deeply a package's JSON may nest (the schema needs 6 levels).
MAX_PACKAGE_DEPTH = 32
#: The most events a package's history may hold (checked before the schema): a case's history
#: runs to tens of events, and each is replayed through the flow on import.
MAX_PACKAGE_EVENTS = 2_000


def _too_large(size: int) -> HandoffRejected:
    return HandoffRejected(
        "size",
        f"the package is larger than {MAX_PACKAGE_BYTES // (1024 * 1024)} MiB; nothing was parsed",
    )


def load_package(package: Any) -> tuple[dict[str, Any], bool]:
    """The package's content from a :class:`HandoffPackage`, the file's bytes or text, a path,
    or already-parsed JSON; and whether it came as a file (whose form is checked too). The size
    and the nesting are checked before anything is parsed."""
    if isinstance(package, HandoffPackage):
        package = package.data
    if isinstance(package, Path):
        try:
            if package.stat().st_size > MAX_PACKAGE_BYTES:
                raise _too_large(package.stat().st_size)
            package = package.read_bytes()
        except OSError as exc:
            raise HandoffRejected(
                "format", f"cannot read the package file: {exc.strerror}"
            ) from None
    if isinstance(package, str):
        if len(package) > MAX_PACKAGE_BYTES:
            raise _too_large(len(package))
        try:
            package = package.encode("utf-8")
        except UnicodeEncodeError:
            raise HandoffRejected("format", "the package is not valid UTF-8 text") from None
    if isinstance(package, bytes | bytearray):
        raw = bytes(package)
        if len(raw) > MAX_PACKAGE_BYTES:
            raise _too_large(len(raw))
        if _nesting(raw) > MAX_PACKAGE_DEPTH:
            raise HandoffRejected("format", "the package is nested too deeply")
        try:
            data = json.loads(raw.decode("utf-8"))
        except RecursionError:
            raise HandoffRejected("format", "the package is nested too deeply") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HandoffRejected(
                "format", f"not a JSON package ({exc}); import the file as it was exported"
            ) from None
        if not isinstance(data, dict):
            raise HandoffRejected("format", "a package is a JSON object")
        try:
            canonical = canonical_bytes(data)
        except ValueError as exc:
            raise HandoffRejected("format", str(exc)) from None
        if canonical != raw.rstrip(b"\n"):
            raise HandoffRejected(
                "format",
                "the file is not in the canonical form it was exported in: it was edited or "
                "re-formatted; import the file as exported",
            )
        return data, True
    if isinstance(package, Mapping):
        from mediation_flow.models import json_limit_problem

        problem = json_limit_problem(
            package, max_bytes=MAX_PACKAGE_BYTES, max_depth=MAX_PACKAGE_DEPTH
        )
        if problem is not None:
            raise HandoffRejected("size", f"the package is {problem}")
        return dict(package), False
    raise HandoffRejected(
        "format", f"expected a package, its bytes, text or path, got {type(package).__name__}"
    )


def _nesting(raw: bytes) -> int:
    """How deeply the JSON text nests (brackets outside strings), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_PACKAGE_DEPTH:
                return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


# -- the package's content ---------------------------------------------------------------------


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def package_body(
    *,
    case: CaseRecord,
    flow_name: str,
    parties: Sequence[Party],
    claims: Sequence[Claim],
    history: Sequence[Event],
    deadlines: Sequence[DeadlineRecord],
    documents: Sequence[Mapping[str, Any]],
    from_org: str,
    to_org: str,
    at: datetime,
) -> dict[str, Any]:
    """The package's content before it is sealed (JSON-ready)."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": _utc(at),
        "from_org": from_org,
        "to_org": to_org,
        "case": {
            "serial": case.serial,
            "chain_id": case.chain_id,
            "head": case.event_hash,
            "region": case.region,
            "state": case.state,
            "version": case.version,
            "resolution": case.resolution,
            "flow_fingerprint": case.flow_fingerprint,
            "flow_name": flow_name,
            "worker_count": case.worker_count,
            "is_migrant_worker": case.is_migrant_worker,
            "knew_of_infringement_on": _day(case.knew_of_infringement_on),
            "employment_ended_on": _day(case.employment_ended_on),
            "received_on": case.received_on.isoformat(),
            "limitation_expires_on": _day(case.limitation_expires_on),
            "opened_at": _utc(case.opened_at),
            "updated_at": _utc(case.updated_at),
            "attributes": to_json(case.attributes),
        },
        "parties": [
            {
                "kind": p.kind.value,
                "role": p.role.value,
                "name": p.name,
                "id_number": p.id_number,
                "phone": p.phone,
                # Accounts are this system's logins: they mean nothing, or someone else, there.
                "account": None,
            }
            for p in parties
        ],
        "claims": [
            {"kind": c.kind.value, "amount": str(Decimal(c.amount).quantize(Decimal("0.01")))}
            for c in claims
        ],
        # The source case id is not sent: the chain's id is case.chain_id.
        "history": [
            {**{k: v for k, v in e.as_dict().items() if k != "case_id"}, "at": _utc(e.at)}
            for e in history
        ],
        "deadlines": [
            {
                "kind": d.kind,
                "party": d.party,
                "status": d.status.value,
                "starts_on": d.starts_on.isoformat(),
                "unit": d.unit,
                "length": d.length,
                "extended": d.extended,
                "paused_on": _day(d.paused_on),
                "due": d.due.isoformat(),
                "provisional": d.provisional,
            }
            for d in deadlines
        ],
        "documents": [
            {
                "template": d["template"],
                "title": d["title"],
                "format": d["format"],
                "sha256": d["sha256"],
                "size": d["size"],
                "case_version": d["case_version"],
                "actor_id": d["actor_id"],
                "actor_role": d["actor_role"],
                "rendered_at": _utc(d["rendered_at"]),
            }
            for d in documents
        ],
    }


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


#: The years a date or a time in a package may fall in.
MIN_YEAR, MAX_YEAR = 1900, 2199


def _in_range(value: date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"a date outside the years {MIN_YEAR} to {MAX_YEAR}")


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    parsed = date.fromisoformat(value)
    _in_range(parsed)
    return parsed


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("a time without a time zone")
    _in_range(parsed)
    return parsed


@cache
def schema() -> dict[str, Any]:
    """The package's JSON Schema (published as ``docs/reference/handoff-package.schema.json``)."""
    text = resources.files("mediation_flow").joinpath("handoff-package.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass(frozen=True)
class Contents:
    """A package's content as the engine writes it: rows without the local case id."""

    case: dict[str, Any]
    head: str
    chain_id: int
    parties: list[Party]
    claims: list[Claim]
    events: list[Event]
    deadlines: list[dict[str, Any]]
    numbers: list[CaseNumber]
    documents: list[dict[str, Any]]
    exported_at: datetime


def check_format(data: Mapping[str, Any]) -> None:
    """The package's format and version (read before anything else of it)."""
    if data.get("format") != FORMAT:
        raise HandoffRejected("format", f"not a {FORMAT} package")
    if data.get("version") != FORMAT_VERSION:
        raise HandoffRejected(
            "version",
            f"package version {data.get('version')!r}; this release reads version "
            f"{FORMAT_VERSION}: upgrade mediation_flow on the receiving side",
        )


def parse_package(data: Mapping[str, Any]) -> Contents:
    """Check the package against its schema and read it; ``HandoffRejected`` (``format`` or
    ``version``) names what is wrong."""
    check_format(data)
    history = data.get("history")
    if isinstance(history, list) and len(history) > MAX_PACKAGE_EVENTS:
        raise HandoffRejected(
            "format",
            f"the package's history has {len(history)} events, more than the "
            f"{MAX_PACKAGE_EVENTS} a package may hold",
        )
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(data)))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(the package)"
        raise HandoffRejected("format", f"{where}: {error.message}")
    try:
        c = data["case"]
        case = {
            "serial": c["serial"],
            "region": c["region"],
            "state": c["state"],
            "version": c["version"],
            "flow_fingerprint": c["flow_fingerprint"],
            "resolution": c["resolution"],
            "worker_count": c["worker_count"],
            "is_migrant_worker": c["is_migrant_worker"],
            "knew_of_infringement_on": _date(c["knew_of_infringement_on"]),
            "employment_ended_on": _date(c["employment_ended_on"]),
            "received_on": _date(c["received_on"]),
            "limitation_expires_on": _date(c["limitation_expires_on"]),
            "opened_at": _when(c["opened_at"]),
            "updated_at": _when(c["updated_at"]),
            "attributes": dict(c["attributes"]),
            "event_hash": c["head"],
        }
        parties = [
            Party(
                PartyKind(p["kind"]),
                PartyRole(p["role"]),
                p["name"],
                p["id_number"],
                p["phone"],
                p["account"],
            )
            for p in data["parties"]
        ]
        claims = [Claim(ClaimKind(x["kind"]), Decimal(x["amount"])) for x in data["claims"]]
        events = [
            Event(
                case_id=0,
                seq=e["seq"],
                trigger=e["trigger"],
                source=e["source"],
                dest=e["dest"],
                actor_id=e["actor_id"],
                actor_role=e["actor_role"],
                at=_when(e["at"]),
                data=dict(e["data"]),
                warnings=tuple(e["warnings"]),
                hash=e["hash"],
            )
            for e in data["history"]
        ]
        deadlines = [
            {
                "kind": d["kind"],
                "party": d["party"],
                "status": DeadlineStatus(d["status"]).value,
                "starts_on": _date(d["starts_on"]),
                "unit": d["unit"],
                "length": d["length"],
                "extended": d["extended"],
                "paused_on": _date(d["paused_on"]),
                "due": _date(d["due"]),
                "provisional": d["provisional"],
            }
            for d in data["deadlines"]
        ]
        numbers = [CaseNumber.from_json(n) for n in c["attributes"].get("case_numbers", [])]
        documents = [{**d, "rendered_at": _when(d["rendered_at"])} for d in data["documents"]]
        exported_at = _when(data["exported_at"])
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise HandoffRejected(
            "format", f"unreadable content: {type(exc).__name__}: {exc}"
        ) from None
    return Contents(
        case=case,
        head=c["head"],
        chain_id=c["chain_id"],
        parties=parties,
        claims=claims,
        events=events,
        deadlines=deadlines,
        numbers=numbers,
        documents=documents,
        exported_at=exported_at,
    )


def check_times(contents: Contents, received_at: datetime) -> None:
    """The history's times: none before the case was opened, none before the event before it,
    none after the package was exported or after it is taken in (``received_at``)."""
    opened = contents.case["opened_at"]
    previous = opened
    for e in contents.events:
        what = f"event {e.seq} ({e.trigger})"
        if e.at < opened:
            raise HandoffRejected("times", f"{what} is dated before the case was opened")
        if e.at < previous:
            raise HandoffRejected("times", f"{what} is dated before the event before it")
        if e.at > contents.exported_at:
            raise HandoffRejected("times", f"{what} is dated after the package was exported")
        if e.at > received_at:
            raise HandoffRejected(
                "times",
                f"{what} is dated after this import: the sender's clock is ahead of this "
                "system's, or the history was rewritten",
            )
        previous = e.at


def check_intake(contents: Contents) -> None:
    """The case's intake facts, which no later event records, against the ``open_case`` event
    and the rules intake applies: opened at the time of that event, received on the day it
    records and not after it, the infringement known by then, at least as many workers as
    worker parties, a collective dispute with ten or more workers and 3 to 5 representatives
    (LDMAL 7). Its documents were rendered for a version of the case it has, between its
    opening and the export."""
    c, opened = contents.case, contents.events[0]
    if opened.at != c["opened_at"]:
        raise HandoffRejected("intake", "the case was not opened at the time of its open_case")
    if opened.data.get("received_on") != c["received_on"].isoformat():
        raise HandoffRejected(
            "intake", "the case's receipt date is not the one its open_case event records"
        )
    if c["received_on"] > opened.at.astimezone(_SHANGHAI).date():
        raise HandoffRejected("intake", "the case was received after it was opened")
    knew = c["knew_of_infringement_on"]
    if knew is not None and knew > c["received_on"]:
        raise HandoffRejected("intake", "the infringement was known only after the receipt date")
    added = sum(1 for e in contents.events if e.trigger == "add_party")
    at_intake = contents.parties[: max(len(contents.parties) - added, 0)]
    workers = sum(1 for p in at_intake if p.kind is PartyKind.worker)
    if c["worker_count"] < workers:
        raise HandoffRejected(
            "intake", f"worker_count {c['worker_count']} is fewer than the {workers} worker parties"
        )
    attributes = c["attributes"]
    collective = attributes.get("collective")
    representatives = attributes.get("representatives")
    if collective is not None and (
        collective is not True
        or c["worker_count"] < 10
        or not isinstance(representatives, list)
        or not 3 <= len(representatives) <= 5
        or not all(isinstance(r, str) and 0 < len(r.strip()) <= 200 for r in representatives)
    ):
        raise HandoffRejected(
            "intake",
            "a collective dispute has ten or more workers and 3 to 5 representatives (LDMAL 7)",
        )
    if representatives is not None and collective is None:
        raise HandoffRejected("intake", "representatives belong to a collective dispute")
    for d in contents.documents:
        if not 1 <= d["case_version"] <= c["version"]:
            raise HandoffRejected(
                "documents",
                f"a document was rendered for version {d['case_version']} of a case that has "
                f"{c['version']} versions",
            )
        if not c["opened_at"] <= d["rendered_at"] <= contents.exported_at:
            raise HandoffRejected(
                "documents",
                "a document was rendered before the case was opened or after the export",
            )


#: The largest sequence number a case number may carry (a counter near 2^31 would be spent).
MAX_NUMBER_SEQ = 10_000_000


def check_numbers(contents: Contents, numbering: Numbering | None = None) -> None:
    """The case's numbers must be those its history recorded as they were issued, every part
    of them (the history is hash-protected; the attributes are not), with a sequence number and
    a year in range, the year the one of the day it was issued, and its text naming both.

    With ``numbering`` (the receiver's rules for the case's region), each number must also be
    what its rule issues: issued by the event that records it, a transition the rule numbers
    at; under the prefix the rule gives the case's region and the organisation that event
    names; laid out by the rule's pattern from that prefix, its year and its sequence number;
    with the rule's label; on the day of that event."""
    recorded = [e.data["case_number"] for e in contents.events if "case_number" in e.data]
    claimed = [n.to_json() for n in contents.numbers]
    if recorded != claimed:
        raise HandoffRejected(
            "chain",
            "the case's numbers are not the ones its history recorded when they were issued: "
            "the numbers were edited",
        )
    for n in contents.numbers:
        if not (
            0 < n.seq <= MAX_NUMBER_SEQ
            and 1950 <= n.year <= 2199
            and n.issued_on.year == n.year
            and str(n.year) in n.number
            and str(n.seq) in n.number
        ):
            raise HandoffRejected(
                "numbers",
                f"the case number {n.number[:80]!r} is out of range or does not match its year "
                f"and sequence number (at most {MAX_NUMBER_SEQ})",
            )
        if numbering is not None:
            problem = _number_problem(contents, numbering, n)
            if problem is not None:
                raise HandoffRejected("numbers", f"the case number {n.number[:80]!r} {problem}")


def _number_problem(contents: Contents, numbering: Numbering, n: CaseNumber) -> str | None:
    """What is wrong with a number against its rule (None: nothing)."""
    issuers = [e for e in contents.events if e.data.get("case_number") == n.to_json()]
    event = issuers[0] if len(issuers) == 1 else None
    if event is None or event.seq != n.event_seq:
        return f"is not recorded by the event {n.event_seq} it names"
    rule = numbering.rule_for(event.trigger)
    if rule is None or rule.key != n.key:
        return (
            f"was issued at {event.trigger!r}, at which this system's rules issue no "
            f"{n.key!r} number; give this system the numbering rules of the organisations "
            "whose cases it takes in (Engine(numbering=...))"
        )
    if rule.label != n.label:
        return f"is labelled {n.label[:40]!r}; its rule {rule.key!r} labels it {rule.label!r}"
    org = event.data.get("org_id")
    try:
        prefix = rule.prefix_for(contents.case["region"], org if isinstance(org, str) else None)
    except FlowDefinitionError:
        return f"has a prefix its rule {rule.key!r} cannot give this case"
    if n.prefix != prefix:
        return (
            f"has the prefix {n.prefix[:40]!r}; its rule {rule.key!r} numbers this case under "
            f"{prefix!r} (give this system the sender's numbering rules, Engine(numbering=...))"
        )
    if n.number != rule.format(n.prefix, n.year, n.seq):
        return (
            f"is not laid out by its rule {rule.key!r} from its prefix, year {n.year} and "
            f"sequence number {n.seq} ({rule.format(n.prefix, n.year, n.seq)!r})"
        )
    if n.issued_on != event.at.astimezone(_SHANGHAI).date():
        return f"was issued on {n.issued_on.isoformat()}, not on the day of its event"
    return None


def recompute_deadlines(
    contents: Contents, compiled: CompiledFlow, calendar: Calendar
) -> tuple[Contents, list[DeadlineDifference]]:
    """The package's contents with the deadlines its history gives on ``calendar``
    (:func:`mediation_flow.replay.replay_deadlines`) in place of those it lists, and the due
    dates that differ for a reason a holiday calendar explains; the case's fields that follow
    from the history (its state, version, resolution, limitation period, attributes and last
    change) are the replay's too. Raises ``HandoffRejected`` (``deadlines``) when the history
    cannot be replayed or the listed deadlines are not the ones it gives
    (:func:`mediation_flow.replay.compare_deadlines`), and (``chain``) when the package's
    attributes or resolution are not the ones the history gives (the limitation period, which
    a calendar decides, is taken from the replay whatever the package says)."""
    c = contents.case
    case = CaseRecord(
        id=0,
        region=c["region"],
        state=c["state"],
        version=c["version"],
        flow_fingerprint=compiled.fingerprint,
        resolution=None,
        worker_count=c["worker_count"],
        is_migrant_worker=c["is_migrant_worker"],
        knew_of_infringement_on=c["knew_of_infringement_on"],
        employment_ended_on=c["employment_ended_on"],
        received_on=c["received_on"],
        limitation_started_on=None,
        limitation_expires_on=c["limitation_expires_on"],
        opened_at=c["opened_at"],
        updated_at=c["opened_at"],
        attributes=dict(c["attributes"]),
        chain_id=contents.chain_id,
    )
    try:
        ours = replay_deadlines(
            compiled, calendar, case, contents.parties, contents.claims, contents.events
        )
    except ReplayError as exc:
        raise HandoffRejected("deadlines", f"the history does not replay here: {exc}") from None
    problems, differences = compare_deadlines(ours, contents.deadlines)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise HandoffRejected(
            "deadlines",
            "the package's deadlines are not the ones its history gives: "
            + "; ".join(problems[:3])
            + more,
        )
    if contents.numbers:
        case.attributes["case_numbers"] = [n.to_json() for n in contents.numbers]
    attributes = to_json(case.attributes)
    # The limitation period is computed on a calendar: the two systems' may differ.
    calendared = {"limitation_provisional"}
    differ = sorted(
        k
        for k in set(attributes) | set(c["attributes"])
        if k not in calendared and attributes.get(k) != c["attributes"].get(k)
    )
    if differ:
        raise HandoffRejected(
            "chain",
            "the case's attributes are not the ones its history gives: "
            + ", ".join(repr(k[:40]) for k in differ[:5]),
        )
    if case.resolution != c["resolution"]:
        raise HandoffRejected(
            "chain",
            f"the case's resolution {str(c['resolution'])[:20]!r} is not the one its history "
            f"leads to ({case.resolution!r})",
        )
    replayed = {
        **c,
        "state": case.state,
        "version": case.version,
        "resolution": case.resolution,
        "limitation_expires_on": case.limitation_expires_on,
        "updated_at": case.updated_at,
        "attributes": attributes,
    }
    return replace(contents, case=replayed, deadlines=deadline_rows(ours)), differences
