"""What vision and document agents made of uploads: circuit verifications and datasheet analyses.

Both belong to the owner of the project (or the attachment) they are about,
so an agent on the service role writes them for that user without naming
one.  Every id in a body is checked by a composite foreign key against the
same owner: nothing can point at another user's photo, chat or project.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import errors
from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.db.session import Conn, Database
from ohm.models import DatasheetAnalysis, DatasheetAnalysisCreate, Page, Verification, VerificationCreate
from ohm.store._common import database_errors, decode_cursor, encode_cursor, first
from ohm.store.errors import Invalid, NotFound

MAX_PAGE = 200

VERIFICATION_COLUMNS = """
    v.id, v.project_id, v.chat_id, v.message_id, v.attachment_id, v.status::text as status,
    v.detected_components, v.issues, v.suggestions, v.model, v.created_at
"""
ANALYSIS_COLUMNS = """
    d.id, d.project_id, d.attachment_id, d.part_number, d.manufacturer, d.key_specs, d.pinout,
    d.application_notes, d.warnings, d.model, d.created_at
"""


def _page_bounds(limit: int, cursor: str | None) -> tuple[str, list[Any]]:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    if cursor is None:
        return "", []
    created_at, last_id = decode_cursor(cursor, 2)
    try:
        return "and ({t}.created_at, {t}.id) < (%s::timestamptz, %s::uuid)", [created_at, uuid.UUID(last_id)]
    except (TypeError, ValueError):
        raise Invalid("malformed cursor") from None


def _next_cursor(rows: list[dict[str, Any]], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(last["created_at"].isoformat(), str(last["id"]))


# --- circuit verifications --------------------------------------------------------------------------


async def create_verification(db: Database, identity: Identity, project_id: uuid.UUID,
                              data: VerificationCreate) -> Verification:
    if data.message_id is not None and data.chat_id is None:
        raise Invalid("message_id needs its chat_id")
    async with db.acting_as(identity) as conn:
        with database_errors("project not found"):
            try:
                cur = await conn.execute(
                    f"""insert into public.circuit_verifications as v
                          (user_id, project_id, chat_id, message_id, attachment_id, status, detected_components,
                           issues, suggestions, model)
                        select p.user_id, p.id, %s, %s, %s, %s::public.verification_status, %s, %s, %s, %s
                          from public.projects p where p.id = %s
                        returning {VERIFICATION_COLUMNS}""",
                    (data.chat_id, data.message_id, data.attachment_id, data.status,
                     Jsonb([c.model_dump(exclude_none=True) for c in data.detected_components]),
                     Jsonb([i.model_dump(exclude_none=True) for i in data.issues]), Jsonb(data.suggestions),
                     data.model, project_id))
            except errors.ForeignKeyViolation:
                raise Invalid("attachment_id, chat_id or message_id is not of this project's owner "
                              "(or the message is not in that chat)") from None
            row = await cur.fetchone()
    if row is None:
        raise NotFound("project not found")
    return Verification(**row)


async def list_verifications(db: Database, identity: Identity, project_id: uuid.UUID, *, limit: int = 50,
                             cursor: str | None = None) -> Page[Verification]:
    """Newest first; the first item is what the project shows as its latest verification."""
    bound, params = _page_bounds(limit, cursor)
    if identity.role == "anon":
        raise NotFound("project not found")
    async with db.acting_as(identity) as conn:
        cur = await conn.execute("select 1 from public.projects where id = %s", (project_id,))
        if await cur.fetchone() is None:
            raise NotFound("project not found")
        cur = await conn.execute(
            f"""select {VERIFICATION_COLUMNS} from public.circuit_verifications v
                 where v.project_id = %s {bound.format(t='v')}
                 order by v.created_at desc, v.id desc limit %s""",
            (project_id, *params, limit + 1))
        rows = await cur.fetchall()
    return Page[Verification](items=[Verification(**r) for r in rows[:limit]], next_cursor=_next_cursor(rows, limit))


async def _owned_row(db: Database, identity: Identity, query: str, row_id: uuid.UUID, missing: str) -> dict[str, Any]:
    """One row the caller owns (analyses are never public: anon gets the same 404)."""
    if identity.role == "anon":
        raise NotFound(missing)
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(query, (row_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(missing)
    return row


async def get_verification(db: Database, identity: Identity, verification_id: uuid.UUID) -> Verification:
    return Verification(**await _owned_row(
        db, identity, f"select {VERIFICATION_COLUMNS} from public.circuit_verifications v where v.id = %s",
        verification_id, "verification not found"))


async def latest_verification(conn: Conn, project_id: uuid.UUID) -> Verification | None:
    cur = await conn.execute(
        f"""select {VERIFICATION_COLUMNS} from public.circuit_verifications v
             where v.project_id = %s order by v.created_at desc, v.id desc limit 1""", (project_id,))
    row = await cur.fetchone()
    return Verification(**row) if row else None


# --- datasheet analyses -----------------------------------------------------------------------------


async def _analysis_owner(conn: Conn, identity: Identity, data: DatasheetAnalysisCreate) -> uuid.UUID:
    if identity.role == "authenticated" and identity.user_id is not None:
        return identity.user_id
    if identity.role != "service_role":
        raise NotFound("sign in to record analyses")
    for table, ref in (("attachments", data.attachment_id), ("projects", data.project_id)):
        if ref is not None:
            cur = await conn.execute(f"select user_id from public.{table} where id = %s", (ref,))
            row = await cur.fetchone()
            if row is None:
                raise Invalid(f"unknown {table[:-1]}_id")
            return row["user_id"]
    raise Invalid("the service role records an analysis for the owner of attachment_id or project_id: give one")


async def create_datasheet_analysis(db: Database, identity: Identity,
                                    data: DatasheetAnalysisCreate) -> DatasheetAnalysis:
    async with db.acting_as(identity) as conn:
        owner = await _analysis_owner(conn, identity, data)
        with database_errors("datasheet analysis not found"):
            try:
                cur = await conn.execute(
                    f"""insert into public.datasheet_analyses as d
                          (user_id, project_id, attachment_id, part_number, manufacturer, key_specs, pinout,
                           application_notes, warnings, model)
                        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                        returning {ANALYSIS_COLUMNS}""",
                    (owner, data.project_id, data.attachment_id, data.part_number, data.manufacturer,
                     Jsonb(data.key_specs), Jsonb([p.model_dump(exclude_none=True) for p in data.pinout]),
                     data.application_notes, Jsonb(data.warnings), data.model))
            except errors.ForeignKeyViolation:
                raise Invalid("attachment_id or project_id is not one of the owner's") from None
            return DatasheetAnalysis(**await first(cur))


async def list_datasheet_analyses(db: Database, identity: Identity, *, part_number: str | None = None,
                                  project_id: uuid.UUID | None = None, attachment_id: uuid.UUID | None = None,
                                  limit: int = 50, cursor: str | None = None) -> Page[DatasheetAnalysis]:
    bound, params = _page_bounds(limit, cursor)
    if identity.role == "anon":
        return Page[DatasheetAnalysis](items=[], next_cursor=None)
    where, args = ["true"], list[Any]()
    if part_number is not None:
        where.append("upper(d.part_number) = upper(%s)")
        args.append(part_number.strip())
    for column, value in (("project_id", project_id), ("attachment_id", attachment_id)):
        if value is not None:
            where.append(f"d.{column} = %s")
            args.append(value)
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            f"""select {ANALYSIS_COLUMNS} from public.datasheet_analyses d
                 where {' and '.join(where)} {bound.format(t='d')}
                 order by d.created_at desc, d.id desc limit %s""", (*args, *params, limit + 1))
        rows = await cur.fetchall()
    return Page[DatasheetAnalysis](items=[DatasheetAnalysis(**r) for r in rows[:limit]],
                                   next_cursor=_next_cursor(rows, limit))


async def get_datasheet_analysis(db: Database, identity: Identity, analysis_id: uuid.UUID) -> DatasheetAnalysis:
    return DatasheetAnalysis(**await _owned_row(
        db, identity, f"select {ANALYSIS_COLUMNS} from public.datasheet_analyses d where d.id = %s",
        analysis_id, "datasheet analysis not found"))
