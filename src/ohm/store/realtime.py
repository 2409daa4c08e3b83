"""Realtime events as a subscriber may see them: cursors, replay, and the rows events point at.

Every read runs as the subscriber (``acting_as``), so row-level security
decides what each watcher receives, live or replayed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from psycopg.rows import tuple_row

from ohm.auth import Identity
from ohm.db.session import Conn, Database
from ohm.store._common import delete_older_than
from ohm.store.chats import CHAT_COLUMNS, chat_from_row
from ohm.store.messages import MESSAGE_COLUMNS, messages_from_tuples

EVENT_KINDS = ("message.created", "message.updated", "message.deleted", "artifact.created",
               "artifact.version_created", "chat.updated", "chat.deleted", "attachment.created",
               "attachment.updated")
# Events about something that is gone: what they carry is all there is.
GONE = ("chat.deleted", "message.deleted")
REPLAY_PAGE = 500


async def chat_cursor(db: Database, identity: Identity, chat_id: uuid.UUID) -> int | None:
    """The chat's newest event number, or None when the chat is not visible to ``identity``."""
    async with db.acting_as(identity) as conn:
        cur = await conn.execute("select last_event_seq from public.chats where id = %s", (chat_id,))
        row = await cur.fetchone()
    return row["last_event_seq"] if row else None


async def events_after(db: Database, identity: Identity, chat_id: uuid.UUID, since: int,
                       limit: int = REPLAY_PAGE) -> list[dict[str, Any]]:
    """Events after ``since``, in order, without their rows (``attach_rows`` reads those)."""
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            """select chat_id, event_seq as seq, kind, entity_id as id, data, created_at
                 from public.realtime_events
                where chat_id = %s and event_seq > %s
                order by event_seq limit %s""",
            (chat_id, since, limit),
        )
        return await cur.fetchall()


async def attach_rows(db: Database, identity: Identity, events: list[dict[str, Any]]) -> None:
    """Fill each event's ``data`` with its row as ``identity`` sees it now (``None`` when it is gone)."""
    async with db.acting_as(identity) as conn:
        await _attach_rows(conn, events)


async def load_event(db: Database, identity: Identity, event: dict[str, Any]) -> dict[str, Any] | None:
    """One live event with its row as ``identity`` sees it now.

    None when the event itself is not visible to ``identity`` (the chat is not
    theirs, or no longer public).  A visible event whose row is gone since
    (a message deleted a moment later) comes with ``data: None``.
    """
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            """select chat_id, event_seq as seq, kind, entity_id as id, data, created_at
                 from public.realtime_events where chat_id = %s and event_seq = %s""",
            (event["chat_id"], event["seq"]))
        row = await cur.fetchone()
        if row is None:
            return None
        await _attach_rows(conn, [row])
    return row


async def _attach_rows(conn: Conn, events: list[dict[str, Any]]) -> None:
    """Fill each event's ``data`` with the current row it refers to, one query per kind."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["kind"] not in GONE:
            by_kind.setdefault(event["kind"].split(".")[0], []).append(event)
    rows: dict[tuple[str, uuid.UUID], Any] = {}
    if "message" in by_kind:
        tuples = conn.cursor(row_factory=tuple_row)
        await tuples.execute(f"select {MESSAGE_COLUMNS} from public.messages m where m.id = any(%s)",
                             ([uuid.UUID(str(e["id"])) for e in by_kind["message"]],))
        for message in messages_from_tuples(await tuples.fetchall()):
            rows[("message", message.id)] = message.model_dump(mode="json")
    if "artifact" in by_kind:
        cur = await conn.execute(
            """select a.id, a.chat_id, a.project_id, a.message_id, a.type::text as type, a.title,
                      v.version_number as version, v.id as version_id, v.content_text, v.content_json,
                      v.change_summary, v.created_by_agent, v.created_at
                 from public.artifact_versions v join public.artifacts a on a.id = v.artifact_id
                where v.id = any(%s)""",
            ([uuid.UUID(str(e["data"]["version_id"])) for e in by_kind["artifact"]],))
        for row in await cur.fetchall():
            rows[("artifact", row["version_id"])] = _jsonable(row)
    if "chat" in by_kind:
        cur = await conn.execute(f"select {CHAT_COLUMNS} from public.chats c where c.id = any(%s)",
                                 ([uuid.UUID(str(e["id"])) for e in by_kind["chat"]],))
        for row in await cur.fetchall():
            rows[("chat", row["id"])] = chat_from_row(row).model_dump(mode="json")
    if "attachment" in by_kind:
        from ohm.store.attachments import COLUMNS, attachment_from_row

        cur = await conn.execute(f"select {COLUMNS} from public.attachments a where a.id = any(%s)",
                                 ([uuid.UUID(str(e["id"])) for e in by_kind["attachment"]],))
        for row in await cur.fetchall():
            rows[("attachment", row["id"])] = attachment_from_row(row).model_dump(mode="json")
    for event in events:
        kind = event["kind"].split(".")[0]
        if event["kind"] in GONE:
            event["data"] = {"id": str(event["id"]), **(event["data"] or {})}
        elif kind == "artifact":
            event["data"] = rows.get(("artifact", uuid.UUID(str(event["data"]["version_id"]))))
        else:
            event["data"] = rows.get((kind, uuid.UUID(str(event["id"]))))


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        out[key] = str(value) if isinstance(value, uuid.UUID) else (
            value.isoformat() if hasattr(value, "isoformat") else value)
    return out


async def watch(db: Database, chat_ids: list[uuid.UUID], seconds: int = 60) -> None:
    """Take or renew this process's leases on chats it has live subscribers for (NOTIFY goes only there)."""
    if chat_ids:
        await db.run_one("select ohm.watch_chats(%s, %s)", (chat_ids, seconds))


async def event_heads(db: Database, chat_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The newest event number of each chat (numbers only), for the hub's safety sweep."""
    if not chat_ids:
        return {}
    async with db.pool.connection() as conn:
        cur = await conn.execute("select chat_id, last_event_seq from ohm.event_heads(%s)", (chat_ids,))
        return {r["chat_id"]: r["last_event_seq"] for r in await cur.fetchall()}


async def prune_events(db: Database, older_than: timedelta, *, dry_run: bool = False, batch: int = 10_000) -> int:
    """The replay log's retention job: events older than ``older_than`` go.

    A subscriber resuming from a cursor older than what is left gets a ``reset``
    (reload the chat, then continue from the cursor it carries) instead of a silent gap.
    """
    return await delete_older_than(db, "realtime_events", older_than, dry_run=dry_run, batch=batch)
