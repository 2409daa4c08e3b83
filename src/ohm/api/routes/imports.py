"""/v1/imports: bring a ChatGPT or Claude data export in, as a background job."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile, status

from ohm.api.deps import Db, SignedIn
from ohm.api.responses import json_response
from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import ImportJob, ImportSource
from ohm.store import imports as store
from ohm.store.errors import Forbidden, TooLarge

router = APIRouter(prefix="/v1", tags=["imports"])
log = logging.getLogger("ohm.imports")
IMPORT_PATH = "/v1/imports"


@router.post("/imports", status_code=status.HTTP_201_CREATED, response_model=ImportJob,
             responses={403: {"description": "Not with an API key: the user's own token (or the service role)."},
                        413: {"description": "Larger than OHM_MAX_IMPORT_BYTES."}, 422: {}})
async def start_import(
    request: Request,
    db: Db,
    identity: SignedIn,
    file: Annotated[UploadFile, File(description="ChatGPT's export (.zip, or its conversations.json), or Claude's "
                                                 "conversations.json.")],
    source: Annotated[ImportSource, Form(description="Whose export it is.")],
    keep_tool_output: Annotated[bool, Form(description="ChatGPT: keep tool nodes (code output, browsing).")] = False,
    user_id: Annotated[uuid.UUID | None, Form(description="Service role only: whose history this is.")] = None,
) -> Response:
    """Start importing: every conversation becomes a chat (edits and regenerations as branches, times, models
    and the active branch kept). Runs in the background; `GET /v1/imports/{id}` shows progress and a report
    per conversation. Importing the same export again adds nothing."""
    owner = _owner(identity, user_id)
    settings = request.app.state.settings
    size = await asyncio.to_thread(_size, file.file)
    if size > settings.max_import_bytes:
        raise TooLarge(f"the export is {size} bytes; the limit is {settings.max_import_bytes}",
                       limit=settings.max_import_bytes)
    job = await store.create_job(db, owner, source, file.filename, size)
    path = await asyncio.to_thread(_keep, file.file, job.id)
    files = store.Files(request.app.state.blobs, settings.max_upload_bytes, settings.storage_quota_bytes)
    task = asyncio.create_task(_run(db, job, owner, path, keep_tool_output, files), name=f"import {job.id}")
    running: set[asyncio.Task[Any]] = request.app.state.__dict__.setdefault("imports", set())
    running.add(task)
    task.add_done_callback(running.discard)
    return json_response(job, 201, headers={"Location": f"/v1/imports/{job.id}"})


@router.get("/imports/{import_id}", response_model=ImportJob,
            responses={404: {"description": "No such import, or not yours."}})
async def get_import(import_id: uuid.UUID, db: Db, identity: SignedIn) -> Response:
    """The job: status (queued, running, done, failed), bytes read of the total, chats created, skipped (already
    imported) and failed, messages, and a row per conversation (the first 1,000)."""
    return json_response(await store.get_job(db, identity, import_id))


def _owner(identity: Identity, user_id: uuid.UUID | None) -> uuid.UUID:
    if identity.key is not None:
        raise Forbidden("an API key cannot import a history: use the user's own token")
    if identity.role == "service_role":
        if user_id is None:
            raise Forbidden("the service role names whose history this is (user_id)")
        return user_id
    if user_id is not None and user_id != identity.user_id:
        raise Forbidden("user_id is for the service role")
    assert identity.user_id is not None
    return identity.user_id


def _size(source: Any) -> int:
    source.seek(0, 2)
    size = int(source.tell())
    source.seek(0)
    return size


def _keep(source: Any, job_id: uuid.UUID) -> Path:
    """The upload as a file of its own, for the job to read at its pace (removed when the job ends)."""
    handle = tempfile.NamedTemporaryFile(prefix=f"ohm-import-{job_id}-", delete=False)
    with handle:
        shutil.copyfileobj(source, handle, 1024 * 1024)
    return Path(handle.name)


async def _run(db: Database, job: ImportJob, owner: uuid.UUID, path: Path, keep_tool_output: bool,
               files: store.Files) -> None:
    try:
        await store.run_import(db, job.id, owner, path, job.source, keep_tool_output=keep_tool_output, files=files)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await store.fail_job(db, job.id, "the server stopped during the import: send the export again "
                                             "(what was imported stays, nothing is added twice)")
        raise
    except Exception as exc:  # a job must end, whatever happened
        log.exception("import %s failed", job.id)
        with contextlib.suppress(Exception):
            await store.fail_job(db, job.id, f"{type(exc).__name__}: {str(exc)[:300]}")
    finally:
        path.unlink(missing_ok=True)
