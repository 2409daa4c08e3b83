"""Public keys for asymmetric user tokens (ES256, RS256), from a JWKS URL and/or a JWKS file.

New Supabase projects sign their users' tokens with an asymmetric key and publish the public keys as a
JWKS at ``https://<project>.supabase.co/auth/v1/.well-known/jwks.json``.  The keys are fetched once at
start, cached, and fetched again when they are older than ``ttl`` or when a token names a key id
(``kid``) that is not known, at most once per ``min_interval`` (a rotation is picked up on the first
token signed with the new key; a stream of made-up key ids costs one fetch per interval).

When keys are needed and cannot be had (the URL is unreachable, answers an error or something that is
not a JWKS), :class:`KeysUnavailable` says so: the API answers 503, never 401 (the token may be fine) and
never 500.  Keys already known stay in use while a refresh fails.  Symmetric keys (``kty: oct``) in a
JWKS are ignored: a published key must never verify an HS256 token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from ohm.auth import ASYMMETRIC as ALGORITHMS
from ohm.auth import KeysUnavailable, UnknownKey

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024
RETRY_AFTER_FAILURE = 5.0  # seconds; or min_interval, when that is shorter


def parse_jwks(document: Any, source: str) -> dict[str | None, jwt.PyJWK]:
    """kid -> key for every usable asymmetric signing key of a JWKS (or of a single JWK)."""
    if isinstance(document, dict) and "keys" not in document and "kty" in document:
        document = {"keys": [document]}
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError(f"{source} is not a JWKS (an object with a 'keys' array)")
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") not in ("EC", "RSA"):
            continue  # symmetric (oct) and unknown key types are never used
        if entry.get("use", "sig") != "sig" or entry.get("alg", "ES256" if entry["kty"] == "EC" else "RS256") \
                not in ALGORITHMS:
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            log.warning("skipping a key of %s: %s", source, exc)
            continue
        if key.algorithm_name not in ALGORITHMS:
            continue
        keys[entry.get("kid")] = key
    return keys


class SigningKeys:
    """The public keys of a JWKS URL and/or file, cached; safe to share between the requests of a process."""

    def __init__(self, url: str | None = None, file: Path | None = None, *, ttl: float = 600.0,
                 min_interval: float = 30.0, timeout: float = 5.0) -> None:
        self.url = url
        self.file = file
        self.ttl = ttl
        self.min_interval = min_interval
        self.timeout = timeout
        self._file_keys: dict[str | None, jwt.PyJWK] = {}
        self._url_keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # monotonic time of the last successful fetch
        self._next_attempt = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    @property
    def configured(self) -> bool:
        return self.url is not None or self.file is not None

    async def start(self) -> None:
        """Read the file (an unreadable file stops the server) and try the URL once (a failure does not)."""
        if self.file is not None:
            try:
                document = json.loads(Path(self.file).read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read OHM_JWT_JWKS_FILE {self.file}: {exc}") from None
            self._file_keys = parse_jwks(document, str(self.file))
            if not self._file_keys:
                raise ValueError(f"OHM_JWT_JWKS_FILE {self.file} holds no ES256 or RS256 signing key")
        if self.url is not None:
            try:
                await self._fetch()
            except KeysUnavailable as exc:
                log.warning("signing keys not loaded at start (%s); tokens signed with them get 503 until they are",
                            exc)

    def _lookup(self, kid: str | None, alg: str) -> jwt.PyJWK | None:
        for keys in (self._file_keys, self._url_keys):
            key = keys.get(kid)
            if key is None and kid is None:
                # A token without a key id: only unambiguous when one key of its algorithm is known.
                matching = [k for k in keys.values() if k.algorithm_name == alg]
                key = matching[0] if len(matching) == 1 else None
            if key is not None and key.algorithm_name == alg:
                return key
        return None

    async def key(self, kid: str | None, alg: str) -> jwt.PyJWK:
        """The key that verifies a token with this header; fetches the JWKS again when it has to."""
        key = self._lookup(kid, alg)
        now = time.monotonic()
        stale = self.url is not None and (self._fetched_at is None or now - self._fetched_at > self.ttl)
        if key is not None and not stale:
            return key
        if self.url is None:
            raise UnknownKey(f"no signing key with id {kid!r} for {alg}")
        if now < self._next_attempt:
            if key is not None:
                return key
            if self._fetched_at is None:
                raise KeysUnavailable("the signing keys could not be fetched; retry shortly")
            raise UnknownKey(f"no signing key with id {kid!r} for {alg}")
        async with self._lock:
            # Another request may have fetched while this one waited.
            if time.monotonic() >= self._next_attempt:
                try:
                    await self._fetch()
                except KeysUnavailable:
                    if key is not None:
                        return key  # a known key stays in use while a refresh fails
                    raise
        key = self._lookup(kid, alg)
        if key is None:
            if self._fetched_at is None:
                raise KeysUnavailable("the signing keys could not be fetched; retry shortly")
            raise UnknownKey(f"no signing key with id {kid!r} for {alg}")
        return key

    async def _fetch(self) -> None:
        assert self.url is not None
        self.fetches += 1
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=True) as client:
                async with client.stream("GET", self.url, headers={"accept": "application/json"}) as response:
                    if response.status_code != 200:
                        raise KeysUnavailable(f"the JWKS URL answered {response.status_code}")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_JWKS_BYTES:
                            raise KeysUnavailable(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
            keys = parse_jwks(json.loads(body), "the JWKS URL")
        except KeysUnavailable as exc:
            self._next_attempt = time.monotonic() + min(RETRY_AFTER_FAILURE, self.min_interval)
            log.warning("cannot fetch signing keys from %s: %s", self.url, exc)
            raise
        except (httpx.HTTPError, ValueError) as exc:
            self._next_attempt = time.monotonic() + min(RETRY_AFTER_FAILURE, self.min_interval)
            log.warning("cannot fetch signing keys from %s: %s", self.url, exc)
            raise KeysUnavailable(f"the signing keys could not be fetched ({type(exc).__name__})") from None
        self._url_keys = keys
        self._fetched_at = time.monotonic()
        self._next_attempt = self._fetched_at + self.min_interval
        log.info("loaded %d signing key(s) from %s", len(keys), self.url)
