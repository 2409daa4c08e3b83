"""Artifacts and their git-style history: create, new version (optimistic), restore, read, compare.

Every write locks the artifact row (``FOR UPDATE``, which applies the
artifact's UPDATE policy: only the owner or the service role gets it), so two
writers on the same base queue: the first writes version N+1, the second sees
that the current version moved and gets a 409 with it.  Version numbers and
the artifact's pointers are kept by a trigger in the same transaction;
versions are never updated or deleted.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from psycopg import errors
from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.db.session import Conn, Database
from ohm.hardware.diff import bom_diff, json_diff, text_diff
from ohm.hardware.documents import ShapeError, check_shape
from ohm.models import (
    Artifact,
    ArtifactContent,
    ArtifactCreate,
    ArtifactDiff,
    ArtifactVersion,
    ArtifactVersionCreate,
    VersionSummary,
)
from ohm.offload import off_loop
from ohm.store import hardware
from ohm.store._common import MiB, check_json_size, check_text_size, database_errors, first
from ohm.store.errors import Conflict, Invalid, NotFound

CONTENT_LIMIT = 1 * MiB
NOT_FOUND = "artifact not found"

ARTIFACT_COLUMNS = """
    a.id, a.chat_id, a.project_id, a.message_id, a.type::text as type, a.title, a.current_version,
    a.total_versions, a.created_at, a.updated_at
"""
SUMMARY_COLUMNS = """
    v.id, v.version_number, p.version_number as parent_version_number, v.change_summary, v.created_by_agent,
    v.created_by_user_id, v.created_by_message_id, v.created_at
"""
VERSION_COLUMNS = SUMMARY_COLUMNS + ", v.artifact_id, v.parent_version_id, v.content_text, v.content_json"
VERSION_FROM = """
  from public.artifact_versions v
  left join public.artifact_versions p on p.id = v.parent_version_id
