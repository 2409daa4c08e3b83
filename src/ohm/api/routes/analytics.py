"""/v1/analytics/usage, /v1/prices and /v1/activity."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from ohm.api.deps import AnyIdentity, Db, SignedIn
from ohm.api.responses import json_response
from ohm.models import ActivityPage, GroupBy, MessageRole, ModelPrice, UsageReport
from ohm.store import analytics

router = APIRouter(prefix="/v1", tags=["analytics"])

From = Annotated[datetime | None, Query(alias="from", description="Inclusive start (ISO 8601).")]
To = Annotated[datetime | None, Query(description="Exclusive end (ISO 8601).")]
UserFilter = Annotated[uuid.UUID | None, Query(description="Service role only: one user's data.")]


@router.get("/analytics/usage", response_model=UsageReport, responses={401: {}, 422: {}})
async def usage(
    db: Db, identity: SignedIn, group_by: GroupBy = "agent", start: From = None, to: To = None,
    chat_id: uuid.UUID | None = None, project_id: uuid.UUID | None = None, role: MessageRole | None = None,
    user_id: UserFilter = None,
) -> Response:
    """Messages, input/output tokens, cost and average latency per agent, model, intent, role, day, chat or
    project, over your own messages (the service role: everyone's, or `user_id`'s). Which agent is used most:
    `group_by=agent`; average tokens per agent: `avg_*` of the same; total cost of a chat: `chat_id=` and
    `totals.cost_usd`."""
    return json_response(await analytics.usage(db, identity, group_by, start=start, end=to, chat_id=chat_id,
                                               project_id=project_id, user_id=user_id, role=role))


@router.get("/prices", response_model=list[ModelPrice])
async def prices(db: Db, identity: AnyIdentity,
                 current: Annotated[bool, Query(description="Only the price in force now per model.")] = False
                 ) -> Response:
    """Model list prices per million tokens (USD), each valid from `valid_from` on. Public."""
    items = await analytics.list_prices(db, identity, current_only=current)
    return Response(b"[" + b",".join(p.model_dump_json().encode() for p in items) + b"]",
                    media_type="application/json")


@router.get("/activity", response_model=ActivityPage, responses={401: {}})
async def activity(
    db: Db, identity: SignedIn, limit: Annotated[int, Query(ge=1, le=analytics.MAX_ACTIVITY_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    action: Annotated[str | None, Query(max_length=100, description="Exact (`chat.created`) or a prefix ending "
                                                                    "in '.' (`share.`).")] = None,
    entity_type: Annotated[str | None, Query(max_length=50)] = None, entity_id: uuid.UUID | None = None,
    chat_id: uuid.UUID | None = None, project_id: uuid.UUID | None = None, start: From = None, to: To = None,
    user_id: UserFilter = None,
) -> Response:
    """Your activity log, newest first (keyset paging); the service role sees everyone's."""
    return json_response(await analytics.activity(
        db, identity, limit=limit, cursor=cursor, action=action, entity_type=entity_type, entity_id=entity_id,
        chat_id=chat_id, project_id=project_id, start=start, end=to, user_id=user_id))
