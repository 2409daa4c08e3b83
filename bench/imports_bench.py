"""How fast an export comes in, and that memory stays flat: a generated ChatGPT export (conversations with
regenerations and edits, multi-paragraph text) imported through the library into a fresh database.

The figure is messages per second and the process's peak RSS beside its RSS before the import; the
export's size is reported too (memory must not follow it).  The JSON is written as a stream, so making a
1 GB file does not need 1 GB either.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import psycopg

from ohm.db.session import Database
from ohm.store import imports as import_store

from .env import BenchDatabase
from .harness import RssSampler
from .text import TextGenerator


def write_export(path: Path, conversations: int, messages: int, seed: int = 11) -> int:
    """A ChatGPT ``conversations.json`` with ``messages`` visible messages over ``conversations`` chats:
    questions and answers, every fifth answer regenerated, every seventh question edited."""
    rng = random.Random(seed)
    text = TextGenerator(seed)
    per = max(2, messages // conversations)
    written = 0
    t0 = 1_700_000_000.0
    with path.open("w") as out:
        out.write("[")
        for c in range(conversations):
            mapping: dict[str, Any] = {"root": {"id": "root", "parent": None, "children": [], "message": None}}
            parent, t = "root", t0 + c * 3600
            count = per if c < conversations - 1 else max(2, messages - written)
            n = 0
            while n < count:
                role = "user" if n % 2 == 0 else "assistant"
                node = f"n{n}"
                t += rng.uniform(5, 60)
                mapping[node] = {"id": node, "parent": parent, "children": [], "message": {
                    "id": node, "author": {"role": role, "name": None, "metadata": {}}, "create_time": t,
                    "content": {"content_type": "text", "parts": [text.message()]},
                    "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {}}}
                mapping[parent]["children"].append(node)
                n += 1
                if n < count and n % 5 == 0 and role == "assistant":  # a regeneration beside it
                    alt = f"n{n}b"
                    mapping[alt] = {**mapping[node], "id": alt, "message": {**mapping[node]["message"], "id": alt}}
                    mapping[alt]["children"] = []
                    mapping[parent]["children"].append(alt)
                    n += 1
                parent = node
            written += n
            out.write(("," if c else "") + json.dumps({
                "title": f"Project {c}", "create_time": t0 + c * 3600, "mapping": mapping, "current_node": parent,
                "conversation_id": f"bench-{seed}-{c}", "id": f"bench-{seed}-{c}", "default_model_slug": "gpt-4o"}))
        out.write("]")
    return written


def run(db: BenchDatabase, workdir: Path, conversations: int, messages: int) -> dict[str, Any]:
    path = workdir / "conversations.json"
    started = time.perf_counter()
    generated = write_export(path, conversations, messages)
    made_in = time.perf_counter() - started
    user = db.new_user("importer")
    with psycopg.connect(db.admin_url) as conn:  # room for a large history
        conn.execute("update ohm.limits set value = %s where name = 'messages_per_user'", (messages * 2,))

    async def go() -> Any:
        async with Database(db.app_url, min_size=1, max_size=2) as pool:
            job = await import_store.create_job(pool, user, "chatgpt", path.name, path.stat().st_size)
            return await import_store.run_import(pool, job.id, user, path, "chatgpt")

    with RssSampler() as rss:
        before = rss.peak_mb
        started = time.perf_counter()
        job = asyncio.run(go())
        seconds = time.perf_counter() - started
    return {"conversations": conversations, "messages_generated": generated, "export_mb": round(
        path.stat().st_size / 2**20, 1), "generated_s": round(made_in, 1), "status": job.status,
        "chats_created": job.chats_created, "chats_failed": job.chats_failed, "messages": job.messages,
        "seconds": round(seconds, 1), "messages_per_s": round(job.messages / seconds, 1),
        "rss_before_mb": before, "peak_rss_mb": rss.peak_mb}
