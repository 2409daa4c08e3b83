"""Imports of ChatGPT and Claude exports: the readers on realistic files, then chats in the database, the
API's background job and the command line."""

from __future__ import annotations

import json
import time
import uuid
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ohm.auth import Identity
from ohm.cli import app as cli
from ohm.db.session import Database
from ohm.imports import Conversation, Problem, read
from ohm.store import imports as import_store

from .conftest import JWT_SECRET, acting
from .helpers import png

DATA = Path(__file__).parent / "data" / "imports"
CHATGPT = DATA / "chatgpt_conversations.json"
CLAUDE = DATA / "claude_conversations.json"


def chatgpt_zip(tmp_path: Path) -> Path:
    """The export as ChatGPT sends it: a zip with conversations.json and the images of the conversations."""
    path = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(CHATGPT, "conversations.json")
        archive.writestr("file-Breadboard01-IMG_2031.png", png(seed=77))
        archive.writestr("chat.html", "<html></html>")
    return path


def conversations(path: Path, source: str, **options) -> list[Conversation | Problem]:
    return list(read(path, source, **options))


# --- the readers --------------------------------------------------------------------------------------


def test_chatgpt_tree_becomes_branches():
    weather, umlauts, broken, bad_time = conversations(CHATGPT, "chatgpt")
    assert isinstance(weather, Conversation) and weather.title == "ESP32 weather station"
    by_id = {m.source_id: m for m in weather.messages}
    assert "sys" not in by_id and "tool1" not in by_id, "hidden system and tool nodes are skipped by default"
    assert by_id["u1"].parent is None
    # A regeneration (a1, a1b) and an edit (u2, u2b) are siblings: branches.
    assert by_id["a1"].parent == by_id["a1b"].parent == "u1"
    assert by_id["u2"].parent == by_id["u2b"].parent == "a1"
    assert by_id["a3"].parent == "a2", "the tool node in between is skipped: its child hangs off its parent"
    assert weather.current == "a4"
    order = [m.source_id for m in weather.messages]
    assert order == sorted(order, key=lambda k: by_id[k].created_at) and order.index("u1") < order.index("a1")
    assert by_id["a1"].model == "gpt-4o" and by_id["a1"].agent == "ChatGPT" and by_id["u1"].agent is None
    assert by_id["a2"].content == "```python\nprint(read_rain_sensor())\n```"
    assert by_id["a2"].content_json["content_type"] == "code"
    assert by_id["u3"].files == ["file-Breadboard01"] and "Is this wiring right?" in by_id["u3"].content
    assert by_id["u3"].content_json["parts"][0]["asset_pointer"] == "file-service://file-Breadboard01"
    assert by_id["u1"].created_at.timestamp() == 1717000010.0
    # An empty title stays empty (OHM titles the chat from its first question); unicode arrives whole.
    assert umlauts.title is None and "日本語 🔌" in umlauts.messages[0].content
    assert [m.content for m in umlauts.messages][1] == "TVS diode first." and umlauts.messages[1].model == "o1"
    assert isinstance(broken, Problem) and broken.field == "mapping" and broken.index == 2
    assert "6650a1b2-0000-4000-8000-000000000003" in str(broken)
    assert isinstance(bad_time, Problem) and bad_time.field == "create_time"


def test_chatgpt_tool_output_can_be_kept():
    weather = conversations(CHATGPT, "chatgpt", keep_tool_output=True)[0]
    by_id = {m.source_id: m for m in weather.messages}
    assert by_id["tool1"].role == "tool" and by_id["tool1"].content == "0.42" and by_id["tool1"].agent == "python"
    assert by_id["a3"].parent == "tool1"


def test_claude_messages_blocks_attachments_and_branches():
    relay, pullup, bad = conversations(CLAUDE, "claude")
    assert [m.role for m in relay.messages] == ["user", "assistant"]
    question, answer = relay.messages
    assert question.content_json["attachments"][0]["extracted_content"].startswith("Coil 5 V")
    assert "[attached: SRD-05VDC.txt]" in question.content
    assert answer.content.startswith("Not directly") and answer.content_json["blocks"][0]["type"] == "thinking"
    assert answer.parent == question.source_id and answer.agent == "Claude"
    assert pullup.title is None and "Ω oder kΩ" in pullup.messages[0].content
    by_id = {m.source_id: m for m in pullup.messages}
    assert by_id["n3"].parent == by_id["n3b"].parent == "n2" and pullup.current == "n3b"
    assert isinstance(bad, Problem) and bad.field == "chat_messages[0].sender"


