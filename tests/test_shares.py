"""Share links, the public share page and forks, with real tokens and a real browser."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import uuid
from pathlib import Path

import httpx
import pytest

from ohm.auth import Identity
from ohm.client import ERRORS, InvalidError, NotFoundError, OhmClient, OhmError, UnauthorizedError

from .conftest import acting
from .helpers import headless

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


def _raise_or_json(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise ERRORS.get(response.status_code, OhmError)(response.status_code, response.json())
    return response.json()


def post(client: OhmClient, path: str, body: dict | None = None) -> dict:
    """Raw JSON over the client's connection: these tests read the wire format itself."""
    return _raise_or_json(client._http.post(path, json=body or {}))


def get(client: OhmClient, path: str) -> dict:
    return _raise_or_json(client._http.get(path))


@pytest.fixture
def conversation(alice):
    """Five messages from several agents and a BOM artifact with two versions (v2 made by message 4)."""
    chat = alice.create_chat(title="Weather station")
    m1 = alice.post_message(chat.id, "user", "I want a **weather station**.")
    m2 = alice.post_message(chat.id, "assistant", "Plan: parts, wiring, code.", agent={
        "name": "orchestrator", "model": "anthropic/claude-sonnet-4", "icon": "🧭"}, intent="PLAN",
        usage={"input_tokens": 800, "output_tokens": 300})
    m3 = alice.post_message(chat.id, "assistant", "A first BOM:", agent={"name": "bomGenerator",
                            "model": "openai/o1", "icon": "📦"}, intent="BOM")
    bom = alice.create_artifact(chat.id, "bom", "Weather station BOM", message_id=m3.id, content_json={"parts": [
        {"name": "ESP32-DevKitC", "mpn": "ESP32-DEVKITC-32E", "quantity": 1, "designators": ["U1"],
         "unit_price": "10.00"},
        {"name": "DHT22", "mpn": "AM2302", "quantity": 1, "designators": ["U2"], "unit_price": "4.50"}]})
    m4 = alice.post_message(chat.id, "assistant", "Better sensor.", agent={"name": "bomGenerator"}, intent="BOM")
    alice.add_version(bom.id, 1, message_id=m4.id, change_summary="Replaced DHT22 with BME280", content_json={
        "parts": [{"name": "ESP32-DevKitC", "mpn": "ESP32-DEVKITC-32E", "quantity": 1, "designators": ["U1"],
                   "unit_price": "10.00"},
                  {"name": "BME280", "mpn": "BME280", "quantity": 2, "designators": ["U2"], "unit_price": "6.95"}]})
    m5 = alice.post_message(chat.id, "user", "Thanks!")
    return chat, [m1, m2, m3, m4, m5], bom


# --- shares ---------------------------------------------------------------------------------------


def test_share_is_a_snapshot_readable_without_an_account(alice, anon, conversation):
    chat, m, bom = conversation
    share = post(alice, f"/v1/chats/{chat.id}/shares")
    assert share["url"] == f"/share/{share['token']}"
    assert len(share["token"]) >= 22
    assert share["up_to_message_id"] == str(m[4].id)
    assert share["artifact_versions"] == {str(bom.id): 2}
    # Later messages and versions do not appear.
    alice.post_message(chat.id, "assistant", "A later answer")
    alice.add_version(bom.id, 2, content_text="later edit")
    snap = get(anon, f"/v1/shares/{share['token']}")
    assert [x["content"] for x in snap["messages"]] == [x.content for x in m]
    assert snap["messages"][1]["agent"] == {"name": "orchestrator", "model": "anthropic/claude-sonnet-4",
                                            "icon": "🧭"}
    assert snap["artifacts"][0]["version"] == 2
    assert snap["artifacts"][0]["change_summary"] == "Replaced DHT22 with BME280"
    assert snap["chat"]["title"] == "Weather station"
    assert "chat_id" not in snap["share"] and "id" not in snap["chat"], "the private chat's id stays private"


