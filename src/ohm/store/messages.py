"""Messages: append (numbered, branching), list a branch or the tree, one message with siblings.

Appending is one statement (``ohm.append_message``, one round trip): it
switches to the caller's identity, locks the chat row (``FOR UPDATE``, which
also applies the chat's UPDATE policy, so only the owner or the service role
gets a row), takes the current leaf as the default parent, and inserts; the
trigger numbers the message from the locked chat's counter.  Writers of one
chat therefore queue on that row and get gap-free numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import errors
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import AgentInfo, Message, MessageAgent, MessageCreate, MessageDetail, MessagePage, MessageUsage, Usage
from ohm.store._common import (
    KiB,
    MiB,
    check_json_size,
    check_text_size,
    collector_paused,
    database_errors,
    json_bytes,
    trusted,
)
from ohm.store.errors import Invalid, NotFound

CONTENT_LIMIT = 1 * MiB
JSON_LIMIT = 256 * KiB
MAX_PAGE = 1000

# A message row: the one list that makes both the SQL (MESSAGE_COLUMNS, ROW_COLUMNS) and the mapping to
# ``Message`` (message_fields): (expression over public.messages m, the name it is read by).  Most messages
# have no metadata: an empty object is sent as NULL and made `{}` here, not parsed as JSON once per message
# (0.4 ms of a 1,000-message page).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("m.id", "id"), ("m.chat_id", "chat_id"), ("m.parent_id", "parent_id"),
    ("m.sequence_number", "sequence_number"), ("m.role::text", "role"), ("m.content", "content"),
    ("m.content_json", "content_json"), ("m.agent_name", "agent_name"), ("m.agent_model", "agent_model"),
    ("m.agent_icon", "agent_icon"), ("m.intent::text", "intent"), ("m.input_tokens", "input_tokens"),
    ("m.output_tokens", "output_tokens"), ("m.cost_usd", "cost_usd"), ("m.latency_ms", "latency_ms"),
    ("nullif(m.metadata, '{}')", "metadata"), ("m.created_at", "created_at"),
)
FIELDS = tuple(name for _, name in COLUMNS)
MESSAGE_COLUMNS = ", ".join(f"{expression} as {name}" for expression, name in COLUMNS)

# The branch that ends at a leaf (given, else the chat's current leaf, else
# its newest message), oldest first.  A chat that never branched (and whose
# leaf is its newest message) is read in sequence order straight from the
# index; otherwise the branch is walked up through parent_id, starting from a
# primary-key lookup of the leaf.
BRANCH_SQL = f"""
with recursive p as (
  select %(leaf_id)s::uuid is null and not c.is_branched
         and (c.current_leaf_id is null or c.current_leaf_id = n.newest) as linear,
         coalesce(%(leaf_id)s::uuid, c.current_leaf_id, n.newest) as leaf
    from public.chats c
    left join lateral (
      select m2.id as newest from public.messages m2
       where m2.chat_id = c.id order by m2.sequence_number desc limit 1
    ) n on true
   where c.id = %(chat_id)s
), branch as (
  select {MESSAGE_COLUMNS}
    from public.messages m
   where m.id = (select p.leaf from p where not p.linear) and m.chat_id = %(chat_id)s
  union all
  select {MESSAGE_COLUMNS}
    from public.messages m join branch b on m.chat_id = b.chat_id and m.id = b.parent_id
)
select * from branch
union all
select {MESSAGE_COLUMNS}
  from public.messages m
 where m.chat_id = %(chat_id)s and (select p.linear from p)
order by sequence_number
"""

# A page of a message source (rows in MESSAGE_COLUMNS order): after %(after)s, at most %(limit)s rows and
# about %(budget)s bytes (a page always holds its first row, so each page is at most the budget plus one
# message).  Sizes are what the rows take to read: the text's length and the JSON columns' stored size.
# One row more is read than kept: the first row beyond the page (by count or by bytes), its large columns
# left out, flagged by the last column `beyond`: there are more pages.  (A `count(*) over ()` said the same
# but holds the whole window before the first row comes out: 0.7 ms more for a 1,000-message page.)
PAGE_BYTES = 4 * MiB
ROW_COLUMNS = ", ".join(FIELDS)
_LARGE = ("content", "content_json", "metadata")
_KEPT = "x.rn <= %(limit)s and (x.rn = 1 or x.running - x.own < %(budget)s)"
_PAGE_COLUMNS = ", ".join(f"case when {_KEPT} then x.{name} end as {name}" if name in _LARGE else f"x.{name}"
                          for name in FIELDS)


def paged(source_sql: str) -> str:
    return f"""
