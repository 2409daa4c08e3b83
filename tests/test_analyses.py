"""Circuit verifications and datasheet analyses over HTTP: shapes, links, and owner-only access."""

from __future__ import annotations

import uuid

import httpx
import pytest

from ohm.auth import Identity, issue_token

from .conftest import JWT_SECRET, acting, auth
from .helpers import PDF, make_chat, make_project, png

SERVICE = {"Authorization": f"Bearer {issue_token(JWT_SECRET, role='service_role')}"}


def upload(http, user, data: bytes, category: str, **form) -> dict:
    response = http.post("/v1/attachments", files={"file": ("f", data)}, data={"category": category, **form},
                         headers=auth(user))
    assert response.status_code == 201, response.text
    return response.json()


def verification(**overrides) -> dict:
    return {
        "status": "warning",
        "detected_components": [{"name": "ESP32-DevKitC", "designator": "U1", "confidence": 0.93},
                                {"name": "BME280 breakout"}],
        "issues": [{"severity": "warning", "message": "SDA and SCL have no pull-ups", "location": "GPIO21/22"}],
        "suggestions": ["Add 4.7 kΩ pull-ups to 3.3 V on SDA and SCL"],
        "model": "vision-model-1",
        **overrides,
    }


def test_verifications_are_recorded_listed_newest_first_and_read(http, user, app_url):
    project = make_project(app_url, user)
    chat = make_chat(app_url, user)
    photo = upload(http, user, png(seed=101), "circuit_image", chat_id=str(chat), project_id=str(project))
    first = http.post(f"/v1/projects/{project}/verifications", json=verification(attachment_id=photo["id"]),
                      headers=auth(user))
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "warning" and body["attachment_id"] == photo["id"]
    assert body["issues"] == [{"severity": "warning", "message": "SDA and SCL have no pull-ups",
                               "location": "GPIO21/22"}]
    assert body["detected_components"][1] == {"name": "BME280 breakout"}
    second = http.post(f"/v1/projects/{project}/verifications",
                       json=verification(status="pass", issues=[], chat_id=str(chat)), headers=SERVICE).json()
    listed = http.get(f"/v1/projects/{project}/verifications", headers=auth(user)).json()
    assert [v["id"] for v in listed["items"]] == [second["id"], body["id"]]
    page = http.get(f"/v1/projects/{project}/verifications?limit=1", headers=auth(user)).json()
    assert page["items"][0]["id"] == second["id"] and page["next_cursor"]
    rest = http.get(f"/v1/projects/{project}/verifications",
                    params={"limit": 1, "cursor": page["next_cursor"]}, headers=auth(user)).json()
    assert [v["id"] for v in rest["items"]] == [body["id"]] and rest["next_cursor"] is None
    assert http.get(f"/v1/verifications/{body['id']}", headers=auth(user)).json() == body


@pytest.mark.parametrize("bad", [
    {"status": "maybe"},
    {"issues": [{"severity": "fatal", "message": "x"}]},
    {"issues": [{"severity": "error"}]},
    {"detected_components": [{"name": "U1", "confidence": 1.5}]},
    {"suggestions": "add pull-ups"},
    {"unknown_field": 1},
    {"message_id": str(uuid.uuid4())},
])
def test_malformed_verifications_are_422_and_store_nothing(http, user, app_url, bad):
    project = make_project(app_url, user)
    response = http.post(f"/v1/projects/{project}/verifications", json=verification(**bad), headers=auth(user))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert http.get(f"/v1/projects/{project}/verifications", headers=auth(user)).json()["items"] == []


