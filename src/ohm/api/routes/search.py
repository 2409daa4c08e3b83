"""GET /v1/search: ranked full-text and identifier search, scoped to what the caller may read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from ohm.api.deps import AnyIdentity, Db
from ohm.api.responses import json_response
from ohm.models import Intent, MessageRole, SearchPage
from ohm.store import search as store

router = APIRouter(prefix="/v1", tags=["search"])


@router.get("/search", response_model=SearchPage)
async def search(
    db: Db,
    identity: AnyIdentity,
    q: Annotated[str, Query(min_length=1, max_length=store.MAX_QUERY,
                            description='Words, "quoted phrases", OR, -excluded; part numbers as typed.')],
    type: Annotated[list[store.SearchType] | None,
                    Query(description="Any of messages, artifacts, parts, chats (repeat the parameter).")] = None,
    project_id: uuid.UUID | None = None,
    chat_id: uuid.UUID | None = None,
    agent: Annotated[str | None, Query(max_length=100)] = None,
    intent: Intent | None = None,
    role: MessageRole | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Service role only: whose data.")] = None,
    limit: Annotated[int, Query(ge=1, le=store.MAX_PAGE)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Best matches first: each hit with its chat (id, title, url), a highlighted snippet and its rank."""
    return json_response(await store.search(
        db, identity, q, types=type, project_id=project_id, chat_id=chat_id, agent=agent, intent=intent, role=role,
        since=from_, until=to, user_id=user_id, limit=limit, cursor=cursor))
