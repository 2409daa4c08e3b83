"""The attacks that found availability gaps, replayed against a real `ohm serve` process.

1. CPU on the event loop: while the heaviest inputs the API accepts are rendered, compared, searched and
   exported, /healthz must keep answering quickly (before: one share page of a 1 MiB message took 15 s, and
   /healthz waited 15 s behind it; a diff of two 6,000-part BOMs took 7.7 s).
2. Memory per connection: 100 anonymous readers that subscribe to a public chat of 40 x 1 MB messages from
   the beginning and never read (before: 25 of them took the server from 145 MB to 1.2 GB).

The server runs in its own process (its RSS is its own, and its event loop shares nothing with the test's
threads); the figures measured are printed and listed in docs/reliability.md.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import multiprocessing
import os
import socket
import time
import uuid

import httpx
import psutil
import pytest

from .conftest import acting, auth, free_port
from .helpers import serve

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    port = free_port()
    proc = serve(database_url, port, OHM_DATA_DIR=str(tmp_path_factory.mktemp("hardening")),
                  OHM_DB_POOL_MAX="12", OHM_RATE_LIMIT_WRITES="off", OHM_RATE_LIMIT_PUBLIC_READS="off")
    try:
        yield proc, f"http://127.0.0.1:{port}", port
    finally:
        proc.terminate()
        proc.wait(60)


def big_chat(app_url: str, user, *, messages: int, size: int, text: str, public: bool = True) -> uuid.UUID:
    """A chat of ``messages`` messages of ``size`` bytes each, written directly (fast)."""
    with acting(app_url, user.identity) as conn:
        chat = conn.execute("insert into chats (user_id, is_public) values (%s, %s) returning id",
                            (user.id, public)).fetchone()["id"]
        body = (text * (size // len(text) + 1))[:size]
        for _ in range(messages):
            conn.execute("insert into messages (chat_id, user_id, role, content) values (%s, %s, 'assistant', %s)",
                         (chat, user.id, body))
    return chat


def heavy_world(http: httpx.Client, app_url: str, user) -> list[tuple[str, dict[str, str]]]:
    """The heaviest inputs the API accepts, and the reads that render, compare, search and export them."""
    h = auth(user)
    # Markdown that costs ~10 µs a byte: one 1 MiB message and forty of 30 KiB, in a public, shared chat.
    chat = big_chat(app_url, user, messages=1, size=MiB - 16, text="[")
    with acting(app_url, user.identity) as conn:
        for n in range(40):
            conn.execute("insert into messages (chat_id, user_id, role, content) values (%s, %s, 'user', %s)",
                         (chat, user.id, ("- a\n  - b\n" * 4000)[:30_000] + str(n)))
    token = http.post(f"/v1/chats/{chat}/shares", headers=h, json={}).json()["token"]
    # Two BOM versions of 1,000 parts (the cap), every part replaced in the same designator.
    project = http.post("/v1/projects", headers=h, json={"name": "Heavy"}).json()["id"]
    work = http.post("/v1/chats", headers=h, json={"project_id": project, "is_public": True}).json()["id"]
    parts = [{"name": f"Resistor {i}", "mpn": f"R-{i}", "quantity": 2, "designators": [f"R{i}"],
              "unit_price": "0.01", "specs": {"voltage": "3.3"}} for i in range(1000)]
    bom = http.post(f"/v1/chats/{work}/artifacts", headers=h,
                    json={"type": "bom", "title": "BOM", "content_json": {"parts": parts}}).json()
    assert bom.get("id"), bom
    swapped = [{**p, "mpn": f"C-{i}", "name": f"Capacitor {i}"} for i, p in enumerate(parts)]
    assert http.post(f"/v1/artifacts/{bom['id']}/versions", headers=h,
                     json={"base_version": 1, "content_json": {"parts": swapped}}).status_code == 201
    # 2,000 connections (the cap), and firmware.
    wires = [{"from": {"part": f"R{i % 1000}", "pin": "1"}, "to": {"part": f"R{(i * 7) % 1000}", "pin": "2"},
              "wire_color": "red", "voltage": 3.3} for i in range(2000)]
    assert http.post(f"/v1/chats/{work}/artifacts", headers=h, json={
        "type": "wiring", "title": "Wiring", "content_json": {"connections": wires}}).status_code == 201
    files = [{"filename": f"src/part{i}.cpp", "content": "// x\n" * 2000, "platform": "esp32",
              "board": "esp32dev", "libraries": ["adafruit/Adafruit BME280 Library"]} for i in range(20)]
    assert http.post(f"/v1/chats/{work}/artifacts", headers=h, json={
        "type": "code", "title": "Firmware", "content_json": {"files": files}}).status_code == 201
    # Two 1 MiB texts with every third line changed (difflib alone: 27 s).
    old = "".join(f"line {i} of the firmware notes, long enough to matter\n" for i in range(18000))[:MiB - 1]
    new = "".join(f"line {i} of the firmware notes, long enough to matter\n" if i % 3 else f"changed {i}\n"
                  for i in range(18000))[:MiB - 1]
    doc = http.post(f"/v1/chats/{work}/artifacts", headers=h,
                    json={"type": "document", "title": "Notes", "content_text": old}).json()
    assert http.post(f"/v1/artifacts/{doc['id']}/versions", headers=h,
                     json={"base_version": 1, "content_text": new}).status_code == 201
    # JSON documents of 1 MiB for a structured diff.
    tree = {"rows": [{"i": i, "v": "x" * 20} for i in range(20000)]}
    jdoc = http.post(f"/v1/chats/{work}/artifacts", headers=h,
                     json={"type": "diagram", "title": "Tree", "content_json": tree}).json()
    tree["rows"] = [{"i": i, "v": "y" * 20} for i in range(20000)]
    assert http.post(f"/v1/artifacts/{jdoc['id']}/versions", headers=h,
                     json={"base_version": 1, "content_json": tree}).status_code == 201
    anon: dict[str, str] = {}
    return [
        (f"/share/{token}", anon), (f"/v1/shares/{token}", anon), (f"/v1/chats/{chat}", anon),
        (f"/v1/artifacts/{bom['id']}/diff?from=1&to=2", anon),
        (f"/v1/artifacts/{doc['id']}/diff?from=1&to=2", anon),
        (f"/v1/artifacts/{jdoc['id']}/diff?from=1&to=2", anon),
        ("/v1/search?q=firmware%20notes&limit=100", h), ("/v1/search?q=line&limit=100", anon),
        (f"/v1/projects/{project}/bom.csv?format=jlcpcb", h), (f"/v1/projects/{project}/wiring.yaml", h),
        (f"/v1/projects/{project}/firmware.zip", h), (f"/v1/projects/{project}/checks", h),
        (f"/v1/projects/{project}/bom", h),
    ]


def hammer(base: str, routes: list[tuple[str, dict[str, str]]], offset: int, seconds: float) -> int:
    """Ask for the heavy routes in turn for ``seconds``; how many were answered 200."""
    served = 0
    with httpx.Client(base_url=base, timeout=300) as client:
        deadline = time.monotonic() + seconds
        n = offset
        while time.monotonic() < deadline:
            path, headers = routes[n % len(routes)]
            served += client.get(path, headers=headers).status_code == 200
            n += 1
    return served


def test_healthz_stays_fast_while_the_heaviest_inputs_are_rendered_diffed_searched_and_exported(
        server, app_url, make_user):
    _, base, _ = server
    user = make_user("heavy")
    with httpx.Client(base_url=base, timeout=120) as http:
        routes = heavy_world(http, app_url, user)
        for path, headers in routes:  # each works (and warms the server up)
            response = http.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code, response.text[:200])
    # The heavy requests come from other processes: a thread here parsing a 4 MiB answer would hold this
    # process's interpreter lock and delay the probe's own measurement.
    spawn = multiprocessing.get_context("spawn")
    probes: list[float] = []
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=spawn) as hammers:
        jobs = [hammers.submit(hammer, base, routes, k * 3, 20.0) for k in range(4)]
        with httpx.Client(base_url=base, timeout=30) as probe:
            time.sleep(2)  # the hammers are running
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert probe.get("/healthz").status_code == 200
                probes.append(time.monotonic() - started)
                time.sleep(0.05)
        served = sum(job.result() for job in jobs)
    probes.sort()
    print(f"\n/healthz under load: {len(probes)} probes, p50 {probes[len(probes) // 2] * 1000:.1f} ms, "
          f"p99 {probes[int(len(probes) * 0.99)] * 1000:.1f} ms, max {probes[-1] * 1000:.1f} ms; "
          f"{served} heavy requests served")
    assert served >= len(routes), "the heavy requests ran"
    # A heavy request run on the event loop stalls every probe during it (hundreds of ms each time, so the
    # p95 shows it). Six busy processes on two cores also delay a probe by a scheduler slice now and then:
    # the single worst probe gets that slack (once 117 ms on a machine 3-4x slower than usual).
    p95 = probes[int(len(probes) * 0.95)]
    assert p95 < 0.1, f"/healthz waited {p95 * 1000:.0f} ms (p95) behind the heavy requests"
    assert probes[-1] < 0.25, f"/healthz waited {probes[-1] * 1000:.0f} ms behind the heavy requests"


# --- memory --------------------------------------------------------------------------------------------------


def slow_socket(port: int) -> socket.socket:
    """A client that will never read: a tiny receive window, so what the server sends piles up on its side."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(30)
    return sock


