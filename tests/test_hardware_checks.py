"""The check rules and exports as pure functions: each rule once failing and once passing (no database)."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from decimal import Decimal

import pytest

from ohm.hardware import checks, exports
from ohm.hardware.model import Part, SourceFile, Wire, pin_type


def pin(name, kind, voltage=None, **extra):
    return {"name": name, "type": kind, **({"voltage": voltage} if voltage is not None else {}), **extra}


def esp32(**specs):
    return Part("ESP32-DevKitC", designators=["U1"], mpn="ESP32-DEVKITC-32E", unit_price=Decimal("10"),
                supplier="LCSC", specs={"logic_voltage": 3.3, "five_volt_tolerant": False, "pins": [
                    pin("3V3", "power_out", 3.3, max_current_ma=600), pin("5V", "power_out", 5, max_current_ma=500),
                    pin("GND", "power_out", 0), pin("GPIO21", "bidirectional", 3.3, aliases=["SDA"]),
                    pin("GPIO22", "bidirectional", 3.3), pin("GPIO34", "input", 3.3), pin("GPIO5", "output", 3.3),
                    pin("NC1", "no_connect")], **specs})


def sensor(ref="U2", vmin=1.71, vmax=3.6, current=1.0, **specs):
    return Part("BME280", designators=[ref], mpn="BME280", unit_price=Decimal("6.95"), supplier="LCSC",
                specs={"supply_voltage": {"min": vmin, "max": vmax}, "logic_voltage": 3.3, "current_ma": current,
                       "pins": [pin("VIN", "power_in"), pin("GND", "power_in", 0), pin("SDA", "bidirectional", 3.3),
                                pin("SCL", "input", 3.3)], **specs})


def rain(ref="U3"):
    return Part("Rain sensor", designators=[ref], unit_price=Decimal("2.5"), supplier="LCSC",
                specs={"supply_voltage": {"min": 3.3, "max": 5.0}, "current_ma": 15,
                       "pins": [pin("VCC", "power_in"), pin("GND", "power_in", 0), pin("DO", "output", "supply")]})


def w(a, b, position=0, colour="RD", voltage=None):
    (pa, xa), (pb, xb) = a.split("."), b.split(".")
    return Wire(pa, xa, pb, xb, position=position, wire_color=colour, voltage=voltage)


def rules(findings, severity=None):
    return sorted({f.rule for f in findings if severity is None or f.severity == severity})


def wiring_findings(parts, wires):
    circuit = checks.build_circuit(parts, wires)
    return checks.check_wiring(circuit) + checks.check_voltages(circuit) + checks.check_power(circuit)


GOOD = [w("U1.3V3", "U2.VIN"), w("U1.GND", "U2.GND", 1, "BK"), w("U1.GPIO21", "U2.SDA", 2, "BU"),
        w("U1.GPIO22", "U2.SCL", 3, "YE")]


def test_a_correct_circuit_has_no_findings():
    assert wiring_findings([esp32(), sensor()], GOOD) == []


# --- BOM ---------------------------------------------------------------------------------------------------------


def test_quantity_must_match_designators():
    ok = Part("R", quantity=2, designators=["R1", "R2"], unit_price=Decimal("0.01"), supplier="LCSC")
    bad = Part("C", quantity=3, designators=["C1", "C2"], unit_price=Decimal("0.01"), supplier="LCSC")
    assert checks.check_bom([ok]) == []
    assert rules(checks.check_bom([bad])) == ["bom.quantity_designators"]


def test_duplicate_designators_are_errors():
    a = Part("R 10k", designators=["R1"], unit_price=Decimal(1), supplier="x")
    b = Part("R 4k7", designators=["r1"], unit_price=Decimal(1), supplier="x")
    c = Part("R 1k", designators=["R2"], unit_price=Decimal(1), supplier="x")
    assert rules(checks.check_bom([a, b]), "error") == ["bom.duplicate_designator"]
    assert checks.check_bom([a, c]) == []


def test_missing_price_and_supplier():
    assert rules(checks.check_bom([Part("LED")])) == ["bom.missing_price", "bom.missing_supplier"]
    assert checks.check_bom([Part("LED", unit_price=Decimal("0.1"), supplier="LCSC")]) == []


@pytest.mark.parametrize(("lifecycle", "severity"), [("obsolete", "error"), ("eol", "warning"), ("nrnd", "warning")])
def test_end_of_life_parts(lifecycle, severity):
    found = checks.check_bom([Part("ATmega8", lifecycle=lifecycle, unit_price=Decimal(1), supplier="x")])
    assert [(f.rule, f.severity) for f in found] == [("bom.lifecycle", severity)]
    assert checks.check_bom([Part("ATmega328P", lifecycle="active", unit_price=Decimal(1), supplier="x")]) == []


def test_total_over_budget():
    parts = [Part("A", quantity=2, unit_price=Decimal("15"), supplier="x"), Part("B", unit_price=Decimal("11"),
                                                                                   supplier="x")]
    over = checks.check_bom(parts, Decimal("40"), "USD")
    assert rules(over) == ["bom.over_budget"] and "41.00 USD" in over[0].message
    assert checks.check_bom(parts, Decimal("41"), "USD") == []
    euros = [Part("A", unit_price=Decimal("50"), currency="EUR", supplier="x")]
    assert rules(checks.check_bom(euros, Decimal("40"), "USD")) == ["bom.currency"]


def test_alternatives_must_be_pin_and_voltage_compatible():
    main = sensor()
    main.alternatives = [{"mpn": "BMP280", "specs": {"supply_voltage": {"min": 1.71, "max": 3.6}}}]
    assert checks.check_bom([main]) == []
    main.alternatives = [{"mpn": "DHT22", "specs": {"supply_voltage": {"min": 3.3, "max": 6}}},
                         {"mpn": "SHT31", "specs": {"pins": 8}},
                         {"mpn": "X", "compatible": False}]
    found = checks.check_bom([main])
    assert rules(found) == ["bom.incompatible_alternative"] and len(found) == 3
    assert "does not cover 1.71–3.6 V" in found[0].message and "8 pins, not 4" in found[1].message


# --- wiring --------------------------------------------------------------------------------------------------------


def test_endpoints_must_name_a_bom_part_and_one_of_its_pins():
    found = wiring_findings([esp32(), sensor()], [w("U1.3V3", "U9.VIN"), w("U1.GPIO99", "U2.SDA", 1)])
    assert ("wiring.unknown_part", ["U9"]) in [(f.rule, f.parts) for f in found]
    assert ("wiring.unknown_pin", ["U1.GPIO99"]) in [(f.rule, f.pins) for f in found]
    # Parts resolve by designator, MPN or name; pins by name, number or alias.
    assert wiring_findings([esp32(), sensor()], [w("esp32-devkitc-32e.SDA", "BME280.sda")]) == []


def test_pins_of_parts_without_pin_data_are_not_guessed():
    blank = Part("Mystery module", designators=["M1"], unit_price=Decimal(1), supplier="x")
    found = wiring_findings([esp32(), blank], [w("U1.GPIO5", "M1.IN")])
    assert rules(found) == ["wiring.pins_unknown"]


def test_a_datasheet_pinout_supplies_pins():
    part = Part("LM7805", designators=["VR1"], pinout=[{"pin": "1", "name": "IN", "type": "power"},
                                                       {"pin": "2", "name": "GND", "type": "ground"},
                                                       {"pin": "3", "name": "OUT", "type": "output", "voltage": 5}])
    assert wiring_findings([esp32(), part], [w("U1.GND", "VR1.2", colour="BK")]) == []
    assert rules(wiring_findings([esp32(), part], [w("U1.GND", "VR1.9")])) == ["wiring.unknown_pin"]


@pytest.mark.parametrize(("colour", "valid"), [("RD", True), ("bk", True), ("GNYE", True), ("#1f77b4", True),
                                               ("red", False), ("XX", False), ("#12345", False)])
def test_wire_colours_are_iec_60757_codes_or_hex(colour, valid):
    found = wiring_findings([esp32(), sensor()], [w("U1.3V3", "U2.VIN", colour=colour)])
    assert (rules(found) == []) is valid
    if not valid:
        assert rules(found) == ["wiring.wire_colour"]
    assert rules(wiring_findings([esp32(), sensor()], [w("U1.3V3", "U2.VIN", colour="red")]))
    assert "use RD" in wiring_findings([esp32(), sensor()], [w("U1.3V3", "U2.VIN", colour="red")])[0].message


def test_a_net_driven_by_two_outputs():
    driver = Part("Buffer", designators=["U4"], specs={"pins": [pin("Y", "output", 3.3)]}, unit_price=Decimal(1),
                  supplier="x")
    found = wiring_findings([esp32(), driver], [w("U1.GPIO5", "U4.Y")])
    assert rules(found, "error") == ["wiring.multiple_drivers"]
    assert found[0].pins == ["U1.GPIO5", "U4.Y"]
    assert wiring_findings([esp32(), sensor()], [w("U1.GPIO5", "U2.SCL")]) == []


def test_a_power_input_needs_a_power_source_on_its_net():
    other = sensor("U5")
    found = wiring_findings([esp32(), sensor(), other], [w("U2.VIN", "U5.VIN")])
    assert rules(found, "error") == ["wiring.power_not_driven"]
    assert wiring_findings([esp32(), sensor()], [w("U1.3V3", "U2.VIN")]) == []


@pytest.mark.parametrize(("a", "b", "severity"), [
    ("output", "output", None),             # reported as multiple_drivers instead
    ("power_out", "output", None),
    ("power_out", "bidirectional", "warning"),
    ("output", "tri_state", "warning"),
    ("input", "no_connect", "error"),
    ("passive", "no_connect", "error"),
    ("unspecified", "input", "warning"),
    ("tri_state", "power_in", "warning"),
    ("output", "open_collector", "error"),
    ("input", "output", "ok"),
    ("bidirectional", "bidirectional", "ok"),
    ("free", "unspecified", "ok"),
])
def test_pin_conflicts_follow_kicads_erc_matrix(a, b, severity):
    x = Part("X", designators=["X1"], specs={"pins": [pin("P", a)]}, unit_price=Decimal(1), supplier="s")
    y = Part("Y", designators=["Y1"], specs={"pins": [pin("P", b)]}, unit_price=Decimal(1), supplier="s")
    found = [f for f in checks.check_wiring(checks.build_circuit([x, y], [w("X1.P", "Y1.P")]))
             if f.rule == "wiring.pin_conflict"]
    if severity in (None, "ok"):
        assert found == []
    else:
        assert [f.severity for f in found] == [severity]
    assert checks.erc_level(a, b) == checks.erc_level(b, a)


def test_pin_type_aliases():
    assert [pin_type(t) for t in ("io", "GND", "power", "nc", "Tri-State", "banana", None)] == [
        "bidirectional", "power_in", "power_in", "no_connect", "tri_state", None, None]


# --- voltages and power ------------------------------------------------------------------------------------------


def test_a_5v_output_into_a_3v3_pin_that_is_not_5v_tolerant():
    wires = [w("U1.5V", "U3.VCC"), w("U1.GND", "U3.GND", 1, "BK"), w("U3.DO", "U1.GPIO34", 2, "GN")]
    found = wiring_findings([esp32(), rain()], wires)
    assert rules(found, "error") == ["voltage.overvoltage"]
    assert "U3.DO drives 5 V into U1.GPIO34" in found[0].message and found[0].connections == [2]
    # Powered from 3.3 V, the module's output stays at 3.3 V: fine.
    fixed = [w("U1.3V3", "U3.VCC"), *wires[1:]]
    assert wiring_findings([esp32(), rain()], fixed) == []
    # A 5 V tolerant input takes it.
    tolerant = esp32(five_volt_tolerant=True)
    assert rules(wiring_findings([tolerant, rain()], wires), "error") == []


def test_3v3_logic_into_a_5v_input_is_a_warning():
    arduino = Part("5 V logic board", designators=["A1"], unit_price=Decimal(20), supplier="x", specs={"pins": [
        pin("D2", "input", 5.0)]})
    found = wiring_findings([esp32(), arduino], [w("U1.GPIO5", "A1.D2")])
    assert [(f.rule, f.severity) for f in found] == [("voltage.logic_high", "warning")]
    assert "V_IH is 3.5 V" in found[0].message
    with_vih = Part("Level-aware", designators=["A2"], unit_price=Decimal(1), supplier="x", specs={"pins": [
        pin("D2", "input", 5.0, vih=2.0)]})
    assert wiring_findings([esp32(), with_vih], [w("U1.GPIO5", "A2.D2")]) == []
    # An Uno's ATmega328P reads 0.6 x VCC = 3.0 V as high (its datasheet, through the part catalogue).
    uno = Part("Arduino Uno R3", designators=["A3"], unit_price=Decimal(20), supplier="x")
    assert wiring_findings([esp32(), uno], [w("U1.GPIO5", "A3.D2"), w("U1.GND", "A3.GND", 1, "BK")]) == []
    # ... and two boards that share a signal share a ground.
    assert rules(wiring_findings([esp32(), uno], [w("U1.GPIO5", "A3.D2")])) == ["power.common_ground"]


def test_supply_voltage_outside_a_parts_range():
    found = wiring_findings([esp32(), sensor()], [w("U1.5V", "U2.VIN")])
    assert rules(found, "error") == ["voltage.supply_range"]
    assert "supplied with 5 V; BME280 needs 1.71–3.6 V" in found[0].message
    assert rules(wiring_findings([esp32(), sensor()], [w("U1.3V3", "U2.VIN")]), "error") == []


@pytest.mark.parametrize(("current", "expected"), [(100, None), (500, "warning"), (700, "error")])
def test_power_budget_per_rail(current, expected):
    consumer = sensor(current=current, supply_voltage={"min": 3.0, "max": 3.6})
    found = [f for f in wiring_findings([esp32(), consumer], [w("U1.3V3", "U2.VIN")]) if f.rule == "power.budget"]
    assert [f.severity for f in found] == ([expected] if expected else [])
    if expected:
        assert f"{current} mA of 600 mA" in found[0].message


# --- code -------------------------------------------------------------------------------------------------------


def src(name, unit=None, platform="espressif32", board="esp32dev", libraries=()):
    return SourceFile(name, platform=platform, board=board, success_unit=unit, libraries=list(libraries))


def test_firmware_platform_matches_the_boms_microcontroller():
    assert checks.check_code([src("main.cpp", 1, platform="esp32")], [esp32()]) == []
    avr = checks.check_code([src("main.cpp", 1, platform="atmelavr", board="uno")], [esp32()])
    assert rules(avr) == ["code.platform_mismatch"]
    board = checks.check_code([src("main.cpp", 1, platform="espressif32", board="uno")], [esp32()])
    assert "code.board_platform" in rules(board)
    mixed = checks.check_code([src("a.cpp", 1), src("b.cpp", 2, platform="raspberrypi", board="pico")], [esp32()])
    assert "code.mixed_platforms" in rules(mixed)
    assert rules(checks.check_code([src("main.cpp", 1)], [Part("resistor")])) == ["code.no_microcontroller"]


@pytest.mark.parametrize(("library", "ok"), [
    ("adafruit/Adafruit BME280 Library@^2.2.4", True), ("PubSubClient", True), ("bblanchon/ArduinoJson@~7.0.4", True),
    ("https://github.com/me/lib.git", True), ("knolleary/PubSubClient @ 2.8", True),
    ("", False), ("@@@", False), ("name@", False), (" leading", False), ("lib;rm -rf /", False),
])
def test_libraries_are_well_formed(library, ok):
    found = checks.check_code([src("main.cpp", 1, libraries=[library])], [esp32()])
    assert (rules(found) == []) is ok


def test_success_units_run_from_one_without_gaps():
    assert checks.check_code([src("a.cpp", 1), src("b.cpp", 2), src("c.cpp", 3)], [esp32()]) == []
    assert rules(checks.check_code([src("a.cpp", 1), src("c.cpp", 3)], [esp32()])) == ["code.success_units"]
    assert rules(checks.check_code([src("b.cpp", 2)], [esp32()])) == ["code.success_units"]


# --- exports ----------------------------------------------------------------------------------------------------


def bom():
    return [Part("ESP32-DevKitC", designators=["U1"], mpn="ESP32-DEVKITC-32E", unit_price=Decimal("10"),
                 supplier="DigiKey", supplier_part_number="C2934560", footprint="Module:ESP32"),
            Part("Resistor 10k", quantity=2, designators=["R1", "R2"], unit_price=Decimal("0.01"), supplier="LCSC",
                 specs={"lcsc": "C25804"}, footprint="R_0603"),
            Part("=HYPERLINK(\"x\")", unit_price=Decimal("1.5"), currency="EUR")]


def test_jlcpcb_csv():
    rows = list(csv.DictReader(io.StringIO(exports.bom_csv_jlcpcb(bom()))))
    assert list(rows[0]) == ["Comment", "Designator", "Footprint", "LCSC Part #"]
    assert rows[0] == {"Comment": "ESP32-DEVKITC-32E", "Designator": "U1", "Footprint": "Module:ESP32",
                       "LCSC Part #": "C2934560"}
    assert rows[1]["Designator"] == "R1,R2" and rows[1]["LCSC Part #"] == "C25804"
    assert rows[2]["Comment"].startswith("'="), "no formula injection"


def test_generic_csv_has_prices_suppliers_and_totals():
    rows = list(csv.DictReader(io.StringIO(exports.bom_csv_generic(bom()))))
    assert rows[1]["Line total"] == "0.02" and rows[1]["Supplier"] == "LCSC"
    totals = {r["Currency"]: r["Line total"] for r in rows if r["Name"] == "Total"}
    assert totals == {"EUR": "1.50", "USD": "10.02"}


def test_wireviz_document_parses_in_wireviz():
    wireviz = pytest.importorskip("wireviz.wireviz")
    document = exports.wireviz_yaml([esp32(), sensor()], GOOD + [w("U1.GPIO5", "U2.SCL", 4, "#ff8800")],
                                    title="Test")
    harness = wireviz.parse(document, return_types="harness")
    assert sorted(harness.connectors) == ["U1", "U2"] and len(harness.cables) == 5
    assert harness.cables["W1"].colors == ["RD"]
    if shutil.which("dot"):
        svg = wireviz.parse(document, return_types="svg")
        assert "<svg" in svg and "GPIO21" in svg


def test_platformio_zip_layout_and_ini():
    files = [SourceFile("main.cpp", "void setup(){}\nvoid loop(){}\n", platform="esp32", board="esp32dev",
                        framework="arduino", success_unit=1),
             SourceFile("src/sensor.cpp", "// sensor", success_unit=2, libraries=["adafruit/Adafruit BME280 Library"]),
             SourceFile("include/config.h", "#define X 1", success_unit=None)]
    archive = zipfile.ZipFile(io.BytesIO(exports.platformio_zip(files, [esp32()], name="Station")))
    assert sorted(archive.namelist()) == ["README.md", "include/config.h", "platformio.ini", "src/main.cpp",
                                          "src/sensor.cpp"]
    ini = archive.read("platformio.ini").decode()
    assert "[env:esp32dev]" in ini and "platform = espressif32" in ini and "framework = arduino" in ini
    assert "lib_deps =\n    adafruit/Adafruit BME280 Library" in ini
    unit1 = zipfile.ZipFile(io.BytesIO(exports.platformio_zip(files, [esp32()], name="Station", unit=1)))
    assert "src/sensor.cpp" not in unit1.namelist() and "lib_deps" not in unit1.read("platformio.ini").decode()
    with pytest.raises(exports.ExportError):
        exports.platformio_zip([SourceFile("../../etc/passwd", platform="esp32")], [], name="x")
    with pytest.raises(exports.ExportError):
        exports.platformio_zip([SourceFile("main.cpp")], [Part("resistor")], name="x")
    derived = zipfile.ZipFile(io.BytesIO(exports.platformio_zip([SourceFile("main.cpp")], [esp32()], name="x")))
    assert "board = esp32dev" in derived.read("platformio.ini").decode()


def test_platformio_export_cannot_be_made_to_run_anything():
    """Newlines in the project name, framework, board or libraries became new lines of platformio.ini
    (`extra_scripts = pre:...` runs on the maker's PC at `pio run`), and files under lib/ were exported as
    they were (a library.json may name an extraScript)."""
    injected = "arduino\nextra_scripts = pre:evil.py"
    for field, value in (("framework", injected), ("board", "esp32dev\n[env:x]\nextra_scripts = pre:evil.py"),
                         ("platform", "espressif32\nextra_scripts=pre:evil.py")):
        with pytest.raises(exports.ExportError, match="platformio.ini can hold"):
            exports.platformio_zip([SourceFile("main.cpp", **{field: value, "platform": "esp32"}
                                               if field != "platform" else {field: value})], [esp32()], name="x")
    with pytest.raises(exports.ExportError, match="library"):
        exports.platformio_zip([SourceFile("main.cpp", platform="esp32",
                                           libraries=["Wire\nextra_scripts = pre:evil.py"])], [esp32()], name="x")
    files = [SourceFile("src/main.cpp", "void setup(){}", platform="esp32"),
             SourceFile("lib/evil/library.json", '{"build": {"extraScript": "evil.py"}}'),
             SourceFile("lib/evil/evil.py", "import os"), SourceFile("extra.py", "import os"),
             SourceFile("boards/custom.json", "{}"), SourceFile("platformio.ini", "[env:x]\nextra_scripts = a.py"),
             SourceFile("src/deeper/util.h", "#pragma once"), SourceFile("data/config.json", "{}")]
    archive = zipfile.ZipFile(io.BytesIO(exports.platformio_zip(files, [esp32()],
                                                                name="Station\n[env:evil]\nextra_scripts = pre:x.py")))
    assert sorted(archive.namelist()) == ["README.md", "data/config.json", "platformio.ini", "src/deeper/util.h",
                                          "src/main.cpp"]
    ini = archive.read("platformio.ini").decode()
    assert "extra_scripts" not in ini.replace("; Station [env:evil] extra_scripts", "")
    assert [line for line in ini.splitlines() if line.startswith("[")] == ["[platformio]", "[env:esp32dev]"]
    assert "lib/evil/library.json" in archive.read("README.md").decode()
