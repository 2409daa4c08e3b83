"""The client, written once: this async one is the source, and ``_sync/client.py`` is generated from it
(``python scripts/make_sync_client.py``; a test fails when the two differ)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, BinaryIO

import httpx
from httpx_sse import aconnect_sse

from ohm.client._base import (
    NOT_GIVEN,
    M,
    _add_version,
    _Call,
    _carry_lsn,
    _create_artifact,
    _create_chat,
    _create_share,
    _diff,
    _EventStream,
    _fork,
    _headers,
    _json_body,
    _list_analyses,
    _list_chats,
    _list_messages,
    _post_message,
    _restore,
    _Resume,
    _sleep_async,
    _update_chat,
    _upload,
    _when,
    route,
)
from ohm.models import (
    AccountDeleted,
    ActivityPage,
    AgentInfo,
    ApiKey,
    ApiKeyCreated,
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
    Health,
    ImportJob,
    Intent,
    Lineage,
    Me,
    MessageCreated,
    MessageDetail,
    MessagePage,
    MessageRole,
    ModelPrice,
    Page,
    PartHit,
    Project,
    ProjectCreate,
    ProjectDetail,
    ProjectUpdate,
    RealtimeEvent,
    SearchPage,
    Share,
    ShareSnapshot,
    SignedUrl,
    Usage,
    UsageReport,
    Verification,
    VerificationCreate,
    VersionSummary,
    WiringView,
)


class AsyncOhmClient:
    """A client of OHM's API. ``token`` is a user JWT, an API key (``ohm_sk_...``) or a service-role key;
    none = anon.

    Every method returns the pydantic model the server sends (``ohm.models``) and raises an
    :class:`~ohm.client.OhmError` subclass, carrying the problem+json body, for an error answer."""

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
        response = await self._http.request(call.method, call.path, **call.request_kwargs())
        _carry_lsn(self._http.headers, response)
        return call.parse(response)

    @route("GET", "/healthz")
    async def health(self) -> Health:
        return await self._send(_Call("GET", "/healthz", Health))

    @route("GET", "/v1/chats/{chat_id}/events")
    async def events(self, chat_id: uuid.UUID | str, *, since: int | None = None) -> AsyncIterator[RealtimeEvent]:
        """A chat's events as they commit (Server-Sent Events), for as long as you iterate.

        Starts after ``since`` (default: now). A dropped connection, a restarted server or a
        stream that fell too far behind is resumed from the last cursor, so nothing is missed
        or repeated; a ``reset`` item means older events are no longer kept (reload the chat).
        Ends after ``chat.deleted``; raises NotFoundError if the chat is not yours to watch, and
        UnauthorizedError when the token expires (start again with a fresh one and ``since``).
        """
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
                # the server closed the stream (a restart, say): resume after a pause
            except _Resume:
                continue
            except httpx.TransportError:
                pass
            await _sleep_async(stream.delay())

    @route("POST", "/v1/chats")
    async def create_chat(self, title: str | None = None, project_id: uuid.UUID | None = None, *,
                          phase: ChatPhase | None = None, is_public: bool | None = None,
                          user_id: uuid.UUID | None = None) -> Chat:
        return await self._send(_create_chat(title, project_id, phase, is_public, user_id))

    @route("GET", "/v1/chats")
    async def list_chats(self, *, limit: int = 50, cursor: str | None = None,
                         project_id: uuid.UUID | None = None, archived: bool | None = False,
                         pinned: bool | None = None, user_id: uuid.UUID | None = None) -> Page[Chat]:
        return await self._send(_list_chats(limit, cursor, project_id, archived, pinned, user_id))

    async def iter_chats(self, **filters: Any) -> AsyncIterator[Chat]:
        """Every chat, page after page."""
        cursor = None
        while True:
            page = await self.list_chats(cursor=cursor, **filters)
            for chat in page.items:
                yield chat
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    @route("GET", "/v1/chats/{chat_id}")
    async def get_chat(self, chat_id: uuid.UUID | str) -> ChatDetail:
        """The chat with its whole active branch (the pages after the first are fetched too)."""
        chat: ChatDetail = await self._send(_Call("GET", f"/v1/chats/{chat_id}", ChatDetail))
        while chat.next_after_sequence is not None:
            page = await self._send(_list_messages(chat_id, None, False, chat.next_after_sequence, None))
            chat.messages.extend(page.items)
            chat.next_after_sequence = page.next_after_sequence
        return chat

    @route("PATCH", "/v1/chats/{chat_id}")
    async def update_chat(self, chat_id: uuid.UUID | str, **changes: Any) -> Chat:
        return await self._send(_update_chat(chat_id, changes))

    @route("DELETE", "/v1/chats/{chat_id}")
    async def delete_chat(self, chat_id: uuid.UUID | str) -> None:
        await self._send(_Call("DELETE", f"/v1/chats/{chat_id}"))

    @route("POST", "/v1/chats/{chat_id}/messages")
    async def post_message(self, chat_id: uuid.UUID | str, role: MessageRole, content: str = "", *,
                           parent_id: uuid.UUID | None = NOT_GIVEN, content_json: Any = None,
                           agent: AgentInfo | Mapping[str, Any] | None = None, intent: Intent | None = None,
                           usage: Usage | Mapping[str, Any] | None = None, latency_ms: int | None = None,
                           metadata: Mapping[str, Any] | None = None) -> MessageCreated:
        """The stored message, with ``warnings`` (e.g. no price is known for the model: cost_usd is null)."""
        return await self._send(_post_message(chat_id, role, content, parent_id, content_json, agent, intent,
                                              usage, latency_ms, metadata))

    @route("GET", "/v1/chats/{chat_id}/messages")
    async def list_messages(self, chat_id: uuid.UUID | str, *, leaf_id: uuid.UUID | None = None,
                            whole_tree: bool = False, after_sequence: int = 0, limit: int = 100) -> MessagePage:
        return await self._send(_list_messages(chat_id, leaf_id, whole_tree, after_sequence, limit))

    @route("GET", "/v1/messages/{message_id}")
    async def get_message(self, message_id: uuid.UUID | str) -> MessageDetail:
        return await self._send(_Call("GET", f"/v1/messages/{message_id}", MessageDetail))

    @route("DELETE", "/v1/messages/{message_id}")
    async def delete_message(self, message_id: uuid.UUID | str) -> None:
        """Delete a message with every reply below it (the owner only)."""
        await self._send(_Call("DELETE", f"/v1/messages/{message_id}"))

    # artifacts

    @route("POST", "/v1/chats/{chat_id}/artifacts")
    async def create_artifact(self, chat_id: uuid.UUID | str, type: ArtifactType, title: str, *,
                        content_text: str | None = None, content_json: Any = None, change_summary: str | None = None,
                        message_id: uuid.UUID | None = None,
                        agent: AgentInfo | Mapping[str, Any] | None = None) -> Artifact:
        return await self._send(_create_artifact(chat_id, type, title, content_text, content_json, change_summary,
                                           message_id, agent))

    @route("GET", "/v1/artifacts/{artifact_id}")
    async def get_artifact(self, artifact_id: uuid.UUID | str) -> Artifact:
        return await self._send(_Call("GET", f"/v1/artifacts/{artifact_id}", Artifact))

    @route("DELETE", "/v1/artifacts/{artifact_id}")
    async def delete_artifact(self, artifact_id: uuid.UUID | str) -> None:
        await self._send(_Call("DELETE", f"/v1/artifacts/{artifact_id}"))

    @route("POST", "/v1/artifacts/{artifact_id}/versions")
    async def add_version(self, artifact_id: uuid.UUID | str, base_version: int, *, content_text: str | None = None,
                    content_json: Any = None, change_summary: str | None = None, message_id: uuid.UUID | None = None,
                    agent: AgentInfo | Mapping[str, Any] | None = None) -> Artifact:
        return await self._send(_add_version(artifact_id, base_version, content_text, content_json, change_summary,
                                       message_id, agent))

    @route("GET", "/v1/artifacts/{artifact_id}/versions")
    async def list_versions(self, artifact_id: uuid.UUID | str) -> list[VersionSummary]:
        return await self._send(_Call("GET", f"/v1/artifacts/{artifact_id}/versions", list[VersionSummary]))

    @route("GET", "/v1/artifacts/{artifact_id}/versions/{version}")
    async def get_version(self, artifact_id: uuid.UUID | str, version: int) -> ArtifactVersion:
        return await self._send(_Call("GET", f"/v1/artifacts/{artifact_id}/versions/{version}", ArtifactVersion))

    @route("POST", "/v1/artifacts/{artifact_id}/restore")
    async def restore_version(self, artifact_id: uuid.UUID | str, version: int) -> Artifact:
        return await self._send(_restore(artifact_id, version))

    @route("GET", "/v1/artifacts/{artifact_id}/diff")
    async def diff(self, artifact_id: uuid.UUID | str, from_version: int, to_version: int,
             kind: str | None = None) -> ArtifactDiff:
        return await self._send(_diff(artifact_id, from_version, to_version, kind))

    # shares and forks

    @route("POST", "/v1/chats/{chat_id}/shares")
    async def create_share(self, chat_id: uuid.UUID | str, *, up_to_message_id: uuid.UUID | None = None,
                     expires_at: Any = None) -> Share:
        return await self._send(_create_share(chat_id, up_to_message_id, expires_at))

    @route("GET", "/v1/chats/{chat_id}/shares")
    async def list_shares(self, chat_id: uuid.UUID | str) -> list[Share]:
        return await self._send(_Call("GET", f"/v1/chats/{chat_id}/shares", list[Share]))

    @route("GET", "/v1/shares/{token}")
    async def read_share(self, token: str) -> ShareSnapshot:
        return await self._send(_Call("GET", f"/v1/shares/{token}", ShareSnapshot))

    @route("DELETE", "/v1/shares/{token}")
    async def revoke_share(self, token: str) -> Share:
        return await self._send(_Call("DELETE", f"/v1/shares/{token}", Share))

    @route("POST", "/v1/chats/{chat_id}/fork")
    async def fork_chat(self, chat_id: uuid.UUID | str, message_id: uuid.UUID | None = None) -> Chat:
        return await self._send(_fork(f"/v1/chats/{chat_id}/fork", message_id))

    @route("POST", "/v1/shares/{token}/fork")
    async def fork_share(self, token: str, message_id: uuid.UUID | None = None) -> Chat:
        return await self._send(_fork(f"/v1/shares/{token}/fork", message_id))

    @route("GET", "/v1/chats/{chat_id}/lineage")
    async def lineage(self, chat_id: uuid.UUID | str) -> Lineage:
        return await self._send(_Call("GET", f"/v1/chats/{chat_id}/lineage", Lineage))

    # files and analyses

    @route("POST", "/v1/attachments")
    async def upload(self, content: bytes | BinaryIO, filename: str, *, category: AttachmentCategory = "other",
               chat_id: uuid.UUID | None = None, message_id: uuid.UUID | None = None,
               project_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None) -> Attachment:
        return await self._send(_upload(content, filename, category, {"chat_id": chat_id, "message_id": message_id,
                                                                "project_id": project_id, "user_id": user_id}))

    @route("GET", "/v1/attachments/{attachment_id}")
    async def get_attachment(self, attachment_id: uuid.UUID | str) -> Attachment:
        return await self._send(_Call("GET", f"/v1/attachments/{attachment_id}", Attachment))

    @route("GET", "/v1/attachments/{attachment_id}/content")
    async def download(self, attachment_id: uuid.UUID | str) -> bytes:
        return await self._send(_Call("GET", f"/v1/attachments/{attachment_id}/content", raw=True))

    @route("GET", "/v1/attachments/{attachment_id}/blob")
    async def download_signed(self, url: str) -> bytes:
        """The bytes behind a signed link (``signed_url().url``, or a share's): no token needed."""
        path, _, query = url.partition("?")
        params = dict(item.split("=", 1) for item in query.split("&") if "=" in item)
        return await self._send(_Call("GET", path, params=params, raw=True))

    @route("PATCH", "/v1/attachments/{attachment_id}")
    async def set_processing_status(self, attachment_id: uuid.UUID | str, status: str,
                              error: str | None = None) -> Attachment:
        return await self._send(_Call("PATCH", f"/v1/attachments/{attachment_id}", Attachment,
                                json=_json_body({"processing_status": status, "processing_error": error})))

    @route("GET", "/v1/attachments/{attachment_id}/signed-url")
    async def signed_url(self, attachment_id: uuid.UUID | str, ttl: int = 900) -> SignedUrl:
        return await self._send(_Call("GET", f"/v1/attachments/{attachment_id}/signed-url", SignedUrl,
                                      params={"ttl": ttl}))

    @route("DELETE", "/v1/attachments/{attachment_id}")
    async def delete_attachment(self, attachment_id: uuid.UUID | str) -> None:
        await self._send(_Call("DELETE", f"/v1/attachments/{attachment_id}"))

    @route("POST", "/v1/projects/{project_id}/verifications")
    async def add_verification(self, project_id: uuid.UUID | str, verification: VerificationCreate | Mapping[str, Any]
                         ) -> Verification:
        return await self._send(_Call("POST", f"/v1/projects/{project_id}/verifications", Verification,
                                json=VerificationCreate.model_validate(verification).model_dump(
                                    mode="json", exclude_none=True)))

    @route("GET", "/v1/projects/{project_id}/verifications")
    async def list_verifications(self, project_id: uuid.UUID | str, *, limit: int = 50,
                                 cursor: str | None = None) -> Page[Verification]:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/verifications", Page[Verification],
                                      params={"limit": limit, "cursor": cursor}))

    @route("GET", "/v1/verifications/{verification_id}")
    async def get_verification(self, verification_id: uuid.UUID | str) -> Verification:
        return await self._send(_Call("GET", f"/v1/verifications/{verification_id}", Verification))

    @route("POST", "/v1/datasheet-analyses")
    async def add_datasheet_analysis(self, analysis: DatasheetAnalysisCreate | Mapping[str, Any]) -> DatasheetAnalysis:
        return await self._send(_Call("POST", "/v1/datasheet-analyses", DatasheetAnalysis,
                                json=DatasheetAnalysisCreate.model_validate(analysis).model_dump(
                                    mode="json", exclude_none=True)))

    @route("GET", "/v1/datasheet-analyses")
    async def list_datasheet_analyses(self, *, part_number: str | None = None, project_id: uuid.UUID | None = None,
                                attachment_id: uuid.UUID | None = None, limit: int = 50,
                                      cursor: str | None = None) -> Page[DatasheetAnalysis]:
        return await self._send(_list_analyses(part_number, project_id, attachment_id, limit, cursor))

    @route("GET", "/v1/datasheet-analyses/{analysis_id}")
    async def get_datasheet_analysis(self, analysis_id: uuid.UUID | str) -> DatasheetAnalysis:
        return await self._send(_Call("GET", f"/v1/datasheet-analyses/{analysis_id}", DatasheetAnalysis))

    # projects

    @route("POST", "/v1/projects")
    async def create_project(self, name: str, **fields: Any) -> Project:
        body = ProjectCreate.model_validate({"name": name, **fields}).model_dump(mode="json", exclude_unset=True)
        return await self._send(_Call("POST", "/v1/projects", Project, json=body))

    @route("GET", "/v1/projects")
    async def list_projects(self, *, limit: int = 50, cursor: str | None = None,
                            status: str | None = None) -> Page[Project]:
        return await self._send(_Call("GET", "/v1/projects", Page[Project],
                                params={"limit": limit, "cursor": cursor, "status": status}))

    @route("GET", "/v1/projects/{project_id}")
    async def get_project(self, project_id: uuid.UUID | str) -> ProjectDetail:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}", ProjectDetail))

    @route("PATCH", "/v1/projects/{project_id}")
    async def update_project(self, project_id: uuid.UUID | str, **changes: Any) -> Project:
        body = ProjectUpdate.model_validate(changes).model_dump(mode="json", exclude_unset=True)
        return await self._send(_Call("PATCH", f"/v1/projects/{project_id}", Project, json=body))

    @route("DELETE", "/v1/projects/{project_id}")
    async def delete_project(self, project_id: uuid.UUID | str) -> None:
        await self._send(_Call("DELETE", f"/v1/projects/{project_id}"))

    @route("GET", "/v1/projects/{project_id}/bom")
    async def bom(self, project_id: uuid.UUID | str, version: int | None = None) -> BomView:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/bom", BomView, params={"version": version}))

    @route("GET", "/v1/projects/{project_id}/wiring")
    async def wiring(self, project_id: uuid.UUID | str, version: int | None = None) -> WiringView:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/wiring", WiringView,
                                      params={"version": version}))

    @route("GET", "/v1/projects/{project_id}/code")
    async def code(self, project_id: uuid.UUID | str, version: int | None = None) -> CodeView:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/code", CodeView, params={"version": version}))

    @route("GET", "/v1/projects/{project_id}/checks")
    async def checks(self, project_id: uuid.UUID | str) -> Checks:
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/checks", Checks))

    @route("GET", "/v1/projects/{project_id}/bom.csv", "/v1/projects/{project_id}/wiring.yaml",
           "/v1/projects/{project_id}/wiring.svg", "/v1/projects/{project_id}/firmware.zip")
    async def export(self, project_id: uuid.UUID | str, what: str, **params: Any) -> bytes:
        """`bom.csv` (format=jlcpcb|generic), `wiring.yaml`, `wiring.svg` or `firmware.zip` (unit=), as bytes."""
        return await self._send(_Call("GET", f"/v1/projects/{project_id}/{what}", params=params, raw=True))

    @route("GET", "/v1/parts")
    async def search_parts(self, *, q: str | None = None, voltage: float | None = None,
                     project_id: uuid.UUID | None = None, limit: int = 100) -> list[PartHit]:
        return await self._send(_Call("GET", "/v1/parts", list[PartHit],
                                params={"q": q, "voltage": voltage, "project_id": project_id, "limit": limit}))

    # search, usage, prices, activity

    @route("GET", "/v1/search")
    async def search(self, q: str, *, types: list[str] | None = None, project_id: uuid.UUID | None = None,
                     chat_id: uuid.UUID | None = None, agent: str | None = None, intent: Intent | None = None,
                     role: MessageRole | None = None, since: datetime | None = None, until: datetime | None = None,
                     user_id: uuid.UUID | None = None, limit: int = 20, cursor: str | None = None) -> SearchPage:
        """Best matches first (messages, artifacts, parts, chats), with highlighted snippets."""
        return await self._send(_Call("GET", "/v1/search", SearchPage, params={
            "q": q, "type": types, "project_id": project_id, "chat_id": chat_id, "agent": agent, "intent": intent,
            "role": role, "from": _when(since), "to": _when(until), "user_id": user_id, "limit": limit,
            "cursor": cursor}))

    @route("GET", "/v1/analytics/usage")
    async def usage(self, group_by: str = "agent", *, since: datetime | None = None, until: datetime | None = None,
                    chat_id: uuid.UUID | None = None, project_id: uuid.UUID | None = None,
                    role: MessageRole | None = None, user_id: uuid.UUID | None = None) -> UsageReport:
        """Messages, tokens, cost and latency per agent, model, intent, role, day, chat or project."""
        return await self._send(_Call("GET", "/v1/analytics/usage", UsageReport, params={
            "group_by": group_by, "from": _when(since), "to": _when(until), "chat_id": chat_id,
            "project_id": project_id, "role": role, "user_id": user_id}))

    @route("GET", "/v1/prices")
    async def prices(self, *, current: bool = False) -> list[ModelPrice]:
        return await self._send(_Call("GET", "/v1/prices", list[ModelPrice], params={"current": current}))

    @route("GET", "/v1/activity")
    async def activity(self, *, limit: int = 50, cursor: str | None = None, action: str | None = None,
                       entity_type: str | None = None, entity_id: uuid.UUID | None = None,
                       chat_id: uuid.UUID | None = None, project_id: uuid.UUID | None = None,
                       since: datetime | None = None, until: datetime | None = None,
                       user_id: uuid.UUID | None = None) -> ActivityPage:
        """The activity log, newest first (``action`` exact, or a prefix ending in '.')."""
        return await self._send(_Call("GET", "/v1/activity", ActivityPage, params={
            "limit": limit, "cursor": cursor, "action": action, "entity_type": entity_type, "entity_id": entity_id,
            "chat_id": chat_id, "project_id": project_id, "from": _when(since), "to": _when(until),
            "user_id": user_id}))

    # the account and its API keys

    @route("GET", "/v1/me")
    async def me(self) -> Me:
        """Your profile, totals and storage."""
        return await self._send(_Call("GET", "/v1/me", Me))

    @route("PATCH", "/v1/me")
    async def update_me(self, **changes: Any) -> Me:
        """Change ``display_name``, ``avatar_url`` or ``preferences`` (None clears a name or avatar)."""
        return await self._send(_Call("PATCH", "/v1/me", Me, json=_json_body(changes, keep_none=tuple(changes))))

    @route("GET", "/v1/me/export")
    async def export_me(self) -> bytes:
        """Everything you own as a zip (manifest.json, JSON Lines per table, files/<sha256>)."""
        return await self._send(_Call("GET", "/v1/me/export", raw=True))

    @route("DELETE", "/v1/me")
    async def delete_me(self, confirm: str) -> AccountDeleted:
        """Delete your account and everything in it; ``confirm`` is your email address."""
        return await self._send(_Call("DELETE", "/v1/me", AccountDeleted, json={"confirm": confirm}))

    @route("POST", "/v1/keys")
    async def create_key(self, name: str, scopes: list[str], *, chat_id: uuid.UUID | str | None = None,
                         project_id: uuid.UUID | str | None = None, expires_at: datetime | None = None
                         ) -> ApiKeyCreated:
        """A key for an agent; its ``secret`` is in this answer only."""
        return await self._send(_Call("POST", "/v1/keys", ApiKeyCreated, json=_json_body({
            "name": name, "scopes": scopes, "chat_id": chat_id, "project_id": project_id,
            "expires_at": _when(expires_at)})))

    @route("GET", "/v1/keys")
    async def list_keys(self) -> list[ApiKey]:
        return await self._send(_Call("GET", "/v1/keys", list[ApiKey]))

    @route("DELETE", "/v1/keys/{key_id}")
    async def revoke_key(self, key_id: uuid.UUID | str) -> ApiKey:
        return await self._send(_Call("DELETE", f"/v1/keys/{key_id}", ApiKey))

    # imports

    @route("POST", "/v1/imports")
    async def start_import(self, content: bytes | BinaryIO, source: str, *, filename: str = "conversations.json",
                           keep_tool_output: bool = False, user_id: uuid.UUID | str | None = None) -> ImportJob:
        """Send a ChatGPT (.zip or conversations.json) or Claude export; the import runs on the server."""
        data = {"source": source, "keep_tool_output": str(keep_tool_output).lower()}
        if user_id is not None:
            data["user_id"] = str(user_id)
        return await self._send(_Call("POST", "/v1/imports", ImportJob, files={"file": (filename, content)},
                                      data=data))

    @route("GET", "/v1/imports/{import_id}")
    async def get_import(self, import_id: uuid.UUID | str) -> ImportJob:
        return await self._send(_Call("GET", f"/v1/imports/{import_id}", ImportJob))

    @route("GET", "/v1/chats/{chat_id}/export")
    async def export_chat(self, chat_id: uuid.UUID | str, format: str = "md") -> bytes:
        """The chat as a document: ``md`` or ``html`` (the active branch, readable) or ``json`` (every branch)."""
        return await self._send(_Call("GET", f"/v1/chats/{chat_id}/export", None, params={"format": format},
                                      raw=True))
