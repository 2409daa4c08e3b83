"""GET /share/{token}: the share as a readable, mobile-friendly page.

No script runs on it: message content is rendered as markdown without raw
HTML, and the Content-Security-Policy allows no scripts at all, so a payload
that slipped through could not execute either.  The page never sends its
URL (which holds the token) to other sites.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ohm.api.deps import AnyIdentity, Db
from ohm.store import shares
from ohm.store.errors import NotFound
from ohm.web.render import bom_rows, markdown

router = APIRouter(include_in_schema=False)

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(render_markdown=markdown, bom_rows=bom_rows)
templates.env.filters["utc"] = lambda moment: moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@router.get("/share/{token}", response_class=HTMLResponse)
async def share_page(token: str, request: Request, db: Db, identity: AnyIdentity) -> HTMLResponse:
    try:
        snapshot = await shares.read_share(db, identity, token, signing_secret=request.app.state.jwt_secret)
    except NotFound:
        return templates.TemplateResponse(request, "not_found.html", {}, status_code=404, headers=HEADERS)
    return templates.TemplateResponse(request, "share.html", {"snapshot": snapshot}, headers=HEADERS)
