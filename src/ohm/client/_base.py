"""What both clients share: errors, how each call is described, the event stream's state.

The clients themselves are written once, async (``_async/client.py``); the sync one is generated from it
(``scripts/make_sync_client.py``), so the two cannot drift.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Generic, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from ohm.lsn import parse_lsn
from ohm.models import (
    Artifact,
    ArtifactDiff,
    Attachment,
    Chat,
    DatasheetAnalysis,
    MessageCreated,
    MessagePage,
    Page,
    RealtimeEvent,
    Share,
)

M = TypeVar("M")


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()
"""Marks an argument that was not passed (different from an explicit ``None``)."""


class OhmError(Exception):
    """The API answered with an error; ``problem`` is its problem+json body."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        self.title = str(problem.get("title", ""))
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {self.title}: {self.detail}".strip(": "))


class UnauthorizedError(OhmError):
    pass


class NotFoundError(OhmError):
    pass


class ConflictError(OhmError):
    pass


class TooLargeError(OhmError):
    pass


class InvalidError(OhmError):
    pass


class ForbiddenError(OhmError):
    pass


class UnsupportedTypeError(OhmError):
    pass


class UnavailableError(OhmError):
    """503: the database is away, busy or slow, or a computation ran past its time (``retry_after``)."""

    @property
    def retry_after(self) -> int | None:
        value = self.problem.get("retry_after")
        return value if isinstance(value, int) else None


class BadRequestError(OhmError):
    """400: a body that cannot be parsed at all."""


class RateLimitedError(OhmError):
    """429: too many writes, heavy anonymous reads or forks; ``retry_after`` says when to try again."""

    @property
    def retry_after(self) -> int | None:
        value = self.problem.get("retry_after")
        return value if isinstance(value, int) else None


class HeadersTooLargeError(OhmError):
    """431: the request's head (headers) is over 64 KiB or 100 headers."""


class NotAvailableError(OhmError):
    """501: an optional part of the server is not installed (e.g. Graphviz for wiring SVG)."""


ERRORS: dict[int, type[OhmError]] = {
    400: BadRequestError, 401: UnauthorizedError, 403: ForbiddenError, 404: NotFoundError, 409: ConflictError,
    413: TooLargeError, 415: UnsupportedTypeError, 422: InvalidError, 429: RateLimitedError,
    431: HeadersTooLargeError, 501: NotAvailableError, 503: UnavailableError,
}


F = TypeVar("F", bound=Callable[..., Any])


def route(method: str, *paths: str) -> Callable[[F], F]:
    """Which operation(s) of the API a client method calls (the contract test reads it)."""

    def mark(fn: F) -> F:
        fn.__ohm_route__ = (method, paths)  # type: ignore[attr-defined]
        return fn

    return mark


async def _sleep_async(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _sleep_sync(seconds: float) -> None:
    time.sleep(seconds)


@dataclass
class _Call(Generic[M]):
    """One API call: what to send and what comes back."""

    method: str
    path: str
    model: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    files: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    raw: bool = False  # return the body's bytes

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"params": {k: _param(v) for k, v in self.params.items() if v is not None}}
        if self.json is not None:
            kwargs["json"] = self.json
        if self.files is not None:
            kwargs["files"] = self.files
            kwargs["data"] = self.data or {}
        return kwargs

    def parse(self, response: httpx.Response) -> M:
        _raise_for_problem(response)
        if self.raw:
            return response.content  # type: ignore[return-value]
        if self.model is None:
            return None  # type: ignore[return-value]
        return _adapter(self.model).validate_python(response.json())


def _raise_for_problem(response: httpx.Response) -> None:
    """An error response as the OhmError for its status, carrying its problem+json body."""
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"title": response.reason_phrase, "detail": response.text}
        raise ERRORS.get(response.status_code, OhmError)(response.status_code, body)


@functools.lru_cache(maxsize=64)
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_param(v) for v in value]
    return str(value) if isinstance(value, uuid.UUID) else value


