"""Artifacts with git-style history over HTTP: versions, optimistic concurrency, restore, diffs, RLS."""

from __future__ import annotations

import concurrent.futures
import copy
import uuid

import httpx
import pytest

from ohm.auth import Identity
from ohm.client import ConflictError, InvalidError, NotFoundError, OhmClient, TooLargeError, UnauthorizedError

from .conftest import acting

DEVKITC = {"name": "ESP32-DevKitC", "mpn": "ESP32-DEVKITC-32E", "quantity": 1, "designators": ["U1"],
           "unit_price": "10.00", "currency": "USD", "supplier": "DigiKey"}
WROOM = {"name": "ESP32-WROOM-32E", "mpn": "ESP32-WROOM-32E-N4", "quantity": 1, "designators": ["U1"],
         "unit_price": "3.20", "currency": "USD", "supplier": "LCSC"}
DHT22 = {"name": "DHT22", "mpn": "AM2302", "quantity": 1, "designators": ["U2"], "unit_price": "4.50",
         "currency": "USD", "supplier": "Adafruit"}
BME280 = {"name": "BME280", "mpn": "BME280", "quantity": 1, "designators": ["U2"], "unit_price": "6.95",
          "currency": "USD", "supplier": "LCSC"}
OLED = {"name": "OLED 0.96in", "mpn": "SSD1306", "quantity": 1, "designators": ["DS1"], "unit_price": "3.80",
        "currency": "USD", "supplier": "AliExpress"}


@pytest.fixture
def weather_bom(alice):
    """The design's example: v1 DevKitC/DHT22/OLED -> v2 BME280 -> v3 WROOM."""
    chat = alice.create_chat(title="Weather station")
    reply = alice.post_message(chat.id, "assistant", "Here is a BOM", agent={"name": "bomGenerator"})
    art = alice.create_artifact(chat.id, "bom", "Weather station BOM", content_json={"parts": [DEVKITC, DHT22, OLED]},
                                change_summary="Initial BOM", message_id=reply.id, agent={"name": "bomGenerator"})
    art = alice.add_version(art.id, 1, content_json={"parts": [DEVKITC, BME280, OLED]},
                            change_summary="Replaced DHT22 with BME280", agent={"name": "bomGenerator"})
    art = alice.add_version(art.id, 2, content_json={"parts": [WROOM, BME280, OLED]},
                            change_summary="Cheaper ESP32 variant")
    return chat, art


def total_versions(app_url, artifact_id) -> int:
    with acting(app_url, Identity.service()) as conn:
        return conn.execute("select count(*) as n from artifact_versions where artifact_id = %s",
                            (artifact_id,)).fetchone()["n"]


def test_create_and_version_history(weather_bom, alice, user):
    chat, art = weather_bom
    assert (art.current_version, art.total_versions) == (3, 3)
    assert art.current.content_json["parts"][0]["mpn"] == "ESP32-WROOM-32E-N4"
    assert [h.version_number for h in art.history] == [3, 2, 1]
    versions = alice.list_versions(art.id)
    assert [(v.version_number, v.parent_version_number, v.change_summary) for v in versions] == [
        (1, None, "Initial BOM"), (2, 1, "Replaced DHT22 with BME280"), (3, 2, "Cheaper ESP32 variant")]
    assert versions[0].created_by_agent == "bomGenerator"
    assert versions[0].created_by_message_id is not None
    assert all(v.created_by_user_id == user.id for v in versions)
    v1 = alice.get_version(art.id, 1)
    assert [p["mpn"] for p in v1.content_json["parts"]] == ["ESP32-DEVKITC-32E", "AM2302", "SSD1306"]
    # The chat shows the current version.
    shown = alice.get_chat(chat.id).artifacts[0]
    assert (shown.current_version, shown.change_summary) == (3, "Cheaper ESP32 variant")


def test_a_stale_base_is_409_with_the_current_version_and_writes_nothing(weather_bom, alice, app_url):
    _, art = weather_bom
    with pytest.raises(ConflictError) as info:
        alice.add_version(art.id, 2, content_text="my edit on an old copy")
    assert info.value.problem["current_version"] == 3
    assert total_versions(app_url, art.id) == 3


def test_two_writers_on_the_same_base_exactly_one_wins(weather_bom, user, live_server, app_url):
    _, art = weather_bom

    def write(i: int) -> int:
        with OhmClient(live_server, token=user.token()) as client:
            try:
                client.add_version(art.id, 3, content_text=f"writer {i}")
                return 201
            except ConflictError as exc:
                assert exc.problem["current_version"] == 4
                return 409

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(write, range(12)))
    assert sorted(outcomes) == [201] + [409] * 11
    assert total_versions(app_url, art.id) == 4


