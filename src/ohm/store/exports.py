"""One chat as a readable document: Markdown, JSON or a self-contained HTML page.

Markdown and HTML show the active branch (as the chat reads now), with each answer's agent, model and
intent, and the artifacts' current versions; JSON holds the chat, every message of every branch (with its
``parent_id``) and the artifacts.  Rendering runs off the event loop (a long chat is a lot of text).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
import zipfile
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Literal

from markdown_it import MarkdownIt
from psycopg.rows import tuple_row

from ohm.auth import Identity
from ohm.blobs import BlobStore
from ohm.db.session import Database
from ohm.models import ChatDetail, Message
from ohm.store import chats, messages
from ohm.store._common import own_user

Format = Literal["md", "json", "html"]
MEDIA = {"md": "text/markdown; charset=utf-8", "json": "application/json",
         "html": "text/html; charset=utf-8"}


async def export_chat(db: Database, identity: Identity, chat_id: uuid.UUID, fmt: Format) -> tuple[bytes, str, str]:
    """(the document, its media type, a file name for it)."""
    detail = await chats.get_chat(db, identity, chat_id)
    branch = list(detail.messages)
    after = detail.next_after_sequence
    while after is not None:
        page = await messages.list_messages(db, identity, chat_id, after_sequence=after, limit=messages.MAX_PAGE)
        branch.extend(page.items)
        after = page.next_after_sequence
    tree: list[Message] = []
    if fmt == "json":
        after = 0
        while after is not None:
            page = await messages.list_messages(db, identity, chat_id, whole_tree=True, after_sequence=after,
                                                limit=messages.MAX_PAGE)
            tree.extend(page.items)
            after = page.next_after_sequence
    body = await asyncio.to_thread(_render, detail, branch, tree, fmt)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", (detail.title or "chat").strip())[:60].strip("-") or "chat"
    return body, MEDIA[fmt], f"{name}-{str(chat_id)[:8]}.{fmt}"


def _render(detail: ChatDetail, branch: list[Message], tree: list[Message], fmt: Format) -> bytes:
    if fmt == "json":
        chat = detail.model_dump(mode="json", exclude={"messages", "next_after_sequence"})
        document = {"format": "ohm.chat/1", "chat": chat, "active_branch": [str(m.id) for m in branch],
                    "messages": [m.model_dump(mode="json") for m in tree]}
        return json.dumps(document, ensure_ascii=False, indent=1).encode()
    markdown = to_markdown(detail, branch)
    if fmt == "md":
        return markdown.encode()
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    title = escape(detail.title or "Chat")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}"
            "pre{background:#f4f4f4;padding:.75rem;overflow:auto}h3{margin-top:2rem;border-top:1px solid #ddd;"
            "padding-top:1rem}</style></head><body>" + html + "</body></html>").encode()


def to_markdown(detail: ChatDetail, branch: list[Message]) -> str:
    lines = [f"# {_line(detail.title or 'Untitled chat')}", ""]
    facts = [f"{len(branch)} messages on the active branch of {detail.message_count}",
             f"created {detail.created_at:%Y-%m-%d %H:%M} UTC", f"phase: {detail.phase}"]
    if detail.total_cost_usd:
        facts.append(f"cost ${detail.total_cost_usd:.4f}")
    if detail.project:
        facts.append(f"project: {_line(detail.project.name)}")
    lines += ["*" + " · ".join(facts) + "*", ""]
    for message in branch:
        who = message.role.capitalize()
        if message.agent:
            who = message.agent.name + (f" ({message.agent.model})" if message.agent.model else "")
        tags = [message.intent] if message.intent else []
        lines += [f"### {_line(who)}" + (f" · {', '.join(tags)}" if tags else ""),
                  f"*{message.created_at:%Y-%m-%d %H:%M}*", "", message.content or "", ""]
        if message.content_json is not None and not message.content:
            lines += ["```json", json.dumps(message.content_json, ensure_ascii=False, indent=1), "```", ""]
    if detail.artifacts:
        lines += ["## Artifacts", ""]
        for artifact in detail.artifacts:
            lines += [f"### {_line(artifact.title)} ({artifact.type}, version {artifact.current_version})", ""]
            if artifact.content_text:
                lines += [_fence(artifact.content_text), ""]
            if artifact.content_json is not None:
                lines += ["```json", json.dumps(artifact.content_json, ensure_ascii=False, indent=1), "```", ""]
    return "\n".join(lines)


def _line(text: str) -> str:
    """Text for a heading: one line, no Markdown of its own."""
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", " ".join(text.split()))


def _fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text}\n{fence}"




# --- the whole account --------------------------------------------------------------------------------------

# (file in the archive, table, the column that says whose a row is): everything a user owns.
ACCOUNT_TABLES: tuple[tuple[str, str, str, str], ...] = (
    ("profile", "public.profiles", "id", "id"),
    ("projects", "public.projects", "user_id", "created_at, id"),
    ("chats", "public.chats", "user_id", "created_at, id"),
    ("messages", "public.messages", "user_id", "chat_id, sequence_number"),
    ("artifacts", "public.artifacts", "user_id", "created_at, id"),
    ("artifact_versions", "public.artifact_versions", "user_id", "created_at, artifact_id, version_number"),
    ("parts", "public.parts", "user_id", "id"),
    ("connections", "public.connections", "user_id", "id"),
    ("code_files", "public.code_files", "user_id", "id"),
    ("check_runs", "public.check_runs", "user_id", "id"),
    ("attachments", "public.attachments", "user_id", "created_at, id"),
    ("circuit_verifications", "public.circuit_verifications", "user_id", "created_at, id"),
    ("datasheet_analyses", "public.datasheet_analyses", "user_id", "created_at, id"),
    ("shared_chats", "public.shared_chats", "user_id", "created_at, id"),
    ("chat_forks", "public.chat_forks", "forked_by", "id"),
    ("activity_log", "public.activity_log", "user_id", "id"),
    ("imports", "public.imports", "user_id", "created_at, id"),
    ("imported_chats", "public.imported_chats", "user_id", "id"),
)
# Keys without their hashes (which the user cannot read anyway); the totals as the view sums them.
EXTRA_QUERIES: tuple[tuple[str, str], ...] = (
    ("api_keys", "select to_jsonb(k)::text from (select id, name, prefix, scopes, chat_id, project_id, expires_at, "
                 "created_at, last_used_at, revoked_at from public.api_keys where user_id = %s order by created_at) k"),
    ("totals", "select to_jsonb(t)::text from public.profile_totals t where t.user_id = %s"),
)
BATCH = 1000


async def export_account(db: Database, blobs: BlobStore, identity: Identity, path: Path) -> dict[str, int]:
    """Everything the user owns into a zip at ``path``: ``manifest.json``, a JSON Lines file per table (one row
    per line, as PostgreSQL's ``to_jsonb`` writes it: every column by name) and ``files/<sha256>`` for each
    uploaded file.  Read as the user (RLS on) and filtered to their own rows, a batch at a time through a
    server-side cursor: memory stays flat.  Returns the rows per file."""
    user_id = own_user(identity, "export the account")
    counts: dict[str, int] = {}
    archive = await asyncio.to_thread(zipfile.ZipFile, path, "w", zipfile.ZIP_DEFLATED)
    try:
        async with db.acting_as(identity) as conn:
            queries = [(name, f"select to_jsonb(t)::text from {table} t where t.{owner} = %s order by {order}")
                       for name, table, owner, order in ACCOUNT_TABLES] + list(EXTRA_QUERIES)
            for name, query in queries:
                member = await asyncio.to_thread(archive.open, f"{name}.jsonl", "w", force_zip64=True)
                counts[name] = 0
                async with conn.cursor(name=f"ohm_export_{name}", row_factory=tuple_row) as cursor:
                    await cursor.execute(query, (user_id,))
                    while rows := await cursor.fetchmany(BATCH):
                        text = "".join(f"{line}\n" for (line,) in rows)
                        await asyncio.to_thread(member.write, text.encode())
                        counts[name] += len(rows)
                await asyncio.to_thread(member.close)
            stored = await (await conn.execute(
                "select distinct sha256, storage_path from public.attachments where user_id = %s", (user_id,)
            )).fetchall()
        counts["files"] = 0
        for row in stored:
            member = await asyncio.to_thread(archive.open, f"files/{row['sha256']}", "w", force_zip64=True)
            try:
                async for chunk in await blobs.open(row["storage_path"]):
                    await asyncio.to_thread(member.write, chunk)
                counts["files"] += 1
            except FileNotFoundError:
                counts["files_missing"] = counts.get("files_missing", 0) + 1
            finally:
                await asyncio.to_thread(member.close)
        manifest = {"format": "ohm.export/1", "user_id": str(user_id), "created_at": datetime.now(UTC).isoformat(),
                    "rows": counts, "files": "files/<sha256>: the bytes of each upload (attachments.jsonl names "
                                              "them by sha256)",
                    "tables": {name: table for name, table, _, _ in ACCOUNT_TABLES}}
        await asyncio.to_thread(archive.writestr, "manifest.json", json.dumps(manifest, indent=1))
    finally:
        await asyncio.to_thread(archive.close)
    return counts
