"""Idempotency keys: what makes a retried command "the same", and whose key it is.

A host that retries a command after a timeout passes the same ``idempotency_key``; the engine
stores the key with a digest of the command and its result in the command's transaction, and a
retry returns the stored result instead of applying the command again
(:meth:`~mediation_flow.Engine.open_case`, :meth:`~mediation_flow.Engine.fire`).

Keys are scoped per actor: two users who happen to pick the same key (``"retry-1"``) do not
collide, and one user cannot learn or replay another's command by guessing a key. The trusted
``system`` actor keeps the global scope it always had, so a host that namespaces its keys
itself is unaffected. The stored key of an actor's command is a SHA-256 over the actor id and
the key (``a/`` and 64 hex digits), so any actor id and key fit the column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from mediation_flow.errors import InvalidData
from mediation_flow.flow.data import to_json
from mediation_flow.models import Actor, Intake, Role

__all__ = ["check_key", "intake_request", "scoped_key"]

#: The longest idempotency key a caller may give.
MAX_KEY = 200


def check_key(key: object, what: str) -> str:
    """``key`` if it is a usable idempotency key, else ``InvalidData`` naming ``what``."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY or "\x00" in key:
        raise InvalidData(
            what, "idempotency_key", f"must be a string of 1 to {MAX_KEY} characters, no NUL"
        )
    return key


def scoped_key(actor: Actor, key: str) -> str:
    """The key as stored: the caller's own for the ``system`` actor, else one scoped to the
    actor (a digest of the actor id and the key)."""
    if actor.role is Role.system:
        return key
    digest = hashlib.sha256(json.dumps([actor.id, key], ensure_ascii=False).encode()).hexdigest()
    return f"a/{digest}"


def intake_request(intake: Intake, actor: Actor) -> str:
    """What makes two intakes "the same" for an idempotency key: the intake as validated and
    the actor (not the moment: a retry comes later)."""
    content: Mapping[str, Any] = {
        "open_case": intake.model_dump(mode="json"),
        "actor": [actor.id, actor.role.value],
    }
    canonical = json.dumps(to_json(dict(content)), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