select {_PAGE_COLUMNS}, not ({_KEPT}) as beyond from (
  select s.*, sum(s.own) over w as running, row_number() over w as rn, coalesce(lag(s.own) over w, 0) as before
    from (select b.*, octet_length(b.content) + coalesce(pg_column_size(b.content_json), 0)
                      + coalesce(pg_column_size(b.metadata), 0) as own
            from ({source_sql}) b where b.sequence_number > %(after)s
           order by b.sequence_number limit %(limit)s + 1) s
  window w as (order by s.sequence_number rows unbounded preceding)
) x where x.rn <= 2 or x.running - x.own - x.before < %(budget)s
order by x.sequence_number"""


def cut(rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], bool]:
    """The page's rows, and whether more pages follow (the row beyond the page is taken off; the others
    keep their `beyond` column at the end, where ``fields_of``, reading by position, never looks)."""
    more = bool(rows) and rows[-1][-1]
    if more:
        rows.pop()
    return rows, more


# The locked insert lives in the database (migration 0003): the identity
# travels as arguments so that an append is one statement, one round trip.
APPEND_SQL = """
select * from ohm.append_message(
  %(role)s, %(claims)s, %(chat_id)s, %(parent_given)s, %(parent_id)s, %(message_role)s, %(content)s,
  %(content_json)s, %(agent_name)s, %(agent_model)s, %(agent_icon)s, %(intent)s, %(input_tokens)s,
  %(output_tokens)s, %(cost_usd)s, %(latency_ms)s, %(metadata)s)
"""

NOT_FOUND = "chat not found"



_AT = {name: i for i, name in enumerate(FIELDS)}


def fields_of(row: Sequence[Any], at_id: int = _AT["id"], at_chat: int = _AT["chat_id"],
              at_parent: int = _AT["parent_id"], at_seq: int = _AT["sequence_number"], at_role: int = _AT["role"],
              at_content: int = _AT["content"], at_json: int = _AT["content_json"], at_agent: int = _AT["agent_name"],
              at_model: int = _AT["agent_model"], at_icon: int = _AT["agent_icon"], at_intent: int = _AT["intent"],
              at_in: int = _AT["input_tokens"], at_out: int = _AT["output_tokens"], at_cost: int = _AT["cost_usd"],
              at_latency: int = _AT["latency_ms"], at_meta: int = _AT["metadata"],
              at_created: int = _AT["created_at"]) -> dict[str, Any]:
    """A row (a tuple in COLUMNS order) as ``Message``'s fields, in its order: the one place the shape is
    built, for the models and for the JSON the API writes straight from it.  Each position is found by
    its name in COLUMNS (bound once, as defaults: this runs for every message of every page)."""
    return {
        "id": row[at_id], "parent_id": row[at_parent], "sequence_number": row[at_seq], "role": row[at_role],
        "content": row[at_content], "content_json": row[at_json],
        "agent": {"name": row[at_agent], "model": row[at_model], "icon": row[at_icon]} if row[at_agent] else None,
        "intent": row[at_intent],
        "usage": {"input_tokens": row[at_in], "output_tokens": row[at_out], "cost_usd": row[at_cost]},
        "latency_ms": row[at_latency], "metadata": row[at_meta] or {}, "created_at": row[at_created],
        "chat_id": row[at_chat],
    }


def message_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """``fields_of`` for a row read by name (a dict row that may hold more columns)."""
    return fields_of(tuple(row[name] for name in FIELDS))


def message_dicts(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Rows as tuples in COLUMNS order (the fast path: no dict rows from psycopg) as ``Message``'s fields."""
    with collector_paused():
        return [fields_of(row) for row in rows]


_new_agent, _new_usage, _new_message = trusted(MessageAgent), trusted(MessageUsage), trusted(Message)


