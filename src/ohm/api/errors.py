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

from ohm.auth import KeysUnavailable
from ohm.store.errors import StoreError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(status: int, detail: str | None = None, *, title: str | None = None,
            type_: str | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """A problem+json response; without a ``type_``, ``urn:ohm:problem:<the status's phrase>``."""
    body: dict[str, Any] = {
        "type": type_ or f"urn:ohm:problem:{_slug(HTTPStatus(status).phrase)}",
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
    detail = str(exc.detail) if exc.detail else None
    # The router's own answers carry only the status's phrase: say what was asked and where to look.
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}; the API is described at /docs"
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed on {request.url.path}; the API is described at /docs"
    return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    return problem(503, "the database is unavailable; retry shortly",
                   type_="urn:ohm:problem:database-unavailable", headers={"Retry-After": "1"})


async def _too_slow(request: Request, exc: Exception) -> JSONResponse:
    log.warning("statement cancelled on %s %s: %s", request.method, request.url.path, exc)
    return problem(503, "the request took longer than the server allows; retry, or narrow it",
                   type_="urn:ohm:problem:statement-timeout", headers={"Retry-After": "1"})


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    log.warning("no free database connection for %s %s", request.method, request.url.path)
    return problem(503, "no database connection became free in time (the database is busy or away); "
                   "retry shortly", type_="urn:ohm:problem:busy", headers={"Retry-After": "1"})


async def _not_unicode(request: Request, exc: UnicodeError) -> JSONResponse:
    # JSON may carry "\ud800" (an unpaired surrogate): valid JSON, not valid Unicode; nothing was stored.
    return problem(422, "text contains characters that are not valid Unicode (an unpaired surrogate)",
                   title="Invalid input", type_="urn:ohm:problem:invalid-input")


async def _bad_value(request: Request, exc: psycopg.DataError) -> JSONResponse:
    # PostgreSQL (or psycopg, before sending) refused a value the request carried: a NUL character
    # in a query parameter, a number out of range. Routes that expect it say so more precisely.
    log.warning("value refused on %s %s: %s", request.method, request.url.path, exc)
    text = (exc.diag.message_primary if isinstance(exc, psycopg.Error) and exc.diag.message_primary else str(exc))
    detail = ("a value contains a NUL character, which cannot be stored or searched" if "NUL" in text
              else "a value is not valid: " + " ".join(text.split())[:200])
    return problem(422, detail, title="Invalid input", type_="urn:ohm:problem:invalid-input")


async def _keys_unavailable(request: Request, exc: KeysUnavailable) -> JSONResponse:
    return problem(503, f"cannot check this token now: {exc}", type_="urn:ohm:problem:signing-keys-unavailable",
                   headers={"Retry-After": "5"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "an unexpected error occurred")


def install_error_handlers(app: FastAPI) -> None:
    # Starlette types a handler as taking any Exception; each of these takes the class it is registered for.
    handlers: list[tuple[type[Exception], Any]] = [
        (StoreError, _store_error),
        (RequestValidationError, _validation_error),
        (StarletteHTTPException, _http_error),
        (PoolTimeout, _pool_exhausted),
        (psycopg.errors.QueryCanceled, _too_slow),
        (psycopg.OperationalError, _database_unavailable),
        (UnicodeError, _not_unicode),
        (psycopg.DataError, _bad_value),
        (KeysUnavailable, _keys_unavailable),
        (Exception, _unexpected),
    ]
    for exc_class, handler in handlers:
        app.add_exception_handler(exc_class, handler)


# --- the schema says what the handlers above do -------------------------------------------------------------

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; some problems add fields (errors, limit, current_version, ...).",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "Validation errors (422)."},
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
}
COMMON_ERRORS = {
    "401": "No valid token where one is needed.",
    "422": "The input is not valid (the `errors` say where).",
    "503": "The database is away, busy, or the statement took too long; retry after `Retry-After`.",
}
WRITE_ERRORS = {"413": "The request body is too large.", "429": "Too many writes with this token; retry after "
                                                                 "`Retry-After`."}


def problem_openapi(app: FastAPI) -> None:
    """Document every error response as application/problem+json, as the handlers send them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                extra = dict(COMMON_ERRORS)
                if method in ("post", "put", "patch", "delete"):
                    extra |= WRITE_ERRORS
                if path != "/healthz":
                    extra["400"] = "A malformed request (e.g. broken multipart data)."
                for status, description in extra.items():
                    responses.setdefault(status, {"description": description})
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = content
                        response.setdefault("description", HTTPStatus(int(status)).phrase)
        schema["components"]["schemas"].pop("HTTPValidationError", None)
        schema["components"]["schemas"].pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
