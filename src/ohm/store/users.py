"""Users: auth users and their profiles.

On Supabase, users come from Supabase Auth; ``create_user`` is for the
embedded server and self-hosted PostgreSQL, where OHM's auth shim provides a
minimal ``auth.users``.  Either way a profile row appears by trigger.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import errors
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from ohm.auth import Identity
from ohm.blobs import BlobStore
from ohm.db.session import Database
from ohm.models import AccountDeleted, AccountStorage, AccountTotals, Me, MeUpdate
from ohm.store._common import check_json_size, database_errors, first, own_user
from ohm.store.attachments import forget_unreferenced, storage_used
from ohm.store.errors import Conflict, Forbidden, Invalid, NotFound

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class Profile(BaseModel):
    id: uuid.UUID
    email: str | None
    display_name: str | None
    subscription_tier: str
    message_count: int
    total_input_tokens: int
    total_output_tokens: int
    total_cost_usd: Decimal
    created_at: datetime


# The totals are the sum of the user's usage slots (migration 0014), read in the same snapshot.
PROFILE_COLUMNS = """
    p.id, p.email, p.display_name, p.subscription_tier::text as subscription_tier, t.message_count,
    t.total_input_tokens, t.total_output_tokens, t.total_cost_usd, p.created_at
"""
PROFILES = "public.profiles p join public.profile_totals t on t.user_id = p.id"


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 255 or not EMAIL.match(email):
        raise Invalid(f"not an email address: {email!r}")
    return email


async def create_user(db: Database, email: str, display_name: str | None = None) -> Profile:
    """Create an auth user (service role) and return the profile the trigger made."""
    email = normalise_email(email)
    meta = {"display_name": display_name} if display_name else {}
    async with db.acting_as(Identity.service()) as conn:
        try:
            cur = await conn.execute(
                "insert into auth.users (email, raw_user_meta_data) values (%s, %s) returning id",
                (email, Jsonb(meta)),
            )
            user_id = (await first(cur))["id"]
        except errors.UniqueViolation:
            raise Conflict(f"a user with email {email} already exists") from None
        cur = await conn.execute(f"select {PROFILE_COLUMNS} from {PROFILES} where p.id = %s", (user_id,))
        return Profile.model_validate(await cur.fetchone())


async def find_user(db: Database, key: str) -> Profile | None:
    """A user by id or by email (service role)."""
    try:
        user_id = uuid.UUID(key)
    except ValueError:
        user_id = None
    async with db.acting_as(Identity.service()) as conn:
        if user_id is not None:
            cur = await conn.execute(f"select {PROFILE_COLUMNS} from {PROFILES} where p.id = %s", (user_id,))
        else:
            cur = await conn.execute(
                f"select {PROFILE_COLUMNS} from {PROFILES} where lower(p.email) = lower(%s)",
                (key.strip(),),
            )
        row = await cur.fetchone()
    return Profile.model_validate(row) if row else None


async def list_users(db: Database, *, limit: int = 100) -> list[Profile]:
    """The newest users first (service role), at most ``limit``."""
    async with db.acting_as(Identity.service()) as conn:
        cur = await conn.execute(
            f"select {PROFILE_COLUMNS} from {PROFILES} order by p.created_at desc, p.id limit %s", (limit,))
        return [Profile.model_validate(row) for row in await cur.fetchall()]


ME_COLUMNS = """
    p.id, p.email, p.display_name, p.avatar_url, p.preferences, p.subscription_tier::text as subscription_tier,
    p.created_at, t.message_count, t.total_input_tokens, t.total_output_tokens, t.total_cost_usd
