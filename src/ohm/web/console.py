"""The web console: what a maker's agents stored, at the URLs the API hands out.

  GET  /                    my chats, newest first; search; filter by project
  GET  /chat/{id}           a chat's active branch (or ?leaf=), branch switchers, artifacts with history
  GET  /chat/{id}/m/{mid}   one message as an HTML fragment (the page's script appends it when it arrives)
  GET  /chat/{id}/a/{aid}   one artifact as an HTML fragment (swapped in when a version arrives)
  GET  /projects/{id}       goal and budget, BOM, wiring, firmware, checks and exports
  GET  /chat/{id}/artifacts/{aid}/diff?from=&to=   two versions compared
  POST /share/{token}/fork  the share page's "Fork this chat" (a signed-in visitor)
  POST /chat/{id}/artifacts/{aid}/restore   restore a version (the owner)
  GET  /sign-in?code=       exchange a one-time code (ohm login-link) for the session cookie
  POST /sign-in/session     a Supabase Auth session's access token for the session cookie
  POST /sign-out

Pages are rendered on the server; the only script is the chat page's live update (a nonce in the
Content-Security-Policy allows it and nothing else).  The session is an HttpOnly, SameSite=Strict
cookie; a token is never put in a URL.  Other users' private chats are the same 404 page as chats that
do not exist.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ohm.api.deps import SESSION_COOKIE, AnyIdentity, Db, session_identity
from ohm.auth import Identity, InvalidToken, issue_token
from ohm.models import ArtifactDiff, BomView, Checks, CodeView, WiringView
from ohm.offload import off_loop
from ohm.store import artifacts as artifacts_store
from ohm.store import chats as chats_store
from ohm.store import console as console_store
from ohm.store import forks as forks_store
from ohm.store import hardware as hardware_store
from ohm.store import messages as messages_store
from ohm.store import projects as projects_store
from ohm.store import search as search_store
from ohm.store.errors import Invalid, NotFound, StoreError
from ohm.web.render import console_html

router = APIRouter(include_in_schema=False)

SESSION_SECONDS = 12 * 3600
PAGE = 100  # messages per page of a chat (a chat of 1,000 renders its first page in ~60 ms: bench/)


def headers(nonce: str | None = None) -> dict[str, str]:
    script = f"script-src 'nonce-{nonce}'; connect-src 'self'; " if nonce else ""
    return {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                   f"{script}base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


async def page(template: str, status: int = 200, nonce: str | None = None, **context: Any) -> HTMLResponse:
    body = await off_loop(console_html, template, {**context, "nonce": nonce})
    return HTMLResponse(body, status_code=status, headers=headers(nonce))


def same_origin(request: Request) -> bool:
    """A form or script of this site (not a cross-site post: sign-in, sign-out and restore check it)."""
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    host = request.headers.get("host", "")
    return bool(host) and origin.split("://", 1)[-1].split("/", 1)[0] == host


def signed_in(identity: Identity) -> bool:
    return identity.role in ("authenticated", "service_role")


def set_session(response: Response, request: Request, token: str, seconds: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max(60, min(seconds, SESSION_SECONDS)), path="/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")


# --- signing in -------------------------------------------------------------------------------------------------


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, db: Db, code: Annotated[str | None, Query(max_length=128)] = None,
                  next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    if code:
        user = await console_store.redeem_login_code(db, code)
        if user is not None:
            token = issue_token(request.app.state.jwt_secret, user_id=user[0], email=user[1],
                                ttl_seconds=SESSION_SECONDS)
            response = RedirectResponse(local_path(next), status_code=303, headers=headers())
            set_session(response, request, token, SESSION_SECONDS)
            return response
    return await page("console_sign_in.html", 401 if code else 200, expired=bool(code))


@router.post("/sign-in/session")
async def sign_in_with_session(request: Request, access_token: Annotated[str, Form(max_length=8192)]) -> Response:
    """A session from Supabase Auth: its access token becomes the console's cookie until it expires."""
    if not same_origin(request):
        return Response("cross-site sign-in refused", status_code=403, headers=headers())
    try:
        identity = await request.app.state.tokens.verify_token(access_token)
    except InvalidToken:
        return await page("console_sign_in.html", 401, expired=True)
    if not signed_in(identity):
        return await page("console_sign_in.html", 401, expired=True)
    response = RedirectResponse("/", status_code=303, headers=headers())
    left = int(identity.claims.get("exp", 0)) - int(datetime.now(UTC).timestamp())
    set_session(response, request, access_token, left)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    if not same_origin(request):
        return Response("cross-site sign-out refused", status_code=403, headers=headers())
    response = RedirectResponse("/sign-in", status_code=303, headers=headers())
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