def messages_from_tuples(rows: list[tuple[Any, ...]]) -> list[Message]:
    """Rows (tuples in COLUMNS order) as models, without validating them again: each column already has
    its field's type (psycopg types them; the table's enums and CHECKs hold the rest: a role is one of the
    roles, metadata an object).  1.6 µs a message where validation took 2.7; tests/test_library.py checks
    the two equal on messy rows."""
    out = []
    with collector_paused():
        for row in rows:
            fields = fields_of(row)
            if (agent := fields["agent"]) is not None:
                fields["agent"] = _new_agent(agent)
            fields["usage"] = _new_usage(fields["usage"])
            out.append(_new_message(fields))
    return out


def validate_message(data: MessageCreate) -> None:
    """The size limits, checked before anything is sent to the database."""
    check_text_size("content", data.content, CONTENT_LIMIT)
    check_json_size("content_json", data.content_json, JSON_LIMIT)
    check_json_size("metadata", data.metadata, JSON_LIMIT)


async def append_message(db: Database, identity: Identity, chat_id: uuid.UUID, data: MessageCreate) -> Message:
    """Add a message to a chat; it becomes the chat's current leaf.

    Without ``parent_id`` the parent is the current leaf; with a parent that
    is not the current leaf (an edit or a regeneration) a new branch starts.
    """
    validate_message(data)
    usage = data.usage or Usage()
    agent = data.agent
    if agent is None and identity.key is not None:  # written with an agent's key: that agent answered
        agent = AgentInfo(name=identity.key.name)
    if identity.role == "anon":
        raise NotFound(NOT_FOUND)
    params = {
        "role": identity.role,
        "claims": identity.claims_json(),
        "chat_id": chat_id,
        "parent_given": "parent_id" in data.model_fields_set,
        "parent_id": data.parent_id,
        "message_role": data.role,
        "content": data.content,
        "content_json": Jsonb(data.content_json) if data.content_json is not None else None,
        "agent_name": agent.name if agent else None,
        "agent_model": agent.model if agent else None,
        "agent_icon": agent.icon if agent else None,
        "intent": data.intent,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": usage.cost_usd,
        "latency_ms": data.latency_ms,
        "metadata": Jsonb(data.metadata or {}),
    }
    with database_errors(NOT_FOUND):
        try:
            row = await db.run_one(APPEND_SQL, params)
        except errors.ForeignKeyViolation as exc:
            if exc.diag.constraint_name == "messages_chat_id_parent_id_fkey":
                raise Invalid("parent_id is not a message of this chat") from None
            raise NotFound(NOT_FOUND) from None
    if row is None:
        raise NotFound(NOT_FOUND)
    # The database sends back only what it decided (migration 0015); the rest is what was sent.
    return Message.model_validate({
        "id": row["id"], "parent_id": row["parent_id"], "sequence_number": row["sequence_number"],
        "role": data.role, "content": data.content, "content_json": data.content_json,
        "agent": {"name": agent.name, "model": agent.model, "icon": agent.icon} if agent else None,
        "intent": data.intent,
        "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                  "cost_usd": row["cost_usd"]},
        "latency_ms": data.latency_ms, "metadata": data.metadata or {}, "created_at": row["created_at"],
        "chat_id": chat_id,
    })


async def list_messages(
    db: Database,
    identity: Identity,
    chat_id: uuid.UUID,
    *,
    leaf_id: uuid.UUID | None = None,
    whole_tree: bool = False,
    after_sequence: int = 0,
    limit: int = 100,
) -> MessagePage:
    """The active branch (or the branch ending at ``leaf_id``, or the whole tree), oldest first."""
    rows, more = await _page_rows(db, identity, chat_id, leaf_id, whole_tree, after_sequence, limit)
    items = messages_from_tuples(rows)
    return MessagePage(items=items, next_after_sequence=items[-1].sequence_number if more else None)


async def list_messages_json(db: Database, identity: Identity, chat_id: uuid.UUID, *,
                             leaf_id: uuid.UUID | None = None, whole_tree: bool = False, after_sequence: int = 0,
                             limit: int = 100) -> bytes:
    """``list_messages`` as the JSON of a MessagePage, written straight from the rows."""
    rows, more = await _page_rows(db, identity, chat_id, leaf_id, whole_tree, after_sequence, limit)
    items = message_dicts(rows)
    return json_bytes({"items": items, "next_after_sequence": items[-1]["sequence_number"] if more else None})


