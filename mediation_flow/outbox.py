"""The event outbox: every committed event, for the systems that must learn what happened.

Every event a command commits is also queued in ``mf_outbox`` in the same transaction (a row of
the case id and the event's number, inserted by the database itself: a trigger on ``mf_event``,
:func:`~mediation_flow.storage.tables.create_outbox_trigger`, so the command sends no statement
for it and no code path that stores an event can forget it), so an event is queued if and only
if it is committed. From there:

* :meth:`Outbox.publish` moves queued events into the **feed** (``mf_feed``) in the order they
  were queued, one publisher at a time (a PostgreSQL advisory lock; SQLite's write lock). Feed
  ids therefore only grow in the order readers see them: a reader that has seen id ``n`` never
  later finds a smaller id appear, so ``after=n`` is a safe cursor. Within a case the feed
  follows the case's own order (``seq``), because the commands of one case commit one after
  the other.
* :meth:`Outbox.events` reads the feed after a cursor: the ``GET /events?after=`` of the HTTP
  service, for systems that poll.
* :meth:`Outbox.deliver` posts the feed to **subscribed webhooks** (:meth:`Outbox.subscribe`),
  in feed order and so in order per case, at least once: a subscription's cursor moves only
  when its receiver answered 2xx; a failed post is retried with exponential backoff; after
  ``max_attempts`` failures of the same event it goes to the dead letters (``mf_dead_letter``)
  and the subscription moves on (:meth:`Outbox.redeliver` sends the dead letters again). A
  worker holds a lease on the subscription it serves, so several ``mediation-flow deliver``
  workers share the subscriptions and a killed worker's subscription is taken over when its
  lease runs out (the event it was posting is posted again: receivers deduplicate on the
  ``Mediation-Flow-Event`` header, the feed id).

Webhooks are signed with the deployment's handoff signing key (Ed25519,
:class:`~mediation_flow.handoff.HandoffSettings`): the receiver verifies them with the public key
it already trusts for handoff packages (:func:`verify_webhook`). The signed text is the
timestamp, a dot and the body::

    Mediation-Flow-Signature: ed25519;key_id=<16 hex>;sig=<base64 of the signature>
    Mediation-Flow-Timestamp: <Unix seconds>
    Mediation-Flow-Event: <feed id>
    Mediation-Flow-Org: <this system's organisation>
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text, update

from mediation_flow.errors import InvalidData, MediationFlowError
from mediation_flow.flow.data import to_json
from mediation_flow.handoff import HandoffSettings, key_id
from mediation_flow.logging import get_logger
from mediation_flow.storage.repository import Store
from mediation_flow.storage.tables import (
    CaseRow,
    DeadLetterRow,
    EventRow,
    FeedRow,
    OutboxRow,
    SubscriptionRow,
)

__all__ = [
    "DeliveryError",
    "DeliveryResult",
    "FeedEvent",
    "Outbox",
    "Subscription",
    "sign_webhook",
    "verify_webhook",
]

_outbox = OutboxRow.__table__  # type: ignore[attr-defined]
_feed = FeedRow.__table__  # type: ignore[attr-defined]
_subs = SubscriptionRow.__table__  # type: ignore[attr-defined]
_dead = DeadLetterRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]
_cases = CaseRow.__table__  # type: ignore[attr-defined]

#: The advisory lock that makes one publisher at a time (PostgreSQL): "mfou".
_PUBLISH_LOCK = 0x6D66_6F75

#: A webhook receiver that answers a post; raises on failure (any exception).
Poster = Callable[[str, bytes, Mapping[str, str]], None]


class DeliveryError(MediationFlowError):
    """A webhook receiver did not accept a post (``status`` is its HTTP status, or None when
    it could not be reached)."""

    def __init__(self, url: str, status: int | None, reason: str) -> None:
        self.url = url
        self.status = status
        self.reason = reason
        super().__init__(f"webhook {url} did not accept the event: {reason}")


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event of the feed: its feed id (the cursor), the case (id, serial, region) and the
    event as the history holds it."""

    feed_id: int
    case_id: int
    serial: str
    region: str
    seq: int
    trigger: str
    source: str
    dest: str
    actor_id: str
    actor_role: str
    at: datetime
    data: dict[str, Any]
    warnings: tuple[str, ...]
    hash: str | None

    def to_json(self) -> dict[str, Any]:
        """The event as the webhooks and ``GET /events`` send it."""
        value: dict[str, Any] = to_json(
            {
                "id": self.feed_id,
                "case_id": self.case_id,
                "serial": self.serial,
                "region": self.region,
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
        )
        return value


@dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook subscription: where to post, how far it got (``cursor``: the last feed id
    its receiver accepted) and its retry state."""

    id: int
    name: str
    url: str
    cursor: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one delivery round did for one subscription."""

    subscription: str
    delivered: int
    failed: bool
    dead_lettered: int
    error: str | None = None


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 10.0) -> None:
    """POST ``body`` to ``url``; raise ``DeliveryError`` unless the answer is 2xx."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(url, exc.code, f"HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise DeliveryError(url, None, f"{type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise DeliveryError(url, status, f"HTTP {status}")


def sign_webhook(
    body: bytes, settings: HandoffSettings, *, feed_id: int, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of a signed webhook post of ``body``."""
    if settings.signing_key is None:
        raise InvalidData(
            "deliver",
            "signing_key",
            "webhooks are signed with the handoff signing key: configure one "
            "(--signing-key, HandoffSettings(signing_key=...))",
        )
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = settings.signing_key.sign(f"{stamp}.".encode() + body)
    return {
        "Content-Type": "application/json",
        "User-Agent": "mediation-flow-deliver",
        "Mediation-Flow-Event": str(feed_id),
        "Mediation-Flow-Timestamp": str(stamp),
        "Mediation-Flow-Org": settings.org_id or "",
        "Mediation-Flow-Signature": (
            f"ed25519;key_id={key_id(settings.signing_key.public_key())};"
            f"sig={base64.b64encode(signature).decode('ascii')}"
        ),
    }


