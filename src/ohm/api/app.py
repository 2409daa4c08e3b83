"""The FastAPI application.

``create_app(settings)`` builds the app; its lifespan resolves the database
(starting the embedded server when no URL is configured), applies pending
migrations, and opens the pool of ``ohm_authenticator`` connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ohm import __version__
from ohm.api.errors import install_error_handlers, problem, problem_openapi
from ohm.api.key_auth import Credentials, KeyVerifier
from ohm.api.limits import BodyLimit, PublicReadLimit, WriteRateLimit
from ohm.api.realtime import Hub
from ohm.api.signing_keys import SigningKeys
from ohm.auth import TokenCache
from ohm.blobs import blob_store_for
from ohm.config import Settings, parse_rate
from ohm.db.session import Database
from ohm.db.target import open_database

log = logging.getLogger(__name__)

OnReady = Callable[[FastAPI], Awaitable[None]]

# ?token= (WebSocket and SSE clients), ?code= (the console's one-time sign-in links).
TOKEN_IN_URL = re.compile(r"([?&](?:token|code)=)[^&\s\"']+")
KEY_SECRET = re.compile(r"(ohm_sk_[A-Za-z0-9]{8}_)[A-Za-z0-9]+")  # an API key: its public prefix stays
# A share link's token is its only key: /share/<token>, /v1/shares/<token> (and their /fork).
SHARE_IN_PATH = re.compile(r"(/(?:v1/shares|share)/)[A-Za-z0-9_-]{16,}")


class RedactTokens(logging.Filter):
    """Tokens passed in URLs (WebSocket and SSE clients that cannot set headers), the console's sign-in codes,
    share links' tokens and API keys' secrets (anywhere in a line) never reach the logs."""

    @staticmethod
    def redact(text: str) -> str:
        text = SHARE_IN_PATH.sub(r"\1[redacted]", TOKEN_IN_URL.sub(r"\1[redacted]", text))
        return KEY_SECRET.sub(r"\1[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        return True


def redact_tokens_in_logs() -> None:
    for name in ("uvicorn.error", "uvicorn.access", "ohm"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def on_termination(callback: Callable[[], None]) -> Callable[[], None]:
    """Also call ``callback`` when SIGINT or SIGTERM arrives, before the handler already there (uvicorn's,
    which starts the graceful shutdown). Returns what puts the old handlers back. Only the main thread
    may handle signals: elsewhere (an app run in a thread, as tests do) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        callback()
        chained = previous[signal.Signals(signum)]
        if callable(chained):
            chained(signum, frame)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, old)

    return restore