# --- pages --------------------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(identity: AnyIdentity, db: Db, q: Annotated[str | None, Query(max_length=1000)] = None,
               project: Annotated[uuid.UUID | None, Query()] = None) -> Response:
    if not signed_in(identity):
        return await page("console_sign_in.html")
    chats = await chats_store.list_chats(db, identity, limit=100, project_id=project)
    projects = await projects_store.list_projects(db, identity, limit=100)
    hits = None
    error = None
    if q and q.strip():
        try:
            hits = (await search_store.search(db, identity, q, project_id=project, limit=30)).items
        except Invalid as exc:
            error = exc.detail
    return await page("console_index.html", chats=chats.items, projects=projects.items, q=q or "", hits=hits,
                      project=project, error=error, who=identity.claims.get("email"))


@router.get("/chat/{chat_id}", response_class=HTMLResponse)
async def chat_page(chat_id: str, identity: AnyIdentity, db: Db,
                    leaf: Annotated[uuid.UUID | None, Query()] = None,
                    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> Response:
    try:
        chat = await chats_store.get_chat(db, identity, uuid.UUID(chat_id), limit=1)
        branch = await messages_store.list_messages(db, identity, chat.id, leaf_id=leaf, after_sequence=after,
                                                    limit=PAGE)
        points = await console_store.branch_points(db, identity, chat.id, [m.id for m in branch.items]) \
            if chat.is_branched else {}
        histories = await artifacts_store.list_versions_of(db, identity, [a.id for a in chat.artifacts])
    except (ValueError, NotFound):
        return await page("console_not_found.html", 404, signed_in=signed_in(identity))
    owner = identity.user_id is not None and identity.user_id == chat.user_id
    nonce = secrets.token_urlsafe(16)
    return await page("console_chat.html", nonce=nonce, chat=chat, messages=branch.items,
                      next_after=branch.next_after_sequence, after=after, leaf=leaf, points=points,
                      histories=histories, owner=owner, signed_in=signed_in(identity), live=leaf is None)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
async def project_page(project_id: str, identity: AnyIdentity, db: Db) -> Response:
    """Goal and budget, the BOM with totals, wiring steps with colours and findings (and the WireViz drawing
    when the server can draw it), code by success unit, every check, and the exports."""
    from ohm.hardware.exports import can_render

    try:
        project = await projects_store.get_project(db, identity, uuid.UUID(project_id))
    except (ValueError, NotFound):
        return await page("console_not_found.html", 404, signed_in=signed_in(identity))

    async def optional(view: Any, model: Any) -> Any:
        try:
            return model.model_validate_json(await view(db, identity, project.id))
        except NotFound:
            return None

    bom = await optional(hardware_store.bom_view, BomView)
    wiring = await optional(hardware_store.wiring_view, WiringView)
    code = await optional(hardware_store.code_view, CodeView)
    checks = await optional(hardware_store.get_checks, Checks)
    return await page("console_project.html", project=project, bom=bom, wiring=wiring, code=code, checks=checks,
                      drawing=wiring is not None and can_render(), signed_in=True)


@router.get("/chat/{chat_id}/a/{artifact_id}", response_class=HTMLResponse)
async def artifact_fragment(chat_id: uuid.UUID, artifact_id: uuid.UUID, identity: AnyIdentity, db: Db) -> Response:
    """One artifact as the chat page shows it (the page's script swaps it in when a version arrives)."""
    try:
        chat = await chats_store.get_chat(db, identity, chat_id, limit=1)
        artifact = next(a for a in chat.artifacts if a.id == artifact_id)
        history = (await artifacts_store.list_versions_of(db, identity, [artifact_id])).get(artifact_id, [])
    except (NotFound, StopIteration):
        return Response(status_code=404, headers=headers())
    owner = identity.user_id is not None and identity.user_id == chat.user_id
    return await page("console_artifact.html", a=artifact, artifacts=chat.artifacts, history=history,
                      chat_id=chat.id, owner=owner)


@router.get("/chat/{chat_id}/m/{message_id}", response_class=HTMLResponse)
async def message_fragment(chat_id: uuid.UUID, message_id: uuid.UUID, identity: AnyIdentity, db: Db) -> Response:
    try:
        message = await messages_store.get_message(db, identity, message_id)
    except NotFound:
        return Response(status_code=404, headers=headers())
    if message.chat_id != chat_id:
        return Response(status_code=404, headers=headers())
    return await page("console_message.html", m=message, point=None, chat_id=chat_id)


@router.get("/chat/{chat_id}/artifacts/{artifact_id}/diff", response_class=HTMLResponse)
async def diff_page(chat_id: uuid.UUID, artifact_id: uuid.UUID, identity: AnyIdentity, db: Db,
                    from_: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1)],
                    to: Annotated[int, Query(ge=1, le=2**31 - 1)]) -> Response:
    """Two versions compared: a BOM as added, removed, replaced and changed parts; text as a unified diff;
    other JSON as its changed paths."""
    try:
        artifact = await artifacts_store.get_artifact(db, identity, artifact_id)
        if artifact.chat_id != chat_id:
            raise NotFound("artifact not found")
        compared = await artifacts_store.diff_versions(db, identity, artifact_id, from_, to)
        diff = ArtifactDiff.model_validate_json(compared)
    except NotFound:
        return await page("console_not_found.html", 404, signed_in=signed_in(identity))
    except Invalid as exc:
        return await page("console_not_found.html", 422, signed_in=signed_in(identity), reason=exc.detail)
    return await page("console_diff.html", artifact=artifact, diff=diff, signed_in=signed_in(identity))