def test_verifications_belong_to_the_project_owner_only(http, user, other_user, app_url):
    project = make_project(app_url, user)
    mine = http.post(f"/v1/projects/{project}/verifications", json=verification(), headers=auth(user)).json()
    for headers in (auth(other_user), {}):
        assert http.get(f"/v1/projects/{project}/verifications", headers=headers).status_code == 404
        assert http.get(f"/v1/verifications/{mine['id']}", headers=headers).status_code == 404
    assert http.post(f"/v1/projects/{project}/verifications", json=verification(),
                     headers=auth(other_user)).status_code == 404
    assert http.post(f"/v1/projects/{project}/verifications", json=verification()).status_code == 401
    # Bob's photo or chat cannot be attached to Alice's project's verification.
    bobs_photo = upload(http, other_user, png(seed=102), "circuit_image")
    bobs_chat = make_chat(app_url, other_user)
    for link in ({"attachment_id": bobs_photo["id"]}, {"chat_id": str(bobs_chat)}):
        assert http.post(f"/v1/projects/{project}/verifications", json=verification(**link),
                         headers=auth(user)).status_code == 422
    assert len(http.get(f"/v1/projects/{project}/verifications", headers=auth(user)).json()["items"]) == 1
    assert http.post(f"/v1/projects/{uuid.uuid4()}/verifications", json=verification(),
                     headers=SERVICE).status_code == 404


def analysis(**overrides) -> dict:
    return {
        "part_number": "BME280",
        "manufacturer": "Bosch Sensortec",
        "key_specs": {"vdd": "1.71–3.6 V", "interface": ["I2C", "SPI"], "current_ua": 3.6},
        "pinout": [{"pin": "1", "name": "GND", "type": "ground"},
                   {"pin": "2", "name": "CSB", "type": "input", "voltage": 3.3},
                   {"pin": "8", "name": "VDD", "type": "power", "voltage": 3.3}],
        "application_notes": "Decouple VDD with 100 nF close to the pin.",
        "warnings": ["Not 5 V tolerant"],
        "model": "doc-model-2",
        **overrides,
    }


def test_datasheet_analyses_are_recorded_filtered_and_linked_to_parts(http, user, app_url):
    project = make_project(app_url, user)
    sheet = upload(http, user, PDF + b"% bme280\n", "datasheet", project_id=str(project))
    created = http.post("/v1/datasheet-analyses", json=analysis(attachment_id=sheet["id"], project_id=str(project)),
                        headers=auth(user))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["pinout"][1] == {"pin": "2", "name": "CSB", "type": "input", "voltage": 3.3}
    assert body["key_specs"]["interface"] == ["I2C", "SPI"]
    other = http.post("/v1/datasheet-analyses", json=analysis(part_number="LM7805", pinout=[]),
                      headers=auth(user)).json()
    found = http.get("/v1/datasheet-analyses", params={"part_number": "bme280"}, headers=auth(user)).json()
    assert [a["id"] for a in found["items"]] == [body["id"]]
    assert {a["id"] for a in http.get("/v1/datasheet-analyses", headers=auth(user)).json()["items"]} == {
        body["id"], other["id"]}
    by_file = http.get("/v1/datasheet-analyses", params={"attachment_id": sheet["id"]}, headers=auth(user)).json()
    assert [a["id"] for a in by_file["items"]] == [body["id"]]
    assert http.get(f"/v1/datasheet-analyses/{body['id']}", headers=auth(user)).json() == body
    # A BOM line points at the analysis; the analysis points at the file.
    chat = make_chat(app_url, user)
    bom = http.post(f"/v1/chats/{chat}/artifacts", headers=auth(user), json={
        "type": "bom", "title": "BOM", "content_json": {"parts": [{"name": "BME280 sensor"}]}})
    assert bom.status_code == 201, bom.text
    with acting(app_url, user.identity) as conn:
        version = conn.execute("select id from public.artifact_versions where artifact_id = %s",
                               (bom.json()["id"],)).fetchone()["id"]
        part = conn.execute(
            """insert into public.parts (user_id, project_id, artifact_version_id, name, datasheet_analysis_id)
               values (%s, %s, %s, 'BME280 sensor', %s) returning id""",
            (user.id, project, version, body["id"])).fetchone()
        linked = conn.execute(
            """select d.part_number, a.filename from public.parts p
                 join public.datasheet_analyses d on d.id = p.datasheet_analysis_id
                 join public.attachments a on a.id = d.attachment_id where p.id = %s""", (part["id"],)).fetchone()
    assert linked["part_number"] == "BME280" and linked["filename"] == "f"


