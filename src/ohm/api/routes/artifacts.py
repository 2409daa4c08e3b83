"""/v1/chats/{id}/artifacts and /v1/artifacts: versioned artifacts, thin over ohm.store.artifacts."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status

from ohm.api.deps import AnyIdentity, Db, SignedIn
from ohm.api.responses import json_response
from ohm.models import (
    Artifact,
    ArtifactCreate,
    ArtifactDiff,
    ArtifactRestore,
    ArtifactVersion,
    ArtifactVersionCreate,
    VersionSummary,
)
from ohm.store import artifacts as store

router = APIRouter(prefix="/v1", tags=["artifacts"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such artifact (or version), or not yours to see."}}
Version = Annotated[int, Query(ge=1, le=2**31 - 1)]


@router.post("/chats/{chat_id}/artifacts", status_code=status.HTTP_201_CREATED, response_model=Artifact,
             responses={404: {"description": "No such chat, or not yours."}, 413: {}, 422: {}})
async def create_artifact(chat_id: uuid.UUID, body: ArtifactCreate, db: Db, identity: SignedIn) -> Response:
    """A BOM, wiring, firmware, document, ... with its first version. bom, wiring and code artifacts must
    carry `content_json` in their documented shape (docs/artifacts.md)."""
    return json_response(await store.create_artifact(db, identity, chat_id, body), 201)


@router.get("/artifacts/{artifact_id}", response_model=Artifact, responses=NOT_FOUND)
async def get_artifact(artifact_id: uuid.UUID, db: Db, identity: AnyIdentity) -> Response:
    """The artifact, its current version and a summary of its history (newest first)."""
    return json_response(await store.get_artifact(db, identity, artifact_id))


@router.delete("/artifacts/{artifact_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_artifact(artifact_id: uuid.UUID, db: Db, identity: SignedIn) -> Response:
    """Delete the artifact with its whole history."""
    await store.delete_artifact(db, identity, artifact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/artifacts/{artifact_id}/versions", status_code=status.HTTP_201_CREATED, response_model=Artifact,
             responses={**NOT_FOUND, 409: {"description": "base_version is not the current version; the body "
                                                          "carries current_version."}, 413: {}})
async def add_version(artifact_id: uuid.UUID, body: ArtifactVersionCreate, db: Db, identity: SignedIn) -> Response:
    """Version N+1 based on `base_version` (optimistic concurrency: no silent overwrite)."""
    return json_response(await store.add_version(db, identity, artifact_id, body), 201)


@router.get("/artifacts/{artifact_id}/versions", response_model=list[VersionSummary], responses=NOT_FOUND)
async def list_versions(artifact_id: uuid.UUID, db: Db, identity: AnyIdentity) -> list[VersionSummary]:
    """Every version, oldest first: number, parent, summary, author agent/user, message, time."""
    return await store.list_versions(db, identity, artifact_id)


@router.get("/artifacts/{artifact_id}/versions/{version}", response_model=ArtifactVersion, responses=NOT_FOUND)
async def get_version(artifact_id: uuid.UUID, version: Annotated[int, Path(ge=1, le=2**31 - 1)], db: Db,
                      identity: AnyIdentity) -> Response:
    return json_response(await store.get_version(db, identity, artifact_id, version))


@router.post("/artifacts/{artifact_id}/restore", status_code=status.HTTP_201_CREATED, response_model=Artifact,
             responses=NOT_FOUND)
async def restore(artifact_id: uuid.UUID, body: ArtifactRestore, db: Db, identity: SignedIn) -> Response:
    """A new version with the content of `version`, on top of the current one ("Restored v{n}")."""
    return json_response(await store.restore_version(db, identity, artifact_id, body.version), 201)


@router.get("/artifacts/{artifact_id}/diff", response_model=ArtifactDiff, responses=NOT_FOUND)
async def diff(
    artifact_id: uuid.UUID,
    db: Db,
    identity: AnyIdentity,
    from_: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1)],
    to: Version,
    kind: Annotated[Literal["text", "json", "bom"] | None,
                    Query(description="Default: bom for BOMs with JSON, json for other JSON, text otherwise.")] = None,
) -> Response:
    """Compare two versions: a unified text diff, a structured JSON diff, or a part-level BOM diff."""
    return Response(await store.diff_versions(db, identity, artifact_id, from_, to, kind),
                    media_type="application/json")
