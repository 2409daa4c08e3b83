"""A front end that talks to the tables directly, as supabase-js does through PostgREST.

Each statement runs in its own transaction as PostgREST runs it: logged in as
the authenticator role, ``role`` and ``request.jwt.claims`` set for the
transaction from the user's JWT.  What a user writes this way is numbered,
priced, counted, evented and logged by the same triggers as through OHM's API;
what the database maintains cannot be forged; another user and anon see and
change nothing.  Every test runs through OHM's server role and through
Supabase's PostgREST role on a database built from Supabase's own SQL.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ohm.auth import Identity

from .conftest import ApiTarget, User, acting


class Rest:
    """One identity's requests: each call is one transaction, as a PostgREST request is (with the request's
    headers in ``request.headers``, as PostgREST passes them on)."""

    def __init__(self, target: ApiTarget, identity: Identity, user_agent: str = "test") -> None:
        self.target, self.identity = target, identity
        self.headers = json.dumps({"user-agent": user_agent, "x-forwarded-for": "203.0.113.7"})

    def rows(self, query: str, *params: Any) -> list[dict[str, Any]]:
        with acting(self.target.url, self.identity) as conn:
            conn.execute("select set_config('request.headers', %s, true)", (self.headers,))
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def one(self, query: str, *params: Any) -> dict[str, Any] | None:
        found = self.rows(query, *params)
        return found[0] if found else None

    def count(self, query: str, *params: Any) -> int:
        with acting(self.target.url, self.identity) as conn:
            return conn.execute(query, params).rowcount


def owner_sql(target: ApiTarget, query: str, *params: Any) -> list[dict[str, Any]]:
    """The truth, read as the database owner (no row-level security in the way)."""
    with psycopg.connect(target.owner_url, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def people(api_target: ApiTarget) -> dict[str, Any]:
    alice, bob = api_target.make_user("alice"), api_target.make_user("bob")
    return {"alice": alice, "bob": bob, "as_alice": Rest(api_target, alice.identity, "alice's browser"),
            "as_bob": Rest(api_target, bob.identity, "bob's browser"),
            "as_anon": Rest(api_target, Identity.anon(), "a visitor's browser")}


def new_chat(rest: Rest, **fields: Any) -> uuid.UUID:
    columns = ", ".join(fields) or "title"
    values = ", ".join(["%s"] * len(fields)) or "null"
    return rest.one(f"insert into chats ({columns}) values ({values}) returning id", *fields.values())["id"]


# --- what a user writes, the database completes ------------------------------------------------------------


def test_a_chat_and_its_messages_are_completed_by_the_database(api_target, people):
    alice, rest = people["alice"], people["as_alice"]
    chat = rest.one("insert into chats (title) values (null) returning id, user_id, message_count, created_at")
    assert chat["user_id"] == alice.id, "user_id defaults to the caller"
    question = rest.one("insert into messages (chat_id, role, content) values (%s, 'user', %s) "
                        "returning id, user_id, sequence_number, parent_id",
                        chat["id"], "An ESP32 weather station for my balcony")
    answer = rest.one(
        "insert into messages (chat_id, parent_id, role, content, agent_name, agent_model, intent, input_tokens, "
        "output_tokens) values (%s, %s, 'assistant', 'Start with a BME280.', 'bomGenerator', 'openai/o1', 'BOM', "
        "2500, 1800) returning sequence_number, cost_usd, user_id", chat["id"], question["id"])
    assert (question["sequence_number"], answer["sequence_number"]) == (1, 2)
    assert question["user_id"] == answer["user_id"] == alice.id
    assert answer["cost_usd"] == Decimal("0.145500"), "o1 at $15 / $60 per million tokens"
    state = rest.one("select title, message_count, total_input_tokens, total_cost_usd, current_leaf_id, "
                     "last_event_seq from chats where id = %s", chat["id"])
    assert state["title"] == "An ESP32 weather station for my balcony"
    assert (state["message_count"], state["total_input_tokens"], state["total_cost_usd"]) == (
        2, 2500, Decimal("0.145500"))
    assert state["last_event_seq"] == 2
    events = rest.rows("select kind, event_seq from realtime_events where chat_id = %s order by event_seq",
                       chat["id"])
    assert [(e["kind"], e["event_seq"]) for e in events] == [("message.created", 1), ("message.created", 2)]
    actions = [r["action"] for r in rest.rows(
        "select action from activity_log where chat_id = %s order by id", chat["id"])]
    assert actions == ["chat.created", "message.created", "message.created"]
    # The profile's totals, as computed fields (profiles?select=message_count,total_cost_usd in PostgREST).
    profile = rest.one("select p.message_count, p.total_cost_usd from profiles p where id = %s", alice.id)
    assert profile["message_count"] >= 2 and profile["total_cost_usd"] >= Decimal("0.1455")


def test_owners_edit_their_chat_and_switch_branches(people):
    rest = people["as_alice"]
    chat = new_chat(rest)
    first = rest.one("insert into messages (chat_id, role, content) values (%s, 'user', 'v1') returning id", chat)
    second = rest.one("insert into messages (chat_id, role, content) values (%s, 'assistant', 'a') returning id",
                      chat)
    edit = rest.one("insert into messages (chat_id, role, content, parent_id) values (%s, 'user', 'v2', null) "
                    "returning id", chat)
    assert rest.count("update chats set title = 'Balcony station', is_pinned = true, phase = 'bom' "
                      "where id = %s", chat) == 1
    assert rest.one("select is_branched, current_leaf_id from chats where id = %s", chat) == {
        "is_branched": True, "current_leaf_id": edit["id"]}
    # Back to the first branch: the leaf must be a message of this chat.
    assert rest.count("update chats set current_leaf_id = %s where id = %s", second["id"], chat) == 1
    other = new_chat(rest)
    foreign = rest.one("insert into messages (chat_id, role) values (%s, 'user') returning id", other)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="not a message of this chat"):
        rest.count("update chats set current_leaf_id = %s where id = %s", foreign["id"], chat)
    # Deleting the leaf clears it (the chat then shows its newest branch), as the old foreign key did.
    assert rest.count("delete from messages where id = %s", second["id"]) == 1
    state = rest.one("select current_leaf_id, message_count from chats where id = %s", chat)
    assert state == {"current_leaf_id": None, "message_count": 2}
    assert rest.one("select count(*) as n from messages where id = %s", first["id"])["n"] == 1


def test_artifacts_versions_and_projects_written_directly(people):
    alice, rest = people["alice"], people["as_alice"]
    project = rest.one("insert into projects (name, goal, budget_amount) values ('Station', 'Weather', 60) "
                       "returning id, user_id")
    assert project["user_id"] == alice.id
    chat = new_chat(rest, project_id=project["id"])
    bom = rest.one("insert into artifacts (chat_id, project_id, type, title) values (%s, %s, 'bom', 'BOM') "
                   "returning id, user_id, current_version", chat, project["id"])
    assert (bom["user_id"], bom["current_version"]) == (alice.id, None)
    v1 = rest.one("insert into artifact_versions (artifact_id, content_json, change_summary) values (%s, %s, 'first') "
                  "returning id, version_number", bom["id"],
                  Jsonb({"parts": [{"name": "ESP32-DevKitC", "quantity": 1}, {"name": "BME280", "quantity": 1}]}))
    v2 = rest.one("insert into artifact_versions (artifact_id, parent_version_id, content_json) values (%s, %s, %s) "
                  "returning version_number", bom["id"], v1["id"], Jsonb({"parts": [{"name": "ESP32-S3"}]}))
    assert (v1["version_number"], v2["version_number"]) == (1, 2)
    assert rest.one("select current_version, total_versions from artifacts where id = %s", bom["id"]) == {
        "current_version": 2, "total_versions": 2}
    parts = rest.rows("select name, project_id from parts where artifact_version_id = %s order by position", v1["id"])
    assert [p["name"] for p in parts] == ["ESP32-DevKitC", "BME280"] and parts[0]["project_id"] == project["id"]
    # History is immutable, also directly.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        rest.count("update artifact_versions set change_summary = 'rewritten' where id = %s", v1["id"])


# --- what the database maintains cannot be forged ------------------------------------------------------------------


FORGERIES = [
    ("a message's number", "insert into messages (chat_id, role, sequence_number) values (%(chat)s, 'user', 7)"),
    ("a message's time", "insert into messages (chat_id, role, created_at) values (%(chat)s, 'user', '2001-01-01')"),
    ("a chat's counters", "update chats set message_count = 1000, total_cost_usd = 0 where id = %(chat)s"),
    ("a chat's time", "insert into chats (created_at) values ('2001-01-01')"),
    ("a chat's owner", "update chats set user_id = %(bob)s where id = %(chat)s"),
    ("a chat for someone else", "insert into chats (user_id) values (%(bob)s)"),
    ("a message's usage afterwards", "update messages set cost_usd = 0, input_tokens = 0 where chat_id = %(chat)s"),
    ("a version's number", "insert into artifact_versions (artifact_id, version_number, content_text) "
                           "values (%(artifact)s, 9, 'x')"),
    ("an artifact's pointers", "update artifacts set current_version = 5, total_versions = 5 where id = %(artifact)s"),
    ("a share's views", "update shared_chats set view_count = 1000000 where chat_id = %(chat)s"),
    ("a share's forks", "insert into shared_chats (chat_id, share_token, fork_count) "
                        "values (%(chat)s, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 9)"),
    ("a profile's totals", "update ohm.usage_counters set total_cost_usd = 0, message_count = 0 "
                          "where user_id = %(alice)s"),
    ("a profile's totals, added", "insert into ohm.usage_counters (user_id, slot, message_count) "
                                  "values (%(alice)s, 31, -100)"),
    ("a profile's tier", "update profiles set subscription_tier = 'enterprise' where id = %(alice)s"),
    ("the activity log", "insert into activity_log (user_id, action, entity_type) values (%(alice)s, 'x.y', 'chat')"),
    ("a realtime event", "insert into realtime_events (chat_id, user_id, event_seq, kind, entity_id) "
                         "values (%(chat)s, %(alice)s, 99, 'chat.updated', %(chat)s)"),
    ("an upload's record", "insert into attachments (storage_path, filename, mime_type, size_bytes, sha256) "
                           "values ('x', 'x', 'a/b', 1, repeat('a', 64))"),
]


@pytest.mark.parametrize("what,statement", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_what_the_database_maintains_cannot_be_forged(api_target, people, what, statement):
    alice, rest = people["alice"], people["as_alice"]
    chat = new_chat(rest)
    rest.rows("insert into messages (chat_id, role, agent_model, input_tokens) values (%s, 'user', 'o1', 10)", chat)
    artifact = rest.one("insert into artifacts (chat_id, type, title) values (%s, 'document', 'Notes') returning id",
                        chat)["id"]
    rest.rows("insert into artifact_versions (artifact_id, content_text) values (%s, 'v1')", artifact)
    rest.rows("select share_chat(%s)", chat)
    names = {"chat": chat, "artifact": artifact, "alice": alice.id, "bob": people["bob"].id}
    tables = ("chats", "messages", "artifacts", "artifact_versions", "shared_chats", "profiles", "activity_log",
              "realtime_events", "attachments", "ohm.usage_counters")
    truth = {t: owner_sql(api_target, f"select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h "
                                      f"from {t} x")[0]["h"] for t in tables}
    with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.CheckViolation)):
        with acting(api_target.url, alice.identity) as conn:
            conn.execute(statement, names)
    assert {t: owner_sql(api_target, f"select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h "
                                     f"from {t} x")[0]["h"] for t in tables} == truth, f"{what} changed"


def test_a_cost_is_the_database_s_when_it_knows_the_price(people):
    rest = people["as_alice"]
    chat = new_chat(rest)
    priced = rest.one("insert into messages (chat_id, role, agent_model, input_tokens, output_tokens, cost_usd) "
                      "values (%s, 'assistant', 'anthropic/claude-sonnet-4-20250514', 1000, 1000, 0.000001) "
                      "returning cost_usd", chat)
    assert priced["cost_usd"] == Decimal("0.018000"), "claude-sonnet-4: $3 + $15 per million tokens"
    unpriced = rest.one("insert into messages (chat_id, role, agent_model, input_tokens, cost_usd) "
                        "values (%s, 'assistant', 'acme/home-llm', 1000, 0.25) returning cost_usd", chat)
    assert unpriced["cost_usd"] == Decimal("0.250000"), "without a price the agent's own figure is all there is"
    assert rest.one("select total_cost_usd from chats where id = %s", chat)["total_cost_usd"] == Decimal("0.268000")


# --- others and anon ---------------------------------------------------------------------------------------------


def test_another_user_and_anon_neither_see_nor_change_direct_writes(people):
    rest, bob, anon = people["as_alice"], people["as_bob"], people["as_anon"]
    chat = new_chat(rest, title="Private")
    message = rest.one("insert into messages (chat_id, role, content) values (%s, 'user', 'secret') returning id",
                       chat)["id"]
    for who in (bob, anon):
        assert who.rows("select id from chats where id = %s", chat) == []
        assert who.rows("select id from messages where chat_id = %s", chat) == []
    assert bob.count("update chats set title = 'mine' where id = %s", chat) == 0
    assert bob.count("delete from messages where id = %s", message) == 0
    with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ForeignKeyViolation)):
        bob.rows("insert into messages (chat_id, role) values (%s, 'user')", chat)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        anon.rows("insert into chats (title) values ('x')")
    assert rest.one("select title, message_count from chats where id = %s", chat) == {
        "title": "Private", "message_count": 1}


# --- rpc: what needs more than one table -----------------------------------------------------------------------


def conversation(rest: Rest) -> dict[str, Any]:
    chat = new_chat(rest, title="Weather station")
    m1 = rest.one("insert into messages (chat_id, role, content) values (%s, 'user', 'A weather station with a "
                  "BME280 sensor') returning id", chat)["id"]
    m2 = rest.one("insert into messages (chat_id, role, content, agent_name, agent_model, input_tokens, "
                  "output_tokens) values (%s, 'assistant', 'Here is a BOM.', 'bomGenerator', 'o1', 100, 100) "
                  "returning id", chat)["id"]
    artifact = rest.one("insert into artifacts (chat_id, message_id, type, title) values (%s, %s, 'bom', 'BOM') "
                        "returning id", chat, m2)["id"]
    rest.rows("insert into artifact_versions (artifact_id, created_by_message_id, content_json) values (%s, %s, %s)",
              artifact, m2, Jsonb({"parts": [{"name": "BME280", "mpn": "BME280"}]}))
    rest.rows("insert into artifact_versions (artifact_id, content_json, change_summary) values (%s, %s, 'cheaper')",
              artifact, Jsonb({"parts": [{"name": "BMP280", "mpn": "BMP280"}]}))
    return {"chat": chat, "messages": [m1, m2], "artifact": artifact}


def test_rpc_share_read_and_fork(people):
    rest, bob, anon = people["as_alice"], people["as_bob"], people["as_anon"]
    c = conversation(rest)
    share = rest.one("select * from share_chat(%s)", c["chat"])
    assert len(share["share_token"]) >= 43 and share["up_to_message_id"] == c["messages"][1]
    assert share["artifact_versions"] == {str(c["artifact"]): 2}
    # Only the owner shares; others are told the chat does not exist, anon may not call it at all.
    with pytest.raises(psycopg.Error, match="chat not found") as refused:
        bob.rows("select * from share_chat(%s)", c["chat"])
    assert refused.value.sqlstate == "PT404"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        anon.rows("select * from share_chat(%s)", c["chat"])
    # Anyone with the token reads the snapshot; each read is one view.
    shown = anon.one("select read_share(%s) as s", share["share_token"])["s"]
    assert [m["content"] for m in shown["messages"]] == ["A weather station with a BME280 sensor", "Here is a BOM."]
    assert shown["artifacts"][0]["version"] == 2 and shown["attachments"] == []
    bob.one("select read_share(%s) as s", share["share_token"])
    anon.one("select read_share(%s) as s", share["share_token"])  # the same visitor again: not counted
    assert rest.one("select view_count from shared_chats where id = %s", share["id"])["view_count"] == 2
    with pytest.raises(psycopg.Error, match="share not found"):
        anon.rows("select read_share('no-such-token-aaaaaaaaaaaaaaa')")
    # Bob forks the share into a chat of his own; anon cannot fork.
    fork = bob.one("select * from fork_share(%s)", share["share_token"])
    assert fork["user_id"] == people["bob"].id and fork["message_count"] == 2
    copied = bob.rows("select sequence_number, content from messages where chat_id = %s order by 1", fork["id"])
    assert [m["content"] for m in copied] == ["A weather station with a BME280 sensor", "Here is a BOM."]
    assert rest.one("select fork_count from shared_chats where id = %s", share["id"])["fork_count"] == 1
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        anon.rows("select * from fork_share(%s)", share["share_token"])
    # Forking a private chat directly: its owner may, nobody else.
    own = rest.one("select * from fork_chat(%s, %s)", c["chat"], c["messages"][0])
    assert own["message_count"] == 1 and own["forked_from"] == c["chat"]
    with pytest.raises(psycopg.Error, match="chat not found"):
        bob.rows("select * from fork_chat(%s)", c["chat"])
    assert rest.one("select message_count from chats where id = %s", c["chat"])["message_count"] == 2


def test_rpc_fork_of_a_public_chat_and_restore(people):
    rest, bob, anon = people["as_alice"], people["as_bob"], people["as_anon"]
    c = conversation(rest)
    rest.rows("update chats set is_public = true where id = %s", c["chat"])
    fork = bob.one("select * from fork_chat(%s)", c["chat"])
    versions = bob.rows("select a.title, v.version_number, v.content_json, v.change_summary from artifacts a "
                        "join artifact_versions v on v.artifact_id = a.id where a.chat_id = %s", fork["id"])
    assert versions == [{"title": "BOM", "version_number": 1, "content_json": {"parts": [
        {"name": "BMP280", "mpn": "BMP280"}]}, "change_summary": "Forked from v2: cheaper"}]
    # Restore: the owner only, and as a new version on top.
    restored = rest.one("select * from restore_artifact_version(%s, 1)", c["artifact"])
    assert (restored["current_version"], restored["total_versions"]) == (3, 3)
    latest = rest.one("select content_json, change_summary from artifact_versions where artifact_id = %s "
                      "and version_number = 3", c["artifact"])
    assert latest == {"content_json": {"parts": [{"name": "BME280", "mpn": "BME280"}]},
                      "change_summary": "Restored v1"}
    with pytest.raises(psycopg.Error, match="already the current version") as conflict:
        rest.rows("select * from restore_artifact_version(%s, 3)", c["artifact"])
    assert conflict.value.sqlstate == "PT409"
    with pytest.raises(psycopg.Error, match="artifact not found"):
        bob.rows("select * from restore_artifact_version(%s, 1)", c["artifact"])
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        anon.rows("select * from restore_artifact_version(%s, 1)", c["artifact"])
    assert rest.one("select total_versions from artifacts where id = %s", c["artifact"])["total_versions"] == 3


def test_rpc_search_and_usage_are_scoped_to_the_caller(people):
    alice, rest, bob, anon = people["alice"], people["as_alice"], people["as_bob"], people["as_anon"]
    word = f"anemometer{uuid.uuid4().hex[:8]}"
    private = new_chat(rest)
    rest.rows("insert into messages (chat_id, role, content) values (%s, 'user', %s)", private,
              f"{word} & wind vane wired to GPIO34 and the BME280 on the balcony")
    public = new_chat(rest, is_public=True)
    rest.rows("insert into messages (chat_id, role, content) values (%s, 'user', %s)", public, f"public {word}")
    mine = rest.rows("select * from search_all(%s)", word)
    assert {h["chat_id"] for h in mine} == {private, public}
    assert any(h["snippet"].startswith(f"<mark>{word}</mark>") and "&amp; wind vane" in h["snippet"] for h in mine)
    assert {h["chat_id"] for h in anon.rows("select * from search_all(%s)", word)} == {public}
    assert {h["chat_id"] for h in bob.rows("select * from search_all(%s)", word)} == set()
    with pytest.raises(psycopg.Error, match="q must not be empty"):
        rest.rows("select * from search_all('  ')")
    # Usage: the caller's own messages; anon may not ask.
    rest.rows("insert into messages (chat_id, role, agent_name, agent_model, input_tokens, output_tokens) "
              "values (%s, 'assistant', 'wiringExpert', 'gpt-4o-mini', 1000000, 0)", private)
    rows = rest.rows("select * from usage_summary('agent')")
    totals = rows[-1]
    assert totals["is_total"] and not any(r["is_total"] for r in rows[:-1])
    by_agent = {r["key"]: r for r in rows[:-1]}
    assert by_agent["wiringExpert"]["cost_usd"] == Decimal("0.150000")
    # A fork's copies (alice forked her own chat above) are nobody's new spend.
    truth = rest.one("select count(*) as n from messages where user_id = %s and not is_copy", alice.id)["n"]
    assert totals["messages"] == truth
    assert all(r["key"] != "wiringExpert" for r in bob.rows("select * from usage_summary('agent')"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        anon.rows("select * from usage_summary()")
    with pytest.raises(psycopg.Error, match="for_user can only be set by the service role"):
        bob.rows("select * from usage_summary(for_user => %s)", alice.id)


def test_internal_functions_are_not_reachable_through_postgrest(people):
    """PostgREST exposes `public` only; the functions behind the rpc calls live in `ohm`, and the ones that
    need a privilege beyond the caller's check it themselves."""
    bob, anon = people["as_bob"], people["as_anon"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        anon.rows("select ohm.write_fork('x', '[]', '[]', null, null, null)")
    with pytest.raises(psycopg.Error, match="fork chat not found|original chat not found"):
        bob.rows("select ohm.record_fork(gen_random_uuid(), gen_random_uuid(), null, null)")


def test_a_user_created_directly_gets_a_profile(api_target: ApiTarget):
    user: User = api_target.make_user("carol")
    rest = Rest(api_target, user.identity)
    profile = rest.one("select id, display_name from profiles")
    assert profile["id"] == user.id and profile["display_name"] == "carol"


# --- hardening: what the attacks found ------------------------------------------------------------------------


def test_ids_cannot_be_chosen_so_a_collision_reveals_nothing(people):
    """Inserting a row with a chosen id raised a unique violation when another user's row had it."""
    alice, bob = people["as_alice"], people["as_bob"]
    chat = new_chat(alice)
    message = alice.one("insert into messages (chat_id, role) values (%s, 'user') returning id", chat)["id"]
    for statement, params in (("insert into chats (id) values (%s)", (chat,)),
                              ("insert into chats (id) values (gen_random_uuid())", ()),
                              ("insert into messages (id, chat_id, role) values (%s, %s, 'user')", (message, chat)),
                              ("insert into projects (id, name) values (%s, 'x')", (chat,))):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bob.rows(statement, *params)


def test_a_version_names_its_author_truthfully(people):
    alice, rest, bob = people["alice"], people["as_alice"], people["as_bob"]
    chat, other = new_chat(rest), new_chat(rest)
    foreign = rest.one("insert into messages (chat_id, role) values (%s, 'user') returning id", other)["id"]
    artifact = rest.one("insert into artifacts (chat_id, type, title) values (%s, 'document', 'Notes') returning id",
                        chat)["id"]
    version = rest.one("insert into artifact_versions (artifact_id, content_text) values (%s, 'v1') "
                       "returning created_by_user_id", artifact)
    assert version["created_by_user_id"] == alice.id, "the author defaults to the caller"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        rest.rows("insert into artifact_versions (artifact_id, content_text, created_by_user_id) "
                  "values (%s, 'v2', %s)", artifact, people["bob"].id)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        rest.rows("insert into artifact_versions (artifact_id, content_text, created_by_message_id) "
                  "values (%s, 'v2', %s)", artifact, foreign)
    assert rest.one("select total_versions from artifacts where id = %s", artifact)["total_versions"] == 1
    assert bob.rows("select * from artifact_versions where artifact_id = %s", artifact) == []


def test_json_deeper_than_64_levels_is_refused_everywhere(people):
    rest = people["as_alice"]
    chat = new_chat(rest)

    def nested(depth: int):
        value: Any = "leaf"
        for _ in range(depth):
            value = [value]
        return value

    rest.rows("insert into messages (chat_id, role, content_json, metadata) values (%s, 'user', %s, %s)", chat,
              Jsonb(nested(64)), Jsonb({"k": nested(63)}))
    for column, value in (("content_json", nested(65)), ("metadata", {"k": nested(300)})):
        with pytest.raises(psycopg.errors.CheckViolation, match="depth"):
            rest.rows(f"insert into messages (chat_id, role, {column}) values (%s, 'user', %s)", chat, Jsonb(value))
    with pytest.raises(psycopg.errors.CheckViolation, match="depth"):
        rest.rows("update profiles set preferences = %s where id = %s", Jsonb({"x": nested(80)}), people["alice"].id)


def test_a_cost_is_bounded_and_a_fork_copies_no_spend(people):
    rest, bob = people["as_alice"], people["as_bob"]
    chat = new_chat(rest, is_public=True)
    with pytest.raises(psycopg.errors.CheckViolation, match="cost_usd"):
        rest.rows("insert into messages (chat_id, role, agent_model, cost_usd) values (%s, 'assistant', "
                  "'acme/home-llm', 5000)", chat)
    rest.rows("insert into messages (chat_id, role, agent_model, input_tokens, cost_usd) "
              "values (%s, 'assistant', 'acme/home-llm', 1000, 999.5)", chat)
    spend = bob.one("select total_cost_usd, message_count from profile_totals where user_id = %s", people["bob"].id)
    fork = bob.one("select * from fork_chat(%s)", chat)
    copied = bob.one("select cost_usd, input_tokens, is_copy from messages where chat_id = %s", fork["id"])
    assert copied == {"cost_usd": Decimal("999.500000"), "input_tokens": 1000, "is_copy": True}
    assert (fork["total_cost_usd"], fork["total_input_tokens"], fork["message_count"]) == (0, 0, 1)
    after = bob.one("select total_cost_usd, message_count from profile_totals where user_id = %s", people["bob"].id)
    assert after["total_cost_usd"] == spend["total_cost_usd"], "a fork is nobody's new spend"
    assert after["message_count"] == spend["message_count"] + 1
    assert all(r["key"] != "acme/home-llm" for r in bob.rows("select * from usage_summary('model')"))
    # Deleting copies subtracts nothing that was never counted.
    bob.rows("delete from chats where id = %s", fork["id"])
    assert bob.one("select p.total_cost_usd from profiles p where id = %s", people["bob"].id)["total_cost_usd"] == \
        spend["total_cost_usd"]
    assert rest.one("select total_cost_usd from chats where id = %s", chat)["total_cost_usd"] == Decimal("999.5")


def test_forks_through_a_share_record_nothing_of_the_private_original(people):
    rest, bob = people["as_alice"], people["as_bob"]
    c = conversation(rest)
    share = rest.one("select * from share_chat(%s)", c["chat"])
    fork = bob.one("select * from fork_share(%s)", share["share_token"])
    assert fork["forked_from"] is None
    lineage = bob.one("select original_chat_id, share_id, fork_point_message_id, via_share from chat_forks "
                      "where fork_chat_id = %s", fork["id"])
    assert lineage == {"original_chat_id": None, "share_id": None, "fork_point_message_id": None, "via_share": True}
    logged = bob.one("select metadata from activity_log where action = 'chat.forked' and entity_id = %s",
                     fork["id"])["metadata"]
    assert str(c["chat"]) not in json.dumps(logged) and str(share["id"]) not in json.dumps(logged)
    assert rest.one("select fork_count from shared_chats where id = %s", share["id"])["fork_count"] == 1


def test_budgets_for_forks_and_messages(api_target, people):
    alice, rest, bob = people["alice"], people["as_alice"], people["as_bob"]
    chat = new_chat(rest, is_public=True)
    for n in range(6):
        rest.rows("insert into messages (chat_id, role, content) values (%s, 'user', %s)", chat, f"m{n}")

    def limit(name: str, value: int) -> int:
        with psycopg.connect(api_target.owner_url) as conn:
            old = conn.execute("select value from ohm.limits where name = %s", (name,)).fetchone()[0]
            conn.execute("update ohm.limits set value = %s where name = %s", (value, name))
        return old

    old = limit("fork_messages", 5)
    try:
        with pytest.raises(psycopg.Error, match="at most 5 messages") as refused:
            bob.rows("select * from fork_chat(%s)", chat)
        assert refused.value.sqlstate == "PT413"
        bob.rows("select * from fork_chat(%s, (select id from messages where chat_id = %s and sequence_number = 5))",
                 chat, chat)
    finally:
        limit("fork_messages", old)
    made = bob.one("select count(*) as n from chat_forks where created_at > now() - interval '1 hour'")["n"]
    old = limit("forks_per_hour", made + 1)
    try:
        bob.rows("select * from fork_chat(%s)", chat)
        with pytest.raises(psycopg.Error, match="too many forks") as refused:
            bob.rows("select * from fork_chat(%s)", chat)
        assert refused.value.sqlstate == "PT429"
    finally:
        limit("forks_per_hour", old)
    owned = rest.one("select message_count from profile_totals where user_id = %s", alice.id)["message_count"]
    old = limit("messages_per_user", owned + 1)
    try:
        rest.rows("insert into messages (chat_id, role) values (%s, 'user')", chat)
        with pytest.raises(psycopg.Error, match="message budget") as refused:
            rest.rows("insert into messages (chat_id, role) values (%s, 'user')", chat)
        assert refused.value.sqlstate == "PT413"
    finally:
        limit("messages_per_user", old)


def test_hardware_documents_have_a_size_cap(api_target, people):
    rest = people["as_alice"]
    chat = new_chat(rest)
    bom = rest.one("insert into artifacts (chat_id, type, title) values (%s, 'bom', 'BOM') returning id", chat)["id"]
    with psycopg.connect(api_target.owner_url) as conn:
        cap = conn.execute("select value from ohm.limits where name = 'bom_parts'").fetchone()[0]
    with pytest.raises(psycopg.errors.CheckViolation, match="at most"):
        rest.rows("insert into artifact_versions (artifact_id, content_json) values (%s, %s)", bom,
                  Jsonb({"parts": [{"name": f"R{i}"} for i in range(cap + 1)]}))
    rest.rows("insert into artifact_versions (artifact_id, content_json) values (%s, %s)", bom,
              Jsonb({"parts": [{"name": f"R{i}"} for i in range(cap)]}))
