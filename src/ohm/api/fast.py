"""The append route's short way through the app.

``POST /v1/chats/{chat_id}/messages`` is what agents call most. FastAPI answers it through its included-router
matching (every route of the app is tried in turn), a dependency graph solved per request (the bearer
scheme, the identity, the signed-in check, the database) and its body handling: measured in one process
against the same append called through the library, ~300 µs of CPU per request, as much again as the
append itself.

``FastAppend`` sits first in the app's routes and answers the ordinary request -- a bearer token that
verifies and may write messages, a JSON body that is a valid ``MessageCreate`` -- with the same store call
and the same response as the documented route. Anything else (no or a bad token, a key without the scope,
another content type, a body that does not validate) is handed, body included, to the app's router again,
marked so that this route steps aside: the documented route then answers it exactly as it always did, its
401, 403 or 422 included. The middleware (body limit, rate limit, read-your-writes) and the error
handlers wrap both ways alike. ``tests/test_fast_append.py`` sends the same requests both ways.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send

from ohm.api import scopes
from ohm.api.limits import bearer_token
from ohm.api.routes.chats import message_created
from ohm.auth import InvalidToken
from ohm.models import MessageCreate
from ohm.store import messages as message_store

PATH = "/v1/chats/{chat_id}/messages"
HEX = "[0-9A-Fa-f]"
PATH_RE = re.compile(rf"/v1/chats/({HEX}{{8}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{12}})/messages")
SCOPE = scopes.ROUTE_SCOPES["POST", PATH]  # what a key needs, as for the documented route
DECLINED = "ohm.fast_append.declined"


def _json_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Content-Type application/json (any parameters): the one the documented route parses as JSON too."""
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


class FastAppend(BaseRoute):
    path_format = PATH  # what FastAPI's route telemetry reads

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "POST" or DECLINED in scope:
            return Match.NONE, {}
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        found = PATH_RE.fullmatch(path)
        if found is None:
            return Match.NONE, {}
        return Match.FULL, {"path_params": {"chat_id": found[1]}}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        token = bearer_token(scope["headers"])
        if token is None or not _json_body(scope["headers"]):
            await self.decline(scope, receive, send)
            return
        try:
            identity = await state.tokens.verify(token)
        except InvalidToken:
            identity = None
        if identity is None or identity.role == "anon" or (identity.key is not None and not identity.key.allows(SCOPE)):
            await self.decline(scope, receive, send)
            return
        try:
            body = await Request(scope, receive).body()  # bounded by the body-limit middleware
        except ClientDisconnect:  # the client left before its body arrived: no one to answer, nothing written
            return
        try:
            # Python's json, as FastAPI reads bodies: orjson would be faster but reads differently (an int
            # past 64 bits becomes a float), and a message must be stored the same whichever way it came.
            data = MessageCreate.model_validate(json.loads(body))
        except (ValueError, RecursionError):  # JSON's and pydantic's errors: the route words each of them
            await self.decline(scope, replay(body, receive), send)
            return
        message = await message_store.append_message(state.db, identity, uuid.UUID(scope["path_params"]["chat_id"]),
                                                     data)
        await message_created(message)(scope, receive, send)

    async def decline(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The documented route answers: the router runs again with this route out of the way."""
        scope[DECLINED] = True
        await scope["router"].app(scope, receive, send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over ``body`` once more, then whatever the connection sends next."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Any = await receive()
        return message

    return again
