"""Search latency on a scaled database, beside an unscoped GIN query and an ILIKE scan.

A user with about 10,000 messages searches for common words, rare words,
identifiers and phrases through the OHM library (as that user, RLS on).
Baselines in the same run, as the owner: the same full-text match over
everyone's messages (what an index on the vector alone gives), and ILIKE over
the user's own messages (what a search without full text does).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import psycopg

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.store.search import search

from .env import BenchDatabase
from .harness import Stats, summarise

QUERIES = {
    "common word": "sensor",
    "common words": "power supply",
    "rare word": "watchdog",
    "identifier": "BME280",
    "dotted identifier": "U1.VCC",
    "hyphenated identifier": "ESP32-WROOM-32",
    "value": "0.1uF",
    "phrase": '"deep sleep"',
}


def pick_user(db: BenchDatabase, target: int = 10_000) -> tuple[uuid.UUID, int]:
    with psycopg.connect(db.admin_url) as conn:
        return conn.execute("select user_id, message_count from profile_totals "
                            "order by abs(message_count - %s) limit 1", (target,)).fetchone()


def _ilike_pattern(query: str) -> str:
    return "%" + query.strip('"').split()[0] + "%"


async def run_search(db: BenchDatabase, runs: int) -> list[Stats]:
    user, count = pick_user(db)
    identity = Identity.user(user)
    results: list[Stats] = []
    async with Database(db.app_url, min_size=1, max_size=1) as pool, \
            await psycopg.AsyncConnection.connect(db.admin_url, autocommit=True) as owner:
        await owner.execute("set statement_timeout = '60s'")
        for label, query in QUERIES.items():
            for target, op in (
                ("OHM library (scoped)", lambda q=query: search(pool, identity, q, types=["messages"])),
                ("unscoped GIN", lambda q=query: owner.execute(
                    "select id from messages where content_search @@ websearch_to_tsquery('pg_catalog.english', %s) "
                    "order by ts_rank(content_search, websearch_to_tsquery('pg_catalog.english', %s)) desc "
                    "limit 20", (q, q))),
                ("ILIKE scan (scoped)", lambda q=query: owner.execute(
                    # every match (a ranked page needs them all), newest first
                    "select id from messages where user_id = %s and content ilike %s "
                    "order by created_at desc", (user, _ilike_pattern(q)))),
            ):
                n = runs if target != "unscoped GIN" else max(3, runs // 10)
                await op()  # warm
                latencies = []
                began = time.perf_counter()
                for _ in range(n):
                    t0 = time.perf_counter()
                    cur = await op()
                    if hasattr(cur, "fetchall"):
                        await cur.fetchall()
                    latencies.append(time.perf_counter() - t0)
                results.append(summarise("search", target, latencies, time.perf_counter() - began, 1,
                                         query=label, q=query, user_messages=count))
    return results


def run(db: BenchDatabase, runs: int = 50) -> list[Stats]:
    return asyncio.run(run_search(db, runs))
