"""Imports: each conversation of an export becomes a chat, in one transaction, once.

``run_import`` reads an export (``ohm.imports.read``, in a worker thread: parsing never holds the event
loop) and writes each conversation with ``write_conversation``: the chat, its messages with their parents
(edits and regenerations stay branches), times, models and the active leaf, all or nothing per chat.  A
conversation already imported for the user is skipped (``imported_chats``), so importing the same export
twice adds nothing.  One that cannot be read is reported by conversation and field, and the rest goes on.
The job's progress is in ``imports``; ``imported_chats`` is its report.
"""

from __future__ import annotations

import asyncio
import io
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import errors
from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.blobs import BlobStore
from ohm.db.session import Database
from ohm.imports import Conversation, Problem, read
from ohm.models import ImportJob, ImportReportItem
from ohm.store import attachments
from ohm.store._common import first
from ohm.store.errors import Invalid, NotFound, StoreError

NOT_FOUND = "import not found"
PROGRESS_EVERY = 0.5  # seconds between progress writes
REPORT_LIMIT = 1000  # report rows returned with a job

INSERT_MESSAGE = """
insert into public.messages (id, chat_id, user_id, parent_id, role, content, content_json, agent_name, agent_model,
                             metadata, created_at)
values (%s, %s, %s, %s, %s::public.message_role, %s, %s, %s, %s, %s, coalesce(%s, now()))
"""


@dataclass
class Written:
    status: str  # created | skipped
    chat_id: uuid.UUID | None
    messages: int
    ids: dict[str, uuid.UUID] = field(default_factory=dict)  # source id -> message id (created only)


async def write_conversation(db: Database, user_id: uuid.UUID, conversation: Conversation,
                             import_id: uuid.UUID) -> Written:
    """One conversation as one chat of ``user_id``: all of it or nothing (and nothing if already imported)."""
    async with db.acting_as(Identity.service()) as conn:
        # One chat.imported-style record is the job itself: no activity row per imported message.
        await conn.execute("select set_config('ohm.activity_quiet', 'on', true)")
        done = await (await conn.execute(
            "select chat_id from public.imported_chats where user_id = %s and source = %s and source_id = %s "
            "and status = 'created' and chat_id is not null", (user_id, conversation.source, conversation.source_id)
        )).fetchone()
        if done is not None:
            await _report(conn, import_id, user_id, conversation, "skipped", done["chat_id"], 0, "already imported")
            return Written("skipped", done["chat_id"], 0)
        chat_id = uuid.uuid4()
        await conn.execute(
            "insert into public.chats (id, user_id, title, created_at, last_message_at) "
            "values (%s, %s, %s, coalesce(%s, now()), coalesce(%s, now()))",
            (chat_id, user_id, conversation.title, conversation.created_at, conversation.created_at))
        ids = {m.source_id: uuid.uuid4() for m in conversation.messages}
        rows = [(ids[m.source_id], chat_id, user_id, ids[m.parent] if m.parent else None, m.role, m.content,
                 Jsonb(m.content_json) if m.content_json is not None else None, m.agent, m.model,
                 Jsonb({"import": {"source": conversation.source, "conversation": conversation.source_id,
                                   "message": m.source_id, **({"files": m.files} if m.files else {})}}),
                 m.created_at) for m in conversation.messages]
        if rows:
            async with conn.cursor() as cur:
                await cur.executemany(INSERT_MESSAGE, rows)
        if conversation.current is not None and conversation.current in ids:
            await conn.execute("update public.chats set current_leaf_id = %s where id = %s",
                               (ids[conversation.current], chat_id))
        await _report(conn, import_id, user_id, conversation, "created", chat_id, len(rows), None)
    return Written("created", chat_id, len(rows), ids)


