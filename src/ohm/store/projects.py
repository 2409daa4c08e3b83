"""Hardware projects: CRUD, and the project page (chats, BOM summary, latest verification, check status)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import errors
from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import Page, Project, ProjectCreate, ProjectDetail, ProjectSpend, ProjectUpdate
from ohm.store import hardware
from ohm.store._common import database_errors, decode_cursor, encode_cursor, first, owner_for_new
from ohm.store.analyses import latest_verification
from ohm.store.chats import CHAT_COLUMNS, chat_from_row
from ohm.store.errors import Invalid, NotFound

NOT_FOUND = "project not found"
MAX_PAGE = 200
PROJECT_COLUMNS = """
    p.id, p.user_id, p.name, p.description, p.goal, p.location, p.budget_amount, p.budget_currency,
    p.requirements, p.workflow_steps, p.success_metrics, p.status::text as status, p.spend_limit_usd, p.created_at,
    p.updated_at
"""
JSON_FIELDS = ("requirements", "workflow_steps", "success_metrics")
UPDATABLE = ("name", "description", "goal", "location", "budget_amount", "budget_currency", *JSON_FIELDS, "status",
             "spend_limit_usd")
NOT_NULL = {"name", "budget_currency", "status", *JSON_FIELDS}


def _value(name: str, value: Any) -> Any:
    if name == "workflow_steps" and value is not None:
        return Jsonb([step.model_dump(mode="json", exclude_none=True) for step in value])
    if name in JSON_FIELDS and value is not None:
        return Jsonb(value)
    return value


async def create_project(db: Database, identity: Identity, data: ProjectCreate) -> Project:
    owner = owner_for_new(identity, data.user_id, "project")
    values = {name: _value(name, getattr(data, name)) for name in UPDATABLE}
    async with db.acting_as(identity) as conn:
        with database_errors(NOT_FOUND):
            try:
                cur = await conn.execute(
                    f"""insert into public.projects as p (user_id, {', '.join(values)})
                        values (%s, {', '.join('%s::public.project_status' if n == 'status' else '%s' for n in values)})
                        returning {PROJECT_COLUMNS}""", (owner, *values.values()))
            except errors.ForeignKeyViolation:
                raise Invalid("unknown user_id") from None
            return Project.model_validate(await cur.fetchone())


async def list_projects(db: Database, identity: Identity, *, limit: int = 50, cursor: str | None = None,
                        status: str | None = None, user_id: uuid.UUID | None = None) -> Page[Project]:
    """The caller's projects, most recently changed first."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    if identity.role == "anon":
        return Page[Project](items=[], next_cursor=None)
    where, params = ["true"], list[Any]()
    owner = identity.user_id if identity.role != "service_role" else user_id
    if owner is not None:
        where.append("p.user_id = %s")
        params.append(owner)
    if status is not None:
        where.append("p.status = %s::public.project_status")
        params.append(status)
    if cursor is not None:
        last_at, last_id = decode_cursor(cursor, 2)
        try:
            params += [datetime.fromisoformat(last_at), uuid.UUID(last_id)]
        except (TypeError, ValueError):
            raise Invalid("malformed cursor") from None
        where.append("(p.updated_at, p.id) < (%s, %s)")
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            f"""select {PROJECT_COLUMNS} from public.projects p where {' and '.join(where)}
                 order by p.updated_at desc, p.id desc limit %s""", (*params, limit + 1))
        rows = await cur.fetchall()
    items = [Project.model_validate(r) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]["updated_at"].isoformat(), str(rows[limit - 1]["id"])) \
        if len(rows) > limit else None
    return Page[Project](items=items, next_cursor=next_cursor)


async def get_project(db: Database, identity: Identity, project_id: uuid.UUID) -> ProjectDetail:
    """The project with its chats, current BOM summary, latest verification and check status."""
    if identity.role == "anon":
        raise NotFound(NOT_FOUND)
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(f"select {PROJECT_COLUMNS} from public.projects p where p.id = %s", (project_id,))
        row = await cur.fetchone()
        if row is None:
            raise NotFound(NOT_FOUND)
        project = Project.model_validate(row)
        cur = await conn.execute(
            f"""select {CHAT_COLUMNS} from public.chats c where c.project_id = %s
                 order by c.last_message_at desc, c.id desc limit 50""", (project_id,))
        chats = [chat_from_row(r) for r in await cur.fetchall()]
        bom = await hardware.bom_summary(conn, project)
        verification = await latest_verification(conn, project_id)
        checks = await hardware.ensure_checks(conn, project)
        # The chats' totals are kept by triggers; the project's are their sum, read in the same snapshot.
        cur = await conn.execute(
            """select coalesce(sum(message_count), 0)::bigint as messages,
                      coalesce(sum(total_input_tokens), 0)::bigint as input_tokens,
                      coalesce(sum(total_output_tokens), 0)::bigint as output_tokens,
                      coalesce(sum(total_cost_usd), 0) as cost_usd
                 from public.chats where project_id = %s""", (project_id,))
        usage = await first(cur)
    limit = project.spend_limit_usd
    spend = ProjectSpend(**usage, spend_limit_usd=limit,
                         over_limit=None if limit is None else usage["cost_usd"] > limit)
    return ProjectDetail(**project.model_dump(), chats=chats, bom=bom, latest_verification=verification,
                         checks=checks.summary() if checks else None, spend=spend)


async def update_project(db: Database, identity: Identity, project_id: uuid.UUID, data: ProjectUpdate) -> Project:
    changes = {name: getattr(data, name) for name in UPDATABLE if name in data.model_fields_set}
    for name in NOT_NULL & changes.keys():
        if changes[name] is None:
            raise Invalid(f"{name} cannot be null")
    async with db.acting_as(identity) as conn:
        if not changes:
            with database_errors(NOT_FOUND):
                cur = await conn.execute(
                    f"select {PROJECT_COLUMNS} from public.projects p where p.id = %s for update", (project_id,))
                row = await cur.fetchone()
        else:
            assignments = ", ".join(f"{n} = %s::public.project_status" if n == "status" else f"{n} = %s"
                                    for n in changes)
            with database_errors(NOT_FOUND):
                cur = await conn.execute(
                    f"update public.projects p set {assignments} where p.id = %s returning {PROJECT_COLUMNS}",
                    (*(_value(n, v) for n, v in changes.items()), project_id))
                row = await cur.fetchone()
    if row is None:
        raise NotFound(NOT_FOUND)
    return Project.model_validate(row)


async def delete_project(db: Database, identity: Identity, project_id: uuid.UUID) -> None:
    """Delete the project; its chats, artifacts and uploads stay (their link to it is cleared)."""
    async with db.acting_as(identity) as conn:
        with database_errors(NOT_FOUND):
            cur = await conn.execute("delete from public.projects where id = %s returning id", (project_id,))
            if await cur.fetchone() is None:
                raise NotFound(NOT_FOUND)
