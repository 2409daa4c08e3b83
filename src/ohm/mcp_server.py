"""OHM as a Model Context Protocol server: tools and resources for agents in MCP hosts.

Two ways in, one set of tools:

- ``ohm mcp`` speaks MCP over stdio (Claude Desktop, Cursor, any MCP host that launches a command).
  Its credential (``OHM_API_KEY`` or ``--api-key``: an OHM API key or a user JWT) is checked once at
  start; it uses the database the other commands use (``OHM_DATABASE_URL`` or the embedded one).
- ``ohm serve`` answers MCP's streamable HTTP at ``/mcp``, the credential in each request's
  ``Authorization`` header, checked like any API request's.

Every tool runs as that identity: row-level security decides what it sees, and an API key is held to
its scopes (the same scope as the HTTP route that does the same thing; ``ohm.api.scopes``) and to its
chat or project.  A refusal is a tool error carrying the problem the API would answer, e.g.
``404 Not found: chat not found`` for another user's chat; never a broken session.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, ValidationError

from ohm import __version__, install_hint

try:
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError, ToolError
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
except ImportError as missing:  # the optional extra
    raise ImportError(f"OHM's MCP server needs the mcp package ({install_hint('mcp')})") from missing
from ohm.auth import Identity, InvalidToken
from ohm.db.session import Database
from ohm.models import (
    AgentInfo,
    ArtifactCreate,
    ArtifactType,
    ArtifactVersionCreate,
    Intent,
    MessageCreate,
    MessageRole,
    Usage,
)
from ohm.store import analytics, artifacts, chats, exports, hardware, messages, search
from ohm.store.errors import StoreError

T = TypeVar("T")

INSTRUCTIONS = """\
OHM stores a maker's hardware conversations: chats (messages in order, with branches), artifacts with
versions (bill of materials, wiring, firmware code, documents) and projects with their parts, pin-to-pin
wiring and code files. Read a chat before adding to it; write each answer with append_message (your
agent name, model, intent and token usage are kept and costed). Artifacts change by new versions:
pass the version you read as base_version; a conflict means someone wrote first: read it again.
"""

# The HTTP route whose scope a tool needs (ohm.api.scopes): one rule for both doors.
TOOL_SCOPES = {
    "list_chats": "chats:read", "read_chat": "chats:read", "append_message": "messages:write",
    "create_artifact": "artifacts:write", "add_artifact_version": "artifacts:write", "read_bom": "projects:read",
    "read_wiring": "projects:read", "read_code": "projects:read", "run_checks": "projects:read",
    "search": "search", "usage": "analytics:read",
}

Verify = Callable[[str], Awaitable[Identity]]


class Access:
    """Who a call acts as: the stdio server's one credential, or each HTTP request's bearer; checked on every
    call (cached), so an expiry or a revocation holds within a session too."""

    def __init__(self, verify: Verify, *, token: str | None = None) -> None:
        self.verify = verify
        self.token = token

    async def identity(self, ctx: Context[Any, Any], tool: str) -> Identity:
        token = self.token
        if token is None:
            scheme, _, token = (ctx.headers or {}).get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ToolError("401 Unauthorized: send 'Authorization: Bearer <token>' (an OHM API key or a "
                                "user's token)")
        try:
            identity = await self.verify(token.strip())
        except InvalidToken as exc:
            raise ToolError(f"401 Unauthorized: {exc}") from None
        if identity.role == "anon":
            raise ToolError("401 Unauthorized: this needs a user's token or an API key")
        scope = TOOL_SCOPES.get(tool)
        if identity.key is not None and (scope is None or not identity.key.allows(scope)):
            raise ToolError(f"403 Forbidden: this API key lacks the scope {scope!r}")
        return identity


def _problem(exc: StoreError) -> ToolError:
    return ToolError(f"{exc.status} {exc.title}: {exc.detail}")


async def _call(work: Awaitable[T]) -> T:
    """A store call with its refusals as tool errors (the API's problem, status first)."""
    try:
        return await work
    except StoreError as exc:
        raise _problem(exc) from None


def _json(body: bytes) -> Any:
    return json.loads(body)


ChatId = Annotated[uuid.UUID, Field(description="The chat's id (a UUID; its URL is /chat/<id>).")]
ProjectId = Annotated[uuid.UUID, Field(description="The project's id.")]


def build(db: Database, access: Access) -> MCPServer:
    """The MCP server: tools and resources over ``db``, acting as ``access`` says."""
    # The SDK sets up the root logger if nothing has: at WARNING, a refused call (a tool error the caller
    # gets) is not logged as if the server had a problem.
    server: MCPServer = MCPServer(name="ohm", title="OHM", version=__version__, instructions=INSTRUCTIONS,
                                  description="Chats, artifacts and hardware projects of a maker's assistant.",
                                  log_level="WARNING")

    async def who(ctx: Context[Any, Any], tool: str) -> Identity:
        return await access.identity(ctx, tool)

    @server.tool(description="List the maker's chats, most recent activity first. Returns items (id, title, "
                             "message_count, last_message_at, project_id) and next_cursor for the next page.")
    async def list_chats(ctx: Context[Any, Any],
                         limit: Annotated[int, Field(ge=1, le=100, description="Chats per page.")] = 20,
                         cursor: Annotated[str | None, Field(description="next_cursor of the previous page.")]
                         = None,
                         project_id: Annotated[uuid.UUID | None, Field(description="Only this project's chats.")]
                         = None) -> dict[str, Any]:
        me = await who(ctx, "list_chats")
        page = await _call(chats.list_chats(db, me, limit=limit, cursor=cursor, project_id=project_id))
        return page.model_dump(mode="json", include={"items": {"__all__": {
            "id", "title", "message_count", "last_message_at", "project_id", "phase"}}, "next_cursor": True})

    @server.tool(description="Read a chat: its title and project, its artifacts (current versions) and a page of "
                             "the active branch's messages in order (role, content, agent, intent, usage). Pass "
                             "after_sequence = the last sequence_number you got for the next page.")
    async def read_chat(ctx: Context[Any, Any], chat_id: ChatId,
                        after_sequence: Annotated[int, Field(ge=0, description="Messages after this number.")] = 0,
                        limit: Annotated[int, Field(ge=1, le=500, description="Messages per page.")] = 100,
                        ) -> dict[str, Any]:
        me = await who(ctx, "read_chat")
        detail = await _call(chats.get_chat(db, me, chat_id, limit=limit))
        document = detail.model_dump(mode="json", exclude={"messages", "next_after_sequence"})
        page = await _call(messages.list_messages(db, me, chat_id, after_sequence=after_sequence, limit=limit))
        document["messages"] = [m.model_dump(mode="json", exclude_none=True) for m in page.items]
        document["next_after_sequence"] = page.next_after_sequence
        return document

    @server.tool(description="Add a message to a chat (it becomes the chat's latest; pass parent_id only to "
                             "branch from an earlier message). Give your agent name and model, the intent and "
                             "the token usage: OHM prices it at the day's model price.")
    async def append_message(
        ctx: Context[Any, Any], chat_id: ChatId,
        content: Annotated[str, Field(max_length=1_048_576, description="The message text (Markdown).")],
        role: Annotated[MessageRole, Field(description="Who speaks.")] = "assistant",
        agent_name: Annotated[str | None, Field(max_length=100, description="e.g. bomGenerator")] = None,
        model: Annotated[str | None, Field(max_length=200, description="e.g. claude-sonnet-4-5")] = None,
        intent: Annotated[Intent | None, Field(description="What the message does.")] = None,
        input_tokens: Annotated[int, Field(ge=0)] = 0,
        output_tokens: Annotated[int, Field(ge=0)] = 0,
        parent_id: Annotated[uuid.UUID | None, Field(description="Branch from this message (an edit or a "
                                                     "regeneration); omitted: after the latest.")] = None,
    ) -> dict[str, Any]:
        me = await who(ctx, "append_message")
        fields: dict[str, Any] = {"role": role, "content": content, "intent": intent,
                                  "usage": Usage(input_tokens=input_tokens, output_tokens=output_tokens)}
        if agent_name or model:
            fields["agent"] = AgentInfo(name=agent_name or "agent", model=model)
        if parent_id is not None:
            fields["parent_id"] = parent_id
        data = _model(MessageCreate, fields)
        created = await _call(messages.append_message(db, me, chat_id, data))
        return created.model_dump(mode="json", include={"id", "sequence_number", "parent_id", "usage",
                                                        "created_at"})

    @server.tool(description="Create an artifact in a chat: a bom (content_json {parts: [{name, mpn, quantity, "
                             "designators, ...}]}), wiring ({connections: [{from: 'U1.GPIO21', to: 'U2.SDA', "
                             "color, voltage}]}), code ({files: [{filename, content, language, platform, "
                             "libraries}]}) or a document (content_text). Returns the artifact with version 1.")
    async def create_artifact(
        ctx: Context[Any, Any], chat_id: ChatId,
        type: Annotated[ArtifactType, Field(description="What kind of artifact.")],  # noqa: A002
        title: Annotated[str, Field(min_length=1, max_length=200)],
        content_json: Annotated[Any | None, Field(description="The structured content (bom, wiring, code).")]
        = None,
        content_text: Annotated[str | None, Field(description="Text content (documents, notes).")] = None,
        change_summary: Annotated[str | None, Field(max_length=500)] = None,
        agent_name: Annotated[str | None, Field(max_length=100)] = None,
    ) -> dict[str, Any]:
        me = await who(ctx, "create_artifact")
        data = _model(ArtifactCreate, {
            "type": type, "title": title, "content_json": content_json, "content_text": content_text,
            "change_summary": change_summary, "agent": AgentInfo(name=agent_name) if agent_name else None})
        artifact = await _call(artifacts.create_artifact(db, me, chat_id, data))
        return artifact.model_dump(mode="json")

    @server.tool(description="Add a version to an artifact. base_version must be the version you read (its "
                             "current_version); if someone wrote since, this fails with 409 Conflict: read the "
                             "artifact again and redo your change on top.")
    async def add_artifact_version(
        ctx: Context[Any, Any],
        artifact_id: Annotated[uuid.UUID, Field(description="The artifact's id.")],
        base_version: Annotated[int, Field(ge=1, description="The current version you based this on.")],
        content_json: Annotated[Any | None, Field(description="The new structured content.")] = None,
        content_text: Annotated[str | None, Field(description="The new text content.")] = None,
        change_summary: Annotated[str | None, Field(max_length=500, description="What changed and why.")] = None,
        agent_name: Annotated[str | None, Field(max_length=100)] = None,
    ) -> dict[str, Any]:
        me = await who(ctx, "add_artifact_version")
        data = _model(ArtifactVersionCreate, {
            "base_version": base_version, "content_json": content_json, "content_text": content_text,
            "change_summary": change_summary, "agent": AgentInfo(name=agent_name) if agent_name else None})
        artifact = await _call(artifacts.add_version(db, me, artifact_id, data))
        return artifact.model_dump(mode="json")

    @server.tool(description="A project's bill of materials (current version): each part with MPN, quantity, "
                             "designators, specs, price, supplier, alternatives and the checks' findings on it.")
    async def read_bom(ctx: Context[Any, Any], project_id: ProjectId) -> Any:
        return _json(await _call(hardware.bom_view(db, await who(ctx, "read_bom"), project_id)))

    @server.tool(description="A project's wiring (current version): pin-to-pin connections with wire colour, "
                             "voltage level and signal type, and the checks' findings on each.")
    async def read_wiring(ctx: Context[Any, Any], project_id: ProjectId) -> Any:
        return _json(await _call(hardware.wiring_view(db, await who(ctx, "read_wiring"), project_id)))

    @server.tool(description="A project's firmware (current version): files with platform, board, libraries "
                             "and content, and the pins they use.")
    async def read_code(ctx: Context[Any, Any], project_id: ProjectId) -> Any:
        return _json(await _call(hardware.code_view(db, await who(ctx, "read_code"), project_id)))

    @server.tool(description="Run the electrical checks on a project's current BOM, wiring and code (voltage "
                             "levels, shorts, pins that do not exist, missing parts, pins the code uses but the "
                             "wiring does not connect). Returns the findings with severity and a fix.")
    async def run_checks(ctx: Context[Any, Any], project_id: ProjectId) -> Any:
        return _json(await _call(hardware.get_checks(db, await who(ctx, "run_checks"), project_id)))

    @server.tool(name="search", description="Search the maker's chats, messages, artifacts and parts (words, "
                                            "part numbers and pin names as typed, \"phrases\", OR, -exclusions). "
                                            "Returns ranked hits with their chat and a snippet.")
    async def search_all(
        ctx: Context[Any, Any], q: Annotated[str, Field(min_length=1, max_length=500, description="The query.")],
        types: Annotated[list[Literal["messages", "artifacts", "parts", "chats"]] | None,
                         Field(description="Only these kinds.")] = None,
        chat_id: Annotated[uuid.UUID | None, Field(description="Only this chat.")] = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 20,
    ) -> dict[str, Any]:
        me = await who(ctx, "search")
        page = await _call(search.search(db, me, q, types=types, chat_id=chat_id, limit=limit))
        return page.model_dump(mode="json")

    @server.tool(description="Messages, tokens and cost in USD (at each day's model price), grouped by agent, "
                             "model, intent, role, day, chat or project, over the last N days.")
    async def usage(
        ctx: Context[Any, Any],
        group_by: Annotated[Literal["agent", "model", "intent", "role", "day", "chat", "project"],
                            Field(description="How to group.")] = "agent",
        days: Annotated[int, Field(ge=1, le=366)] = 30,
    ) -> dict[str, Any]:
        import datetime as dt

        me = await who(ctx, "usage")
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        report = await _call(analytics.usage(db, me, group_by, start=start))
        return report.model_dump(mode="json", by_alias=True)

    # --- resources -----------------------------------------------------------------------------------------

    async def resource_identity(ctx: Context[Any, Any], tool: str) -> Identity:
        try:
            return await access.identity(ctx, tool)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None

    async def resource(work: Awaitable[T]) -> T:
        try:
            return await work
        except StoreError as exc:
            raise ResourceError(str(_problem(exc))) from None

    @server.resource("ohm://chats/{chat_id}.md", name="chat", mime_type="text/markdown",
                     description="A chat's active branch as Markdown.")
    async def chat_markdown(chat_id: str, ctx: Context[Any, Any]) -> str:
        me = await resource_identity(ctx, "read_chat")
        body, _, _ = await resource(exports.export_chat(db, me, _uuid(chat_id), "md"))
        return body.decode()

    @server.resource("ohm://projects/{project_id}/bom.csv", name="bom", mime_type="text/csv",
                     description="A project's bill of materials as CSV (every column: prices, suppliers, totals).")
    async def bom_csv(project_id: str, ctx: Context[Any, Any]) -> str:
        me = await resource_identity(ctx, "read_bom")
        return (await resource(hardware.export_bom(db, me, _uuid(project_id), "generic"))).body.decode()

    @server.resource("ohm://projects/{project_id}/wiring.yaml", name="wiring", mime_type="application/yaml",
                     description="A project's wiring as a WireViz harness (YAML).")
    async def wiring_yaml(project_id: str, ctx: Context[Any, Any]) -> str:
        me = await resource_identity(ctx, "read_wiring")
        return (await resource(hardware.export_wiring(db, me, _uuid(project_id)))).body.decode()

    @server.resource("ohm://projects/{project_id}/code/{+filename}", name="firmware file", mime_type="text/plain",
                     description="One firmware file of a project's current code artifact.")
    async def firmware_file(project_id: str, filename: str, ctx: Context[Any, Any]) -> str:
        me = await resource_identity(ctx, "read_code")
        view = _json(await resource(hardware.code_view(db, me, _uuid(project_id))))
        for unit in view.get("units", []):
            for file in unit.get("files", []):
                if file.get("filename") == filename:
                    return str(file.get("content", ""))
        raise ResourceError(f"404 Not found: no file {filename!r} in the project's code")

    return server


def _model(model: type[T], fields: dict[str, Any]) -> T:
    """The store's input model from a tool's arguments (None = not given); invalid is a 422 tool error."""
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})  # type: ignore[attr-defined]
    except ValidationError as exc:
        raise ToolError(f"422 Invalid input: {exc.errors()[0]['msg']}") from None


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ResourceError(f"422 Invalid input: not an id: {text!r}") from None


