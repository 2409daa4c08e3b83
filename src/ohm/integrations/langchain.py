"""OHM as LangChain's chat message history.

``OhmChatMessageHistory`` implements langchain-core's ``BaseChatMessageHistory`` on an OHM chat, so a
LangChain or LangGraph agent keeps its conversation where the maker's other agents keep theirs, with
each AI message's model and token usage as OHM's agent and usage fields (priced at the day's model
price, counted in OHM's analytics)::

    # before: history = PostgresChatMessageHistory(table, session_id, sync_connection=conn)
    history = OhmChatMessageHistory(chat_id, client=OhmClient(OHM_URL, token=OHM_API_KEY))

Three ways to reach OHM: ``client`` (the typed HTTP client: sync methods), ``async_client``
(``AsyncOhmClient``: async methods), or ``db`` and ``identity`` (the in-process library: async
methods).  The chat must exist (``client.create_chat()``); ``messages`` is its active branch.

Round trip: what OHM has no column for (ids, ``additional_kwargs``, ``response_metadata``,
``tool_calls``, a tool message's ``tool_call_id``, content blocks) is kept in the message's
``metadata["langchain"]`` (and ``content_json`` for blocks), so a message comes back as it went in.
Messages other agents wrote come back by their role (user, assistant, system, tool).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from ohm import install_hint
from ohm.auth import Identity
from ohm.client import AsyncOhmClient, OhmClient
from ohm.db.session import Database
from ohm.models import AgentInfo, Message, MessageCreate, Usage

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import (
        AIMessage,
        BaseMessage,
        HumanMessage,
        SystemMessage,
        ToolMessage,
        message_to_dict,
        messages_from_dict,
    )
except ImportError as missing:  # the optional extra
    raise ImportError(f"OhmChatMessageHistory needs langchain-core ({install_hint('langchain')})") from missing

ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
KEY = "langchain"
PAGE = 500


def to_ohm(message: BaseMessage, agent_name: str | None) -> MessageCreate:
    """A LangChain message as an OHM message to append."""
    data = message_to_dict(message)
    kind, fields = data["type"], dict(data["data"])
    content = fields.pop("content")
    role = ROLES.get(kind) or {"user": "user", "assistant": "assistant", "system": "system"}.get(
        str(fields.get("role")), "user")
    text = content if isinstance(content, str) else "\n".join(
        str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    agent = usage = None
    if isinstance(message, AIMessage):
        meta = message.response_metadata or {}
        model = meta.get("model_name") or meta.get("model")
        agent = AgentInfo(name=(agent_name or message.name or "langchain")[:100],
                          model=str(model)[:200] if model else None)
        if message.usage_metadata:
            usage = Usage(input_tokens=message.usage_metadata.get("input_tokens", 0),
                          output_tokens=message.usage_metadata.get("output_tokens", 0))
    return MessageCreate(role=role, content=text, agent=agent, usage=usage,
                         content_json=None if isinstance(content, str) else {"langchain_content": content},
                         metadata={KEY: {"type": kind, **{k: v for k, v in fields.items() if v not in (None, {}, [])}}})


def from_ohm(message: Message) -> BaseMessage:
    """An OHM message as LangChain's: as it went in when LangChain wrote it, else by its role."""
    kept = (message.metadata or {}).get(KEY)
    blocks = message.content_json.get("langchain_content") if isinstance(message.content_json, dict) else None
    content: Any = blocks if blocks is not None else message.content
    if isinstance(kept, dict) and isinstance(kept.get("type"), str):
        fields = {k: v for k, v in kept.items() if k != "type"}
        return messages_from_dict([{"type": kept["type"], "data": {**fields, "content": content}}])[0]
    if message.role == "user":
        return HumanMessage(content=content, id=str(message.id))
    if message.role == "system":
        return SystemMessage(content=content, id=str(message.id))
    if message.role == "tool":
        call = (message.metadata or {}).get("tool_call_id") or str(message.parent_id or message.id)
        return ToolMessage(content=content, tool_call_id=str(call), id=str(message.id))
    agent = message.agent
    return AIMessage(content=content, id=str(message.id), name=agent.name if agent else None,
                     response_metadata={"model_name": agent.model} if agent and agent.model else {},
                     usage_metadata={"input_tokens": message.usage.input_tokens,
                                     "output_tokens": message.usage.output_tokens,
                                     "total_tokens": message.usage.input_tokens + message.usage.output_tokens})


