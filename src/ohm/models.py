"""The shapes that cross OHM's boundaries: store results, API bodies, client returns.

Pure pydantic, no I/O: the store returns these, the API serialises them, the
typed client parses them back.  Input models forbid unknown fields so a typo
is a 422, not a silently ignored value.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

MessageRole = Literal["user", "assistant", "system", "tool"]
Intent = Literal["CHAT", "PLAN", "BOM", "WIRING", "CODE", "VERIFY", "DATASHEET", "DEBUG", "RESEARCH", "SUMMARY"]
ChatPhase = Literal["ideation", "requirements", "bom", "wiring", "code", "verification", "complete"]
ArtifactType = Literal["bom", "wiring", "code", "document", "diagram", "plan", "verification_report"]
ProjectStatus = Literal["draft", "active", "completed", "archived"]

INT32_MAX = 2**31 - 1

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
NonNegInt = Annotated[int, Field(ge=0, le=INT32_MAX)]

T = TypeVar("T")


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- agents and usage ---------------------------------------------------------------------------


class AgentInfo(Input):
    """Which agent answered."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    icon: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None


class Usage(Input):
    """Tokens an answer took and, if the agent knows it, what it cost."""

    input_tokens: NonNegInt = 0
    output_tokens: NonNegInt = 0
    cost_usd: Annotated[Decimal, Field(ge=0, le=1000, max_digits=14, decimal_places=6,
                                       description="What the answer cost, if the agent knows (at most $1,000); "
                                                   "used only for models without a known price.")] | None = None


# --- chats ----------------------------------------------------------------------------------------


class ChatCreate(Input):
    title: Title | None = None
    project_id: uuid.UUID | None = None
    phase: ChatPhase | None = None
    is_public: bool = False
    user_id: uuid.UUID | None = Field(
        default=None, description="Owner of the new chat; only the service role may (and must) set it."
    )


class ChatUpdate(Input):
    """Only the fields present are changed; ``null`` clears a nullable field."""

    title: Title | None = None
    phase: ChatPhase | None = None
    is_archived: bool | None = None
    is_pinned: bool | None = None
    is_public: bool | None = None
    project_id: uuid.UUID | None = None
    current_leaf_id: uuid.UUID | None = None


class Chat(BaseModel):
    id: uuid.UUID
    url: str = Field(description="The chat's own URL path, /chat/<id>.")
    user_id: uuid.UUID
    project_id: uuid.UUID | None
    title: str | None
    phase: ChatPhase
    is_public: bool
    is_archived: bool
    is_pinned: bool
    message_count: int
    last_message_at: datetime
    forked_from: uuid.UUID | None
    current_leaf_id: uuid.UUID | None
    is_branched: bool = Field(description="True once a message was added off the current leaf (edit, regeneration).")
    total_input_tokens: int
    total_output_tokens: int
    total_cost_usd: Decimal
    created_at: datetime
    updated_at: datetime


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


# --- messages -------------------------------------------------------------------------------------


class MessageAgent(BaseModel):
    """Which agent answered (as stored)."""

    name: str
    model: str | None = None
    icon: str | None = None


