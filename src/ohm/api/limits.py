"""Request body limits.

Starlette's ``RequestBodyLimitMiddleware`` enforces the limit while the body
streams in (routes may set their own ``max_body_size``).  When the client
*declares* a too-large Content-Length, Starlette answers with a plain-text 413
of its own; this middleware, placed around it, turns that answer into the
problem+json every other error uses.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ohm.api.errors import PROBLEM_JSON


class ProblemJson413:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rewriting = False

        async def rewrite(message: Message) -> None:
            nonlocal rewriting
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"text/plain"):
                    rewriting = True
                    return
            if rewriting and message["type"] == "http.response.body":
                body = json.dumps({
                    "type": "urn:ohm:problem:content-too-large",
                    "title": "Content too large",
                    "status": 413,
                    "detail": "the request body is larger than this endpoint accepts",
                }).encode()
                await send({"type": "http.response.start", "status": 413,
                            "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                rewriting = False
                return
            await send(message)

        await self.app(scope, receive, rewrite)
