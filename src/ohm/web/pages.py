"""Server-rendered pages: GET /share/{token} (a share, readable and mobile-friendly) and GET /usage.

No script runs on them: message content is rendered as markdown without raw
HTML, charts are SVG drawn on the server, and the Content-Security-Policy
allows no scripts at all, so a payload that slipped through could not
execute either.  The pages never send their URL (which may hold a token) to
other sites.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ohm.api.deps import SESSION_COOKIE, AnyIdentity, Db
from ohm.api.routes.shares import visitor
from ohm.auth import InvalidToken
from ohm.offload import off_loop
from ohm.store import analytics, shares
from ohm.store.errors import NotFound
from ohm.web.charts import stacked_daily
from ohm.web.render import environment, share_html

router = APIRouter(include_in_schema=False)

templates = Jinja2Templates(env=environment())

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


# The same, allowing the page's one form (the fork button) to post to this site.
FORM_HEADERS = {**HEADERS, "Content-Security-Policy": HEADERS["Content-Security-Policy"].replace(
    "form-action 'none'", "form-action 'self'")}

SHARE_PAGE = 50  # messages per page of the share page


@router.get("/share/{token}", response_class=HTMLResponse)
async def share_page(token: str, request: Request, db: Db, identity: AnyIdentity,
                     after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> HTMLResponse:
    """The share, 50 messages (and about 4 MiB) per page, rendered in a worker process with a time budget
    for Markdown (ohm.web.render.BudgetedMarkdown): the largest share costs the event loop nothing."""
    try:
        raw = await shares.read_share_raw(db, identity, token, visitor=visitor(request), after_sequence=after,
                                          limit=SHARE_PAGE)
    except NotFound:
        return templates.TemplateResponse(request, "not_found.html", {}, status_code=404, headers=HEADERS)
    # A signed-in visitor (the console's session) gets a "Fork this chat" button (a form to this site).
    fork = identity.role == "authenticated"
    body = await off_loop(share_html, *raw, request.app.state.jwt_secret, after, token if fork else None)
    return HTMLResponse(body, headers=FORM_HEADERS if fork else HEADERS)


USAGE_COOKIE = "ohm_usage_token"


@router.get("/usage", response_class=HTMLResponse)
async def usage_page(request: Request, db: Db,
                     days: Annotated[int, Query(ge=1, le=366)] = 30,
                     token: Annotated[str | None, Query(max_length=4096)] = None) -> Response:
    """Cost per day by agent and a table per agent, for the token's user (the service role: everyone).

    ``?token=`` is for local use: it is checked, kept in an HttpOnly cookie for this page, and dropped
    from the address by a redirect."""
    tokens = request.app.state.tokens
    if token is not None:
        try:
            identity = await tokens.verify_token(token)
        except InvalidToken:
            return templates.TemplateResponse(request, "sign_in.html", {}, status_code=401, headers=HEADERS)
        response = RedirectResponse(f"/usage?days={days}", status_code=303, headers=HEADERS)
        lifetime = int(identity.claims.get("exp", 0)) - int(datetime.now(UTC).timestamp())
        response.set_cookie(USAGE_COOKIE, token, max_age=max(60, min(lifetime, 12 * 3600)), path="/usage",
                            httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response
    try:
        # The page's own cookie, else the console's session.
        cookie = request.cookies.get(USAGE_COOKIE) or request.cookies.get(SESSION_COOKIE) or ""
        identity = await tokens.verify_token(cookie)
    except InvalidToken:
        return templates.TemplateResponse(request, "sign_in.html", {}, status_code=401, headers=HEADERS)
    if identity.role == "anon":
        return templates.TemplateResponse(request, "sign_in.html", {}, status_code=401, headers=HEADERS)
    today = datetime.now(UTC).date()
    start_day = today - timedelta(days=days - 1)
    start = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)
    end = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
    report = await analytics.usage(db, identity, "agent", start=start, end=end)
    rows = await analytics.daily_by_agent(db, identity, start, end)
    who = "All users" if identity.role == "service_role" else (identity.claims.get("email") or str(identity.user_id))
    return templates.TemplateResponse(request, "usage.html", {
        "report": report, "chart": stacked_daily(rows, start_day, days), "start": start_day, "end_day": today,
        "who": who}, headers=HEADERS)