def test_restore_writes_a_new_version_and_never_rewrites_history(weather_bom, alice):
    _, art = weather_bom
    restored = alice.restore_version(art.id, 1)
    assert (restored.current_version, restored.total_versions) == (4, 4)
    assert restored.current.change_summary == "Restored v1"
    assert restored.current.content_json == alice.get_version(art.id, 1).content_json
    assert restored.current.parent_version_number == 3
    assert [v.version_number for v in alice.list_versions(art.id)] == [1, 2, 3, 4]
    with pytest.raises(ConflictError):
        alice.restore_version(art.id, 4)
    with pytest.raises(NotFoundError):
        alice.restore_version(art.id, 9)


def test_bom_diff_shows_the_design_example_as_one_replaced_part(weather_bom, alice):
    _, art = weather_bom
    d = alice.diff(art.id, 1, 2)
    assert d.kind == "bom"
    assert d.bom["added"] == [] and d.bom["removed"] == [] and d.bom["changed"] == []
    assert len(d.bom["replaced"]) == 1
    swap = d.bom["replaced"][0]
    assert (swap["old"]["mpn"], swap["new"]["mpn"], swap["designators"]) == ("AM2302", "BME280", ["U2"])
    assert (d.bom["total_before"], d.bom["total_after"]) == ({"USD": "18.30"}, {"USD": "20.75"})
    both = alice.diff(art.id, 1, 3)
    assert sorted(r["new"]["mpn"] for r in both.bom["replaced"]) == ["BME280", "ESP32-WROOM-32E-N4"]
    assert both.bom["total_after"] == {"USD": "13.95"}


def test_bom_diff_reports_quantity_and_price_changes_and_additions(alice):
    chat = alice.create_chat()
    art = alice.create_artifact(chat.id, "bom", "BOM", content_json={"parts": [OLED, BME280]})
    more = copy.deepcopy([OLED, BME280])
    more[0]["quantity"] = 2
    more[1]["unit_price"] = "5.10"
    resistor = {"name": "4.7k pull-up", "mpn": "RC0603FR-074K7L", "quantity": 2, "designators": ["R1", "R2"],
                "unit_price": "0.01"}
    alice.add_version(art.id, 1, content_json={"parts": [*more, resistor]})
    d = alice.diff(art.id, 1, 2).bom
    assert [a["mpn"] for a in d["added"]] == ["RC0603FR-074K7L"]
    changes = {c["mpn"]: c["changes"] for c in d["changed"]}
    assert changes["SSD1306"] == {"quantity": {"old": 1, "new": 2}}
    assert changes["BME280"] == {"unit_price": {"old": "6.95", "new": "5.10"}}
    assert d["total_after"] == {"USD": "12.72"}


def test_text_and_json_diffs(alice):
    chat = alice.create_chat()
    doc = alice.create_artifact(chat.id, "document", "Assembly notes",
                                content_text="Solder the header.\nFlash the firmware.\n",
                                content_json={"steps": ["solder", "flash"], "tools": {"iron": "TS100"}})
    alice.add_version(doc.id, 1, content_text="Solder the header.\nTest with a multimeter.\nFlash the firmware.\n",
                      content_json={"steps": ["solder", "test", "flash"], "tools": {"iron": "Pinecil"}})
    text = alice.diff(doc.id, 1, 2, kind="text")
    assert "+Test with a multimeter.\n" in text.unified
    assert text.unified.startswith("--- v1\n+++ v2\n")
    js = alice.diff(doc.id, 1, 2)
    assert js.kind == "json"
    assert {"op": "changed", "path": "/tools/iron", "old": "TS100", "new": "Pinecil"} in js.changes
    assert {"op": "added", "path": "/steps/2", "new": "flash"} in js.changes
    assert {"op": "changed", "path": "/steps/1", "old": "flash", "new": "test"} in js.changes


