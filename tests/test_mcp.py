"""OHM's MCP server driven by the official SDK's own client: over HTTP (/mcp on the running API) and over
stdio (`ohm mcp` as a desktop host launches it), as an API key's user, under RLS and the key's scopes."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

mcp = pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")

from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from .conftest import JWT_SECRET, auth  # noqa: E402

MCU = {"name": "ESP32-DevKitC", "mpn": "ESP32-DEVKITC-32E", "designators": ["U1"], "unit_price": "10.00",
       "specs": {"logic_voltage": 3.3, "pins": [{"name": "3V3", "type": "power_out", "voltage": 3.3},
                                                {"name": "GND", "type": "power_out", "voltage": 0},
                                                {"name": "GPIO21", "type": "bidirectional", "voltage": 3.3},
                                                {"name": "GPIO22", "type": "bidirectional", "voltage": 3.3}]}}
SENSOR = {"name": "BME280 sensor", "mpn": "BME280", "designators": ["U2"], "unit_price": "6.95",
          "specs": {"supply_voltage": {"min": 1.71, "max": 3.6},
                    "pins": [{"name": "VIN", "type": "power_in"}, {"name": "GND", "type": "power_in", "voltage": 0},
                             {"name": "SDA", "type": "bidirectional", "voltage": 3.3},
                             {"name": "SCL", "type": "input", "voltage": 3.3}]}}


def wire(a: str, b: str, colour: str) -> dict[str, Any]:
    (pa, xa), (pb, xb) = a.split("."), b.split(".")
    return {"from": {"part": pa, "pin": xa}, "to": {"part": pb, "pin": xb}, "wire_color": colour}


WIRING = [wire("U1.3V3", "U2.VIN", "RD"), wire("U1.GND", "U2.GND", "BK"), wire("U1.GPIO21", "U2.SDA", "BU"),
          wire("U1.GPIO22", "U2.SCL", "YE")]
CODE = [{"filename": "src/main.cpp", "platform": "espressif32", "board": "esp32dev", "framework": "arduino",
         "content": "#include <Arduino.h>\nvoid setup() {}\nvoid loop() {}\n"}]

TOOLS = {"list_chats", "read_chat", "append_message", "create_artifact", "add_artifact_version", "read_bom",
         "read_wiring", "read_code", "run_checks", "search", "usage"}


@contextlib.asynccontextmanager
async def over_http(base: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
            yield client


def result(called: Any) -> Any:
    assert not called.is_error, called.content[0].text
    return json.loads(called.content[0].text)


def refusal(called: Any) -> str:
    assert called.is_error, called.content
    return str(called.content[0].text)


@pytest.fixture
def world(http, user, other_user) -> dict[str, Any]:
    """Alice's project with a chat; a key of hers with every scope and one that may only read chats."""
    project = http.post("/v1/projects", headers=auth(user), json={"name": "Balcony station"}).json()
    chat = http.post("/v1/chats", headers=auth(user), json={"project_id": project["id"], "title": "Station"}).json()
    http.post(f"/v1/chats/{chat['id']}/messages", headers=auth(user),
              json={"role": "user", "content": "Which sensor for humidity on my ESP32?"})
    full = http.post("/v1/keys", headers=auth(user), json={"name": "bomGenerator", "scopes": ["*"]}).json()
    reader = http.post("/v1/keys", headers=auth(user), json={"name": "reader", "scopes": ["chats:read"]}).json()
    bob_chat = http.post("/v1/chats", headers=auth(other_user), json={"title": "Bob's secret"}).json()
    return {"project": project, "chat": chat, "key": full["secret"], "reader": reader["secret"],
            "bob_token": other_user.token(), "bob_chat": bob_chat}


async def test_tools_are_listed_with_schemas_an_llm_can_act_on(live_server, world):
    async with over_http(live_server, world["key"]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description or "") > 40, tool.name
        assert tool.input_schema["type"] == "object"
    append = tools["append_message"].input_schema
    assert set(append["required"]) == {"chat_id", "content"}
    assert append["properties"]["chat_id"]["format"] == "uuid"
    assert "enum" in json.dumps(append["properties"]["intent"])
    assert "base_version" in tools["add_artifact_version"].input_schema["required"]