def _when(value: Any) -> str | None:
    """A time as a query parameter (ISO 8601)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def _json_body(values: Mapping[str, Any], *, keep_none: tuple[str, ...] = ()) -> dict[str, Any]:
    """A request body: NOT_GIVEN is left out, and None too unless it is meaningful for that field."""
    body = {}
    for key, value in values.items():
        if value is NOT_GIVEN or (value is None and key not in keep_none):
            continue
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json", exclude_none=True)
        elif isinstance(value, uuid.UUID):
            value = str(value)
        body[key] = value
    return body


# The calls, described once for both clients.


def _create_chat(title: Any, project_id: Any, phase: Any, is_public: Any, user_id: Any) -> _Call[Chat]:
    return _Call("POST", "/v1/chats", Chat, json=_json_body(
        {"title": title, "project_id": project_id, "phase": phase, "is_public": is_public, "user_id": user_id}))


def _update_chat(chat_id: Any, changes: Mapping[str, Any]) -> _Call[Chat]:
    return _Call("PATCH", f"/v1/chats/{chat_id}", Chat, json=_json_body(changes, keep_none=tuple(changes)))


def _list_chats(limit: Any, cursor: Any, project_id: Any, archived: Any, pinned: Any, user_id: Any
                ) -> _Call[Page[Chat]]:
    archived_param = "any" if archived is None else archived
    return _Call("GET", "/v1/chats", Page[Chat], params={
        "limit": limit, "cursor": cursor, "project_id": project_id, "archived": archived_param,
        "pinned": pinned, "user_id": user_id})


def _post_message(chat_id: Any, role: Any, content: Any, parent_id: Any, content_json: Any, agent: Any, intent: Any,
                  usage: Any, latency_ms: Any, metadata: Any) -> _Call[MessageCreated]:
    body = _json_body({
        "role": role, "content": content, "parent_id": parent_id, "content_json": content_json, "agent": agent,
        "intent": intent, "usage": usage, "latency_ms": latency_ms, "metadata": metadata,
    }, keep_none=("parent_id",))
    return _Call("POST", f"/v1/chats/{chat_id}/messages", MessageCreated, json=body)


def _list_messages(chat_id: Any, leaf_id: Any, whole_tree: Any, after_sequence: Any, limit: Any) -> _Call[MessagePage]:
    return _Call("GET", f"/v1/chats/{chat_id}/messages", MessagePage, params={
        "leaf_id": leaf_id, "all": whole_tree or None, "after_sequence": after_sequence, "limit": limit})


def _create_artifact(chat_id: Any, type_: Any, title: Any, content_text: Any, content_json: Any, change_summary: Any,
                     message_id: Any, agent: Any) -> _Call[Artifact]:
    return _Call("POST", f"/v1/chats/{chat_id}/artifacts", Artifact, json=_json_body({
        "type": type_, "title": title, "content_text": content_text, "content_json": content_json,
        "change_summary": change_summary, "message_id": message_id, "agent": agent}))


def _add_version(artifact_id: Any, base_version: Any, content_text: Any, content_json: Any, change_summary: Any,
                 message_id: Any, agent: Any) -> _Call[Artifact]:
    return _Call("POST", f"/v1/artifacts/{artifact_id}/versions", Artifact, json=_json_body({
        "base_version": base_version, "content_text": content_text, "content_json": content_json,
        "change_summary": change_summary, "message_id": message_id, "agent": agent}))


def _restore(artifact_id: Any, version: Any) -> _Call[Artifact]:
    return _Call("POST", f"/v1/artifacts/{artifact_id}/restore", Artifact, json={"version": version})


def _diff(artifact_id: Any, from_version: Any, to_version: Any, kind: Any) -> _Call[ArtifactDiff]:
    return _Call("GET", f"/v1/artifacts/{artifact_id}/diff", ArtifactDiff,
                 params={"from": from_version, "to": to_version, "kind": kind})


def _create_share(chat_id: Any, up_to_message_id: Any, expires_at: Any) -> _Call[Share]:
    return _Call("POST", f"/v1/chats/{chat_id}/shares", Share, json=_json_body(
        {"up_to_message_id": up_to_message_id,
         "expires_at": expires_at.isoformat() if hasattr(expires_at, "isoformat") else expires_at}))


def _fork(path: str, message_id: Any) -> _Call[Chat]:
    return _Call("POST", path, Chat, json=_json_body({"message_id": message_id}))


def _upload(content: bytes | BinaryIO, filename: str, category: str, form: Mapping[str, Any]) -> _Call[Attachment]:
    data = {"category": category, **{k: str(v) for k, v in form.items() if v is not None}}
    return _Call("POST", "/v1/attachments", Attachment, files={"file": (filename, content)}, data=data)


def _list_analyses(part_number: Any, project_id: Any, attachment_id: Any, limit: Any, cursor: Any
                   ) -> _Call[Page[DatasheetAnalysis]]:
    return _Call("GET", "/v1/datasheet-analyses", Page[DatasheetAnalysis], params={
        "part_number": part_number, "project_id": project_id, "attachment_id": attachment_id, "limit": limit,
        "cursor": cursor})


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


LSN_HEADER = "OHM-LSN"


def _lsn_value(text: str) -> int | None:
    try:
        return parse_lsn(text)
    except ValueError:
        return None


def _carry_lsn(headers: httpx.Headers, response: httpx.Response) -> None:
    """Read-your-writes with read replicas: send back the furthest ``OHM-LSN`` a write's answer carried, so
    the next read sees that write even when a standby serves it."""
    given = response.headers.get(LSN_HEADER)
    new = _lsn_value(given) if given else None
    if new is None:
        return
    held = _lsn_value(headers.get(LSN_HEADER, ""))
    if held is None or new > held:
        headers[LSN_HEADER] = given


# --- the event stream (SSE), shared by both clients ----------------------------------------------------------

EVENTS_READ_TIMEOUT = 60.0  # the server sends a comment every 15 s: silence this long is a dead connection
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)


class _Resume(Exception):
    """The server asked us to reconnect (we fell too far behind): do it now, from the cursor."""


@dataclass
class _EventStream:
    """Where a chat's event stream stands: its cursor, and what each frame means."""

    chat_id: uuid.UUID | str
    cursor: int | None
    failures: int = 0

    def request(self, timeout: httpx.Timeout) -> dict[str, Any]:
        headers = {"Last-Event-ID": str(self.cursor)} if self.cursor is not None else {}
        return {"method": "GET", "url": f"/v1/chats/{self.chat_id}/events", "headers": headers,
                "timeout": httpx.Timeout(timeout.connect, read=EVENTS_READ_TIMEOUT, write=timeout.write,
                                         pool=timeout.pool)}

    def opened(self, response: httpx.Response) -> None:
        """Raise for an error answer (its body read); otherwise the connection counts as a success."""
        _raise_for_problem(response)
        self.failures = 0

    def frame(self, data: str) -> RealtimeEvent | None:
        if not data:  # a keep-alive comment, or a frame that only sets the retry delay
            return None
        item = json.loads(data)
        kind = item.get("type")
        if kind in ("event", "reset"):
            event = RealtimeEvent.model_validate(item)
            self.cursor = event.cursor
            return event
        if kind == "subscribed" and self.cursor is None:
            self.cursor = item["cursor"]
        elif kind == "error":
            if item.get("code") == "overflow":
                raise _Resume
            status = {"not_found": 404, "token_expired": 401}.get(item.get("code"), 400)
            raise ERRORS.get(status, OhmError)(status, {"title": item.get("code", "error"),
                                                        "detail": item.get("detail", "")})
        return None

    def delay(self) -> float:
        self.failures += 1
        return RECONNECT_DELAYS[min(self.failures, len(RECONNECT_DELAYS)) - 1]
