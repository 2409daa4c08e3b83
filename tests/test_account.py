"""GET and PATCH /v1/me: a user's own profile, totals and storage; what they may and may not change."""

from __future__ import annotations

import pytest

from ohm.auth import issue_token
from ohm.store.errors import NotFound

from .conftest import JWT_SECRET
from .helpers import png


def test_me_shows_profile_totals_and_storage(http, user, other_user):
    h = {"Authorization": f"Bearer {user.token()}"}
    me = http.get("/v1/me", headers=h).json()
    assert (me["id"], me["email"], me["subscription_tier"]) == (str(user.id), user.email, "free")
    assert {k: float(v) for k, v in me["totals"].items()} == {
        "message_count": 0, "total_input_tokens": 0, "total_output_tokens": 0, "total_cost_usd": 0}
    assert me["storage"]["used_bytes"] == 0 and me["storage"]["quota_bytes"] > 0
    chat = http.post("/v1/chats", headers=h, json={}).json()["id"]
    for n in (1, 2):
        http.post(f"/v1/chats/{chat}/messages", headers=h, json={
            "role": "assistant", "content": "x", "agent": {"name": "a", "model": "openai/o1"},
            "usage": {"input_tokens": 100 * n, "output_tokens": 10 * n}})
    image = png(seed=4242)
    uploaded = http.post("/v1/attachments", headers=h, files={"file": ("board.png", image)},
                         data={"category": "photo", "chat_id": chat})
    assert uploaded.status_code == 201
    me = http.get("/v1/me", headers=h).json()
    assert (me["totals"]["message_count"], me["totals"]["total_input_tokens"],
            me["totals"]["total_output_tokens"]) == (2, 300, 30)
    assert float(me["totals"]["total_cost_usd"]) > 0
    assert me["storage"]["used_bytes"] == len(image)
    # Bob's /v1/me is Bob's.
    bob = http.get("/v1/me", headers={"Authorization": f"Bearer {other_user.token()}"}).json()
    assert bob["id"] == str(other_user.id) and bob["totals"]["message_count"] == 0


def test_who_has_an_account(http):
    assert http.get("/v1/me").status_code == 401
    service = issue_token(JWT_SECRET, role="service_role")
    response = http.get("/v1/me", headers={"Authorization": f"Bearer {service}"})
    assert response.status_code == 403 and response.headers["content-type"].startswith("application/problem+json")


def test_patch_me(http, user):
    h = {"Authorization": f"Bearer {user.token()}"}
    changed = http.patch("/v1/me", headers=h, json={
        "display_name": "  Ada  ", "avatar_url": "https://example.com/ada.png",
        "preferences": {"theme": "dark", "units": {"length": "mm"}, "favourites": ["ESP32", "BME280"]}})
    assert changed.status_code == 200, changed.text
    me = changed.json()
    assert (me["display_name"], me["avatar_url"]) == ("Ada", "https://example.com/ada.png")
    assert me["preferences"]["units"] == {"length": "mm"}
    # Only what is sent changes; null clears a name or avatar.
    me = http.patch("/v1/me", headers=h, json={"avatar_url": None}).json()
    assert (me["display_name"], me["avatar_url"]) == ("Ada", None) and me["preferences"]["theme"] == "dark"
    assert http.patch("/v1/me", headers=h, json={}).json() == me


