"""Chats: create, list (keyset), load with branch + artifacts + project, update, delete.

Every function runs in one transaction as the given identity; row-level
security decides what exists.  The owner filter in ``list_chats`` is what
"my chats" means (public chats of others are readable but are not yours),
not the protection: RLS is.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import errors
from psycopg.rows import tuple_row

from ohm.auth import Identity
from ohm.db.session import Conn, Database
from ohm.models import ArtifactSummary, Chat, ChatCreate, ChatDetail, ChatUpdate, Page, Project
from ohm.store._common import database_errors, decode_cursor, encode_cursor, first, json_bytes, owner_for_new
from ohm.store.errors import Invalid, NotFound
from ohm.store.messages import BRANCH_SQL, PAGE_BYTES, cut, message_dicts, messages_from_tuples, paged

MESSAGES_PAGE = 1000  # messages in a chat load; the rest page by page (GET /v1/chats/{id}/messages)

CHAT_COLUMNS = """
    c.id, c.user_id, c.project_id, c.title, c.phase::text as phase, c.is_public, c.is_archived, c.is_pinned,
    c.message_count, c.last_message_at, c.forked_from, c.current_leaf_id, c.is_branched, c.total_input_tokens,
    c.total_output_tokens, c.total_cost_usd, c.created_at, c.updated_at
