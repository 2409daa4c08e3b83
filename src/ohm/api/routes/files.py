"""/v1/attachments, /v1/projects/{id}/verifications and /v1/datasheet-analyses: uploads and their analyses."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from ohm.api.deps import AnyIdentity, Db, SignedIn
from ohm.api.responses import json_response
from ohm.blobs import BlobStore
from ohm.models import (
    Attachment,
    AttachmentCategory,
    AttachmentUpdate,
    DatasheetAnalysis,
    DatasheetAnalysisCreate,
    Page,
    SignedUrl,
    Verification,
    VerificationCreate,
)
from ohm.store import analyses
from ohm.store import attachments as store

router = APIRouter(prefix="/v1", tags=["files"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such attachment, or not yours to see."}}
UPLOAD_PATH = "/v1/attachments"
Limit = Annotated[int, Query(ge=1, le=200)]


async def blob_store(request: Request) -> BlobStore:
    return request.app.state.blobs


Blobs = Annotated[BlobStore, Depends(blob_store)]


@router.post("/attachments", status_code=status.HTTP_201_CREATED, response_model=Attachment,
             responses={413: {"description": "Larger than the upload limit, or over the storage quota."},
                        415: {"description": "The bytes are not a type this category accepts."}, 422: {}})
async def upload(
    request: Request,
    db: Db,
    blobs: Blobs,
    identity: SignedIn,
    file: Annotated[UploadFile, File(description="The bytes (the name is kept for display only).")],
    category: Annotated[AttachmentCategory, Form()] = "other",
    chat_id: Annotated[uuid.UUID | None, Form()] = None,
    message_id: Annotated[uuid.UUID | None, Form()] = None,
    project_id: Annotated[uuid.UUID | None, Form()] = None,
    user_id: Annotated[uuid.UUID | None, Form(description="Service role only: whose upload this is.")] = None,
) -> Response:
    """Upload a circuit photo, datasheet, schematic, ... (multipart/form-data, the bytes in `file`).

    The type is sniffed from the bytes and must suit the category; identical bytes are stored once."""
    settings = request.app.state.settings
    attachment = await store.upload(
        db, blobs, identity, file.file, file.filename, category=category, chat_id=chat_id, message_id=message_id,
        project_id=project_id, user_id=user_id, max_bytes=settings.max_upload_bytes,
        quota_bytes=settings.storage_quota_bytes)
    return json_response(attachment, 201, headers={"Location": f"/v1/attachments/{attachment.id}"})


@router.get("/attachments/{attachment_id}", response_model=Attachment, responses=NOT_FOUND)
async def get_attachment(attachment_id: uuid.UUID, db: Db, identity: AnyIdentity) -> Response:
    """Metadata: the owner's uploads, and those attached to public chats."""
    return json_response(await store.get(db, identity, attachment_id))


def file_response(attachment: Attachment, body: AsyncIterator[bytes], *, cache: str) -> Response:
    """The bytes streamed in chunks (memory per download stays one chunk), with safe headers."""
    disposition = "inline" if attachment.mime_type in store.INLINE else "attachment"
    # Whatever a stored name holds (a direct SQL update may write CR/LF), the header gets printable ASCII.
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in attachment.filename)
    return StreamingResponse(body, media_type=attachment.mime_type, headers={
        "Content-Length": str(attachment.size_bytes),
        "Content-Disposition": f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(attachment.filename)}",
        "X-Content-Type-Options": "nosniff",
        # Even if a browser renders it, uploaded content runs no script and reaches nothing.
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
        "Cache-Control": cache,
        "ETag": f'"{attachment.sha256}"',
    })


@router.get("/attachments/{attachment_id}/content", response_class=Response, responses={
    200: {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
          "description": "The bytes, with their sniffed Content-Type."}, **NOT_FOUND})
async def get_content(attachment_id: uuid.UUID, db: Db, blobs: Blobs, identity: AnyIdentity) -> Response:
    """The bytes, for the owner (and the service role). Others use a signed URL."""
    attachment, body = await store.content(db, blobs, identity, attachment_id)
    return file_response(attachment, body, cache="private, max-age=0, must-revalidate")


@router.patch("/attachments/{attachment_id}", response_model=Attachment,
              responses={**NOT_FOUND, 409: {"description": "Not a transition the status allows."}})
async def update_attachment(attachment_id: uuid.UUID, body: AttachmentUpdate, db: Db, identity: SignedIn) -> Response:
    """Processing status (pending -> processing -> done | failed; failed -> processing to retry)."""
    return json_response(await store.update(db, identity, attachment_id, body))