@pytest.mark.parametrize("kwargs, error", [
    ({"type": "bom", "title": "x", "content_json": {"parts": [{"quantity": 2}]}}, InvalidError),
    ({"type": "bom", "title": "x", "content_json": {"parts": [{"name": "R", "quantity": 0}]}}, InvalidError),
    ({"type": "wiring", "title": "x", "content_json": {"connections": [{"from": {"part": "U1"}}]}}, InvalidError),
    ({"type": "code", "title": "x", "content_json": {"files": [{"filename": "a.c", "success_unit": 4}]}},
     InvalidError),
    ({"type": "document", "title": "x"}, InvalidError),
    ({"type": "schematic", "title": "x", "content_text": "?"}, InvalidError),
    ({"type": "document", "title": "", "content_text": "x"}, InvalidError),
    ({"type": "document", "title": "big", "content_text": "x" * (1024 * 1024 + 1)}, TooLargeError),
    ({"type": "document", "title": "big", "content_json": ["y" * (1024 * 1024)]}, TooLargeError),
])
def test_bad_artifacts_are_refused_and_nothing_is_written(alice, app_url, kwargs, error):
    chat = alice.create_chat()
    with pytest.raises(error):
        alice.create_artifact(chat.id, **kwargs)
    with acting(app_url, Identity.service()) as conn:
        assert conn.execute("select count(*) as n from artifacts where chat_id = %s", (chat.id,)).fetchone()["n"] == 0


def test_shape_errors_say_where(alice, live_server, user):
    chat = alice.create_chat()
    response = httpx.post(f"{live_server}/v1/chats/{chat.id}/artifacts",
                          headers={"Authorization": f"Bearer {user.token()}"},
                          json={"type": "bom", "title": "x",
                                "content_json": {"parts": [{"name": "R1", "quantity": -1}]}})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["parts", "0", "quantity"]


def test_bad_version_inputs(weather_bom, alice, app_url):
    chat, art = weather_bom
    other_chat = alice.create_chat()
    elsewhere = alice.post_message(other_chat.id, "user", "not in the artifact's chat")
    with pytest.raises(InvalidError, match="message_id"):
        alice.add_version(art.id, 3, content_text="x", message_id=elsewhere.id)
    with pytest.raises(InvalidError):
        alice.add_version(art.id, 3, content_json={"parts": "not a list"})
    with pytest.raises(InvalidError):
        alice.add_version(art.id, 0, content_text="x")
    with pytest.raises(NotFoundError):
        alice.get_version(art.id, 4)
    with pytest.raises(InvalidError, match="versions 1 to 3"):
        alice.diff(art.id, 1, 4)
    with pytest.raises(InvalidError):
        alice.diff(art.id, 0, 1)
    with pytest.raises(InvalidError):
        alice.create_artifact(chat.id, "document", "x", content_text="y", message_id=elsewhere.id)
    assert total_versions(app_url, art.id) == 3


def test_other_users_and_anon(weather_bom, alice, bob, anon, app_url):
    chat, art = weather_bom
    for client in (bob, anon):
        for call in (lambda c=client: c.get_artifact(art.id), lambda c=client: c.list_versions(art.id),
                     lambda c=client: c.get_version(art.id, 1), lambda c=client: c.diff(art.id, 1, 2)):
            with pytest.raises(NotFoundError):
                call()
    for call in (lambda: bob.add_version(art.id, 3, content_text="x"), lambda: bob.restore_version(art.id, 1),
                 lambda: bob.delete_artifact(art.id),
                 lambda: bob.create_artifact(chat.id, "document", "x", content_text="y")):
        with pytest.raises(NotFoundError):
            call()
    for call in (lambda: anon.add_version(art.id, 3, content_text="x"), lambda: anon.restore_version(art.id, 1),
                 lambda: anon.delete_artifact(art.id),
                 lambda: anon.create_artifact(chat.id, "document", "x", content_text="y")):
        with pytest.raises(UnauthorizedError):
            call()
    assert total_versions(app_url, art.id) == 3
    # A public chat's artifacts are readable by anyone, still writable only by the owner.
    alice.update_chat(chat.id, is_public=True)
    for client in (bob, anon):
        assert client.get_artifact(art.id).current_version == 3
        assert len(client.list_versions(art.id)) == 3
        assert client.diff(art.id, 1, 2).bom["replaced"]
    with pytest.raises(NotFoundError):
        bob.add_version(art.id, 3, content_text="x")
    assert total_versions(app_url, art.id) == 3


def test_delete_removes_the_history(weather_bom, alice, app_url):
    _, art = weather_bom
    alice.delete_artifact(art.id)
    assert total_versions(app_url, art.id) == 0
    with pytest.raises(NotFoundError):
        alice.get_artifact(art.id)


def test_unknown_artifact_is_404(alice):
    with pytest.raises(NotFoundError):
        alice.get_artifact(uuid.uuid4())
    with pytest.raises(NotFoundError):
        alice.add_version(uuid.uuid4(), 1, content_text="x")