"""


def _me_owner(identity: Identity) -> uuid.UUID:
    if identity.role != "authenticated" or identity.user_id is None:
        raise Forbidden("only a signed-in user has an account")
    return identity.user_id


async def get_me(db: Database, identity: Identity, *, quota_bytes: int) -> Me:
    """The caller's profile, totals and storage.  Storage is counted over all their files, whatever a
    limited API key could reach (it is the account's figure, like the totals)."""
    user_id = _me_owner(identity)
    async with db.acting_as(identity) as conn:
        row = await (await conn.execute(f"select {ME_COLUMNS} from {PROFILES} where p.id = %s", (user_id,))).fetchone()
    if row is None:
        raise NotFound("no profile for this user")
    async with db.acting_as(Identity.service()) as conn:
        used = await storage_used(conn, user_id)
    return _me(row, used, quota_bytes)


async def update_me(db: Database, identity: Identity, data: MeUpdate, *, quota_bytes: int) -> Me:
    """Change display name, avatar URL or preferences (only those given; null clears a name or avatar)."""
    user_id = own_user(identity, "change the account")
    changes = {name: getattr(data, name) for name in ("display_name", "avatar_url", "preferences")
               if name in data.model_fields_set}
    if "preferences" in changes:
        if changes["preferences"] is None:
            raise Invalid("preferences cannot be null: send {} to clear them")
        check_json_size("preferences", changes["preferences"], 64 * 1024)
        changes["preferences"] = Jsonb(changes["preferences"])
    if changes:
        assignments = ", ".join(f"{name} = %s" for name in changes)
        async with db.acting_as(identity) as conn:
            with database_errors("no profile for this user"):
                cur = await conn.execute(
                    f"update public.profiles set {assignments} where id = %s returning id",
                    (*changes.values(), user_id))
                if await cur.fetchone() is None:
                    raise NotFound("no profile for this user")
    return await get_me(db, identity, quota_bytes=quota_bytes)


def _me(row: Any, used: int, quota_bytes: int) -> Me:
    return Me(id=row["id"], email=row["email"], display_name=row["display_name"], avatar_url=row["avatar_url"],
              preferences=row["preferences"], subscription_tier=row["subscription_tier"],
              totals=AccountTotals(message_count=row["message_count"], total_input_tokens=row["total_input_tokens"],
                                   total_output_tokens=row["total_output_tokens"],
                                   total_cost_usd=row["total_cost_usd"]),
              storage=AccountStorage(used_bytes=used, quota_bytes=quota_bytes), created_at=row["created_at"])


async def delete_user(db: Database, blobs: BlobStore, user_id: uuid.UUID) -> AccountDeleted:
    """Remove a user and everything they own: the auth user (or, where OHM may not touch Supabase Auth's
    table, the profile), which cascades to every row of theirs, then the stored files no one else refers to.

    What stays: rows of other users that name this user's id without their data (an activity row of
    someone else's share saying who forked it, a fork made from this user's public chat, which is the
    forker's copy); no email, name or content of the deleted user is in them."""
    async with db.acting_as(Identity.service()) as conn:
        counts = await first(await conn.execute(
            "select (select count(*) from public.chats where user_id = %(u)s) as chats, "
            "(select count(*) from public.messages where user_id = %(u)s) as messages, "
            "(select count(*) from public.projects where user_id = %(u)s) as projects, "
            "(select count(*) from public.attachments where user_id = %(u)s) as files, "
            "exists (select 1 from public.profiles where id = %(u)s) as known", {"u": user_id}))
        if not counts["known"]:
            raise NotFound("no such user")
        stored = await (await conn.execute(
            "select distinct storage_path, sha256 from public.attachments where user_id = %s", (user_id,)
        )).fetchall()
    auth_user = True
    try:
        async with db.acting_as(Identity.service()) as conn:
            await conn.execute("delete from auth.users where id = %s", (user_id,))
    except errors.InsufficientPrivilege:
        # Supabase: the Auth schema is Supabase's own; the profile (and so every row) goes, and the Auth user
        # is removed with Supabase's admin API or dashboard.
        auth_user = False
        async with db.acting_as(Identity.service()) as conn:
            await conn.execute("delete from public.profiles where id = %s", (user_id,))
    async with db.acting_as(Identity.service()) as conn:
        # The deletes above logged chat.deleted for live subscribers; once delivered they name nothing left.
        await conn.execute("delete from public.realtime_events where user_id = %s", (user_id,))
    removed = 0
    for row in stored:
        if await forget_unreferenced(db, blobs, row["storage_path"], row["sha256"]):
            removed += 1
    return AccountDeleted(user_id=user_id, chats=counts["chats"], messages=counts["messages"],
                          projects=counts["projects"], files=counts["files"], blobs_removed=removed,
                          auth_user_deleted=auth_user)
