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

from psycopg import errors
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.store._common import first
from ohm.store.errors import Conflict, Invalid

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

