"""An OHM account archive (``GET /v1/me/export``, ``ohm export``) imported for a user of this OHM.

Every row gets a new id (so an archive can come into the same OHM for another user, or twice), and the
references between rows follow: a message's parent, a chat's project and active leaf, an artifact's chat
and message, a version's parent, an upload's chat and message, a verification's photo.  What the
database derives is derived again, not copied: message numbers and counters, chat and user totals, the
BOM / wiring / code rows of each artifact version, prices for known models, the projects' checks.  Each
chat is written with its messages in one transaction.  Not recreated: API keys (their secrets are not in
an archive: make new ones), the activity log and import history (they are the old OHM's record); share
links are recreated with new tokens (a token is a capability of the old OHM).
"""

from __future__ import annotations

import io
import json
import secrets
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.blobs import BlobStore
from ohm.db.session import Database
from ohm.store import attachments, hardware
from ohm.store.errors import Invalid, StoreError

FORMAT = "ohm.export/1"
INSERT_MESSAGE = """
insert into public.messages (id, chat_id, user_id, parent_id, role, content, content_json, agent_name, agent_model,
                             agent_icon, intent, input_tokens, output_tokens, cost_usd, latency_ms, metadata,
                             created_at, is_copy)
values (%s, %s, %s, %s, %s::public.message_role, %s, %s, %s, %s, %s, %s::public.agent_intent, %s, %s, %s, %s, %s,
        %s, %s)
"""


class Archive:
    def __init__(self, path: Path) -> None:
        if not zipfile.is_zipfile(path):
            raise Invalid("not an OHM archive: not a zip")
        self.zip = zipfile.ZipFile(path)
        try:
            manifest = json.loads(self.zip.read("manifest.json"))
        except (KeyError, ValueError):
            raise Invalid("not an OHM archive: no readable manifest.json") from None
        if manifest.get("format") != FORMAT:
            raise Invalid(f"not an OHM archive of format {FORMAT}: {manifest.get('format')!r}")
        self.names = set(self.zip.namelist())

    def rows(self, name: str) -> Iterator[dict[str, Any]]:
        """A table's rows, one line at a time."""
        if f"{name}.jsonl" not in self.names:
            return
        with self.zip.open(f"{name}.jsonl") as raw:
            for n, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8")):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        raise Invalid(f"{name}.jsonl, line {n + 1}: not JSON") from None

    def file(self, sha256: str) -> bytes | None:
        name = f"files/{sha256}"
        return self.zip.read(name) if name in self.names else None


