"""Chats and messages over HTTP, through the typed client, with real tokens.

Who may do what: the owner, another user, anon, an expired token, a forged
token, the service role — on every endpoint.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import jwt
import psycopg
import pytest
from psycopg.types.json import Jsonb

from ohm.auth import Identity, issue_token
from ohm.client import InvalidError, NotFoundError, OhmClient, UnauthorizedError

from .conftest import JWT_SECRET, acting


def bad_tokens(user) -> dict[str, str]:
    expired = issue_token(JWT_SECRET, user_id=user.id, now=time.time() - 7200, ttl_seconds=60)
    forged = issue_token("someone-elses-secret-" + "y" * 30, user_id=user.id)
    unsigned = jwt.encode({"role": "service_role", "exp": 9999999999}, None, algorithm="none")
    wrong_aud = jwt.encode({"role": "authenticated", "sub": str(user.id), "aud": "other", "exp": 9999999999},
                           JWT_SECRET, algorithm="HS256")
    return {"expired": expired, "forged": forged, "alg-none": unsigned, "wrong-audience": wrong_aud}


def count_messages(app_url, chat_id) -> int:
    with acting(app_url, Identity.service()) as conn:
        return conn.execute("select count(*) as n from messages where chat_id = %s", (chat_id,)).fetchone()["n"]


def chat_exists(app_url, chat_id) -> bool:
    with acting(app_url, Identity.service()) as conn:
        return conn.execute("select 1 from chats where id = %s", (chat_id,)).fetchone() is not None


# --- creating and reading chats ---------------------------------------------------------------


def test_create_and_load_a_chat_by_its_url(alice, user):
    chat = alice.create_chat(title="  Weather station  ")
    assert chat.url == f"/chat/{chat.id}"
    assert chat.user_id == user.id
    assert chat.title == "Weather station"
    assert chat.message_count == 0
    loaded = alice.get_chat(chat.id)
    assert loaded.id == chat.id and loaded.messages == [] and loaded.artifacts == [] and loaded.project is None


def test_writes_need_a_valid_token(anon, user, live_server, alice):
    chat = alice.create_chat()
    with pytest.raises(UnauthorizedError):
        anon.create_chat(title="x")
    with pytest.raises(UnauthorizedError):
        anon.post_message(chat.id, "user", "hi")
    for name, token in bad_tokens(user).items():
        with OhmClient(live_server, token=token) as client:
            for call in (lambda c=client: c.create_chat(), lambda c=client: c.get_chat(chat.id),
                         lambda c=client: c.list_chats()):
                with pytest.raises(UnauthorizedError) as info:
                    call()
                assert info.value.problem["status"] == 401, name
    response = httpx.get(f"{live_server}/v1/chats", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_private_chats_are_404_for_everyone_else(alice, bob, anon, service):
    chat = alice.create_chat(title="secret")
    alice.post_message(chat.id, "user", "my secret plan")
    for client in (bob, anon):
        with pytest.raises(NotFoundError):
            client.get_chat(chat.id)
        with pytest.raises(NotFoundError):
            client.list_messages(chat.id)
    # Unknown ids look exactly the same.
    with pytest.raises(NotFoundError) as unknown:
        bob.get_chat(uuid.uuid4())
    with pytest.raises(NotFoundError) as hidden:
        bob.get_chat(chat.id)
    assert unknown.value.problem == hidden.value.problem
    assert service.get_chat(chat.id).title == "secret"


def test_public_chats_are_readable_by_anyone_and_writable_only_by_the_owner(alice, bob, anon, app_url):
    chat = alice.create_chat(title="open hardware")
    first = alice.post_message(chat.id, "user", "hello world")
    alice.update_chat(chat.id, is_public=True)
    for client in (bob, anon):
        detail = client.get_chat(chat.id)
        assert [m.content for m in detail.messages] == ["hello world"]
        assert client.get_message(first.id).content == "hello world"
        assert client.list_messages(chat.id).items[0].id == first.id
    with pytest.raises(NotFoundError):
        bob.post_message(chat.id, "user", "let me in")
    with pytest.raises(NotFoundError):
        bob.update_chat(chat.id, title="mine")
    with pytest.raises(NotFoundError):
        bob.update_chat(chat.id)
    with pytest.raises(NotFoundError):
        bob.delete_chat(chat.id)
    with pytest.raises(UnauthorizedError):
        anon.update_chat(chat.id, title="mine")
    assert count_messages(app_url, chat.id) == 1
    assert alice.get_chat(chat.id).title == "open hardware"


def test_the_service_role_writes_on_behalf_of_a_user(service, alice, user):
    with pytest.raises(InvalidError, match="user_id"):
        service.create_chat(title="whose?")
    chat = service.create_chat(title="for alice", user_id=user.id)
    assert chat.user_id == user.id
    message = service.post_message(chat.id, "assistant", "from a background agent",
                                   agent={"name": "orchestrator", "model": "anthropic/claude-sonnet-4"})
    assert message.agent.name == "orchestrator"
    assert alice.get_chat(chat.id).messages[0].id == message.id
    with pytest.raises(InvalidError):
        alice.create_chat(user_id=uuid.uuid4())


def test_a_chat_can_only_join_your_own_project(alice, bob, other_user, app_url, user):
    with acting(app_url, other_user.identity) as conn:
        bobs_project = conn.execute("insert into projects (user_id, name) values (%s, 'bob''s') returning id",
                                    (other_user.id,)).fetchone()["id"]
    with acting(app_url, user.identity) as conn:
        own_project = conn.execute("insert into projects (user_id, name) values (%s, 'mine') returning id",
                                   (user.id,)).fetchone()["id"]
    before = len(list(alice.iter_chats(archived=None)))
    with pytest.raises(InvalidError, match="project"):
        alice.create_chat(project_id=bobs_project)
    assert len(list(alice.iter_chats(archived=None))) == before
    chat = alice.create_chat(project_id=own_project)
    detail = alice.get_chat(chat.id)
    assert detail.project.id == own_project and detail.project.name == "mine"
    with pytest.raises(InvalidError):
        alice.update_chat(chat.id, project_id=bobs_project)


def test_get_chat_includes_current_artifact_versions(alice, app_url, user):
    chat = alice.create_chat()
    reply = alice.post_message(chat.id, "assistant", "here is a BOM")
    with acting(app_url, user.identity) as conn:
        artifact = conn.execute(
            "insert into artifacts (chat_id, user_id, message_id, type, title) values (%s, %s, %s, 'bom', 'BOM') "
            "returning id", (chat.id, user.id, reply.id)).fetchone()["id"]
        v1 = conn.execute("insert into artifact_versions (artifact_id, user_id, content_json, change_summary) "
                          "values (%s, %s, %s, 'first') returning id",
                          (artifact, user.id, Jsonb({"parts": [{"name": "DHT22"}]}))).fetchone()["id"]
        conn.execute("insert into artifact_versions (artifact_id, user_id, parent_version_id, content_json, "
                     "change_summary) values (%s, %s, %s, %s, 'Replaced DHT22 with BME280')",
                     (artifact, user.id, v1, Jsonb({"parts": [{"name": "BME280"}]})))
    detail = alice.get_chat(chat.id)
    assert len(detail.artifacts) == 1
    art = detail.artifacts[0]
    assert (art.type, art.current_version, art.total_versions, art.message_id) == ("bom", 2, 2, reply.id)
    assert art.content_json == {"parts": [{"name": "BME280"}]}
    assert art.change_summary == "Replaced DHT22 with BME280"


async def test_the_chat_json_is_byte_for_byte_what_the_models_write(user, app_url, database_url):
    """GET /v1/chats/{id} writes its messages straight from the rows (get_chat_json); the document must be
    exactly what ChatDetail would serialise, for every kind of value a message can hold."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from psycopg.rows import dict_row

    from ohm.db.session import Database
    from ohm.store import chats as chat_store
    from ohm.store import messages as message_store

    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:  # as the owner
        project = conn.execute("insert into projects (user_id, name, budget_amount) values (%s, 'p', 12.5) "
                               "returning id", (user.id,)).fetchone()["id"]
        chat = conn.execute("insert into chats (user_id, project_id, title) values (%s, %s, 'ünïcødé ✓') "
                            "returning id", (user.id, project)).fetchone()["id"]
        values = [
            ("user", "plain", None, None, None, None, 0, 0, None, None, {}, None),
            ("assistant", 'quotes " \\ \n\t and \u0001 and emoji 🔌 and RTL שלום', [1, 2.5, -0.0001, 1e-7, 10**15],
             "bomGenerator", "openai/o1", "📦", 2500, 1800, None, 1234, {"nested": {"a": [True, None, 3.3]}}, None),
            ("assistant", "own cost", {"k": "v"}, "coder", "unknown-model", None, 1, 2, Decimal("0.000001"), 0,
             {"x": 1}, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # no microseconds
        ]
        parent = None
        for role, content, cj, agent, model, icon, tin, tout, cost, latency, metadata, at in values:
            parent = conn.execute(
                """insert into messages (chat_id, user_id, parent_id, role, content, content_json, agent_name,
                                         agent_model, agent_icon, input_tokens, output_tokens, cost_usd, latency_ms,
                                         metadata, created_at)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()))
                   returning id""",
                (chat, user.id, parent, role, content, Jsonb(cj) if cj is not None else None, agent, model, icon,
                 tin, tout, cost, latency, Jsonb(metadata), at)).fetchone()["id"]
        conn.execute("insert into artifacts (chat_id, user_id, type, title) values (%s, %s, 'document', 'notes')",
                     (chat, user.id))
    async with Database(app_url) as db:
        for identity in (user.identity, Identity.service()):
            typed = await chat_store.get_chat(db, identity, chat)
            assert len(typed.messages) == 3
            assert await chat_store.get_chat_json(db, identity, chat) == typed.model_dump_json().encode()
            for options in ({}, {"whole_tree": True, "limit": 2}, {"after_sequence": 1, "limit": 1}):
                page = await message_store.list_messages(db, identity, chat, **options)
                raw = await message_store.list_messages_json(db, identity, chat, **options)
                assert raw == page.model_dump_json().encode()


async def test_every_column_reaches_every_path_under_its_own_name(user, app_url, database_url, live_server):
    """Distinct values in every column of a message, read back through each way OHM hands out messages:
    swapping two columns of the same type (input and output tokens, agent name and model) anywhere in the
    SQL or the mapping must fail here (comparing two outputs of one mapper would not notice)."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from psycopg.rows import dict_row

    from ohm.db.session import Database
    from ohm.store import chats as chat_store
    from ohm.store import messages as message_store
    from ohm.store import realtime as realtime_store

    created = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:  # as the owner
        chat = conn.execute("insert into chats (user_id, is_public) values (%s, true) returning id",
                            (user.id,)).fetchone()["id"]
        root = conn.execute("insert into messages (chat_id, user_id, role, content) values (%s, %s, 'user', 'q') "
                            "returning id", (chat, user.id)).fetchone()["id"]
        message = conn.execute(
            """insert into messages (chat_id, user_id, parent_id, role, content, content_json, agent_name, agent_model,
                                     agent_icon, intent, input_tokens, output_tokens, cost_usd, latency_ms, metadata,
                                     created_at)
               values (%s, %s, %s, 'assistant', 'the content', %s, 'the-agent', 'the-model-x1', '🔌', 'WIRING',
                       111, 222, 3.333333, 444, %s, %s)
               returning id""",
            (chat, user.id, root, Jsonb({"json": "content"}), Jsonb({"meta": "data"}), created)).fetchone()["id"]
    expected = {"id": str(message), "chat_id": str(chat), "parent_id": str(root), "sequence_number": 2,
                "role": "assistant", "content": "the content", "content_json": {"json": "content"},
                "agent": {"name": "the-agent", "model": "the-model-x1", "icon": "🔌"}, "intent": "WIRING",
                "usage": {"input_tokens": 111, "output_tokens": 222, "cost_usd": "3.333333"}, "latency_ms": 444,
                "metadata": {"meta": "data"}, "created_at": "2026-03-04T05:06:07.890000Z"}

    def same(document: dict, where: str) -> None:
        got = {k: document.get(k) for k in expected}
        if isinstance(got["usage"], dict) and got["usage"].get("cost_usd") is not None:
            got["usage"] = {**got["usage"], "cost_usd": str(Decimal(str(got["usage"]["cost_usd"])).normalize())}
        want = {**expected, "usage": {**expected["usage"], "cost_usd": str(Decimal("3.333333").normalize())}}
        if got["created_at"] is not None:
            got["created_at"] = datetime.fromisoformat(str(got["created_at"]).replace("Z", "+00:00")).isoformat()
            want["created_at"] = created.isoformat()
        assert got == want, where

    async with Database(app_url) as db:
        same((await chat_store.get_chat(db, user.identity, chat)).messages[1].model_dump(mode="json"), "library")
        page = await message_store.list_messages(db, user.identity, chat)
        same(page.items[1].model_dump(mode="json"), "library list")
        events = [e for e in await realtime_store.events_after(db, user.identity, chat, 0) if e["id"] == message]
        await realtime_store.attach_rows(db, user.identity, events)
        same(json.loads(json.dumps(events[0]["data"], default=str)), "realtime")
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {user.token()}"}) as http:
        same(http.get(f"/v1/chats/{chat}").json()["messages"][1], "GET chat")
        same(http.get(f"/v1/chats/{chat}/messages").json()["items"][1], "GET messages")
        same(http.get(f"/v1/messages/{message}").json(), "GET message")
        token = http.post(f"/v1/chats/{chat}/shares", json={}).json()["token"]
        shared = http.get(f"/v1/shares/{token}").json()["messages"][1]
        same({**shared, "chat_id": str(chat)}, "share")  # a share leaves the chat's id out
        posted = http.post(f"/v1/chats/{chat}/messages", json={
            "role": "assistant", "content": "the content", "content_json": {"json": "content"},
            "agent": {"name": "the-agent", "model": "the-model-x1", "icon": "🔌"}, "intent": "WIRING",
            "usage": {"input_tokens": 111, "output_tokens": 222, "cost_usd": "3.333333"}, "latency_ms": 444,
            "metadata": {"meta": "data"}, "parent_id": str(root)}).json()
        assert (posted["usage"], posted["agent"], posted["latency_ms"], posted["intent"]) == (
            {"input_tokens": 111, "output_tokens": 222, "cost_usd": "3.333333"},
            expected["agent"], 444, "WIRING"), "POST answer"


# --- listing ------------------------------------------------------------------------------------


def test_list_is_mine_only_newest_activity_first(alice, bob):
    mine = [alice.create_chat(title=f"chat {i}") for i in range(3)]
    bob.create_chat(title="bob's")
    alice.post_message(mine[0].id, "user", "bump")  # most recent activity now
    listed = [c.id for c in alice.iter_chats()]
    assert listed[0] == mine[0].id
    assert set(listed) >= {c.id for c in mine}
    assert all(c.user_id == mine[0].user_id for c in alice.iter_chats())


def test_keyset_pagination_is_stable_while_chats_are_created(make_user, live_server):
    owner = make_user("pager")
    with OhmClient(live_server, token=owner.token()) as client:
        original = {client.create_chat(title=f"c{i}").id for i in range(25)}
        seen: list[uuid.UUID] = []
        page = client.list_chats(limit=10)
        while True:
            seen.extend(c.id for c in page.items)
            client.create_chat(title="created while paging")  # lands before the cursor
            if page.next_cursor is None:
                break
            page = client.list_chats(limit=10, cursor=page.next_cursor)
        assert len(seen) == len(set(seen)), "no chat twice"
        assert original <= set(seen), "no original chat skipped"


def test_list_filters(alice, app_url, user):
    with acting(app_url, user.identity) as conn:
        project = conn.execute("insert into projects (user_id, name) values (%s, 'p') returning id",
                               (user.id,)).fetchone()["id"]
    in_project = alice.create_chat(project_id=project)
    archived = alice.create_chat()
    alice.update_chat(archived.id, is_archived=True)
    pinned = alice.create_chat()
    alice.update_chat(pinned.id, is_pinned=True)
    assert [c.id for c in alice.list_chats(project_id=project).items] == [in_project.id]
    assert archived.id not in {c.id for c in alice.iter_chats()}
    assert archived.id in {c.id for c in alice.iter_chats(archived=True)}
    assert {archived.id, pinned.id} <= {c.id for c in alice.iter_chats(archived=None)}
    assert [c.id for c in alice.list_chats(pinned=True).items] == [pinned.id]


def test_anon_lists_nothing(anon, alice):
    alice.create_chat()
    assert anon.list_chats().items == []


def test_bad_cursor_and_limits_are_422(alice):
    for kwargs in ({"cursor": "!!!"}, {"cursor": "WzFd"}, {"limit": 0}, {"limit": 10_000}):
        with pytest.raises(InvalidError):
            alice.list_chats(**kwargs)


# --- updating and deleting ----------------------------------------------------------------------


def test_update_fields(alice):
    chat = alice.create_chat(title="old")
    updated = alice.update_chat(chat.id, title="new", phase="wiring", is_pinned=True)
    assert (updated.title, updated.phase, updated.is_pinned) == ("new", "wiring", True)
    assert alice.update_chat(chat.id, title=None).title is None
    with pytest.raises(InvalidError):
        alice.update_chat(chat.id, phase="soldering")
    with pytest.raises(InvalidError):
        alice.update_chat(chat.id, is_pinned=None)
    with pytest.raises(InvalidError):
        alice.update_chat(chat.id, colour="red")
    with pytest.raises(InvalidError):
        alice.update_chat(chat.id, title="x" * 301)


def test_delete_cascades(alice, bob, app_url):
    chat = alice.create_chat()
    for i in range(3):
        alice.post_message(chat.id, "user", f"m{i}")
    with pytest.raises(NotFoundError):
        bob.delete_chat(chat.id)
    assert chat_exists(app_url, chat.id)
    alice.delete_chat(chat.id)
    assert not chat_exists(app_url, chat.id)
    assert count_messages(app_url, chat.id) == 0
    with pytest.raises(NotFoundError):
        alice.get_chat(chat.id)
    with pytest.raises(NotFoundError):
        alice.delete_chat(chat.id)


# --- messages ------------------------------------------------------------------------------------


def test_messages_carry_agent_intent_usage_and_update_the_chat(alice):
    chat = alice.create_chat()
    question = alice.post_message(chat.id, "user", "Which temperature sensor works outdoors, on a balcony?")
    answer = alice.post_message(chat.id, "assistant", "A BME280 in a radiation shield.",
                                agent={"name": "bomGenerator", "model": "openai/o1", "icon": "📦"},
                                intent="BOM", usage={"input_tokens": 2500, "output_tokens": 1800,
                                                     "cost_usd": "0.1455"},
                                latency_ms=9100, metadata={"tool_calls": 2}, content_json={"parts": ["BME280"]})
    assert (question.sequence_number, answer.sequence_number) == (1, 2)
    assert answer.parent_id == question.id
    assert answer.agent.model == "openai/o1" and answer.agent.icon == "📦"
    assert answer.intent == "BOM"
    assert (answer.usage.input_tokens, answer.usage.output_tokens, str(answer.usage.cost_usd)) == (
        2500, 1800, "0.145500")
    detail = alice.get_chat(chat.id)
    assert detail.title == "Which temperature sensor works outdoors, on a balcony?"
    assert detail.message_count == 2
    assert detail.current_leaf_id == answer.id
    assert detail.last_message_at >= answer.created_at
    assert (detail.total_input_tokens, detail.total_output_tokens) == (2500, 1800)
    assert [m.id for m in detail.messages] == [question.id, answer.id]


@pytest.mark.parametrize("payload, status", [
    ({"role": "user", "content": "x" * (1024 * 1024 + 1)}, 413),
    ({"role": "user", "content": "é" * (512 * 1024 + 1)}, 413),  # counted in UTF-8 bytes
    ({"role": "user", "metadata": {"blob": "x" * (256 * 1024)}}, 413),
    ({"role": "user", "content_json": ["y" * (256 * 1024)]}, 413),
    ({"role": "wizard", "content": "hi"}, 422),
    ({"role": "assistant", "content": "hi", "intent": "DANCE"}, 422),
    ({"role": "user", "content": "hi", "parent_id": "not-a-uuid"}, 422),
    ({"role": "user", "content": "hi", "parent_id": str(uuid.uuid4())}, 422),
    ({"role": "user", "content": "nul \x00 byte"}, 422),
    ({"role": "user", "content": "hi", "surprise": True}, 422),
    ({"role": "user", "usage": {"input_tokens": -1}}, 422),
    ({"role": "user", "usage": {"input_tokens": 2**31}}, 422),
    ({"role": "user", "latency_ms": -5}, 422),
    ({"role": "user", "agent": {"name": ""}}, 422),
    ({"content": "no role"}, 422),
    ([], 422),
])
def test_bad_message_input_is_refused_and_writes_nothing(alice, live_server, user, app_url, payload, status):
    chat = alice.create_chat()
    alice.post_message(chat.id, "user", "existing")
    response = httpx.post(f"{live_server}/v1/chats/{chat.id}/messages", json=payload,
                          headers={"Authorization": f"Bearer {user.token()}"}, timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"]
    assert count_messages(app_url, chat.id) == 1
    assert alice.get_chat(chat.id).message_count == 1


def test_content_of_exactly_one_mib_is_accepted(alice):
    chat = alice.create_chat()
    message = alice.post_message(chat.id, "user", "a" * (1024 * 1024))
    assert len(alice.get_message(message.id).content) == 1024 * 1024


def test_parent_in_another_chat_is_422(alice):
    one, two = alice.create_chat(), alice.create_chat()
    elsewhere = alice.post_message(one.id, "user", "in chat one")
    with pytest.raises(InvalidError, match="parent_id"):
        alice.post_message(two.id, "user", "reply", parent_id=elsewhere.id)


def test_malformed_ids_are_422(alice, live_server, user):
    headers = {"Authorization": f"Bearer {user.token()}"}
    for method, path in (("GET", "/v1/chats/123"), ("GET", "/v1/messages/xyz"), ("DELETE", "/v1/chats/nope"),
                         ("POST", "/v1/chats/nope/messages"), ("PATCH", "/v1/chats/nope")):
        response = httpx.request(method, f"{live_server}{path}", headers=headers, json={"role": "user"})
        assert response.status_code == 422, (method, path)
        assert response.json()["errors"]


def test_a_body_over_the_limit_is_413_before_it_is_read(live_server, user, alice):
    chat = alice.create_chat()
    response = httpx.post(f"{live_server}/v1/chats/{chat.id}/messages", content=b"{" + b" " * (5 * 1024 * 1024),
                          headers={"Authorization": f"Bearer {user.token()}", "content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_other_users_and_anon_cannot_append(alice, bob, anon, app_url):
    chat = alice.create_chat()
    with pytest.raises(NotFoundError):
        bob.post_message(chat.id, "user", "intrusion")
    with pytest.raises(UnauthorizedError):
        anon.post_message(chat.id, "user", "intrusion")
    assert count_messages(app_url, chat.id) == 0


# --- branches -------------------------------------------------------------------------------------


def test_editing_message_two_of_five_starts_a_branch_and_keeps_the_old_one(alice):
    chat = alice.create_chat()
    m = [alice.post_message(chat.id, "user" if i % 2 == 0 else "assistant", f"m{i + 1}") for i in range(5)]
    edited = alice.post_message(chat.id, "assistant", "m2 edited", parent_id=m[0].id)
    assert edited.sequence_number == 6
    active = alice.get_chat(chat.id)
    assert [x.content for x in active.messages] == ["m1", "m2 edited"]
    assert active.current_leaf_id == edited.id
    old = alice.list_messages(chat.id, leaf_id=m[4].id)
    assert [x.content for x in old.items] == ["m1", "m2", "m3", "m4", "m5"]
    detail = alice.get_message(edited.id)
    assert detail.sibling_ids == [m[1].id, edited.id]
    assert detail.sibling_index == 1
    assert alice.get_message(m[0].id).child_ids == [m[1].id, edited.id]
    assert len(alice.list_messages(chat.id, whole_tree=True).items) == 6
    # Switch back to the old branch.
    alice.update_chat(chat.id, current_leaf_id=m[4].id)
    assert [x.content for x in alice.get_chat(chat.id).messages] == ["m1", "m2", "m3", "m4", "m5"]
    # A new message continues the active (old) branch.
    cont = alice.post_message(chat.id, "user", "m6")
    assert cont.parent_id == m[4].id


def test_regenerate_and_new_root(alice):
    chat = alice.create_chat()
    q = alice.post_message(chat.id, "user", "question")
    a1 = alice.post_message(chat.id, "assistant", "answer one")
    a2 = alice.post_message(chat.id, "assistant", "answer two", parent_id=q.id)
    assert alice.get_message(a2.id).sibling_ids == [a1.id, a2.id]
    root2 = alice.post_message(chat.id, "user", "question, rephrased", parent_id=None)
    assert root2.parent_id is None
    assert [x.id for x in alice.get_chat(chat.id).messages] == [root2.id]
    assert alice.get_message(root2.id).sibling_ids == [q.id, root2.id]


def test_leaf_from_another_chat_is_422(alice):
    one, two = alice.create_chat(), alice.create_chat()
    foreign = alice.post_message(two.id, "user", "x")
    with pytest.raises(InvalidError, match="current_leaf_id"):
        alice.update_chat(one.id, current_leaf_id=foreign.id)
    with pytest.raises(InvalidError, match="leaf_id"):
        alice.list_messages(one.id, leaf_id=foreign.id)


def test_message_paging_is_stable_under_inserts(alice):
    chat = alice.create_chat()
    for i in range(25):
        alice.post_message(chat.id, "user", f"m{i}")
    seen = []
    after = 0
    while True:
        page = alice.list_messages(chat.id, after_sequence=after, limit=10)
        seen.extend(m.sequence_number for m in page.items)
        alice.post_message(chat.id, "assistant", "arrives while paging")
        if page.next_after_sequence is None:
            break
        after = page.next_after_sequence
    assert seen == sorted(set(seen))
    assert seen[:25] == list(range(1, 26))


# --- many writers ---------------------------------------------------------------------------------


@pytest.mark.slow
async def test_32_concurrent_writers_get_gap_free_sequence_numbers(live_server, make_user):
    import asyncio

    from ohm.client import AsyncOhmClient

    owner = make_user("busy")
    async with AsyncOhmClient(live_server, token=owner.token(), timeout=120) as first:
        chat = await first.create_chat(title="busy chat")

    async def writer(n: int) -> list[int]:
        async with AsyncOhmClient(live_server, token=owner.token(), timeout=120) as client:
            return [(await client.post_message(chat.id, "assistant", f"w{n} m{i}")).sequence_number
                    for i in range(50)]

    results = await asyncio.gather(*(writer(n) for n in range(32)))
    numbers = sorted(n for r in results for n in r)
    assert numbers == list(range(1, 1601))
    for r in results:
        assert r == sorted(r), "each writer sees its own messages in order"
    async with AsyncOhmClient(live_server, token=owner.token()) as client:
        detail = await client.get_chat(chat.id)
    assert detail.message_count == 1600
    assert detail.messages[-1].sequence_number == 1600


def test_model_literals_match_the_database_enums(database_url):
    from typing import get_args

    from ohm import models

    with psycopg.connect(database_url) as conn:
        def labels(name: str) -> list[str]:
            return [r[0] for r in conn.execute(
                "select enumlabel from pg_enum where enumtypid = %s::regtype order by enumsortorder", (name,))]

        assert list(get_args(models.MessageRole)) == labels("message_role")
        assert list(get_args(models.Intent)) == labels("agent_intent")
        assert list(get_args(models.ChatPhase)) == labels("chat_phase")
        assert list(get_args(models.ArtifactType)) == labels("artifact_type")
        assert list(get_args(models.ProjectStatus)) == labels("project_status")
