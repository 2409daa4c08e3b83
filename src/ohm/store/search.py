"""Full-text and identifier search across messages, artifacts, parts and chats.

The search is ``public.search_all`` (migration 0008), the function
supabase.rpc() calls too: each source is searched within the caller's own
rows (the (user_id, vector) GIN indexes of migration 0008), the hits are
ranked together, a page is cut by keyset, and only that page gets snippets.
Anon searches public chats.  RLS applies to every row as everywhere else; the
owner filters are what make it fast, not what makes it safe.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import SearchHit, SearchPage
from ohm.store._common import database_errors, decode_cursor, encode_cursor
from ohm.store.errors import Invalid

SearchType = Literal["messages", "artifacts", "parts", "chats"]
TYPES: tuple[SearchType, ...] = ("messages", "artifacts", "parts", "chats")
MAX_QUERY = 1000
MAX_PAGE = 100


def _check_query(q: str) -> str:
    q = q.strip()
    if not q:
        raise Invalid("q must not be empty")
    if len(q) > MAX_QUERY:
        raise Invalid(f"q is longer than {MAX_QUERY} characters")
    if "\x00" in q:
        raise Invalid("q contains a NUL character")
    return q


async def search(
    db: Database,
    identity: Identity,
    q: str,
    *,
    types: list[SearchType] | None = None,
    project_id: uuid.UUID | None = None,
    chat_id: uuid.UUID | None = None,
    agent: str | None = None,
    intent: str | None = None,
    role: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    user_id: uuid.UUID | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> SearchPage:
    q = _check_query(q)
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    after: tuple[Any, ...] = (None, None, None)
    if cursor is not None:
        rank, created, last_id = decode_cursor(cursor, 3)
        try:
            after = (float(rank), datetime.fromisoformat(created), uuid.UUID(last_id))
        except (TypeError, ValueError):
            raise Invalid("malformed cursor") from None
    async for attempt in db.reads(identity):
        async with attempt as conn:
            with database_errors():
                # search_all plans each call with the query as a constant (see migration 0008).
                cur = await conn.execute(
                    """select * from public.search_all(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    (q, list(types) if types else None, project_id, chat_id, agent, intent, role, since, until,
                     user_id if identity.role == "service_role" else None, limit + 1, *after))
                rows = await cur.fetchall()
    items = [
        SearchHit(type=r["type"], id=r["id"], chat_id=r["chat_id"], chat_title=r["chat_title"],
                  chat_url=f"/chat/{r['chat_id']}", snippet=r["snippet"], rank=r["rank"],
                  created_at=r["created_at"], role=r["role"], agent=r["agent"], intent=r["intent"],
                  artifact_type=r["artifact_type"], version=r["version"])
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(repr(last.rank), last.created_at.isoformat(), last.id)
    return SearchPage(items=items, next_cursor=next_cursor)
