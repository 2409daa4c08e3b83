"""Identities and Supabase-compatible JWTs: HS256 with the shared secret, ES256 / RS256 with a JWKS key.

A request acts as one :class:`Identity`: a PostgreSQL role (``anon``,
``authenticated`` or ``service_role``) plus the JWT claims that
``auth.uid()``, ``auth.role()`` and ``auth.jwt()`` read inside the database.
This module does no I/O: the public keys of asymmetric tokens come from a key
source passed in (``ohm.api.signing_keys.SigningKeys``).
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import jwt

Role = Literal["anon", "authenticated", "service_role"]
ROLES: tuple[Role, ...] = ("anon", "authenticated", "service_role")
AUDIENCE = "authenticated"
ALGORITHM = "HS256"
ASYMMETRIC = ("ES256", "RS256")
ISSUER = "ohm"


@dataclass(frozen=True)
class KeyGrant:
    """What an API key allows (ohm.api_keys): its scopes, and the one chat or project it is limited to."""

    id: uuid.UUID
    name: str
    scopes: frozenset[str]
    chat_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes

    def claim(self) -> dict[str, str]:
        """The key as the database reads it (``request.jwt.claims -> 'ohm_key'``)."""
        claim = {"id": str(self.id), "name": self.name}
        if self.chat_id is not None:
            claim["chat_id"] = str(self.chat_id)
        if self.project_id is not None:
            claim["project_id"] = str(self.project_id)
        return claim


@dataclass(frozen=True)
class Identity:
    role: Role
    user_id: uuid.UUID | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
    key: KeyGrant | None = None  # acting with an API key (as its user, within its scopes and limits)

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

    @classmethod
    def with_key(cls, user_id: uuid.UUID | str, key: KeyGrant) -> Identity:
        uid = uuid.UUID(str(user_id))
        return cls("authenticated", uid, {"sub": str(uid), "role": "authenticated", "ohm_key": key.claim()}, key)

    def claims_json(self) -> str:
        """What the database sees as ``request.jwt.claims`` (written once per identity: a verified token's
        identity is cached and sent with every statement)."""
        return self._claims_json

    @functools.cached_property
    def _claims_json(self) -> str:
        claims = dict(self.claims)
        claims["role"] = self.role
        if self.user_id is not None:
            claims["sub"] = str(self.user_id)
        else:
            claims.pop("sub", None)
        return json.dumps(claims, separators=(",", ":"), default=str)


class InvalidToken(Exception):
    """The bearer token is not acceptable; the message says why."""


class UnknownKey(Exception):
    """No known public key matches the token's key id and algorithm (the token is refused)."""


class KeysUnavailable(Exception):
    """The public keys a token needs cannot be fetched right now (a 503: the token may well be fine)."""


class KeySource(Protocol):
    async def key(self, kid: str | None, alg: str) -> jwt.PyJWK: ...


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


def verify_token(secret: str | None, token: str, *, key: Any = None, algorithm: str = ALGORITHM) -> Identity:
    """Check signature, expiry, audience and role; return who is asking.

    Accepted as Supabase issues them: user tokens (``role`` authenticated,
    ``aud`` authenticated, ``sub`` = user id) and the project's API keys
    (``role`` anon or service_role, no audience).  ``algorithm`` is the one
    algorithm accepted: HS256 with ``secret``, or ES256 / RS256 with the
    public ``key``.
    """
    if algorithm == ALGORITHM:
        if not secret:
            raise InvalidToken("HS256 tokens are not accepted here")
        key = secret
    elif algorithm not in ASYMMETRIC or key is None:
        raise InvalidToken(f"unsupported token algorithm {algorithm!r}")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options={"require": ["exp", "role"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.InvalidSignatureError as exc:
        if algorithm == ALGORITHM:
            raise InvalidToken(f"invalid token: {exc}: it was signed with another secret than this server's (a "
                               "token from `ohm token` run with another OHM_DATA_DIR or OHM_JWT_SECRET?)") from None
        raise InvalidToken(f"invalid token: {exc}") from None
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


def token_algorithm(token: str) -> tuple[str, str | None]:
    """The algorithm and key id a token's (unverified) header names."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"invalid token: {exc}") from None
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or (kid is not None and not isinstance(kid, str)):
        raise InvalidToken("invalid token: malformed header")
    return alg, kid


class TokenCache:
    """Verifies tokens, and keeps verified ones, so a client sending the same token does not pay for the
    signature and JSON each time.

    HS256 tokens are checked with the secret, ES256 and RS256 tokens with the key their ``kid`` names in
    ``keys`` (a JWKS); any other algorithm, ``none`` included, is refused.  Keyed by the exact token
    string (same string, same signature, same claims); an entry is only used before the token's ``exp``.
    Bounded: the oldest entries go first.
    """

    def __init__(self, secret: str | None, max_entries: int = 10_000, keys: KeySource | None = None) -> None:
        self.secret = secret
        self.keys = keys
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Identity, float]] = {}

    async def verify(self, token: str) -> Identity:
        hit = self._entries.get(token)
        if hit is not None:
            identity, expires = hit
            if time.time() < expires:
                return identity
            del self._entries[token]
        algorithm, kid = token_algorithm(token)
        if algorithm in ASYMMETRIC:
            if self.keys is None:
                raise InvalidToken(f"{algorithm} tokens need signing keys (OHM_JWT_JWKS_URL or OHM_JWT_JWKS_FILE)")
            try:
                public = await self.keys.key(kid, algorithm)
            except UnknownKey as exc:
                raise InvalidToken(f"invalid token: {exc}") from None
            identity = verify_token(None, token, key=public.key, algorithm=algorithm)
        elif algorithm == ALGORITHM:
            identity = verify_token(self.secret, token)
        else:
            raise InvalidToken(f"unsupported token algorithm {algorithm!r}")
        if len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[token] = (identity, float(identity.claims.get("exp", 0)))
        return identity
