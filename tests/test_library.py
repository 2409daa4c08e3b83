"""The same operations in-process, as an agent uses them: ohm.store with an identity."""

from __future__ import annotations

import pytest

from ohm.auth import Identity
from ohm.config import Settings
from ohm.db.session import Database
from ohm.db.target import open_database
from ohm.models import ChatCreate, ChatUpdate, MessageCreate
from ohm.store import chats, messages
from ohm.store.errors import Invalid, NotFound, TooLarge


@pytest.fixture(scope="module")
async def db(app_url):
    async with Database(app_url, max_size=4) as database:
        yield database


async def test_an_agent_stores_a_conversation(db, user, other_user):
    me = Identity.user(user.id)
    chat = await chats.create_chat(db, me, ChatCreate(title="Robot arm"))
    q = await messages.append_message(db, me, chat.id, MessageCreate(role="user", content="Which servo?"))
    a = await messages.append_message(db, me, chat.id, MessageCreate(
        role="assistant", content="MG996R", agent={"name": "bomGenerator", "model": "openai/o1"}, intent="BOM",
        usage={"input_tokens": 10, "output_tokens": 5}))
    detail = await chats.get_chat(db, me, chat.id)
    assert [m.id for m in detail.messages] == [q.id, a.id]
    assert detail.messages[1].agent.name == "bomGenerator"

    stranger = Identity.user(other_user.id)
    with pytest.raises(NotFound):
        await chats.get_chat(db, stranger, chat.id)
    with pytest.raises(NotFound):
        await messages.append_message(db, stranger, chat.id, MessageCreate(role="user", content="hi"))
    with pytest.raises(NotFound):
        await chats.update_chat(db, stranger, chat.id, ChatUpdate(title="x"))
    with pytest.raises(NotFound):
        await chats.delete_chat(db, stranger, chat.id)
    with pytest.raises(NotFound):
        await messages.get_message(db, Identity.anon(), q.id)

    page = await chats.list_chats(db, me)
    assert chat.id in {c.id for c in page.items}
    assert chat.id not in {c.id for c in (await chats.list_chats(db, stranger)).items}
    await chats.delete_chat(db, me, chat.id)
    with pytest.raises(NotFound):
        await chats.get_chat(db, me, chat.id)


async def test_limits_are_checked_in_the_library_too(db, user):
    me = Identity.user(user.id)
    chat = await chats.create_chat(db, me, ChatCreate())
    with pytest.raises(TooLarge):
        await messages.append_message(db, me, chat.id, MessageCreate(role="user", content="x" * (1024 * 1024 + 1)))
    with pytest.raises(Invalid):
        await messages.append_message(db, me, chat.id, MessageCreate(role="user", content="a\x00b"))
    with pytest.raises(Invalid):
        await chats.list_chats(db, me, limit=0)
    assert (await chats.get_chat(db, me, chat.id)).message_count == 0


async def test_open_database_for_agents(database_url):
    from .conftest import JWT_SECRET

    async with open_database(Settings(database_url=database_url, jwt_secret=JWT_SECRET)) as db:
        page = await chats.list_chats(db, Identity.service(), limit=1)
        assert db.target.migration_report.applied == []
        assert len(page.items) <= 1
