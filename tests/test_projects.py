"""Projects over HTTP: CRUD, BOM / wiring / code normalised from artifact versions, checks, exports, and RLS."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from decimal import Decimal

import httpx
import psycopg
import pytest
import yaml

from ohm.auth import Identity, issue_token
from ohm.store import demo as demo_store

from .conftest import JWT_SECRET, acting, auth

SERVICE = {"Authorization": f"Bearer {issue_token(JWT_SECRET, role='service_role')}"}


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else {}


def pin(name, kind, voltage=None, **extra):
    return {"name": name, "type": kind, **({"voltage": voltage} if voltage is not None else {}), **extra}


MCU = {"name": "ESP32-DevKitC", "mpn": "ESP32-DEVKITC-32E", "designators": ["U1"], "unit_price": "10.00",
       "supplier": "LCSC", "supplier_part_number": "C2934560", "footprint": "Module:ESP32-DevKitC",
       "specs": {"supply_voltage": 5, "logic_voltage": 3.3, "five_volt_tolerant": False, "pins": [
           pin("3V3", "power_out", 3.3, max_current_ma=600), pin("5V", "power_out", 5, max_current_ma=500),
           pin("GND", "power_out", 0), pin("GPIO21", "bidirectional", 3.3), pin("GPIO22", "bidirectional", 3.3),
           pin("GPIO34", "input", 3.3)]}}
SENSOR = {"name": "BME280 sensor", "mpn": "BME280", "designators": ["U2"], "unit_price": "6.95", "supplier": "LCSC",
          "specs": {"supply_voltage": {"min": 1.71, "max": 3.6}, "current_ma": 0.004,
                    "pins": [pin("VIN", "power_in"), pin("GND", "power_in", 0), pin("SDA", "bidirectional", 3.3),
                             pin("SCL", "input", 3.3)]}}
RAIN = {"name": "Rain sensor", "mpn": "YL-83", "designators": ["U3"], "unit_price": "2.50", "supplier": "LCSC",
        "specs": {"supply_voltage": {"min": 3.3, "max": 5}, "current_ma": 15,
                  "pins": [pin("VCC", "power_in"), pin("GND", "power_in", 0), pin("DO", "output", "supply")]}}
RESISTORS = {"name": "Resistor 4.7k", "quantity": 2, "designators": ["R1", "R2"], "unit_price": "0.01",
             "supplier": "LCSC", "specs": {"lcsc": "C23162"}, "footprint": "R_0603"}


def wire(step, a, b, colour, voltage=None):
    (pa, xa), (pb, xb) = a.split("."), b.split(".")
    return {"from": {"part": pa, "pin": xa}, "to": {"part": pb, "pin": xb}, "wire_color": colour, "step": step,
            **({"voltage": voltage} if voltage is not None else {})}


WIRING = [wire(1, "U1.3V3", "U2.VIN", "RD", 3.3), wire(1, "U1.GND", "U2.GND", "BK", 0),
          wire(2, "U1.GPIO21", "U2.SDA", "BU"), wire(2, "U1.GPIO22", "U2.SCL", "YE"),
          wire(3, "U1.5V", "U3.VCC", "RD", 5), wire(3, "U1.GND", "U3.GND", "BK", 0),
          wire(4, "U3.DO", "U1.GPIO34", "GN")]
CODE = [
    {"filename": "src/main.cpp", "platform": "espressif32", "board": "esp32dev", "framework": "arduino",
     "success_unit": 1, "content": "#include <Arduino.h>\nvoid setup() {}\nvoid loop() {}\n"},
    {"filename": "src/sensor.cpp", "platform": "espressif32", "board": "esp32dev", "success_unit": 2,
     "libraries": ["adafruit/Adafruit BME280 Library@^2.2.4"], "content": "// sensor\n"},
]


@pytest.fixture
def station(http, user):
    """A project with a chat holding a BOM (2 versions), wiring with the 5 V mistake, and code."""
    project = ok(http.post("/v1/projects", headers=auth(user), json={
        "name": "Balcony station", "goal": "Weather on the balcony", "location": "outdoor, balcony",
        "budget_amount": "40.00", "budget_currency": "USD",
        "workflow_steps": [{"name": "Choose parts", "status": "done"}, {"name": "Wire it", "status": "in_progress"},
                           {"name": "Enclosure"}]}), 201)
    chat = ok(http.post("/v1/chats", headers=auth(user), json={"project_id": project["id"]}), 201)
    bom = ok(http.post(f"/v1/chats/{chat['id']}/artifacts", headers=auth(user), json={
        "type": "bom", "title": "BOM", "content_json": {"parts": [MCU, SENSOR]}}), 201)
    ok(http.post(f"/v1/artifacts/{bom['id']}/versions", headers=auth(user), json={
        "base_version": 1, "change_summary": "rain sensor, pull-ups",
        "content_json": {"parts": [MCU, SENSOR, RAIN, RESISTORS]}}), 201)
    wiring = ok(http.post(f"/v1/chats/{chat['id']}/artifacts", headers=auth(user), json={
        "type": "wiring", "title": "Wiring", "content_json": {"connections": WIRING}}), 201)
    code = ok(http.post(f"/v1/chats/{chat['id']}/artifacts", headers=auth(user), json={
        "type": "code", "title": "Firmware", "content_json": {"files": CODE}}), 201)
    return {"project": project, "chat": chat, "bom": bom, "wiring": wiring, "code": code}


def test_project_crud_and_paging(http, user):
    created = ok(http.post("/v1/projects", headers=auth(user), json={
        "name": "Plant waterer", "budget_amount": "25.50", "budget_currency": "EUR",
        "requirements": {"pump": "5 V"}, "success_metrics": [{"metric": "soil moisture", "target": "40%"}],
        "workflow_steps": [{"name": "Prototype", "status": "todo", "owner": "me"}]}), 201)
    assert created["budget_amount"] == "25.50" and created["workflow_steps"][0]["owner"] == "me"
    path = f"/v1/projects/{created['id']}"
    changed = ok(http.patch(path, headers=auth(user), json={"location": "kitchen window", "status": "completed",
                                                           "budget_amount": None}))
    assert (changed["location"], changed["status"], changed["budget_amount"]) == ("kitchen window", "completed", None)
    detail = ok(http.get(path, headers=auth(user)))
    assert detail["chats"] == [] and detail["bom"] is None and detail["checks"] is None
    second = ok(http.post("/v1/projects", headers=auth(user), json={"name": "Second"}), 201)
    page = ok(http.get("/v1/projects?limit=1", headers=auth(user)))
    assert [p["id"] for p in page["items"]] == [second["id"]] and page["next_cursor"]
    rest = ok(http.get("/v1/projects", params={"limit": 1, "cursor": page["next_cursor"]}, headers=auth(user)))
    assert [p["id"] for p in rest["items"]] == [created["id"]]
    assert http.delete(path, headers=auth(user)).status_code == 204
    assert http.get(path, headers=auth(user)).status_code == 404


@pytest.mark.parametrize("body", [
    {}, {"name": ""}, {"name": "x", "budget_amount": "-1"}, {"name": "x", "budget_currency": "usd"},
    {"name": "x", "workflow_steps": [{"status": "done"}]}, {"name": "x", "workflow_steps": [{"name": "a",
                                                                                            "status": "later"}]},
    {"name": "x", "status": "paused"}, {"name": "x", "colour": "red"}, {"name": "x", "budget_amount": "1.234"},
])
def test_bad_projects_are_422(http, user, body):
    response = http.post("/v1/projects", headers=auth(user), json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_versions_are_normalised_into_rows_in_the_same_transaction(http, user, app_url, station):
    with acting(app_url, user.identity) as conn:
        parts = conn.execute(
            """select v.version_number, p.name, p.quantity, p.designators, p.unit_price, p.voltage_min, p.voltage_max
                 from parts p join artifact_versions v on v.id = p.artifact_version_id
                where v.artifact_id = %s order by 1, p.position""", (station["bom"]["id"],)).fetchall()
        wires = conn.execute(
            """select c.from_part, c.from_pin, c.from_part_id is not null as resolved, c.step_number
                 from connections c join artifact_versions v on v.id = c.artifact_version_id
                where v.artifact_id = %s order by c.position""", (station["wiring"]["id"],)).fetchall()
        files = conn.execute(
            """select f.filename, f.success_unit, f.libraries from code_files f
                 join artifact_versions v on v.id = f.artifact_version_id where v.artifact_id = %s
                order by f.position""", (station["code"]["id"],)).fetchall()
    assert [(p["version_number"], p["name"]) for p in parts] == [
        (1, "ESP32-DevKitC"), (1, "BME280 sensor"), (2, "ESP32-DevKitC"), (2, "BME280 sensor"), (2, "Rain sensor"),
        (2, "Resistor 4.7k")]
    assert (parts[3]["voltage_min"], parts[3]["voltage_max"]) == (Decimal("1.71"), Decimal("3.6"))
    assert parts[5]["designators"] == ["R1", "R2"] and parts[5]["quantity"] == 2
    assert len(wires) == 7 and all(w["resolved"] for w in wires)
    assert [(f["filename"], f["success_unit"]) for f in files] == [("src/main.cpp", 1), ("src/sensor.cpp", 2)]


def test_invalid_shapes_are_422_and_write_nothing(http, user, app_url, station):
    bom = station["bom"]
    before = ok(http.get(f"/v1/artifacts/{bom['id']}", headers=auth(user)))["current_version"]
    for bad in ({"parts": [{"name": "x", "quantity": "two"}]}, {"parts": [{"quantity": 1}]}, {"parts": {}},
                {"parts": [{"name": "x", "lifecycle": "dead"}]}):
        response = http.post(f"/v1/artifacts/{bom['id']}/versions", headers=auth(user),
                             json={"base_version": before, "content_json": bad})
        assert response.status_code == 422, response.text
    assert ok(http.get(f"/v1/artifacts/{bom['id']}", headers=auth(user)))["current_version"] == before
    # The database refuses a bad shape too (a client writing over PostgREST, past the API's validation).
    with pytest.raises(psycopg.errors.DataError):
        with acting(app_url, user.identity) as conn:
            conn.execute("insert into artifact_versions (artifact_id, user_id, content_json) values (%s, %s, %s)",
                         (bom["id"], user.id, psycopg.types.json.Jsonb({"parts": [{"name": "x",
                                                                                    "quantity": "many"}]})))
    with pytest.raises(psycopg.errors.CheckViolation):
        with acting(app_url, user.identity) as conn:
            conn.execute("insert into artifact_versions (artifact_id, user_id, content_json) values (%s, %s, %s)",
                         (station["wiring"]["id"], user.id, psycopg.types.json.Jsonb({"wires": []})))
    with acting(app_url, user.identity) as conn:
        count = conn.execute("select count(*) as n from artifact_versions where artifact_id = %s",
                             (bom["id"],)).fetchone()["n"]
    assert count == before


def test_bom_view_with_totals_budget_and_older_versions(http, user, station):
    pid = station["project"]["id"]
    bom = ok(http.get(f"/v1/projects/{pid}/bom", headers=auth(user)))
    assert (bom["version"], bom["current_version"]) == (2, 2)
    assert [p["name"] for p in bom["parts"]] == ["ESP32-DevKitC", "BME280 sensor", "Rain sensor", "Resistor 4.7k"]
    assert bom["parts"][3]["line_total"] == "0.0200" and bom["totals"] == {"USD": "19.47"}
    assert bom["budget_amount"] == "40.00"
    old = ok(http.get(f"/v1/projects/{pid}/bom?version=1", headers=auth(user)))
    assert (old["version"], len(old["parts"]), old["totals"]) == (1, 2, {"USD": "16.95"})
    assert http.get(f"/v1/projects/{pid}/bom?version=9", headers=auth(user)).status_code == 404
    assert http.get(f"/v1/projects/{pid}/bom?version=0", headers=auth(user)).status_code == 422
    detail = ok(http.get(f"/v1/projects/{pid}", headers=auth(user)))
    assert detail["bom"]["lines"] == 4 and detail["bom"]["quantity"] == 5
    assert detail["bom"]["over_budget"] is False
    assert [c["id"] for c in detail["chats"]] == [station["chat"]["id"]]
    ok(http.patch(f"/v1/projects/{pid}", headers=auth(user), json={"budget_amount": "15"}))
    over = ok(http.get(f"/v1/projects/{pid}/bom", headers=auth(user)))
    assert [f["rule"] for f in over["findings"]] == ["bom.over_budget"]
    assert ok(http.get(f"/v1/projects/{pid}", headers=auth(user)))["bom"]["over_budget"] is True


def test_wiring_and_code_views(http, user, station):
    pid = station["project"]["id"]
    wiring = ok(http.get(f"/v1/projects/{pid}/wiring", headers=auth(user)))
    assert [c["step"] for c in wiring["connections"]] == [1, 1, 2, 2, 3, 3, 4]
    last = wiring["connections"][-1]
    assert last["from"] == {"part": "U3", "pin": "DO", "part_id": last["from"]["part_id"]} and last["from"]["part_id"]
    assert any("drives 5 V into U1.GPIO34" in w for w in last["warnings"])
    assert [f["rule"] for f in wiring["findings"]] == ["voltage.overvoltage"]
    code = ok(http.get(f"/v1/projects/{pid}/code", headers=auth(user)))
    assert [(u["unit"], [f["filename"] for f in u["files"]]) for u in code["units"]] == [
        (1, ["src/main.cpp"]), (2, ["src/sensor.cpp"])]
    assert code["findings"] == []


def test_checks_are_stored_per_version_and_catch_the_5v_mistake(http, user, app_url, station):
    pid = station["project"]["id"]
    checks = ok(http.get(f"/v1/projects/{pid}/checks", headers=auth(user)))
    assert (checks["errors"], checks["bom_version"], checks["wiring_version"], checks["code_version"]) == (1, 2, 1, 1)
    error = next(f for f in checks["findings"] if f["severity"] == "error")
    assert error["rule"] == "voltage.overvoltage" and error["pins"] == ["U1.GPIO34", "U3.DO"]
    assert error["connections"] == [6]
    detail = ok(http.get(f"/v1/projects/{pid}", headers=auth(user)))
    assert detail["checks"]["errors"] == 1
    # Fixing the wiring (rain sensor on 3.3 V) is a new version, checked when written.
    fixed = [*WIRING[:4], wire(3, "U1.3V3", "U3.VCC", "RD", 3.3), *WIRING[5:]]
    ok(http.post(f"/v1/artifacts/{station['wiring']['id']}/versions", headers=auth(user),
                 json={"base_version": 1, "content_json": {"connections": fixed}}), 201)
    with acting(app_url, user.identity) as conn:
        runs = conn.execute("select errors from check_runs where project_id = %s order by created_at",
                            (pid,)).fetchall()
    assert [r["errors"] for r in runs][-1] == 0 and len(runs) >= 2
    assert ok(http.get(f"/v1/projects/{pid}/checks", headers=auth(user)))["errors"] == 0


def test_exports(http, user, station):
    pid = station["project"]["id"]
    jlc = http.get(f"/v1/projects/{pid}/bom.csv?format=jlcpcb", headers=auth(user))
    assert jlc.status_code == 200 and jlc.headers["content-type"].startswith("text/csv")
    assert "attachment;" in jlc.headers["content-disposition"] and "bom-v2-jlcpcb.csv" in jlc.headers[
        "content-disposition"]
    rows = list(csv.DictReader(io.StringIO(jlc.text)))
    assert list(rows[0]) == ["Comment", "Designator", "Footprint", "LCSC Part #"]
    assert rows[3] == {"Comment": "Resistor 4.7k", "Designator": "R1,R2", "Footprint": "R_0603",
                       "LCSC Part #": "C23162"}
    generic = list(csv.DictReader(io.StringIO(http.get(f"/v1/projects/{pid}/bom.csv", headers=auth(user)).text)))
    assert generic[-1]["Name"] == "Total" and generic[-1]["Line total"] == "19.47"
    assert http.get(f"/v1/projects/{pid}/bom.csv?format=xlsx", headers=auth(user)).status_code == 422

    harness = http.get(f"/v1/projects/{pid}/wiring.yaml", headers=auth(user))
    assert harness.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(harness.text)
    assert set(document["connectors"]) == {"U1", "U2", "U3"} and len(document["cables"]) == 7
    wireviz = pytest.importorskip("wireviz.wireviz")
    parsed = wireviz.parse(harness.text, return_types="harness")
    assert "GPIO34" in parsed.connectors["U1"].pinlabels

    firmware = http.get(f"/v1/projects/{pid}/firmware.zip", headers=auth(user))
    assert firmware.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(firmware.content))
    assert sorted(archive.namelist()) == ["README.md", "platformio.ini", "src/main.cpp", "src/sensor.cpp"]
    ini = archive.read("platformio.ini").decode()
    assert "platform = espressif32" in ini and "board = esp32dev" in ini and "framework = arduino" in ini
    assert "adafruit/Adafruit BME280 Library@^2.2.4" in ini
    unit1 = zipfile.ZipFile(io.BytesIO(http.get(f"/v1/projects/{pid}/firmware.zip?unit=1", headers=auth(user)).content))
    assert "src/sensor.cpp" not in unit1.namelist()


def test_wiring_svg_when_the_server_can_render(http, user, station):
    import shutil

    pytest.importorskip("wireviz")
    response = http.get(f"/v1/projects/{station['project']['id']}/wiring.svg", headers=auth(user))
    if shutil.which("dot") is None:
        assert response.status_code == 501
        return
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in response.text and "GPIO34" in response.text


def test_parts_across_projects(http, user, other_user, station):
    second = ok(http.post("/v1/projects", headers=auth(user), json={"name": "Greenhouse"}), 201)
    chat = ok(http.post("/v1/chats", headers=auth(user), json={"project_id": second["id"]}), 201)
    ok(http.post(f"/v1/chats/{chat['id']}/artifacts", headers=auth(user), json={
        "type": "bom", "title": "BOM", "content_json": {"parts": [SENSOR, {"name": "Pump 5V", "specs": {
            "supply_voltage": 5}}]}}), 201)
    hits = ok(http.get("/v1/parts?q=bme280", headers=auth(user)))
    assert sorted(h["project_name"] for h in hits) == ["Balcony station", "Greenhouse"]
    assert all(h["version"] == 2 for h in hits if h["project_name"] == "Balcony station"), "current versions only"
    five = ok(http.get("/v1/parts?voltage=5", headers=auth(user)))
    assert sorted(h["name"] for h in five) == ["ESP32-DevKitC", "Pump 5V", "Rain sensor"]
    assert ok(http.get("/v1/parts?q=bme280", headers=auth(other_user))) == []
    assert ok(http.get("/v1/parts?q=bme280")) == []
    assert http.get("/v1/parts?q=").status_code == 422


def test_projects_are_private_on_every_endpoint(http, user, other_user, app_url, station):
    pid = station["project"]["id"]
    for headers in (auth(other_user), {}):
        for suffix in ("", "/bom", "/wiring", "/code", "/checks", "/bom.csv", "/wiring.yaml", "/firmware.zip",
                       "/verifications"):
            response = http.get(f"/v1/projects/{pid}{suffix}", headers=headers)
            assert response.status_code == 404, (suffix, response.text)
        assert pid not in {p["id"] for p in ok(http.get("/v1/projects", headers=headers))["items"]}
    assert http.patch(f"/v1/projects/{pid}", headers=auth(other_user), json={"name": "mine"}).status_code == 404
    assert http.delete(f"/v1/projects/{pid}", headers=auth(other_user)).status_code == 404
    assert http.patch(f"/v1/projects/{pid}", json={"name": "mine"}).status_code == 401
    assert http.post("/v1/projects", json={"name": "x"}).status_code == 401
    bob_chat = ok(http.post("/v1/chats", headers=auth(other_user), json={}), 201)
    assert http.post("/v1/chats", headers=auth(other_user), json={"project_id": pid}).status_code == 422
    assert ok(http.get(f"/v1/projects/{pid}", headers=auth(user)))["name"] == "Balcony station"
    # Bob cannot read or write the rows derived from Alice's versions, nor her check runs.
    with acting(app_url, other_user.identity) as conn:
        for table in ("parts", "connections", "code_files", "check_runs"):
            assert conn.execute(f"select count(*) as n from {table} where project_id = %s",
                                (pid,)).fetchone()["n"] == 0
        assert conn.execute("update parts set name = 'x' where project_id = %s returning id",
                            (pid,)).fetchone() is None
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with acting(app_url, other_user.identity) as conn:
            conn.execute("insert into check_runs (user_id, project_id, rules_version) values (%s, %s, 1)",
                         (user.id, pid))
    assert bob_chat["project_id"] is None


def test_service_role_creates_projects_for_a_user(http, user):
    assert http.post("/v1/projects", headers=SERVICE, json={"name": "x"}).status_code == 422
    made = ok(http.post("/v1/projects", headers=SERVICE, json={"name": "Made for Alice", "user_id": str(user.id)}),
              201)
    assert made["user_id"] == str(user.id)
    assert ok(http.get(f"/v1/projects/{made['id']}", headers=auth(user)))["name"] == "Made for Alice"
    assert http.post("/v1/projects", headers=auth(user), json={"name": "x", "user_id": str(uuid.uuid4())}
                     ).status_code == 422


def test_the_demo_project_checks_catch_its_deliberate_mistake(http, database_url, app_url):
    import asyncio

    from ohm.db.session import Database
    from ohm.db.target import derive_app_url

    async def load():
        async with Database(derive_app_url(database_url, None), min_size=1, max_size=1) as db:
            return await demo_store.load_demo(db)

    found = asyncio.run(load())
    token = {"Authorization": f"Bearer {issue_token(JWT_SECRET, user_id=found.user_id)}"}
    project = ok(http.get(f"/v1/projects/{found.project_id}", headers=token))
    assert project["bom"]["lines"] == 6 and project["bom"]["over_budget"] is False
    assert project["checks"]["errors"] == 1
    checks = ok(http.get(f"/v1/projects/{found.project_id}/checks", headers=token))
    errors = [f for f in checks["findings"] if f["severity"] == "error"]
    assert [(f["rule"], f["pins"]) for f in errors] == [("voltage.overvoltage", ["U1.GPIO34", "U3.DO"])]
    code = ok(http.get(f"/v1/projects/{found.project_id}/code", headers=token))
    assert [u["unit"] for u in code["units"]] == [1, 2, 3]
    with acting(app_url, Identity.service()) as conn:
        assert conn.execute("select count(*) as n from check_runs where project_id = %s",
                            (found.project_id,)).fetchone()["n"] >= 1


def test_the_typed_clients_cover_projects(live_server, user, station):
    import asyncio

    from ohm.client import AsyncOhmClient, NotFoundError, OhmClient

    pid = station["project"]["id"]
    with OhmClient(live_server, token=user.token()) as ohm:
        made = ohm.create_project("Client project", budget_amount="12.50", workflow_steps=[{"name": "Start"}])
        assert ohm.update_project(made.id, status="completed").status == "completed"
        assert ohm.get_project(pid).checks.errors == 1
        assert ohm.bom(pid, version=1).totals == {"USD": Decimal("16.95")}
        assert ohm.wiring(pid).connections[-1].from_.pin == "DO"
        assert ohm.checks(pid).findings[0].rule == "voltage.overvoltage"
        assert zipfile.ZipFile(io.BytesIO(ohm.export(pid, "firmware.zip", unit=1))).namelist()
        assert b"LCSC Part #" in ohm.export(pid, "bom.csv", format="jlcpcb")
        assert [h.project_name for h in ohm.search_parts(q="YL-83")] == ["Balcony station"]
        ohm.delete_project(made.id)
        with pytest.raises(NotFoundError):
            ohm.get_project(made.id)

    async def run() -> None:
        async with AsyncOhmClient(live_server, token=user.token()) as ohm:
            assert (await ohm.code(pid)).units[0].files[0].filename == "src/main.cpp"
            assert (await ohm.list_projects(limit=200)).items

    asyncio.run(run())