def _json(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value


async def import_archive(db: Database, blobs: BlobStore, user_id: uuid.UUID, path: Path, *, max_bytes: int,
                         quota_bytes: int) -> dict[str, int]:
    """Recreate the archive's data for ``user_id``; returns the rows made per table."""
    archive = Archive(path)
    counts: dict[str, int] = {}
    ids: dict[str, uuid.UUID] = {}  # every old id met -> its new id

    def new(old: Any) -> uuid.UUID | None:
        return ids.get(str(old)) if old is not None else None

    def made(table: str) -> None:
        counts[table] = counts.get(table, 0) + 1

    service = Identity.service()
    async with db.acting_as(service) as conn:
        await conn.execute("select set_config('ohm.activity_quiet', 'on', true)")
        for row in archive.rows("profile"):
            await conn.execute("update public.profiles set display_name = %s, avatar_url = %s, preferences = %s "
                               "where id = %s", (row.get("display_name"), row.get("avatar_url"),
                                                 Jsonb(row.get("preferences") or {}), user_id))
        for row in archive.rows("projects"):
            ids[row["id"]] = uuid.uuid4()
            await conn.execute(
                "insert into public.projects (id, user_id, name, description, goal, location, budget_amount, "
                "budget_currency, requirements, workflow_steps, success_metrics, status, spend_limit_usd, created_at) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::public.project_status, %s, %s)",
                (ids[row["id"]], user_id, row["name"], row.get("description"), row.get("goal"), row.get("location"),
                 row.get("budget_amount"), row.get("budget_currency"), _json(row.get("requirements", {})),
                 _json(row.get("workflow_steps", [])), _json(row.get("success_metrics", [])),
                 row.get("status") or "draft", row.get("spend_limit_usd"), row.get("created_at")))
            made("projects")
    leaves: dict[str, Any] = {}
    async with db.acting_as(service) as conn:
        for row in archive.rows("chats"):
            ids[row["id"]] = uuid.uuid4()
            leaves[row["id"]] = row.get("current_leaf_id")
            await conn.execute(
                "insert into public.chats (id, user_id, project_id, title, phase, is_public, is_archived, is_pinned, "
                "created_at, last_message_at) values (%s, %s, %s, %s, %s::public.chat_phase, %s, %s, %s, %s, %s)",
                (ids[row["id"]], user_id, new(row.get("project_id")), row.get("title"), row.get("phase") or "ideation",
                 bool(row.get("is_public")), bool(row.get("is_archived")), bool(row.get("is_pinned")),
                 row.get("created_at"), row.get("created_at")))
            made("chats")
    # Messages come ordered by chat and number: a chat's messages are written together.
    batch: list[dict[str, Any]] = []
    for row in archive.rows("messages"):
        if batch and batch[0]["chat_id"] != row["chat_id"]:
            await _messages(db, user_id, batch, ids, leaves)
            counts["messages"] = counts.get("messages", 0) + len(batch)
            batch = []
        batch.append(row)
    if batch:
        await _messages(db, user_id, batch, ids, leaves)
        counts["messages"] = counts.get("messages", 0) + len(batch)
    async with db.acting_as(service) as conn:
        currents: dict[str, int] = {}
        artifact_projects: dict[str, uuid.UUID | None] = {}
        for row in archive.rows("artifacts"):
            if new(row.get("chat_id")) is None:
                continue
            ids[row["id"]] = uuid.uuid4()
            currents[row["id"]] = row.get("current_version") or 0
            artifact_projects[row["id"]] = new(row.get("project_id"))
            await conn.execute(
                "insert into public.artifacts (id, chat_id, user_id, project_id, message_id, type, title, created_at) "
                "values (%s, %s, %s, %s, %s, %s::public.artifact_type, %s, %s)",
                (ids[row["id"]], new(row["chat_id"]), user_id, new(row.get("project_id")), new(row.get("message_id")),
                 row["type"], row["title"], row.get("created_at")))
            made("artifacts")
        for row in archive.rows("artifact_versions"):
            if new(row.get("artifact_id")) is None:
                continue
            ids[row["id"]] = uuid.uuid4()
            await conn.execute(
                "insert into public.artifact_versions (id, artifact_id, user_id, parent_version_id, content_text, "
                "content_json, change_summary, created_by_message_id, created_by_agent, created_by_user_id, "
                "created_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (ids[row["id"]], new(row["artifact_id"]), user_id, new(row.get("parent_version_id")),
                 row.get("content_text"), _json(row.get("content_json")), row.get("change_summary"),
                 new(row.get("created_by_message_id")), row.get("created_by_agent"),
                 user_id if row.get("created_by_user_id") else None, row.get("created_at")))
            made("artifact_versions")
            # The project's checks (and the warnings they write on its parts), as after any new version.
            await hardware.recheck_after_write(conn, artifact_projects.get(row["artifact_id"]))
        for old, current in currents.items():
            await conn.execute("update public.artifacts set current_version = %s where id = %s "
                               "and total_versions >= %s and %s > 0", (current, ids[old], current, current))

    for row in archive.rows("attachments"):
        data = archive.file(row["sha256"])
        if data is None:
            counts["files_missing"] = counts.get("files_missing", 0) + 1
            continue
        try:
            attachment = await attachments.upload(
                db, blobs, service, io.BytesIO(data), row.get("filename"), category=row.get("category") or "other",
                chat_id=new(row.get("chat_id")), message_id=new(row.get("message_id")) if row.get("chat_id") else None,
                project_id=new(row.get("project_id")), user_id=user_id, max_bytes=max_bytes, quota_bytes=quota_bytes)
        except StoreError:
            counts["files_refused"] = counts.get("files_refused", 0) + 1
            continue
        ids[row["id"]] = attachment.id
        made("attachments")
        if row.get("processing_status") not in (None, "pending"):
            async with db.acting_as(service) as conn:
                await conn.execute("update public.attachments set processing_status = %s::public.processing_status, "
                                   "processing_error = %s where id = %s",
                                   (row["processing_status"], row.get("processing_error"), attachment.id))
    async with db.acting_as(service) as conn:
        await conn.execute("select set_config('ohm.activity_quiet', 'on', true)")
        for row in archive.rows("circuit_verifications"):
            if new(row.get("project_id")) is None:
                continue
            await conn.execute(
                "insert into public.circuit_verifications (user_id, project_id, chat_id, message_id, attachment_id, "
                "status, detected_components, issues, suggestions, model, created_at) "
                "values (%s, %s, %s, %s, %s, %s::public.verification_status, %s, %s, %s, %s, %s)",
                (user_id, new(row["project_id"]), new(row.get("chat_id")), new(row.get("message_id")),
                 new(row.get("attachment_id")), row["status"], _json(row.get("detected_components", [])),
                 _json(row.get("issues", [])), _json(row.get("suggestions", [])), row.get("model"),
                 row.get("created_at")))
            made("circuit_verifications")
        for row in archive.rows("datasheet_analyses"):
            await conn.execute(
                "insert into public.datasheet_analyses (user_id, project_id, attachment_id, part_number, manufacturer, "
                "key_specs, pinout, application_notes, warnings, model, created_at) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (user_id, new(row.get("project_id")), new(row.get("attachment_id")), row.get("part_number"),
                 row.get("manufacturer"), _json(row.get("key_specs", {})), _json(row.get("pinout", [])),
                 row.get("application_notes"), _json(row.get("warnings", [])), row.get("model"),
                 row.get("created_at")))
            made("datasheet_analyses")
        for row in archive.rows("shared_chats"):
            if new(row.get("chat_id")) is None:
                continue
            versions = {str(new(k) or k): v for k, v in (row.get("artifact_versions") or {}).items()}
            await conn.execute(
                "insert into public.shared_chats (chat_id, user_id, share_token, up_to_message_id, is_active, "
                "expires_at, revoked_at, artifact_versions) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                (new(row["chat_id"]), user_id, secrets.token_urlsafe(24), new(row.get("up_to_message_id")),
                 row.get("is_active", True), row.get("expires_at"), row.get("revoked_at"), Jsonb(versions)))
            made("shared_chats")
    return counts


