"""Would partitioning ``messages`` help OHM's access paths? (``python -m bench partitions``)

On a scaled database (``python -m bench scale``), the messages of a sample of users are copied three
ways into a scratch schema, with the indexes OHM's queries use:

- ``flat``: one table (today's layout, the baseline; freshly copied like the others);
- ``by_chat``: hash-partitioned on ``chat_id`` (16 partitions);
- ``by_month``: range-partitioned on ``created_at``, a partition per month.

Then each of OHM's message access paths runs against each layout (same random keys, median of the
runs, plans cached as the app's prepared statements are): a chat's branch page, a message by id, a
user's recent messages, a user's full-text search, and a user's usage over one month.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

import psycopg
from psycopg import sql

SCHEMA = "partition_study"
COLUMNS = "id, chat_id, user_id, parent_id, sequence_number, role, agent_name, cost_usd, created_at, content_search"

QUERIES: dict[str, str] = {
    "chat page (100 by sequence)": "select id, sequence_number from {t} where chat_id = %(chat)s "
                                   "order by sequence_number limit 100",
    "message by id": "select id, chat_id from {t} where id = %(message)s",
    "user's 50 newest": "select id from {t} where user_id = %(user)s order by created_at desc limit 50",
    "user's search (20)": "select id from {t} where user_id = %(user)s and content_search @@ "
                          "websearch_to_tsquery('english', %(word)s) limit 20",
    "user's usage, one month": "select agent_name, count(*), sum(cost_usd) from {t} where user_id = %(user)s "
                               "and created_at >= %(month)s and created_at < %(month)s::timestamptz + "
                               "interval '1 month' group by 1",
}


def _build(conn: psycopg.Connection[Any], share: float) -> dict[str, int]:
    conn.execute(f"drop schema if exists {SCHEMA} cascade")
    conn.execute(f"create schema {SCHEMA}")
    conn.execute(f"""create table {SCHEMA}.sample_users as
                       select id from public.profiles where random() < %s""", (share,))
    conn.execute(f"create table {SCHEMA}.flat as select {COLUMNS} from public.messages m "
                 f"where m.user_id in (select id from {SCHEMA}.sample_users)")
    conn.execute(f"create table {SCHEMA}.by_chat (like {SCHEMA}.flat) partition by hash (chat_id)")
    for i in range(16):
        conn.execute(f"create table {SCHEMA}.by_chat_{i} partition of {SCHEMA}.by_chat "
                     f"for values with (modulus 16, remainder {i})")
    conn.execute(f"create table {SCHEMA}.by_month (like {SCHEMA}.flat) partition by range (created_at)")
    low, high = conn.execute(f"select date_trunc('month', min(created_at)), max(created_at) from {SCHEMA}.flat"
                             ).fetchone()  # type: ignore[misc]
    months = 0
    while low <= high:
        upper = conn.execute("select %s::timestamptz + interval '1 month'", (low,)).fetchone()[0]  # type: ignore[index]
        conn.execute(sql.SQL("create table {} partition of {} for values from ({}) to ({})").format(
            sql.Identifier(SCHEMA, f"by_month_{months}"), sql.Identifier(SCHEMA, "by_month"), sql.Literal(low),
            sql.Literal(upper)))
        low = upper
        months += 1
    for table in ("by_chat", "by_month"):
        conn.execute(f"insert into {SCHEMA}.{table} select * from {SCHEMA}.flat")
    for table in ("flat", "by_chat", "by_month"):
        conn.execute(f"create index on {SCHEMA}.{table} (chat_id, sequence_number)")
        conn.execute(f"create index on {SCHEMA}.{table} (id)")
        conn.execute(f"create index on {SCHEMA}.{table} (user_id, created_at desc)")
        conn.execute(f"create index on {SCHEMA}.{table} using gin (user_id, content_search)")
        conn.execute(f"analyze {SCHEMA}.{table}")
    rows = conn.execute(f"select count(*) from {SCHEMA}.flat").fetchone()[0]  # type: ignore[index]
    return {"messages": rows, "months": months}


def _keys(conn: psycopg.Connection[Any], n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = conn.execute(f"""select m.id, m.chat_id, m.user_id, date_trunc('month', m.created_at) as month
                              from {SCHEMA}.flat m order by random() limit %s""", (n,)).fetchall()
    words = ["sensor", "voltage", "GPIO21", "regulator", "battery", "ESP32", "resistor", "firmware"]
    return [{"message": r[0], "chat": r[1], "user": r[2], "month": r[3], "word": rng.choice(words)}
            for r in rows]


def run(url: str, *, share: float = 0.2, runs: int = 200, seed: int = 7, keep: bool = False) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set maintenance_work_mem = '256MB'")
        started = time.monotonic()
        built = _build(conn, share)
        built["build_seconds"] = round(time.monotonic() - started, 1)
        keys = _keys(conn, runs, seed)
        conn.execute("set jit = off")
        results: dict[str, dict[str, float]] = {}
        for name, template in QUERIES.items():
            results[name] = {}
            for table in ("flat", "by_chat", "by_month"):
                query = template.format(t=f"{SCHEMA}.{table}")
                for k in keys[:20]:  # warm the caches and the prepared plan
                    conn.execute(query, k, prepare=True).fetchall()
                times = []
                for k in keys:
                    t0 = time.perf_counter()
                    conn.execute(query, k, prepare=True).fetchall()
                    times.append(time.perf_counter() - t0)
                results[name][table] = round(statistics.median(times) * 1000, 3)
        if not keep:
            conn.execute(f"drop schema {SCHEMA} cascade")
    return {"built": built, "runs": runs, "p50_ms": results}


def table(result: dict[str, Any]) -> str:
    built = result["built"]
    lines = [f"{built['messages']:,} messages of a sample of users, {built['months']} months; median of "
             f"{result['runs']} runs, ms (ratio to flat):", "",
             "| access path | flat | by chat (hash, 16) | by month (range) |", "| --- | --- | --- | --- |"]
    for name, row in result["p50_ms"].items():
        flat = row["flat"]
        lines.append(f"| {name} | {flat:.3f} | {row['by_chat']:.3f} ({row['by_chat'] / flat:.2f}) | "
                     f"{row['by_month']:.3f} ({row['by_month'] / flat:.2f}) |")
    return "\n".join(lines)
