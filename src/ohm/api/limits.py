"""Request body limits, and the per-token write rate limit.

One middleware holds every request body to its route's limit: a declared Content-Length over it is
answered at once (problem+json 413, the body never read, the route never run); a body that streams in
is counted as it arrives and stops at the limit with an HTTP 413 that the app's error handler turns into
the same problem+json.  (It replaced three layers -- Starlette's limiter, a per-route switch around it and
a rewrite of its plain-text 413 -- that every request went through.)
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ohm.api.errors import PROBLEM_JSON

TOO_LARGE = (b'{"type":"urn:ohm:problem:content-too-large","title":"Content too large","status":413,'
             b'"detail":"the request body is larger than this endpoint accepts"}')


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="the request body is larger than this endpoint accepts")


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """One request body limit per route: uploads may be as large as the upload limit, everything else is
    held to the general limit."""

    def __init__(self, app: ASGIApp, default: int, larger: dict[tuple[str, str], int]) -> None:
        self.app, self.default, self.larger = app, default, larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope["method"], scope["path"]), self.default)
        declared = declared_length(scope["headers"])
        if declared is not None and declared > limit:
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                    (b"content-length", str(len(TOO_LARGE)).encode()), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": TOO_LARGE})
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited, send)


# --- per-token write rate limit --------------------------------------------------------------------------

WRITE_METHODS = {b"POST", b"PUT", b"PATCH", b"DELETE", "POST", "PUT", "PATCH", "DELETE"}
class TokenBuckets:
    """One bucket per key: ``burst`` writes at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate, self.burst, self.max_keys = rate, float(burst), max_keys
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float:
        """0 if allowed (one token taken), else the seconds until the next token."""
        now = time.monotonic() if now is None else now
        tokens, last = self.buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self.buckets[key] = (tokens, now)
            wait = (1 - tokens) / self.rate
        while len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)
        return wait


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, read as the routes read it (scheme in any case,
    any whitespace)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class WriteRateLimit:
    """429 with Retry-After when one identity (or, without a valid token, one client address) writes too fast.

    The key is who the token verifies as (the user, or the role of an API key), not the header's bytes:
    writing ``bearer``, ``BEARER`` or extra spaces, or minting more tokens for the same user, all draw on
    one bucket.  A token that does not verify is counted by address (the route answers 401 anyway).
    Verified tokens are cached, so this costs a dictionary lookup per write.  Counted per server process."""

    def __init__(self, app: ASGIApp, rate: float, burst: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst)

    async def _key(self, scope: Scope) -> str:
        token = bearer_token(scope.get("headers") or [])
        tokens = getattr(getattr(scope.get("app"), "state", None), "tokens", None)
        if token is not None and tokens is not None:
            try:
                identity = await tokens.verify(token)
            except Exception:  # invalid, expired, keys unavailable: the route answers that
                identity = None
            if identity is not None:
                return f"u:{identity.user_id}" if identity.user_id else f"r:{identity.role}"
        client = scope.get("client") or ("?", 0)
        return f"a:{client[0]}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(await self._key(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        body = json.dumps({
            "type": "urn:ohm:problem:rate-limited", "title": "Too many requests", "status": 429,
            "detail": f"too many writes with this token; retry in {retry} s", "retry_after": retry,
        }).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(retry).encode())]})
        await send({"type": "http.response.body", "body": body})


# --- heavy anonymous reads -----------------------------------------------------------------------------------

HEAVY_SUFFIXES = ("/diff", ".csv", ".yaml", ".svg", ".zip")


def heavy(path: str) -> bool:
    """Reads that render, compare, search, export or load a chat: what one request can make the server do
    for a long time is bounded, but not free."""
    if path.endswith("/events"):
        return False  # a stream: one request, long-lived, limited by its own queue
    return path.startswith(("/share/", "/v1/shares/", "/v1/search")) or path.endswith(HEAVY_SUFFIXES) or (
        path.startswith("/v1/chats/") and path.count("/") <= 4)


class PublicReadLimit:
    """429 with Retry-After when one client address makes too many heavy reads without a token."""

    def __init__(self, app: ASGIApp, rate: float, burst: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or not heavy(scope["path"])
                or bearer_token(scope.get("headers") or []) is not None):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("?", 0)
        wait = self.buckets.take(f"a:{client[0]}")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        body = json.dumps({
            "type": "urn:ohm:problem:rate-limited", "title": "Too many requests", "status": 429,
            "detail": f"too many reads without a token from this address; retry in {retry} s",
            "retry_after": retry,
        }).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(retry).encode())]})
        await send({"type": "http.response.body", "body": body})
