"""API keys: a user makes, lists and revokes the keys their agents act with (migration 0016).

Keys are the user's own business: only the user (with a token, never with a key) manages them, and the
database holds the same line (the policies of ``api_keys`` refuse a key's claims).  The secret is made
here, returned once, and only its sha256 is stored.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ohm import keys
from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import ApiKey, ApiKeyCreate, ApiKeyCreated
from ohm.store._common import database_errors, first, own_user
from ohm.store.errors import Invalid, NotFound

NOT_FOUND = "API key not found"
MAX_KEYS = 100  # active keys per user

KEY_COLUMNS = """
    k.id, k.name, k.prefix, k.scopes, k.chat_id, k.project_id, k.expires_at, k.created_at, k.last_used_at,
    k.revoked_at,
    case when k.revoked_at is not null then 'revoked'
         when k.expires_at is not null and k.expires_at <= now() then 'expired'
         else 'active' end as status
"""


async def create_key(db: Database, identity: Identity, data: ApiKeyCreate) -> ApiKeyCreated:
    own_user(identity, "manage API keys")
    if data.chat_id is not None and data.project_id is not None:
        raise Invalid("limit a key to a chat or to a project, not both")
    if data.expires_at is not None and data.expires_at <= datetime.now(UTC):
        raise Invalid("expires_at must be in the future")
    scopes = sorted(set(data.scopes))
    secret, prefix, digest = keys.new_key()
    async with db.acting_as(identity) as conn:
        active = await first(await conn.execute(
            "select count(*) as n from public.api_keys k where k.revoked_at is null "
            "and (k.expires_at is null or k.expires_at > now())"))
        if active["n"] >= MAX_KEYS:
            raise Invalid(f"at most {MAX_KEYS} active keys per user: revoke one first")
        # A chat or project that is not the user's is refused like a row RLS hides: 404.
        with database_errors("the chat or project is not yours"):
            made = await first(await conn.execute(
                "select ohm.create_api_key(%s, %s, %s, %s, %s, %s, %s) as id",
                (data.name, prefix, digest, scopes, data.chat_id, data.project_id, data.expires_at)))
            row = await first(await conn.execute(f"select {KEY_COLUMNS} from public.api_keys k where k.id = %s",
                                                 (made["id"],)))
    return ApiKeyCreated(**row, secret=secret)


async def list_keys(db: Database, identity: Identity) -> list[ApiKey]:
    own_user(identity, "manage API keys")
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(f"select {KEY_COLUMNS} from public.api_keys k order by k.created_at desc, k.id")
        return [ApiKey(**row) for row in await cur.fetchall()]


async def revoke_key(db: Database, identity: Identity, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key (idempotent: revoking a revoked key changes nothing and says so)."""
    own_user(identity, "manage API keys")
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            f"update public.api_keys k set revoked_at = coalesce(k.revoked_at, now()) where k.id = %s "
            f"returning {KEY_COLUMNS}", (key_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(NOT_FOUND)
    return ApiKey(**row)