def test_a_truncated_or_foreign_file_is_named(tmp_path):
    whole = CHATGPT.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(whole[: len(whole) * 95 // 100])
    items = conversations(cut, "chatgpt")
    assert isinstance(items[0], Conversation), "what was read before the cut is there"
    assert isinstance(items[-1], Problem) and items[-1].field == "file" and "ends" in items[-1].detail
    assert f"inside conversation {items[-1].index + 1}" in items[-1].detail and "\n" not in items[-1].detail
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert [p.field for p in conversations(garbage, "chatgpt")] == ["file"]
    assert "JSON breaks" in conversations(garbage, "chatgpt")[0].detail
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "hi")
    assert "no conversations.json" in conversations(empty, "chatgpt")[0].detail
    assert isinstance(conversations(CLAUDE, "chatgpt")[0], Problem), "a Claude export read as ChatGPT's is refused"


def test_the_reader_streams(tmp_path):
    """Memory stays flat: conversations come one at a time, before the file is read to its end."""
    one = json.loads(CHATGPT.read_text())[0]
    big = tmp_path / "big.json"
    with big.open("w") as out:
        out.write("[")
        for i in range(2000):
            out.write(("," if i else "") + json.dumps({**one, "conversation_id": f"c{i}", "id": f"c{i}"}))
        out.write("]")
    positions = []
    reader = read(big, "chatgpt", progress=positions.append)
    first = next(reader)
    assert isinstance(first, Conversation) and positions[-1] < big.stat().st_size / 10
    assert sum(1 for _ in reader) == 1999


# --- into the database ----------------------------------------------------------------------------------


async def run(app_url: str, user_id, path: Path, source: str, tmp_path: Path, **options):
    from ohm.blobs import open_blob_store

    async with Database(app_url, max_size=2) as db:
        job = await import_store.create_job(db, user_id, source, path.name, path.stat().st_size)
        files = import_store.Files(open_blob_store(None, tmp_path / "blobs"), 25 * 1024 * 1024, 1024**3)
        return await import_store.run_import(db, job.id, user_id, path, source, files=files, **options)


async def test_a_chatgpt_export_becomes_chats_with_branches(app_url, user, tmp_path):
    job = await run(app_url, user.id, chatgpt_zip(tmp_path), "chatgpt", tmp_path)
    assert (job.status, job.conversations, job.chats_created, job.chats_failed) == ("done", 4, 2, 2)
    assert job.messages == 9 + 3  # the kept messages of the two conversations that could be read
    failed = {r.source_id: r.detail for r in job.report if r.status == "failed"}
    assert "mapping" in failed["6650a1b2-0000-4000-8000-000000000003"]
    assert "create_time" in failed["6650a1b2-0000-4000-8000-000000000004"]
    weather = next(r for r in job.report if r.title == "ESP32 weather station")
    with acting(app_url, Identity.user(user.id)) as conn:
        chat = conn.execute("select * from chats where id = %s", (weather.chat_id,)).fetchone()
        rows = conn.execute("select id, parent_id, role::text, content, agent_name, agent_model, created_at, "
                            "metadata -> 'import' ->> 'message' as source, sequence_number "
                            "from messages where chat_id = %s order by sequence_number", (weather.chat_id,)).fetchall()
        images = conn.execute("select filename, message_id, mime_type from attachments where chat_id = %s",
                              (weather.chat_id,)).fetchall()
    by_source = {r["source"]: r for r in rows}
    assert [r["source"] for r in rows] == ["u1", "a1", "a1b", "u2", "u2b", "a2", "a3", "u3", "a4"]
    assert by_source["a1b"]["parent_id"] == by_source["a1"]["parent_id"] == by_source["u1"]["id"]
    assert by_source["u2"]["parent_id"] == by_source["u2b"]["parent_id"] == by_source["a1"]["id"]
    assert chat["current_leaf_id"] == by_source["a4"]["id"] and chat["is_branched"]
    assert chat["title"] == "ESP32 weather station" and chat["message_count"] == 9
    assert chat["created_at"].timestamp() == 1717000000.0 and chat["last_message_at"].timestamp() == 1717000090.0
    assert by_source["a1"]["agent_name"] == "ChatGPT" and by_source["a1"]["agent_model"] == "gpt-4o"
    assert by_source["u1"]["created_at"].timestamp() == 1717000010.0
    assert images == [{"filename": "file-Breadboard01-IMG_2031.png", "message_id": by_source["u3"]["id"],
                       "mime_type": "image/png"}]
    # The active branch reads back as ChatGPT showed it.
    from ohm.store import chats

    async with Database(app_url, max_size=1) as db:
        detail = await chats.get_chat(db, Identity.user(user.id), weather.chat_id)
    assert [m.content[:12] for m in detail.messages] == [
        "Which sensor", "A BME280: te", "And how do I", "```python\npr", "Use a capaci", "[image: file", "The sensor's"]
    # An untitled conversation is titled from its first question.
    untitled = next(r for r in job.report if r.source_id.endswith("0002"))
    with acting(app_url, Identity.user(user.id)) as conn:
        assert conn.execute("select title from chats where id = %s", (untitled.chat_id,)).fetchone()["title"] \
            .startswith("Überspannungsschutz")


async def test_importing_twice_adds_nothing(app_url, user, tmp_path):
    first = await run(app_url, user.id, CLAUDE, "claude", tmp_path)
    assert (first.chats_created, first.chats_failed) == (2, 1)
    with acting(app_url, Identity.service()) as conn:
        before = conn.execute("select count(*) as n from messages where user_id = %s", (user.id,)).fetchone()["n"]
    again = await run(app_url, user.id, CLAUDE, "claude", tmp_path)
    assert (again.chats_created, again.chats_skipped, again.messages) == (0, 2, 0)
    assert {r.detail for r in again.report if r.status == "skipped"} == {"already imported"}
    with acting(app_url, Identity.service()) as conn:
        assert conn.execute("select count(*) as n from messages where user_id = %s",
                            (user.id,)).fetchone()["n"] == before == 2 + 4
    # The same export for another user is theirs to import.


async def test_a_truncated_export_keeps_what_came_before(app_url, user, tmp_path):
    whole = CHATGPT.read_bytes()
    cut = tmp_path / "conversations.json"
    cut.write_bytes(whole[: len(whole) * 95 // 100])
    job = await run(app_url, user.id, cut, "chatgpt", tmp_path)
    assert job.chats_created == 1 and job.chats_failed == 1 and job.status == "done"
    assert "ends inside conversation 2" in [r.detail for r in job.report if r.status == "failed"][0]
    with acting(app_url, Identity.user(user.id)) as conn:
        counts = conn.execute("select count(*) as chats, sum(message_count) as messages from chats "
                              "where user_id = %s", (user.id,)).fetchone()
    assert (counts["chats"], counts["messages"]) == (1, 9), "one whole chat, nothing half-written"


# --- over HTTP and the command line ----------------------------------------------------------------------


def wait_for(http, job_id, headers) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = http.get(f"/v1/imports/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"the import did not end: {job}")


def test_post_imports_runs_in_the_background(http, user, other_user, tmp_path):
    h = {"Authorization": f"Bearer {user.token()}"}
    started = http.post("/v1/imports", headers=h, data={"source": "chatgpt"},
                        files={"file": ("export.zip", chatgpt_zip(tmp_path).read_bytes(), "application/zip")})
    assert started.status_code == 201, started.text
    assert started.headers["location"] == f"/v1/imports/{started.json()['id']}"
    job = wait_for(http, started.json()["id"], h)
    assert (job["status"], job["chats_created"], job["chats_failed"]) == ("done", 2, 2)
    assert job["bytes_read"] > 0 and [r["position"] for r in job["report"]] == [0, 1, 2, 3]
    assert http.get(f"/v1/imports/{job['id']}", headers={"Authorization": f"Bearer {other_user.token()}"}
                    ).status_code == 404
    assert http.get(f"/v1/imports/{job['id']}").status_code == 401
    chats = http.get("/v1/chats", headers=h).json()["items"]
    assert "ESP32 weather station" in {c["title"] for c in chats}
    # A file that is no export: the job fails or reports the problem, nothing is added.
    bad = http.post("/v1/imports", headers=h, data={"source": "claude"}, files={"file": ("x.json", b"{nope")})
    job = wait_for(http, bad.json()["id"], h)
    assert job["chats_created"] == 0 and job["chats_failed"] == 1 and "JSON breaks" in job["report"][0]["detail"]


@pytest.mark.parametrize("data, status", [({"source": "gemini"}, 422), ({}, 422),
                                          ({"source": "claude", "user_id": str(uuid.uuid4())}, 403)])
def test_bad_import_requests_change_nothing(http, user, app_url, data, status):
    with acting(app_url, Identity.service()) as conn:
        before = conn.execute("select count(*) as n from imports where user_id = %s", (user.id,)).fetchone()["n"]
    response = http.post("/v1/imports", headers={"Authorization": f"Bearer {user.token()}"}, data=data,
                         files={"file": ("c.json", CLAUDE.read_bytes())})
    assert response.status_code == status and response.headers["content-type"].startswith("application/problem")
    with acting(app_url, Identity.service()) as conn:
        assert conn.execute("select count(*) as n from imports where user_id = %s",
                            (user.id,)).fetchone()["n"] == before


def test_ohm_import_command(database_url, user, tmp_path):
    env = {"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET, "OHM_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["import", "claude", str(CLAUDE), "--user", user.email], env=env)
    assert result.exit_code == 0, result.output
    assert "2 chats created" in result.stdout and "1 failed" in result.stdout and "Bad sender" not in result.stdout
    assert "chat_messages[0].sender" in result.stdout
    again = CliRunner().invoke(cli, ["import", "claude", str(CLAUDE), "--user", user.email], env=env)
    assert "0 chats created, 2 already imported" in again.stdout
    missing = CliRunner().invoke(cli, ["import", "claude", str(CLAUDE), "--user", "nobody@example.com"], env=env)
    assert missing.exit_code == 2 and "no user" in missing.stderr
