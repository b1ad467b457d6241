"""Who is calling: a pluggable authenticator turns a request into an :class:`~mediation_flow.Actor`.

The service trusts no header by itself. It starts only with an authenticator: a host passes
its own (``create_app(engine, authenticator=...)`` or ``mediation-flow serve --authenticator
module:object``) that reads whatever the host uses (a session cookie, the client certificate
that mutual TLS put in a header by a trusted proxy, a gateway's token), or configures the
built-in :class:`HmacTokenAuthenticator` with a secret (``--token-secret-file`` or
``MEDIATION_FLOW_TOKEN_SECRET``), which accepts ``Authorization: Bearer <token>`` tokens signed
with that secret.

An authenticator is any object with ``authenticate(request) -> Actor | None``: ``None`` (or
raising :class:`Unauthenticated`) answers 401. Example, a host whose gateway verified the user
and signs its own header::

    class GatewayAuthenticator:
        def authenticate(self, request):
            user = my_gateway.verify(request.headers.get("X-Gateway-Assertion"))
            if user is None:
                return None
            return Actor(user.id, Role(user.role), org_id=user.org, region=user.region)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Protocol, runtime_checkable

from mediation_flow.models import Actor, Role

__all__ = ["Authenticator", "HmacTokenAuthenticator", "Unauthenticated", "issue_token"]

#: The shortest secret the built-in authenticator accepts (bytes).
MIN_SECRET = 32


class Unauthenticated(Exception):
    """The request carries no valid credentials (answered 401)."""


@runtime_checkable
class Authenticator(Protocol):
    """Turns a request into the actor it acts as; None when it is not authenticated."""

    def authenticate(self, request: Any) -> Actor | None: ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_secret(secret: bytes | str) -> bytes:
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(raw.strip()) < MIN_SECRET:
        raise ValueError(
            f"the token secret must be at least {MIN_SECRET} bytes (e.g. 'openssl rand -hex 32')"
        )
    return raw.strip()


def issue_token(
    secret: bytes | str,
    actor: Actor,
    *,
    ttl: float = 3600.0,
    now: float | None = None,
) -> str:
    """A bearer token for ``actor``, valid ``ttl`` seconds: base64url of the claims, a dot,
    base64url of their HMAC-SHA256 with ``secret``. The ``system`` role is never issued."""
    if actor.role is Role.system:
        raise ValueError("tokens are not issued for the system actor")
    claims = {
        "sub": actor.id,
        "role": actor.role.value,
        "org": actor.org_id,
        "region": actor.region,
        "exp": int((time.time() if now is None else now) + ttl),
    }
    body = _b64(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    mac = hmac.new(_check_secret(secret), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


class HmacTokenAuthenticator:
    """Bearer tokens signed with a shared secret (:func:`issue_token`; ``mediation-flow
    token``): the issuer (the host's login) and the service share the secret; a token names
    the actor's id, role, organisation and region scope and expires. Tokens for the
    ``system`` role are refused."""

    def __init__(self, secret: bytes | str, *, leeway: float = 30.0) -> None:
        self._secret = _check_secret(secret)
        self._leeway = leeway

    def authenticate(self, request: Any) -> Actor | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return self.actor_of(token.strip())

    def actor_of(self, token: str, *, now: float | None = None) -> Actor | None:
        body, _, mac = token.partition(".")
        try:
            expected = hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(mac)):
                return None
            claims = json.loads(_unb64(body))
            if not isinstance(claims, dict):
                return None
            if float(claims["exp"]) + self._leeway < (time.time() if now is None else now):
                return None
            role = Role(claims["role"])
            if role is Role.system:
                return None
            sub, org, region = claims["sub"], claims.get("org"), claims.get("region")
            if not isinstance(sub, str) or not 0 < len(sub) <= 128:
                return None
            if not all(v is None or isinstance(v, str) for v in (org, region)):
                return None
            return Actor(sub, role, org_id=org, region=region)
        except (ValueError, KeyError, TypeError, UnicodeError):
            return None