async def _report(conn: Any, import_id: uuid.UUID, user_id: uuid.UUID, conversation: Conversation | None,
                  status: str, chat_id: uuid.UUID | None, messages: int, detail: str | None,
                  problem: Problem | None = None) -> None:
    source_id = conversation.source_id if conversation else (problem.conversation if problem else None)
    await conn.execute(
        "insert into public.imported_chats (import_id, user_id, source, source_id, position, title, status, chat_id, "
        "messages, detail) select %s, %s, i.source, %s, %s, %s, %s, %s, %s, %s from public.imports i where i.id = %s",
        (import_id, user_id, (source_id or f"#{(problem.index if problem else 0) + 1}")[:200],
         conversation.index if conversation else (problem.index if problem else 0),
         conversation.title if conversation else None, status, chat_id, messages,
         detail[:1000] if detail else None, import_id))


async def create_job(db: Database, user_id: uuid.UUID, source: str, filename: str | None, size: int) -> ImportJob:
    async with db.acting_as(Identity.service()) as conn:
        if await (await conn.execute("select 1 from public.profiles where id = %s", (user_id,))).fetchone() is None:
            raise NotFound("no such user")
        row = await first(await conn.execute(
            f"insert into public.imports (user_id, source, filename, bytes_total) values (%s, %s, %s, %s) "
            f"returning {JOB_COLUMNS}", (user_id, source, (filename or "")[:255] or None, size)))
    return ImportJob(**row, report=[])


JOB_COLUMNS = """id, user_id, source, filename, status, bytes_total, bytes_read, conversations, chats_created,
                 chats_skipped, chats_failed, messages, error, created_at, finished_at"""


async def get_job(db: Database, identity: Identity, import_id: uuid.UUID) -> ImportJob:
    async with db.acting_as(identity) as conn:
        row = await (await conn.execute(f"select {JOB_COLUMNS} from public.imports where id = %s",
                                        (import_id,))).fetchone()
        if row is None:
            raise NotFound(NOT_FOUND)
        report = await (await conn.execute(
            "select position, source_id, title, status, chat_id, messages, detail from public.imported_chats "
            "where import_id = %s order by position, id limit %s", (import_id, REPORT_LIMIT))).fetchall()
    return ImportJob(**row, report=[ImportReportItem(**r) for r in report])


@dataclass
class Files:
    """Where an import puts the images it finds in a ChatGPT zip (as attachments of their messages)."""

    blobs: BlobStore
    max_bytes: int
    quota_bytes: int