def test_share_up_to_an_earlier_message(alice, anon, conversation):
    chat, m, _ = conversation
    share = post(alice, f"/v1/chats/{chat.id}/shares", {"up_to_message_id": str(m[1].id)})
    snap = get(anon, f"/v1/shares/{share['token']}")
    assert [x["sequence_number"] for x in snap["messages"]] == [1, 2]
    other = alice.create_chat()
    foreign = alice.post_message(other.id, "user", "elsewhere")
    with pytest.raises(InvalidError):
        post(alice, f"/v1/chats/{chat.id}/shares", {"up_to_message_id": str(foreign.id)})
    with pytest.raises(InvalidError):
        post(alice, f"/v1/chats/{chat.id}/shares", {"expires_at": "2020-01-01T00:00:00Z"})
    with pytest.raises(InvalidError):
        post(alice, f"/v1/chats/{chat.id}/shares", {"expires_at": "2099-01-01T00:00:00"})  # no timezone


def test_only_the_owner_shares_lists_and_revokes(alice, bob, anon, conversation, app_url):
    chat, _, _ = conversation
    with pytest.raises(NotFoundError):
        post(bob, f"/v1/chats/{chat.id}/shares")
    with pytest.raises(UnauthorizedError):
        post(anon, f"/v1/chats/{chat.id}/shares")
    share = post(alice, f"/v1/chats/{chat.id}/shares")
    with pytest.raises(NotFoundError):
        get(bob, f"/v1/chats/{chat.id}/shares")
    with pytest.raises(NotFoundError):
        _delete(bob, share["token"])
    get(anon, f"/v1/shares/{share['token']}")  # still works after bob's attempt
    listed = get(alice, f"/v1/chats/{chat.id}/shares")
    assert [s["token"] for s in listed] == [share["token"]]
    assert listed[0]["view_count"] == 1
    revoked = _delete(alice, share["token"])
    assert revoked["is_active"] is False and revoked["revoked_at"]
    with pytest.raises(NotFoundError):
        get(anon, f"/v1/shares/{share['token']}")
    with acting(app_url, Identity.service()) as conn:
        assert conn.execute("select count(*) as n from shared_chats where chat_id = %s",
                            (chat.id,)).fetchone()["n"] == 1


def _delete(client: OhmClient, token: str) -> dict:
    return _raise_or_json(client._http.delete(f"/v1/shares/{token}"))


