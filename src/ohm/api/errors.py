"""Every error leaves as RFC 9457 problem+json.

Domain errors carry their own status; validation errors are 422; a database
that is away or a pool that is exhausted is 503 with Retry-After, never 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ohm.store.errors import StoreError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(status: int, detail: str | None = None, *, title: str | None = None,
            type_: str = "about:blank", headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


async def _store_error(request: Request, exc: StoreError) -> JSONResponse:
    return problem(exc.status, exc.detail, title=exc.title,
                   type_=f"urn:ohm:problem:{_slug(exc.title)}", **exc.extra)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        errors.append({
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        })
    return problem(422, "the request is not valid", title="Invalid input",
                   type_="urn:ohm:problem:invalid-input", errors=errors)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 413:
        return problem(413, "the request body is larger than this endpoint accepts", title="Content too large",
                       type_="urn:ohm:problem:content-too-large")
    return problem(exc.status_code, str(exc.detail) if exc.detail else None,
                   headers=getattr(exc, "headers", None))


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    return problem(503, "the database is unavailable; retry shortly",
                   type_="urn:ohm:problem:database-unavailable", headers={"Retry-After": "1"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "an unexpected error occurred")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