class MessageUsage(BaseModel):
    """Tokens and cost of a message (as stored)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = None


class MessageCreate(Input):
    role: MessageRole
    content: str = ""
    content_json: Any | None = None
    parent_id: uuid.UUID | None = Field(
        default=None,
        description="The message this one answers or replaces. Omitted: the chat's current leaf. "
        "null: a new root (an edit of the first message).",
    )
    agent: AgentInfo | None = None
    intent: Intent | None = None
    usage: Usage | None = None
    latency_ms: NonNegInt | None = None
    metadata: dict[str, Any] | None = None


class SharedMessage(BaseModel):
    """A message as a share shows it (without the chat's id)."""

    id: uuid.UUID
    parent_id: uuid.UUID | None
    sequence_number: int
    role: MessageRole
    content: str
    content_json: Any | None
    agent: MessageAgent | None
    intent: Intent | None
    usage: MessageUsage
    latency_ms: int | None
    metadata: dict[str, Any]
    created_at: datetime


class Message(SharedMessage):
    chat_id: uuid.UUID


class MessageCreated(Message):
    warnings: list[str] = Field(default_factory=list, description="e.g. no price known for the model: cost_usd "
                                                                  "is null. Absent when there is nothing to say.")


class MessageDetail(Message):
    """A message with its place in the tree, for "2 / 3" branch switchers."""

    sibling_ids: list[uuid.UUID] = Field(description="All children of this message's parent, oldest first.")
    sibling_index: int = Field(description="Position of this message among its siblings (0-based).")
    child_ids: list[uuid.UUID]


class MessagePage(BaseModel):
    items: list[Message]
    next_after_sequence: int | None = Field(
        description="Pass as `after_sequence` for the next page; null on the last page."
    )


# --- what a chat shows beside its messages ---------------------------------------------------


class ArtifactSummary(BaseModel):
    """An artifact with its current version's content."""

    id: uuid.UUID
    chat_id: uuid.UUID
    project_id: uuid.UUID | None
    message_id: uuid.UUID | None
    type: ArtifactType
    title: str
    current_version: int | None
    total_versions: int
    version_id: uuid.UUID | None
    content_text: str | None
    content_json: Any | None
    change_summary: str | None
    created_at: datetime
    updated_at: datetime


class Project(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    description: str | None
    goal: str | None
    location: str | None
    budget_amount: Decimal | None
    budget_currency: str
    requirements: Any
    workflow_steps: Any
    success_metrics: Any
    status: ProjectStatus
    spend_limit_usd: Decimal | None = Field(default=None, description="Optional limit on the LLM spend (USD).")
    created_at: datetime
    updated_at: datetime


class ChatDetail(Chat):
    messages: list[Message] = Field(description="The active branch, oldest first: its first page (at most "
                                                "`limit` messages and about 4 MiB).")
    artifacts: list[ArtifactSummary]
    project: Project | None
    next_after_sequence: int | None = Field(
        default=None, description="More of the branch follows: GET /v1/chats/{id}/messages?after_sequence=<this> "
        "(the typed client does); null when `messages` is the whole branch.")


# --- artifacts -----------------------------------------------------------------------------------

Summary = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class ArtifactContent(Input):
    content_text: str | None = None
    content_json: Any | None = None
    change_summary: Summary | None = None
    message_id: uuid.UUID | None = Field(default=None, description="The message (of the same chat) that wrote it.")
    agent: AgentInfo | None = None


class ArtifactCreate(ArtifactContent):
    type: ArtifactType
    title: Title


class ArtifactVersionCreate(ArtifactContent):
    base_version: Annotated[int, Field(ge=1, le=INT32_MAX)] = Field(
        description="The version this one is based on; it must be the current version (else 409)."
    )


class ArtifactRestore(Input):
    version: Annotated[int, Field(ge=1, le=INT32_MAX)]


class VersionSummary(BaseModel):
    id: uuid.UUID
    version_number: int
    parent_version_number: int | None
    change_summary: str | None
    created_by_agent: str | None
    created_by_user_id: uuid.UUID | None
    created_by_message_id: uuid.UUID | None
    created_at: datetime


class ArtifactVersion(VersionSummary):
    artifact_id: uuid.UUID
    parent_version_id: uuid.UUID | None
    content_text: str | None
    content_json: Any | None


class Artifact(BaseModel):
    id: uuid.UUID
    chat_id: uuid.UUID
    project_id: uuid.UUID | None
    message_id: uuid.UUID | None
    type: ArtifactType
    title: str
    current_version: int
    total_versions: int
    created_at: datetime
    updated_at: datetime
    current: ArtifactVersion
    history: list[VersionSummary] = Field(description="Every version, newest first.")


class ArtifactDiff(BaseModel):
    artifact_id: uuid.UUID
    from_version: int
    to_version: int
    kind: Literal["text", "json", "bom"]
    unified: str | None = Field(default=None, description="Unified diff of content_text.")
    changes: list[dict[str, Any]] | None = Field(
        default=None, description="JSON changes: op (added/removed/changed), path (JSON Pointer), old, new.")
    bom: dict[str, Any] | None = Field(
        default=None, description="Part-level BOM diff: added, removed, replaced, changed, totals before/after.")


# --- shares and forks -------------------------------------------------------------------------------


class ShareCreate(Input):
    up_to_message_id: uuid.UUID | None = Field(
        default=None, description="Last message shown (default: the chat's current leaf, now).")
    expires_at: AwareDatetime | None = None


class Share(BaseModel):
    id: uuid.UUID
    chat_id: uuid.UUID
    token: str
    url: str = Field(description="The public page: /share/<token>.")
    up_to_message_id: uuid.UUID | None
    artifact_versions: dict[str, int] = Field(description="Artifact id -> version shown.")
    snapshot_at: datetime
    is_active: bool
    expires_at: datetime | None
    view_count: int
    fork_count: int
    last_viewed_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ShareInfo(BaseModel):
    id: uuid.UUID
    up_to_message_id: uuid.UUID | None
    snapshot_at: datetime
    expires_at: datetime | None
    view_count: int
    fork_count: int
    created_at: datetime


class SharedChat(BaseModel):
    title: str | None
    phase: ChatPhase
    owner_name: str | None
    created_at: datetime


class SharedArtifact(BaseModel):
    id: uuid.UUID
    type: ArtifactType
    title: str
    message_id: uuid.UUID | None
    version: int
    version_id: uuid.UUID
    content_text: str | None
    content_json: Any | None
    change_summary: str | None
    created_at: datetime


class SharedAttachment(BaseModel):
    id: uuid.UUID
    message_id: uuid.UUID | None
    filename: str
    mime_type: str
    size_bytes: int
    category: str
    created_at: datetime
    url: str | None = Field(default=None, description="Signed download link (valid for an hour).")


class ShareSnapshot(BaseModel):
    """What a share shows: the branch up to the share's message, artifacts at the shared versions."""

    share: ShareInfo
    chat: SharedChat
    messages: list[SharedMessage]
    artifacts: list[SharedArtifact]
    attachments: list[SharedAttachment] = Field(
        default_factory=list, description="Uploads in the shared branch, each with a signed link to its bytes.")
    next_after_sequence: int | None = Field(
        default=None, description="More messages follow: read again with after_sequence=<this>; null on the "
        "last page.")


class ForkCreate(Input):
    message_id: uuid.UUID | None = Field(
        default=None, description="Fork point: the last message copied (default: the end of what you see).")


class LineageEntry(BaseModel):
    depth: int = Field(description="1 = the chat this one was forked from, 2 = its origin, ...")
    chat_id: uuid.UUID | None
    title: str | None = Field(description="Only for chats you may read.")
    readable: bool
    fork_point_message_id: uuid.UUID | None
    forked_at: datetime
    via_share: bool


class ForkSummary(BaseModel):
    chat_id: uuid.UUID
    title: str | None
    forked_at: datetime


class Lineage(BaseModel):
    chat_id: uuid.UUID
    ancestors: list[LineageEntry] = Field(description="Nearest first.")
    forks: list[ForkSummary] = Field(description="Direct forks of this chat that you may read.")


# --- realtime -------------------------------------------------------------------------------------


class RealtimeEvent(BaseModel):
    """One item of a chat's event stream (docs/realtime.md)."""

    type: Literal["event", "reset"] = Field(description="reset: events up to `cursor` are no longer kept; "
                                                        "reload the chat, then continue.")
    chat_id: uuid.UUID
    cursor: int = Field(description="The chat's event number: resume after it.")
    kind: str | None = Field(default=None, description="message.created, artifact.version_created, ...")
    id: uuid.UUID | None = Field(default=None, description="The message, artifact, chat or attachment.")
    data: Any = Field(default=None, description="The row as you may see it now (null if it is gone).")
    created_at: datetime | None = None
    detail: str | None = None


# --- search ---------------------------------------------------------------------------------------


class SearchHit(BaseModel):
    type: Literal["message", "artifact", "part", "chat"]
    id: uuid.UUID = Field(description="The message, artifact, part or chat found.")
    chat_id: uuid.UUID
    chat_title: str | None
    chat_url: str
    snippet: str = Field(description="HTML: the text escaped, matches in <mark>.")
    rank: float
    created_at: datetime
    role: MessageRole | None = None
    agent: str | None = None
    intent: Intent | None = None
    artifact_type: ArtifactType | None = None
    version: int | None = Field(default=None, description="Artifact (or BOM) version the hit is in.")


class SearchPage(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None


# --- files and what agents made of them -------------------------------------------------------------

AttachmentCategory = Literal["circuit_image", "datasheet", "schematic", "photo", "code", "other"]
ProcessingStatus = Literal["pending", "processing", "done", "failed"]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=5000)]


class Attachment(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    chat_id: uuid.UUID | None
    message_id: uuid.UUID | None
    project_id: uuid.UUID | None
    filename: str = Field(description="Display name, sanitised (no directories or control characters).")
    mime_type: str = Field(description="Sniffed from the bytes, not taken from the client.")
    size_bytes: int
    sha256: str
    category: AttachmentCategory
    processing_status: ProcessingStatus
    processing_error: str | None
    content_url: str = Field(description="The bytes (owner or service role only).")
    created_at: datetime
    updated_at: datetime


class AttachmentUpdate(Input):
    """Processing status: pending -> processing -> done | failed; failed -> processing retries."""

    processing_status: Literal["processing", "done", "failed"]
    processing_error: Text | None = Field(default=None, description="Why it failed (kept only for failed).")


class SignedUrl(BaseModel):
    url: str = Field(description="Path with expiry and signature; no token needed until it expires.")
    expires_at: datetime


class Finding(Input):
    severity: Literal["info", "warning", "error", "critical"]
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    location: Short | None = Field(default=None, description="Where on the board, e.g. 'GPIO21 / SDA'.")


class DetectedComponent(Input):
    name: Short
    designator: Short | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    notes: Text | None = None


class VerificationCreate(Input):
    attachment_id: uuid.UUID | None = Field(default=None, description="The circuit photo checked.")
    status: Literal["pass", "fail", "warning"]
    detected_components: list[DetectedComponent] = Field(default_factory=list, max_length=500)
    issues: list[Finding] = Field(default_factory=list, max_length=500)
    suggestions: list[Annotated[str, StringConstraints(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=200)
    model: Short | None = None
    chat_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = Field(default=None, description="The message that reported it (needs chat_id).")


class Verification(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    chat_id: uuid.UUID | None
    message_id: uuid.UUID | None
    attachment_id: uuid.UUID | None
    status: Literal["pending", "pass", "fail", "warning"]
    detected_components: list[dict[str, Any]]
    issues: list[dict[str, Any]]
    suggestions: list[str]
    model: str | None
    created_at: datetime


class Pin(Input):
    pin: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] = Field(
        description="Pin number or ball, e.g. '1' or 'A3'.")
    name: Short
    type: Literal["power", "ground", "input", "output", "io", "analog", "nc", "other"]
    voltage: float | None = Field(default=None, ge=-1000, le=1000, description="Nominal volts, if it has one.")
    description: Text | None = None


class DatasheetAnalysisCreate(Input):
    attachment_id: uuid.UUID | None = Field(default=None, description="The datasheet file analysed.")
    project_id: uuid.UUID | None = None
    part_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    manufacturer: Short | None = None
    key_specs: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], Any] = Field(
        default_factory=dict, max_length=200, description="e.g. {'vcc_max': '3.6 V', 'interface': 'I2C'}.")
    pinout: list[Pin] = Field(default_factory=list, max_length=2000)
    application_notes: Annotated[str, StringConstraints(max_length=100000)] | None = None
    warnings: list[Annotated[str, StringConstraints(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=200)
    model: Short | None = None


class DatasheetAnalysis(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID | None
    attachment_id: uuid.UUID | None
    part_number: str
    manufacturer: str | None
    key_specs: dict[str, Any]
    pinout: list[dict[str, Any]]
    application_notes: str | None
    warnings: list[str]
    model: str | None
    created_at: datetime


# --- hardware projects ----------------------------------------------------------------------------------

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class WorkflowStep(BaseModel):
    """One step of the project's workflow, in order; extra fields are kept."""

    model_config = ConfigDict(extra="allow")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    status: Literal["todo", "in_progress", "done", "blocked", "skipped"] = "todo"
    step: Annotated[int, Field(ge=1, le=1000)] | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class ProjectCreate(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=20000)] | None = None
    goal: Annotated[str, StringConstraints(max_length=20000)] | None = None
    location: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description='Where it will live, e.g. "outdoor, balcony".')
    budget_amount: Money | None = None
    budget_currency: Currency = "USD"
    requirements: dict[str, Any] | list[Any] = Field(default_factory=dict)
    workflow_steps: list[WorkflowStep] = Field(default_factory=list, max_length=200)
    success_metrics: dict[str, Any] | list[Any] = Field(default_factory=list)
    status: ProjectStatus = "active"
    spend_limit_usd: Money | None = Field(default=None, description="Optional limit on the LLM spend (USD).")
    user_id: uuid.UUID | None = Field(default=None, description="Owner; only the service role may (and must) set it.")


class ProjectUpdate(Input):
    """Only the fields present are changed; ``null`` clears a nullable field."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=20000)] | None = None
    goal: Annotated[str, StringConstraints(max_length=20000)] | None = None
    location: Annotated[str, StringConstraints(max_length=500)] | None = None
    budget_amount: Money | None = None
    budget_currency: Currency | None = None
    requirements: dict[str, Any] | list[Any] | None = None
    workflow_steps: list[WorkflowStep] | None = Field(default=None, max_length=200)
    success_metrics: dict[str, Any] | list[Any] | None = None
    status: ProjectStatus | None = None
    spend_limit_usd: Money | None = None


class FindingOut(BaseModel):
    rule: str = Field(description="Stable rule code, e.g. voltage.overvoltage (docs/hardware.md).")
    severity: Literal["error", "warning", "info"]
    message: str
    parts: list[str] = Field(description="Designators (or names) of the parts involved.")
    pins: list[str] = Field(description="PART.PIN of the pins involved.")
    connections: list[int] = Field(description="Positions (0-based) of the wires involved in the wiring document.")


class CheckSummary(BaseModel):
    errors: int
    warnings: int
    infos: int
    checked_at: datetime | None
    bom_version: int | None
    wiring_version: int | None
    code_version: int | None


class Checks(CheckSummary):
    findings: list[FindingOut]


class BomSummary(BaseModel):
    artifact_id: uuid.UUID
    version: int
    lines: int
    quantity: int
    totals: dict[str, Decimal] = Field(description="Total per currency (lines without a price are not counted).")
    budget_amount: Decimal | None
    budget_currency: str
    over_budget: bool | None


class ProjectSpend(BaseModel):
    messages: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    spend_limit_usd: Decimal | None
    over_limit: bool | None


class ProjectDetail(Project):
    chats: list[Chat] = Field(description="The project's chats, most recent activity first (up to 50).")
    bom: BomSummary | None
    latest_verification: Verification | None
    checks: CheckSummary | None
    spend: ProjectSpend = Field(description="LLM usage of the project's chats vs its spend limit.")


class DatasheetLink(BaseModel):
    analysis_id: uuid.UUID
    part_number: str
    attachment_id: uuid.UUID | None
    content_url: str | None


class CatalogueMatch(BaseModel):
    """The entry of OHM's part catalogue a BOM line was matched to, and how sure the match is."""

    key: str
    name: str
    kind: str
    matched: str = Field(description="The catalogue name or MPN the line matched.")
    how: Literal["mpn", "name", "mpn in name", "name contains"]
    confidence: float = Field(ge=0, le=1, description="1.0 by MPN, 0.95 by name, 0.85 / 0.7 by a name inside it.")
    source: str = Field(description="The datasheet or user guide the entry was written from.")


class BomLine(BaseModel):
    id: uuid.UUID
    position: int
    designators: list[str]
    name: str
    mpn: str | None
    manufacturer: str | None
    quantity: int
    unit_price: Decimal | None
    line_total: Decimal | None
    currency: str
    supplier: str | None
    supplier_part_number: str | None
    footprint: str | None
    datasheet_url: str | None
    datasheet: DatasheetLink | None
    specs: dict[str, Any]
    alternatives: list[Any]
    lifecycle: str
    voltage_min: Decimal | None
    voltage_max: Decimal | None
    warnings: list[str] = Field(description="The check findings about this line.")
    compatibility_warnings: list[str] = Field(
        default_factory=list, description="What the last check run of the current versions found about this line "
                                          "(errors and warnings of every rule, not only the BOM's).")
    kicad_symbol: str | None = Field(None, description="LIBRARY:SYMBOL of the imported KiCad symbol whose pins "
                                                       "this line took (ohm parts import-kicad), if any.")
    catalogue: CatalogueMatch | None = Field(
        None, description="What OHM's part catalogue knows this line as (its pins, levels and limits fill what the "
                          "BOM does not say); null: an unknown part.")


class BomView(BaseModel):
    project_id: uuid.UUID
    artifact_id: uuid.UUID
    version: int
    current_version: int
    parts: list[BomLine]
    totals: dict[str, Decimal]
    budget_amount: Decimal | None
    budget_currency: str
    findings: list[FindingOut]


class WireEnd(BaseModel):
    part: str
    pin: str
    part_id: uuid.UUID | None = Field(description="The BOM line it resolved to, when it did.")


class WiringLine(BaseModel):
    id: uuid.UUID
    position: int
    step: int | None
    from_: WireEnd = Field(alias="from", serialization_alias="from")
    to: WireEnd
    wire_color: str | None
    voltage: Decimal | None
    signal: str | None
    instruction: str | None
    warnings: list[str]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class WiringView(BaseModel):
    project_id: uuid.UUID
    artifact_id: uuid.UUID
    version: int
    current_version: int
    connections: list[WiringLine] = Field(description="In step order.")
    findings: list[FindingOut]


class CodeFileOut(BaseModel):
    id: uuid.UUID
    position: int
    filename: str
    language: str | None
    platform: str | None
    board: str | None
    framework: str | None
    success_unit: int | None
    libraries: list[str]
    is_production_ready: bool
    content: str


class SuccessUnit(BaseModel):
    unit: int | None = Field(description="1 = it compiles and blinks, 2 = sensors work, 3 = the whole device; "
                                          "null: files that belong to every unit.")
    files: list[CodeFileOut]


class CodeView(BaseModel):
    project_id: uuid.UUID
    artifact_id: uuid.UUID
    version: int
    current_version: int
    units: list[SuccessUnit]
    findings: list[FindingOut]


class PartHit(BaseModel):
    id: uuid.UUID
    name: str
    mpn: str | None
    manufacturer: str | None
    quantity: int
    designators: list[str]
    voltage_min: Decimal | None
    voltage_max: Decimal | None
    unit_price: Decimal | None
    currency: str
    project_id: uuid.UUID | None
    project_name: str | None
    artifact_id: uuid.UUID
    version: int


# --- analytics and activity -------------------------------------------------------------------------------

GroupBy = Literal["agent", "model", "intent", "day", "chat", "project", "role"]


def no_key(group_by: str) -> str:
    """What a usage row without a key is called, on the usage page and in the CLI: (no agent), (no model), ..."""
    return f"(no {group_by})"


class UsageRow(BaseModel):
    key: str | None = Field(description="The agent, model (without provider prefix), intent, day (YYYY-MM-DD), "
                                        "chat id, project id or role; null: messages without one.")
    label: str | None = Field(description="A readable name (chat title, project name) where there is one.")
    messages: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    avg_input_tokens: float
    avg_output_tokens: float
    avg_latency_ms: float | None
    unpriced: int = Field(description="Messages naming a model with no known price (cost unknown).")


class UsageReport(BaseModel):
    group_by: GroupBy
    from_: datetime | None = Field(alias="from")
    to: datetime | None
    items: list[UsageRow]
    totals: UsageRow

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ModelPrice(BaseModel):
    model_id: str
    provider: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None
    currency: str
    valid_from: datetime


class ActivityEntry(BaseModel):
    id: int
    user_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    actor_role: str | None
    actor_key_id: uuid.UUID | None = Field(None, description="The API key that acted, if one did.")
    actor_key_name: str | None = Field(None, description="Its name (usually the agent's), as it was then.")
    action: str
    entity_type: str
    entity_id: uuid.UUID | None
    chat_id: uuid.UUID | None
    project_id: uuid.UUID | None
    metadata: dict[str, Any]
    created_at: datetime


class ActivityPage(BaseModel):
    items: list[ActivityEntry]
    next_cursor: str | None


class ReplicaHealth(BaseModel):
    """A read replica as the last check (every ``OHM_REPLICA_CHECK_INTERVAL`` s) found it."""

    name: str = Field(description="host:port/database")
    state: Literal["unknown", "ok", "lagging", "down", "not a standby"]
    lag_seconds: float | None = Field(description="How far its replay is behind the primary (0: caught up).")
    lag_bytes: int | None = Field(description="WAL bytes it has still to replay.")
    reads: int = Field(description="Reads it served since this process started.")
    error: str | None = Field(default=None, description="Why it is down.")


class Health(BaseModel):
    """GET /healthz: the server answers, and reaches its database as the application role."""

    status: str
    version: str
    database: str
    schema_version: str | None
    embedded: bool
    replicas: list[ReplicaHealth] = Field(default_factory=list,
                                          description="Read replicas (OHM_READ_REPLICA_URLS); empty without.")
    reads_on_primary: int | None = Field(default=None, description="With replicas: the reads that tolerate "
                                         "replication but went to the primary (none usable, or behind OHM-LSN).")


# --- API keys and the user's own account ----------------------------------------------------------

ScopeName = Literal["*", "chats:read", "chats:write", "messages:write", "artifacts:read", "artifacts:write",
                    "projects:read", "projects:write", "files:read", "files:write", "shares:write", "search",
                    "analytics:read", "account:read"]


class ApiKeyCreate(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                           pattern=r"^[^\x00-\x1f\x7f]+$")] = Field(
        description="What the key is for, usually the agent's name (e.g. bomGenerator): messages written with "
                    "the key default their `agent.name` to it, and the activity log shows it.")
    scopes: Annotated[list[ScopeName], Field(min_length=1, max_length=20)] = Field(
        description="What the key may do; `*` is everything a key may do. Keys never manage keys or the account.")
    chat_id: uuid.UUID | None = Field(None, description="Limit the key to this chat (one of yours).")
    project_id: uuid.UUID | None = Field(None, description="Limit the key to this project and its chats.")
    expires_at: AwareDatetime | None = Field(None, description="When the key stops working (in the future).")


class ApiKey(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's public start (`ohm_sk_` + 8 characters): names it in lists "
                                    "and logs; the secret is never shown again.")
    scopes: list[str]
    chat_id: uuid.UUID | None
    project_id: uuid.UUID | None
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None = Field(description="Kept to the minute.")
    revoked_at: datetime | None
    status: Literal["active", "revoked", "expired"]


class ApiKeyCreated(ApiKey):
    secret: str = Field(description="`Authorization: Bearer <secret>`. Shown once: only its hash is kept.")


class AccountTotals(BaseModel):
    message_count: int
    total_input_tokens: int
    total_output_tokens: int
    total_cost_usd: Decimal


class AccountStorage(BaseModel):
    used_bytes: int
    quota_bytes: int


class Me(BaseModel):
    """The signed-in user's own account."""

    id: uuid.UUID
    email: str | None
    display_name: str | None
    avatar_url: str | None
    preferences: dict[str, Any]
    subscription_tier: str
    totals: AccountTotals
    storage: AccountStorage
    created_at: datetime


class AccountDelete(Input):
    confirm: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] = Field(
        description="Your email address (or, without one, your user id): says you mean it.")


class AccountDeleted(BaseModel):
    user_id: uuid.UUID
    chats: int
    messages: int
    projects: int
    files: int
    blobs_removed: int = Field(description="Stored files removed (a file another user also uploaded stays).")
    auth_user_deleted: bool = Field(description="False on Supabase: remove the Auth user with its admin API.")


class MeUpdate(Input):
    """What a user may change of their account (the tier and the totals are not theirs to write)."""

    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                                   pattern=r"^[^\x00-\x1f\x7f]+$")] | None = None
    avatar_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048,
                                                 pattern=r"^https?://[^\s\x00-\x1f]+$")] | None = None
    preferences: dict[str, Any] | None = Field(None, description="Any JSON object, at most 64 KiB; replaces "
                                                                 "the stored one.")


# --- imports ---------------------------------------------------------------------------------------

ImportSource = Literal["chatgpt", "claude"]


class ImportReportItem(BaseModel):
    position: int = Field(description="The conversation's place in the export (0-based).")
    source_id: str
    title: str | None
    status: Literal["created", "skipped", "failed"]
    chat_id: uuid.UUID | None
    messages: int
    detail: str | None = Field(description="Why it was skipped, or which conversation and field failed.")


class ImportJob(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    source: ImportSource
    filename: str | None
    status: Literal["queued", "running", "done", "failed"]
    bytes_total: int
    bytes_read: int
    conversations: int
    chats_created: int
    chats_skipped: int = Field(description="Already imported before: nothing is added twice.")
    chats_failed: int
    messages: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    report: list[ImportReportItem] = Field(description="A row per conversation, in export order (the first 1,000).")