@pytest.mark.parametrize("bad", [
    {"part_number": ""},
    {"pinout": [{"pin": "1", "name": "VDD", "type": "banana"}]},
    {"pinout": [{"pin": "1", "type": "power"}]},
    {"key_specs": ["not", "an", "object"]},
    {"warnings": "one string"},
    {"attachment_id": "nope"},
])
def test_malformed_analyses_are_422(http, user, bad):
    response = http.post("/v1/datasheet-analyses", json=analysis(**bad), headers=auth(user))
    assert response.status_code == 422, response.text


def test_datasheet_analyses_are_owner_only(http, user, other_user, app_url):
    mine = http.post("/v1/datasheet-analyses", json=analysis(), headers=auth(user)).json()
    for headers in (auth(other_user), {}):
        assert http.get(f"/v1/datasheet-analyses/{mine['id']}", headers=headers).status_code == 404
        assert mine["id"] not in {a["id"] for a in http.get("/v1/datasheet-analyses", headers=headers).json()["items"]}
    assert http.post("/v1/datasheet-analyses", json=analysis()).status_code == 401
    bobs_sheet = upload(http, other_user, PDF + b"% bob\n", "datasheet")
    assert http.post("/v1/datasheet-analyses", json=analysis(attachment_id=bobs_sheet["id"]),
                     headers=auth(user)).status_code == 422
    with acting(app_url, other_user.identity) as conn:
        changed = conn.execute("update public.datasheet_analyses set part_number = 'X' where id = %s returning id",
                               (mine["id"],)).fetchone()
    assert changed is None


def test_the_service_role_records_analyses_for_the_files_owner(http, user, app_url):
    sheet = upload(http, user, PDF + b"% service\n", "datasheet")
    assert http.post("/v1/datasheet-analyses", json=analysis(), headers=SERVICE).status_code == 422
    made = http.post("/v1/datasheet-analyses", json=analysis(attachment_id=sheet["id"]), headers=SERVICE)
    assert made.status_code == 201, made.text
    assert http.get(f"/v1/datasheet-analyses/{made.json()['id']}", headers=auth(user)).status_code == 200
    with acting(app_url, Identity.service()) as conn:
        owner = conn.execute("select user_id from public.datasheet_analyses where id = %s",
                             (made.json()["id"],)).fetchone()["user_id"]
    assert owner == user.id


def test_the_typed_clients_cover_files_and_analyses(live_server, user, other_user, app_url):
    import asyncio

    from ohm.client import AsyncOhmClient, NotFoundError, OhmClient, UnsupportedTypeError

    project = make_project(app_url, user)
    with OhmClient(live_server, token=user.token()) as ohm:
        photo = ohm.upload(png(seed=200), "desk.png", category="circuit_image", project_id=project)
        assert ohm.download(photo.id) == png(seed=200)
        assert ohm.set_processing_status(photo.id, "processing").processing_status == "processing"
        link = ohm.signed_url(photo.id, ttl=30)
        assert httpx.get(live_server + link.url).content == png(seed=200)
        with pytest.raises(UnsupportedTypeError):
            ohm.upload(b"MZ" + b"\x00" * 100, "x.png", category="photo")
        made = ohm.add_verification(project, verification(attachment_id=photo.id))
        assert ohm.list_verifications(project).items[0].id == made.id
        sheet = ohm.add_datasheet_analysis(analysis(project_id=project))
        assert [a.id for a in ohm.list_datasheet_analyses(part_number="bme280").items] == [sheet.id]

    async def other() -> None:
        async with AsyncOhmClient(live_server, token=other_user.token()) as bob:
            with pytest.raises(NotFoundError):
                await bob.download(photo.id)
            mine = await bob.upload(PDF, "sheet.pdf", category="datasheet")
            assert await bob.download(mine.id) == PDF
            await bob.delete_attachment(mine.id)
            with pytest.raises(NotFoundError):
                await bob.get_attachment(mine.id)

    asyncio.run(other())
