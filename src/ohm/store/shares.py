"""Share links: snapshots of a chat behind an unguessable token.

The owner creates, lists and revokes shares under RLS.  Anyone with the token
reads the snapshot through ``ohm.share_snapshot`` (SECURITY DEFINER), which
checks token, revocation and expiry and counts the view atomically; the
share and chat tables stay closed to everyone else.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import orjson
from pydantic import ValidationError

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import Share, ShareCreate, SharedAttachment, ShareSnapshot
from ohm.store._common import MAX_JSON_DEPTH, cap_depth, database_errors, first
from ohm.store.errors import NotFound

NOT_FOUND = "share not found"
SHARE_LINK_TTL = 3600

SHARE_COLUMNS = """
    s.id, s.chat_id, s.share_token as token, s.up_to_message_id, s.artifact_versions, s.snapshot_at,
    s.is_active, s.expires_at, s.view_count, s.fork_count, s.last_viewed_at, s.revoked_at, s.created_at
"""


TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def check_token(token: str) -> None:
    """Anything that cannot be a share token (URL-safe base64, at most 128 characters) is simply not found."""
    if not TOKEN_SHAPE.fullmatch(token):
        raise NotFound(NOT_FOUND)


def share_from_row(row: dict[str, Any]) -> Share:
    return Share(url=f"/share/{row['token']}", **row)


async def create_share(db: Database, identity: Identity, chat_id: uuid.UUID, data: ShareCreate) -> Share:
    """Freeze what the chat shows now (or up to ``up_to_message_id``) behind a new token (``public.share_chat``)."""
    async with db.acting_as(identity) as conn:
        with database_errors("chat not found"):
            cur = await conn.execute(
                f"select {SHARE_COLUMNS} from public.share_chat(%s, %s, %s) s",
                (chat_id, data.up_to_message_id, data.expires_at))
            row = await first(cur)
    return share_from_row(row)


async def list_shares(db: Database, identity: Identity, chat_id: uuid.UUID) -> list[Share]:
    """The owner's shares of a chat, newest first, with their counts."""
    async with db.acting_as(identity) as conn:
        async with conn.pipeline():
            chat_cur = await conn.execute(
                "select 1 from public.chats where id = %s and user_id = (select auth.uid())", (chat_id,))
            rows_cur = await conn.execute(
                f"select {SHARE_COLUMNS} from public.shared_chats s where s.chat_id = %s order by s.created_at desc",
                (chat_id,))
        if identity.role != "service_role" and await chat_cur.fetchone() is None:
            raise NotFound("chat not found")
        return [share_from_row(r) for r in await rows_cur.fetchall()]


async def revoke_share(db: Database, identity: Identity, token: str) -> Share:
    check_token(token)
    async with db.acting_as(identity) as conn:
        with database_errors(NOT_FOUND):
            cur = await conn.execute(
                f"""update public.shared_chats s set is_active = false, revoked_at = coalesce(revoked_at, now())
                     where s.share_token = %s returning {SHARE_COLUMNS}""", (token,))
            row = await cur.fetchone()
    if row is None:
        raise NotFound(NOT_FOUND)
    return share_from_row(row)


PAGE = 200  # messages per page of a share (and at most about PAGE_BYTES)
PAGE_BYTES = 4 * 1024 * 1024


async def read_share(db: Database, identity: Identity, token: str, *, count_view: bool = True,
                     signing_secret: str | None = None, visitor: str | None = None, after_sequence: int = 0,
                     limit: int = PAGE) -> ShareSnapshot:
    """The snapshot behind a token (anyone may ask); unknown, revoked and expired are all 404.

    A view counts once per ``visitor`` (an opaque key: the API's hash of address and user agent) and day.
    Messages come page by page (after ``after_sequence``, at most ``limit`` and about 4 MiB); artifacts and
    uploads with the first page.  With ``signing_secret`` each upload in the shared branch comes with a signed
    link to its bytes."""
    return assemble(*await read_share_raw(db, identity, token, count_view=count_view, visitor=visitor,
                                          after_sequence=after_sequence, limit=limit), signing_secret)


async def read_share_raw(db: Database, identity: Identity, token: str, *, count_view: bool = True,
                         visitor: str | None = None, after_sequence: int = 0, limit: int = PAGE
                         ) -> tuple[str, list[dict[str, Any]]]:
    """``read_share`` before parsing: the snapshot's JSON text and the uploads' rows.  The server hands both
    to a worker process (``assemble`` there: a 4 MiB page is parsed and written off the event loop)."""
    check_token(token)
    async with db.acting_as(identity) as conn:
        cur = await conn.execute("select ohm.share_snapshot(%s, %s, %s, %s, %s, %s)::text as snapshot",
                                 (token, count_view, visitor, after_sequence, limit, PAGE_BYTES))
        row = await cur.fetchone()
        if row is None or row["snapshot"] is None:
            raise NotFound(NOT_FOUND)
        rows = []
        if after_sequence == 0:
            cur = await conn.execute("select * from ohm.share_attachments(%s)", (token,))
            rows = await cur.fetchall()
    return row["snapshot"], rows


def assemble(text: str, attachments: list[dict[str, Any]], signing_secret: str | None) -> ShareSnapshot:
    """The snapshot from ``read_share_raw``'s parts, uploads with signed links when a secret is given."""
    from ohm.store.attachments import signed_path

    try:
        shared = ShareSnapshot.model_validate_json(text)
    except ValidationError:
        # JSON stored before OHM limited nesting is deeper than pydantic's parser goes: parsed here and
        # cut below the limit, so that one such message does not make the whole share unreadable.
        shared = ShareSnapshot.model_validate(cap_depth(orjson.loads(text), MAX_JSON_DEPTH + 8))
    if attachments:
        shared.attachments = [SharedAttachment(**row, url=signed_path(signing_secret, row["id"], SHARE_LINK_TTL)
                                               if signing_secret else None) for row in attachments]
    return shared


def share_json(text: str, attachments: list[dict[str, Any]], signing_secret: str | None) -> bytes:
    """In a worker process: the ``ShareSnapshot`` document as the API sends it."""
    return assemble(text, attachments, signing_secret).model_dump_json().encode()


def visitor_key(address: str | None, user_agent: str | None) -> str:
    """Who is viewing, as far as counting views goes: not stored in the clear."""
    return hashlib.sha256(f"{address or ''}|{user_agent or ''}".encode()).hexdigest()[:32]
