"""Realtime over WebSocket (/v1/realtime) and Server-Sent Events (/v1/chats/{id}/events)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from ohm.api.deps import AnyIdentity
from ohm.api.realtime import CLOSING, Hub, Subscriber, as_text, reader, sse_bytes
from ohm.auth import Identity, InvalidToken, KeysUnavailable
from ohm.store.errors import Invalid, NotFound, Unauthenticated

router = APIRouter(prefix="/v1", tags=["realtime"])

HEARTBEAT_SECONDS = 15.0
MAX_CURSOR = 2**62
CURSOR = re.compile(r"[0-9]{1,19}")


async def _identity_from_token(request_state: Any, token: str | None) -> Identity:
    if not token:
        return Identity.anon()
    return readable(await request_state.tokens.verify(token))


def readable(identity: Identity) -> Identity:
    """A WebSocket's identity: an API key needs the scope `chats:read` to watch chats."""
    if identity.key is not None and not identity.key.allows("chats:read"):
        raise InvalidToken("this API key lacks the scope 'chats:read'")
    return identity


@router.websocket("/realtime")
async def realtime(websocket: WebSocket, token: Annotated[str | None, Query()] = None) -> None:
    """Messages in: `{"type": "auth", "token"}`, `{"type": "subscribe", "chat_id", "since"?}`,
    `{"type": "unsubscribe", "chat_id"}`, `{"type": "ping"}`. Messages out: `subscribed`, `event` (with the
    chat's `cursor`, the `kind` and the full row in `data`), `reset` (older events are no longer kept: reload
    the chat, continue from its `cursor`), `error`, `pong`."""
    hub: Hub = websocket.app.state.hub
    await websocket.accept()
    try:
        identity = await _identity_from_token(websocket.app.state, token)
    except InvalidToken as exc:
        await websocket.send_json({"type": "error", "code": "unauthorized", "detail": str(exc)})
        await websocket.close(code=4401)
        return
    except KeysUnavailable as exc:
        await websocket.send_json({"type": "error", "code": "unavailable", "detail": str(exc)})
        await websocket.close(code=1013)  # try again later
        return
    sub = Subscriber(identity)

    async def send_events() -> None:
        queue, send = sub.queue, websocket.send_text  # the fan-out's inner loop: no lookups per frame
        while True:
            left = sub.seconds_left()
            if left is not None and left <= 0:
                # The token expired (a client may send {"type": "auth"} with a fresh one before).
                await send(json.dumps({"type": "error", "code": "token_expired",
                                       "detail": "the token expired: reconnect with a fresh one, and resume "
                                                 "from your cursors"}))
                await websocket.close(code=4401)
                return
            item = await queue.get(left)
            if item is None:
                continue
            if item is CLOSING:
                await websocket.close(code=1012)  # service restart: the client resumes from its cursors
                return
            await send(as_text(item))
            if item.get("code") == "overflow":
                break
            if sub.replay_pending and sub.has_room_for_replay():
                await hub.refill(sub)  # a replay that stopped for room goes on, in this connection's task
        await websocket.close(code=4408)  # overflow: the client resumes from its cursors

    sender = asyncio.create_task(send_events())
    try:
        while True:
            try:
                message = await websocket.receive_json()
            except (json.JSONDecodeError, ValueError):
                sub.put({"type": "error", "code": "bad_request", "detail": "send JSON messages"})
                continue
            await _handle(hub, sub, message)
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        hub.unsubscribe(sub)


async def _handle(hub: Hub, sub: Subscriber, message: Any) -> None:
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        sub.put({"type": "pong"})
    elif kind == "auth":
        try:
            identity = readable(await hub.tokens.verify(str(message.get("token") or "")))
            # Before subscribing: anyone; after: only the same user again (a fresh token, later expiry).
            if sub.cursors and reader(identity) != sub.key:
                sub.put({"type": "error", "code": "bad_request",
                         "detail": "a new token must be the same user's once subscribed"})
                return
            sub.identity = identity
            sub.put({"type": "authenticated", "role": sub.identity.role})
        except InvalidToken as exc:
            sub.put({"type": "error", "code": "unauthorized", "detail": str(exc)})
        except KeysUnavailable as exc:
            sub.put({"type": "error", "code": "unavailable", "detail": str(exc)})
    elif kind in ("subscribe", "unsubscribe"):
        try:
            chat_id = uuid.UUID(str(message.get("chat_id")))
            since = message.get("since")
            # JSON true is a Python int too: only a real integer is a cursor.
            if since is not None and (type(since) is not int or not 0 <= since <= MAX_CURSOR):
                raise ValueError
        except ValueError:
            sub.put({"type": "error", "code": "bad_request", "detail": "chat_id must be a uuid, since an int >= 0"})
            return
        if kind == "unsubscribe":
            hub.unsubscribe(sub, chat_id)
            sub.put({"type": "unsubscribed", "chat_id": str(chat_id)})
            return
        try:
            started = await hub.subscribe(sub, chat_id, since)
        except Unauthenticated:
            hub.revoked(sub)
            return
        if started is None:
            sub.put({"type": "error", "code": "not_found", "chat_id": str(chat_id),
                     "detail": "no such chat, or not yours to watch"})
    else:
        sub.put({"type": "error", "code": "bad_request", "detail": f"unknown message type {kind!r}"})


@router.get("/chats/{chat_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "One `event:` per change, `id:` = the chat's cursor."},
                       404: {"description": "No such chat, or not yours to watch."}})
async def chat_events(
    chat_id: uuid.UUID,
    request: Request,
    identity: AnyIdentity,
    since: Annotated[int | None, Query(ge=0, le=MAX_CURSOR, description="Resume after this cursor.")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events for one chat. Reconnecting browsers send `Last-Event-ID` and get what they missed
    first. EventSource cannot send headers: pass `?token=` instead of `Authorization`."""
    hub: Hub = request.app.state.hub
    if since is None and last_event_id:
        # What this server sent as `id:` (ASCII digits); "²".isdigit() is true, and 5,000 digits overflow.
        if not CURSOR.fullmatch(last_event_id.strip()) or int(last_event_id) > MAX_CURSOR:
            raise Invalid("Last-Event-ID must be a cursor this server sent (a non-negative integer)")
        since = int(last_event_id)
    sub = Subscriber(identity)
    if await hub.subscribe(sub, chat_id, since) is None:
        raise NotFound("chat not found")

    async def stream() -> AsyncIterator[bytes]:
        retry = "retry: 1000\n"  # sent once, with the first frame: reconnect after a second
        try:
            while True:
                left = sub.seconds_left()
                if left is not None and left <= 0:  # the token expired: reconnect with a fresh one
                    yield (retry + 'event: error\ndata: {"type": "error", "code": "token_expired"}\n\n').encode()
                    return
                item = await sub.queue.get(HEARTBEAT_SECONDS if left is None else min(HEARTBEAT_SECONDS, left))
                if item is None:
                    if left is None or left > HEARTBEAT_SECONDS:
                        yield b": keep-alive\n\n"
                    continue
                if item is CLOSING:  # the server is stopping: the client reconnects (after `retry`)
                    return
                if retry:
                    yield retry.encode()
                    retry = ""
                yield sse_bytes(item)  # an event's bytes are made once and shared by every stream
                if item.get("code") in ("overflow", "not_found"):
                    return
                if sub.replay_pending and sub.has_room_for_replay():
                    await hub.refill(sub)
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