@router.post("/share/{token}/fork")
async def fork_from_share(token: str, request: Request, db: Db) -> Response:
    """The share page's "Fork this chat" button: a copy of what the share shows, as the signed-in visitor's."""
    identity = await session_identity(request)
    if not same_origin(request):
        return Response("cross-site fork refused", status_code=403, headers=headers())
    if identity.role != "authenticated":
        return RedirectResponse(f"/sign-in?next=/share/{token}", status_code=303, headers=headers())
    try:
        chat = await forks_store.fork_share(db, identity, token)
    except (NotFound, Invalid):
        return await page("console_not_found.html", 404, signed_in=True)
    return RedirectResponse(f"/chat/{chat.id}", status_code=303, headers=headers())


@router.post("/chat/{chat_id}/artifacts/{artifact_id}/restore")
async def restore(chat_id: uuid.UUID, artifact_id: uuid.UUID, request: Request, db: Db,
                  version: Annotated[int, Form(ge=1, le=2**31 - 1)]) -> Response:
    identity = await session_identity(request)
    if not same_origin(request) or not signed_in(identity):
        return await page("console_not_found.html", 404, signed_in=signed_in(identity))
    try:
        await artifacts_store.restore_version(db, identity, artifact_id, version)
    except NotFound:
        return await page("console_not_found.html", 404, signed_in=True)
    except StoreError:
        pass  # already the current version: nothing to do
    return RedirectResponse(f"/chat/{chat_id}#artifact-{artifact_id}", status_code=303, headers=headers())
