"""ChatGPT's data export: ``conversations.json`` (alone or in the export's ``.zip``).

Each conversation has a ``mapping`` of nodes (``message``, ``parent``, ``children``) and a ``current_node``:
a tree in which an edited question or a regenerated answer is a sibling.  Kept: every visible message, with
its parent the nearest kept ancestor (so edits and regenerations arrive as OHM branches), ``create_time``,
the title, and ``metadata.model_slug`` as the agent's model.  Skipped: hidden nodes (the system prompt,
custom instructions, the model's hidden context), empty ones, and tool output unless asked for.  Content
other than plain text (code, execution output, browsing, multimodal parts with image pointers) becomes
readable text plus the original in ``content_json``; image pointers name the files of the zip.
"""

from __future__ import annotations

from typing import Any

from ohm.imports.model import Bad, Conversation, ImportedMessage, clean_json, clean_text, in_time_order, when

ROLES = {"user": "user", "assistant": "assistant", "system": "system", "tool": "tool"}


def conversation(raw: dict[str, Any], index: int, *, keep_tool_output: bool = False) -> Conversation:
    ident = raw.get("conversation_id") or raw.get("id")
    if not isinstance(ident, str) or not ident:
        raise Bad("id", "a conversation needs its id (conversation_id)")
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict):
        raise Bad("mapping", "expected an object of nodes")
    title = raw.get("title")
    if title is not None and not isinstance(title, str):
        raise Bad("title", "expected a string")
    created = when(raw.get("create_time"), "create_time")
    default_model = raw.get("default_model_slug") if isinstance(raw.get("default_model_slug"), str) else None

    parents: dict[str, str | None] = {}
    kept: dict[str, ImportedMessage] = {}
    order: list[str] = []
    for node_id, node in mapping.items():
        if not isinstance(node, dict):
            raise Bad(f"mapping.{node_id}", "expected a node object")
        parent = node.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise Bad(f"mapping.{node_id}.parent", "expected a node id")
        parents[node_id] = parent
        message = node.get("message")
        if message is None:
            continue
        if not isinstance(message, dict):
            raise Bad(f"mapping.{node_id}.message", "expected an object")
        made = _message(node_id, message, keep_tool_output, default_model)
        if made is not None:
            kept[node_id] = made
            order.append(node_id)

    def kept_ancestor(node_id: str | None) -> str | None:
        seen = 0
        while node_id is not None and node_id not in kept:
            node_id = parents.get(node_id)
            seen += 1
            if seen > len(parents):  # a cycle: the export is broken
                raise Bad("mapping", "the parent links form a cycle")
        return node_id

    for node_id in order:
        kept[node_id].parent = kept_ancestor(parents.get(node_id))
        if kept[node_id].created_at is None:
            kept[node_id].created_at = created
    current_node = raw.get("current_node")
    current = kept_ancestor(current_node) if isinstance(current_node, str) else None
    title = clean_text(title).strip()[:300] if title else None
    return Conversation("chatgpt", ident, title or None, created, in_time_order(kept, order), current, index)


def _message(node_id: str, message: dict[str, Any], keep_tool_output: bool, default_model: str | None
             ) -> ImportedMessage | None:
    author: dict[str, Any] = message["author"] if isinstance(message.get("author"), dict) else {}
    role = ROLES.get(str(author.get("role")))
    if role is None:
        raise Bad(f"mapping.{node_id}.message.author.role", f"unknown role {author.get('role')!r}")
    metadata: dict[str, Any] = message["metadata"] if isinstance(message.get("metadata"), dict) else {}
    if metadata.get("is_visually_hidden_from_conversation") or metadata.get("is_user_system_message"):
        return None
    if role == "tool" and not keep_tool_output:
        return None
    content = message.get("content")
    if not isinstance(content, dict):
        raise Bad(f"mapping.{node_id}.message.content", "expected an object")
    text, content_json, files = _content(content, f"mapping.{node_id}.message.content")
    if not text.strip() and not files:
        return None  # nothing to show (placeholders, empty system nodes)
    model = metadata.get("model_slug") if isinstance(metadata.get("model_slug"), str) else None
    agent = None
    if role == "assistant":
        agent, model = "ChatGPT", model or default_model
    elif role == "tool":
        agent = str(author.get("name") or "tool")[:100]
    return ImportedMessage(
        source_id=node_id, parent=None, role=role, content=clean_text(text), content_json=clean_json(content_json),
        agent=agent, model=(model or None) and model[:200], created_at=when(message.get("create_time"),
                                                                            f"mapping.{node_id}.message.create_time"),
        files=files)


def _content(content: dict[str, Any], where: str) -> tuple[str, Any, list[str]]:
    """Readable text, what to keep as JSON (None for plain text) and the image files it points to."""
    kind = content.get("content_type")
    parts = content.get("parts")
    if parts is not None and not isinstance(parts, list):
        raise Bad(f"{where}.parts", "expected a list")
    if kind == "text":
        return "\n".join(p for p in parts or [] if isinstance(p, str)), None, []
    if kind == "multimodal_text":
        lines, files = [], []
        for part in parts or []:
            if isinstance(part, str):
                lines.append(part)
            elif isinstance(part, dict):
                pointer = part.get("asset_pointer")
                if isinstance(pointer, str) and pointer:
                    name = pointer.rsplit("/", 1)[-1]
                    files.append(name)
                    lines.append(f"[image: {name}]")
                elif isinstance(part.get("text"), str):
                    lines.append(part["text"])
                else:
                    lines.append(f"[{part.get('content_type', 'part')}]")
        return "\n".join(lines), content, files
    if kind == "code":
        language = content.get("language") if isinstance(content.get("language"), str) else ""
        language = "" if language == "unknown" else language
        return f"```{language}\n{content.get('text') or ''}\n```", content, []
    if kind in ("execution_output", "system_error", "tether_quote"):
        text = content.get("text") or content.get("result") or ""
        return str(text), content, []
    if kind == "tether_browsing_display":
        return str(content.get("result") or content.get("summary") or ""), content, []
    if kind == "thoughts":
        thoughts: list[Any] = content["thoughts"] if isinstance(content.get("thoughts"), list) else []
        text = "\n\n".join(str(t.get("content") or t.get("summary") or "") for t in thoughts if isinstance(t, dict))
        return text, content, []
    if kind == "reasoning_recap":
        return str(content.get("content") or ""), content, []
    # Anything else: its text if it has one, its parts' strings, and the original.
    text = content.get("text") if isinstance(content.get("text"), str) else \
        "\n".join(p for p in parts or [] if isinstance(p, str))
    return text or f"[{kind or 'content'}]", content, []
