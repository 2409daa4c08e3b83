"""Read-your-writes across read replicas, for HTTP (installed when ``OHM_READ_REPLICA_URLS`` is set).

A write's response carries ``OHM-LSN``: the primary's WAL insert position once the write committed
(and, for browser pages, the same in an ``ohm_lsn`` cookie).  A request that sends it back, in the
header or the cookie, reads from a standby only once that standby has replayed past it
(``ohm.db.replicas``).  The typed client carries the header along by itself.
"""

from __future__ import annotations

import json
import logging
from http.cookies import SimpleCookie

import psycopg
from psycopg_pool import PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ohm.db.replicas import read_after
from ohm.lsn import format_lsn, parse_lsn

log = logging.getLogger(__name__)

HEADER = b"ohm-lsn"
COOKIE = "ohm_lsn"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _cookie(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
                morsel = jar.get(COOKIE)
                return parse_lsn(morsel.value) if morsel is not None else None
            except (ValueError, KeyError):  # a stale or mangled cookie is no reason to refuse a read
                return None
    return None


class ReadYourWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        after = _cookie(headers)
        for name, value in headers:
            if name == HEADER:
                try:
                    given = parse_lsn(value.decode("latin-1"))
                except ValueError:
                    body = json.dumps({
                        "type": "urn:ohm:problem:bad-request", "title": "Bad Request", "status": 400,
                        "detail": "OHM-LSN is not a WAL position (e.g. 16/B374D848): send back the value a "
                                  "write's response carried"}).encode()
                    await send({"type": "http.response.start", "status": 400,
                                "headers": [(b"content-type", b"application/problem+json"),
                                            (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    return
                after = given if after is None else max(after, given)
        token = read_after.set(after)
        try:
            if scope["method"] not in WRITES:
                await self.app(scope, receive, send)
                return
            app_state = scope["app"].state

            async def stamped(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] < 400:
                    try:
                        lsn = format_lsn(await app_state.db.current_lsn()).encode()
                    except (psycopg.Error, PoolTimeout) as exc:  # the write is done; only the stamp is missing
                        log.warning("no WAL position for the response: %s", exc)
                    else:
                        message["headers"] = [*message.get("headers", []), (HEADER, lsn),
                                              (b"set-cookie", b"%s=%s; Path=/; SameSite=Lax; HttpOnly"
                                               % (COOKIE.encode(), lsn))]
                await send(message)

            await self.app(scope, receive, stamped)
        finally:
            read_after.reset(token)
