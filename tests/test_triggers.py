"""Triggers: titles, counters, usage statistics, immutable history, append-only log."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg.types.json import Jsonb

from ohm.auth import Identity

from .conftest import acting


def new_chat(app_url, user, **columns) -> str:
    columns = {"user_id": user.id, **columns}
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    with acting(app_url, user.identity) as conn:
        return conn.execute(f"insert into chats ({names}) values ({marks}) returning id",
                            list(columns.values())).fetchone()["id"]


def add_message(app_url, user, chat_id, role="user", content="hello", **extra) -> dict:
    columns = {"chat_id": chat_id, "user_id": user.id, "role": role, "content": content, **extra}
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    with acting(app_url, user.identity) as conn:
        return conn.execute(f"insert into messages ({names}) values ({marks}) returning *",
                            list(columns.values())).fetchone()


def chat_row(app_url, chat_id) -> dict:
    with acting(app_url, Identity.service()) as conn:
        return conn.execute("select * from chats where id = %s", (chat_id,)).fetchone()


def profile_row(app_url, user) -> dict:
    with acting(app_url, Identity.service()) as conn:
        return conn.execute("select p.*, t.* from profiles p join profile_totals t on t.user_id = p.id "
                            "where p.id = %s", (user.id,)).fetchone()


def test_new_auth_user_gets_a_profile_with_display_name(user, app_url):
    profile = profile_row(app_url, user)
    assert profile["email"] == user.email
    assert profile["display_name"] == "alice"
    assert profile["message_count"] == 0


def test_first_user_message_becomes_the_title_cut_at_a_word_boundary(user, app_url):
    chat = new_chat(app_url, user)
    add_message(app_url, user, chat, role="system", content="You are a helpful hardware assistant.")
    add_message(app_url, user, chat, role="assistant", content="Hi! What are we building?")
    assert chat_row(app_url, chat)["title"] is None
    long = ("I want to build   a weather station with an ESP32 that measures temperature, "
            "humidity and pressure on my balcony and shows everything on an OLED")
    add_message(app_url, user, chat, content=long)
    title = chat_row(app_url, chat)["title"]
    assert title.endswith("…")
    assert len(title) <= 81
    assert "   " not in title
    stem = title[:-1]
    assert " ".join(long.split()).startswith(stem)
    assert " ".join(long.split())[len(stem)] == " ", "cut at a word boundary"
    add_message(app_url, user, chat, content="Second question")
    assert chat_row(app_url, chat)["title"] == title


def test_short_first_message_is_the_title_verbatim(user, app_url):
    chat = new_chat(app_url, user)
    add_message(app_url, user, chat, content="  Blink an LED  ")
    assert chat_row(app_url, chat)["title"] == "Blink an LED"


def test_a_title_the_user_set_is_kept(user, app_url):
    chat = new_chat(app_url, user, title="My station")
    add_message(app_url, user, chat, content="Something else entirely")
    assert chat_row(app_url, chat)["title"] == "My station"


def test_counters_leaf_and_usage_follow_inserts_and_deletes(user, app_url):
    chat = new_chat(app_url, user)
    before = chat_row(app_url, chat)
    first = add_message(app_url, user, chat)
    time.sleep(0.01)
    second = add_message(app_url, user, chat, role="assistant", content="answer", agent_name="bomGenerator",
                         input_tokens=100, output_tokens=50, cost_usd="0.25")
    assert (first["sequence_number"], second["sequence_number"]) == (1, 2)
    after = chat_row(app_url, chat)
    assert after["message_count"] == 2
    assert after["last_sequence"] == 2
    assert after["current_leaf_id"] == second["id"]
    assert after["last_message_at"] >= second["created_at"] > before["last_message_at"]
    assert (after["total_input_tokens"], after["total_output_tokens"], str(after["total_cost_usd"])) == (
        100, 50, "0.250000")
    profile = profile_row(app_url, user)
    assert (profile["message_count"], profile["total_input_tokens"], str(profile["total_cost_usd"])) == (
        2, 100, "0.250000")

    with acting(app_url, user.identity) as conn:
        conn.execute("delete from messages where id = %s", (second["id"],))
    after = chat_row(app_url, chat)
    assert (after["message_count"], after["total_input_tokens"], after["current_leaf_id"]) == (1, 0, None)
    third = add_message(app_url, user, chat)
    assert third["sequence_number"] == 3, "numbers are never reused"

    with acting(app_url, user.identity) as conn:
        conn.execute("delete from chats where id = %s", (chat,))
    profile = profile_row(app_url, user)
    assert (profile["message_count"], profile["total_input_tokens"], profile["total_cost_usd"]) == (0, 0, 0)


def test_corrected_usage_updates_the_totals(user, app_url):
    chat = new_chat(app_url, user)
    msg = add_message(app_url, user, chat, role="assistant", input_tokens=10, output_tokens=5)
    with acting(app_url, Identity.service()) as conn:
        conn.execute("update messages set output_tokens = 500, cost_usd = 1.5 where id = %s", (msg["id"],))
    row = chat_row(app_url, chat)
    assert (row["total_output_tokens"], str(row["total_cost_usd"])) == (500, "1.500000")
    assert profile_row(app_url, user)["total_output_tokens"] == 500


def test_counters_are_not_writable_by_users(user, app_url):
    chat = new_chat(app_url, user)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with acting(app_url, user.identity) as conn:
            conn.execute("update chats set message_count = 99 where id = %s", (chat,))
    add_message(app_url, user, chat, role="assistant", input_tokens=10)
    for statement in ("update ohm.usage_counters set total_cost_usd = 0, message_count = 0",
                      "insert into ohm.usage_counters (user_id, slot, message_count) values (%(u)s, 1, -5)",
                      "select ohm.add_usage(%(u)s, -1, -10, 0, 0)",
                      "update profile_totals set message_count = 0",
                      "delete from ohm.usage_counters"):
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)):
            with acting(app_url, user.identity) as conn:
                conn.execute(statement, {"u": user.id})
    assert (profile_row(app_url, user)["message_count"], profile_row(app_url, user)["total_input_tokens"]) == (1, 10)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        add_message(app_url, user, chat, sequence_number=999)
    # Even the service role cannot choose a number: the trigger hands it out.
    with acting(app_url, Identity.service()) as conn:
        row = conn.execute(
            """insert into messages (chat_id, user_id, role, content, sequence_number)
               values (%s, %s, 'user', 'x', 999) returning sequence_number""", (chat, user.id)).fetchone()
    assert row["sequence_number"] == 2


def test_sequence_numbers_are_gap_free_under_concurrent_writers(user, app_url):
    chat = new_chat(app_url, user)
    writers, per_writer = 8, 25
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(per_writer):
                add_message(app_url, user, chat, content="concurrent")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with acting(app_url, user.identity) as conn:
        numbers = [r["sequence_number"] for r in conn.execute(
            "select sequence_number from messages where chat_id = %s order by 1", (chat,))]
    assert numbers == list(range(1, writers * per_writer + 1))
    assert chat_row(app_url, chat)["message_count"] == writers * per_writer


def test_parent_must_be_in_the_same_chat(user, app_url):
    chat_a, chat_b = new_chat(app_url, user), new_chat(app_url, user)
    msg = add_message(app_url, user, chat_a)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        add_message(app_url, user, chat_b, parent_id=msg["id"])


def new_artifact(app_url, user, chat_id) -> str:
    with acting(app_url, user.identity) as conn:
        return conn.execute(
            "insert into artifacts (chat_id, user_id, type, title) values (%s, %s, 'bom', 'BOM') returning id",
            (chat_id, user.id),
        ).fetchone()["id"]


def add_version(app_url, user, artifact_id, parent=None, content=None) -> dict:
    with acting(app_url, user.identity) as conn:
        return conn.execute(
            """insert into artifact_versions (artifact_id, user_id, parent_version_id, content_json)
               values (%s, %s, %s, %s) returning *""",
            (artifact_id, user.id, parent, Jsonb(content or {"parts": []})),
        ).fetchone()


def test_versions_are_numbered_and_move_the_artifact_pointers(user, app_url):
    artifact = new_artifact(app_url, user, new_chat(app_url, user))
    v1 = add_version(app_url, user, artifact)
    v2 = add_version(app_url, user, artifact, parent=v1["id"])
    v3 = add_version(app_url, user, artifact, parent=v2["id"])
    assert [v["version_number"] for v in (v1, v2, v3)] == [1, 2, 3]
    with acting(app_url, user.identity) as conn:
        row = conn.execute("select current_version, total_versions from artifacts where id = %s",
                           (artifact,)).fetchone()
    assert (row["current_version"], row["total_versions"]) == (3, 3)


@pytest.mark.parametrize("identity_kind", ["owner", "service"])
def test_versions_are_immutable_even_for_the_service_role(user, app_url, identity_kind):
    artifact = new_artifact(app_url, user, new_chat(app_url, user))
    v1 = add_version(app_url, user, artifact)
    identity = user.identity if identity_kind == "owner" else Identity.service()
    if identity_kind == "owner":
        # Users have no UPDATE/DELETE privilege on history at all.
        expected = psycopg.errors.InsufficientPrivilege
    else:
        expected = psycopg.errors.RestrictViolation
    with pytest.raises(expected):
        with acting(app_url, identity) as conn:
            conn.execute("update artifact_versions set change_summary = 'rewritten' where id = %s", (v1["id"],))
    with pytest.raises(expected):
        with acting(app_url, identity) as conn:
            conn.execute("delete from artifact_versions where id = %s", (v1["id"],))
    with acting(app_url, Identity.service()) as conn:
        assert conn.execute("select change_summary from artifact_versions where id = %s",
                            (v1["id"],)).fetchone()["change_summary"] is None


def test_deleting_an_artifact_removes_its_history(user, app_url):
    artifact = new_artifact(app_url, user, new_chat(app_url, user))
    v1 = add_version(app_url, user, artifact)
    add_version(app_url, user, artifact, parent=v1["id"])
    with acting(app_url, user.identity) as conn:
        conn.execute("delete from artifacts where id = %s", (artifact,))
    with acting(app_url, Identity.service()) as conn:
        assert conn.execute("select count(*) as n from artifact_versions where artifact_id = %s",
                            (artifact,)).fetchone()["n"] == 0


def test_activity_log_is_append_only(user, app_url, database_url):
    # Rows come from triggers (a user may not insert them): creating a chat writes one.
    new_chat(app_url, user)
    with acting(app_url, user.identity) as conn:
        row = conn.execute("select id from activity_log where user_id = %s and action = 'chat.created'",
                           (user.id,)).fetchone()
    # Nobody but the table owner may even try to UPDATE; the trigger refuses the owner too.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with acting(app_url, Identity.service()) as conn:
            conn.execute("update activity_log set action = 'chat.deleted' where id = %s", (row["id"],))
    with pytest.raises(psycopg.errors.RestrictViolation):
        with psycopg.connect(database_url) as conn:
            conn.execute("update activity_log set action = 'chat.deleted' where id = %s", (row["id"],))
    with pytest.raises(psycopg.errors.RestrictViolation):
        with acting(app_url, Identity.service()) as conn:
            conn.execute("delete from activity_log where id = %s", (row["id"],))
    # The retention job is the one way out.
    with acting(app_url, Identity.service()) as conn:
        conn.execute("select set_config('ohm.activity_prune', 'on', true)")
        assert conn.execute("delete from activity_log where id = %s", (row["id"],)).rowcount == 1


def test_updated_at_is_maintained(user, app_url):
    chat = new_chat(app_url, user)
    before = chat_row(app_url, chat)["updated_at"]
    with acting(app_url, user.identity) as conn:
        conn.execute("update chats set is_pinned = true where id = %s", (chat,))
    assert chat_row(app_url, chat)["updated_at"] > before
