"""Forks: continue someone's (or your own) conversation in a chat of your own.

A fork copies the branch up to the fork point (new ids, the same content,
agents and usage, sequence numbers from 1) and the artifacts as they were at
that point, each starting its own history at the copied version with a link
to the origin.  The copy is written by the forking user under their own RLS,
in one transaction with its bookkeeping (``ohm.record_fork``: the fork's
origin, the lineage row, the share's fork count).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection, errors
from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import Chat, ForkSummary, Lineage, LineageEntry
from ohm.store.chats import CHAT_COLUMNS, chat_from_row
from ohm.store.errors import Invalid, NotFound
from ohm.store.messages import BRANCH_SQL
from ohm.store.shares import snapshot


@dataclass
class Source:
    """What a fork copies, read with whatever right the caller has to see it."""

    chat_id: uuid.UUID | None
    title: str | None
    messages: list[dict[str, Any]]
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    fork_point: uuid.UUID | None = None
    share_token: str | None = None


def _signed_in(identity: Identity) -> uuid.UUID:
    if identity.role == "service_role":
        raise Invalid("a fork belongs to a user: fork with the user's token")
    if identity.role != "authenticated" or identity.user_id is None:
        raise NotFound("sign in as a user to fork")
    return identity.user_id


# Artifacts as they were at the fork point: an artifact or version belongs to the
# fork when the message that made it is in the copied branch, or, if it names no
# message, when it was written before the fork point (always, when the fork point
# is the chat's current leaf).
VISIBLE_ARTIFACTS_SQL = """
select distinct on (a.id)
       a.id, a.type::text as type, a.title, a.message_id, v.id as version_id, v.version_number as version,
       v.content_text, v.content_json, v.change_summary
  from public.artifacts a
  join public.artifact_versions v on v.artifact_id = a.id
 where a.chat_id = %(chat)s
   and (a.message_id = any(%(branch)s::uuid[])
        or (a.message_id is null and (%(until)s::timestamptz is null or a.created_at <= %(until)s)))
   and (v.created_by_message_id = any(%(branch)s::uuid[])
        or (v.created_by_message_id is null and (%(until)s::timestamptz is null or v.created_at <= %(until)s)))
 order by a.id, v.version_number desc