"""

NOT_FOUND = "chat not found"
MAX_PAGE = 200


def chat_from_row(row: dict[str, Any]) -> Chat:
    return Chat(url=f"/chat/{row['id']}", **row)


async def create_chat(db: Database, identity: Identity, data: ChatCreate) -> Chat:
    owner = owner_for_new(identity, data.user_id, "chat")
    async with db.acting_as(identity) as conn:
        with database_errors("project not found"):
            try:
                cur = await conn.execute(
                    f"""insert into public.chats as c (user_id, project_id, title, phase, is_public)
                        values (%s, %s, %s, coalesce(%s::public.chat_phase, 'ideation'), %s)
                        returning {CHAT_COLUMNS}""",
                    (owner, data.project_id, data.title, data.phase, data.is_public),
                )
                row = await first(cur)
            except errors.ForeignKeyViolation:
                if data.user_id is not None:
                    raise Invalid("unknown user_id or a project of another user") from None
                raise Invalid("project_id is not one of your projects") from None
        return chat_from_row(row)


async def list_chats(
    db: Database,
    identity: Identity,
    *,
    limit: int = 50,
    cursor: str | None = None,
    project_id: uuid.UUID | None = None,
    archived: bool | None = False,
    pinned: bool | None = None,
    user_id: uuid.UUID | None = None,
) -> Page[Chat]:
    """The caller's chats, most recent activity first (the service role: ``user_id``'s, or all)."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    owner = identity.user_id if identity.role != "service_role" else user_id
    if identity.role == "anon":
        return Page[Chat](items=[], next_cursor=None)
    where = ["true"]
    params: list[Any] = []
    filters = {"c.user_id": owner, "c.project_id": project_id, "c.is_archived": archived, "c.is_pinned": pinned}
    for column, value in filters.items():
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if cursor is not None:
        last_at, last_id = decode_cursor(cursor, 2)
        try:
            after = (datetime.fromisoformat(last_at), uuid.UUID(last_id))
        except (TypeError, ValueError):
            raise Invalid("malformed cursor") from None
        where.append("(c.last_message_at, c.id) < (%s, %s)")
        params.extend(after)
    async for attempt in db.reads(identity):
        async with attempt as conn:
            # The chats policy adds "is_public or user_id = auth.uid()" to our own "user_id = $1";
            # PostgreSQL multiplies the two selectivities and expects a few hundred rows where a
            # heavy user has thousands, then prefers a bitmap scan and a sort of all of them
            # (4 ms at 10,000 chats instead of 0.1 ms). Without sorts the only plan left walks
            # the recent-chats index in order and stops at the page size.
            await conn.execute("set local enable_sort = off")
            cur = await conn.execute(
                f"""select {CHAT_COLUMNS} from public.chats c
                     where {' and '.join(where)}
                     order by c.last_message_at desc, c.id desc
                     limit %s""",
                (*params, limit + 1),
            )
            rows = await cur.fetchall()
    items = [chat_from_row(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(last.last_message_at.isoformat(), last.id)
    return Page[Chat](items=items, next_cursor=next_cursor)


ARTIFACTS_SQL = """
select a.id, a.chat_id, a.project_id, a.message_id, a.type::text as type, a.title, a.current_version,
       a.total_versions, v.id as version_id, v.content_text, v.content_json, v.change_summary,
       a.created_at, a.updated_at
  from public.artifacts a
  left join public.artifact_versions v on v.artifact_id = a.id and v.version_number = a.current_version
 where a.chat_id = %s
 order by a.created_at, a.id
"""

PROJECT_SQL = """
select p.id, p.user_id, p.name, p.description, p.goal, p.location, p.budget_amount, p.budget_currency,
       p.requirements, p.workflow_steps, p.success_metrics, p.status::text as status, p.spend_limit_usd,
       p.created_at, p.updated_at
  from public.projects p
 where p.id = (select c.project_id from public.chats c where c.id = %s)
"""


async def get_chat(db: Database, identity: Identity, chat_id: uuid.UUID, *, limit: int = MESSAGES_PAGE
                   ) -> ChatDetail:
    """The chat, the first page of its active branch, its artifacts (current versions) and its project."""
    chat, rows, more, artifacts, project = await _load_chat(db, identity, chat_id, limit)
    messages = messages_from_tuples(rows)
    return ChatDetail(url=f"/chat/{chat['id']}", **chat, messages=messages, artifacts=artifacts, project=project,
                      next_after_sequence=messages[-1].sequence_number if more else None)


async def get_chat_json(db: Database, identity: Identity, chat_id: uuid.UUID, *, limit: int = MESSAGES_PAGE
                        ) -> bytes:
    """``get_chat`` as the JSON of a ChatDetail, its messages written straight from the rows.

    The same document, without building a model per message and serialising it again: for a
    1,000-message chat 1.4 ms instead of 10.7 ms (tested equal to ``get_chat``'s JSON).
    """
    chat, rows, more, artifacts, project = await _load_chat(db, identity, chat_id, limit)
    document = ChatDetail(url=f"/chat/{chat['id']}", **chat, messages=[], artifacts=artifacts,
                          project=project).model_dump(mode="json")
    document["messages"] = message_dicts(rows)
    document["next_after_sequence"] = document["messages"][-1]["sequence_number"] if more else None
    return json_bytes(document)


async def _load_chat(db: Database, identity: Identity, chat_id: uuid.UUID, limit: int
                     ) -> tuple[dict[str, Any], list[tuple[Any, ...]], bool, list[ArtifactSummary], Project | None]:
    """Four statements sent together in one pipeline: one round trip, no N+1.  The branch comes as its
    first page (at most ``limit`` messages and about 4 MiB): a chat of forty 1 MB messages is not read
    into memory whole for one request."""
    async for attempt in db.reads(identity):
        async with attempt as conn:
            async with conn.pipeline():
                chat_cur = await conn.execute(f"select {CHAT_COLUMNS} from public.chats c where c.id = %s", (chat_id,))
                branch_cur = conn.cursor(row_factory=tuple_row)
                await branch_cur.execute(paged(BRANCH_SQL), {"chat_id": chat_id, "leaf_id": None, "after": 0,
                                                             "limit": limit, "budget": PAGE_BYTES})
                artifacts_cur = await conn.execute(ARTIFACTS_SQL, (chat_id,))
                # Projects are private: anon may not even ask (no privilege), others get no row.
                project_cur = await conn.execute(PROJECT_SQL, (chat_id,)) if identity.role != "anon" else None
            chat = await chat_cur.fetchone()
            if chat is None:
                raise NotFound(NOT_FOUND)
            rows, more = cut(await branch_cur.fetchall())
            artifacts = [ArtifactSummary.model_validate(r) for r in await artifacts_cur.fetchall()]
            project = await project_cur.fetchone() if project_cur is not None else None
    assert chat is not None
    return chat, rows, more, artifacts, Project.model_validate(project) if project else None


UPDATABLE = ("title", "phase", "is_archived", "is_pinned", "is_public", "project_id", "current_leaf_id")
NOT_NULL = {"phase", "is_archived", "is_pinned", "is_public"}


async def update_chat(db: Database, identity: Identity, chat_id: uuid.UUID, data: ChatUpdate) -> Chat:
    changes = {name: getattr(data, name) for name in UPDATABLE if name in data.model_fields_set}
    for name in NOT_NULL & changes.keys():
        if changes[name] is None:
            raise Invalid(f"{name} cannot be null")
    async with db.acting_as(identity) as conn:
        if not changes:
            return await _fetch_chat_for_update(conn, chat_id)
        assignments = ", ".join(
            f"{name} = %s::public.chat_phase" if name == "phase" else f"{name} = %s" for name in changes
        )
        with database_errors(NOT_FOUND):
            try:
                cur = await conn.execute(
                    f"update public.chats c set {assignments} where c.id = %s returning {CHAT_COLUMNS}",
                    (*changes.values(), chat_id),
                )
                row = await cur.fetchone()
            except errors.ForeignKeyViolation as exc:
                if exc.diag.constraint_name == "chats_current_leaf_fk":
                    raise Invalid("current_leaf_id is not a message of this chat") from None
                raise Invalid("project_id is not one of your projects") from None
        if row is None:
            raise NotFound(NOT_FOUND)
        return chat_from_row(row)


async def _fetch_chat_for_update(conn: Conn, chat_id: uuid.UUID) -> Chat:
    # FOR UPDATE applies the UPDATE policy: an empty PATCH still needs write access.
    with database_errors(NOT_FOUND):
        cur = await conn.execute(f"select {CHAT_COLUMNS} from public.chats c where c.id = %s for update", (chat_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(NOT_FOUND)
    return chat_from_row(row)


async def delete_chat(db: Database, identity: Identity, chat_id: uuid.UUID) -> None:
    """Delete a chat with its messages, artifacts and shares (uploads stay)."""
    async with db.acting_as(identity) as conn:
        with database_errors(NOT_FOUND):
            cur = await conn.execute("delete from public.chats where id = %s returning id", (chat_id,))
            deleted = await cur.fetchone()
        if deleted is None:
            raise NotFound(NOT_FOUND)