def verify_webhook(
    body: bytes,
    headers: Mapping[str, str],
    public_key: Any,
    *,
    now: float | None = None,
    tolerance: float = 300.0,
) -> dict[str, Any]:
    """Check a received webhook's signature (``public_key``: the sender's Ed25519 public key,
    as for handoff packages) and age; return the event. Raises ``InvalidData`` otherwise."""
    from cryptography.exceptions import InvalidSignature

    from mediation_flow.handoff import _load_key

    lower = {k.lower(): v for k, v in headers.items()}
    try:
        stamp = int(lower["mediation-flow-timestamp"])
        parts = dict(
            p.split("=", 1) for p in lower["mediation-flow-signature"].split(";")[1:] if "=" in p
        )
        signature = base64.b64decode(parts["sig"], validate=True)
    except (KeyError, ValueError) as exc:
        raise InvalidData("webhook", "signature", f"missing or malformed: {exc}") from None
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        raise InvalidData("webhook", "timestamp", "too old or in the future (a replay?)")
    try:
        _load_key(public_key, private=False).verify(signature, f"{stamp}.".encode() + body)
    except InvalidSignature:
        raise InvalidData("webhook", "signature", "does not verify with the key") from None
    event: dict[str, Any] = json.loads(body)
    return event


class Outbox:
    """The outbox, feed and subscriptions of one database (``engine.outbox``)."""

    def __init__(
        self,
        store: Store,
        handoff: HandoffSettings,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._handoff = handoff
        self._clock = clock or (lambda: datetime.now(UTC))
        self._log = get_logger()

    # -- the feed ---------------------------------------------------------------------------------

    def publish(self, limit: int = 1000) -> int:
        """Move up to ``limit`` queued events into the feed, oldest first; return how many."""
        store = self._store
        with store.connect() as conn, store.writing(conn):
            if not store.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PUBLISH_LOCK})
            ids = [
                r.id for r in conn.execute(select(_outbox.c.id).order_by(_outbox.c.id).limit(limit))
            ]
            if not ids:
                return 0
            fresh = (
                select(_outbox.c.case_id, _outbox.c.seq, _published_at(self._clock()))
                .where(
                    _outbox.c.id.in_(ids),
                    ~select(_feed.c.id)
                    .where(and_(_feed.c.case_id == _outbox.c.case_id, _feed.c.seq == _outbox.c.seq))
                    .exists(),
                )
                .order_by(_outbox.c.id)
            )
            conn.execute(insert(_feed).from_select(["case_id", "seq", "published_at"], fresh))
            conn.execute(delete(_outbox).where(_outbox.c.id.in_(ids)))
        return len(ids)

    def events(
        self, after: int = 0, limit: int = 100, *, region: str | None = None
    ) -> list[FeedEvent]:
        """The feed's events after the cursor ``after`` (a feed id; 0 from the start), at most
        ``limit``, of cases in the ``region`` prefix if given. Publishes first."""
        for name, value in (("after", after), ("limit", limit)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
                raise InvalidData("events", name, f"expected a count, got {value!r}")
        if not 0 < limit <= 1000:
            raise InvalidData("events", "limit", "must be 1 to 1000")
        self.publish()
        with self._store.connect() as conn, self._store.reading(conn):
            return self._read(conn, after, limit, region)

    def _read(
        self, conn: Connection, after: int, limit: int, region: str | None = None
    ) -> list[FeedEvent]:
        stmt = (
            select(
                _feed.c.id.label("feed_id"),
                _events,
                _cases.c.serial,
                _cases.c.region,
            )
            .join(_events, and_(_events.c.case_id == _feed.c.case_id, _events.c.seq == _feed.c.seq))
            .join(_cases, _cases.c.id == _feed.c.case_id)
            .where(_feed.c.id > after)
            .order_by(_feed.c.id)
            .limit(limit)
        )
        if region is not None:
            stmt = stmt.where(_cases.c.region.startswith(region, autoescape=True))
        return [
            FeedEvent(
                feed_id=r.feed_id,
                case_id=r.case_id,
                serial=r.serial,
                region=r.region,
                seq=r.seq,
                trigger=r.trigger,
                source=r.source,
                dest=r.dest,
                actor_id=r.actor_id,
                actor_role=r.actor_role,
                at=r.at,
                data=dict(r.data or {}),
                warnings=tuple(r.warnings or ()),
                hash=r.hash,
            )
            for r in conn.execute(stmt)
        ]

    # -- subscriptions ----------------------------------------------------------------------------

    def subscribe(self, name: str, url: str, *, from_start: bool = False) -> Subscription:
        """Post the feed to ``url`` from now on (``from_start``: from the first event).
        Subscribing a name again changes its URL and keeps its cursor."""
        if not isinstance(name, str) or not 0 < len(name) <= 100 or "\x00" in name:
            raise InvalidData("subscribe", "name", "must be 1 to 100 characters")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidData("subscribe", "url", "must be an http:// or https:// URL")
        if len(url) > 2000 or "\x00" in url:
            raise InvalidData("subscribe", "url", "must be at most 2000 characters")
        self.publish()
        with self._store.connect() as conn, self._store.writing(conn):
            existing = conn.execute(select(_subs.c.id).where(_subs.c.name == name)).first()
            if existing is not None:
                conn.execute(update(_subs).where(_subs.c.id == existing.id).values(url=url))
            else:
                start: int | None = 0
                if not from_start:
                    start = conn.execute(select(func.max(_feed.c.id))).scalar()
                conn.execute(
                    insert(_subs).values(
                        name=name,
                        url=url,
                        cursor=start or 0,
                        attempts=0,
                        created_at=self._clock(),
                    )
                )
        self._log.info("subscribed", subscription=name, url=url)
        return next(s for s in self.subscriptions() if s.name == name)

    def unsubscribe(self, name: str) -> bool:
        """Stop posting to ``name``; False if there was no such subscription."""
        with self._store.connect() as conn, self._store.writing(conn):
            result = conn.execute(delete(_subs).where(_subs.c.name == name))
        return bool(result.rowcount)

    def subscriptions(self) -> list[Subscription]:
        with self._store.connect() as conn, self._store.reading(conn):
            rows = conn.execute(select(_subs).order_by(_subs.c.id)).all()
        return [
            Subscription(r.id, r.name, r.url, r.cursor, r.attempts, r.next_attempt_at, r.last_error)
            for r in rows
        ]

    def dead_letters(self, name: str | None = None) -> list[dict[str, Any]]:
        """The events subscribers did not accept after every retry, oldest first."""
        stmt = (
            select(_dead, _subs.c.name.label("subscription"))
            .join(_subs, _subs.c.id == _dead.c.subscription_id)
            .order_by(_dead.c.id)
        )
        if name is not None:
            stmt = stmt.where(_subs.c.name == name)
        with self._store.connect() as conn, self._store.reading(conn):
            return [dict(r._mapping) for r in conn.execute(stmt)]

    # -- delivery ---------------------------------------------------------------------------------

    def deliver(
        self,
        post: Poster = post_json,
        *,
        batch: int = 100,
        max_attempts: int = 8,
        lease_seconds: float = 30.0,
    ) -> list[DeliveryResult]:
        """One delivery round: publish, then for each subscription that is due and not leased
        by another worker, post up to ``batch`` events in order. Returns what it did."""
        if self._handoff.signing_key is None:
            sign_webhook(b"", self._handoff, feed_id=0)  # raises: no signing key
        self.publish()
        results = []
        for sub in self.subscriptions():
            token = self._lease(sub.id, lease_seconds)
            if token is not None:
                results.append(
                    self._deliver_to(sub, token, post, batch, max_attempts, lease_seconds)
                )
        return results

    def redeliver(self, name: str, post: Poster = post_json) -> int:
        """Post the dead letters of ``name`` again, oldest first; those accepted are removed.
        Returns how many were accepted (it stops at the first refusal)."""
        letters = self.dead_letters(name)
        sub = next((s for s in self.subscriptions() if s.name == name), None)
        if sub is None:
            raise InvalidData("redeliver", "name", f"no subscription {name!r}")
        done = 0
        for letter in letters:
            with self._store.connect() as conn, self._store.reading(conn):
                found = self._read(conn, letter["feed_id"] - 1, 1)
            if found and found[0].feed_id == letter["feed_id"]:
                self._post(sub.url, found[0], post)
            with self._store.connect() as conn, self._store.writing(conn):
                conn.execute(delete(_dead).where(_dead.c.id == letter["id"]))
            done += 1
        return done

    def _lease(self, sub_id: int, seconds: float) -> str | None:
        now = self._clock()
        token = secrets.token_hex(16)
        with self._store.connect() as conn, self._store.writing(conn):
            result = conn.execute(
                update(_subs)
                .where(
                    _subs.c.id == sub_id,
                    (_subs.c.leased_until.is_(None)) | (_subs.c.leased_until < now),
                    (_subs.c.next_attempt_at.is_(None)) | (_subs.c.next_attempt_at <= now),
                )
                .values(lease=token, leased_until=now + timedelta(seconds=seconds))
            )
        return token if result.rowcount == 1 else None

    def _post(self, url: str, event: FeedEvent, post: Poster) -> None:
        body = json.dumps(event.to_json(), ensure_ascii=False, sort_keys=True).encode("utf-8")
        post(url, body, sign_webhook(body, self._handoff, feed_id=event.feed_id))

    def _deliver_to(
        self,
        sub: Subscription,
        token: str,
        post: Poster,
        batch: int,
        max_attempts: int,
        lease_seconds: float,
    ) -> DeliveryResult:
        with self._store.connect() as conn, self._store.reading(conn):
            pending = self._read(conn, sub.cursor, batch)
        delivered = 0
        for event in pending:
            try:
                self._post(sub.url, event, post)
            except Exception as exc:  # any failure of the receiver or the network
                error = str(exc)[:500] or type(exc).__name__
                return self._failed(sub, token, event, error, delivered, max_attempts)
            delivered += 1
            if not self._advance(sub.id, token, event.feed_id, lease_seconds):
                break  # the lease ran out and another worker took over
        self._release(sub.id, token)
        if delivered:
            self._log.info("delivered", subscription=sub.name, events=delivered)
        return DeliveryResult(sub.name, delivered, False, 0)

    def _advance(self, sub_id: int, token: str, cursor: int, lease_seconds: float) -> bool:
        now = self._clock()
        with self._store.connect() as conn, self._store.writing(conn):
            result = conn.execute(
                update(_subs)
                .where(_subs.c.id == sub_id, _subs.c.lease == token)
                .values(
                    cursor=cursor,
                    attempts=0,
                    last_error=None,
                    next_attempt_at=None,
                    leased_until=now + timedelta(seconds=lease_seconds),
                )
            )
        return bool(result.rowcount == 1)

    def _release(self, sub_id: int, token: str) -> None:
        with self._store.connect() as conn, self._store.writing(conn):
            conn.execute(
                update(_subs)
                .where(_subs.c.id == sub_id, _subs.c.lease == token)
                .values(lease=None, leased_until=None)
            )

    def _failed(
        self,
        sub: Subscription,
        token: str,
        event: FeedEvent,
        error: str,
        delivered: int,
        max_attempts: int,
    ) -> DeliveryResult:
        now = self._clock()
        with self._store.connect() as conn, self._store.writing(conn):
            row = conn.execute(
                select(_subs.c.attempts).where(_subs.c.id == sub.id, _subs.c.lease == token)
            ).first()
            if row is None:
                return DeliveryResult(sub.name, delivered, True, 0, error)
            attempts = row.attempts + 1
            values: dict[str, Any] = {"lease": None, "leased_until": None, "last_error": error}
            dead = attempts >= max_attempts
            if dead:
                conn.execute(
                    insert(_dead).values(
                        subscription_id=sub.id,
                        feed_id=event.feed_id,
                        case_id=event.case_id,
                        seq=event.seq,
                        attempts=attempts,
                        error=error,
                        at=now,
                    )
                )
                values.update(cursor=event.feed_id, attempts=0, next_attempt_at=None)
            else:
                values.update(attempts=attempts, next_attempt_at=now + backoff(attempts))
            conn.execute(update(_subs).where(_subs.c.id == sub.id).values(**values))
        log = self._log.error if dead else self._log.warning
        log(
            "delivery_dead_lettered" if dead else "delivery_failed",
            subscription=sub.name,
            feed_id=event.feed_id,
            case_id=event.case_id,
            attempts=attempts,
            error=error,
        )
        return DeliveryResult(sub.name, delivered, True, 1 if dead else 0, error)


def backoff(attempts: int, *, base: float = 1.0, cap: float = 300.0) -> timedelta:
    """The wait before retry number ``attempts``: exponential, capped, with jitter."""
    seconds = min(cap, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * random.uniform(0.5, 1.0))


def _published_at(at: datetime) -> Any:
    from sqlalchemy import literal

    from mediation_flow.storage.tables import UTCDateTime

    return literal(at, UTCDateTime()).label("published_at")
