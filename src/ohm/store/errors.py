"""Domain errors; the API maps each to one RFC 9457 problem type."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(StoreError):
    """Missing, or hidden by row-level security: never say which."""

    status = 404
    title = "Not found"


class Unauthenticated(StoreError):
    """The credential stopped being valid (an API key revoked or expired since the server read it)."""

    status = 401
    title = "Unauthorized"


class Conflict(StoreError):
    status = 409
    title = "Conflict"


class Invalid(StoreError):
    status = 422
    title = "Invalid input"


class TooLarge(StoreError):
    status = 413
    title = "Content too large"


class TooMany(StoreError):
    """A budget per time is used up (forks per hour): retry later."""

    status = 429
    title = "Too many requests"


class Forbidden(StoreError):
    status = 403
    title = "Forbidden"


class Unsupported(StoreError):
    status = 415
    title = "Unsupported media type"


class NotAvailable(StoreError):
    """This server lacks an optional component the request needs."""

    status = 501
    title = "Not available on this server"
