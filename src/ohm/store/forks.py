"""Forks: continue someone's (or your own) conversation in a chat of your own.

A fork copies the branch up to the fork point (new ids, the same content,
agents and usage, sequence numbers from 1) and the artifacts as they were at
that point, each starting its own history at the copied version with a link
to the origin.  The copy is written by ``public.fork_chat`` /
``public.fork_share`` (migration 0007, the same functions supabase.rpc()
calls) as the forking user under their own RLS, in one transaction with its
bookkeeping (``ohm.record_fork``: the fork's origin, the lineage row, the
share's fork count).
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import errors

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import Chat, ForkSummary, Lineage, LineageEntry
from ohm.store._common import database_errors, first
from ohm.store.chats import CHAT_COLUMNS, chat_from_row
from ohm.store.errors import NotFound
from ohm.store.shares import check_token


async def _fork(db: Database, identity: Identity, statement: str, params: tuple[Any, ...]) -> Chat:
    if identity.role == "anon":
        raise NotFound("sign in as a user to fork")
    async with db.acting_as(identity) as conn:
        with database_errors("chat not found"):
            try:
                cur = await conn.execute(statement, params)
            except (errors.NoDataFound, errors.ForeignKeyViolation):
                # The original (or the share) went away while we copied it: the whole fork rolls back.
                raise NotFound("chat not found") from None
            return chat_from_row(await first(cur))


async def fork_chat(db: Database, identity: Identity, chat_id: uuid.UUID,
                    message_id: uuid.UUID | None = None) -> Chat:
    """Fork your own chat or a public one, up to ``message_id`` (default: its current leaf)."""
    return await _fork(db, identity, f"select {CHAT_COLUMNS} from public.fork_chat(%s, %s) c", (chat_id, message_id))


async def fork_share(db: Database, identity: Identity, token: str, message_id: uuid.UUID | None = None) -> Chat:
    """Fork what a share shows, up to ``message_id`` (default: the share's last message)."""
    check_token(token)
    return await _fork(db, identity, f"select {CHAT_COLUMNS} from public.fork_share(%s, %s) c", (token, message_id))


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
