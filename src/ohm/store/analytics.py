"""Usage analytics over messages, model prices, and the activity log.

Analytics count the caller's own messages (a public chat of someone else is
readable, but it is not your usage); the service role counts everyone's, or
one user's.  Costs are what was stored with each message.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import ActivityEntry, ActivityPage, ModelPrice, UsageReport, UsageRow
from ohm.store._common import database_errors, decode_cursor, delete_older_than, encode_cursor, first
from ohm.store.errors import Invalid, NotFound

GROUPS = ("agent", "model", "intent", "role", "day", "chat", "project")
MAX_ACTIVITY_PAGE = 200


def _scope(identity: Identity, user_id: uuid.UUID | None) -> uuid.UUID | None:
    """Whose messages: your own; the service role: ``user_id``'s or everyone's (None)."""
    if identity.role == "service_role":
        return user_id
    if identity.role != "authenticated" or identity.user_id is None:
        raise NotFound("sign in to see usage")
    if user_id is not None and user_id != identity.user_id:
        raise Invalid("user_id can only be set by the service role")
    return identity.user_id


async def usage(db: Database, identity: Identity, group_by: str = "agent", *, start: datetime | None = None,
                end: datetime | None = None, chat_id: uuid.UUID | None = None, project_id: uuid.UUID | None = None,
                user_id: uuid.UUID | None = None, role: str | None = None) -> UsageReport:
    """Message count, tokens, cost and average latency per agent, model, intent, role, day, chat or project."""
    if group_by not in GROUPS:
        raise Invalid(f"group_by must be one of {', '.join(GROUPS)}")
    if start is not None and end is not None and end <= start:
        raise Invalid("to must be after from")
    _scope(identity, user_id)
    async for attempt in db.reads(identity):
        async with attempt as conn:
            with database_errors():
                # The same function supabase.rpc('usage_summary') calls (migration 0010); the last row is the totals.
                cur = await conn.execute(
                    "select * from public.usage_summary(%s, %s, %s, %s, %s, %s, %s)",
                    (group_by, start, end, chat_id, project_id, role,
                     user_id if identity.role == "service_role" else None))
                rows = await cur.fetchall()
    *items, totals = rows
    return UsageReport(group_by=group_by, from_=start, to=end, items=[_row(r) for r in items], totals=_row(totals))


def _row(row: dict[str, Any]) -> UsageRow:
    row = {k: v for k, v in row.items() if k != "is_total"}
    return UsageRow(**{**row, "cost_usd": Decimal(row["cost_usd"]).quantize(Decimal("0.000001")),
                       "avg_latency_ms": round(row["avg_latency_ms"], 1) if row["avg_latency_ms"] is not None
                       else None, "avg_input_tokens": round(row["avg_input_tokens"], 1),
                       "avg_output_tokens": round(row["avg_output_tokens"], 1)})


# --- prices --------------------------------------------------------------------------------------------------


async def list_prices(db: Database, identity: Identity, *, current_only: bool = False) -> list[ModelPrice]:
    query = """select model_id, provider, input_per_mtok, output_per_mtok, cached_input_per_mtok, currency,
                      valid_from from public.model_prices"""
    if current_only:
        query = f"""select distinct on (model_id) * from ({query} where valid_from <= now()) x
                     order by model_id, valid_from desc"""
    else:
        query += " order by model_id, valid_from"
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(query)
        return [ModelPrice(**r) for r in await cur.fetchall()]


async def set_price(db: Database, model_id: str, *, provider: str, input_per_mtok: Decimal, output_per_mtok: Decimal,
                    cached_input_per_mtok: Decimal | None = None, valid_from: datetime | None = None) -> ModelPrice:
    """Add (or replace) a price from ``valid_from`` on (default: now). Messages already costed keep their cost."""
    model = model_id.strip().lower()
    async with db.acting_as(Identity.service()) as conn:
        with database_errors("price not found"):
            cur = await conn.execute(
                """insert into public.model_prices (model_id, provider, input_per_mtok, output_per_mtok,
                                                    cached_input_per_mtok, valid_from)
                   values (%s, %s, %s, %s, %s, coalesce(%s, now()))
                   on conflict (model_id, valid_from) do update
                     set provider = excluded.provider, input_per_mtok = excluded.input_per_mtok,
                         output_per_mtok = excluded.output_per_mtok,
                         cached_input_per_mtok = excluded.cached_input_per_mtok
                   returning model_id, provider, input_per_mtok, output_per_mtok, cached_input_per_mtok, currency,
                             valid_from""",
                (model, provider, input_per_mtok, output_per_mtok, cached_input_per_mtok, valid_from))
            return ModelPrice(**await first(cur))


# --- activity log ----------------------------------------------------------------------------------------------

ACTIVITY_COLUMNS = """a.id, a.user_id, a.actor_id, a.actor_role, a.actor_key_id, a.actor_key_name, a.action,
                      a.entity_type, a.entity_id, a.chat_id,
                      a.project_id, a.metadata, a.created_at"""


async def activity(db: Database, identity: Identity, *, limit: int = 50, cursor: str | None = None,
                   action: str | None = None, entity_type: str | None = None, entity_id: uuid.UUID | None = None,
                   chat_id: uuid.UUID | None = None, project_id: uuid.UUID | None = None,
                   start: datetime | None = None, end: datetime | None = None,
                   user_id: uuid.UUID | None = None) -> ActivityPage:
    """Newest first. ``action`` matches exactly, or a prefix ending in '.' (``chat.``)."""
    if not 1 <= limit <= MAX_ACTIVITY_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_ACTIVITY_PAGE}")
    owner = _scope(identity, user_id)
    where, params = ["true"], list[Any]()
    if action is not None:
        if action.endswith("."):
            where.append("starts_with(a.action, %s)")
        else:
            where.append("a.action = %s")
        params.append(action)
    for clause, value in (("a.user_id = %s", owner), ("a.entity_type = %s", entity_type),
                          ("a.entity_id = %s", entity_id), ("a.chat_id = %s", chat_id),
                          ("a.project_id = %s", project_id), ("a.created_at >= %s", start),
                          ("a.created_at < %s", end)):
        if value is not None:
            where.append(clause)
            params.append(value)
    if cursor is not None:
        last_at, last_id = decode_cursor(cursor, 2)
        try:
            params += [datetime.fromisoformat(last_at), int(last_id)]
        except (TypeError, ValueError):
            raise Invalid("malformed cursor") from None
        where.append("(a.created_at, a.id) < (%s, %s)")
    async for attempt in db.reads(identity):
        async with attempt as conn:
            cur = await conn.execute(
                f"""select {ACTIVITY_COLUMNS} from public.activity_log a where {' and '.join(where)}
                     order by a.created_at desc, a.id desc limit %s""", (*params, limit + 1))
            rows = await cur.fetchall()
    items = [ActivityEntry(**r) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]["created_at"].isoformat(), str(rows[limit - 1]["id"])) \
        if len(rows) > limit else None
    return ActivityPage(items=items, next_cursor=next_cursor)


async def prune_activity(db: Database, older_than: timedelta, *, dry_run: bool = False,
                         batch: int = 10_000) -> int:
    """Delete log rows older than ``older_than`` (the one delete the append-only log allows), in batches."""
    return await delete_older_than(db, "activity_log", older_than, dry_run=dry_run, batch=batch,
                                   permit="ohm.activity_prune")


async def daily_by_agent(db: Database, identity: Identity, start: datetime, end: datetime,
                         user_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """Cost and messages per UTC day and agent (for the usage chart)."""
    owner = _scope(identity, user_id)
    where, params = ["m.created_at >= %s", "m.created_at < %s", "not m.is_copy"], list[Any]([start, end])
    if owner is not None:
        where.append("m.user_id = %s")
        params.append(owner)
    async for attempt in db.reads(identity):
        async with attempt as conn:
            cur = await conn.execute(
                f"""select (m.created_at at time zone 'UTC')::date as day, m.agent_name as agent, count(*) as messages,
                           coalesce(sum(m.cost_usd), 0) as cost_usd
                      from public.messages m where {' and '.join(where)}
                     group by 1, 2 order by 1, 2 nulls first""", params)
            rows = await cur.fetchall()
    return rows