async def _messages(db: Database, user_id: uuid.UUID, rows: list[dict[str, Any]], ids: dict[str, uuid.UUID],
                    leaves: dict[str, Any]) -> None:
    chat = ids.get(str(rows[0]["chat_id"]))
    if chat is None:
        return
    for row in rows:
        ids[row["id"]] = uuid.uuid4()
    async with db.acting_as(Identity.service()) as conn:
        await conn.execute("select set_config('ohm.activity_quiet', 'on', true)")
        async with conn.cursor() as cur:
            await cur.executemany(
                INSERT_MESSAGE,
                [(ids[r["id"]], chat, user_id, ids.get(str(r["parent_id"])) if r.get("parent_id") else None, r["role"],
                  r.get("content") or "", _json(r.get("content_json")), r.get("agent_name"), r.get("agent_model"),
                  r.get("agent_icon"), r.get("intent"), r.get("input_tokens") or 0, r.get("output_tokens") or 0,
                  r.get("cost_usd"), r.get("latency_ms"), Jsonb(r.get("metadata") or {}), r.get("created_at"),
                  bool(r.get("is_copy"))) for r in rows])
        leaf = leaves.get(str(rows[0]["chat_id"]))
        if leaf is not None and str(leaf) in ids:
            await conn.execute("update public.chats set current_leaf_id = %s where id = %s", (ids[str(leaf)], chat))
