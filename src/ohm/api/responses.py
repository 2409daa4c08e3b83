"""JSON responses straight from the store's models.

The store already returns typed models; FastAPI would validate them again
against ``response_model`` before serialising.  Routes keep ``response_model``
for the OpenAPI schema and return this instead.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError


def json_response(model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    body: str | bytes
    try:
        body = model.model_dump_json()
    except (PydanticSerializationError, ValueError):
        # pydantic stops at ~255 levels (JSON stored before OHM limited nesting): write it capped instead
        from ohm.store._common import json_bytes

        body = json_bytes(model.model_dump(mode="python"))
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)
