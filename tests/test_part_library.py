"""KiCad symbol libraries as a second source of pins: the reader, `ohm parts import-kicad`, and the checks of a
BOM line the catalogue does not know, through the API."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ohm.cli import KICAD_SYMBOLS, app
from ohm.hardware.kicad import KicadError, parse, symbols

from .conftest import JWT_SECRET, acting, auth

LIBRARY = r'''(kicad_symbol_lib (version 20211014) (generator kicad_symbol_editor)
  (symbol "AP2112K-1.2" (pin_names (offset 0.254)) (in_bom yes) (on_board yes)
    (property "Reference" "U" (id 0) (at -5.08 5.715 0) (effects (font (size 1.27 1.27))))
    (property "Value" "AP2112K-1.2" (id 1) (at 0 5.715 0))
    (property "Datasheet" "https://www.diodes.com/assets/Datasheets/AP2112.pdf" (id 3) (at 0 2.54 0))
    (property "ki_description" "600mA low dropout linear regulator, \"SOT-23-5\"" (id 5) (at 0 0 0))
    (symbol "AP2112K-1.2_0_1" (rectangle (start -5.08 -5.08) (end 5.08 2.54) (stroke (width 0.254))))
    (symbol "AP2112K-1.2_1_1"
      (pin power_in line (at -7.62 2.54 0) (length 2.54) (name "VIN" (effects (font (size 1.27 1.27))))
        (number "1" (effects (font (size 1.27 1.27)))))
      (pin power_in line (at 0 -7.62 90) (length 2.54) (name "GND" (effects (font (size 1.27 1.27))))
        (number "2" (effects (font (size 1.27 1.27)))))
      (pin input line (at -7.62 0 0) (length 2.54) (name "EN" (effects (font (size 1.27 1.27))))
        (number "3" (effects (font (size 1.27 1.27)))))
      (pin no_connect line (at 5.08 0 180) (length 2.54) hide (name "NC" (effects (font (size 1.27 1.27))))
        (number "4" (effects (font (size 1.27 1.27)))))
      (pin power_out line (at 7.62 2.54 180) (length 2.54) (name "VOUT" (effects (font (size 1.27 1.27))))
        (number "5" (effects (font (size 1.27 1.27)))))))
  (symbol "AP2112K-3.3" (extends "AP2112K-1.2")
    (property "Reference" "U" (id 0) (at -5.08 5.715 0))
    (property "Value" "AP2112K-3.3" (id 1) (at 0 5.715 0)))
)
'''


def test_a_symbol_library_is_read_with_derived_symbols():
    found = {s.name: s for s in symbols(LIBRARY, "Regulator_Linear")}
    assert set(found) == {"AP2112K-1.2", "AP2112K-3.3"}
    derived = found["AP2112K-3.3"]
    assert derived.extends == "AP2112K-1.2" and derived.reference == "U"
    assert derived.pins == found["AP2112K-1.2"].pins
    assert {p["name"]: p["type"] for p in derived.pins} == {"VIN": "power_in", "GND": "power_in", "EN": "input",
                                                            "NC": "no_connect", "VOUT": "power_out"}
    assert found["AP2112K-1.2"].description == '600mA low dropout linear regulator, "SOT-23-5"'
    assert found["AP2112K-1.2"].datasheet == "https://www.diodes.com/assets/Datasheets/AP2112.pdf"


@pytest.mark.parametrize("broken", ["(kicad_symbol_lib (symbol \"X\"", "(kicad_symbol_lib))", '(a "open)',
                                    "(not_a_library)"])
def test_a_broken_file_is_refused_with_a_reason(broken):
    with pytest.raises(KicadError):
        symbols(broken, "broken")


def test_the_reader_keeps_strings_and_keywords_apart():
    tree = parse('(a "b c" d (e "f\\"g"))')
    assert tree == [["a", "b c", "d", ["e", 'f"g']]]


def cli(database_url: str, *args: str):
    return CliRunner().invoke(app, ["parts", "import-kicad", *args],
                              env={"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET})


def test_import_kicad_refuses_a_folder_without_libraries(database_url, tmp_path):
    result = cli(database_url, str(tmp_path))
    assert result.exit_code == 2 and "kicad-symbols" in result.output
    (tmp_path / "Regulator_Linear.kicad_sym").write_text(LIBRARY)
    result = cli(database_url, str(tmp_path), "--library", "Nope")
    assert result.exit_code == 2 and "no library Nope" in result.output
    (tmp_path / "Broken.kicad_sym").write_text("(kicad_symbol_lib (symbol")
    result = cli(database_url, str(tmp_path))
    assert result.exit_code == 2 and "Broken.kicad_sym" in result.output


def test_an_imported_symbol_gives_a_bom_line_its_pins(database_url, app_url, tmp_path, http, user, other_user):
    (tmp_path / "Regulator_Linear.kicad_sym").write_text(LIBRARY)
    result = cli(database_url, str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "imported 2 symbols" in result.output
    assert cli(database_url, str(tmp_path)).exit_code == 0  # again: refreshed, not duplicated
    with acting(app_url, user.identity) as conn:
        rows = conn.execute("select name, pins from public.part_library where library = 'Regulator_Linear' "
                            "and name like 'AP2112K%%' order by name").fetchall()
        assert [r["name"] for r in rows] == ["AP2112K-1.2", "AP2112K-3.3"]
        with pytest.raises(Exception, match="permission denied"):
            conn.execute("delete from public.part_library")

    project = http.post("/v1/projects", headers=auth(user), json={"name": f"LDO {uuid.uuid4().hex[:6]}"}).json()
    chat = http.post("/v1/chats", headers=auth(user), json={"project_id": project["id"]}).json()
    bom = {"parts": [{"name": "3.3 V LDO", "mpn": "ap2112k 3.3", "designators": ["U2"], "unit_price": "0.2",
                      "supplier": "LCSC"},
                     {"name": "BME280 sensor", "designators": ["U3"], "unit_price": "3", "supplier": "LCSC"}]}
    wiring = {"connections": [{"from": {"part": "U2", "pin": "VOUT"}, "to": {"part": "U3", "pin": "VCC"}},
                              {"from": {"part": "U2", "pin": "ADJ"}, "to": {"part": "U3", "pin": "GND"}}]}
    for kind, document in (("bom", bom), ("wiring", wiring)):
        response = http.post(f"/v1/chats/{chat['id']}/artifacts", headers=auth(user),
                             json={"type": kind, "title": kind, "content_json": document})
        assert response.status_code == 201, response.text
    findings = http.get(f"/v1/projects/{project['id']}/checks", headers=auth(user)).json()["findings"]
    rules = {(f["rule"], f["severity"]) for f in findings}
    # The LDO's pins come from the library: ADJ is not one of them, and its pins are not "unknown".
    assert ("wiring.unknown_pin", "error") in rules
    assert not any(f["rule"] == "wiring.pins_unknown" and "U2" in f["parts"] for f in findings)
    assert http.get(f"/v1/projects/{project['id']}/checks", headers=auth(other_user)).status_code == 404
    lines = http.get(f"/v1/projects/{project['id']}/bom", headers=auth(user)).json()["parts"]
    assert [(line["kicad_symbol"], line["catalogue"] is None) for line in lines] == [
        ("Regulator_Linear:AP2112K-3.3", True), (None, False)]


@pytest.mark.skipif(not KICAD_SYMBOLS.is_dir(), reason="KiCad's symbol libraries are not installed "
                                                         "(apt-get install kicad-symbols; CI installs them)")
def test_kicads_own_libraries_import(database_url, app_url, user):
    result = cli(database_url, "--library", "RF_Module", "--library", "Sensor", "--library", "Regulator_Linear")
    assert result.exit_code == 0, result.output
    with acting(app_url, user.identity) as conn:
        pins = {r["name"]: r["pins"] for r in conn.execute(
            "select name, pins from public.part_library where name in ('ESP32-WROOM-32', 'BME280', 'AMS1117-3.3')")}
    assert set(pins) == {"ESP32-WROOM-32", "BME280", "AMS1117-3.3"}
    assert {"name": "IO18", "type": "bidirectional"}.items() <= next(
        p for p in pins["ESP32-WROOM-32"] if p["name"] == "IO18").items()
    assert {p["name"] for p in pins["AMS1117-3.3"]} == {"GND", "VO", "VI"}
    assert Path(KICAD_SYMBOLS / "Sensor.kicad_sym").exists()