async def test_an_agent_works_a_chat_through_every_tool(live_server, world, http, user):
    chat_id = world["chat"]["id"]
    async with over_http(live_server, world["key"]) as client:
        listed = result(await client.call_tool("list_chats", {}))
        assert chat_id in [c["id"] for c in listed["items"]]

        read = result(await client.call_tool("read_chat", {"chat_id": chat_id}))
        assert [m["content"] for m in read["messages"]] == ["Which sensor for humidity on my ESP32?"]

        sent = result(await client.call_tool("append_message", {
            "chat_id": chat_id, "content": "A BME280 on I2C: SDA to GPIO21, SCL to GPIO22.",
            "agent_name": "wiringExpert", "model": "claude-sonnet-4-5", "intent": "WIRING",
            "input_tokens": 1200, "output_tokens": 300}))
        assert sent["sequence_number"] == 2

        bom = result(await client.call_tool("create_artifact", {
            "chat_id": chat_id, "type": "bom", "title": "BOM", "content_json": {"parts": [MCU]},
            "agent_name": "bomGenerator"}))
        assert bom["current_version"] == 1
        second = result(await client.call_tool("add_artifact_version", {
            "artifact_id": bom["id"], "base_version": 1, "content_json": {"parts": [MCU, SENSOR]},
            "change_summary": "add the BME280"}))
        assert second["current_version"] == 2
        stale = refusal(await client.call_tool("add_artifact_version", {
            "artifact_id": bom["id"], "base_version": 1, "content_json": {"parts": [MCU]}}))
        assert "409" in stale and "Conflict" in stale
        result(await client.call_tool("create_artifact", {
            "chat_id": chat_id, "type": "wiring", "title": "Wiring", "content_json": {"connections": WIRING[:4]}}))
        result(await client.call_tool("create_artifact", {
            "chat_id": chat_id, "type": "code", "title": "Firmware", "content_json": {"files": CODE}}))

        project_id = world["project"]["id"]
        parts = result(await client.call_tool("read_bom", {"project_id": project_id}))
        assert {p["mpn"] for p in parts["parts"]} == {"ESP32-DEVKITC-32E", "BME280"}
        wiring = result(await client.call_tool("read_wiring", {"project_id": project_id}))
        assert len(wiring["connections"]) == 4
        code = result(await client.call_tool("read_code", {"project_id": project_id}))
        assert "src/main.cpp" in json.dumps(code)
        checks = result(await client.call_tool("run_checks", {"project_id": project_id}))
        assert "findings" in checks

        found = result(await client.call_tool("search", {"q": "GPIO21"}))
        assert any(h.get("chat_id") == chat_id for h in found["items"])
        usage = result(await client.call_tool("usage", {"group_by": "agent"}))
        assert "wiringExpert" in [row["key"] for row in usage["items"]]

    # what the agent wrote is there for everyone else, with its agent, model and cost
    messages = http.get(f"/v1/chats/{chat_id}/messages", headers=auth(user)).json()["items"]
    assert messages[-1]["agent"]["name"] == "wiringExpert" and messages[-1]["usage"]["input_tokens"] == 1200


async def test_resources_a_chat_as_markdown_and_the_projects_exports(live_server, world, http, user):
    chat_id, project_id = world["chat"]["id"], world["project"]["id"]
    for kind, content in (("bom", {"parts": [MCU, SENSOR]}), ("wiring", {"connections": WIRING[:4]}),
                          ("code", {"files": CODE})):
        http.post(f"/v1/chats/{chat_id}/artifacts", headers=auth(user),
                  json={"type": kind, "title": kind, "content_json": content})
    async with over_http(live_server, world["key"]) as client:
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert templates == {"ohm://chats/{chat_id}.md", "ohm://projects/{project_id}/bom.csv",
                             "ohm://projects/{project_id}/wiring.yaml", "ohm://projects/{project_id}/code/{+filename}"}
        markdown = (await client.read_resource(f"ohm://chats/{chat_id}.md")).contents[0].text
        assert "Which sensor for humidity" in markdown
        csv = (await client.read_resource(f"ohm://projects/{project_id}/bom.csv")).contents[0].text
        assert "BME280" in csv
        harness = (await client.read_resource(f"ohm://projects/{project_id}/wiring.yaml")).contents[0].text
        assert "connectors:" in harness
        main = (await client.read_resource(f"ohm://projects/{project_id}/code/src/main.cpp")).contents[0].text
        assert "#include <Arduino.h>" in main


async def test_refusals_are_tool_errors_with_the_apis_problem(live_server, world):
    async with over_http(live_server, world["key"]) as client:
        # another user's chat is "not found", as over HTTP
        assert "404" in refusal(await client.call_tool("read_chat", {"chat_id": world["bob_chat"]["id"]}))
        assert "404" in refusal(await client.call_tool("append_message", {
            "chat_id": world["bob_chat"]["id"], "content": "hijack"}))
        # bad input is a 422-style refusal, and the session goes on
        assert refusal(await client.call_tool("append_message", {"chat_id": "not-a-uuid", "content": "x"}))
        assert result(await client.call_tool("list_chats", {}))["items"]
    async with over_http(live_server, world["reader"]) as client:
        assert result(await client.call_tool("read_chat", {"chat_id": world["chat"]["id"]}))
        denied = refusal(await client.call_tool("append_message", {"chat_id": world["chat"]["id"], "content": "x"}))
        assert "403" in denied and "messages:write" in denied
    async with over_http(live_server, world["bob_token"]) as client:  # a user's JWT works too
        assert "404" in refusal(await client.call_tool("read_chat", {"chat_id": world["chat"]["id"]}))


def test_http_without_a_token_is_a_401_problem(live_server):
    response = httpx.post(f"{live_server}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                          headers={"accept": "application/json, text/event-stream"})
    assert response.status_code == 401
    assert response.json()["type"] == "urn:ohm:problem:unauthorized"
    forged = httpx.post(f"{live_server}/mcp", json={}, headers={"Authorization": "Bearer ohm_sk_abcdefgh_" + "x" * 43})
    assert forged.status_code == 401


@pytest.mark.slow
async def test_ohm_mcp_over_stdio_as_a_desktop_host_runs_it(database_url, world):
    params = StdioServerParameters(
        command=str(Path(sys.executable).with_name("ohm")), args=["mcp"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("OHM_")},
             "OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET, "OHM_API_KEY": world["key"]})
    async with Client(params) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        read = result(await client.call_tool("read_chat", {"chat_id": world["chat"]["id"]}))
        assert read["title"] == "Station"
        assert "404" in refusal(await client.call_tool("read_chat", {"chat_id": str(uuid.uuid4())}))
        markdown = (await client.read_resource(f"ohm://chats/{world['chat']['id']}.md")).contents[0].text
        assert "Which sensor for humidity" in markdown
