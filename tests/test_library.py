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


async def test_one_user_many_agents_keep_exact_totals(app_url, user, other_user):
    """Eight agents of one maker append at once on eight chats (and two on one chat): no append waits on a
    per-user row, and the user's totals are exactly the sums of the messages, also after deletes and a
    corrected usage."""
    import asyncio

    from ohm.store import users

    me = Identity.user(user.id)
    async with Database(app_url, min_size=8, max_size=8) as pool:
        targets = [await chats.create_chat(pool, me, ChatCreate(title=f"agent {i}")) for i in range(7)]
        targets.append(targets[0])      # two agents on one chat

        async def agent(i: int) -> None:
            for j in range(15):
                await messages.append_message(pool, me, targets[i].id, MessageCreate(
                    role="assistant", content=f"agent {i} step {j}",
                    agent={"name": f"agent{i}", "model": "openai/o1" if j % 3 else "acme/unpriced"},
                    usage={"input_tokens": 100 + i, "output_tokens": 10 + j, "cost_usd": "0.01"}))

        await asyncio.gather(*(agent(i) for i in range(8)))
        others = await chats.create_chat(pool, Identity.user(other_user.id), ChatCreate(title="not mine"))
        await messages.append_message(pool, Identity.user(other_user.id), others.id, MessageCreate(
            role="user", content="someone else's", usage={"input_tokens": 7}))

        async def truth() -> tuple:
            async with pool.acting_as(Identity.service()) as conn:
                cur = await conn.execute(
                    """select count(*) as n, coalesce(sum(input_tokens), 0) as i, coalesce(sum(output_tokens), 0) as o,
                              coalesce(sum(cost_usd), 0) as c from messages where user_id = %s""", (user.id,))
                row = await cur.fetchone()
                cur = await conn.execute("select count(*) as slots from ohm.usage_counters where user_id = %s",
                                         (user.id,))
                slots = (await cur.fetchone())["slots"]
            profile = await users.find_user(pool, str(user.id))
            assert profile is not None
            totals = (profile.message_count, profile.total_input_tokens, profile.total_output_tokens,
                      profile.total_cost_usd)
            return (row["n"], row["i"], row["o"], row["c"]), totals, slots

        expected, totals, slots = await truth()
        assert expected[0] == 120 and totals == expected
        assert slots >= 2, "the writers' connections added to different slots"
        # The user reads the same through the view and the computed fields, and nothing of anyone else's.
        async with pool.acting_as(me) as conn:
            cur = await conn.execute(
                """select t.message_count, t.total_input_tokens, p.message_count as field_count,
                          p.total_cost_usd as field_cost
                     from profile_totals t join profiles p on p.id = t.user_id""")
            rows = await cur.fetchall()
        assert len(rows) == 1
        assert (rows[0]["message_count"], rows[0]["total_input_tokens"]) == expected[:2]
        assert (rows[0]["field_count"], rows[0]["field_cost"]) == (expected[0], expected[3])

        # Deletes subtract (one message, then a whole chat), a corrected usage adjusts.
        one = (await chats.get_chat(pool, me, targets[1].id)).messages[-1]
        async with pool.acting_as(me) as conn:
            await conn.execute("delete from messages where id = %s", (one.id,))
        await chats.delete_chat(pool, me, targets[2].id)
        async with pool.acting_as(Identity.service()) as conn:
            await conn.execute("update messages set output_tokens = output_tokens + 1000 where chat_id = %s",
                               (targets[3].id,))
        expected, totals, _ = await truth()
        assert expected[0] == 120 - 1 - 15 and totals == expected
