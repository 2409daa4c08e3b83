"""Claude's data export: ``conversations.json``, a list of conversations with their ``chat_messages``.

Each message has a ``sender`` (human, assistant), its ``text`` and/or ``content`` blocks, ``created_at``
and ``attachments`` (with the text Claude extracted from each file) and ``files``.  Messages follow one
another; an export that names ``parent_message_uuid`` gives its branches, and ``current_leaf_message_uuid``
the active one.  Blocks other than text (tool use and results, thinking) are kept in ``content_json``; an
attachment's extracted text is kept there too, and named in the readable content.
"""

from __future__ import annotations

from typing import Any

from ohm.imports.model import Bad, Conversation, ImportedMessage, clean_json, clean_text, in_time_order, when

SENDERS = {"human": "user", "user": "user", "assistant": "assistant"}
ROOT = "00000000-0000-4000-8000-000000000000"


def conversation(raw: dict[str, Any], index: int) -> Conversation:
    ident = raw.get("uuid") or raw.get("id")
    if not isinstance(ident, str) or not ident:
        raise Bad("uuid", "a conversation needs its uuid")
    messages = raw.get("chat_messages")
    if not isinstance(messages, list):
        raise Bad("chat_messages", "expected a list")
    title = raw.get("name")
    if title is not None and not isinstance(title, str):
        raise Bad("name", "expected a string")
    created = when(raw.get("created_at"), "created_at")
    kept: dict[str, ImportedMessage] = {}
    order: list[str] = []
    previous: str | None = None
    for n, message in enumerate(messages):
        where = f"chat_messages[{n}]"
        if not isinstance(message, dict):
            raise Bad(where, "expected an object")
        made = _message(message, where)
        if made is None:
            continue
        parent = message.get("parent_message_uuid")
        made.parent = parent if isinstance(parent, str) and parent in kept else (
            None if parent == ROOT else previous)
        made.created_at = made.created_at or created
        kept[made.source_id] = made
        order.append(made.source_id)
        previous = made.source_id
    leaf = raw.get("current_leaf_message_uuid")
    current = leaf if isinstance(leaf, str) and leaf in kept else previous
    title = clean_text(title).strip()[:300] if title else None
    return Conversation("claude", ident, title or None, created, in_time_order(kept, order), current, index)


def _message(message: dict[str, Any], where: str) -> ImportedMessage | None:
    ident = message.get("uuid")
    if not isinstance(ident, str) or not ident:
        raise Bad(f"{where}.uuid", "a message needs its uuid")
    role = SENDERS.get(str(message.get("sender")))
    if role is None:
        raise Bad(f"{where}.sender", f"unknown sender {message.get('sender')!r}")
    blocks = message.get("content")
    if blocks is not None and not isinstance(blocks, list):
        raise Bad(f"{where}.content", "expected a list of blocks")
    texts, others = [], []
    for block in blocks or []:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block, dict):
            others.append(block)
    plain = message.get("text")
    text: str = "\n\n".join(t for t in texts if t) or (plain if isinstance(plain, str) else "")
    attachments = []
    for a, item in enumerate(message.get("attachments") or []):
        if not isinstance(item, dict):
            raise Bad(f"{where}.attachments[{a}]", "expected an object")
        attachments.append({k: item.get(k) for k in ("file_name", "file_type", "file_size", "extracted_content")
                            if item.get(k) is not None})
    files = [f.get("file_name") for f in message.get("files") or [] if isinstance(f, dict) and f.get("file_name")]
    named = [a.get("file_name") or "attachment" for a in attachments] + [f for f in files if f not in
                                                                        [a.get("file_name") for a in attachments]]
    if named:
        text = (text + "\n\n" if text else "") + "\n".join(f"[attached: {name}]" for name in named)
    if not text.strip() and not others:
        return None
    content_json: dict[str, Any] = {}
    if others:
        content_json["blocks"] = others
    if attachments:
        content_json["attachments"] = attachments
    if files:
        content_json["files"] = files
    return ImportedMessage(
        source_id=ident, parent=None, role=role, content=clean_text(text or "[no text]"),
        content_json=clean_json(content_json) if content_json else None,
        agent="Claude" if role == "assistant" else None, model=None,
        created_at=when(message.get("created_at"), f"{where}.created_at"))