async def run_import(db: Database, import_id: uuid.UUID, user_id: uuid.UUID, path: Path, source: str, *,
                     keep_tool_output: bool = False, files: Files | None = None,
                     on_progress: Callable[[ImportJob | None, int], None] | None = None) -> ImportJob:
    """Read the export at ``path`` and write every conversation; the job row follows along.  Never raises for
    what is in the file: a conversation that cannot be read or written is reported, and the rest goes on."""
    loop = asyncio.get_running_loop()
    archive = zipfile.ZipFile(path) if files is not None and zipfile.is_zipfile(path) else None
    members = {}
    if archive is not None:
        for name in archive.namelist():
            base = name.rsplit("/", 1)[-1]
            if base and not name.endswith("/") and not base.endswith(".json"):
                members[base] = name
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=4)  # back-pressure: the reader stays a few chats ahead
    read_bytes = [0]
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            items: Iterator[Conversation | Problem] = read(path, source, keep_tool_output=keep_tool_output,
                                                           progress=lambda n: read_bytes.__setitem__(0, n))
            for item in items:
                if stop.is_set():
                    return
                asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            asyncio.run_coroutine_threadsafe(queue.put(end), loop).result()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which fails the job
            asyncio.run_coroutine_threadsafe(queue.put(exc), loop).result()

    await _update(db, import_id, {"status": "running"})
    reader = threading.Thread(target=produce, name=f"ohm-import-{import_id}", daemon=True)
    reader.start()
    counts = {"conversations": 0, "chats_created": 0, "chats_skipped": 0, "chats_failed": 0, "messages": 0}
    last = loop.time()
    error: str | None = None
    try:
        while True:
            item = await queue.get()
            if item is end:
                break
            if isinstance(item, BaseException):
                error = f"the export could not be read: {type(item).__name__}: {str(item)[:300]}"
                break
            counts["conversations"] += 1
            if isinstance(item, Problem):
                counts["chats_failed"] += 1
                async with db.acting_as(Identity.service()) as conn:
                    await _report(conn, import_id, user_id, None, "failed", None, 0, str(item), problem=item)
            else:
                try:
                    written = await write_conversation(db, user_id, item, import_id)
                except errors.UniqueViolation:  # the same conversation, imported at the same moment elsewhere
                    counts["chats_skipped"] += 1
                except (Invalid, NotFound, errors.Error) as exc:
                    counts["chats_failed"] += 1
                    async with db.acting_as(Identity.service()) as conn:
                        await _report(conn, import_id, user_id, item, "failed", None, 0,
                                      f"could not be written: {str(exc)[:300]}")
                else:
                    counts["chats_created" if written.status == "created" else "chats_skipped"] += 1
                    counts["messages"] += written.messages
                    if written.status == "created" and archive is not None and files is not None:
                        await _attach_images(db, files, archive, members, user_id, item, written)
            if loop.time() - last > PROGRESS_EVERY:
                last = loop.time()
                await _update(db, import_id, {"bytes_read": read_bytes[0], **counts})
                if on_progress is not None:
                    on_progress(None, read_bytes[0])
    finally:
        if archive is not None:
            archive.close()
        stop.set()
        while not queue.empty():  # let a blocked reader finish
            queue.get_nowait()
        await asyncio.to_thread(reader.join, 5)
    await _update(db, import_id, {"bytes_read": read_bytes[0], "status": "failed" if error else "done",
                                  "error": error, **counts}, finished=True)
    job = await get_job(db, Identity.service(), import_id)
    if on_progress is not None:
        on_progress(job, read_bytes[0])
    return job


async def _attach_images(db: Database, files: Files, archive: zipfile.ZipFile, members: dict[str, str],
                         user_id: uuid.UUID, conversation: Conversation, written: Written) -> None:
    """The images a message points to, from the zip, as attachments of that message (after its chat is
    written: a missing or refused file is noted in the report, the chat stays)."""
    missing = []
    for message in conversation.messages:
        for pointer in message.files:
            member = members.get(pointer) or next((full for base, full in members.items()
                                                   if base.startswith(pointer)), None)
            if member is None:
                missing.append(pointer)
                continue
            data = await asyncio.to_thread(archive.read, member)
            try:
                await attachments.upload(
                    db, files.blobs, Identity.service(), io.BytesIO(data), member.rsplit("/", 1)[-1],
                    category="photo", chat_id=written.chat_id, message_id=written.ids[message.source_id],
                    user_id=user_id, max_bytes=files.max_bytes, quota_bytes=files.quota_bytes)
            except StoreError as exc:
                missing.append(f"{pointer} ({exc.detail})")
    if missing:
        async with db.acting_as(Identity.service()) as conn:
            await conn.execute(
                "update public.imported_chats set detail = %s where chat_id = %s and status = 'created'",
                (("images not attached: " + ", ".join(missing))[:1000], written.chat_id))


async def _update(db: Database, import_id: uuid.UUID, values: dict[str, Any], *, finished: bool = False) -> None:
    assignments = ", ".join(f"{name} = %s" for name in values)
    extra = ", finished_at = now()" if finished else ""
    async with db.acting_as(Identity.service()) as conn:
        await conn.execute(f"update public.imports set {assignments}{extra} where id = %s",
                           (*values.values(), import_id))


async def fail_job(db: Database, import_id: uuid.UUID, error: str) -> None:
    await _update(db, import_id, {"status": "failed", "error": error[:2000]}, finished=True)
