"""Bearer credentials: Supabase-style JWTs, and OHM's API keys (``ohm_sk_...``).

``Credentials.verify`` is what every route, the realtime hub and the pages call: a key goes to
``KeyVerifier``, anything else to the JWT cache.  A key is looked up by its public prefix
(``ohm.api_key_lookup``, one indexed row), its sha256 compared in constant time, and the result kept for
``ttl`` seconds so a busy agent does not pay a lookup per request.  What the cache cannot know — a
revocation or expiry since — the database checks at the start of every transaction run with the key
(``ohm.use_api_key``): a revoked key is refused on its next request in every server process.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from ohm import keys
from ohm.auth import Identity, InvalidToken, KeyGrant, TokenCache
from ohm.db.session import Database

UNKNOWN = "unknown API key"


@dataclass(frozen=True)
class _Entry:
    identity: Identity
    secret_sha256: bytes
    expires_at: datetime | None
    revoked: bool
    read_at: float


class KeyVerifier:
    """Keys by prefix, cached ``ttl`` seconds; a prefix no key has is remembered ``unknown_ttl`` seconds, so a
    client repeating a made-up key costs one lookup, not one per request."""

    def __init__(self, db: Database, ttl: float = 30.0, unknown_ttl: float = 5.0, max_entries: int = 10_000) -> None:
        self.db = db
        self.ttl = ttl
        self.unknown_ttl = unknown_ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()

    async def verify(self, token: str) -> Identity:
        prefix = keys.parse(token)
        if prefix is None:
            raise InvalidToken("malformed API key")
        entry = self._entries.get(prefix)
        if entry is None or time.monotonic() - entry.read_at > self.ttl:
            missed = self._unknown.get(prefix)
            if missed is not None and time.monotonic() - missed < self.unknown_ttl:
                raise InvalidToken(UNKNOWN)
            entry = await self._read(prefix)
        if not keys.matches(token, entry.secret_sha256):
            raise InvalidToken(UNKNOWN)
        if entry.revoked:
            raise InvalidToken("API key revoked")
        if entry.expires_at is not None and entry.expires_at <= datetime.now(UTC):
            raise InvalidToken("API key expired")
        return entry.identity

    def forget(self, key_id: uuid.UUID) -> None:
        """Drop a key this process knows is gone (revoked here, or refused by the database)."""
        for prefix, entry in list(self._entries.items()):
            if entry.identity.key is not None and entry.identity.key.id == key_id:
                del self._entries[prefix]

    async def _read(self, prefix: str) -> _Entry:
        row = await self.db.run_one("select * from ohm.api_key_lookup(%s)", (prefix,))
        if row is None:
            self._entries.pop(prefix, None)
            self._unknown[prefix] = time.monotonic()
            self._unknown.move_to_end(prefix)
            while len(self._unknown) > self.max_entries:
                self._unknown.popitem(last=False)
            raise InvalidToken(UNKNOWN)
        grant = KeyGrant(id=row["id"], name=row["name"], scopes=frozenset(row["scopes"]), chat_id=row["chat_id"],
                         project_id=row["project_id"])
        entry = _Entry(Identity.with_key(row["user_id"], grant), bytes(row["secret_sha256"]), row["expires_at"],
                       row["revoked_at"] is not None, time.monotonic())
        self._entries[prefix] = entry
        self._entries.move_to_end(prefix)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return entry


class Credentials:
    """A bearer credential of either kind, checked by what it looks like."""

    def __init__(self, tokens: TokenCache, api_keys: KeyVerifier | None) -> None:
        self.tokens = tokens
        self.api_keys = api_keys

    async def verify(self, token: str) -> Identity:
        if keys.looks_like_key(token):
            if self.api_keys is None:
                raise InvalidToken("API keys are not accepted here")
            return await self.api_keys.verify(token)
        return await self.tokens.verify(token)

    async def verify_token(self, token: str) -> Identity:
        """A user's (or role's) token only: the pages and the console's session take no API key (a key is
        for the API, where its scopes are checked route by route)."""
        if keys.looks_like_key(token):
            raise InvalidToken("API keys are for the API, not for the pages")
        return await self.tokens.verify(token)
