"""Typed HTTP client for OHM's API, sync (``OhmClient``) and async (``AsyncOhmClient``).

Both have the same methods and return the same pydantic models the server sends (``ohm.models``), and
raise :class:`OhmError` subclasses carrying the problem+json body::

    with OhmClient("http://127.0.0.1:8000", token=TOKEN) as ohm:
        chat = ohm.create_chat(title="Weather station")
        ohm.post_message(chat.id, "user", "Which sensor for outdoor humidity?")
        ohm.post_message(chat.id, "assistant", "A BME280.", agent={"name": "bomGenerator",
                         "model": "openai/o1"}, intent="BOM", usage={"input_tokens": 900, "output_tokens": 40})
        print(ohm.get_chat(chat.id).messages)

The async client is written by hand (``_async/client.py``); the sync one is generated from it.
"""

from ohm.client._async.client import AsyncOhmClient
from ohm.client._base import (
    ERRORS,
    NOT_GIVEN,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    HeadersTooLargeError,
    InvalidError,
    NotAvailableError,
    NotFoundError,
    OhmError,
    RateLimitedError,
    TooLargeError,
    UnauthorizedError,
    UnavailableError,
    UnsupportedTypeError,
)
from ohm.client._sync.client import OhmClient

__all__ = [
    "ERRORS", "NOT_GIVEN", "AsyncOhmClient", "BadRequestError", "ConflictError", "ForbiddenError",
    "HeadersTooLargeError", "InvalidError", "NotAvailableError", "NotFoundError", "OhmClient", "OhmError",
    "RateLimitedError", "TooLargeError", "UnauthorizedError", "UnavailableError", "UnsupportedTypeError",
]