@pytest.mark.parametrize("body, status", [
    ({"subscription_tier": "enterprise"}, 422), ({"totals": {"message_count": 0}}, 422), ({"id": "x"}, 422),
    ({"display_name": ""}, 422), ({"display_name": "a\u0000b"}, 422), ({"display_name": "x" * 201}, 422),
    ({"avatar_url": "javascript:alert(1)"}, 422), ({"avatar_url": "https://x/" + "a" * 2048}, 422),
    ({"preferences": None}, 422), ({"preferences": ["dark"]}, 422), ({"preferences": "dark"}, 422),
    ({"preferences": {"blob": "x" * 70_000}}, 413), ({"preferences": {"k": "a\u0000"}}, 422),
    ([], 422), ("me", 422),
])
def test_bad_patches_change_nothing(http, user, body, status):
    h = {"Authorization": f"Bearer {user.token()}"}
    before = http.get("/v1/me", headers=h).json()
    response = http.patch("/v1/me", headers=h, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert http.get("/v1/me", headers=h).json() == before


def test_deep_preferences_are_refused(http, user):
    h = {"Authorization": f"Bearer {user.token()}"}
    deep: dict = {}
    node = deep
    for _ in range(80):
        node["a"] = {}
        node = node["a"]
    before = http.get("/v1/me", headers=h).json()
    response = http.patch("/v1/me", headers=h, json={"preferences": deep})
    assert 400 <= response.status_code < 500
    assert http.get("/v1/me", headers=h).json() == before


def test_delete_me_removes_everything_and_only_that(http, make_user, app_url):
    from ohm.auth import Identity

    from .conftest import acting

    alice, bob = make_user("alice"), make_user("bob")
    a, b = ({"Authorization": f"Bearer {u.token()}"} for u in (alice, bob))
    chat = http.post("/v1/chats", headers=a, json={"title": "to go"}).json()["id"]
    http.post(f"/v1/chats/{chat}/messages", headers=a, json={"role": "user", "content": "bye"})
    http.post("/v1/projects", headers=a, json={"name": "p"})
    http.post("/v1/keys", headers=a, json={"name": "agent", "scopes": ["*"]})
    mine, shared = png(seed=9101), png(seed=9102)
    http.post("/v1/attachments", headers=a, files={"file": ("a.png", mine)}, data={"category": "photo"})
    http.post("/v1/attachments", headers=a, files={"file": ("s.png", shared)}, data={"category": "photo"})
    http.post("/v1/attachments", headers=b, files={"file": ("s.png", shared)}, data={"category": "photo"})
    bobs_chat = http.post("/v1/chats", headers=b, json={"title": "stays"}).json()["id"]
    # Without the right confirmation nothing goes.
    for body in ({}, {"confirm": "someone@example.com"}, {"confirm": ""}):
        assert http.request("DELETE", "/v1/me", headers=a, json=body).status_code == 422
    assert http.get("/v1/me", headers=a).status_code == 200
    secret = http.post("/v1/keys", headers=a, json={"name": "k", "scopes": ["*"]}).json()["secret"]
    assert http.request("DELETE", "/v1/me", headers={"Authorization": f"Bearer {secret}"},
                        json={"confirm": alice.email}).status_code == 403
    deleted = http.request("DELETE", "/v1/me", headers=a, json={"confirm": alice.email.upper()})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() | {"user_id": None} == {"user_id": None, "chats": 1, "messages": 1, "projects": 1,
                                                   "files": 2, "blobs_removed": 1, "auth_user_deleted": True}
    with acting(app_url, Identity.service()) as conn:
        for table, column in (("auth.users", "id"), ("profiles", "id"), ("chats", "user_id"),
                              ("messages", "user_id"), ("attachments", "user_id"), ("api_keys", "user_id"),
                              ("activity_log", "user_id"), ("realtime_events", "user_id")):
            assert conn.execute(f"select count(*) as n from {table} where {column} = %s",
                                (alice.id,)).fetchone()["n"] == 0, table
        assert conn.execute("select count(*) as n from chats where id = %s", (bobs_chat,)).fetchone()["n"] == 1
    # The file bob uploaded too stays (the one only alice had is what blobs_removed counted) and still downloads.
    with acting(app_url, Identity.service()) as conn:
        kept = conn.execute("select id from attachments where user_id = %s", (bob.id,)).fetchone()["id"]
    assert http.get(f"/v1/attachments/{kept}/content", headers=b).content == shared
    assert http.get("/v1/me", headers=a).status_code == 404


async def test_deleting_a_user_on_each_kind_of_database(api_target, tmp_path):
    """On OHM's own auth the auth user goes; on Supabase (whose Auth schema OHM may not change) the profile
    goes, and with it every row, and the answer says to remove the Auth user with Supabase's admin API."""
    from ohm.auth import Identity
    from ohm.blobs import open_blob_store
    from ohm.db.session import Database
    from ohm.store import chats, users

    from .conftest import acting

    person, other = api_target.make_user("leaving"), api_target.make_user("staying")
    for who in (person, other):  # as a supabase-js client writes them
        with acting(api_target.url, Identity.user(who.id)) as conn:
            chat = conn.execute("insert into chats (title) values ('x') returning id").fetchone()["id"]
            conn.execute("insert into messages (chat_id, role, content) values (%s, 'user', 'y')", (chat,))
    async with Database(api_target.url, max_size=2) as db:
        deleted = await users.delete_user(db, open_blob_store(None, tmp_path), person.id)
        assert (deleted.chats, deleted.messages) == (1, 1)
        assert deleted.auth_user_deleted is (api_target.name == "server")
        with pytest.raises(NotFound):
            await users.delete_user(db, open_blob_store(None, tmp_path), person.id)
        assert (await chats.list_chats(db, Identity.user(person.id))).items == []
        assert len((await chats.list_chats(db, Identity.user(other.id))).items) == 1


def test_export_me_holds_everything_of_mine_and_nothing_else(http, make_user, app_url, database_url, tmp_path):
    import io
    import json
    import zipfile

    from typer.testing import CliRunner

    from ohm.auth import Identity
    from ohm.cli import app as cli

    from .conftest import JWT_SECRET, acting

    alice, bob = make_user("alice"), make_user("bob")
    a, b = ({"Authorization": f"Bearer {u.token()}"} for u in (alice, bob))
    project = http.post("/v1/projects", headers=a, json={"name": "Weather station"}).json()["id"]
    chat = http.post("/v1/chats", headers=a, json={"title": "Sensors", "project_id": project}).json()["id"]
    q = http.post(f"/v1/chats/{chat}/messages", headers=a, json={"role": "user", "content": "Which? Ü 🔌"}).json()
    http.post(f"/v1/chats/{chat}/messages", headers=a, json={"role": "assistant", "content": "BME280"})
    http.post(f"/v1/chats/{chat}/messages", headers=a, json={"role": "assistant", "content": "SHT45",
                                                              "parent_id": q["id"]})
    bom = http.post(f"/v1/chats/{chat}/artifacts", headers=a, json={"type": "bom", "title": "BOM", "content_json": {
        "parts": [{"name": "BME280", "mpn": "BME280", "quantity": 1}]}}).json()["id"]
    http.post(f"/v1/artifacts/{bom}/versions", headers=a, json={"base_version": 1, "content_json": {
        "parts": [{"name": "SHT45", "mpn": "SHT45", "quantity": 2}]}})
    photo = png(seed=4711)
    http.post("/v1/attachments", headers=a, files={"file": ("board.png", photo)}, data={"category": "photo",
                                                                                    "chat_id": chat})
    http.post(f"/v1/chats/{chat}/shares", headers=a, json={})
    http.post("/v1/keys", headers=a, json={"name": "agent", "scopes": ["*"]})
    bobs = http.post("/v1/chats", headers=b, json={"title": "Bob's secret"}).json()["id"]
    http.post(f"/v1/chats/{bobs}/messages", headers=b, json={"role": "user", "content": "bob only"})

    response = http.get("/v1/me/export", headers=a)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "ohm.export/1" and manifest["user_id"] == str(alice.id)

    def rows(name: str) -> list[dict]:
        return [json.loads(line) for line in archive.read(f"{name}.jsonl").decode().splitlines()]

    with acting(app_url, Identity.service()) as conn:
        for name, table, owner in (("chats", "chats", "user_id"), ("messages", "messages", "user_id"),
                                   ("artifact_versions", "artifact_versions", "user_id"),
                                   ("parts", "parts", "user_id"), ("attachments", "attachments", "user_id"),
                                   ("shared_chats", "shared_chats", "user_id"), ("activity_log", "activity_log",
                                                                                 "user_id")):
            n = conn.execute(f"select count(*) as n from {table} where {owner} = %s", (alice.id,)).fetchone()["n"]
            assert len(rows(name)) == manifest["rows"][name] == n and n > 0, name
    messages = rows("messages")
    assert {m["content"] for m in messages} == {"Which? Ü 🔌", "BME280", "SHT45"}
    assert sum(m["parent_id"] == q["id"] for m in messages) == 2, "both branches"
    assert sorted(v["version_number"] for v in rows("artifact_versions")) == [1, 2]
    sha = rows("attachments")[0]["sha256"]
    assert archive.read(f"files/{sha}") == photo
    assert rows("profile")[0]["email"] == alice.email and rows("totals")[0]["message_count"] == 3
    keys = archive.read("api_keys.jsonl").decode()
    assert "agent" in keys and "secret" not in keys
    everything = b"".join(archive.read(n) for n in archive.namelist())
    assert str(bob.id).encode() not in everything and b"bob only" not in everything and bobs.encode() not in everything
    # A key, however wide, does not take the account out.
    secret = http.post("/v1/keys", headers=a, json={"name": "k", "scopes": ["*"]}).json()["secret"]
    assert http.get("/v1/me/export", headers={"Authorization": f"Bearer {secret}"}).status_code == 403
    # The command line writes the same archive.
    out = tmp_path / "alice.zip"
    result = CliRunner().invoke(cli, ["export", "--user", alice.email, "-o", str(out)],
                                env={"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET,
                                     "OHM_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert json.loads(zipfile.ZipFile(out).read("manifest.json"))["rows"]["messages"] == 3


def test_an_archive_imported_elsewhere_recreates_the_same_data(http, make_user, database_url, tmp_path, app_url):
    """Alice's archive imported for carol: everything but ids and times is the same (derived rows too)."""
    import io
    import json
    import re
    import zipfile

    from typer.testing import CliRunner

    from ohm.auth import Identity
    from ohm.cli import app as cli

    from .conftest import JWT_SECRET, acting
    from .helpers import ANALYSIS, VERIFICATION

    alice, carol = make_user("alice"), make_user("carol")
    a = {"Authorization": f"Bearer {alice.token()}"}
    http.patch("/v1/me", headers=a, json={"display_name": "Ada", "preferences": {"units": "mm"}})
    project = http.post("/v1/projects", headers=a, json={"name": "Weather", "goal": "rain", "budget_amount": "40",
                                                         "workflow_steps": [{"name": "BOM"}]}).json()["id"]
    chat = http.post("/v1/chats", headers=a, json={"title": "Sensors", "project_id": project}).json()["id"]
    q = http.post(f"/v1/chats/{chat}/messages", headers=a, json={"role": "user", "content": "Which? Ü 🔌"}).json()
    http.post(f"/v1/chats/{chat}/messages", headers=a, json={
        "role": "assistant", "content": "BME280", "agent": {"name": "bomGenerator", "model": "openai/o1"},
        "intent": "BOM", "usage": {"input_tokens": 900, "output_tokens": 40}, "metadata": {"trace": "t1"}})
    http.post(f"/v1/chats/{chat}/messages", headers=a, json={"role": "assistant", "content": "SHT45",
                                                              "parent_id": q["id"], "content_json": {"k": [1]}})
    bom = http.post(f"/v1/chats/{chat}/artifacts", headers=a, json={"type": "bom", "title": "BOM", "content_json": {
        "parts": [{"name": "ESP32 DevKitC", "mpn": "ESP32-DevKitC", "designators": ["U1"]},
                  {"name": "BME280", "mpn": "BME280", "designators": ["U2"], "quantity": 1}]}}).json()["id"]
    http.post(f"/v1/artifacts/{bom}/versions", headers=a, json={"base_version": 1, "change_summary": "two",
                                                                 "content_json": {
        "parts": [{"name": "ESP32 DevKitC", "mpn": "ESP32-DevKitC", "designators": ["U1"]},
                  {"name": "SHT45", "mpn": "SHT45", "designators": ["U2"], "quantity": 2}]}})
    http.post(f"/v1/chats/{chat}/artifacts", headers=a, json={"type": "wiring", "title": "W", "content_json": {
        "connections": [{"from": {"part": "U1", "pin": "GPIO21"}, "to": {"part": "U2", "pin": "SDA"},
                         "wire_color": "blue"}]}})
    http.post(f"/v1/chats/{chat}/artifacts", headers=a, json={"type": "code", "title": "C", "content_json": {
        "files": [{"filename": "main.cpp", "platform": "espressif32", "content": "void setup() {}"}]}})
    photo = png(seed=31337)
    att = http.post("/v1/attachments", headers=a, files={"file": ("board.png", photo)},
                    data={"category": "photo", "chat_id": chat}).json()["id"]
    http.post(f"/v1/projects/{project}/verifications", headers=a, json={**VERIFICATION, "attachment_id": att})
    http.post("/v1/datasheet-analyses", headers=a, json={**ANALYSIS, "project_id": project})
    http.post(f"/v1/chats/{chat}/shares", headers=a, json={})

    first = http.get("/v1/me/export", headers=a).content
    path = tmp_path / "alice.zip"
    path.write_bytes(first)
    env = {"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET, "OHM_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli, ["import", "ohm", str(path), "--user", carol.email], env=env)
    assert result.exit_code == 0, result.output
    printed = " ".join(result.stdout.split())
    assert "3 messages" in printed and "1 attachments" in printed and "4 artifact_versions" in printed
    second = http.get("/v1/me/export", headers={"Authorization": f"Bearer {carol.token()}"}).content

    uuid_ = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    # Not data: where this OHM keeps the bytes, capabilities and counters of the old one, the address.
    volatile = {"share_token", "last_event_seq", "email", "content_search", "view_count", "fork_count", "bucket"}

    def same_shape(value):
        if isinstance(value, dict) and value and all(uuid_.match(k) for k in value):  # keyed by ids: the values
            return sorted(same_shape(v) for v in value.values())
        if isinstance(value, dict):
            return {k: same_shape(v) for k, v in value.items()
                    if not (k in volatile or k.endswith("_at") or (isinstance(v, str) and uuid_.match(v)))}
        if isinstance(value, list):
            return [same_shape(v) for v in value]
        return value

    def tables(blob: bytes) -> dict[str, list[str]]:
        archive = zipfile.ZipFile(io.BytesIO(blob))
        out = {}
        for name in ("profile", "projects", "chats", "messages", "artifacts", "artifact_versions", "parts",
                     "connections", "code_files", "attachments", "circuit_verifications", "datasheet_analyses",
                     "shared_chats", "totals"):
            rows = [json.loads(line) for line in archive.read(f"{name}.jsonl").decode().splitlines()]
            out[name] = sorted(json.dumps(same_shape(r), sort_keys=True) for r in rows)
        out["files"] = sorted(n for n in archive.namelist() if n.startswith("files/"))
        return out

    before, after = tables(first), tables(second)
    for name in before:
        assert before[name] == after[name], name
    assert len(before["parts"]) == 4 and len(before["connections"]) == 1 and before["files"]
    # The tree: the same parents, and the same active leaf.
    with acting(app_url, Identity.service()) as conn:
        shapes = [conn.execute(
            "select array_agg(m.sequence_number::text || '<' || coalesce(p.sequence_number::text, '-') "
            "order by m.sequence_number) as tree, (select l.sequence_number from messages l "
            "where l.id = c.current_leaf_id) as leaf from chats c join messages m on m.chat_id = c.id "
            "left join messages p on p.id = m.parent_id where c.user_id = %s group by c.id", (who,)).fetchone()
            for who in (alice.id, carol.id)]
    assert shapes[0] == shapes[1] == {"tree": ["1<-", "2<1", "3<1"], "leaf": 3}
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("manifest.json", '{"format": "something/9"}')
    refused = CliRunner().invoke(cli, ["import", "ohm", str(bad), "--user", carol.email], env=env)
    assert refused.exit_code == 2 and "not an OHM archive" in refused.stderr