"""


def _validate(kind: str, data: ArtifactContent) -> None:
    if data.content_text is None and data.content_json is None:
        raise Invalid("give content_text, content_json or both")
    check_text_size("content_text", data.content_text, CONTENT_LIMIT)
    check_json_size("content_json", data.content_json, CONTENT_LIMIT)
    try:
        check_shape(kind, data.content_json)
    except ShapeError as exc:
        raise Invalid(str(exc), errors=exc.errors) from None


async def _check_message(conn: Conn, message_id: uuid.UUID | None, chat_id: uuid.UUID) -> None:
    if message_id is None:
        return
    cur = await conn.execute("select 1 from public.messages where id = %s and chat_id = %s", (message_id, chat_id))
    if await cur.fetchone() is None:
        raise Invalid("message_id is not a message of this artifact's chat")


async def _insert_version(conn: Conn, identity: Identity, artifact: dict[str, Any], parent: uuid.UUID | None,
                          content_text: str | None, content_json: Any, summary: str | None,
                          message_id: uuid.UUID | None, agent: str | None) -> None:
    with database_errors(NOT_FOUND):
        cur = await conn.execute(
            """insert into public.artifact_versions
                 (artifact_id, user_id, parent_version_id, content_text, content_json, change_summary,
                  created_by_message_id, created_by_agent, created_by_user_id)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id""",
            (artifact["id"], artifact["user_id"], parent, content_text,
             Jsonb(content_json) if content_json is not None else None, summary, message_id, agent,
             identity.user_id),
        )
        await cur.fetchone()
    if artifact.get("type") in hardware.KINDS:
        # The trigger has written the version's parts / connections / files: check the project now.
        await hardware.recheck_after_write(conn, artifact.get("project_id"))


async def create_artifact(db: Database, identity: Identity, chat_id: uuid.UUID, data: ArtifactCreate) -> Artifact:
    """A new artifact in a chat (and the chat's project), with its first version."""
    _validate(data.type, data)
    async with db.acting_as(identity) as conn:
        with database_errors("chat not found"):
            try:
                # FOR KEY SHARE applies the chat's UPDATE policy (owner only) without blocking appends.
                cur = await conn.execute(
                    """with chat as (
                         select c.id, c.user_id, c.project_id from public.chats c where c.id = %s for key share
                       )
                       insert into public.artifacts (chat_id, user_id, project_id, message_id, type, title)
                       select chat.id, chat.user_id, chat.project_id, %s, %s::public.artifact_type, %s from chat
                       returning id, user_id, chat_id, project_id, type::text as type""",
                    (chat_id, data.message_id, data.type, data.title),
                )
                artifact = await cur.fetchone()
            except errors.ForeignKeyViolation:
                raise Invalid("message_id is not a message of this chat") from None
        if artifact is None:
            raise NotFound("chat not found")
        await _insert_version(conn, identity, artifact, None, data.content_text, data.content_json,
                              data.change_summary, data.message_id, data.agent.name if data.agent else None)
        return await _load(conn, artifact["id"])


async def _lock(conn: Conn, artifact_id: uuid.UUID) -> dict[str, Any]:
    with database_errors(NOT_FOUND):
        cur = await conn.execute(
            """select a.id, a.user_id, a.chat_id, a.project_id, a.type::text as type, a.current_version,
                      v.id as current_id
                 from public.artifacts a
                 left join public.artifact_versions v on v.artifact_id = a.id and v.version_number = a.current_version
                where a.id = %s
                for update of a""",
            (artifact_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


async def add_version(db: Database, identity: Identity, artifact_id: uuid.UUID,
                      data: ArtifactVersionCreate) -> Artifact:
    """Version N+1 on top of ``base_version``, which must still be the current one (else 409)."""
    async with db.acting_as(identity) as conn:
        artifact = await _lock(conn, artifact_id)
        if artifact["current_version"] != data.base_version:
            raise Conflict(
                f"version {data.base_version} is not the current version ({artifact['current_version']}); "
                "fetch the artifact and apply your change to the current version",
                current_version=artifact["current_version"],
            )
        _validate(artifact["type"], data)
        await _check_message(conn, data.message_id, artifact["chat_id"])
        await _insert_version(conn, identity, artifact, artifact["current_id"], data.content_text, data.content_json,
                              data.change_summary, data.message_id, data.agent.name if data.agent else None)
        return await _load(conn, artifact_id)


async def restore_version(db: Database, identity: Identity, artifact_id: uuid.UUID, version: int) -> Artifact:
    """A new version with version ``version``'s content, on top of the current one; history stays.
    Written by ``public.restore_artifact_version``, which supabase.rpc() calls too."""
    async with db.acting_as(identity) as conn:
        try:
            with database_errors(NOT_FOUND):
                cur = await conn.execute(
                    "select a.id, a.user_id, a.chat_id, a.project_id, a.type::text as type, a.current_version "
                    "from public.restore_artifact_version(%s, %s) a", (artifact_id, version))
                artifact = await first(cur)
        except Conflict as exc:
            raise Conflict(exc.detail, current_version=version) from None
        if artifact["type"] in hardware.KINDS:
            await hardware.recheck_after_write(conn, artifact["project_id"])
        return await _load(conn, artifact_id)


async def _load(conn: Conn, artifact_id: uuid.UUID) -> Artifact:
    async with conn.pipeline():
        artifact_cur = await conn.execute(f"select {ARTIFACT_COLUMNS} from public.artifacts a where a.id = %s",
                                          (artifact_id,))
        current_cur = await conn.execute(
            f"""select {VERSION_COLUMNS} {VERSION_FROM}
                  join public.artifacts a on a.id = v.artifact_id and a.current_version = v.version_number
                 where v.artifact_id = %s""", (artifact_id,))
        history_cur = await conn.execute(
            f"select {SUMMARY_COLUMNS} {VERSION_FROM} where v.artifact_id = %s order by v.version_number desc",
            (artifact_id,))
    artifact = await artifact_cur.fetchone()
    if artifact is None:
        raise NotFound(NOT_FOUND)
    current = await current_cur.fetchone()
    history = await history_cur.fetchall()
    return Artifact(**artifact, current=ArtifactVersion.model_validate(current),
                    history=[VersionSummary.model_validate(h) for h in history])


async def get_artifact(db: Database, identity: Identity, artifact_id: uuid.UUID) -> Artifact:
    async with db.acting_as(identity) as conn:
        return await _load(conn, artifact_id)


async def list_versions(db: Database, identity: Identity, artifact_id: uuid.UUID) -> list[VersionSummary]:
    async with db.acting_as(identity) as conn:
        async with conn.pipeline():
            exists_cur = await conn.execute("select 1 from public.artifacts where id = %s", (artifact_id,))
            rows_cur = await conn.execute(
                f"select {SUMMARY_COLUMNS} {VERSION_FROM} where v.artifact_id = %s order by v.version_number",
                (artifact_id,))
        if await exists_cur.fetchone() is None:
            raise NotFound(NOT_FOUND)
        return [VersionSummary.model_validate(r) for r in await rows_cur.fetchall()]


async def list_versions_of(db: Database, identity: Identity, artifact_ids: list[uuid.UUID]
                           ) -> dict[uuid.UUID, list[VersionSummary]]:
    """``list_versions`` of several artifacts in one statement (a chat page's whole shelf), by artifact id;
    artifacts the caller cannot see are absent."""
    if not artifact_ids:
        return {}
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            f"select v.artifact_id, {SUMMARY_COLUMNS} {VERSION_FROM} where v.artifact_id = any(%s) "
            "order by v.artifact_id, v.version_number", (artifact_ids,))
        rows = await cur.fetchall()
    out: dict[uuid.UUID, list[VersionSummary]] = {}
    for row in rows:
        out.setdefault(row.pop("artifact_id"), []).append(VersionSummary.model_validate(row))
    return out


async def get_version(db: Database, identity: Identity, artifact_id: uuid.UUID, version: int) -> ArtifactVersion:
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            f"select {VERSION_COLUMNS} {VERSION_FROM} where v.artifact_id = %s and v.version_number = %s",
            (artifact_id, version))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"artifact or version {version} not found")
    return ArtifactVersion.model_validate(row)


