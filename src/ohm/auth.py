"""Identities and Supabase-compatible JWTs (HS256).

A request acts as one :class:`Identity`: a PostgreSQL role (``anon``,
``authenticated`` or ``service_role``) plus the JWT claims that
``auth.uid()``, ``auth.role()`` and ``auth.jwt()`` read inside the database.
This module does no I/O.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt

Role = Literal["anon", "authenticated", "service_role"]
ROLES: tuple[Role, ...] = ("anon", "authenticated", "service_role")
AUDIENCE = "authenticated"
ALGORITHM = "HS256"
ISSUER = "ohm"


@dataclass(frozen=True)
class Identity:
    role: Role
    user_id: uuid.UUID | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")
        if self.role == "authenticated" and self.user_id is None:
            raise ValueError("an authenticated identity needs a user id")

    @classmethod
    def anon(cls) -> Identity:
        return cls("anon")

    @classmethod
    def service(cls) -> Identity:
        return cls("service_role")

    @classmethod
    def user(cls, user_id: uuid.UUID | str, **claims: Any) -> Identity:
        uid = uuid.UUID(str(user_id))
        return cls("authenticated", uid, {"sub": str(uid), "role": "authenticated", **claims})

    def claims_json(self) -> str:
        """What the database sees as ``request.jwt.claims``."""
        claims = dict(self.claims)
        claims["role"] = self.role
        if self.user_id is not None:
            claims["sub"] = str(self.user_id)
        else:
            claims.pop("sub", None)
        return json.dumps(claims, separators=(",", ":"), default=str)


class InvalidToken(Exception):
    """The bearer token is not acceptable; the message says why."""


def issue_token(
    secret: str,
    *,
    role: Role = "authenticated",
    user_id: uuid.UUID | str | None = None,
    email: str | None = None,
    ttl_seconds: int = 3600,
    now: float | None = None,
) -> str:
    """A token shaped like the ones Supabase Auth issues."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if role == "authenticated" and user_id is None:
        raise ValueError("a token for role 'authenticated' needs a user id")
    if ttl_seconds <= 0:
        raise ValueError("ttl must be positive")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"role": role, "iss": ISSUER, "iat": issued, "exp": issued + ttl_seconds}
    if user_id is not None:
        claims["sub"] = str(uuid.UUID(str(user_id)))
    if role == "authenticated":
        claims["aud"] = AUDIENCE
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Identity:
    """Check signature, expiry, audience and role; return who is asking.

    Accepted as Supabase issues them: user tokens (``role`` authenticated,
    ``aud`` authenticated, ``sub`` = user id) and the project's API keys
    (``role`` anon or service_role, no audience).
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "role"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"invalid token: {exc}") from None
    role = claims.get("role")
    if role not in ROLES:
        raise InvalidToken(f"unknown role {role!r}")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud] if aud is not None else []
    if audiences and AUDIENCE not in audiences:
        raise InvalidToken("wrong audience")
    if role == "authenticated":
        if not audiences:
            raise InvalidToken("wrong audience")
        try:
            user_id = uuid.UUID(str(claims.get("sub")))
        except ValueError:
            raise InvalidToken("token subject is not a user id") from None
        return Identity("authenticated", user_id, claims)
    return Identity(role, None, {k: v for k, v in claims.items() if k != "sub"})


class TokenCache:
    """Verified tokens, so a client sending the same token does not pay for HMAC and JSON each time.

    Keyed by the exact token string (same string, same signature, same
    claims); an entry is only used before the token's ``exp``.  Bounded: the
    oldest entries go first.
    """

    def __init__(self, secret: str, max_entries: int = 10_000) -> None:
        self.secret = secret
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Identity, float]] = {}

    def verify(self, token: str) -> Identity:
        hit = self._entries.get(token)
        if hit is not None:
            identity, expires = hit
            if time.time() < expires:
                return identity
            del self._entries[token]
        identity = verify_token(self.secret, token)
        if len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[token] = (identity, float(identity.claims.get("exp", 0)))
        return identity