def read_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return head


def ws_reader(port: int, chat_id: uuid.UUID) -> socket.socket:
    sock = slow_socket(port)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /v1/realtime HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert b" 101 " in read_head(sock)
    payload = json.dumps({"type": "subscribe", "chat_id": str(chat_id), "since": 0}).encode()
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


def sse_reader(port: int, chat_id: uuid.UUID) -> socket.socket:
    sock = slow_socket(port)
    sock.sendall(f"GET /v1/chats/{chat_id}/events?since=0 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert b" 200 " in read_head(sock)
    return sock


def load_reader(port: int, chat_id: uuid.UUID) -> socket.socket:
    sock = slow_socket(port)
    sock.sendall(f"GET /v1/chats/{chat_id} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def blob_reader(port: int, path: str) -> socket.socket:
    sock = slow_socket(port)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert b" 200 " in read_head(sock)
    return sock


def test_memory_stays_bounded_with_100_slow_anonymous_readers(server, app_url, make_user):
    """50 WebSocket and 30 SSE subscribers replaying 40 MB from the start, 10 chat loads and 10 downloads of a
    20 MiB datasheet through a signed link: none of them reads."""
    proc, base, port = server
    user = make_user("memory")
    chat = big_chat(app_url, user, messages=40, size=MiB - 64, text="A weather station on the balcony. ")
    process = psutil.Process(proc.pid)
    with httpx.Client(base_url=base, timeout=120) as http:
        page = http.get(f"/v1/chats/{chat}").json()
        assert len(page["messages"]) < 40 and page["next_after_sequence"] is not None, "chat loads are paged"
        http.get(f"/v1/chats/{chat}/messages?after_sequence=0")
        pdf = b"%PDF-1.4\n" + os.urandom(20 * MiB) + b"\n%%EOF\n"
        uploaded = http.post("/v1/attachments", headers=auth(user), data={"category": "datasheet"},
                             files={"file": ("big.pdf", pdf, "application/pdf")})
        assert uploaded.status_code == 201, uploaded.text
        signed = http.get(f"/v1/attachments/{uploaded.json()['id']}/signed-url?ttl=600", headers=auth(user))
        blob = signed.json()["url"].removeprefix(base)
    time.sleep(1)
    before = process.memory_info().rss
    readers: list[socket.socket] = []
    peak = before
    try:
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            makers = [ws_reader] * 50 + [sse_reader] * 30 + [load_reader] * 10
            readers = list(pool.map(lambda make: make(port, chat), makers))
            readers += list(pool.map(lambda _: blob_reader(port, blob), range(10)))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.25)
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/healthz").status_code == 200
    finally:
        for sock in readers:
            sock.close()
    growth = (peak - before) / MiB
    print(f"\nRSS {before / MiB:.0f} MB before, {peak / MiB:.0f} MB at peak with 100 slow readers "
          f"(+{growth:.0f} MB, {growth / 100:.2f} MB per reader)")
    # The bound: 3.5 MB per reader of 1 MiB messages (the frame being sent and its copy in the socket's
    # buffer, a 4 MiB page, a 1 MiB chunk of a file) beside the shared 64 MiB of recent frames.  Before:
    # 25 such readers took 1.05 GB (42 MB each: every subscriber had its own copy of the replay).
    assert growth < 350, f"100 slow readers took {growth:.0f} MB"


def test_replay_is_bounded_and_shared_between_subscribers(user, app_url):
    """In-process: the frames queued for a subscriber stay under its byte bound, a replay goes on as the
    queue drains, and subscribers with the same identity share one frame per event."""
    import asyncio

    from ohm.api.realtime import QUEUE_BYTES, Hub, Subscriber
    from ohm.auth import Identity
    from ohm.db.session import Database

    chat = big_chat(app_url, user, messages=12, size=MiB - 64, text="0123456789")

    async def run() -> None:
        async with Database(app_url, max_size=4) as db:
            hub = Hub(db, app_url)
            first, second = Subscriber(Identity.anon()), Subscriber(Identity.anon())
            await hub.subscribe(first, chat, 0)
            await hub.subscribe(second, chat, 0)
            for sub in (first, second):
                assert sub.queue.bytes <= QUEUE_BYTES // 2 + 2 * MiB and sub.replay_pending == {chat}
            shared = [a is b for (a, _), (b, _) in zip(first.queue.items, second.queue.items, strict=False)
                      if isinstance(a, dict) and a.get("type") == "event"]
            assert shared and all(shared), "the same frame objects, not copies"
            seen = []
            while True:  # drain the first one as a connection would
                item = first.queue.get_nowait() if not first.queue.empty() else None
                if item is None:
                    if not first.replay_pending:
                        break
                    await hub.refill(first)
                    continue
                if item.get("type") == "event":
                    seen.append(item["cursor"])
                assert first.queue.bytes <= QUEUE_BYTES
            assert seen == list(range(1, 13)), "every event once, in order"

    asyncio.run(run())


@pytest.mark.parametrize("stop", ["terminate", "kill"])
def test_worker_processes_go_with_their_server(database_url, tmp_path, make_user, app_url, stop):
    """A worker holds both ends of its job queue, so it never saw the server's end close: every stopped or
    killed server left its workers behind (48 of them, ~90 MB each, after an afternoon of test runs)."""
    port = free_port()
    proc = serve(database_url, port, OHM_DATA_DIR=str(tmp_path), OHM_RATE_LIMIT_PUBLIC_READS="off")
    try:
        user = make_user("workers")
        chat = big_chat(app_url, user, messages=1, size=1000, text="# hello ")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            token = http.post(f"/v1/chats/{chat}/shares", headers=auth(user), json={}).json()["token"]
            assert http.get(f"/share/{token}").status_code == 200  # rendered in a worker
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert workers, "the share page was rendered in a worker process"
    finally:
        getattr(proc, stop)()
        proc.wait(30)
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"{len(alive)} workers outlived their server ({stop})"