async def _page_rows(db: Database, identity: Identity, chat_id: uuid.UUID, leaf_id: uuid.UUID | None,
                     whole_tree: bool, after_sequence: int, limit: int) -> tuple[list[tuple[Any, ...]], bool]:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    if after_sequence < 0:
        raise Invalid("after_sequence must be >= 0")
    if whole_tree and leaf_id is not None:
        raise Invalid("all=true and leaf_id exclude each other")
    async for attempt in db.reads(identity):
        async with attempt as conn:
            async with conn.pipeline():
                chat_cur = await conn.execute("select 1 from public.chats where id = %s", (chat_id,))
                leaf_cur = await conn.execute(
                    "select 1 from public.messages where id = %s and chat_id = %s", (leaf_id, chat_id)
                )
                rows_cur = conn.cursor(row_factory=tuple_row)
                params = {"chat_id": chat_id, "leaf_id": leaf_id, "after": after_sequence, "limit": limit,
                          "budget": PAGE_BYTES}
                if whole_tree:
                    await rows_cur.execute(paged(f"select {MESSAGE_COLUMNS} from public.messages m "
                                                 "where m.chat_id = %(chat_id)s"), params)
                else:
                    await rows_cur.execute(paged(BRANCH_SQL), params)
            if await chat_cur.fetchone() is None:
                raise NotFound(NOT_FOUND)
            if leaf_id is not None and await leaf_cur.fetchone() is None:
                raise Invalid("leaf_id is not a message of this chat")
            page = cut(await rows_cur.fetchall())
    return page


async def delete_message(db: Database, identity: Identity, message_id: uuid.UUID) -> int:
    """Delete a message with every reply below it (its subtree); the owner only. Returns how many went.

    Sequence numbers are not reused (the chat's next message continues after the highest ever given);
    the chat's counters and totals are adjusted; if the active branch's tip was deleted, the chat shows
    its newest remaining branch. Watchers get one message.deleted event."""
    async with db.acting_as(identity) as conn:
        with database_errors("message not found"):
            # The whole subtree in one statement: one trigger run and one event, and no cascade that would
            # recurse once per level of a long chain.
            cur = await conn.execute(
                """with recursive doomed as (
                     select m.id, m.chat_id from public.messages m where m.id = %s
                     union all
                     select m.id, m.chat_id from public.messages m join doomed d on m.chat_id = d.chat_id
                                                                  and m.parent_id = d.id
                   )
                   delete from public.messages m using doomed d where m.chat_id = d.chat_id and m.id = d.id""",
                (message_id,))
            count = cur.rowcount
    if count == 0:
        raise NotFound("message not found")
    return count


async def get_message(db: Database, identity: Identity, message_id: uuid.UUID) -> MessageDetail:
    async for attempt in db.reads(identity):
        async with attempt as conn:
            cur = await conn.execute(
                f"""select {MESSAGE_COLUMNS},
                           array(select s.id from public.messages s
                                  where s.chat_id = m.chat_id
                                    and (s.parent_id = m.parent_id or (m.parent_id is null and s.parent_id is null))
                                  order by s.sequence_number) as sibling_ids,
                           array(select k.id from public.messages k
                                  where k.chat_id = m.chat_id and k.parent_id = m.id
                                  order by k.sequence_number) as child_ids
                      from public.messages m where m.id = %s""",
                (message_id,),
            )
            row = await cur.fetchone()
    if row is None:
        raise NotFound("message not found")
    return MessageDetail(**message_fields(row), sibling_ids=row["sibling_ids"], child_ids=row["child_ids"],
                         sibling_index=row["sibling_ids"].index(row["id"]))


def cost_warnings(message: Message) -> list[str]:
    """What to tell the writer about the cost: a model with no known price leaves it unknown."""
    if message.agent is not None and message.agent.model and message.usage.cost_usd is None:
        return [f"no price is known for model {message.agent.model!r}: cost_usd is null (add one with "
                "`ohm prices set`, or send usage.cost_usd)"]
    return []
