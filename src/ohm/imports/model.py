"""What an import reads: conversations in a neutral shape, and the streaming reader that dispatches by source."""

from __future__ import annotations

import heapq
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import ijson  # type: ignore[import-untyped]

SOURCES = ("chatgpt", "claude")
CONTENT_LIMIT = 1024 * 1024 - 64  # a message's text (OHM's limit is 1 MiB; room for the truncation note)
JSON_LIMIT = 200 * 1024  # content_json kept only below this (OHM's limit is 256 KiB)
TRUNCATED = "\n\n[... truncated on import]"


@dataclass
class ImportedMessage:
    source_id: str
    parent: str | None  # the source id of the parent among the kept messages (None: a root)
    role: str  # user | assistant | system | tool
    content: str
    content_json: Any = None
    agent: str | None = None
    model: str | None = None
    created_at: datetime | None = None
    files: list[str] = field(default_factory=list)  # names of files in the export (images of a message)


@dataclass
class Conversation:
    source: str
    source_id: str
    title: str | None
    created_at: datetime | None
    messages: list[ImportedMessage]  # parents before children, in time order
    current: str | None  # the source id of the active branch's leaf
    index: int = 0  # its position in the export


@dataclass
class Problem:
    """A conversation that could not be read: which one, which field, what is wrong."""

    index: int
    conversation: str | None
    field: str
    detail: str

    def __str__(self) -> str:
        who = f"conversation {self.index + 1}" + (f" ({self.conversation})" if self.conversation else "")
        return f"{who}: {self.field}: {self.detail}"


class Bad(Exception):
    def __init__(self, field_: str, detail: str) -> None:
        super().__init__(f"{field_}: {detail}")
        self.field = field_
        self.detail = detail


def clean_text(text: str) -> str:
    """Text PostgreSQL can store (no NUL) within a message's limit."""
    text = text.replace("\x00", "")
    if len(text.encode("utf-8", "surrogatepass")) > CONTENT_LIMIT:
        text = text.encode("utf-8", "surrogatepass")[:CONTENT_LIMIT].decode("utf-8", "ignore") + TRUNCATED
    return text.encode("utf-8", "replace").decode("utf-8")


def clean_json(value: Any) -> Any:
    """JSON as stored: no NUL in strings, None when too big to keep beside the text."""
    import orjson

    def strip(item: Any) -> Any:
        if isinstance(item, str):
            return item.replace("\x00", "")
        if isinstance(item, dict):
            return {str(k).replace("\x00", ""): strip(v) for k, v in item.items()}
        if isinstance(item, list):
            return [strip(v) for v in item]
        return item

    value = strip(value)
    try:
        if len(orjson.dumps(value)) > JSON_LIMIT:
            return None
    except TypeError:
        return None
    return value


def when(value: Any, field_: str) -> datetime | None:
    """An epoch number or an ISO 8601 string as an aware time; None stays None."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise Bad(field_, f"not a time: {str(value)[:60]!r}")


def in_time_order(messages: dict[str, ImportedMessage], order: list[str]) -> list[ImportedMessage]:
    """Parents before children; among those ready, the oldest first (ties: the order of the export)."""
    children: dict[str | None, list[str]] = {}
    for key in order:
        children.setdefault(messages[key].parent, []).append(key)
    position = {key: i for i, key in enumerate(order)}
    floor = datetime.min.replace(tzinfo=UTC)

    def entry(key: str) -> tuple[datetime, int, str]:
        return (messages[key].created_at or floor, position[key], key)

    ready = [entry(k) for k in children.get(None, [])]
    heapq.heapify(ready)
    out: list[ImportedMessage] = []
    while ready:
        _, _, key = heapq.heappop(ready)
        out.append(messages[key])
        for child in children.get(key, []):
            heapq.heappush(ready, entry(child))
    return out


Converter = Callable[[dict[str, Any], int], Conversation]


def read(path: Path, source: str, *, keep_tool_output: bool = False,
         progress: Callable[[int], None] | None = None) -> Iterator[Conversation | Problem]:
    """The conversations of an export (a ``conversations.json``, or a ChatGPT ``.zip`` holding one), one at a
    time: memory stays flat whatever the file's size.  ``progress`` is told the bytes read so far.  A file
    that ends early or is not JSON ends the iteration with a Problem naming where."""
    from ohm.imports import chatgpt, claude

    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    convert: Converter = (
        (lambda raw, i: chatgpt.conversation(raw, i, keep_tool_output=keep_tool_output)) if source == "chatgpt"
        else claude.conversation)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "conversations.json"]
            if not names:
                yield Problem(0, None, "file", "the archive holds no conversations.json")
                return
            with archive.open(sorted(names, key=len)[0]) as stream:
                yield from _stream(stream, convert, progress)
        return
    with open(path, "rb") as stream:
        yield from _stream(stream, convert, progress)


def _stream(stream: IO[bytes], convert: Converter, progress: Callable[[int], None] | None
            ) -> Iterator[Conversation | Problem]:
    counted = _Counting(stream, progress)
    seen = 0  # conversations read whole so far
    try:
        for index, raw in enumerate(ijson.items(counted, "item", use_float=True)):
            seen = index + 1
            if not isinstance(raw, dict):
                yield Problem(index, None, "conversation", f"expected an object, found {type(raw).__name__}")
                continue
            ident = raw.get("conversation_id") or raw.get("id") or raw.get("uuid")
            try:
                conversation = convert(raw, index)
            except Bad as exc:
                yield Problem(index, str(ident) if ident else None, exc.field, exc.detail)
                continue
            conversation.index = index
            yield conversation
    except ijson.IncompleteJSONError as exc:
        reason = " ".join(str(exc).split())[:120]
        where = "the file ends" if "premature" in reason.lower() else "the JSON breaks"
        yield Problem(seen, None, "file", f"{where} inside conversation {seen + 1} "
                                          f"(at byte {counted.position:,}): {reason}")
    except ijson.JSONError as exc:
        yield Problem(seen, None, "file", f"not JSON: {' '.join(str(exc).split())[:120]}")


class _Counting:
    """A binary stream that reports how far it has been read."""

    def __init__(self, stream: IO[bytes], progress: Callable[[int], None] | None) -> None:
        self.stream = stream
        self.progress = progress
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.position += len(data)
        if self.progress is not None:
            self.progress(self.position)
        return data