@router.delete("/attachments/{attachment_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_attachment(attachment_id: uuid.UUID, db: Db, blobs: Blobs, identity: SignedIn) -> Response:
    """Delete the upload; its bytes go with the last upload of the same content."""
    await store.delete(db, blobs, identity, attachment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/attachments/{attachment_id}/signed-url", response_model=SignedUrl, responses=NOT_FOUND)
async def signed_url(
    request: Request, attachment_id: uuid.UUID, db: Db, identity: SignedIn,
    ttl: Annotated[int, Query(ge=1, le=7 * 24 * 3600, description="Seconds the link works.")] = 900,
) -> Response:
    """A download link that needs no token until it expires (owner or service role)."""
    return json_response(await store.signed_url(db, identity, request.app.state.jwt_secret, attachment_id, ttl))


@router.get("/attachments/{attachment_id}/blob", response_class=Response, responses={
    200: {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
          "description": "The bytes, with their sniffed Content-Type."},
    403: {"description": "The signature is wrong or has expired."}, **NOT_FOUND})
async def signed_download(
    request: Request, attachment_id: uuid.UUID, db: Db, blobs: Blobs,
    expires: Annotated[int, Query(ge=0, le=2**62)],
    signature: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")],
) -> Response:
    """The bytes behind a signed URL (no token)."""
    attachment, body = await store.signed_content(db, blobs, request.app.state.jwt_secret, attachment_id,
                                                  expires, signature)
    return file_response(attachment, body, cache="private, max-age=60")


# --- analyses -------------------------------------------------------------------------------------------


@router.post("/projects/{project_id}/verifications", status_code=status.HTTP_201_CREATED,
             response_model=Verification, tags=["analyses"],
             responses={404: {"description": "No such project, or not yours."}, 422: {}})
async def create_verification(project_id: uuid.UUID, body: VerificationCreate, db: Db,
                              identity: SignedIn) -> Response:
    """A vision agent's verdict on a circuit photo: status, detected components, issues, suggestions."""
    return json_response(await analyses.create_verification(db, identity, project_id, body), 201)


@router.get("/projects/{project_id}/verifications", response_model=Page[Verification], tags=["analyses"],
            responses={404: {"description": "No such project, or not yours."}})
async def list_verifications(project_id: uuid.UUID, db: Db, identity: AnyIdentity, limit: Limit = 50,
                             cursor: str | None = None) -> Response:
    """Newest first: the first is the project's latest verification."""
    return json_response(await analyses.list_verifications(db, identity, project_id, limit=limit, cursor=cursor))


@router.get("/verifications/{verification_id}", response_model=Verification, tags=["analyses"],
            responses={404: {"description": "No such verification, or not yours."}})
async def get_verification(verification_id: uuid.UUID, db: Db, identity: AnyIdentity) -> Response:
    return json_response(await analyses.get_verification(db, identity, verification_id))


@router.post("/datasheet-analyses", status_code=status.HTTP_201_CREATED, response_model=DatasheetAnalysis,
             tags=["analyses"], responses={422: {}})
async def create_datasheet_analysis(body: DatasheetAnalysisCreate, db: Db, identity: SignedIn) -> Response:
    """A document agent's reading of a datasheet: key specs, pinout, application notes, warnings."""
    return json_response(await analyses.create_datasheet_analysis(db, identity, body), 201)


@router.get("/datasheet-analyses", response_model=Page[DatasheetAnalysis], tags=["analyses"])
async def list_datasheet_analyses(
    db: Db, identity: AnyIdentity, limit: Limit = 50, cursor: str | None = None,
    part_number: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    project_id: uuid.UUID | None = None, attachment_id: uuid.UUID | None = None,
) -> Response:
    """Your analyses, newest first; filter by part number (case-insensitive), project or file."""
    return json_response(await analyses.list_datasheet_analyses(
        db, identity, part_number=part_number, project_id=project_id, attachment_id=attachment_id, limit=limit,
        cursor=cursor))


@router.get("/datasheet-analyses/{analysis_id}", response_model=DatasheetAnalysis, tags=["analyses"],
            responses={404: {"description": "No such analysis, or not yours."}})
async def get_datasheet_analysis(analysis_id: uuid.UUID, db: Db, identity: AnyIdentity) -> Response:
    return json_response(await analyses.get_datasheet_analysis(db, identity, analysis_id))
