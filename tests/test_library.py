"""The same operations in-process, as an agent uses them: ohm.store with an identity."""

from __future__ import annotations

import pytest
from psycopg.rows import tuple_row
from pydantic import TypeAdapter

from ohm.auth import Identity
from ohm.config import Settings
from ohm.db.session import Database
from ohm.db.target import open_database
from ohm.models import ChatCreate, ChatUpdate, Message, MessageCreate
from ohm.store import chats, messages
from ohm.store.errors import Invalid, NotFound, TooLarge

from .conftest import acting


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


async def test_pages_cut_by_count_and_by_bytes_as_the_rule_says(db, user, app_url):
    """The page SQL against the rule written out in Python: at most `limit` rows, a row is kept while the
    bytes before it are under the budget (the first row always), and `more` says whether a row is left."""
    me = Identity.user(user.id)
    chat = await chats.create_chat(db, me, ChatCreate(title="pages"))
    sizes = [5, 300, 40, 2_000, 1, 700, 700, 64, 3_000, 10]
    for i, size in enumerate(sizes):
        await messages.append_message(db, me, chat.id, MessageCreate(role="user", content=chr(97 + i) * size))
    with acting(app_url, me) as conn:
        own = [r["own"] for r in conn.execute(
            "select octet_length(content) + coalesce(pg_column_size(content_json), 0) "
            "+ coalesce(pg_column_size(nullif(metadata, '{}')), 0) "
            "as own from messages where chat_id = %s order by sequence_number", (chat.id,))]
        # Budgets at, just under and just over every boundary between rows.
        budgets = sorted({max(1, sum(own[a:b]) + d) for a in (0, 3, 9) for b in range(a, 11) for d in (-1, 0, 1)})
        checked = 0
        for after in (0, 3, 9, 10):
            for limit in (1, 2, 3, 7, 10, 11):
                for budget in budgets:
                    rows = conn.cursor(row_factory=tuple_row).execute(
                        messages.paged(messages.BRANCH_SQL),
                        {"chat_id": chat.id, "leaf_id": None, "after": after, "limit": limit, "budget": budget},
                    ).fetchall()
                    kept, more = messages.cut(rows)
                    rest, expected, used = own[after:], [], 0
                    for n, size in enumerate(rest):
                        if n == limit or (n > 0 and used >= budget):
                            break
                        expected.append(after + n + 1)
                        used += size
                    assert [r[3] for r in kept] == expected, (after, limit, budget)
                    assert more == (len(expected) < len(rest)), (after, limit, budget)
                    assert all(r[5] == chr(96 + r[3]) * sizes[r[3] - 1] for r in kept)
                    checked += 1
    assert checked == 4 * 6 * len(budgets) > 500


async def test_messages_read_back_equal_validated_models(db, user):
    """The page's models are made without validating again: they must equal what validation makes of the
    same rows, field for field and in JSON, and behave as models (assignment, copy, dump)."""
    me = Identity.user(user.id)
    chat = await chats.create_chat(db, me, ChatCreate(title="messy"))
    shapes = [
        MessageCreate(role="user", content="Ströme? 🔌 \\n\t<b>"),
        MessageCreate(role="assistant", content="", content_json={"parts": [{"mpn": "BME280", "qty": "2"}],
                                                                    "nested": {"a": [1, 2.5, None, True]}},
                      agent={"name": "bomGenerator", "model": "openai/o1", "icon": "🧾"}, intent="BOM",
                      usage={"input_tokens": 1200, "output_tokens": 345}, latency_ms=812,
                      metadata={"trace": "t-1", "tags": ["a", "b"], "x": {"y": "z"}}),
        MessageCreate(role="tool", content="{\"ok\": true}", content_json=[1, "two", 3.0],
                      agent={"name": "wiringExpert"}, usage={"input_tokens": 0, "output_tokens": 0, "cost_usd": "0"}),
        MessageCreate(role="system", content="be brief", intent=None),
        MessageCreate(role="assistant", content="x" * 5000, agent={"name": "codeGenerator", "model": "unpriced/m"},
                      intent="CODE", usage={"input_tokens": 7, "output_tokens": 9, "cost_usd": "0.000123"}),
    ]
    for shape in shapes:
        await messages.append_message(db, me, chat.id, shape)
    async with db.acting_as(me) as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(f"select {messages.MESSAGE_COLUMNS} from public.messages m where m.chat_id = %s "
                          "order by m.sequence_number", (chat.id,))
        rows = await cur.fetchall()
    made = messages.messages_from_tuples(rows)
    validated = TypeAdapter(list[Message]).validate_python(messages.message_dicts(rows))
    assert len(made) == len(shapes) and made == validated
    assert [m.model_dump_json() for m in made] == [m.model_dump_json() for m in validated]
    assert [m.model_fields_set for m in made] == [m.model_fields_set for m in validated]
    assert made[1].agent.icon == "🧾" and made[1].usage.cost_usd == validated[1].usage.cost_usd
    assert made[0].agent is None and made[2].content_json == [1, "two", 3.0]
    copy = made[1].model_copy(update={"content": "changed"})
    made[2].content = "assigned"
    assert copy.content == "changed" and made[1].content == ""
    assert made[2].model_dump()["content"] == "assigned" and made[3].content == "be brief"
    assert (await chats.get_chat(db, me, chat.id)).messages == validated
