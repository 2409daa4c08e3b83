"""Share links and forks: /v1/chats/{id}/shares, /v1/shares/{token}, forks and lineage."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from ohm.api.deps import AnyIdentity, Db, SignedIn
from ohm.api.responses import json_response
from ohm.models import Chat, ForkCreate, Lineage, Share, ShareCreate, ShareSnapshot
from ohm.offload import off_loop
from ohm.store import forks, shares

router = APIRouter(prefix="/v1", tags=["shares and forks"])


def visitor(request: Request) -> str:
    """A view counts once per visitor and day: the client's address (as the server sees it, behind trusted
    proxies their X-Forwarded-For) and user agent, hashed."""
    return shares.visitor_key(request.client.host if request.client else None, request.headers.get("user-agent"))

Token = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
GONE: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown, revoked or expired (never told apart)."}}


@router.post("/chats/{chat_id}/shares", status_code=status.HTTP_201_CREATED, response_model=Share,
             responses={404: {"description": "No such chat, or not yours."}, 422: {}})
async def create_share(chat_id: uuid.UUID, db: Db, identity: SignedIn, body: ShareCreate | None = None) -> Response:
    """Share a snapshot of the chat: the branch up to `up_to_message_id` (default: the current leaf) and
    every artifact at its current version. Later messages and versions do not appear."""
    return json_response(await shares.create_share(db, identity, chat_id, body or ShareCreate()), 201)


@router.get("/chats/{chat_id}/shares", response_model=list[Share],
            responses={404: {"description": "No such chat, or not yours."}})
async def list_shares(chat_id: uuid.UUID, db: Db, identity: SignedIn) -> list[Share]:
    """Your shares of this chat, newest first, with view and fork counts."""
    return await shares.list_shares(db, identity, chat_id)


@router.get("/shares/{token}", response_model=ShareSnapshot, responses=GONE)
async def read_share(token: Token, request: Request, db: Db, identity: AnyIdentity,
                     after_sequence: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                     limit: Annotated[int, Query(ge=1, le=500)] = shares.PAGE) -> Response:
    """The snapshot behind a share token. No sign-in needed; a visitor's first read of the day counts one
    view. Messages come page by page (`next_after_sequence`); artifacts and uploads with the first page, the
    uploads with signed links to their bytes (valid for an hour)."""
    raw = await shares.read_share_raw(db, identity, token, visitor=visitor(request), after_sequence=after_sequence,
                                      limit=limit)
    body = await off_loop(shares.share_json, *raw, request.app.state.jwt_secret)  # a 4 MiB page: off the loop
    return Response(body, media_type="application/json")


@router.delete("/shares/{token}", response_model=Share, responses=GONE)
async def revoke_share(token: Token, db: Db, identity: SignedIn) -> Response:
    """Revoke a share (owner only): the link stops working, its counts stay."""
    return json_response(await shares.revoke_share(db, identity, token))


@router.post("/chats/{chat_id}/fork", status_code=status.HTTP_201_CREATED, response_model=Chat,
             responses={404: {"description": "No such chat, or neither yours nor public."}, 422: {}})
async def fork_chat(chat_id: uuid.UUID, db: Db, identity: SignedIn, body: ForkCreate | None = None) -> Response:
    """A new chat of your own with a copy of this chat's branch up to `message_id` and its artifacts as
    they were at that point."""
    body = body or ForkCreate()
    return json_response(await forks.fork_chat(db, identity, chat_id, body.message_id), 201)


@router.post("/shares/{token}/fork", status_code=status.HTTP_201_CREATED, response_model=Chat, responses=GONE)
async def fork_share(token: Token, db: Db, identity: SignedIn, body: ForkCreate | None = None) -> Response:
    """A new chat of your own with a copy of what the share shows (up to `message_id`)."""
    body = body or ForkCreate()
    return json_response(await forks.fork_share(db, identity, token, body.message_id), 201)


@router.get("/chats/{chat_id}/lineage", response_model=Lineage,
            responses={404: {"description": "No such chat, or not yours to see."}})
async def lineage(chat_id: uuid.UUID, db: Db, identity: AnyIdentity) -> Response:
    """Where this chat was forked from (and that one from, ...), and its forks you may read."""
    return json_response(await forks.lineage(db, identity, chat_id))
