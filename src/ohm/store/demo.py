"""The demo project: "ESP32 Weather Station".

One maker, one project, one chat in which several agents answer: a planner,
a BOM generator whose bill of materials goes through three versions
(ESP32-DevKitC + DHT22 + OLED -> BME280 -> ESP32-WROOM-32), a wiring expert
and a firmware writer.  Loaded in one transaction as the service role;
loading it again finds the existing one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.db.session import Database

DEMO_EMAIL = "demo@ohm.local"
DEMO_NAME = "Demo Maker"
PROJECT_NAME = "ESP32 Weather Station"

# The one advisory lock key the loader takes, so two `ohm demo` at once
# produce one demo.
LOCK_KEY = int.from_bytes(b"ohm:demo", "big", signed=True)


@dataclass(frozen=True)
class Demo:
    user_id: uuid.UUID
    project_id: uuid.UUID
    chat_id: uuid.UUID
    created: bool

    @property
    def chat_url(self) -> str:
        return f"/chat/{self.chat_id}"


def _part(name: str, mpn: str, manufacturer: str, qty: int, designators: list[str], price: str,
          supplier: str, lcsc: str, datasheet: str, specs: dict[str, Any],
          alternatives: list[dict[str, Any]] | None = None, footprint: str | None = None) -> dict:
    return {
        "name": name, "mpn": mpn, "manufacturer": manufacturer, "quantity": qty,
        "designators": designators, "unit_price": price, "currency": "USD", "supplier": supplier,
        "supplier_part_number": lcsc, "datasheet_url": datasheet, "specs": specs,
        "alternatives": alternatives or [], "footprint": footprint,
    }


DEVKITC = _part(
    "ESP32-DevKitC V4", "ESP32-DEVKITC-32E", "Espressif", 1, ["U1"], "10.00", "DigiKey", "C2934560",
    "https://www.espressif.com/sites/default/files/documentation/esp32_datasheet_en.pdf",
    {"supply_voltage": {"min": 4.75, "max": 5.25}, "logic_voltage": 3.3, "current_ma": 240,
     "interface": ["i2c", "spi", "uart", "wifi"], "pins": 38, "five_volt_tolerant": False},
    [{"mpn": "ESP32-DEVKITM-1", "note": "smaller, same pinout subset"}],
)
WROOM = _part(
    "ESP32-WROOM-32E module", "ESP32-WROOM-32E-N4", "Espressif", 1, ["U1"], "3.20", "LCSC", "C701341",
    "https://www.espressif.com/sites/default/files/documentation/esp32-wroom-32e_datasheet_en.pdf",
    {"supply_voltage": {"min": 3.0, "max": 3.6}, "logic_voltage": 3.3, "current_ma": 240,
     "interface": ["i2c", "spi", "uart", "wifi"], "pins": 38, "five_volt_tolerant": False},
    footprint="RF_Module:ESP32-WROOM-32",
)
DHT22 = _part(
    "DHT22 temperature/humidity sensor", "AM2302", "Aosong", 1, ["U2"], "4.50", "Adafruit", "C2834857",
    "https://cdn-shop.adafruit.com/datasheets/Digital+humidity+and+temperature+sensor+AM2302.pdf",
    {"supply_voltage": {"min": 3.3, "max": 6.0}, "current_ma": 1.5, "interface": ["single-wire"],
     "pins": 4, "accuracy": {"temperature_c": 0.5, "humidity_pct": 2}},
)
BME280 = _part(
    "BME280 pressure/temperature/humidity sensor", "BME280", "Bosch Sensortec", 1, ["U2"], "6.95",
    "LCSC", "C92489",
    "https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme280-ds002.pdf",
    {"supply_voltage": {"min": 1.71, "max": 3.6}, "current_ma": 0.0036, "interface": ["i2c", "spi"],
     "i2c_address": "0x76", "pins": 8, "five_volt_tolerant": False},
    [{"mpn": "BMP280", "note": "no humidity", "compatible": True}],
    footprint="Package_LGA:Bosch_LGA-8_2.5x2.5mm_P0.65mm_ClockwisePinNumbering",
)
OLED = _part(
    "0.96in OLED display 128x64 (SSD1306)", "SSD1306-128X64-I2C", "Solomon Systech", 1, ["DS1"], "3.80",
    "AliExpress", "C5248080", "https://cdn-shop.adafruit.com/datasheets/SSD1306.pdf",
    {"supply_voltage": {"min": 3.3, "max": 5.0}, "current_ma": 20, "interface": ["i2c"],
     "i2c_address": "0x3C", "pins": 4},
)

BOM_VERSIONS = [
    ("Initial BOM", [DEVKITC, DHT22, OLED], "bomGenerator"),
    ("Replaced DHT22 with BME280", [DEVKITC, BME280, OLED], "bomGenerator"),
    ("Cheaper ESP32 variant", [WROOM, BME280, OLED], "bomGenerator"),
]

WIRING = [
    {"from": {"part": "U1", "pin": "3V3"}, "to": {"part": "U2", "pin": "VIN"}, "wire_color": "RD",
     "voltage": 3.3, "signal": "power", "step": 1, "instruction": "3.3 V from the ESP32 to the BME280."},
    {"from": {"part": "U1", "pin": "GND"}, "to": {"part": "U2", "pin": "GND"}, "wire_color": "BK",
     "voltage": 0, "signal": "ground", "step": 1, "instruction": "Common ground."},
    {"from": {"part": "U1", "pin": "GPIO21"}, "to": {"part": "U2", "pin": "SDA"}, "wire_color": "BU",
     "voltage": 3.3, "signal": "i2c", "step": 2, "instruction": "I2C data (SDA) to GPIO21."},
    {"from": {"part": "U1", "pin": "GPIO22"}, "to": {"part": "U2", "pin": "SCL"}, "wire_color": "YE",
     "voltage": 3.3, "signal": "i2c", "step": 2, "instruction": "I2C clock (SCL) to GPIO22."},
    {"from": {"part": "U1", "pin": "3V3"}, "to": {"part": "DS1", "pin": "VCC"}, "wire_color": "RD",
     "voltage": 3.3, "signal": "power", "step": 3, "instruction": "Power the OLED from 3.3 V."},
    {"from": {"part": "U1", "pin": "GND"}, "to": {"part": "DS1", "pin": "GND"}, "wire_color": "BK",
     "voltage": 0, "signal": "ground", "step": 3, "instruction": "OLED ground."},
    {"from": {"part": "U1", "pin": "GPIO21"}, "to": {"part": "DS1", "pin": "SDA"}, "wire_color": "BU",
     "voltage": 3.3, "signal": "i2c", "step": 4, "instruction": "The OLED shares the I2C bus (0x3C)."},
    {"from": {"part": "U1", "pin": "GPIO22"}, "to": {"part": "DS1", "pin": "SCL"}, "wire_color": "YE",
     "voltage": 3.3, "signal": "i2c", "step": 4, "instruction": "Shared I2C clock."},
]

LIBS_SENSOR = ["adafruit/Adafruit BME280 Library@^2.2.4", "adafruit/Adafruit Unified Sensor@^1.1.14"]
LIBS_DISPLAY = ["adafruit/Adafruit SSD1306@^2.5.9", "adafruit/Adafruit GFX Library@^1.11.9"]

CODE_FILES = [
    {"filename": "src/main.cpp", "language": "cpp", "platform": "esp32", "board": "esp32dev",
     "framework": "arduino", "success_unit": 1, "libraries": [],
     "content": '#include <Arduino.h>\n\nvoid setup() {\n  Serial.begin(115200);\n'
                '  pinMode(LED_BUILTIN, OUTPUT);\n  Serial.println("Weather station booting");\n}\n\n'
                'void loop() {\n  digitalWrite(LED_BUILTIN, !digitalRead(LED_BUILTIN));\n  delay(500);\n}\n'},
    {"filename": "src/sensor.cpp", "language": "cpp", "platform": "esp32", "board": "esp32dev",
     "framework": "arduino", "success_unit": 2, "libraries": LIBS_SENSOR,
     "content": '#include <Wire.h>\n#include <Adafruit_BME280.h>\n\nAdafruit_BME280 bme;\n\n'
                'bool sensorBegin() {\n  Wire.begin(21, 22);\n  return bme.begin(0x76);\n}\n\n'
                'float readTemperatureC() { return bme.readTemperature(); }\n'
                'float readHumidity() { return bme.readHumidity(); }\n'
                'float readPressureHpa() { return bme.readPressure() / 100.0F; }\n'},
    {"filename": "src/display.cpp", "language": "cpp", "platform": "esp32", "board": "esp32dev",
     "framework": "arduino", "success_unit": 3, "libraries": LIBS_SENSOR + LIBS_DISPLAY,
     "content": '#include <Adafruit_SSD1306.h>\n\nAdafruit_SSD1306 oled(128, 64, &Wire, -1);\n\n'
                'void showReadings(float t, float h, float p) {\n  oled.clearDisplay();\n'
                '  oled.setCursor(0, 0);\n  oled.printf("%.1f C\\n%.0f %%\\n%.0f hPa", t, h, p);\n'
                '  oled.display();\n}\n'},
]

# (role, content, agent name, model, icon, intent, input tokens, output tokens, cost, latency ms)
CONVERSATION: list[tuple] = [
    ("user", "I want to build a weather station for my balcony with an ESP32: temperature, humidity "
             "and pressure, shown on a small display. Budget is about $40.",
     None, None, None, None, 0, 0, None, None),
    ("assistant", "Great project. Plan: (1) pick parts, (2) wire them on a breadboard, (3) write the "
                  "firmware in three success units: blink, read the sensor, show readings on the OLED.",
     "orchestrator", "anthropic/claude-sonnet-4", "🧭", "PLAN", 820, 310, "0.007110", 2300),
    ("assistant", "Here is a first bill of materials: an ESP32-DevKitC, a DHT22 for temperature and "
                  "humidity, and a 0.96\" SSD1306 OLED on I2C.",
     "bomGenerator", "openai/o1", "📦", "BOM", 2500, 1800, "0.145500", 9100),
    ("user", "The DHT22 drifts outdoors and has no pressure. Can we use something better?",
     None, None, None, None, 0, 0, None, None),
    ("assistant", "Replaced the DHT22 with a Bosch BME280: temperature, humidity and pressure over I2C, "
                  "and it shares the bus with the OLED.",
     "bomGenerator", "openai/o1", "📦", "BOM", 3100, 900, "0.100500", 7400),
    ("user", "Can we make it cheaper?", None, None, None, None, 0, 0, None, None),
    ("assistant", "Swapped the DevKitC for a bare ESP32-WROOM-32E module: $6.80 less. You will need a "
                  "3.3 V regulator and a USB-serial adapter for flashing.",
     "bomGenerator", "openai/o1", "📦", "BOM", 3400, 1100, "0.117000", 8200),
    ("user", "How do I wire it?", None, None, None, None, 0, 0, None, None),
    ("assistant", "Wiring in four steps: power and ground to the BME280, then I2C (GPIO21 = SDA, "
                  "GPIO22 = SCL), then the OLED on the same bus. Everything runs at 3.3 V.",
     "wiringExpert", "anthropic/claude-opus-4", "🔌", "WIRING", 4100, 1500, "0.174000", 11800),
    ("user", "Now write the firmware.", None, None, None, None, 0, 0, None, None),
    ("assistant", "Firmware in three success units: src/main.cpp blinks and logs (unit 1), "
                  "src/sensor.cpp reads the BME280 (unit 2), src/display.cpp shows the readings (unit 3).",
     "codeGenerator", "openai/gpt-4o", "💻", "CODE", 5200, 2600, "0.039000", 6900),
]


async def load_demo(db: Database) -> Demo:
    """Create the demo (user, project, chat, artifacts) unless it exists."""
    async with db.acting_as(Identity.service()) as conn:
        await conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        existing = await _find(conn)
        if existing:
            return existing
        return await _create(conn)


async def find_demo(db: Database) -> Demo | None:
    async with db.acting_as(Identity.service()) as conn:
        return await _find(conn)


async def _find(conn: AsyncConnection) -> Demo | None:
    cur = await conn.execute(
        """select p.id as user_id, pr.id as project_id, c.id as chat_id
             from public.profiles p
             join public.projects pr on pr.user_id = p.id and pr.name = %s
             join public.chats c on c.project_id = pr.id
            where lower(p.email) = %s
            order by c.created_at
            limit 1""",
        (PROJECT_NAME, DEMO_EMAIL),
    )
    row = await cur.fetchone()
    return Demo(row["user_id"], row["project_id"], row["chat_id"], created=False) if row else None


async def _create(conn: AsyncConnection) -> Demo:
    cur = await conn.execute(
        """select id from public.profiles where lower(email) = %s""", (DEMO_EMAIL,)
    )
    row = await cur.fetchone()
    if row:
        user_id = row["id"]
    else:
        cur = await conn.execute(
            "insert into auth.users (email, raw_user_meta_data) values (%s, %s) returning id",
            (DEMO_EMAIL, Jsonb({"display_name": DEMO_NAME})),
        )
        user_id = (await cur.fetchone())["id"]

    cur = await conn.execute(
        """insert into public.projects
             (user_id, name, description, goal, location, budget_amount, budget_currency,
              requirements, workflow_steps, success_metrics, status)
           values (%s, %s, %s, %s, %s, %s, 'USD', %s, %s, %s, 'active')
           returning id""",
        (
            user_id, PROJECT_NAME,
            "A battery-friendly balcony weather station that shows temperature, humidity and "
            "pressure on an OLED.",
            "Measure temperature, humidity and pressure outdoors and show them locally.",
            "outdoor, balcony", Decimal("40.00"),
            Jsonb({"sensors": ["temperature", "humidity", "pressure"], "display": "OLED 128x64",
                   "power": "USB 5 V", "enclosure": "IP54"}),
            Jsonb([
                {"step": 1, "name": "Choose parts", "status": "done"},
                {"step": 2, "name": "Breadboard wiring", "status": "done"},
                {"step": 3, "name": "Firmware: success units 1-3", "status": "in_progress"},
                {"step": 4, "name": "Enclosure and mounting", "status": "todo"},
            ]),
            Jsonb([
                {"metric": "temperature accuracy", "target": "±1 °C"},
                {"metric": "update interval", "target": "60 s"},
                {"metric": "BOM cost", "target": "< $40"},
            ]),
        ),
    )
    project_id = (await cur.fetchone())["id"]
    cur = await conn.execute(
        """insert into public.chats (user_id, project_id, title, phase)
           values (%s, %s, %s, 'code') returning id""",
        (user_id, project_id, PROJECT_NAME),
    )
    chat_id = (await cur.fetchone())["id"]

    message_ids = []
    for role, content, agent, model, icon, intent, tin, tout, cost, latency in CONVERSATION:
        cur = await conn.execute(
            """insert into public.messages
                 (chat_id, user_id, parent_id, role, content, agent_name, agent_model, agent_icon,
                  intent, input_tokens, output_tokens, cost_usd, latency_ms)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               returning id""",
            (chat_id, user_id, message_ids[-1] if message_ids else None, role, content, agent, model,
             icon, intent, tin, tout, Decimal(cost) if cost else None, latency),
        )
        message_ids.append((await cur.fetchone())["id"])

    bom_messages = [message_ids[2], message_ids[4], message_ids[6]]
    bom_id = await _artifact(conn, chat_id, user_id, project_id, bom_messages[0], "bom",
                             "Weather station BOM")
    parent = None
    for (summary, parts, agent), message_id in zip(BOM_VERSIONS, bom_messages, strict=True):
        text = "\n".join(f"{p['quantity']}x {p['name']} ({p['mpn']}) ${p['unit_price']}" for p in parts)
        parent = await _version(conn, bom_id, user_id, parent, text, {"parts": parts}, summary,
                                message_id, agent)
        await _parts(conn, user_id, project_id, parent, parts)

    wiring_id = await _artifact(conn, chat_id, user_id, project_id, message_ids[8], "wiring",
                                "Weather station wiring")
    wiring_version = await _version(
        conn, wiring_id, user_id, None,
        "\n".join(f"{c['step']}. {c['from']['part']}.{c['from']['pin']} -> {c['to']['part']}.{c['to']['pin']}"
                  f" ({c['wire_color']})" for c in WIRING),
        {"connections": WIRING}, "Initial wiring", message_ids[8], "wiringExpert",
    )
    for position, c in enumerate(WIRING):
        await conn.execute(
            """insert into public.connections
                 (user_id, project_id, artifact_version_id, position, from_part, from_pin, to_part,
                  to_pin, wire_color, voltage_level, signal_type, step_number, instruction)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (user_id, project_id, wiring_version, position, c["from"]["part"], c["from"]["pin"],
             c["to"]["part"], c["to"]["pin"], c["wire_color"], c["voltage"], c["signal"], c["step"],
             c["instruction"]),
        )

    code_id = await _artifact(conn, chat_id, user_id, project_id, message_ids[10], "code",
                              "Weather station firmware")
    code_version = await _version(
        conn, code_id, user_id, None, CODE_FILES[0]["content"], {"files": CODE_FILES},
        "Firmware in three success units", message_ids[10], "codeGenerator",
    )
    for position, f in enumerate(CODE_FILES):
        await conn.execute(
            """insert into public.code_files
                 (user_id, project_id, artifact_version_id, position, filename, language, platform,
                  board, framework, success_unit, content, libraries)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (user_id, project_id, code_version, position, f["filename"], f["language"], f["platform"],
             f["board"], f["framework"], f["success_unit"], f["content"], f["libraries"]),
        )
    return Demo(user_id, project_id, chat_id, created=True)


async def _artifact(conn: AsyncConnection, chat_id, user_id, project_id, message_id, type_: str,
                    title: str) -> uuid.UUID:
    cur = await conn.execute(
        """insert into public.artifacts (chat_id, user_id, project_id, message_id, type, title)
           values (%s, %s, %s, %s, %s, %s) returning id""",
        (chat_id, user_id, project_id, message_id, type_, title),
    )
    return (await cur.fetchone())["id"]


async def _version(conn: AsyncConnection, artifact_id, user_id, parent, text: str, content: dict,
                   summary: str, message_id, agent: str) -> uuid.UUID:
    cur = await conn.execute(
        """insert into public.artifact_versions
             (artifact_id, user_id, parent_version_id, content_text, content_json, change_summary,
              created_by_message_id, created_by_agent)
           values (%s, %s, %s, %s, %s, %s, %s, %s) returning id""",
        (artifact_id, user_id, parent, text, Jsonb(content), summary, message_id, agent),
    )
    return (await cur.fetchone())["id"]


async def _parts(conn: AsyncConnection, user_id, project_id, version_id, parts: list[dict]) -> None:
    for position, p in enumerate(parts):
        await conn.execute(
            """insert into public.parts
                 (user_id, project_id, artifact_version_id, position, name, mpn, manufacturer,
                  quantity, designators, specs, unit_price, currency, supplier, supplier_part_number,
                  footprint, datasheet_url, alternatives, lifecycle)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'active')""",
            (user_id, project_id, version_id, position, p["name"], p["mpn"], p["manufacturer"],
             p["quantity"], p["designators"], Jsonb(p["specs"]), Decimal(p["unit_price"]),
             p["currency"], p["supplier"], p["supplier_part_number"], p["footprint"],
             p["datasheet_url"], Jsonb(p["alternatives"])),
        )
