"""/v1/chats and /v1/messages: thin routers over ohm.store.chats and ohm.store.messages."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from ohm.api.deps import AnyIdentity, Db, SignedIn
from ohm.api.responses import json_response
from ohm.models import (
    Chat,
    ChatCreate,
    ChatDetail,
    ChatUpdate,
    Message,
    MessageCreate,
    MessageCreated,
    MessageDetail,
    MessagePage,
    Page,
)
from ohm.store import chats as chat_store
from ohm.store import messages as message_store

router = APIRouter(prefix="/v1", tags=["chats"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such chat, or not yours to see (never told apart)."}}


@router.post("/chats", status_code=status.HTTP_201_CREATED, response_model=Chat, responses={401: {}, 422: {}})
async def create_chat(db: Db, identity: SignedIn, body: ChatCreate | None = None) -> Response:
    """Create a chat. Its `url` (`/chat/<id>`) is its address from now on."""
    return json_response(await chat_store.create_chat(db, identity, body or ChatCreate()), 201)


@router.get("/chats", response_model=Page[Chat])
async def list_chats(
    db: Db,
    identity: AnyIdentity,
    limit: Annotated[int, Query(ge=1, le=chat_store.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    project_id: uuid.UUID | None = None,
    archived: Annotated[Literal["false", "true", "any"],
                        Query(description="false (default): the active list; true: the archive; any: both.")] = "false",
    pinned: bool | None = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Service role only: whose chats.")] = None,
) -> Response:
    """Your chats, most recent activity first, with keyset pagination."""
    page = await chat_store.list_chats(db, identity, limit=limit, cursor=cursor, project_id=project_id,
                                       archived=None if archived == "any" else archived == "true",
                                       pinned=pinned, user_id=user_id)
    return json_response(page)


@router.get("/chats/{chat_id}", response_model=ChatDetail, responses=NOT_FOUND)
async def get_chat(chat_id: uuid.UUID, db: Db, identity: AnyIdentity,
                   limit: Annotated[int, Query(ge=1, le=message_store.MAX_PAGE)] = chat_store.MESSAGES_PAGE
                   ) -> Response:
    """The chat with its active branch, its artifacts (current versions) and its project. The branch comes
    page by page (at most `limit` messages and about 4 MiB each): `next_after_sequence` says where the next
    page starts (GET /v1/chats/{id}/messages?after_sequence=...)."""
    return Response(await chat_store.get_chat_json(db, identity, chat_id, limit=limit),
                    media_type="application/json")


@router.get("/chats/{chat_id}/export", response_class=Response, responses={
    **NOT_FOUND, 200: {"content": {"text/markdown": {}, "text/html": {},
                                   "application/json": {"schema": {"type": "object", "description": (
                                       "format=json: {format, chat, active_branch, messages}")}}},
                       "description": "The chat as a file (Content-Disposition: attachment)."}})
async def export_chat(chat_id: uuid.UUID, db: Db, identity: AnyIdentity,
                      format: Annotated[Literal["md", "json", "html"], Query(
                          description="md: the active branch and the artifacts, readable; html: the same as a "
                                      "page; json: the chat, every message of every branch, the artifacts.")] = "md",
                      ) -> Response:
    """One chat as a document to keep or send."""
    from urllib.parse import quote

    from ohm.store.exports import export_chat as make

    body, media_type, filename = await make(db, identity, chat_id, format)
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"})


@router.patch("/chats/{chat_id}", response_model=Chat, responses=NOT_FOUND)
async def update_chat(chat_id: uuid.UUID, body: ChatUpdate, db: Db, identity: SignedIn) -> Response:
    """Rename, archive, pin, publish, move to a project, or switch the active branch."""
    return json_response(await chat_store.update_chat(db, identity, chat_id, body))


@router.delete("/chats/{chat_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_chat(chat_id: uuid.UUID, db: Db, identity: SignedIn) -> Response:
    """Delete the chat with its messages, artifacts and share links."""
    await chat_store.delete_chat(db, identity, chat_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/chats/{chat_id}/messages", status_code=status.HTTP_201_CREATED, response_model=MessageCreated,
             responses={**NOT_FOUND, 413: {"description": "content > 1 MiB, or content_json/metadata > 256 KiB"}})
async def post_message(chat_id: uuid.UUID, body: MessageCreate, db: Db, identity: SignedIn) -> Response:
    """Append a message. Without `parent_id` it continues the active branch; with a parent that is not
    the current leaf it starts a new branch (an edit or a regeneration). Without `usage.cost_usd` the cost is
    computed from the tokens at the model's price of the day; an unknown model leaves it null, with a warning."""
    return message_created(await message_store.append_message(db, identity, chat_id, body))


def message_created(message: Message) -> Response:
    """201 with the message as stored, and a warning when its cost could not be computed (ohm.api.fast answers
    the ordinary appends with this too)."""
    warnings = message_store.cost_warnings(message)
    if warnings:
        return json_response(MessageCreated(**message.model_dump(), warnings=warnings), 201)
    return json_response(message, 201)


@router.get("/chats/{chat_id}/messages", response_model=MessagePage, responses=NOT_FOUND)
async def list_messages(
    chat_id: uuid.UUID,
    db: Db,
    identity: AnyIdentity,
    leaf_id: Annotated[uuid.UUID | None, Query(description="Show the branch ending here.")] = None,
    all: Annotated[bool, Query(description="The whole tree, every branch.")] = False,
    after_sequence: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=message_store.MAX_PAGE)] = 100,
) -> Response:
    """Messages in order: the active branch by default."""
    return Response(await message_store.list_messages_json(db, identity, chat_id, leaf_id=leaf_id, whole_tree=all,
                                                           after_sequence=after_sequence, limit=limit),
                    media_type="application/json")


@router.delete("/messages/{message_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["chats"],
               responses={404: {"description": "No such message, or not yours."}})
async def delete_message(message_id: uuid.UUID, db: Db, identity: SignedIn) -> Response:
    """Delete a message and every reply below it (the owner only). Sequence numbers are not reused; if the
    active branch ended in the deleted part, the chat shows its newest remaining branch."""
    deleted = await message_store.delete_message(db, identity, message_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"OHM-Deleted-Messages": str(deleted)})


@router.get("/messages/{message_id}", response_model=MessageDetail, tags=["chats"],
            responses={404: {"description": "No such message, or not yours to see."}})
async def get_message(message_id: uuid.UUID, db: Db, identity: AnyIdentity) -> Response:
    """One message with its siblings (for "2 / 3" branch switching) and children."""
    return json_response(await message_store.get_message(db, identity, message_id))