class HttpEndpoint:
    """``/mcp`` on ``ohm serve``: MCP's streamable HTTP (stateless, JSON answers), behind a bearer check.

    A request without a usable ``Authorization`` header is a 401 problem before MCP sees it; the tools then
    act as the verified identity of the request that carries them."""

    def __init__(self, server: MCPServer, verify: Verify) -> None:
        self.server = server
        self.verify = verify
        self.asgi = StreamableHTTPASGIApp(server.session_manager)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or [])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        detail = None
        if scheme.lower() != "bearer" or not token.strip():
            detail = ("MCP over HTTP needs a token: send 'Authorization: Bearer <token>' (an OHM API key from "
                      "`ohm keys create`, or a user's token)")
        else:
            try:
                await self.verify(token.strip())
            except InvalidToken as exc:
                detail = str(exc)
        if detail is not None:
            body = json.dumps({"type": "urn:ohm:problem:unauthorized", "title": "Unauthorized", "status": 401,
                               "detail": detail}).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.asgi(scope, receive, send)


def http_endpoint(db: Database, verify: Verify, host: str) -> HttpEndpoint:
    """The server for ``/mcp`` (its session manager still to be run: ``endpoint.server.session_manager.run()``)."""
    server = build(db, Access(verify))
    server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, json_response=True, host=host)
    return HttpEndpoint(server, verify)
