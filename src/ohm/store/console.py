"""The web console's sign-in: one-time codes exchanged for a session (as the service role)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from ohm.auth import Identity
from ohm.db.session import Database

CODE_BYTES = 32


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def create_login_code(db: Database, user_id: uuid.UUID) -> str:
    """A code for one sign-in within 15 minutes (only its sha256 is stored); old codes are swept."""
    code = secrets.token_urlsafe(CODE_BYTES)
    async with db.acting_as(Identity.service()) as conn:
        await conn.execute("delete from ohm.login_codes where expires_at < now() - interval '1 day'")
        await conn.execute("insert into ohm.login_codes (code_sha256, user_id) values (%s, %s)",
                           (_digest(code), user_id))
    return code


async def redeem_login_code(db: Database, code: str) -> tuple[uuid.UUID, str | None] | None:
    """The user (id, email) a valid, unused code signs in; the code is spent.  None for anything else."""
    if not code or len(code) > 128:
        return None
    async with db.acting_as(Identity.service()) as conn:
        cur = await conn.execute(
            """update ohm.login_codes c set used_at = now()
                where c.code_sha256 = %s and c.used_at is null and c.expires_at > now()
            returning c.user_id, (select u.email from auth.users u where u.id = c.user_id) as email""",
            (_digest(code),))
        row = await cur.fetchone()
    return (row["user_id"], row["email"]) if row else None


async def branch_points(db: Database, identity: Identity, chat_id: uuid.UUID, message_ids: list[uuid.UUID]
                        ) -> dict[uuid.UUID, tuple[int, int, uuid.UUID | None, uuid.UUID | None]]:
    """For each shown message that has siblings: (its position 1.., how many, the leaf of the previous
    sibling's newest branch, the leaf of the next one's), for the ‹ 2/3 › switcher."""
    if not message_ids:
        return {}
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            """with shown as (select m.id, m.parent_id from public.messages m
                               where m.chat_id = %(chat)s and m.id = any(%(ids)s)),
                    siblings as (
                      select s.id as shown_id, m.id,
                             row_number() over (partition by s.id order by m.sequence_number) as n,
                             count(*) over (partition by s.id) as total
                        from shown s join public.messages m
                          on m.chat_id = %(chat)s and m.parent_id is not distinct from s.parent_id)
               select s.shown_id, s.id, s.n, s.total,
                      (with recursive d as (select x.id, x.sequence_number from public.messages x
                                             where x.chat_id = %(chat)s and x.id = s.id
                                            union all
                                            select y.id, y.sequence_number from public.messages y
                                              join d on y.chat_id = %(chat)s and y.parent_id = d.id)
                       select d.id from d order by d.sequence_number desc limit 1) as leaf
                 from siblings s where s.total > 1 order by s.shown_id, s.n""",
            {"chat": chat_id, "ids": message_ids[:2000]})
        rows = await cur.fetchall()
    groups: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["shown_id"], []).append(row)
    out: dict[uuid.UUID, tuple[int, int, uuid.UUID | None, uuid.UUID | None]] = {}
    for shown, members in groups.items():
        index = next(i for i, m in enumerate(members) if m["id"] == shown)
        previous = members[index - 1]["leaf"] if index > 0 else None
        following = members[index + 1]["leaf"] if index + 1 < len(members) else None
        out[shown] = (index + 1, len(members), previous, following)
    return out
