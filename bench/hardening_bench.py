"""How the heavy paths scale: each figure is a ratio of two sizes measured in the same run.

An algorithm that compares everything with everything shows up as a ratio near the square of the size
ratio; one that indexes shows a ratio near the size ratio (or below, where fixed costs dominate).  The
paths measured are the ones an attack made slow (docs/reliability.md):

- the wiring normalisation trigger: a wiring version of C connections over a BOM of P parts, with the
  BOM 100 times bigger (C fixed): a lookup per connection stays flat, a scan of the parts grows 100 times;
- the BOM compare: two versions of N parts, every part replaced, at N and 10 N;
- the text compare: two texts with every third line changed, at L and 10 L lines;
- the project checks (the part catalogue, nets, every rule): a project of P parts and 3 P wires, at
  P = 50 (its time is the figure docs/hardware.md reports; goal < 50 ms) and 10 P;
- the console's chat page (GET /chat/{id}, the median of several requests through the app): a chat of
  100 and of 1,000 messages with Markdown and code (its first page of 100 is rendered; goal < 100 ms);
- the size and NUL check of a JSON value a write carries (metadata, content_json, preferences): 4 MiB of
  small numbers, refused, against reading that body with json (which every JSON route does anyway):
  the check may cost no more than the read (it walked the value in Python before, ~8 times the read).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ohm.hardware.diff import bom_diff, text_diff
from ohm.hardware.documents import check_documents

from .env import BenchDatabase


@dataclass
class Scaling:
    name: str
    small: str
    large: str
    small_seconds: float
    large_seconds: float
    size_ratio: float
    goal: float  # the largest acceptable time ratio

    @property
    def ratio(self) -> float:
        return self.large_seconds / max(self.small_seconds, 1e-9)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "small": self.small, "large": self.large,
                "small_s": round(self.small_seconds, 4), "large_s": round(self.large_seconds, 4),
                "size_ratio": self.size_ratio, "time_ratio": round(self.ratio, 2), "goal": self.goal,
                "met": self.ratio <= self.goal}


def best_of(runs: int, fn: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def wiring_trigger(db: BenchDatabase, parts: int, connections: int, runs: int) -> float:
    """Seconds to store one wiring version of ``connections`` over a project BOM of ``parts`` parts."""
    user = db.new_user("hardening")
    with psycopg.connect(db.admin_url) as conn:
        project = conn.execute("insert into projects (user_id, name) values (%s, 'bench') returning id",
                               (user,)).fetchone()[0]
        chat = conn.execute("insert into chats (user_id, project_id) values (%s, %s) returning id",
                            (user, project)).fetchone()[0]
        bom = conn.execute("insert into artifacts (chat_id, user_id, project_id, type, title) "
                           "values (%s, %s, %s, 'bom', 'BOM') returning id", (chat, user, project)).fetchone()[0]
        conn.execute("insert into artifact_versions (artifact_id, user_id, content_json) values (%s, %s, %s)",
                     (bom, user, Jsonb({"parts": [{"name": f"Part {i}", "designators": [f"U{i}"], "quantity": 1}
                                                  for i in range(parts)]})))
        wiring = conn.execute("insert into artifacts (chat_id, user_id, project_id, type, title) "
                              "values (%s, %s, %s, 'wiring', 'Wiring') returning id",
                              (chat, user, project)).fetchone()[0]
        conn.commit()
        document = Jsonb({"connections": [
            {"from": {"part": f"U{i % parts}", "pin": "1"}, "to": {"part": f"U{(i * 7) % parts}", "pin": "2"}}
            for i in range(connections)]})

        def store() -> None:
            conn.execute("insert into artifact_versions (artifact_id, user_id, content_json) values (%s, %s, %s)",
                         (wiring, user, document))
            conn.rollback()

        return best_of(runs, store)


def bom_compare(parts: int, runs: int) -> float:
    old = [{"name": f"Resistor {i}", "mpn": f"R-{i}", "designators": [f"R{i}"], "quantity": 1} for i in range(parts)]
    new = [{**p, "mpn": f"C-{i}", "name": f"Capacitor {i}"} for i, p in enumerate(old)]
    return best_of(runs, lambda: bom_diff(old, new))


def text_compare(lines: int, runs: int) -> float:
    old = "".join(f"line {i} of the firmware notes\n" for i in range(lines))
    new = "".join(f"line {i} of the firmware notes\n" if i % 3 else f"changed {i}\n" for i in range(lines))
    return best_of(runs, lambda: text_diff(old, new, "v1", "v2"))


MODULES = [("BME280 sensor", "VCC", "GND", "SDA"), ("DHT22 sensor", "VCC", "GND", "DATA"),
           ("HC-SR04 ultrasonic sensor", "VCC", "GND", "TRIG"), ("SSD1306 OLED", "VCC", "GND", "SCL"),
           ("Relay module 5V", "VCC", "GND", "IN"), ("SG90 servo", "VCC", "GND", "SIGNAL"),
           ("220 ohm resistor", "1", "2", "1"), ("Red LED", "A", "K", "A"), ("HC-SR501 PIR", "VCC", "GND", "OUT"),
           ("Capacitive soil moisture sensor", "VCC", "GND", "AOUT")]
GPIOS = ["GPIO4", "GPIO13", "GPIO14", "GPIO16", "GPIO17", "GPIO18", "GPIO19", "GPIO21", "GPIO22", "GPIO23",
         "GPIO25", "GPIO26", "GPIO27", "GPIO32", "GPIO33"]


def project_checks(parts: int, runs: int) -> float:
    """Seconds to check a project of ``parts`` catalogue parts and three wires each, as agents write them
    (names only, silkscreen pins), from the documents to the findings."""
    bom = [{"name": "ESP32 DevKit V1", "designators": ["U1"], "unit_price": "6.5", "supplier": "LCSC"}]
    wires = []
    for i in range(1, parts):
        name, vcc, gnd, signal = MODULES[i % len(MODULES)]
        ref = f"M{i}"
        bom.append({"name": name, "designators": [ref], "unit_price": "1", "supplier": "LCSC"})
        wires += [{"from": {"part": "U1", "pin": "3V3" if i % 2 else "5V"}, "to": {"part": ref, "pin": vcc}},
                  {"from": {"part": "U1", "pin": "GND"}, "to": {"part": ref, "pin": gnd}},
                  {"from": {"part": "U1", "pin": GPIOS[i % len(GPIOS)]}, "to": {"part": ref, "pin": signal}}]
    documents = ({"parts": bom}, {"connections": wires})
    return best_of(runs, lambda: check_documents(*documents))


def chat_page(db: BenchDatabase, messages: int, runs: int) -> float:
    """Median seconds of GET /chat/{id} for a chat of ``messages`` messages (server-side rendering included)."""
    import statistics

    from fastapi.testclient import TestClient

    from ohm.api.app import create_app
    from ohm.auth import issue_token
    from ohm.config import Settings

    user = db.new_user("console")
    text = ("Wire the **BME280** to GPIO21/22:\n\n```cpp\n#include <Wire.h>\nvoid setup() {\n  Wire.begin();\n}\n"
            "```\n- VCC to 3V3\n- GND to GND\n")
    with psycopg.connect(db.admin_url) as conn:
        chat = conn.execute("insert into chats (user_id, title) values (%s, 'bench') returning id",
                            (user,)).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany("insert into messages (chat_id, user_id, role, content, agent_name, agent_model) "
                            "values (%s, %s, %s, %s, %s, %s)",
                            [(chat, user, "user" if i % 2 == 0 else "assistant", f"{i}: {text}",
                              None if i % 2 == 0 else "wiringExpert", None if i % 2 == 0 else "openai/gpt-4o")
                             for i in range(messages)])
        conn.commit()
    secret = "bench-" + "x" * 40
    settings = Settings(database_url=db.admin_url, jwt_secret=secret, rate_limit_writes="off",
                        rate_limit_public_reads="off")
    with TestClient(create_app(settings)) as client:
        client.cookies.set("ohm_session", issue_token(secret, user_id=user, ttl_seconds=3600))
        assert client.get(f"/chat/{chat}").status_code == 200  # warm: templates, worker processes
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(f"/chat/{chat}")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
    return statistics.median(times)


def json_value_check(runs: int) -> tuple[float, float]:
    """(reading a 4 MiB body of small JSON numbers, refusing its metadata as too large), best of ``runs``."""
    from ohm.store._common import check_json_size
    from ohm.store.errors import TooLarge
    from ohm.store.messages import JSON_LIMIT

    count = (4 * 1024 * 1024 - 100) // 2
    body = ('{"role": "user", "content": "x", "metadata": {"a": [' + ",".join(["1"] * count) + "]}}").encode()
    value = json.loads(body)["metadata"]

    def check() -> None:
        try:
            check_json_size("metadata", value, JSON_LIMIT)
        except TooLarge:
            return
        raise AssertionError("a 4 MiB value passed the 256 KiB limit")

    return best_of(runs, lambda: json.loads(body)), best_of(runs, check)


def run(db: BenchDatabase, *, quick: bool = False) -> list[Scaling]:
    runs = 1 if quick else 3
    connections, parts = (200, 10) if quick else (2000, 10)
    bom_parts, lines = (300, 1500) if quick else (600, 2500)
    results = [
        Scaling("wiring trigger: BOM 100x bigger, same connections", f"{connections} wires x {parts} parts",
                f"{connections} wires x {parts * 100} parts", wiring_trigger(db, parts, connections, runs),
                wiring_trigger(db, parts * 100, connections, runs), 100, goal=10),
        Scaling("BOM compare: 10x the parts, all replaced", f"{bom_parts} parts", f"{bom_parts * 10} parts",
                bom_compare(bom_parts, runs), bom_compare(bom_parts * 10, runs), 10, goal=30),
        Scaling("text compare: 10x the lines, every third changed", f"{lines} lines", f"{lines * 10} lines",
                text_compare(lines, runs), text_compare(lines * 10, runs), 10, goal=30),
        Scaling("project checks: 10x the parts and wires", "50 parts, 150 wires", "500 parts, 1500 wires",
                project_checks(50, runs * 3), project_checks(500, runs), 10, goal=30),
        Scaling("chat page: 10x the messages", "100 messages", "1,000 messages (a page of 100)",
                chat_page(db, 100, runs * 5), chat_page(db, 1000, runs * 5), 10, goal=10),
        Scaling("JSON value check: refused / reading the body", "json.loads of 4 MiB of small numbers",
                "size and NUL check of that value", *json_value_check(runs), 1, goal=1),
    ]
    return results