def test_expired_and_unknown_tokens_are_404(alice, anon, conversation, app_url):
    chat, _, _ = conversation
    share = post(alice, f"/v1/chats/{chat.id}/shares",
                 {"expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()})
    get(anon, f"/v1/shares/{share['token']}")
    with acting(app_url, Identity.service()) as conn:
        conn.execute("update shared_chats set created_at = now() - interval '2 days', "
                     "expires_at = now() - interval '1 second' where share_token = %s", (share["token"],))
    for token in (share["token"], "nope" * 8, "x", "a" * 128):
        with pytest.raises(NotFoundError):
            get(anon, f"/v1/shares/{token}")
    response = anon._http.get("/v1/shares/" + "b" * 129)
    assert response.status_code == 422


def test_concurrent_views_count_exactly(alice, conversation, live_server):
    """100 visitors at once (one user agent each) count 100 views."""
    chat, _, _ = conversation
    share = post(alice, f"/v1/chats/{chat.id}/shares")

    def view(n: int) -> int:
        return httpx.get(f"{live_server}/v1/shares/{share['token']}", headers={"User-Agent": f"browser-{n}"},
                         timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        assert set(pool.map(view, range(100))) == {200}
    assert get(alice, f"/v1/chats/{chat.id}/shares")[0]["view_count"] == 100
    assert get(alice, f"/v1/chats/{chat.id}/shares")[0]["last_viewed_at"] is not None


def test_one_visitor_counts_once_a_day_and_the_log_gets_one_row_an_hour(alice, conversation, live_server, app_url,
                                                                        user):
    """Each anonymous view used to bump view_count and write an activity row, without limit."""
    chat, _, _ = conversation
    share = post(alice, f"/v1/chats/{chat.id}/shares")
    for _ in range(50):
        assert httpx.get(f"{live_server}/v1/shares/{share['token']}", timeout=30).status_code == 200
        assert httpx.get(f"{live_server}/share/{share['token']}", timeout=30).status_code == 200
    assert get(alice, f"/v1/chats/{chat.id}/shares")[0]["view_count"] == 1
    for n in range(20):
        httpx.get(f"{live_server}/v1/shares/{share['token']}", headers={"User-Agent": f"other-{n}"}, timeout=30)
    assert get(alice, f"/v1/chats/{chat.id}/shares")[0]["view_count"] == 21
    with acting(app_url, Identity.service()) as conn:
        logged = conn.execute("select count(*) as n from activity_log where action = 'share.viewed' "
                              "and entity_id = %s", (share["id"],)).fetchone()["n"]
    assert logged == 1, "one share.viewed row per share and hour, however many visitors"


# --- forks ------------------------------------------------------------------------------------------


def test_fork_own_chat_at_a_message(alice, conversation, user):
    chat, m, bom = conversation
    fork = alice.get_chat(post(alice, f"/v1/chats/{chat.id}/fork", {"message_id": str(m[2].id)})["id"])
    assert fork.user_id == user.id and fork.forked_from == chat.id and fork.id != chat.id
    assert [x.content for x in fork.messages] == [x.content for x in m[:3]]
    assert [x.sequence_number for x in fork.messages] == [1, 2, 3]
    assert {x.id for x in fork.messages}.isdisjoint({x.id for x in m})
    copied = fork.messages[1]
    assert (copied.agent.name, copied.intent, copied.usage.input_tokens, str(copied.usage.cost_usd)) == (
        "orchestrator", "PLAN", 800, "0.006900")  # claude-sonnet-4's price: 800 × $3 + 300 × $15 per Mtok
    # The BOM existed at message 3 in its first version only (v2 came with message 4).
    assert len(fork.artifacts) == 1
    art = alice.get_artifact(fork.artifacts[0].id)
    assert (art.current_version, art.total_versions) == (1, 1)
    assert [p["mpn"] for p in art.current.content_json["parts"]] == ["ESP32-DEVKITC-32E", "AM2302"]
    assert art.current.change_summary == "Forked from v1"
    assert art.message_id == fork.messages[2].id
    # The original is untouched.
    assert alice.get_chat(chat.id).message_count == 5


def test_fork_of_the_whole_chat_takes_current_versions(alice, conversation):
    chat, _, _ = conversation
    fork = alice.get_chat(post(alice, f"/v1/chats/{chat.id}/fork")["id"])
    assert fork.message_count == 5
    assert fork.artifacts[0].content_json["parts"][1]["mpn"] == "BME280"
    assert fork.artifacts[0].change_summary == "Forked from v2: Replaced DHT22 with BME280"


def test_forking_others_chats(alice, bob, anon, conversation):
    chat, _, _ = conversation
    with pytest.raises(NotFoundError):
        post(bob, f"/v1/chats/{chat.id}/fork")
    with pytest.raises(UnauthorizedError):
        post(anon, f"/v1/chats/{chat.id}/fork")
    alice.update_chat(chat.id, is_public=True)
    fork = post(bob, f"/v1/chats/{chat.id}/fork")
    assert bob.get_chat(fork["id"]).message_count == 5
    with pytest.raises(NotFoundError):
        alice.get_chat(fork["id"])  # bob's fork is bob's


def test_fork_through_a_share(alice, bob, anon, conversation, other_user):
    chat, m, _ = conversation
    share = post(alice, f"/v1/chats/{chat.id}/shares", {"up_to_message_id": str(m[3].id)})
    with pytest.raises(UnauthorizedError):
        post(anon, f"/v1/shares/{share['token']}/fork")
    fork = bob.get_chat(post(bob, f"/v1/shares/{share['token']}/fork")["id"])
    assert fork.user_id == other_user.id
    assert fork.message_count == 4
    assert fork.artifacts[0].content_json["parts"][1]["mpn"] == "BME280"
    short = bob.get_chat(post(bob, f"/v1/shares/{share['token']}/fork", {"message_id": str(m[1].id)})["id"])
    assert short.message_count == 2 and short.artifacts == []
    with pytest.raises(InvalidError):
        post(bob, f"/v1/shares/{share['token']}/fork", {"message_id": str(m[4].id)})  # beyond the share
    assert get(alice, f"/v1/chats/{chat.id}/shares")[0]["fork_count"] == 2
    _delete(alice, share["token"])
    with pytest.raises(NotFoundError):
        post(bob, f"/v1/shares/{share['token']}/fork")


def test_lineage_of_a_fork_of_a_fork(alice, bob, conversation):
    chat, _, _ = conversation
    share = post(alice, f"/v1/chats/{chat.id}/shares")
    first = post(bob, f"/v1/shares/{share['token']}/fork")["id"]
    second = post(bob, f"/v1/chats/{first}/fork")["id"]
    lineage = get(bob, f"/v1/chats/{second}/lineage")
    # Through a share, the private original is not named: neither its id nor its title.
    assert [(a["depth"], a["chat_id"], a["readable"]) for a in lineage["ancestors"]] == [
        (1, first, True), (2, None, False)]
    assert lineage["ancestors"][1]["title"] is None, "alice's private chat keeps its title"
    assert lineage["ancestors"][1]["via_share"] is True
    assert [f["chat_id"] for f in get(bob, f"/v1/chats/{first}/lineage")["forks"]] == [second]
    assert get(alice, f"/v1/chats/{chat.id}/lineage")["forks"] == [], "bob's private forks stay private"
    with pytest.raises(NotFoundError):
        get(alice, f"/v1/chats/{second}/lineage")


def test_fork_bookkeeping_cannot_be_forged(app_url, user, other_user, conversation):
    chat, _, _ = conversation
    import psycopg

    with pytest.raises(psycopg.Error):
        with acting(app_url, other_user.identity) as conn:
            own = conn.execute("insert into chats (user_id) values (%s) returning id", (other_user.id,)).fetchone()
            # Claiming alice's private chat as the origin, with no share.
            conn.execute("select ohm.record_fork(%s, %s, null, null)", (chat.id, own["id"]))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with acting(app_url, Identity.anon()) as conn:
            conn.execute("select ohm.record_fork(%s, %s, null, null)", (chat.id, chat.id))


# --- the share page -----------------------------------------------------------------------------------


def test_share_page_html_and_headers(alice, conversation, live_server):
    chat, _, _ = conversation
    share = post(alice, f"/v1/chats/{chat.id}/shares")
    page = httpx.get(f"{live_server}/share/{share['token']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<strong>weather station</strong>" in page.text
    assert "orchestrator" in page.text and "anthropic/claude-sonnet-4" in page.text
    assert "23.90 USD" in page.text  # 10.00 + 2 x 6.95
    _delete(alice, share["token"])
    gone = httpx.get(f"{live_server}/share/{share['token']}")
    assert gone.status_code == 404
    assert "not available" in gone.text


XSS = [
    '<script>document.body.setAttribute("data-pwned", "script")</script>',
    '<img src=x onerror="document.body.setAttribute(\'data-pwned\', \'img\')">',
    '[click me](javascript:document.body.setAttribute("data-pwned","link"))',
    '<svg onload="document.body.setAttribute(\'data-pwned\', \'svg\')"></svg>',
]


@pytest.mark.slow
def test_share_page_in_a_real_browser(alice, conversation, live_server):
    chat, _, _ = conversation
    alice.post_message(chat.id, "user", "Can you check this?\n\n" + "\n\n".join(XSS) +
                       "\n\n```cpp\nvoid loop() { delay(500); }\n```")
    share = post(alice, f"/v1/chats/{chat.id}/shares")
    url = f"{live_server}/share/{share['token']}"
    dom = headless(url, "--dump-dom")
    assert "<title>Weather station · OHM</title>" in dom
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0], "no payload ran"
    assert "orchestrator" in dom and "📦" in dom
    assert "23.90 USD" in dom
    assert '<code class="language-cpp">void loop() { delay(500); }' in dom
    assert "&lt;script&gt;" in dom, "the payload is shown as text"
    assert 'href="javascript:' not in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "share-page-mobile.png"
    shot.unlink(missing_ok=True)
    headless(url, f"--screenshot={shot}", "--window-size=390,1600", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
    missing = headless(f"{live_server}/share/{uuid.uuid4().hex}", "--dump-dom")
    assert "This link is not available" in missing


def test_typed_client_for_shares_and_forks(alice, bob, anon, conversation):
    chat, m, _ = conversation
    share = alice.create_share(chat.id, up_to_message_id=m[2].id,
                               expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    snap = anon.read_share(share.token)
    assert [x.sequence_number for x in snap.messages] == [1, 2, 3]
    fork = bob.fork_share(share.token)
    assert bob.lineage(fork.id).ancestors[0].via_share is True
    assert alice.list_shares(chat.id)[0].fork_count == 1
    assert alice.revoke_share(share.token).is_active is False
    mine = alice.fork_chat(chat.id, m[0].id)
    assert mine.message_count == 1 and mine.forked_from == chat.id


def test_share_shows_the_uploads_of_its_branch_with_signed_links(alice, bob, anon, conversation, live_server):
    from .helpers import PDF, png

    chat, m, _ = conversation
    before = alice.upload(png(seed=300), "breadboard.png", category="circuit_image", chat_id=chat.id,
                          message_id=m[1].id)
    chat_level = alice.upload(PDF, "bme280.pdf", category="datasheet", chat_id=chat.id)
    share = post(alice, f"/v1/chats/{chat.id}/shares", {"up_to_message_id": str(m[2].id)})
    off_branch = alice.upload(png(seed=301), "later.png", category="photo", chat_id=chat.id, message_id=m[4].id)
    after = alice.upload(png(seed=302), "after.png", category="photo", chat_id=chat.id)
    snap = get(anon, f"/v1/shares/{share['token']}")
    listed = {f["id"]: f for f in snap["attachments"]}
    assert set(listed) == {str(before.id), str(chat_level.id)}
    assert str(off_branch.id) not in listed and str(after.id) not in listed
    assert "sha256" not in listed[str(before.id)] and "user_id" not in listed[str(before.id)]
    fetched = httpx.get(live_server + listed[str(before.id)]["url"])
    assert fetched.status_code == 200 and fetched.content == png(seed=300)
    # The share's link, not the share itself, opens the bytes: the API still says no.
    with pytest.raises(NotFoundError):
        bob.download(before.id)
    page = httpx.get(f"{live_server}/share/{share['token']}")
    assert 'alt="breadboard.png"' in page.text and "bme280.pdf" in page.text and "later.png" not in page.text
    _delete(alice, share["token"])
    assert httpx.get(f"{live_server}/v1/shares/{share['token']}").status_code == 404


FIRMWARE = {"files": [
    {"filename": "src/main.cpp", "success_unit": 1, "board": "esp32dev",
     "content": "#include <Arduino.h>\nvoid setup() {\n    pinMode(2, OUTPUT);\n}\nvoid loop() {\n\tdelay(500);\n}\n"},
    {"filename": "src/sensors.cpp", "success_unit": 2, "content": "float read() {\n    return 21.5;\n}\n"},
    {"filename": "<b>evil</b>.cpp", "success_unit": 3, "content": "</code></pre><script>alert(1)</script>"},
]}


def test_share_page_shows_firmware_files_and_wiring_steps_as_written(alice, live_server):
    import json
    import re

    design = json.loads((Path(__file__).parent / "data" / "designs" / "hcsr04-echo-into-esp32.json").read_text())
    wiring = design["wiring"]
    for step, connection in zip((3, 5, 7, 9), wiring["connections"], strict=True):
        connection["step"] = step
    wiring["connections"][1]["wire_color"] = "GNYE"
    wiring["connections"][2]["instruction"] = "<img src=x onerror=alert(1)> route it under the board"
    chat = alice.create_chat(title="Sonar")
    alice.post_message(chat.id, "user", "One message only")
    for kind, document in (("bom", design["bom"]), ("wiring", wiring), ("code", FIRMWARE)):
        alice.create_artifact(chat.id, kind, kind.upper(), content_json=document)
    share = post(alice, f"/v1/chats/{chat.id}/shares")
    page = httpx.get(f"{live_server}/share/{share['token']}").text
    assert "1 message ·" in page and "1 messages" not in page
    # Firmware: one monospace block per file, with its name and unit, indentation kept.
    assert page.count('<pre class="code">') == 3
    assert "src/main.cpp" in page and "success unit 2" in page and "    pinMode(2, OUTPUT);" in page
    assert "#include &lt;Arduino.h&gt;" in page and "&lt;b&gt;evil&lt;/b&gt;.cpp" in page
    assert "<script>alert(1)</script>" not in page
    # Wiring: the steps as written, colour swatches, and the finding on its wire.
    steps = [int(s) for s in re.findall(r"<tr(?: class=\"flagged\")?><td>(\d+)</td>", page)]
    assert steps == [3, 5, 7, 9]
    assert "linear-gradient(90deg, #008000, #ffd700)" in page and 'style="background: #e00000"' in page
    assert "U2.ECHO drives 5 V into U1.GPIO18" in page and 'class="flagged"' in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
