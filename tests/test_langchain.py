"""OhmChatMessageHistory against langchain-core's own message types and behaviour, with a real OHM behind
it: over the HTTP client (sync), the async client, and the in-process library."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core")

from langchain_core.messages import (  # noqa: E402
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
)

from ohm.client import AsyncOhmClient, OhmClient  # noqa: E402
from ohm.db.session import Database  # noqa: E402
from ohm.integrations.langchain import OhmChatMessageHistory  # noqa: E402

from .conftest import auth  # noqa: E402


def conversation() -> list:
    """Every kind LangChain has, with ids, metadata, tool calls, usage and content blocks."""
    return [
        SystemMessage(content="You are a hardware assistant.", id="sys-1"),
        HumanMessage(content="Which sensor for humidity?", id="h-1", additional_kwargs={"source": "web"}),
        AIMessage(content="", id="ai-1", tool_calls=[{"name": "search_parts", "args": {"q": "humidity"},
                                                      "id": "call-1", "type": "tool_call"}],
                  response_metadata={"model_name": "gpt-4o", "finish_reason": "tool_calls"},
                  usage_metadata={"input_tokens": 1200, "output_tokens": 40, "total_tokens": 1240}),
        ToolMessage(content='[{"mpn": "BME280"}]', tool_call_id="call-1", id="tool-1", name="search_parts"),
        AIMessage(content=[{"type": "text", "text": "Use a BME280 on I2C."}], id="ai-2", name="bomGenerator",
                  response_metadata={"model_name": "claude-sonnet-4-20250514"},
                  usage_metadata={"input_tokens": 1500, "output_tokens": 300, "total_tokens": 1800}),
    ]


def same(got: list, sent: list) -> None:
    assert [message_to_dict(m) for m in got] == [message_to_dict(m) for m in sent]


def test_sync_round_trip_costs_and_clear(live_server, user, http):
    with OhmClient(live_server, token=user.token()) as client:
        chat = client.create_chat(title="LangChain")
        history = OhmChatMessageHistory(chat.id, client=client)
        sent = conversation()
        history.add_messages(sent)
        same(history.messages, sent)
        history.add_user_message("And a rain sensor?")
        history.add_ai_message("A YL-83 on a digital pin.")
        assert [type(m) for m in history.messages[-2:]] == [HumanMessage, AIMessage]

        # OHM's own fields: the AI messages are an agent's, with model, usage and a price
        stored = client.list_messages(chat.id).items
        assert [m.role for m in stored[:5]] == ["system", "user", "assistant", "tool", "assistant"]
        ai = stored[4]
        assert (ai.agent.name, ai.agent.model) == ("bomGenerator", "claude-sonnet-4-20250514")
        assert (ai.usage.input_tokens, ai.usage.output_tokens) == (1500, 300) and ai.usage.cost_usd is not None
        assert ai.content == "Use a BME280 on I2C."
        usage = http.get("/v1/analytics/usage", params={"group_by": "model"}, headers=auth(user)).json()
        models = {row["key"] for row in usage["items"]}
        assert "gpt-4o" in models and any(str(m).startswith("claude-sonnet-4") for m in models), models

        history.clear()
        assert history.messages == []
        assert client.get_chat(chat.id).id == chat.id  # the chat stays, empty


def test_messages_other_agents_wrote_come_back_by_their_role(live_server, user):
    with OhmClient(live_server, token=user.token()) as client:
        chat = client.create_chat()
        client.post_message(chat.id, "user", "Plan my weather station")
        client.post_message(chat.id, "assistant", "First the BOM.", agent={"name": "orchestrator", "model": "gpt-4o"},
                            usage={"input_tokens": 10, "output_tokens": 5})
        got = OhmChatMessageHistory(chat.id, client=client).messages
    assert isinstance(got[0], HumanMessage) and got[0].content == "Plan my weather station"
    assert isinstance(got[1], AIMessage) and got[1].name == "orchestrator"
    assert got[1].response_metadata == {"model_name": "gpt-4o"}
    assert got[1].usage_metadata == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}


async def test_async_client_round_trip(live_server, user):
    async with AsyncOhmClient(live_server, token=user.token()) as client:
        chat = await client.create_chat(title="async")
        history = OhmChatMessageHistory(chat.id, async_client=client)
        sent = conversation()
        await history.aadd_messages(sent)
        same(await history.aget_messages(), sent)
        await history.aclear()
        assert await history.aget_messages() == []


async def test_library_round_trip_and_rls(app_url, user, other_user, live_server):
    with OhmClient(live_server, token=user.token()) as client:
        chat = client.create_chat(title="library")
    async with Database(app_url, max_size=2) as db:
        history = OhmChatMessageHistory(chat.id, db=db, identity=user.identity, agent_name="plannerAgent")
        await history.aadd_messages([HumanMessage(content="hi"), AIMessage(content="hello")])
        got = await history.aget_messages()
        assert [m.content for m in got] == ["hi", "hello"]
        with pytest.raises(RuntimeError, match="asynchronously"):
            _ = history.messages
        # another user's history of the same chat sees nothing and writes nothing
        intruder = OhmChatMessageHistory(chat.id, db=db, identity=other_user.identity)
        from ohm.store.errors import NotFound

        with pytest.raises(NotFound):
            await intruder.aget_messages()
        with pytest.raises(NotFound):
            await intruder.aadd_messages([HumanMessage(content="hijack")])
        assert len(await history.aget_messages()) == 2
    with OhmClient(live_server, token=user.token()) as client:
        assert client.list_messages(chat.id).items[1].agent.name == "plannerAgent"


def test_a_history_needs_a_way_to_ohm():
    with pytest.raises(ValueError, match="client"):
        OhmChatMessageHistory("00000000-0000-0000-0000-000000000001")