class OhmChatMessageHistory(BaseChatMessageHistory):
    """One OHM chat as a LangChain chat history (see the module's text)."""

    def __init__(self, chat_id: uuid.UUID | str, *, client: OhmClient | None = None,
                 async_client: AsyncOhmClient | None = None, db: Database | None = None,
                 identity: Identity | None = None, agent_name: str | None = None) -> None:
        if client is None and async_client is None and (db is None or identity is None):
            raise ValueError("give client (OhmClient), async_client (AsyncOhmClient), or db and identity (the library)")
        self.chat_id = uuid.UUID(str(chat_id))
        self.client = client
        self.async_client = async_client
        self.db = db
        self.identity = identity
        self.agent_name = agent_name

    def _sync(self) -> OhmClient:
        if self.client is None:
            raise RuntimeError("this history reaches OHM asynchronously: use aget_messages, aadd_messages and "
                               "aclear (or pass client=OhmClient(...) for the sync methods)")
        return self.client

    # --- sync (OhmClient) ---------------------------------------------------------------------------------

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        client, after = self._sync(), 0
        found: list[BaseMessage] = []
        while True:
            page = client.list_messages(self.chat_id, after_sequence=after, limit=PAGE)
            found.extend(from_ohm(m) for m in page.items)
            if page.next_after_sequence is None:
                return found
            after = page.next_after_sequence

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        client = self._sync()
        for message in messages:
            data = to_ohm(message, self.agent_name)
            client.post_message(self.chat_id, data.role, data.content, content_json=data.content_json,
                                agent=data.agent, usage=data.usage, metadata=data.metadata)

    def clear(self) -> None:
        client, after = self._sync(), 0
        roots: list[uuid.UUID] = []
        while True:
            page = client.list_messages(self.chat_id, whole_tree=True, after_sequence=after, limit=PAGE)
            roots.extend(m.id for m in page.items if m.parent_id is None)
            if page.next_after_sequence is None:
                break
            after = page.next_after_sequence
        for root in roots:  # a message goes with every reply below it
            client.delete_message(root)

    # --- async (AsyncOhmClient, or the library) -----------------------------------------------------------

    async def aget_messages(self) -> list[BaseMessage]:
        if self.async_client is None and self.db is None:
            return await super().aget_messages()
        found: list[BaseMessage] = []
        after = 0
        while True:
            page = await self._page(after, whole_tree=False)
            found.extend(from_ohm(m) for m in page.items)
            if page.next_after_sequence is None:
                return found
            after = page.next_after_sequence

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        if self.async_client is None and self.db is None:
            await super().aadd_messages(messages)
            return
        for message in messages:
            data = to_ohm(message, self.agent_name)
            if self.async_client is not None:
                await self.async_client.post_message(
                    self.chat_id, data.role, data.content, content_json=data.content_json, agent=data.agent,
                    usage=data.usage, metadata=data.metadata)
            else:
                from ohm.store import messages as store

                assert self.db is not None and self.identity is not None
                await store.append_message(self.db, self.identity, self.chat_id, data)

    async def aclear(self) -> None:
        if self.async_client is None and self.db is None:
            await super().aclear()
            return
        roots: list[uuid.UUID] = []
        after = 0
        while True:
            page = await self._page(after, whole_tree=True)
            roots.extend(m.id for m in page.items if m.parent_id is None)
            if page.next_after_sequence is None:
                break
            after = page.next_after_sequence
        for root in roots:
            if self.async_client is not None:
                await self.async_client.delete_message(root)
            else:
                from ohm.store import messages as store

                assert self.db is not None and self.identity is not None
                await store.delete_message(self.db, self.identity, root)

    async def _page(self, after: int, *, whole_tree: bool) -> Any:
        if self.async_client is not None:
            return await self.async_client.list_messages(self.chat_id, whole_tree=whole_tree, after_sequence=after,
                                                         limit=PAGE)
        from ohm.store import messages as store

        assert self.db is not None and self.identity is not None
        return await store.list_messages(self.db, self.identity, self.chat_id, whole_tree=whole_tree,
                                         after_sequence=after, limit=PAGE)