def create_app(settings: Settings | None = None, *, on_ready: OnReady | None = None) -> FastAPI:
    settings = settings or Settings()
    redact_tokens_in_logs()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The secret first: a missing one should stop us before anything starts.
        app.state.jwt_secret = settings.resolve_jwt_secret()
        keys = None
        if settings.jwt_jwks_url or settings.jwt_jwks_file:
            keys = SigningKeys(settings.jwt_jwks_url, settings.jwt_jwks_file, min_interval=settings.jwt_jwks_cooldown)
            await keys.start()
        app.state.signing_keys = keys
        async with open_database(settings) as db, contextlib.AsyncExitStack() as stack:
            app.state.tokens = Credentials(TokenCache(app.state.jwt_secret, keys=keys), KeyVerifier(db))
            app.state.db = db
            app.state.target = db.target
            app.state.settings = settings
            app.state.blobs = blob_store_for(settings)
            app.state.hub = Hub(db, db.target.app_url, app.state.tokens)
            await app.state.hub.start()
            mcp_running = await start_mcp(app, db, settings, stack)
            # On SIGTERM the server waits for open requests; event streams never end by themselves.
            loop = asyncio.get_running_loop()
            def close_streams() -> None:
                loop.call_soon_threadsafe(app.state.hub.close_streams)

            restore_signals = on_termination(close_streams)
            if on_ready is not None:
                await on_ready(app)
            if not mcp_running:
                log.info("MCP at /mcp is off: %s", app.state.mcp_missing)
            # Everything loaded at startup lives as long as the process: keep it out of
            # the garbage collector's full passes (shorter pauses under load).
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                restore_signals()
                await app.state.hub.stop()

    app = FastAPI(
        title="OHM",
        version=__version__,
        summary="Conversation store for multi-agent hardware assistants.",
        description=API_INTRO,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_offline_docs(app)
    install_error_handlers(app)
    problem_openapi(app)
    # Per route: uploads stream up to the upload limit, plus the multipart envelope.
    from ohm.api.routes.files import UPLOAD_PATH
    from ohm.api.routes.imports import IMPORT_PATH

    app.add_middleware(BodyLimit, default=settings.max_body_bytes,
                       larger={("POST", UPLOAD_PATH): settings.max_upload_bytes + 64 * 1024,
                               ("POST", IMPORT_PATH): settings.max_import_bytes + 64 * 1024})
    rate = parse_rate(settings.rate_limit_writes)
    if rate is not None:
        app.add_middleware(WriteRateLimit, rate=rate, burst=settings.rate_limit_burst)
    if settings.replica_urls:
        from ohm.api.consistency import ReadYourWrites

        app.add_middleware(ReadYourWrites)
    reads = parse_rate(settings.rate_limit_public_reads)
    if reads is not None:
        app.add_middleware(PublicReadLimit, rate=reads, burst=settings.rate_limit_public_burst)

    from ohm.api.fast import FastAppend
    from ohm.api.routes import (
        account,
        analytics,
        artifacts,
        chats,
        files,
        health,
        imports,
        projects,
        realtime,
        search,
        shares,
    )
    from ohm.web import console, pages

    app.router.routes.insert(0, FastAppend())
    app.router.routes.append(Route("/mcp", endpoint=McpRoute(), methods=["GET", "POST", "DELETE"],
                                   include_in_schema=False))

    app.include_router(health.router)
    app.include_router(chats.router)
    app.include_router(artifacts.router)
    app.include_router(shares.router)
    app.include_router(files.router)
    app.include_router(projects.router)
    app.include_router(analytics.router)
    app.include_router(account.router)
    app.include_router(imports.router)
    app.include_router(search.router)
    app.include_router(realtime.router)
    app.include_router(pages.router)
    app.include_router(console.router)
    return app


API_INTRO = """\
Every route but `/healthz`, the share pages and public chats needs a token: `Authorization: Bearer <JWT>`.

- **On your machine**: `ohm serve --demo` prints one for the demo user; `ohm token EMAIL` makes one for any
  user (`ohm user create EMAIL` first), `ohm token --role service_role` one for agents acting for everyone.
- **On Supabase**: the user's session token from Supabase Auth (`supabase.auth.getSession()`), or the
  project's service-role key for a back end.

Click **Authorize**, paste the token, and try the routes. Errors are `application/problem+json`.
"""

# Swagger UI's and ReDoc's files, served from the installed fastapi-offline package: /docs and /redoc work
# without internet access (FastAPI's defaults load them from a CDN).
DOCS_ASSETS = "/docs-assets"


def install_offline_docs(app: FastAPI) -> None:
    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=static), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="OHM API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title="OHM API",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)


async def start_mcp(app: FastAPI, db: Database, settings: Settings, stack: contextlib.AsyncExitStack) -> bool:
    """The MCP endpoint's server, when the optional ``mcp`` package is installed."""
    app.state.mcp = None
    try:
        from ohm.mcp_server import http_endpoint
    except ImportError as exc:
        app.state.mcp_missing = str(exc)
        return False
    endpoint = http_endpoint(db, app.state.tokens.verify, settings.host)
    await stack.enter_async_context(endpoint.server.session_manager.run())
    app.state.mcp = endpoint
    return True


class McpRoute:
    """``/mcp``: MCP's streamable HTTP (ohm.mcp_server), or a 501 naming the missing extra."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = scope["app"].state.mcp
        if endpoint is not None:
            await endpoint(scope, receive, send)
            return
        response = problem(501, scope["app"].state.mcp_missing, type_="urn:ohm:problem:not-available")
        await response(scope, receive, send)


def get_db(request: Request) -> Database:
    return request.app.state.db