async def diff_versions(db: Database, identity: Identity, artifact_id: uuid.UUID, from_version: int,
                        to_version: int, kind: str | None = None) -> bytes:
    """Compare two versions: text (unified), JSON (paths) or BOM (parts); default by content and type.
    Returns the ``ArtifactDiff`` document as JSON."""
    async with db.acting_as(identity) as conn:
        async with conn.pipeline():
            artifact_cur = await conn.execute(
                "select type::text as type, total_versions from public.artifacts where id = %s", (artifact_id,))
            versions_cur = await conn.execute(
                """select version_number, content_text, content_json::text as content_json from public.artifact_versions
                    where artifact_id = %s and version_number in (%s, %s)""",
                (artifact_id, from_version, to_version))
        artifact = await artifact_cur.fetchone()
        if artifact is None:
            raise NotFound(NOT_FOUND)
        versions = {r["version_number"]: r for r in await versions_cur.fetchall()}
    for n in (from_version, to_version):
        if not 1 <= n <= artifact["total_versions"]:
            raise Invalid(f"version {n} does not exist: this artifact has versions 1 to {artifact['total_versions']}")
    old, new = versions[from_version], versions[to_version]
    has_json = old["content_json"] not in (None, "null") and new["content_json"] not in (None, "null")
    if kind is None:
        kind = ("bom" if artifact["type"] == "bom" else "json") if has_json else "text"
    if kind != "text" and not has_json:
        raise Invalid(f"a {kind} diff needs content_json in both versions")
    if kind == "bom" and artifact["type"] != "bom":
        raise Invalid("a bom diff compares bom artifacts")
    result = ArtifactDiff(artifact_id=artifact_id, from_version=from_version, to_version=to_version, kind=kind)
    # Comparing two 1 MiB versions is CPU work, and so is parsing them: both in a worker process, which
    # hands back the response body (the JSON arrives as text and leaves as bytes; the loop parses neither).
    return await off_loop(_compare, result, old, new)


def _compare(result: ArtifactDiff, old: dict[str, Any], new: dict[str, Any]) -> bytes:
    if result.kind == "text":
        result.unified = text_diff(old["content_text"], new["content_text"], f"v{result.from_version}",
                                   f"v{result.to_version}")
    elif result.kind == "json":
        result.changes = json_diff(json.loads(old["content_json"]), json.loads(new["content_json"]))
    else:
        result.bom = bom_diff(_parts(json.loads(old["content_json"])), _parts(json.loads(new["content_json"])))
    return result.model_dump_json().encode()


def _parts(document: Any) -> list[dict[str, Any]]:
    parts = document.get("parts", []) if isinstance(document, dict) else []
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


async def delete_artifact(db: Database, identity: Identity, artifact_id: uuid.UUID) -> None:
    """Delete an artifact with its whole history."""
    async with db.acting_as(identity) as conn:
        with database_errors(NOT_FOUND):
            cur = await conn.execute("delete from public.artifacts where id = %s returning id", (artifact_id,))
            deleted = await cur.fetchone()
    if deleted is None:
        raise NotFound(NOT_FOUND)
