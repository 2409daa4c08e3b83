"""Search: identifiers as typed, ranking, filters, snippets, paging, RLS, hostile query strings."""

from __future__ import annotations

import datetime as dt
import secrets

import httpx
import pytest

from ohm.auth import Identity, issue_token
from ohm.client import OhmClient

from .conftest import JWT_SECRET, acting


def search(base: str, token: str | None, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{base}/v1/search", params=params, headers=headers, timeout=60)


def hits(base: str, token: str | None, **params) -> list[dict]:
    response = search(base, token, **params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.fixture(scope="module")
def corpus(make_user, live_server, app_url):
    """A maker's chats with part numbers, pins and values; another user's; a public chat."""
    maker, other, public_owner = make_user("maker"), make_user("other"), make_user("publisher")
    tag = secrets.token_hex(3)  # words unique to this test run
    with OhmClient(live_server, token=maker.token()) as ohm:
        with acting(app_url, maker.identity) as conn:
            project = conn.execute("insert into projects (user_id, name) values (%s, 'Station') returning id",
                                   (maker.id,)).fetchone()["id"]
        station = ohm.create_chat(title=f"Weather station {tag}", project_id=project)
        power = ohm.create_chat(title="Power supply")
        msgs = {
            "wroom": ohm.post_message(station.id, "user", "Should I use the ESP32-WROOM-32 module or a DevKitC?"),
            "bme": ohm.post_message(station.id, "assistant", "Use a BME280 on I2C: connect SDA to GPIO21 and "
                                    "SCL to GPIO22.", agent={"name": "wiringExpert"}, intent="WIRING"),
            "vcc": ohm.post_message(station.id, "assistant", "Wire U3.VCC to the 3.3 V rail and add a 0.1uF "
                                    "decoupling capacitor.", agent={"name": "wiringExpert"}, intent="WIRING"),
            "ldo": ohm.post_message(power.id, "assistant", "An AMS1117-3.3 regulator drops 5 V to 3.3 V; an LM317 "
                                    "also works but needs two resistors.", agent={"name": "bomGenerator"},
                                    intent="BOM"),
            "sleep": ohm.post_message(station.id, "user", f"How long does deep sleep last on battery? {tag}"),
            "sleep2": ohm.post_message(station.id, "assistant", f"Sleep deep, wake every minute: the sleep "
                                       f"current matters most. Sleep, sleep, sleep. {tag}",
                                       agent={"name": "orchestrator"}, intent="PLAN"),
            "xss": ohm.post_message(power.id, "user", f"<b>bold</b> <script>x()</script> marker{tag}"),
        }
        bom = ohm.create_artifact(station.id, "bom", f"Station BOM {tag}", content_json={"parts": [
            {"name": "Pressure sensor", "mpn": "BME280", "designators": ["U2"]},
            {"name": "Regulator", "mpn": "AMS1117-3.3", "designators": ["U3"]}]}, agent={"name": "bomGenerator"})
        with acting(app_url, maker.identity) as conn:
            conn.execute(
                "insert into parts (user_id, project_id, artifact_version_id, name, mpn, supplier_part_number) "
                "values (%s, %s, %s, 'Pressure sensor', 'BME280', 'C92489')",
                (maker.id, project, bom.current.id))
    with OhmClient(live_server, token=other.token()) as ohm:
        theirs = ohm.create_chat(title="Other's chat")
        ohm.post_message(theirs.id, "user", f"secret{tag} BME280 in my greenhouse")
    with OhmClient(live_server, token=public_owner.token()) as ohm:
        open_chat = ohm.create_chat(title=f"Open station {tag}", is_public=True)
        ohm.post_message(open_chat.id, "user", f"public{tag} BME280 readings are noisy")
    return {"maker": maker, "other": other, "tag": tag, "msgs": msgs, "station": station, "power": power,
            "project": project, "bom": bom, "open": open_chat, "base": live_server}


@pytest.mark.parametrize("query, expected", [
    ("ESP32-WROOM-32", "wroom"), ("esp32 wroom", "wroom"), ("LM317", "ldo"), ("BME280", "bme"),
    ("U3.VCC", "vcc"), ("VCC", "vcc"), ("GPIO21", "bme"), ("0.1uF", "vcc"), ("AMS1117-3.3", "ldo"),
    ("ams1117", "ldo"), ("decoupling capacitors", "vcc"),
])
def test_identifiers_and_words_are_found_as_typed(corpus, query, expected):
    found = hits(corpus["base"], corpus["maker"].token(), q=query, type="messages")
    assert str(corpus["msgs"][expected].id) in [h["id"] for h in found], query


def test_ranking_puts_the_denser_match_first(corpus):
    found = hits(corpus["base"], corpus["maker"].token(), q=f"sleep {corpus['tag']}", type="messages")
    assert [h["id"] for h in found] == [str(corpus["msgs"]["sleep2"].id), str(corpus["msgs"]["sleep"].id)]
    assert found[0]["rank"] > found[1]["rank"]


def test_phrases_or_and_exclusion(corpus):
    base, token, m = corpus["base"], corpus["maker"].token(), corpus["msgs"]
    phrase = [h["id"] for h in hits(base, token, q='"deep sleep"', type="messages")]
    assert phrase == [str(m["sleep"].id)], "only the adjacent words"
    either = {h["id"] for h in hits(base, token, q="LM317 OR GPIO21", type="messages")}
    assert {str(m["ldo"].id), str(m["bme"].id)} <= either
    without = {h["id"] for h in hits(base, token, q="3.3 -regulator", type="messages")}
    assert str(m["vcc"].id) in without and str(m["ldo"].id) not in without


def test_every_type_is_searched_with_its_chat(corpus):
    found = hits(corpus["base"], corpus["maker"].token(), q="BME280")
    types = {h["type"] for h in found}
    assert types == {"message", "artifact", "part"}
    part = next(h for h in found if h["type"] == "part")
    assert part["chat_id"] == str(corpus["station"].id) and part["chat_url"] == f"/chat/{corpus['station'].id}"
    assert "C92489" in part["snippet"]
    artifact = next(h for h in found if h["type"] == "artifact")
    assert (artifact["id"], artifact["artifact_type"], artifact["version"]) == (str(corpus["bom"].id), "bom", 1)
    chats = hits(corpus["base"], corpus["maker"].token(), q=f"station {corpus['tag']}", type="chats")
    assert [h["id"] for h in chats] == [str(corpus["station"].id)]
    assert chats[0]["chat_title"] == f"Weather station {corpus['tag']}"


def test_filters(corpus):
    base, token, m = corpus["base"], corpus["maker"].token(), corpus["msgs"]
    ids = lambda **p: {h["id"] for h in hits(base, token, **p)}  # noqa: E731
    assert ids(q="3.3", type="messages", chat_id=str(corpus["power"].id)) == {str(m["ldo"].id)}
    assert ids(q="3.3", type="messages", project_id=str(corpus["project"])) == {str(m["vcc"].id)}
    assert ids(q="GPIO21 OR regulator", agent="bomGenerator") == {str(m["ldo"].id), str(corpus["bom"].id)}
    assert ids(q="GPIO21 OR regulator", agent="bomGenerator", type="messages") == {str(m["ldo"].id)}
    assert ids(q="sleep", intent="PLAN") == {str(m["sleep2"].id)}
    assert ids(q="sleep", role="user", type="messages") == {str(m["sleep"].id)}
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert ids(q="BME280", **{"from": future}) == set()
    assert str(m["bme"].id) in ids(q="BME280", to=future, type="messages")


def test_snippets_mark_matches_and_escape_html(corpus):
    found = hits(corpus["base"], corpus["maker"].token(), q="GPIO21", type="messages")
    assert "<mark>GPIO21</mark>" in found[0]["snippet"]
    xss = hits(corpus["base"], corpus["maker"].token(), q=f"marker{corpus['tag']}")
    assert xss[0]["snippet"].count("<mark>") == 1
    snippet = xss[0]["snippet"]
    assert "<script>" not in snippet and "<b>" not in snippet, "only <mark> is markup in a snippet"
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    # What looks like a tag is text, escaped, not dropped (`#include <Arduino.h>` stays whole).
    assert "bold&lt;/b&gt;" in snippet and "&lt;script&gt;x()&lt;/script&gt;" in snippet


def test_paging_matches_one_big_page(corpus):
    base, token = corpus["base"], corpus["maker"].token()
    everything = [h["id"] for h in hits(base, token, q="3.3 OR sleep OR BME280 OR esp32", limit=100)]
    assert len(everything) >= 6
    paged, cursor = [], None
    while True:
        params = {"q": "3.3 OR sleep OR BME280 OR esp32", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = search(base, token, **params).json()
        paged += [h["id"] for h in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == everything


def test_rls_others_words_stay_theirs(corpus, app_url):
    base, tag = corpus["base"], corpus["tag"]
    assert hits(base, corpus["maker"].token(), q=f"secret{tag}") == []
    assert len(hits(base, corpus["other"].token(), q=f"secret{tag}")) == 1
    mine = hits(base, corpus["maker"].token(), q="BME280")
    assert all(h["chat_id"] in {str(corpus["station"].id), str(corpus["power"].id)} for h in mine)
    # Anon searches public chats only.
    anon = hits(base, None, q="BME280")
    with acting(app_url, Identity.service()) as conn:
        public = {str(r["id"]) for r in conn.execute("select id from chats where is_public")}
    assert anon and {h["chat_id"] for h in anon} <= public
    assert hits(base, None, q=f"secret{tag}") == []
    assert hits(base, None, q=f"public{tag}")[0]["chat_id"] == str(corpus["open"].id)
    # The service role sees everyone, or one user.
    service = issue_token(JWT_SECRET, role="service_role")
    assert len(hits(base, service, q=f"secret{tag}")) == 1
    assert hits(base, service, q=f"secret{tag}", user_id=str(corpus["maker"].id)) == []


@pytest.mark.parametrize("q, status", [
    ("", 422), ("   ", 422), ("x" * 10_240, 422), ("nul\x00byte", 422),
    ("the and of", 200), ('"unbalanced quotes', 200), ("🔌⚡ esp32", 200), ("'; drop table messages; --", 200),
    ("a & | ! :* <-> (", 200), ("-", 200), ("OR OR OR", 200), ("\\", 200), ("%_%", 200),
])
def test_hostile_queries_never_500(corpus, q, status):
    response = search(corpus["base"], corpus["maker"].token(), q=q)
    assert response.status_code == status, response.text
    if status == 422:
        assert response.headers["content-type"] == "application/problem+json"


def test_bad_parameters_are_422(corpus):
    base, token = corpus["base"], corpus["maker"].token()
    for params in ({"q": "x", "type": "users"}, {"q": "x", "limit": 0}, {"q": "x", "cursor": "???"},
                   {"q": "x", "intent": "DANCE"}, {"q": "x", "from": "yesterday"}, {"q": "x", "chat_id": "1"}):
        assert search(base, token, **params).status_code == 422, params


def test_search_vector_follows_the_content_and_ignores_writers(make_user, live_server, app_url):
    """The vector is kept by triggers (0018): set on insert, recomputed on an edit, never a writer's value."""
    maker = make_user("editor")
    old, new, forged = (f"w{secrets.token_hex(4)}" for _ in range(3))
    with OhmClient(live_server, token=maker.token()) as ohm:
        chat = ohm.create_chat(title="Edits")
        message = ohm.post_message(chat.id, "assistant", f"Use the {old} regulator")
    token = maker.token()
    assert [h["id"] for h in hits(live_server, token, q=old)] == [str(message.id)]

    # the owner edits the content: the old word is gone, the new one is found
    with acting(app_url, maker.identity) as conn:
        conn.execute("update messages set content = %s where id = %s", (f"Use the {new} regulator", message.id))
    assert hits(live_server, token, q=old) == []
    assert [h["id"] for h in hits(live_server, token, q=new)] == [str(message.id)]

    # a metadata-only change keeps the vector
    with acting(app_url, maker.identity) as conn:
        conn.execute("update messages set metadata = '{\"k\": 1}' where id = %s", (message.id,))
    assert [h["id"] for h in hits(live_server, token, q=new)] == [str(message.id)]

    # the service role's own value is replaced, on update and on insert
    with acting(app_url, Identity.service()) as conn:
        conn.execute("update messages set content_search = to_tsvector('simple', %s) where id = %s",
                     (forged, message.id))
        conn.execute("insert into messages (chat_id, user_id, role, content, content_search) "
                     "values (%s, %s, 'user', 'plain words', to_tsvector('simple', %s))", (chat.id, maker.id, forged))
        stored = conn.execute("select content_search::text as v from messages where chat_id = %s order by "
                              "sequence_number", (chat.id,)).fetchall()
    assert hits(live_server, token, q=forged) == []
    assert [h["id"] for h in hits(live_server, token, q=new)] == [str(message.id)]
    assert all(forged not in row["v"] for row in stored)
    # and the users themselves cannot name the column at all
    with pytest.raises(Exception, match="permission denied"):
        with acting(app_url, maker.identity) as conn:
            conn.execute("update messages set content_search = null where id = %s", (message.id,))
