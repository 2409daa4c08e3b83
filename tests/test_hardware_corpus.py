"""The checks on what agents actually write: a corpus of designs with one planted mistake or none, and the
part catalogue they rely on (pure functions; one test through the HTTP API)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from ohm.hardware.catalogue import CONFIDENCE, Catalogue, catalogue, match, tokens
from ohm.hardware.documents import check_documents
from ohm.hardware.model import Part, Wire

from .conftest import acting, auth

DESIGNS = sorted((Path(__file__).parent / "data" / "designs").glob("*.json"))
PLANTED = [p for p in DESIGNS if json.loads(p.read_text())["expect"]]
CLEAN = [p for p in DESIGNS if not json.loads(p.read_text())["expect"]]


def findings_of(path: Path) -> tuple[dict, list]:
    design = json.loads(path.read_text())
    return design, check_documents(design["bom"], design["wiring"], design.get("code"))


def caught(expected: dict, found: list) -> bool:
    return any(f.rule == expected["rule"] and set(expected.get("pins", [])) <= set(f.pins)
               and set(expected.get("parts", [])) <= set(f.parts) for f in found)


def test_the_corpus_is_large_enough_and_written_the_way_agents_write():
    assert len(DESIGNS) >= 30 and len(PLANTED) >= 15 and len(CLEAN) >= 15
    for path in DESIGNS:
        design = json.loads(path.read_text())
        # Names and MPNs, silkscreen pins, few specs: no design spells out pin types.
        assert all("pins" not in line.get("specs", {}) for line in design["bom"]["parts"]), path.name


@pytest.mark.parametrize("path", PLANTED, ids=lambda p: p.stem)
def test_every_planted_mistake_is_caught(path):
    design, found = findings_of(path)
    for expected in design["expect"]:
        assert caught(expected, found), (expected, [(f.rule, f.pins, f.parts) for f in found])
        hit = next(f for f in found if f.rule == expected["rule"])
        assert hit.severity in ("error", "warning") and len(hit.message) > 40


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.stem)
def test_a_clean_design_gets_no_error(path):
    _, found = findings_of(path)
    assert [(f.rule, f.message) for f in found if f.severity == "error"] == []


def test_each_fix_makes_its_finding_go_away():
    """The planted designs and their clean twins differ by the fix the finding names."""
    pairs = {"servo-supply-without-common-ground": "clean-servo-own-supply-common-ground",
             "hcsr04-echo-into-esp32": "clean-esp32-hcsr04-divider",
             "led-without-resistor": "clean-esp32-led-with-resistor",
             "soil-sensor-on-adc2-with-wifi": "clean-esp32-soil-adc1-wifi",
             "relay-coil-on-uno-pin": "clean-uno-relay-module",
             "hcsr04-echo-into-blue-pill-pa0": "clean-blue-pill-pb8-hcsr04"}
    root = DESIGNS[0].parent
    for planted, fixed in pairs.items():
        rule = json.loads((root / f"{planted}.json").read_text())["expect"][0]["rule"]
        assert rule not in {f.rule for f in findings_of(root / f"{fixed}.json")[1]}, fixed


def test_messages_say_what_to_do():
    root = DESIGNS[0].parent
    by_rule = {f.rule: f.message for path in PLANTED for f in findings_of(path)[1]}
    assert "divider" in by_rule["voltage.overvoltage"] or "level shifter" in by_rule["voltage.overvoltage"]
    assert "move it to GPIO" in by_rule["pins.input_only"]
    assert "Ω" in by_rule["power.led_resistor"]
    assert "0x77" in by_rule["bus.i2c_address"] or "0x4" in by_rule["bus.i2c_address"]
    assert "ADC1" in by_rule["pins.adc2_wifi"]
    assert "GND" in by_rule["power.common_ground"]
    assert root.exists()


# --- the catalogue ----------------------------------------------------------------------------------------------


def test_the_catalogue_is_valid_large_and_cites_its_sources():
    parts = catalogue().part
    assert len(parts) >= 60
    assert all(p.source.startswith(("https://", "http://")) for p in parts)
    wanted = ["esp32-devkitc", "esp32-s3-devkitc-1", "esp32-c3-devkitm-1", "nodemcu-esp8266", "wemos-d1-mini",
              "arduino-uno", "arduino-nano", "arduino-mega-2560", "arduino-pro-mini-5v", "raspberry-pi-pico",
              "raspberry-pi-pico-w", "raspberry-pi-gpio-header", "stm32-blue-pill", "bme280", "bmp280", "dht11",
              "dht22", "ds18b20", "hc-sr04", "hc-sr501", "mpu6050", "bh1750", "vl53l0x", "ina219",
              "capacitive-soil-moisture-v1.2", "yl-83-rain", "mq-2", "ssd1306-oled-i2c", "lcd1602-i2c", "st7789-tft",
              "sg90", "mg996r", "28byj-48", "uln2003-driver", "relay-module-5v", "srd-05vdc-sl-c", "ws2812b",
              "ams1117-3.3", "lm317", "lm7805", "mp1584-buck", "tp4056", "18650-cell", "usb-5v-supply",
              "led-5mm-red", "resistor"]
    keys = {p.key for p in parts}
    assert [k for k in wanted if k not in keys] == []


def test_a_broken_catalogue_entry_is_refused():
    entry = catalogue().part[0].model_dump()
    broken = {**entry, "pins": [*entry["pins"], {**entry["pins"][0], "name": "OTHER"}]}  # an alias twice
    with pytest.raises(ValueError, match="names both"):
        Catalogue.model_validate({"part": [broken]})
    with pytest.raises(ValueError):
        Catalogue.model_validate({"part": [{**entry, "source": "my memory"}]})
    with pytest.raises(ValueError):
        Catalogue.model_validate({"part": [{**entry, "i2c": [0x90]}]})


@pytest.mark.parametrize(("name", "mpn", "key", "how"), [
    ("HC-SR04 ultrasonic distance sensor", None, "hc-sr04", "name"),
    ("hcsr04", None, "hc-sr04", "name"),
    ("Ultrasonic sensor", "HC SR04", "hc-sr04", "mpn"),
    ("ESP32 DevKit V1 30 pin", None, "esp32-devkitc", "name contains"),
    ("ESP32-S3-DevKitC-1 board", None, "esp32-s3-devkitc-1", "name contains"),
    ("Bosch BME280 sensor", None, "bme280", "name contains"),
    ("Temperature sensor", "bme-280", "bme280", "mpn"),
    ("SG90 9g micro servo", None, "sg90", "mpn in name"),
    ("Relay 5V 1 channel module", None, "relay-module-5v", "name contains"),
    ("2 pcs 10k resistor", None, "resistor", "name contains"),
    ("Wemos D1 Mini", None, "wemos-d1-mini", "name"),
])
def test_bom_lines_match_whatever_way_agents_name_them(name, mpn, key, how):
    found = match(name, mpn)
    assert found is not None and (found.part.key, found.how) == (key, how)
    assert found.confidence == CONFIDENCE[how]


def test_an_unknown_part_matches_nothing_and_is_only_an_info():
    assert match("Custom carrier PCB rev B") is None
    design = {"parts": [{"name": "Custom carrier PCB rev B", "designators": ["PCB1"], "unit_price": "5",
                         "supplier": "JLCPCB"}]}
    found = check_documents(design, {"connections": [{"from": {"part": "PCB1", "pin": "J1"},
                                                      "to": {"part": "PCB1", "pin": "J2"}}]})
    assert {f.severity for f in found} == {"info"}


def test_what_the_agent_wrote_wins_over_the_catalogue():
    # The catalogue says a BME280 takes 1.71-3.6 V; this BOM line is a 5 V module with its own regulator.
    module = Part("BME280 module (5V, with regulator)", designators=["U2"], specs={"supply_voltage": "3.3-5V",
                                                                                   "vcc": {"min": 3.3, "max": 5.5}})
    assert module.known is not None and module.supply_range == (3.3, 5.0)
    # Loose keys, as agents write them.
    loose = Part("HC-SR04", designators=["U3"], specs={"five_v_tolerant": "yes", "current": "15mA", "i2c": "0x29"})
    assert loose.five_volt_tolerant is True and loose.current_ma == 15 and loose.i2c_address == 0x29
    # Pins as plain strings take their types from the catalogue; a pin the agent typed keeps its type.
    sensor = Part("HC-SR04", designators=["U3"], specs={"pins": ["VCC", "TRIG", {"name": "ECHO", "type": "passive"},
                                                                 "GND"]})
    table = sensor.pins()
    assert table is not None and table["TRIG"].type == "input" and table["ECHO"].type == "passive"
    assert table["VCC"].type == "power_in"


def test_silkscreen_names_reach_the_same_pin():
    board = Part("ESP32 DevKit V1", designators=["U1"])
    table = board.pins()
    assert table is not None
    assert table["GPIO18"] is table["IO18"] is table["D18"] is table["G18"] is table["18"]
    assert table["VP"].name == "GPIO36" and table["GPIO36"].input_only
    nodemcu = Part("NodeMCU", designators=["U1"]).pins()
    assert nodemcu is not None and nodemcu["D1"].name == "D1" and "GPIO5" in nodemcu["D1"].aliases


def test_tokens_read_ohms_and_spacing():
    assert tokens("220Ω resistor") == ["220", "OHM", "RESISTOR"]
    assert tokens(" esp32-s3 ") == ["ESP32", "S3"]


def test_a_wire_marked_with_its_voltage_counts_when_the_part_is_unknown():
    parts = [Part("ESP32 DevKit V1", designators=["U1"]), Part("Mystery sonar", designators=["U2"])]
    from ohm.hardware import checks

    wires = [Wire("U2", "OUT", "U1", "GPIO18", voltage=5.0)]
    found = checks.run_checks(parts, wires, [])
    overvoltage = [f for f in found if f.rule == "voltage.overvoltage"]
    assert [f.severity for f in overvoltage] == ["error"]
    assert "marked 5 V" in next(f.message for f in found if f.rule == "voltage.overvoltage")


# --- through the API ---------------------------------------------------------------------------------------------


def test_the_issue_example_through_the_api(http, user, other_user, app_url):
    """An ESP32-DevKitC, an HC-SR04 powered from 5 V with ECHO on GPIO18, named by name and MPN only: the
    checks say so, the BOM line says what it matched, and the parts rows carry the finding."""
    design = json.loads((DESIGNS[0].parent / "hcsr04-echo-into-esp32.json").read_text())
    project = http.post("/v1/projects", headers=auth(user), json={"name": f"Sonar {uuid.uuid4().hex[:6]}"}).json()
    chat = http.post("/v1/chats", headers=auth(user), json={"project_id": project["id"]}).json()
    for kind in ("bom", "wiring"):
        response = http.post(f"/v1/chats/{chat['id']}/artifacts", headers=auth(user),
                             json={"type": kind, "title": kind, "content_json": design[kind]})
        assert response.status_code == 201, response.text
    checks = http.get(f"/v1/projects/{project['id']}/checks", headers=auth(user)).json()
    errors = [(f["rule"], f["pins"]) for f in checks["findings"] if f["severity"] == "error"]
    assert ("voltage.overvoltage", ["U1.GPIO18", "U2.ECHO"]) in errors
    bom = http.get(f"/v1/projects/{project['id']}/bom", headers=auth(user)).json()
    matched = {line["designators"][0]: line["catalogue"] for line in bom["parts"]}
    assert matched["U1"]["key"] == "esp32-devkitc" and matched["U1"]["confidence"] > 0.9
    assert matched["U2"]["key"] == "hc-sr04" and matched["U2"]["source"].startswith("https://")
    stored = {line["designators"][0]: line["compatibility_warnings"] for line in bom["parts"]}
    assert any("GPIO18" in w for w in stored["U2"])
    with acting(app_url, user.identity) as conn:
        rows = {r["ref"]: r["warnings"] for r in conn.execute(
            """select p.designators[1] as ref, p.compatibility_warnings as warnings from public.parts p
                 join public.artifact_versions v on v.id = p.artifact_version_id
                 join public.artifacts a on a.id = v.artifact_id and a.current_version = v.version_number
                where a.project_id = %s""", (project["id"],)).fetchall()}
    assert any("GPIO18" in w for w in rows["U2"]) and any("GPIO18" in w for w in rows["U1"])
    # Another user sees none of it.
    with acting(app_url, other_user.identity) as conn:
        assert conn.execute("select count(*) as n from public.parts where project_id = %s",
                            (project["id"],)).fetchone()["n"] == 0
    assert http.get(f"/v1/projects/{project['id']}/bom", headers=auth(other_user)).status_code == 404