"""


async def _source_from_chat(conn: AsyncConnection, chat_id: uuid.UUID, message_id: uuid.UUID | None) -> Source:
    cur = await conn.execute("select id, title, current_leaf_id from public.chats where id = %s", (chat_id,))
    chat = await cur.fetchone()
    if chat is None:
        raise NotFound("chat not found")
    if message_id is not None:
        cur = await conn.execute("select 1 from public.messages where id = %s and chat_id = %s", (message_id, chat_id))
        if await cur.fetchone() is None:
            raise Invalid("message_id is not a message of this chat")
    cur = await conn.execute(BRANCH_SQL, {"chat_id": chat_id, "leaf_id": message_id})
    messages = await cur.fetchall()
    point = messages[-1] if messages else None
    whole = point is None or message_id is None or point["id"] == chat["current_leaf_id"]
    until = None if whole else point["created_at"]
    cur = await conn.execute(VISIBLE_ARTIFACTS_SQL,
                             {"chat": chat_id, "branch": [m["id"] for m in messages], "until": until})
    return Source(chat_id, chat["title"], messages, await cur.fetchall(), point["id"] if point else None)


async def _source_from_share(conn: AsyncConnection, token: str, message_id: uuid.UUID | None) -> Source:
    shared = await snapshot(conn, token, count_view=False)
    messages = [m.model_dump() for m in shared.messages]
    for m in messages:
        m["agent_name"], m["agent_model"], m["agent_icon"] = (
            (m["agent"]["name"], m["agent"]["model"], m["agent"]["icon"]) if m["agent"] else (None, None, None))
        m.update(input_tokens=m["usage"]["input_tokens"], output_tokens=m["usage"]["output_tokens"],
                 cost_usd=m["usage"]["cost_usd"])
    if message_id is not None:
        ids = [m["id"] for m in messages]
        if message_id not in ids:
            raise Invalid("message_id is not a message of this share")
        messages = messages[: ids.index(message_id) + 1]
    branch = {m["id"] for m in messages}
    until = messages[-1]["created_at"] if message_id is not None and messages else None
    artifacts = [a.model_dump() for a in shared.artifacts
                 if a.message_id in branch or (a.message_id is None and (until is None or a.created_at <= until))]
    return Source(None, shared.chat.title, messages, artifacts, messages[-1]["id"] if messages else None, token)


async def _write_fork(conn: AsyncConnection, owner: uuid.UUID, source: Source) -> Chat:
    # The copies are not logged one by one: the fork is one activity row (chat.forked, from the lineage row).
    await conn.execute("select set_config('ohm.activity_quiet', 'on', true)")
    cur = await conn.execute(
        "insert into public.chats (user_id, title) values (%s, %s) returning id", (owner, source.title))
    fork_id = (await cur.fetchone())["id"]
    new_ids: dict[uuid.UUID, uuid.UUID] = {}
    previous = None
    rows = []
    for m in source.messages:
        new_ids[m["id"]] = uuid.uuid4()
        rows.append((new_ids[m["id"]], fork_id, owner, previous, m["role"], m["content"],
                     Jsonb(m["content_json"]) if m["content_json"] is not None else None, m["agent_name"],
                     m["agent_model"], m["agent_icon"], m["intent"], m["input_tokens"], m["output_tokens"],
                     m["cost_usd"], m["latency_ms"], Jsonb(m["metadata"] or {})))
        previous = new_ids[m["id"]]
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(
                """insert into public.messages
                     (id, chat_id, user_id, parent_id, role, content, content_json, agent_name, agent_model,
                      agent_icon, intent, input_tokens, output_tokens, cost_usd, latency_ms, metadata)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""", rows)
    for a in source.artifacts:
        cur = await conn.execute(
            """insert into public.artifacts (chat_id, user_id, message_id, type, title, forked_from_version_id)
               values (%s, %s, %s, %s, %s, %s) returning id, user_id""",
            (fork_id, owner, new_ids.get(a["message_id"]), a["type"], a["title"], a["version_id"]))
        artifact = await cur.fetchone()
        await conn.execute(
            """insert into public.artifact_versions (artifact_id, user_id, content_text, content_json, change_summary,
                                                     created_by_user_id)
               values (%s, %s, %s, %s, %s, %s)""",
            (artifact["id"], owner, a["content_text"],
             Jsonb(a["content_json"]) if a["content_json"] is not None else None,
             f"Forked from v{a['version']}" + (f": {a['change_summary']}" if a["change_summary"] else ""), owner))
    await conn.execute("select set_config('ohm.activity_quiet', 'off', true)")
    try:
        await conn.execute("select ohm.record_fork(%s, %s, %s, %s)",
                           (source.chat_id, fork_id, source.fork_point, source.share_token))
    except (errors.NoDataFound, errors.ForeignKeyViolation):
        # The original (or the share) went away while we copied it: the whole fork rolls back.
        raise NotFound("chat not found") from None
    cur = await conn.execute(f"select {CHAT_COLUMNS} from public.chats c where c.id = %s", (fork_id,))
    return chat_from_row(await cur.fetchone())


async def fork_chat(db: Database, identity: Identity, chat_id: uuid.UUID,
                    message_id: uuid.UUID | None = None) -> Chat:
    """Fork your own chat or a public one, up to ``message_id`` (default: its current leaf)."""
    owner = _signed_in(identity)
    async with db.acting_as(identity) as conn:
        source = await _source_from_chat(conn, chat_id, message_id)
        return await _write_fork(conn, owner, source)


async def fork_share(db: Database, identity: Identity, token: str, message_id: uuid.UUID | None = None) -> Chat:
    """Fork what a share shows, up to ``message_id`` (default: the share's last message)."""
    owner = _signed_in(identity)
    async with db.acting_as(identity) as conn:
        source = await _source_from_share(conn, token, message_id)
        return await _write_fork(conn, owner, source)


async def lineage(db: Database, identity: Identity, chat_id: uuid.UUID) -> Lineage:
    async with db.acting_as(identity) as conn:
        cur = await conn.execute("select 1 from public.chats where id = %s", (chat_id,))
        if await cur.fetchone() is None:
            raise NotFound("chat not found")
        cur = await conn.execute("select * from ohm.chat_lineage(%s)", (chat_id,))
        ancestors = [LineageEntry.model_validate(r) for r in await cur.fetchall()]
        cur = await conn.execute(
            "select id as chat_id, title, created_at as forked_at from public.chats where forked_from = %s "
            "order by created_at", (chat_id,))
        forks = [ForkSummary.model_validate(r) for r in await cur.fetchall()]
    return Lineage(chat_id=chat_id, ancestors=ancestors, forks=forks)
