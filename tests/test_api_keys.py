"""API keys for agents: scopes route by route, limits to a chat or a project, revocation and expiry, what the
database records, and that secrets stay secret."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import websockets

from ohm import keys as key_format
from ohm.api import scopes
from ohm.api.app import RedactTokens
from ohm.auth import Identity, KeyGrant

from .conftest import acting, free_port
from .helpers import OPS, call, receive, serve, subscribe, world, ws_url


def make_key(http: httpx.Client, owner, **body) -> dict:
    body.setdefault("name", "bomGenerator")
    body.setdefault("scopes", ["*"])
    response = http.post("/v1/keys", headers={"Authorization": f"Bearer {owner.token()}"}, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def as_key(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_every_route_has_a_scope(live_server):
    schema = httpx.get(f"{live_server}/openapi.json").json()
    routes = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    assert routes - scopes.ROUTE_SCOPES.keys() == set(), "new routes need a scope in ohm/api/scopes.py"
    assert scopes.ROUTE_SCOPES.keys() - routes == set(), "ohm/api/scopes.py lists routes that no longer exist"
    used = {s for s in scopes.ROUTE_SCOPES.values() if s not in (scopes.USER_ONLY, scopes.PUBLIC)}
    assert used == set(key_format.SCOPES) - {"*"}, "every scope opens some route, and only known scopes are used"


@pytest.mark.parametrize("scope", sorted(key_format.SCOPES))
def test_each_scope_allows_exactly_its_routes(http, user, scope):
    """A key with one scope, on every route of the API (on the owner's own rows): its routes answer, every
    other route is 403, and the user-only routes are 403 whatever the scope."""
    ids = world(http, user)
    secret = make_key(http, user, scopes=[scope])["secret"]
    wrong = []
    # Deletes last, so that what they remove is not missed by the routes before.
    for (method, path), op in sorted(OPS.items(), key=lambda item: (item[0][0] == "DELETE", item[0])):
        needed = scopes.ROUTE_SCOPES[(method, path)]
        response = call(http, method, path, op, ids, secret)
        if op.kind in ("health", "signed"):
            allowed = response.status_code < 400
        elif needed == scopes.USER_ONLY or not (scope == "*" or scope == needed):
            allowed = response.status_code == 403
            if allowed:
                assert response.headers["content-type"].startswith("application/problem+json")
        else:  # its own route: not refused (a deleted row may be gone: 404 is an answer, not a refusal)
            allowed = response.status_code not in (401, 403) and response.status_code < 500
        if not allowed:
            wrong.append(f"{method} {path} [{needed}]: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_keys_cannot_manage_keys_or_the_account(http, user, app_url):
    secret = make_key(http, user, scopes=["*"])["secret"]
    assert http.post("/v1/keys", headers=as_key(secret), json={"name": "x", "scopes": ["*"]}).status_code == 403
    assert http.get("/v1/keys", headers=as_key(secret)).status_code == 403
    assert http.patch("/v1/me", headers=as_key(secret), json={"display_name": "x"}).status_code == 403
    assert http.get("/v1/me", headers=as_key(secret)).status_code == 200
    # The database holds the same line, whatever a server does: a key's claims cannot insert or read keys.
    grant = KeyGrant(uuid.uuid4(), "rogue", frozenset({"*"}))
    rogue = Identity.with_key(user.id, grant)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting(app_url, rogue) as conn:
        conn.execute("select ohm.create_api_key('x', 'ohm_sk_AAAAAAAA', decode(repeat('00', 32), 'hex'), '{*}', "
                     "null, null, null)")
    # Nor may a user store a key of their own choosing (a weak secret) by inserting a row: keys come from
    # ohm.create_api_key with a secret the server drew.
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting(app_url, Identity.user(user.id)) as conn:
        conn.execute("insert into api_keys (name, prefix, secret_sha256, scopes) values "
                     "('x', 'ohm_sk_AAAAAAAA', sha256('password'::bytea), '{*}')")
    with acting(app_url, Identity.with_key(user.id, grant)) as conn:
        assert conn.execute("select count(*) as n from api_keys").fetchone()["n"] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select secret_sha256 from api_keys")


def test_a_key_acts_as_its_user_and_is_recorded(http, user, other_user, app_url):
    created = make_key(http, user, name="wiringExpert", scopes=["chats:write", "messages:write", "chats:read",
                                                                  "analytics:read"])
    assert created["secret"].startswith(created["prefix"] + "_") and created["status"] == "active"
    h = as_key(created["secret"])
    chat = http.post("/v1/chats", headers=h, json={"title": "Wiring"}).json()
    assert http.get(f"/v1/chats/{chat['id']}", headers={"Authorization": f"Bearer {user.token()}"}).status_code == 200
    message = http.post(f"/v1/chats/{chat['id']}/messages", headers=h, json={"role": "assistant", "content": "GPIO4"})
    assert message.status_code == 201 and message.json()["agent"]["name"] == "wiringExpert"
    named = http.post(f"/v1/chats/{chat['id']}/messages", headers=h,
                      json={"role": "assistant", "content": "x", "agent": {"name": "codeGenerator"}}).json()
    assert named["agent"]["name"] == "codeGenerator", "an agent named in the message wins"
    stored = http.get(f"/v1/messages/{message.json()['id']}", headers=h).json()
    assert stored["agent"]["name"] == "wiringExpert"
    with acting(app_url, Identity.service()) as conn:
        logged = conn.execute("select actor_id, actor_key_id, actor_key_name from activity_log "
                              "where entity_id = %s and action = 'message.created'", (message.json()["id"],)).fetchone()
    assert logged == {"actor_id": user.id, "actor_key_id": uuid.UUID(created["id"]), "actor_key_name": "wiringExpert"}
    activity = http.get("/v1/activity", headers=h, params={"chat_id": chat["id"]}).json()["items"]
    assert {"wiringExpert"} == {a["actor_key_name"] for a in activity}
    # Another user's chat stays out of reach: the key is its user, no more.
    bobs = http.post("/v1/chats", headers={"Authorization": f"Bearer {other_user.token()}"}, json={}).json()
    assert http.post(f"/v1/chats/{bobs['id']}/messages", headers=h,
                     json={"role": "user", "content": "x"}).status_code == 404
    # Listing shows the key, never its secret or hash; last use is recorded.
    listed = http.get("/v1/keys", headers={"Authorization": f"Bearer {user.token()}"})
    mine = [k for k in listed.json() if k["id"] == created["id"]]
    assert mine and mine[0]["last_used_at"] is not None and "secret" not in mine[0]
    assert created["secret"] not in listed.text and created["secret"].split("_")[-1] not in listed.text


def test_limited_to_a_chat(http, user, live_server):
    h = {"Authorization": f"Bearer {user.token()}"}
    project = http.post("/v1/projects", headers=h, json={"name": "Greenhouse"}).json()["id"]
    mine = http.post("/v1/chats", headers=h, json={"title": "limited", "project_id": project}).json()["id"]
    other = http.post("/v1/chats", headers=h, json={"title": "elsewhere", "project_id": project}).json()["id"]
    word = f"zq{uuid.uuid4().hex[:8]}"
    for chat in (mine, other):
        assert http.post(f"/v1/chats/{chat}/messages", headers=h, json={"role": "user", "content": word}
                         ).status_code == 201
    k = as_key(make_key(http, user, scopes=["*"], chat_id=mine)["secret"])
    assert http.get(f"/v1/chats/{mine}", headers=k).status_code == 200
    assert http.get(f"/v1/chats/{other}", headers=k).status_code == 404
    assert [c["id"] for c in http.get("/v1/chats", headers=k).json()["items"]] == [mine]
    say = {"role": "user", "content": "ok"}
    assert http.post(f"/v1/chats/{mine}/messages", headers=k, json=say).status_code == 201
    assert http.post(f"/v1/chats/{other}/messages", headers=k, json=say).status_code == 404
    assert http.patch(f"/v1/chats/{other}", headers=k, json={"title": "no"}).status_code == 404
    assert http.post("/v1/chats", headers=k, json={"title": "new"}).status_code in (403, 404)
    hits = http.get("/v1/search", headers=k, params={"q": word}).json()
    assert {hit["chat_id"] for hit in hits["items"]} == {mine}
    assert http.get(f"/v1/chats/{other}/events", headers=k).status_code == 404
    secret = k["Authorization"].split()[1]

    async def watch() -> None:
        async with websockets.connect(ws_url(live_server, secret)) as ws:
            assert (await subscribe(ws, other))["type"] == "error"
            assert (await subscribe(ws, mine))["type"] == "subscribed"

    asyncio.run(watch())
    # The owner's own token still sees everything.
    assert len(http.get("/v1/chats", headers=h, params={"limit": 100}).json()["items"]) >= 2


def test_limited_to_a_project(http, user):
    h = {"Authorization": f"Bearer {user.token()}"}
    project = http.post("/v1/projects", headers=h, json={"name": "Weather station"}).json()["id"]
    elsewhere = http.post("/v1/projects", headers=h, json={"name": "Robot"}).json()["id"]
    inside = http.post("/v1/chats", headers=h, json={"project_id": project}).json()["id"]
    outside = http.post("/v1/chats", headers=h, json={"project_id": elsewhere}).json()["id"]
    k = as_key(make_key(http, user, scopes=["*"], project_id=project)["secret"])
    assert [p["id"] for p in http.get("/v1/projects", headers=k).json()["items"]] == [project]
    assert http.get(f"/v1/projects/{elsewhere}", headers=k).status_code == 404
    assert http.get(f"/v1/chats/{inside}", headers=k).status_code == 200
    assert http.get(f"/v1/chats/{outside}", headers=k).status_code == 404
    created = http.post("/v1/chats", headers=k, json={"title": "new", "project_id": project})
    assert created.status_code == 201
    assert http.post(f"/v1/chats/{created.json()['id']}/messages", headers=k,
                     json={"role": "user", "content": "hi"}).status_code == 201
    assert http.post("/v1/chats", headers=k, json={"title": "loose"}).status_code in (403, 404)
    assert {c["id"] for c in http.get("/v1/chats", headers=k).json()["items"]} == {inside, created.json()["id"]}
    art = http.post(f"/v1/chats/{outside}/artifacts", headers=h, json={"type": "document", "title": "t",
                                                                       "content_text": "x"}).json()["id"]
    assert http.get(f"/v1/artifacts/{art}", headers=k).status_code == 404
    assert http.get(f"/v1/artifacts/{art}/versions", headers=k).status_code == 404


def test_a_limit_must_be_the_users_own(http, user, other_user):
    bobs = http.post("/v1/chats", headers={"Authorization": f"Bearer {other_user.token()}"}, json={}).json()["id"]
    h = {"Authorization": f"Bearer {user.token()}"}
    assert http.post("/v1/keys", headers=h, json={"name": "x", "scopes": ["*"], "chat_id": bobs}).status_code == 404
    assert http.post("/v1/keys", headers=h, json={"name": "x", "scopes": ["*"],
                                                  "project_id": str(uuid.uuid4())}).status_code == 404


@pytest.mark.parametrize("body", [
    {"name": "x", "scopes": []}, {"name": "x", "scopes": ["admin"]}, {"name": "", "scopes": ["*"]},
    {"name": "x\ny", "scopes": ["*"]}, {"name": "x" * 101, "scopes": ["*"]}, {"scopes": ["*"]},
    {"name": "x", "scopes": "*"}, {"name": "x", "scopes": ["*"], "expires_at": "2020-01-01T00:00:00Z"},
    {"name": "x", "scopes": ["*"], "expires_at": "2030-01-01T00:00:00"},  # no time zone
    {"name": "x", "scopes": ["*"], "chat_id": str(uuid.uuid4()), "project_id": str(uuid.uuid4())},
    {"name": "x", "scopes": ["*"], "secret": "ohm_sk_mine"}, {"name": "x", "scopes": ["*"], "user_id": "x"},
    [], "x",
])
def test_bad_key_requests_change_nothing(http, user, app_url, body):
    with acting(app_url, Identity.service()) as conn:
        before = conn.execute("select count(*) as n from api_keys where user_id = %s", (user.id,)).fetchone()["n"]
    response = http.post("/v1/keys", headers={"Authorization": f"Bearer {user.token()}"}, json=body)
    assert 400 <= response.status_code < 500 and response.headers["content-type"].startswith("application/problem")
    with acting(app_url, Identity.service()) as conn:
        assert conn.execute("select count(*) as n from api_keys where user_id = %s",
                            (user.id,)).fetchone()["n"] == before


def test_refused_keys_get_401(http, user, other_user):
    mine = make_key(http, user)
    bobs = make_key(http, other_user)
    prefix, _, secret = mine["secret"].rpartition("_")
    refused = {
        "malformed": "ohm_sk_nope",
        "unknown": f"ohm_sk_{'Z' * 8}_{'a' * 43}",
        "wrong secret": f"{prefix}_{'a' * 43}",
        "another key's secret": f"{prefix}_{bobs['secret'].rpartition('_')[2]}",
        "truncated": mine["secret"][:-1],
        "extended": mine["secret"] + "x",
    }
    for label, secret_ in refused.items():
        response = http.get("/v1/chats", headers=as_key(secret_))
        assert response.status_code == 401, label
        assert response.headers["content-type"].startswith("application/problem+json")
        assert secret not in response.text and "ohm_sk_" not in response.text, label
    assert http.get("/v1/chats", headers=as_key(mine["secret"])).status_code == 200


def test_revocation_holds_on_the_next_request_in_every_process(http, user, database_url):
    created = make_key(http, user, scopes=["chats:read", "messages:write"])
    k = as_key(created["secret"])
    chat = http.post("/v1/chats", headers={"Authorization": f"Bearer {user.token()}"}, json={}).json()["id"]
    port = free_port()
    other = serve(database_url, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as second:
            assert second.get(f"/v1/chats/{chat}", headers=k).status_code == 200  # the key is cached there now
            revoked = http.delete(f"/v1/keys/{created['id']}", headers={"Authorization": f"Bearer {user.token()}"})
            assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
            assert second.get(f"/v1/chats/{chat}", headers=k).status_code == 401
            assert second.post(f"/v1/chats/{chat}/messages", headers=k,
                               json={"role": "user", "content": "x"}).status_code == 401
            assert http.get(f"/v1/chats/{chat}", headers=k).status_code == 401
    finally:
        other.terminate()
        other.wait(30)
    again = http.delete(f"/v1/keys/{created['id']}", headers={"Authorization": f"Bearer {user.token()}"})
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_revoked_key_cannot_come_back(http, user, app_url):
    created = make_key(http, user)
    http.delete(f"/v1/keys/{created['id']}", headers={"Authorization": f"Bearer {user.token()}"})
    with pytest.raises(psycopg.errors.CheckViolation), acting(app_url, Identity.user(user.id)) as conn:
        conn.execute("update api_keys set revoked_at = null where id = %s", (created["id"],))


def test_expiry(http, user):
    expires = datetime.now(UTC) + timedelta(seconds=2)
    created = make_key(http, user, expires_at=expires.isoformat())
    assert http.get("/v1/chats", headers=as_key(created["secret"])).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.3)
    assert http.get("/v1/chats", headers=as_key(created["secret"])).status_code == 401
    listed = http.get("/v1/keys", headers={"Authorization": f"Bearer {user.token()}"}).json()
    assert [k["status"] for k in listed if k["id"] == created["id"]] == ["expired"]


async def test_a_revoked_keys_stream_ends(http, user, live_server):
    created = make_key(http, user, scopes=["chats:read"])
    h = {"Authorization": f"Bearer {user.token()}"}
    chat = http.post("/v1/chats", headers=h, json={}).json()["id"]
    async with websockets.connect(ws_url(live_server, created["secret"])) as ws:
        assert (await subscribe(ws, chat))["type"] == "subscribed"
        http.post(f"/v1/chats/{chat}/messages", headers=h, json={"role": "user", "content": "one"})
        assert (await receive(ws, until="event"))["data"]["content"] == "one"
        http.delete(f"/v1/keys/{created['id']}", headers=h)
        http.post(f"/v1/chats/{chat}/messages", headers=h, json={"role": "user", "content": "two"})
        message = await receive(ws)
        assert message["type"] == "error" and message["code"] == "unauthorized"


async def test_websocket_needs_chats_read(http, user, live_server):
    secret = make_key(http, user, scopes=["messages:write"])["secret"]
    async with websockets.connect(ws_url(live_server, secret)) as ws:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (message["type"], message["code"]) == ("error", "unauthorized") and "chats:read" in message["detail"]


def test_secrets_are_compared_in_constant_time_and_never_logged(monkeypatch):
    secret, prefix, digest = key_format.new_key()
    assert key_format.parse(secret) == prefix and len(secret.rpartition("_")[2]) == 43
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert key_format.matches(secret, digest) and not key_format.matches(secret[:-1] + "A", digest)
    assert len(calls) == 2 and all(len(a) == len(b) == 32 for a, b in calls)
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '"GET /v1/x?token=%s HTTP/1.1" %s',
                               (secret, f"Bearer {secret}"), None)
    RedactTokens().filter(record)
    assert secret not in str(record.args) and secret.rpartition("_")[2] not in str(record.args)
    assert prefix in str(record.args[1])


def test_pages_and_the_console_take_no_key(http, user, live_server):
    """A key is for the API, where its scopes are checked: it cannot become a console session or open the
    usage page (those would reach everything its user sees, whatever the key's scopes)."""
    secret = make_key(http, user, scopes=["*"])["secret"]
    signed = httpx.post(f"{live_server}/sign-in/session", data={"access_token": secret},
                        headers={"Origin": live_server}, follow_redirects=False)
    assert signed.status_code == 401 and "ohm_session" not in signed.headers.get("set-cookie", "")
    assert httpx.get(f"{live_server}/usage", params={"token": secret}, follow_redirects=False).status_code == 401
    assert httpx.get(f"{live_server}/usage", cookies={"ohm_session": secret}).status_code == 401
    assert httpx.get(f"{live_server}/v1/chats", cookies={"ohm_session": secret}).json()["items"] == []
    # The user's own token does sign in.
    assert httpx.post(f"{live_server}/sign-in/session", data={"access_token": user.token()},
                      headers={"Origin": live_server}, follow_redirects=False).status_code == 303


async def test_lookups_are_cached_and_made_up_keys_cost_one(app_url, http, user):
    from ohm.api.key_auth import KeyVerifier
    from ohm.auth import InvalidToken
    from ohm.db.session import Database

    class Counting(Database):
        lookups = 0

        async def run_one(self, query, params):
            Counting.lookups += 1
            return await super().run_one(query, params)

    secret = make_key(http, user, name="counted", scopes=["chats:read"])["secret"]
    async with Counting(app_url, max_size=2) as db:
        verifier = KeyVerifier(db)
        made_up = f"ohm_sk_{'Q' * 8}_{'b' * 43}"
        for _ in range(5):
            with pytest.raises(InvalidToken):
                await verifier.verify(made_up)
        assert Counting.lookups == 1
        for _ in range(5):
            identity = await verifier.verify(secret)
        assert Counting.lookups == 2
        assert identity.user_id == user.id and identity.key.name == "counted"
        assert identity.key.scopes == frozenset({"chats:read"}) and identity.key.allows("chats:read")
        assert not identity.key.allows("messages:write")
        with pytest.raises(InvalidToken):  # the right prefix with another secret
            await verifier.verify(secret[:-1] + ("a" if secret[-1] != "a" else "b"))
