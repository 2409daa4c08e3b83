"""Typed HTTP client for OHM's API, sync (``OhmClient``) and async (``AsyncOhmClient``).

Both return the same pydantic models the server sends (``ohm.models``) and
raise :class:`OhmError` subclasses carrying the problem+json body::

    with OhmClient("http://127.0.0.1:8000", token=TOKEN) as ohm:
        chat = ohm.create_chat(title="Weather station")
        ohm.post_message(chat.id, "user", "Which sensor for outdoor humidity?")
        ohm.post_message(chat.id, "assistant", "A BME280.", agent={"name": "bomGenerator",
                         "model": "openai/o1"}, intent="BOM", usage={"input_tokens": 900, "output_tokens": 40})
        print(ohm.get_chat(chat.id).messages)
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Generic, TypeVar

import httpx
from httpx_sse import aconnect_sse, connect_sse
from pydantic import BaseModel, TypeAdapter

from ohm.models import (
    AgentInfo,
    Artifact,
    ArtifactDiff,
    ArtifactType,
    ArtifactVersion,
    Attachment,
    AttachmentCategory,
    BomView,
    Chat,
    ChatDetail,
    ChatPhase,
    Checks,
    CodeView,
    DatasheetAnalysis,
    DatasheetAnalysisCreate,
    Intent,
    Lineage,
    Message,
    MessageDetail,
    MessagePage,
    MessageRole,
    Page,
    PartHit,
    Project,
    ProjectCreate,
    ProjectDetail,
    ProjectUpdate,
    RealtimeEvent,
    Share,
    ShareSnapshot,
    SignedUrl,
    Usage,
    Verification,
    VerificationCreate,
    VersionSummary,
    WiringView,
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
    pass


ERRORS: dict[int, type[OhmError]] = {
    401: UnauthorizedError, 403: ForbiddenError, 404: NotFoundError, 409: ConflictError, 413: TooLargeError,
    415: UnsupportedTypeError, 422: InvalidError, 503: UnavailableError,
}


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
    return str(value) if isinstance(value, uuid.UUID) else value


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


def _create_chat(title, project_id, phase, is_public, user_id) -> _Call[Chat]:
    return _Call("POST", "/v1/chats", Chat, json=_json_body(
        {"title": title, "project_id": project_id, "phase": phase, "is_public": is_public, "user_id": user_id}))


def _update_chat(chat_id, changes: Mapping[str, Any]) -> _Call[Chat]:
    return _Call("PATCH", f"/v1/chats/{chat_id}", Chat, json=_json_body(changes, keep_none=tuple(changes)))


def _list_chats(limit, cursor, project_id, archived, pinned, user_id) -> _Call[Page[Chat]]:
    archived_param = "any" if archived is None else archived
    return _Call("GET", "/v1/chats", Page[Chat], params={
        "limit": limit, "cursor": cursor, "project_id": project_id, "archived": archived_param,
        "pinned": pinned, "user_id": user_id})


def _post_message(chat_id, role, content, parent_id, content_json, agent, intent, usage, latency_ms,
                  metadata) -> _Call[Message]:
    body = _json_body({
        "role": role, "content": content, "parent_id": parent_id, "content_json": content_json, "agent": agent,
        "intent": intent, "usage": usage, "latency_ms": latency_ms, "metadata": metadata,
    }, keep_none=("parent_id",))
    return _Call("POST", f"/v1/chats/{chat_id}/messages", Message, json=body)


def _list_messages(chat_id, leaf_id, whole_tree, after_sequence, limit) -> _Call[MessagePage]:
    return _Call("GET", f"/v1/chats/{chat_id}/messages", MessagePage, params={
        "leaf_id": leaf_id, "all": whole_tree or None, "after_sequence": after_sequence, "limit": limit})


def _create_artifact(chat_id, type_, title, content_text, content_json, change_summary, message_id,
                     agent) -> _Call[Artifact]:
    return _Call("POST", f"/v1/chats/{chat_id}/artifacts", Artifact, json=_json_body({
        "type": type_, "title": title, "content_text": content_text, "content_json": content_json,
        "change_summary": change_summary, "message_id": message_id, "agent": agent}))


def _add_version(artifact_id, base_version, content_text, content_json, change_summary, message_id,
                 agent) -> _Call[Artifact]:
    return _Call("POST", f"/v1/artifacts/{artifact_id}/versions", Artifact, json=_json_body({
        "base_version": base_version, "content_text": content_text, "content_json": content_json,
        "change_summary": change_summary, "message_id": message_id, "agent": agent}))


def _restore(artifact_id, version) -> _Call[Artifact]:
    return _Call("POST", f"/v1/artifacts/{artifact_id}/restore", Artifact, json={"version": version})


def _diff(artifact_id, from_version, to_version, kind) -> _Call[ArtifactDiff]:
    return _Call("GET", f"/v1/artifacts/{artifact_id}/diff", ArtifactDiff,
                 params={"from": from_version, "to": to_version, "kind": kind})


def _create_share(chat_id, up_to_message_id, expires_at) -> _Call[Share]:
    return _Call("POST", f"/v1/chats/{chat_id}/shares", Share, json=_json_body(
        {"up_to_message_id": up_to_message_id,
         "expires_at": expires_at.isoformat() if hasattr(expires_at, "isoformat") else expires_at}))


def _fork(path: str, message_id) -> _Call[Chat]:
    return _Call("POST", path, Chat, json=_json_body({"message_id": message_id}))


def _upload(content: bytes | BinaryIO, filename: str, category: str, form: Mapping[str, Any]) -> _Call[Attachment]:
    data = {"category": category, **{k: str(v) for k, v in form.items() if v is not None}}
    return _Call("POST", "/v1/attachments", Attachment, files={"file": (filename, content)}, data=data)


def _list_analyses(part_number, project_id, attachment_id, limit, cursor) -> _Call[Page[DatasheetAnalysis]]:
    return _Call("GET", "/v1/datasheet-analyses", Page[DatasheetAnalysis], params={
        "part_number": part_number, "project_id": project_id, "attachment_id": attachment_id, "limit": limit,
        "cursor": cursor})


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


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
            status = 404 if item.get("code") == "not_found" else 400
            raise ERRORS.get(status, OhmError)(status, {"title": item.get("code", "error"),
                                                        "detail": item.get("detail", "")})
        return None

    def delay(self) -> float:
        self.failures += 1
        return RECONNECT_DELAYS[min(self.failures, len(RECONNECT_DELAYS)) - 1]


class OhmClient:
    """Synchronous client. ``token`` is a user JWT or a service-role key; none = anon."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url, headers=_headers(token), timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OhmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: _Call[M]) -> M:
        return call.parse(self._http.request(call.method, call.path, **call.request_kwargs()))

    def health(self) -> dict[str, Any]:
        return self._send(_Call("GET", "/healthz", dict[str, Any]))

    def events(self, chat_id: uuid.UUID | str, *, since: int | None = None) -> Iterator[RealtimeEvent]:
        """A chat's events as they commit (Server-Sent Events), for as long as you iterate.

        Starts after ``since`` (default: now). A dropped connection, a restarted server or a
        stream that fell too far behind is resumed from the last cursor, so nothing is missed
        or repeated; a ``reset`` item means older events are no longer kept (reload the chat).
        Ends after ``chat.deleted``; raises NotFoundError if the chat is not yours to watch.
        """
        stream = _EventStream(chat_id, since)
        while True:
            try:
                with connect_sse(self._http, **stream.request(self._http.timeout)) as source:
                    if source.response.is_error:
                        source.response.read()
                    stream.opened(source.response)
                    for sse in source.iter_sse():
                        event = stream.frame(sse.data)
                        if event is not None:
                            yield event
                            if event.kind == "chat.deleted":
                                return
                # the server closed the stream (a restart, say): resume after a pause
            except _Resume:
                continue
            except httpx.TransportError:
                pass
            time.sleep(stream.delay())

    def create_chat(self, title: str | None = None, project_id: uuid.UUID | None = None, *,
                    phase: ChatPhase | None = None, is_public: bool | None = None,
                    user_id: uuid.UUID | None = None) -> Chat:
        return self._send(_create_chat(title, project_id, phase, is_public, user_id))

    def list_chats(self, *, limit: int = 50, cursor: str | None = None, project_id: uuid.UUID | None = None,
                   archived: bool | None = False, pinned: bool | None = None,
                   user_id: uuid.UUID | None = None) -> Page[Chat]:
        return self._send(_list_chats(limit, cursor, project_id, archived, pinned, user_id))

    def iter_chats(self, **filters: Any) -> Iterator[Chat]:
        """Every chat, page after page."""
        cursor = None
        while True:
            page = self.list_chats(cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get_chat(self, chat_id: uuid.UUID | str) -> ChatDetail:
        """The chat with its whole active branch (the pages after the first are fetched too)."""
        chat = self._send(_Call("GET", f"/v1/chats/{chat_id}", ChatDetail))
        while chat.next_after_sequence is not None:
            page = self._send(_list_messages(chat_id, None, False, chat.next_after_sequence, None))
            chat.messages.extend(page.items)
            chat.next_after_sequence = page.next_after_sequence
        return chat

    def update_chat(self, chat_id: uuid.UUID | str, **changes: Any) -> Chat:
        return self._send(_update_chat(chat_id, changes))

    def delete_chat(self, chat_id: uuid.UUID | str) -> None:
        self._send(_Call("DELETE", f"/v1/chats/{chat_id}"))

    def post_message(self, chat_id: uuid.UUID | str, role: MessageRole, content: str = "", *,
                     parent_id: uuid.UUID | None = NOT_GIVEN, content_json: Any = None,
                     agent: AgentInfo | Mapping[str, Any] | None = None, intent: Intent | None = None,
                     usage: Usage | Mapping[str, Any] | None = None, latency_ms: int | None = None,
                     metadata: Mapping[str, Any] | None = None) -> Message:
        return self._send(_post_message(chat_id, role, content, parent_id, content_json, agent, intent, usage,
                                        latency_ms, metadata))

    def list_messages(self, chat_id: uuid.UUID | str, *, leaf_id: uuid.UUID | None = None,
                      whole_tree: bool = False, after_sequence: int = 0, limit: int = 100) -> MessagePage:
        return self._send(_list_messages(chat_id, leaf_id, whole_tree, after_sequence, limit))

    def get_message(self, message_id: uuid.UUID | str) -> MessageDetail:
        return self._send(_Call("GET", f"/v1/messages/{message_id}", MessageDetail))

    # artifacts

    def create_artifact(self, chat_id: uuid.UUID | str, type: ArtifactType, title: str, *,
                        content_text: str | None = None, content_json: Any = None, change_summary: str | None = None,
                        message_id: uuid.UUID | None = None,
                        agent: AgentInfo | Mapping[str, Any] | None = None) -> Artifact:
        return self._send(_create_artifact(chat_id, type, title, content_text, content_json, change_summary,
                                           message_id, agent))

    def get_artifact(self, artifact_id: uuid.UUID | str) -> Artifact:
        return self._send(_Call("GET", f"/v1/artifacts/{artifact_id}", Artifact))

    def delete_artifact(self, artifact_id: uuid.UUID | str) -> None:
        self._send(_Call("DELETE", f"/v1/artifacts/{artifact_id}"))

    def add_version(self, artifact_id: uuid.UUID | str, base_version: int, *, content_text: str | None = None,
                    content_json: Any = None, change_summary: str | None = None, message_id: uuid.UUID | None = None,
                    agent: AgentInfo | Mapping[str, Any] | None = None) -> Artifact:
        return self._send(_add_version(artifact_id, base_version, content_text, content_json, change_summary,
                                       message_id, agent))

    def list_versions(self, artifact_id: uuid.UUID | str) -> list[VersionSummary]:
        return self._send(_Call("GET", f"/v1/artifacts/{artifact_id}/versions", list[VersionSummary]))

    def get_version(self, artifact_id: uuid.UUID | str, version: int) -> ArtifactVersion:
        return self._send(_Call("GET", f"/v1/artifacts/{artifact_id}/versions/{version}", ArtifactVersion))

    def restore_version(self, artifact_id: uuid.UUID | str, version: int) -> Artifact:
        return self._send(_restore(artifact_id, version))

    def diff(self, artifact_id: uuid.UUID | str, from_version: int, to_version: int,
             kind: str | None = None) -> ArtifactDiff:
        return self._send(_diff(artifact_id, from_version, to_version, kind))

    # shares and forks

    def create_share(self, chat_id: uuid.UUID | str, *, up_to_message_id: uuid.UUID | None = None,
                     expires_at: Any = None) -> Share:
        return self._send(_create_share(chat_id, up_to_message_id, expires_at))

    def list_shares(self, chat_id: uuid.UUID | str) -> list[Share]:
        return self._send(_Call("GET", f"/v1/chats/{chat_id}/shares", list[Share]))

    def read_share(self, token: str) -> ShareSnapshot:
        return self._send(_Call("GET", f"/v1/shares/{token}", ShareSnapshot))

    def revoke_share(self, token: str) -> Share:
        return self._send(_Call("DELETE", f"/v1/shares/{token}", Share))

    def fork_chat(self, chat_id: uuid.UUID | str, message_id: uuid.UUID | None = None) -> Chat:
        return self._send(_fork(f"/v1/chats/{chat_id}/fork", message_id))

    def fork_share(self, token: str, message_id: uuid.UUID | None = None) -> Chat:
        return self._send(_fork(f"/v1/shares/{token}/fork", message_id))

    def lineage(self, chat_id: uuid.UUID | str) -> Lineage:
        return self._send(_Call("GET", f"/v1/chats/{chat_id}/lineage", Lineage))

    # files and analyses

    def upload(self, content: bytes | BinaryIO, filename: str, *, category: AttachmentCategory = "other",
               chat_id: uuid.UUID | None = None, message_id: uuid.UUID | None = None,
               project_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None) -> Attachment:
        return self._send(_upload(content, filename, category, {"chat_id": chat_id, "message_id": message_id,
                                                                "project_id": project_id, "user_id": user_id}))

    def get_attachment(self, attachment_id: uuid.UUID | str) -> Attachment:
        return self._send(_Call("GET", f"/v1/attachments/{attachment_id}", Attachment))

    def download(self, attachment_id: uuid.UUID | str) -> bytes:
        return self._send(_Call("GET", f"/v1/attachments/{attachment_id}/content", raw=True))

    def set_processing_status(self, attachment_id: uuid.UUID | str, status: str,
                              error: str | None = None) -> Attachment:
        return self._send(_Call("PATCH", f"/v1/attachments/{attachment_id}", Attachment,
                                json=_json_body({"processing_status": status, "processing_error": error})))

    def signed_url(self, attachment_id: uuid.UUID | str, ttl: int = 900) -> SignedUrl:
        return self._send(_Call("GET", f"/v1/attachments/{attachment_id}/signed-url", SignedUrl,
                                params={"ttl": ttl}))

    def delete_attachment(self, attachment_id: uuid.UUID | str) -> None:
        self._send(_Call("DELETE", f"/v1/attachments/{attachment_id}"))

    def add_verification(self, project_id: uuid.UUID | str, verification: VerificationCreate | Mapping[str, Any]
                         ) -> Verification:
        return self._send(_Call("POST", f"/v1/projects/{project_id}/verifications", Verification,
                                json=VerificationCreate.model_validate(verification).model_dump(
                                    mode="json", exclude_none=True)))

    def list_verifications(self, project_id: uuid.UUID | str, *, limit: int = 50,
                           cursor: str | None = None) -> Page[Verification]:
        return self._send(_Call("GET", f"/v1/projects/{project_id}/verifications", Page[Verification],
                                params={"limit": limit, "cursor": cursor}))

    def add_datasheet_analysis(self, analysis: DatasheetAnalysisCreate | Mapping[str, Any]) -> DatasheetAnalysis:
        return self._send(_Call("POST", "/v1/datasheet-analyses", DatasheetAnalysis,
                                json=DatasheetAnalysisCreate.model_validate(analysis).model_dump(
                                    mode="json", exclude_none=True)))

    def list_datasheet_analyses(self, *, part_number: str | None = None, project_id: uuid.UUID | None = None,
                                attachment_id: uuid.UUID | None = None, limit: int = 50,
                                cursor: str | None = None) -> Page[DatasheetAnalysis]:
        return self._send(_list_analyses(part_number, project_id, attachment_id, limit, cursor))

    # projects

    def create_project(self, name: str, **fields: Any) -> Project:
        body = ProjectCreate.model_validate({"name": name, **fields}).model_dump(mode="json", exclude_unset=True)
        return self._send(_Call("POST", "/v1/projects", Project, json=body))

    def list_projects(self, *, limit: int = 50, cursor: str | None = None, status: str | None = None) -> Page[Project]:
        return self._send(_Call("GET", "/v1/projects", Page[Project],
                                params={"limit": limit, "cursor": cursor, "status": status}))

    def get_project(self, project_id: uuid.UUID | str) -> ProjectDetail:
        return self._send(_Call("GET", f"/v1/projects/{project_id}", ProjectDetail))

    def update_project(self, project_id: uuid.UUID | str, **changes: Any) -> Project:
        body = ProjectUpdate.model_validate(changes).model_dump(mode="json", exclude_unset=True)
        return self._send(_Call("PATCH", f"/v1/projects/{project_id}", Project, json=body))

    def delete_project(self, project_id: uuid.UUID | str) -> None:
        self._send(_Call("DELETE", f"/v1/projects/{project_id}"))

    def bom(self, project_id: uuid.UUID | str, version: int | None = None) -> BomView:
        return self._send(_Call("GET", f"/v1/projects/{project_id}/bom", BomView, params={"version": version}))

    def wiring(self, project_id: uuid.UUID | str, version: int | None = None) -> WiringView:
        return self._send(_Call("GET", f"/v1/projects/{project_id}/wiring", WiringView, params={"version": version}))

    def code(self, project_id: uuid.UUID | str, version: int | None = None) -> CodeView:
        return self._send(_Call("GET", f"/v1/projects/{project_id}/code", CodeView, params={"version": version}))

    def checks(self, project_id: uuid.UUID | str) -> Checks:
        return self._send(_Call("GET", f"/v1/projects/{project_id}/checks", Checks))

    def export(self, project_id: uuid.UUID | str, what: str, **params: Any) -> bytes:
        """`bom.csv` (format=jlcpcb|generic), `wiring.yaml`, `wiring.svg` or `firmware.zip` (unit=), as bytes."""
        return self._send(_Call("GET", f"/v1/projects/{project_id}/{what}", params=params, raw=True))

    def search_parts(self, *, q: str | None = None, voltage: float | None = None,
                     project_id: uuid.UUID | None = None, limit: int = 100) -> list[PartHit]:
        return self._send(_Call("GET", "/v1/parts", list[PartHit],
                                params={"q": q, "voltage": voltage, "project_id": project_id, "limit": limit}))


class AsyncOhmClient:
    """Asynchronous client with the same methods as :class:`OhmClient`."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, headers=_headers(token), timeout=timeout,
                                       transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncOhmClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: _Call[M]) -> M:
        return call.parse(await self._http.request(call.method, call.path, **call.request_kwargs()))

    async def health(self) -> dict[str, Any]:
        return await self._send(_Call("GET", "/healthz", dict[str, Any]))

    async def events(self, chat_id: uuid.UUID | str, *, since: int | None = None) -> AsyncIterator[RealtimeEvent]:
        """The same as :meth:`OhmClient.events`, as an async iterator."""
        stream = _EventStream(chat_id, since)
        while True:
            try:
                async with aconnect_sse(self._http, **stream.request(self._http.timeout)) as source:
                    if source.response.is_error:
                        await source.response.aread()
                    stream.opened(source.response)
                    async for sse in source.aiter_sse():
                        event = stream.frame(sse.data)
                        if event is not None:
                            yield event
                            if event.kind == "chat.deleted":
                                return
            except _Resume:
                continue
            except httpx.TransportError:
                pass
            await asyncio.sleep(stream.delay())

    async def create_chat(self, title: str | None = None, project_id: uuid.UUID | None = None, *,
                          phase: ChatPhase | None = None, is_public: bool | None = None,
                          user_id: uuid.UUID | None = None) -> Chat:
        return await self._send(_create_chat(title, project_id, phase, is_public, user_id))

    async def list_chats(self, *, limit: int = 50, cursor: str | None = None,
                         project_id: uuid.UUID | None = None, archived: bool | None = False,
                         pinned: bool | None = None, user_id: uuid.UUID | None = None) -> Page[Chat]:
        return await self._send(_list_chats(limit, cursor, project_id, archived, pinned, user_id))

    async def iter_chats(self, **filters: Any) -> AsyncIterator[Chat]:
        cursor = None
        while True:
            page = await self.list_chats(cursor=cursor, **filters)
            for chat in page.items:
                yield chat
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get_chat(self, chat_id: uuid.UUID | str) -> ChatDetail:
        """The chat with its whole active branch (the pages after the first are fetched too)."""
        chat = await self._send(_Call("GET", f"/v1/chats/{chat_id}", ChatDetail))
        while chat.next_after_sequence is not None:
            page = await self._send(_list_messages(chat_id, None, False, chat.next_after_sequence, None))
            chat.messages.extend(page.items)
            chat.next_after_sequence = page.next_after_sequence
        return chat

    async def update_chat(self, chat_id: uuid.UUID | str, **changes: Any) -> Chat:
        return await self._send(_update_chat(chat_id, changes))

    async def delete_chat(self, chat_id: uuid.UUID | str) -> None:
        await self._send(_Call("DELETE", f"/v1/chats/{chat_id}"))

    async def post_message(self, chat_id: uuid.UUID | str, role: MessageRole, content: str = "", *,
                           parent_id: uuid.UUID | None = NOT_GIVEN, content_json: Any = None,
                           agent: AgentInfo | Mapping[str, Any] | None = None, intent: Intent | None = None,
                           usage: Usage | Mapping[str, Any] | None = None, latency_ms: int | None = None,
                           metadata: Mapping[str, Any] | None = None) -> Message:
        return await self._send(_post_message(chat_id, role, content, parent_id, content_json, agent, intent,
                                              usage, latency_ms, metadata))

    async def list_messages(self, chat_id: uuid.UUID | str, *, leaf_id: uuid.UUID | None = None,
                            whole_tree: bool = False, after_sequence: int = 0, limit: int = 100) -> MessagePage:
        return await self._send(_list_messages(chat_id, leaf_id, whole_tree, after_sequence, limit))

    async def get_message(self, message_id: uuid.UUID | str) -> MessageDetail:
        return await self._send(_Call("GET", f"/v1/messages/{message_id}", MessageDetail))

    # artifacts

    async def create_artifact(self, chat_id: uuid.UUID | str, type: ArtifactType, title: str, *,
                        content_text: str | None = None, content_json: Any = None, change_summary: str | None = None,
                        message_id: uuid.UUID | None = None,
                        agent: AgentInfo | Mapping[str, Any] | None = None) -> Artifact:
        return await self._send(_create_artifact(chat_id, type, title, content_text, content_json, change_summary,
                                           message_id, agent))

    async def get_artifact(self, artifact_id: uuid.UUID | str) -> Artifact:
        return await self._send(_Call("GET", f"/v1/artifacts/{artifact_id}", Artifact))

    async def delete_artifact(self, artifact_id: uuid.UUID | str) -> None:
        await self._send(_Call("DELETE", f"/v1/artifacts/{artifact_id}"))

    async def add_version(self, artifact_id: uuid.UUID | str, base_version: int, *, content_text: str | None = None,
                    content_json: Any = None, change_summary: str | None = None, message_id: uuid.UUID | None = None,
                    agent: AgentInfo | Mapping[str, Any] | None = None) -> Artifact:
        return await self._send(_add_version(artifact_id, base_version, content_text, content_json, change_summary,
                                       message_id, agent))

    async def list_versions(self, artifact_id: uuid.UUID | str) -> list[VersionSummary]:
        return await self._send(_Call("GET", f"/v1/artifacts/{artifact_id}/versions", list[VersionSummary]))

    async def get_version(self, artifact_id: uuid.UUID | str, version: int) -> ArtifactVersion:
        return await self._send(_Call("GET", f"/v1/artifacts/{artifact_id}/versions/{version}", ArtifactVersion))

    async def restore_version(self, artifact_id: uuid.UUID | str, version: int) -> Artifact:
        return await self._send(_restore(artifact_id, version))

    async def diff(self, artifact_id: uuid.UUID | str, from_version: int, to_version: int,
             kind: str | None = None) -> ArtifactDiff:
        return await self._send(_diff(artifact_id, from_version, to_version, kind))

    # shares and forks

    async def create_share(self, chat_id: uuid.UUID | str, *, up_to_message_id: uuid.UUID | None = None,
                     expires_at: Any = None) -> Share:
        return await self._send(_create_share(chat_id, up_to_message_id, expires_at))

    async def list_shares(self, chat_id: uuid.UUID | str) -> list[Share]:
        return await self._send(_Call("GET", f"/v1/chats/{chat_id}/shares", list[Share]))

    async def read_share(self, token: str) -> ShareSnapshot:
        return await self._send(_Call("GET", f"/v1/shares/{token}", ShareSnapshot))

    async def revoke_share(self, token: str) -> Share:
        return await self._send(_Call("DELETE", f"/v1/shares/{token}", Share))

    async def fork_chat(self, chat_id: uuid.UUID | str, message_id: uuid.UUID | None = None) -> Chat:
        return await self._send(_fork(f"/v1/chats/{chat_id}/fork", message_id))

    async def fork_share(self, token: str, message_id: uuid.UUID | None = None) -> Chat:
        return await self._send(_fork(f"/v1/shares/{token}/fork", message_id))

    async def lineage(self, chat_id: uuid.UUID | str) -> Lineage:
        return await self._send(_Call("GET", f"/v1/chats/{chat_id}/lineage", Lineage))

    # files and analyses

    async def upload(self, content: bytes | BinaryIO, filename: str, *, category: AttachmentCategory = "other",
               chat_id: uuid.UUID | None = None, message_id: uuid.UUID | None = None,
               project_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None) -> Attachment:
        return await self._send(_upload(content, filename, category, {"chat_id": chat_id, "message_id": message_id,
                                                                "project_id": project_id, "user_id": user_id}))

    async def get_attachment(self, attachment_id: uuid.UUID | str) -> Attachment:
        return await self._send(_Call("GET", f"/v1/attachments/{attachment_id}", Attachment))

    async def download(self, attachment_id: uuid.UUID | str) -> bytes:
        return await self._send(_Call("GET", f"/v1/attachments/{attachment_id}/content", raw=True))

    async def set_processing_status(self, attachment_id: uuid.UUID | str, status: str,
                              error: str | None = None) -> Attachment:
        return await self._send(_Call("PATCH", f"/v1/attachments/{attachment_id}", Attachment,
                                json=_json_body({"processing_status": status, "processing_error": error})))

    async def signed_url(self, attachment_id: uuid.UUID | str, ttl: int = 900) -> SignedUrl:
        return await self._send(_Call("GET", f"/v1/attachments/{attachment_id}/signed-url", SignedUrl,
                                      params={"ttl": ttl}))

    async def delete_attachment(self, attachment_id: uuid.UUID | str) -> None:
        await self._send(_Call("DELETE", f"/v1/attachments/{attachment_id}"))

    async def add_verification(self, project_id: uuid.UUID | str, verification: VerificationCreate | Mapping[str, Any]
                         ) -> Verification:
        return await self._send(_Call("POST", f"/v1/projects/{project_id}/verifications", Verification,
                                json=VerificationCreate.model_validate(verification).model_dump(
                                    mode="json", exclude_none=True)))

    async def list_verifications(self, project_id: uuid.UUID | str, *, limit: int = 50,
                           cursor: str | None = None) -> Page[Verification]:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/verifications", Page[Verification],
                                params={"limit": limit, "cursor": cursor}))

    async def add_datasheet_analysis(self, analysis: DatasheetAnalysisCreate | Mapping[str, Any]) -> DatasheetAnalysis:
        return await self._send(_Call("POST", "/v1/datasheet-analyses", DatasheetAnalysis,
                                json=DatasheetAnalysisCreate.model_validate(analysis).model_dump(
                                    mode="json", exclude_none=True)))

    async def list_datasheet_analyses(self, *, part_number: str | None = None, project_id: uuid.UUID | None = None,
                                attachment_id: uuid.UUID | None = None, limit: int = 50,
                                cursor: str | None = None) -> Page[DatasheetAnalysis]:
        return await self._send(_list_analyses(part_number, project_id, attachment_id, limit, cursor))

    # projects

    async def create_project(self, name: str, **fields: Any) -> Project:
        body = ProjectCreate.model_validate({"name": name, **fields}).model_dump(mode="json", exclude_unset=True)
        return await self._send(_Call("POST", "/v1/projects", Project, json=body))

    async def list_projects(self, *, limit: int = 50, cursor: str | None = None,
                            status: str | None = None) -> Page[Project]:
        return await self._send(_Call("GET", "/v1/projects", Page[Project],
                                params={"limit": limit, "cursor": cursor, "status": status}))

    async def get_project(self, project_id: uuid.UUID | str) -> ProjectDetail:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}", ProjectDetail))

    async def update_project(self, project_id: uuid.UUID | str, **changes: Any) -> Project:
        body = ProjectUpdate.model_validate(changes).model_dump(mode="json", exclude_unset=True)
        return await self._send(_Call("PATCH", f"/v1/projects/{project_id}", Project, json=body))

    async def delete_project(self, project_id: uuid.UUID | str) -> None:
        await self._send(_Call("DELETE", f"/v1/projects/{project_id}"))

    async def bom(self, project_id: uuid.UUID | str, version: int | None = None) -> BomView:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/bom", BomView, params={"version": version}))

    async def wiring(self, project_id: uuid.UUID | str, version: int | None = None) -> WiringView:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/wiring", WiringView,
                                      params={"version": version}))

    async def code(self, project_id: uuid.UUID | str, version: int | None = None) -> CodeView:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/code", CodeView, params={"version": version}))

    async def checks(self, project_id: uuid.UUID | str) -> Checks:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/checks", Checks))

    async def export(self, project_id: uuid.UUID | str, what: str, **params: Any) -> bytes:
        """`bom.csv` (format=jlcpcb|generic), `wiring.yaml`, `wiring.svg` or `firmware.zip` (unit=), as bytes."""
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/{what}", params=params, raw=True))

    async def search_parts(self, *, q: str | None = None, voltage: float | None = None,
                     project_id: uuid.UUID | None = None, limit: int = 100) -> list[PartHit]:
        return await self._send(_Call("GET", "/v1/parts", list[PartHit],
                                params={"q": q, "voltage": voltage, "project_id": project_id, "limit": limit}))
