"""JSON responses straight from the store's models.

The store already returns typed models; FastAPI would validate them again
against ``response_model`` before serialising.  Routes keep ``response_model``
for the OpenAPI schema and return this instead.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_response(model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json",
                    headers=headers)
