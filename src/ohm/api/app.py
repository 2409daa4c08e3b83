"""The FastAPI application.

``create_app(settings)`` builds the app; its lifespan resolves the database
(starting the embedded server when no URL is configured), applies pending
migrations, and opens the pool of ``ohm_authenticator`` connections.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from anyio import to_thread
from fastapi import FastAPI, Request

from ohm import __version__
from ohm.api.errors import install_error_handlers
from ohm.config import Settings
from ohm.db.session import Database
from ohm.db.target import DatabaseTarget, open_target

OnReady = Callable[[FastAPI], Awaitable[None]]


def create_app(settings: Settings | None = None, *, on_ready: OnReady | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The secret first: a missing one should stop us before anything starts.
        app.state.jwt_secret = settings.resolve_jwt_secret()
        target_cm = open_target(settings)
        target: DatabaseTarget = await to_thread.run_sync(target_cm.__enter__)
        try:
            db = Database(target.app_url, min_size=settings.db_pool_min,
                          max_size=settings.db_pool_max,
                          connect_timeout=settings.db_connect_timeout)
            await db.open()
            app.state.db = db
            app.state.target = target
            app.state.settings = settings
            try:
                if on_ready is not None:
                    await on_ready(app)
                yield
            finally:
                await db.close()
        finally:
            await to_thread.run_sync(target_cm.__exit__, None, None, None)

    app = FastAPI(
        title="OHM",
        version=__version__,
        summary="Conversation store for multi-agent hardware assistants.",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    from ohm.api.routes import health

    app.include_router(health.router)
    return app


def get_db(request: Request) -> Database:
    return request.app.state.db
