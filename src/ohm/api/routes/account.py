"""/v1/me and /v1/keys: the signed-in user's own account, and the API keys their agents act with."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import TypeAdapter

from ohm.api.deps import Db, SignedIn
from ohm.api.responses import json_response
from ohm.models import AccountDelete, AccountDeleted, ApiKey, ApiKeyCreate, ApiKeyCreated, Me, MeUpdate
from ohm.store import keys as key_store
from ohm.store import users
from ohm.store._common import own_user
from ohm.store.errors import Invalid

router = APIRouter(prefix="/v1", tags=["account"])
KEY_LIST = TypeAdapter(list[ApiKey])

USER_ONLY: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not with an API key (or the service role): only the user's own token."}}


@router.get("/me", response_model=Me, responses={403: {"description": "Not a user (anon or the service role)."}})
async def get_me(request: Request, db: Db, identity: SignedIn) -> Response:
    """Your profile (display name, avatar, preferences, subscription tier), totals (messages, tokens, cost)
    and storage (bytes used of your quota). With an API key: the scope `account:read`."""
    return json_response(await users.get_me(db, identity, quota_bytes=request.app.state.settings.storage_quota_bytes))


@router.patch("/me", response_model=Me, responses={**USER_ONLY, 413: {}, 422: {}})
async def update_me(request: Request, body: MeUpdate, db: Db, identity: SignedIn) -> Response:
    """Change your display name, avatar URL (http or https) or preferences (a JSON object up to 64 KiB,
    replacing the stored one). The tier and the totals are not yours to write."""
    return json_response(await users.update_me(db, identity, body,
                                               quota_bytes=request.app.state.settings.storage_quota_bytes))


@router.get("/me/export", response_class=Response, responses={
    **USER_ONLY, 200: {"content": {"application/zip": {}},
                       "description": "manifest.json, a JSON Lines file per table, files/<sha256> per upload."}})
async def export_me(request: Request, db: Db, identity: SignedIn) -> Response:
    """Everything you own as a zip: your profile and totals, chats with every branch, artifacts with every
    version, projects, parts, wiring, code, checks, uploads (with their bytes), verifications, analyses,
    shares, forks, keys (never their secrets), imports and your activity. Written to a temporary file as it
    is read (memory stays flat) and sent from there."""
    import tempfile
    from pathlib import Path

    from starlette.background import BackgroundTask
    from starlette.responses import FileResponse

    from ohm.store.exports import export_account

    handle = tempfile.NamedTemporaryFile(prefix="ohm-export-", suffix=".zip", delete=False)
    handle.close()
    path = Path(handle.name)
    try:
        await export_account(db, request.app.state.blobs, identity, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(path, media_type="application/zip", filename=f"ohm-export-{identity.user_id}.zip",
                        headers={"Cache-Control": "no-store"}, background=BackgroundTask(path.unlink, True))


@router.delete("/me", response_model=AccountDeleted, responses={**USER_ONLY, 422: {}})
async def delete_me(request: Request, body: AccountDelete, db: Db, identity: SignedIn) -> Response:
    """Delete your account: every chat, message, artifact, project, file, share, key and import of yours, and
    the files no one else uploaded too. `confirm` must be your email address (your user id if you have none).
    Other users' rows that mention you keep only your id (docs/security.md)."""
    user_id = own_user(identity, "delete the account")
    me = await users.get_me(db, identity, quota_bytes=0)
    expected = (me.email or str(me.id)).lower()
    if body.confirm.lower() != expected:
        raise Invalid("confirm must be your email address (your user id if you have none): nothing was deleted")
    deleted = await users.delete_user(db, request.app.state.blobs, user_id)
    return json_response(deleted)


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated,
             responses={**USER_ONLY, 404: {"description": "The chat or project to limit the key to is not yours."},
                        422: {}})
async def create_key(body: ApiKeyCreate, db: Db, identity: SignedIn) -> Response:
    """A key for an agent: it acts as you, within its scopes (and its chat or project, if limited), until it
    expires or you revoke it. The `secret` is in this response only."""
    created = await key_store.create_key(db, identity, body)
    return Response(created.model_dump_json(), 201, media_type="application/json",
                    headers={"Location": f"/v1/keys/{created.id}", "Cache-Control": "no-store"})


@router.get("/keys", response_model=list[ApiKey], responses=USER_ONLY)
async def list_keys(db: Db, identity: SignedIn) -> Response:
    """Your keys, newest first, with their status and when they were last used (never their secrets)."""
    return Response(KEY_LIST.dump_json(await key_store.list_keys(db, identity)), media_type="application/json")


@router.delete("/keys/{key_id}", response_model=ApiKey, responses={**USER_ONLY, 404: {}})
async def revoke_key(request: Request, key_id: uuid.UUID, db: Db, identity: SignedIn) -> Response:
    """Revoke a key: refused from its next request on, in every server process. Revoking twice is harmless."""
    revoked = await key_store.revoke_key(db, identity, key_id)
    verifier = request.app.state.tokens.api_keys
    if verifier is not None:
        verifier.forget(revoked.id)
    return json_response(revoked)
