"""Request dependencies: who is asking, and the database."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ohm.api import scopes
from ohm.auth import Identity, InvalidToken, KeyGrant
from ohm.db.session import Database

bearer = HTTPBearer(auto_error=False, description="A Supabase-compatible JWT (HS256 with the project's secret, or "
                    "ES256 / RS256 with a key of its JWKS), or an OHM API key (`ohm_sk_...`, within its scopes). "
                    "No token: anon.")


# The web console's session (ohm.web.console): an HttpOnly, SameSite=Strict cookie holding a token.  It
# identifies reads (GET, HEAD) only, so that the console's own script can follow a chat's event stream; a
# write always needs the Authorization header (a cookie would make cross-site writes possible).
SESSION_COOKIE = "ohm_session"


async def session_identity(request: Request) -> Identity:
    """Who the console's session cookie says is signed in; anon without one (an expired session reads as a
    visitor)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return Identity.anon()
    try:
        identity: Identity = await request.app.state.tokens.verify_token(token)
    except InvalidToken:
        return Identity.anon()
    return identity


NO_TOKEN = ("this needs a token: send 'Authorization: Bearer <token>' (get one with `ohm token USER`, or an API key "
            "with `ohm keys create`)")


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def current_identity(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Identity:
    header = request.headers.get("authorization")
    if credentials is None:
        if header:  # present but not "Bearer <token>"
            raise unauthorized("use 'Authorization: Bearer <token>'")
        # EventSource (SSE) cannot set headers; it may pass the token in the query.
        token = request.query_params.get("token") if request.url.path.endswith("/events") else None
        if not token and request.method in ("GET", "HEAD"):
            return await session_identity(request)
        if not token:
            return Identity.anon()
    else:
        token = credentials.credentials
    try:
        identity: Identity = await request.app.state.tokens.verify(token)
    except InvalidToken as exc:
        raise unauthorized(str(exc)) from None
    if identity.key is not None:
        check_scope(request, identity.key)
    return identity


def check_scope(request: Request, key: KeyGrant) -> None:
    """An API key may call a route only with the scope listed for it (ohm.api.scopes)."""
    route = request.scope.get("route")
    needed = scopes.required(request.method, getattr(route, "path", ""))
    if needed == scopes.USER_ONLY:
        raise HTTPException(403, "an API key cannot do this: use the user's own token")
    if needed is None or (needed != scopes.PUBLIC and not key.allows(needed)):
        raise HTTPException(403, f"this API key lacks the scope {needed!r}" if needed else
                            "API keys cannot call this route")


async def signed_in(identity: Annotated[Identity, Depends(current_identity)]) -> Identity:
    """Writes need a user (or the service role)."""
    if identity.role == "anon":
        raise HTTPException(401, NO_TOKEN, headers={"WWW-Authenticate": "Bearer"})
    return identity


# Dependencies are coroutines: FastAPI runs a plain `def` dependency in its thread pool, a thread
# hop per request (measured: a fifth of the server's CPU on appends).
async def database(request: Request) -> Database:
    return request.app.state.db


AnyIdentity = Annotated[Identity, Depends(current_identity)]
SignedIn = Annotated[Identity, Depends(signed_in)]
Db = Annotated[Database, Depends(database)]
