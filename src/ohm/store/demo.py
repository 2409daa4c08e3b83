"""The demo project: "ESP32 Weather Station".

One maker, one project, one chat in which several agents answer: a planner,
a BOM generator whose bill of materials goes through three versions
(ESP32-DevKitC + DHT22 + OLED -> BME280 -> + rain sensor, breadboard, wires),
a wiring expert whose wiring has one deliberate mistake the checks catch (the
rain sensor powered from 5 V drives its 5 V output into a 3.3 V GPIO), and a
firmware writer with three success units.  Loaded in one transaction as the
service role; loading it again finds the existing one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.db.session import Conn, Database
from ohm.store import hardware
from ohm.store._common import first

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
          supplier: str, lcsc: str, datasheet: str | None, specs: dict[str, Any],
          alternatives: list[dict[str, Any]] | None = None, footprint: str | None = None) -> dict[str, Any]:
    return {
        "name": name, "mpn": mpn, "manufacturer": manufacturer, "quantity": qty,
        "designators": designators, "unit_price": price, "currency": "USD", "supplier": supplier,
        "supplier_part_number": lcsc, "datasheet_url": datasheet, "specs": specs,
        "alternatives": alternatives or [], "footprint": footprint,
    }


def _pin(name: str, kind: str, voltage: float | str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, **({"voltage": voltage} if voltage is not None else {}), **extra}


DEVKITC = _part(
    "ESP32-DevKitC V4", "ESP32-DEVKITC-32E", "Espressif", 1, ["U1"], "10.00", "DigiKey", "C2934560",
    "https://www.espressif.com/sites/default/files/documentation/esp32_datasheet_en.pdf",
    {"supply_voltage": {"min": 4.75, "max": 5.25}, "logic_voltage": 3.3, "current_ma": 240,
     "interface": ["i2c", "spi", "uart", "wifi"], "five_volt_tolerant": False,
     "pins": [_pin("3V3", "power_out", 3.3, max_current_ma=600), _pin("5V", "power_out", 5.0, max_current_ma=500),
              _pin("GND", "power_out", 0), _pin("GPIO21", "bidirectional", 3.3, aliases=["SDA"]),
              _pin("GPIO22", "bidirectional", 3.3, aliases=["SCL"]), _pin("GPIO34", "input", 3.3),
              _pin("GPIO2", "bidirectional", 3.3), _pin("EN", "input", 3.3)]},
    [{"mpn": "ESP32-DEVKITM-1", "note": "smaller, same pinout subset"}],
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
    {"supply_voltage": {"min": 1.71, "max": 3.6}, "logic_voltage": 3.3, "current_ma": 0.0036,
     "interface": ["i2c", "spi"], "i2c_address": "0x76", "five_volt_tolerant": False,
     "pins": [_pin("VIN", "power_in"), _pin("GND", "power_in", 0), _pin("SDA", "bidirectional", 3.3),
              _pin("SCL", "input", 3.3)]},
    [{"mpn": "BMP280", "note": "no humidity", "compatible": True,
      "specs": {"supply_voltage": {"min": 1.71, "max": 3.6}}}],
    footprint="Package_LGA:Bosch_LGA-8_2.5x2.5mm_P0.65mm_ClockwisePinNumbering",
)
OLED = _part(
    "0.96in OLED display 128x64 (SSD1306)", "SSD1306-128X64-I2C", "Solomon Systech", 1, ["DS1"], "3.80",
    "AliExpress", "C5248080", "https://cdn-shop.adafruit.com/datasheets/SSD1306.pdf",
    {"supply_voltage": {"min": 3.3, "max": 5.0}, "logic_voltage": 3.3, "current_ma": 20, "interface": ["i2c"],
     "i2c_address": "0x3C",
     "pins": [_pin("VCC", "power_in"), _pin("GND", "power_in", 0), _pin("SDA", "bidirectional", 3.3),
              _pin("SCL", "input", 3.3)]},
)
RAIN = _part(
    "Rain sensor module (YL-83 plate + LM393 comparator)", "YL-83", "Generic", 1, ["U3"], "2.50", "LCSC",
    "C5334532", "https://www.ti.com/lit/ds/symlink/lm393.pdf",
    {"supply_voltage": {"min": 3.3, "max": 5.0}, "current_ma": 15, "interface": ["digital", "analog"],
     # The comparator's output is pulled up to the module's own supply.
     "pins": [_pin("VCC", "power_in"), _pin("GND", "power_in", 0), _pin("DO", "output", "supply"),
              _pin("AO", "passive")]},
)
BREADBOARD = _part("Breadboard, 830 points", "BB-830", "Generic", 1, [], "4.00", "LCSC", "C5296812", None,
                   {"points": 830})
JUMPERS = _part("Jumper wires, male-female, 20 cm (40)", "JW-MF-20", "Generic", 1, [], "3.00", "LCSC", "C5296813",
                None, {"length_mm": 200, "count": 40})

BOM_VERSIONS = [
    ("Initial BOM", [DEVKITC, DHT22, OLED], "bomGenerator"),
    ("Replaced DHT22 with BME280", [DEVKITC, BME280, OLED], "bomGenerator"),
    ("Added a rain sensor, breadboard and wires", [DEVKITC, BME280, OLED, RAIN, BREADBOARD, JUMPERS],
     "bomGenerator"),
]


def _wire(step: int, a: str, b: str, colour: str, voltage: float, signal: str, instruction: str) -> dict[str, Any]:
    (pa, pin_a), (pb, pin_b) = a.split("."), b.split(".")
    return {"from": {"part": pa, "pin": pin_a}, "to": {"part": pb, "pin": pin_b}, "wire_color": colour,
            "voltage": voltage, "signal": signal, "step": step, "instruction": instruction}


WIRING = [
    _wire(1, "U1.3V3", "U2.VIN", "RD", 3.3, "power", "3.3 V from the ESP32 to the BME280."),
    _wire(1, "U1.GND", "U2.GND", "BK", 0, "ground", "Common ground."),
    _wire(2, "U1.GPIO21", "U2.SDA", "BU", 3.3, "i2c", "I2C data (SDA) to GPIO21."),
    _wire(2, "U1.GPIO22", "U2.SCL", "YE", 3.3, "i2c", "I2C clock (SCL) to GPIO22."),
    _wire(3, "U1.3V3", "DS1.VCC", "RD", 3.3, "power", "Power the OLED from 3.3 V."),
    _wire(3, "U1.GND", "DS1.GND", "BK", 0, "ground", "OLED ground."),
    _wire(4, "U1.GPIO21", "DS1.SDA", "BU", 3.3, "i2c", "The OLED shares the I2C bus (0x3C)."),
    _wire(4, "U1.GPIO22", "DS1.SCL", "YE", 3.3, "i2c", "Shared I2C clock."),
    # The deliberate mistake: powered from 5 V, the module's DO swings to 5 V into a 3.3 V GPIO.
    _wire(5, "U1.5V", "U3.VCC", "RD", 5.0, "power", "Power the rain sensor from the 5 V pin."),
    _wire(5, "U1.GND", "U3.GND", "BK", 0, "ground", "Rain sensor ground."),
    _wire(6, "U3.DO", "U1.GPIO34", "GN", 5.0, "digital", "Rain sensor digital output to GPIO34 (input only)."),
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
                'const int RAIN_PIN = 34;  // YL-83 DO: LOW when the plate is wet\n\n'
                'bool sensorBegin() {\n  pinMode(RAIN_PIN, INPUT);\n  Wire.begin(21, 22);\n'
                '  return bme.begin(0x76);\n}\n\n'
                'bool isRaining() { return digitalRead(RAIN_PIN) == LOW; }\n'
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
CONVERSATION: list[tuple[Any, ...]] = [
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
    ("user", "Can it also tell me when it rains? And I need something to build it on.",
     None, None, None, None, 0, 0, None, None),
    ("assistant", "Added a YL-83 rain sensor module (its LM393 comparator gives a digital 'rain' output), "
                  "a breadboard and jumper wires. Total $30.25, within the $40 budget.",
     "bomGenerator", "openai/o1", "📦", "BOM", 3400, 1100, "0.117000", 8200),
    ("user", "How do I wire it?", None, None, None, None, 0, 0, None, None),
    ("assistant", "Wiring in six steps: power and ground to the BME280, then I2C (GPIO21 = SDA, "
                  "GPIO22 = SCL), the OLED on the same bus, and the rain sensor on the 5 V pin with its "
                  "digital output to GPIO34.",
     "wiringExpert", "anthropic/claude-opus-4", "🔌", "WIRING", 4100, 1500, "0.174000", 11800),
    ("user", "Now write the firmware.", None, None, None, None, 0, 0, None, None),
    ("assistant", "Firmware in three success units: src/main.cpp blinks and logs (unit 1), "
                  "src/sensor.cpp reads the BME280 and the rain sensor (unit 2), src/display.cpp shows the "
                  "readings (unit 3).",
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


async def _find(conn: Conn) -> Demo | None:
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


async def _create(conn: Conn) -> Demo:
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
        user_id = (await first(cur))["id"]

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
    project_id = (await first(cur))["id"]
    cur = await conn.execute(
        """insert into public.chats (user_id, project_id, title, phase)
           values (%s, %s, %s, 'code') returning id""",
        (user_id, project_id, PROJECT_NAME),
    )
    chat_id = (await first(cur))["id"]

    message_ids: list[uuid.UUID] = []
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
        message_ids.append((await first(cur))["id"])

    bom_messages = [message_ids[2], message_ids[4], message_ids[6]]
    bom_id = await _artifact(conn, chat_id, user_id, project_id, bom_messages[0], "bom",
                             "Weather station BOM")
    parent = None
    for (summary, parts, agent), message_id in zip(BOM_VERSIONS, bom_messages, strict=True):
        text = "\n".join(f"{p['quantity']}x {p['name']} ({p['mpn']}) ${p['unit_price']}" for p in parts)
        parent = await _version(conn, bom_id, user_id, parent, text, {"parts": parts}, summary,
                                message_id, agent)

    wiring_id = await _artifact(conn, chat_id, user_id, project_id, message_ids[8], "wiring",
                                "Weather station wiring")
    await _version(
        conn, wiring_id, user_id, None,
        "\n".join(f"{c['step']}. {c['from']['part']}.{c['from']['pin']} -> {c['to']['part']}.{c['to']['pin']}"
                  f" ({c['wire_color']})" for c in WIRING),
        {"connections": WIRING}, "Initial wiring", message_ids[8], "wiringExpert",
    )

    code_id = await _artifact(conn, chat_id, user_id, project_id, message_ids[10], "code",
                              "Weather station firmware")
    await _version(
        conn, code_id, user_id, None, str(CODE_FILES[0]["content"]), {"files": CODE_FILES},
        "Firmware in three success units", message_ids[10], "codeGenerator",
    )
    # The versions' parts, connections and files were written by the normalisation trigger; store the checks.
    await hardware.recheck_after_write(conn, project_id)
    return Demo(user_id, project_id, chat_id, created=True)


async def _artifact(conn: Conn, chat_id: uuid.UUID, user_id: uuid.UUID, project_id: uuid.UUID,
                    message_id: uuid.UUID, type_: str,
                    title: str) -> uuid.UUID:
    cur = await conn.execute(
        """insert into public.artifacts (chat_id, user_id, project_id, message_id, type, title)
           values (%s, %s, %s, %s, %s, %s) returning id""",
        (chat_id, user_id, project_id, message_id, type_, title),
    )
    return (await first(cur))["id"]


async def _version(conn: Conn, artifact_id: uuid.UUID, user_id: uuid.UUID, parent: uuid.UUID | None, text: str,
                   content: dict[str, Any], summary: str, message_id: uuid.UUID, agent: str) -> uuid.UUID:
    cur = await conn.execute(
        """insert into public.artifact_versions
             (artifact_id, user_id, parent_version_id, content_text, content_json, change_summary,
              created_by_message_id, created_by_agent)
           values (%s, %s, %s, %s, %s, %s, %s, %s) returning id""",
        (artifact_id, user_id, parent, text, Jsonb(content), summary, message_id, agent),
    )
    return (await first(cur))["id"]
