"""Commit -> subscriber latency over WebSocket with 1, 100 and 1,000 subscribers on one server process.

Messages are written straight into PostgreSQL (one transaction each); the
clock starts when COMMIT returns and stops when a subscriber has the event.
The next message is written once every subscriber has the previous one, so
the figure is the fan-out time of one event, not a queue building up (the
load generator shares the machine's two cores with the server and
PostgreSQL).  Memory per subscriber is the server's RSS growth divided by the
number of subscribers.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import psutil
import psycopg
import websockets

from .env import BenchDatabase, ServerProcess, token_for
from .harness import Stats, summarise

MESSAGES = 100
GAP_SECONDS = 0.02


async def _one_level(db: BenchDatabase, server: ServerProcess, subscribers: int, messages: int) -> Stats:
    user = db.new_user()
    chat = db.new_chat(user)
    token = token_for(user)
    url = server.base_url.replace("http://", "ws://") + f"/v1/realtime?token={token}"
    process = psutil.Process(server.pid)
    rss_before = process.memory_info().rss
    received: dict[int, list[float]] = {}
    connections = []
    for _ in range(subscribers):
        ws = await websockets.connect(url, max_queue=None, open_timeout=60)
        await ws.send(json.dumps({"type": "subscribe", "chat_id": str(chat)}))
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass
        connections.append(ws)
    await asyncio.sleep(0.5)
    rss_after = process.memory_info().rss

    arrivals: list[tuple[float, str]] = []
    done = asyncio.Event()
    expected = subscribers

    async def listen(ws) -> None:
        for _ in range(messages):
            text = await ws.recv()
            arrivals.append((time.perf_counter(), text))  # parsed later: keep the receive path short
            if len(arrivals) >= expected:
                done.set()

    listeners = [asyncio.create_task(listen(ws)) for ws in connections]
    committed: dict[int, float] = {}
    async with await psycopg.AsyncConnection.connect(db.admin_url, autocommit=True) as conn:
        for i in range(1, messages + 1):
            done.clear()
            expected = i * subscribers
            await conn.execute(
                "insert into messages (chat_id, user_id, role, content) values (%s, %s, 'assistant', %s)",
                (chat, user, f"event {i}"))
            committed[i] = time.perf_counter()
            await asyncio.wait_for(done.wait(), 120)
            await asyncio.sleep(GAP_SECONDS)
    began = min(committed.values())
    await asyncio.wait_for(asyncio.gather(*listeners), 300)
    for at, text in arrivals:
        received.setdefault(json.loads(text)["cursor"], []).append(at)
    wall = max(max(v) for v in received.values()) - began
    for ws in connections:
        await ws.close()
    latencies = [t - committed[cursor] for cursor, times in received.items() for t in times]
    # How one event spreads: when its first and its last subscriber had it.
    first = statistics.median(min(times) - committed[c] for c, times in received.items()) * 1000
    last = statistics.median(max(times) - committed[c] for c, times in received.items()) * 1000
    stats = summarise("realtime", "WebSocket", latencies, wall, subscribers, subscribers=subscribers,
                      events=messages, first_p50_ms=round(first, 3), last_p50_ms=round(last, 3),
                      rss_per_subscriber_kb=round((rss_after - rss_before) / subscribers / 1024, 1))
    stats.peak_rss_mb = round(process.memory_info().rss / 2**20, 1)
    return stats


async def run_levels(db: BenchDatabase, server: ServerProcess, levels: tuple[int, ...], messages: int) -> list[Stats]:
    return [await _one_level(db, server, n, messages) for n in levels]


def run(db: BenchDatabase, levels: tuple[int, ...] = (1, 100, 1000), messages: int = MESSAGES) -> list[Stats]:
    server = ServerProcess(db, pool_max=10)
    try:
        return asyncio.run(run_levels(db, server, levels, messages))
    finally:
        server.stop()

