"""The four measurements of docs/benchmarks.md, each with its baselines from the same run.

1. append    one message per transaction, 1 and 8 writers (each on its own chat):
             OHM library, OHM over HTTP, raw psycopg (the limit), langchain-postgres
2. length    time per append at message #10, #1,000, #10,000 of one chat, beside a
             blob-per-chat store (the whole chat one JSONB document, read and rewritten)
3. load      a 1,000-message chat with artifacts: library, HTTP, raw SELECT, langchain-postgres
4. list      a user with 10,000 chats: first page and a deep page (keyset)
"""

from __future__ import annotations

import asyncio
import gc
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ohm.auth import Identity
from ohm.client import AsyncOhmClient
from ohm.db.session import Database
from ohm.models import MessageCreate
from ohm.store import chats as chat_store
from ohm.store import messages as message_store
from ohm.store._common import encode_cursor

from .env import BenchDatabase, ServerProcess, token_for
from .harness import RssSampler, Stats, run_workers, summarise
from .text import TextGenerator


@dataclass
class Sizes:
    append_ops: int = 1000         # per concurrency level, split across writers
    length_points: tuple[int, ...] = (10, 1_000, 10_000)
    length_ops: int = 300
    load_messages: int = 1_000
    load_ops: int = 200
    list_chats: int = 10_000
    list_ops: int = 200
    agent_ops: int = 120           # per writer and round
    warmup: int = 10

    @classmethod
    def quick(cls) -> Sizes:
        return cls(append_ops=16, length_points=(10, 50), length_ops=5, load_messages=40, load_ops=5,
                   list_chats=120, list_ops=5, agent_ops=3, warmup=1)


RAW_APPEND = """
insert into messages (chat_id, user_id, parent_id, role, content, agent_name, agent_model, intent,
                      input_tokens, output_tokens)
values (%s, %s, %s, 'assistant', %s, 'bomGenerator', 'openai/o1', 'BOM', 900, 300)
returning id, sequence_number
"""


def _merge(parts: list[Stats]) -> Stats:
    """Rounds of one measurement as one: ops and seconds add up, latencies weighted by ops."""
    first = parts[0]
    ops = sum(p.ops for p in parts)
    seconds = sum(p.seconds for p in parts)

    def weighted(field: str) -> float:
        return round(sum(getattr(p, field) * p.ops for p in parts) / ops, 3)

    return Stats(name=first.name, target=first.target, ops=ops, concurrency=first.concurrency,
                 seconds=round(seconds, 4), throughput=round(ops / seconds, 1), p50_ms=weighted("p50_ms"),
                 p95_ms=weighted("p95_ms"), p99_ms=max(p.p99_ms for p in parts), mean_ms=weighted("mean_ms"),
                 peak_rss_mb=max((p.peak_rss_mb or 0) for p in parts) or None,
                 extra={**first.extra, "rounds": len(parts)})


class Bench:
    def __init__(self, db: BenchDatabase, server: ServerProcess, sizes: Sizes, seed: int = 1) -> None:
        self.db = db
        self.server = server
        self.servers = {1: server}
        self.sizes = sizes
        self.text = TextGenerator(seed)
        self.results: list[Stats] = []

    def record(self, stats: Stats) -> Stats:
        self.results.append(stats)
        return stats

    # --- 1. append ----------------------------------------------------------------------------

    async def append(self) -> None:
        """Each target in turn, in several rounds with the order rotated, so that drift on a shared
        machine (autovacuum, caches, neighbours) spreads over all targets instead of one."""
        targets = ["raw", "library", "http", "http2", "wrk", "wrk2", "langchain", "ohm_langchain"]
        rounds = 3
        for concurrency in (1, 8):
            per_writer = max(1, self.sizes.append_ops // concurrency // rounds)
            collected: dict[str, list[Stats]] = {}
            for r in range(rounds):
                for target in targets[r % len(targets):] + targets[:r % len(targets)]:
                    before = len(self.results)
                    await getattr(self, f"_append_{target}")(concurrency, per_writer)
                    collected.setdefault(target, []).extend(self.results[before:])
                    del self.results[before:]
            for target in targets:
                if collected.get(target):
                    self.record(_merge(collected[target]))

    async def _append_wrk2(self, concurrency: int, per_writer: int) -> None:
        """The same with `ohm serve --workers 2`."""
        if 2 not in self.servers:
            self.servers[2] = ServerProcess(self.db, workers=2)
        await self._append_wrk(concurrency, per_writer, workers=2)

    async def _append_wrk(self, concurrency: int, per_writer: int, workers: int = 1) -> None:
        """The HTTP server alone: the load comes from wrk (C), not from a Python client on the same cores."""
        import shutil

        if shutil.which("wrk") is None:
            return
        from .wrk import run_wrk

        server = self.servers[workers]

        pairs = self._writers_chats(concurrency)
        user = pairs[0][0]
        # All writers as one user on that user's chats, so one token serves every connection.
        chats = [self.db.new_chat(user) for _ in range(concurrency)]
        bodies = [json.dumps({"role": "assistant", "content": self.text.message(), "intent": "BOM",
                              "agent": {"name": "bomGenerator", "model": "openai/o1"},
                              "usage": {"input_tokens": 900, "output_tokens": 300}}) for _ in range(50)]
        with RssSampler(server.pid) as rss:
            result = await asyncio.to_thread(run_wrk, server.base_url, token_for(user), chats, bodies,
                                             concurrency, seconds=1 if self.sizes.append_ops < 100 else 3)
        name = "OHM HTTP (wrk load)" if workers == 1 else f"OHM HTTP, {workers} workers (wrk load)"
        stats = self.record(Stats(name="append", target=name, ops=result["requests"],
                                  concurrency=concurrency, seconds=result["seconds"],
                                  throughput=round(result["requests"] / result["seconds"], 1),
                                  p50_ms=result["p50_ms"], p95_ms=result["p90_ms"], p99_ms=result["p99_ms"],
                                  mean_ms=result["mean_ms"], extra={"note": "p95 column is wrk's p90",
                                                                    "errors": result["errors"]}))
        stats.peak_rss_mb = rss.peak_mb


    async def _append_http2(self, concurrency: int, per_writer: int) -> None:
        """The same over HTTP with `ohm serve --workers 2`."""
        if 2 not in self.servers:
            self.servers[2] = ServerProcess(self.db, workers=2)
        await self._append_http(concurrency, per_writer, workers=2)

    def _writers_chats(self, concurrency: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        out = []
        for _ in range(concurrency):
            user = self.db.new_user()
            out.append((user, self.db.new_chat(user)))
        return out

    async def _append_raw(self, concurrency: int, per_writer: int) -> None:
        pairs = self._writers_chats(concurrency)
        async with AsyncConnectionPool(self.db.admin_url, min_size=concurrency, max_size=concurrency,
                                       kwargs={"autocommit": True}, open=False) as pool:
            await pool.wait()

            def writer(user_id: uuid.UUID, chat_id: uuid.UUID):
                last: list[Any] = [None]

                async def op(_: int) -> None:
                    # One statement, its own transaction: the fewest round trips a write can take.
                    async with pool.connection() as conn:
                        cur = await conn.execute(RAW_APPEND, (chat_id, user_id, last[0], self.text.message()))
                        last[0] = (await cur.fetchone())[0]
                return op

            with RssSampler() as rss:
                lat, wall = await run_workers([writer(u, c) for u, c in pairs], per_writer, self.sizes.warmup)
        stats = self.record(summarise("append", "raw psycopg", lat, wall, concurrency))
        stats.peak_rss_mb = rss.peak_mb

    async def _append_library(self, concurrency: int, per_writer: int) -> None:
        stats = await self._library_writers(self._writers_chats(concurrency), per_writer)
        self.record(stats)

    async def _library_writers(self, pairs: list[tuple[uuid.UUID, uuid.UUID]], per_writer: int,
                               target: str = "OHM library", **extra: Any) -> Stats:
        """One library writer per (user, chat) pair, all at once; the pairs say who shares what."""
        concurrency = len(pairs)
        async with Database(self.db.app_url, min_size=concurrency, max_size=concurrency) as db:
            def writer(user_id: uuid.UUID, chat_id: uuid.UUID):
                identity = Identity.user(user_id)

                async def op(_: int) -> None:
                    await message_store.append_message(db, identity, chat_id, MessageCreate(
                        role="assistant", content=self.text.message(),
                        agent={"name": "bomGenerator", "model": "openai/o1"}, intent="BOM",
                        usage={"input_tokens": 900, "output_tokens": 300}))
                return op

            with RssSampler() as rss:
                lat, wall = await run_workers([writer(u, c) for u, c in pairs], per_writer, self.sizes.warmup)
        stats = summarise(extra.pop("name", "append"), target, lat, wall, concurrency, **extra)
        stats.peak_rss_mb = rss.peak_mb
        return stats

    # --- 1c. an API key against a JWT ------------------------------------------------------------

    async def keys(self) -> None:
        """The same requests with a user's JWT and with one of the user's API keys (wrk, 8 connections, three
        rounds with the order rotated): an append (``ohm.append_message`` checks the key) and a read of a
        chat's last 20 messages (the transaction starts with ``ohm.use_api_key``)."""
        import shutil

        if shutil.which("wrk") is None:
            return
        from ohm import keys as key_format

        from .wrk import run_wrk

        user = self.db.new_user()
        chats = [self.db.new_chat(user) for _ in range(8)]
        for chat in chats:
            self.db.prefill_messages(chat, user, 20, self.text)
        secret, prefix, digest = key_format.new_key()
        with psycopg.connect(self.db.admin_url) as conn:
            conn.execute("insert into api_keys (user_id, name, prefix, secret_sha256, scopes) "
                         "values (%s, 'bench', %s, %s, '{*}')", (user, prefix, digest))
        credentials = {"JWT": token_for(user), "API key": secret}
        bodies = [json.dumps({"role": "assistant", "content": self.text.message(), "intent": "BOM",
                              "agent": {"name": "bomGenerator", "model": "openai/o1"},
                              "usage": {"input_tokens": 900, "output_tokens": 300}}) for _ in range(50)]
        paths = [f"/v1/chats/{chat}/messages?limit=20" for chat in chats]
        seconds = 1 if self.sizes.append_ops < 100 else 3
        order = [(op, who) for op in ("append", "read") for who in credentials]
        collected: dict[tuple[str, str], list[Stats]] = {}
        for r in range(3):
            for op, who in order[r:] + order[:r]:
                result = await asyncio.to_thread(run_wrk, self.server.base_url, credentials[who], chats, bodies, 8,
                                                 seconds, paths if op == "read" else None)
                collected.setdefault((op, who), []).append(Stats(
                    name="keys", target=f"OHM HTTP, {who}", ops=result["requests"], concurrency=8,
                    seconds=result["seconds"], throughput=round(result["requests"] / result["seconds"], 1),
                    p50_ms=result["p50_ms"], p95_ms=result["p90_ms"], p99_ms=result["p99_ms"],
                    mean_ms=result["mean_ms"], extra={"op": op, "note": "p95 column is wrk's p90"}))
        for runs in collected.values():
            self.record(_merge(runs))

    # --- 1b. many agents, one user --------------------------------------------------------------

    AGENT_SHAPES = {
        "8 users, 8 chats": (8, 8, 8),       # writers, users, chats
        "1 user, 8 chats": (8, 1, 8),
        "1 user, 1 chat": (8, 1, 1),
        "1 writer, 1 chat": (1, 1, 1),
    }

    async def agents(self) -> None:
        """The design's core case: one maker, many agents writing at once, through the library.
        Each shape beside the others in rotated rounds (120 appends per writer per round)."""
        rounds = 3
        per_writer = max(2, self.sizes.agent_ops)
        shapes = list(self.AGENT_SHAPES)
        collected: dict[str, list[Stats]] = {}
        for r in range(rounds):
            for shape in shapes[r:] + shapes[:r]:
                writers, users, chats = self.AGENT_SHAPES[shape]
                user_ids = [self.db.new_user("agent") for _ in range(users)]
                chat_ids = [self.db.new_chat(user_ids[i % users]) for i in range(chats)]
                pairs = [(user_ids[i % users], chat_ids[i % chats]) for i in range(writers)]
                collected.setdefault(shape, []).append(await self._library_writers(
                    pairs, per_writer, target="OHM library", name="agents", shape=shape))
        for shape in shapes:
            self.record(_merge(collected[shape]))

    async def _append_http(self, concurrency: int, per_writer: int, workers: int = 1) -> None:
        server = self.servers[workers]
        pairs = self._writers_chats(concurrency)
        clients = [AsyncOhmClient(server.base_url, token=token_for(u), timeout=120) for u, _ in pairs]
        try:
            def writer(client: AsyncOhmClient, chat_id: uuid.UUID):
                async def op(_: int) -> None:
                    await client.post_message(chat_id, "assistant", self.text.message(),
                                              agent={"name": "bomGenerator", "model": "openai/o1"}, intent="BOM",
                                              usage={"input_tokens": 900, "output_tokens": 300})
                return op

            with RssSampler(server.pid) as rss:
                lat, wall = await run_workers([writer(cl, c) for cl, (_, c) in zip(clients, pairs, strict=True)],
                                              per_writer, self.sizes.warmup)
        finally:
            for client in clients:
                await client.aclose()
        name = "OHM HTTP" if workers == 1 else f"OHM HTTP, {workers} workers"
        stats = self.record(summarise("append", name, lat, wall, concurrency))
        stats.peak_rss_mb = rss.peak_mb

    async def _append_langchain(self, concurrency: int, per_writer: int) -> None:
        from langchain_core.messages import AIMessage
        from langchain_postgres import PostgresChatMessageHistory

        table = "langchain_chat_history"
        with psycopg.connect(self.db.admin_url) as conn:
            PostgresChatMessageHistory.create_tables(conn, table)
        conns = [await psycopg.AsyncConnection.connect(self.db.admin_url) for _ in range(concurrency)]
        try:
            def writer(conn: psycopg.AsyncConnection):
                history = PostgresChatMessageHistory(table, str(uuid.uuid4()), async_connection=conn)

                async def op(_: int) -> None:
                    await history.aadd_messages([AIMessage(content=self.text.message())])
                return op

            with RssSampler() as rss:
                lat, wall = await run_workers([writer(c) for c in conns], per_writer, self.sizes.warmup)
        finally:
            for conn in conns:
                await conn.close()
        stats = self.record(summarise("append", "langchain-postgres", lat, wall, concurrency))
        stats.peak_rss_mb = rss.peak_mb

    async def _append_ohm_langchain(self, concurrency: int, per_writer: int) -> None:
        """The same AI message through OHM's LangChain history (ohm.integrations.langchain, the library)."""
        from langchain_core.messages import AIMessage

        from ohm.integrations.langchain import OhmChatMessageHistory

        pairs = self._writers_chats(concurrency)
        async with Database(self.db.app_url, min_size=concurrency, max_size=concurrency) as db:
            def writer(user_id: uuid.UUID, chat_id: uuid.UUID):
                history = OhmChatMessageHistory(chat_id, db=db, identity=Identity.user(user_id),
                                                agent_name="bomGenerator")

                async def op(_: int) -> None:
                    await history.aadd_messages([AIMessage(
                        content=self.text.message(), response_metadata={"model_name": "openai/o1"},
                        usage_metadata={"input_tokens": 900, "output_tokens": 300, "total_tokens": 1200})])
                return op

            with RssSampler() as rss:
                lat, wall = await run_workers([writer(u, c) for u, c in pairs], per_writer, self.sizes.warmup)
        stats = self.record(summarise("append", "OHM LangChain history", lat, wall, concurrency))
        stats.peak_rss_mb = rss.peak_mb

    # --- 2. append cost vs chat length ---------------------------------------------------------------

    async def length(self) -> None:
        with psycopg.connect(self.db.admin_url, autocommit=True) as conn:
            conn.execute("create table if not exists bench_blob_chats (id uuid primary key, doc jsonb not null)")
        chats = []
        for position in self.sizes.length_points:
            user = self.db.new_user()
            chat = self.db.new_chat(user)
            self.db.prefill_messages(chat, user, position - 1, self.text)
            chats.append((position, user, chat))
        # OHM first at every length, then the blob store: its megabytes of WAL per append
        # must not land in the middle of OHM's measurements.
        self.db.settle()
        async with Database(self.db.app_url, min_size=1, max_size=2) as db:
            for position, user, chat in chats:
                identity = Identity.user(user)

                async def ohm_op(_: int, chat=chat, identity=identity) -> None:
                    await message_store.append_message(db, identity, chat, MessageCreate(
                        role="assistant", content=self.text.message()))

                lat, wall = await run_workers([ohm_op], self.sizes.length_ops, self.sizes.warmup)
                self.record(summarise("length", "OHM library", lat, wall, 1, at_message=position))
        async with await psycopg.AsyncConnection.connect(self.db.admin_url, autocommit=True) as blob_conn:
            for position, _, _ in chats:
                blob_id = uuid.uuid4()
                doc = [{"role": "user", "content": self.text.message()} for _ in range(position - 1)]
                await blob_conn.execute("insert into bench_blob_chats values (%s, %s::jsonb)",
                                        (blob_id, json.dumps(doc)))

                async def blob_op(_: int, blob_id=blob_id) -> None:
                    async with blob_conn.transaction():
                        cur = await blob_conn.execute("select doc from bench_blob_chats where id = %s for update",
                                                      (blob_id,))
                        messages = (await cur.fetchone())[0]
                        messages.append({"role": "assistant", "content": self.text.message()})
                        await blob_conn.execute("update bench_blob_chats set doc = %s::jsonb where id = %s",
                                                (json.dumps(messages), blob_id))

                lat, wall = await run_workers([blob_op], self.sizes.length_ops)
                self.record(summarise("length", "blob-per-chat JSONB", lat, wall, 1, at_message=position))

    # --- 3. load a chat --------------------------------------------------------------------------------

    async def load(self) -> None:
        n = self.sizes.load_messages
        user = self.db.new_user()
        chat = self.db.new_chat(user)
        self.db.prefill_messages(chat, user, n, self.text)
        self.db.add_artifacts(chat, user, count=3, versions=3, text=self.text)
        identity = Identity.user(user)
        ops = self.sizes.load_ops

        async with AsyncConnectionPool(self.db.admin_url, min_size=1, max_size=1, open=False) as pool:
            await pool.wait()

            async def raw_op(_: int) -> None:
                async with pool.connection() as conn, conn.transaction():
                    async with conn.pipeline():
                        c1 = await conn.execute("select * from chats where id = %s", (chat,))
                        c2 = await conn.execute(
                            "select id, parent_id, sequence_number, role, content, content_json, agent_name, "
                            "agent_model, agent_icon, intent, input_tokens, output_tokens, cost_usd, latency_ms, "
                            "metadata, created_at from messages where chat_id = %s order by sequence_number",
                            (chat,))
                        c3 = await conn.execute(
                            "select a.*, v.content_text, v.content_json, v.change_summary from artifacts a "
                            "left join artifact_versions v on v.artifact_id = a.id "
                            "and v.version_number = a.current_version where a.chat_id = %s", (chat,))
                    await c1.fetchone()
                    rows = await c2.fetchall()
                    await c3.fetchall()
                    assert len(rows) == n

            with RssSampler() as rss:
                lat, wall = await run_workers([raw_op], ops, self.sizes.warmup)
            stats = self.record(summarise("load", "raw psycopg", lat, wall, 1, messages=n))
            stats.peak_rss_mb = rss.peak_mb

        async with Database(self.db.app_url, min_size=1, max_size=1) as db:
            async def lib_op(_: int) -> None:
                detail = await chat_store.get_chat(db, identity, chat)
                assert len(detail.messages) == n

            with RssSampler() as rss:
                lat, wall = await run_workers([lib_op], ops, self.sizes.warmup)
            stats = self.record(summarise("load", "OHM library", lat, wall, 1, messages=n))
            stats.peak_rss_mb = rss.peak_mb

        headers = {"Authorization": f"Bearer {token_for(user)}"}
        async with httpx.AsyncClient(base_url=self.server.base_url, headers=headers, timeout=60) as http:
            size = [0]

            async def http_op(_: int) -> None:
                response = await http.get(f"/v1/chats/{chat}")
                response.raise_for_status()
                size[0] = len(response.content)

            with RssSampler(self.server.pid) as rss:
                lat, wall = await run_workers([http_op], ops, self.sizes.warmup)
            stats = self.record(summarise("load", "OHM HTTP", lat, wall, 1, messages=n, response_bytes=size[0]))
            stats.peak_rss_mb = rss.peak_mb

        from langchain_core.messages import AIMessage, HumanMessage
        from langchain_postgres import PostgresChatMessageHistory

        table = "langchain_chat_history"
        with psycopg.connect(self.db.admin_url) as conn:
            PostgresChatMessageHistory.create_tables(conn, table)
            history = PostgresChatMessageHistory(table, str(uuid.uuid4()), sync_connection=conn)
            history.add_messages([(AIMessage if i % 2 else HumanMessage)(content=self.text.message())
                                  for i in range(n)])
            session = history._session_id
        async with await psycopg.AsyncConnection.connect(self.db.admin_url) as conn:
            history = PostgresChatMessageHistory(table, session, async_connection=conn)

            async def lc_op(_: int) -> None:
                assert len(await history.aget_messages()) == n

            lat, wall = await run_workers([lc_op], ops, self.sizes.warmup)
            self.record(summarise("load", "langchain-postgres", lat, wall, 1, messages=n))

    # --- 4. list chats -----------------------------------------------------------------------------

    async def listing(self) -> None:
        n = self.sizes.list_chats
        user = self.db.new_user()
        self.db.prefill_chats(user, n)
        identity = Identity.user(user)
        deep = int(n * 0.9)
        with psycopg.connect(self.db.admin_url, row_factory=dict_row) as conn:
            row = conn.execute(
                "select last_message_at, id from chats where user_id = %s and not is_archived "
                "order by last_message_at desc, id desc offset %s limit 1", (user, deep - 1)).fetchone()
        deep_cursor = encode_cursor(row["last_message_at"].isoformat(), row["id"])
        ops = self.sizes.list_ops
        headers = {"Authorization": f"Bearer {token_for(user)}"}
        for page, cursor in (("first page", None), (f"page at chat {deep:,}", deep_cursor)):
            async with AsyncConnectionPool(self.db.admin_url, min_size=1, max_size=1, open=False) as pool:
                await pool.wait()

                async def raw_op(_: int, cursor=cursor) -> None:
                    async with pool.connection() as conn:
                        if cursor is None:
                            cur = await conn.execute(
                                "select * from chats where user_id = %s and not is_archived "
                                "order by last_message_at desc, id desc limit 51", (user,))
                        else:
                            cur = await conn.execute(
                                "select * from chats where user_id = %s and not is_archived "
                                "and (last_message_at, id) < (%s, %s) order by last_message_at desc, id desc "
                                "limit 51", (user, row["last_message_at"], row["id"]))
                        assert len(await cur.fetchall()) > 0

                lat, wall = await run_workers([raw_op], ops, self.sizes.warmup)
                self.record(summarise("list", "raw psycopg", lat, wall, 1, page=page, chats=n))

            async with Database(self.db.app_url, min_size=1, max_size=1) as db:
                async def lib_op(_: int, cursor=cursor) -> None:
                    assert (await chat_store.list_chats(db, identity, cursor=cursor)).items

                lat, wall = await run_workers([lib_op], ops, self.sizes.warmup)
                self.record(summarise("list", "OHM library", lat, wall, 1, page=page, chats=n))

            async with httpx.AsyncClient(base_url=self.server.base_url, headers=headers, timeout=60) as http:
                async def http_op(_: int, cursor=cursor) -> None:
                    response = await http.get("/v1/chats", params={"cursor": cursor} if cursor else None)
                    response.raise_for_status()

                lat, wall = await run_workers([http_op], ops, self.sizes.warmup)
                self.record(summarise("list", "OHM HTTP", lat, wall, 1, page=page, chats=n))


async def run_all(db: BenchDatabase, server: ServerProcess, sizes: Sizes, only: set[str]) -> list[Stats]:
    bench = Bench(db, server, sizes)
    # What is loaded by now stays: a full collection need not walk it again (the server does the same).
    gc.collect()
    gc.freeze()
    try:
        for name in ("append", "agents", "keys", "length", "load", "listing"):
            if name in only or (name == "listing" and "list" in only):
                db.settle()
                await getattr(bench, name)()
    finally:
        for workers, extra in bench.servers.items():
            if workers != 1:
                extra.stop()
    return bench.results


def run(db: BenchDatabase, server: ServerProcess, sizes: Sizes, only: set[str]) -> list[Stats]:
    return asyncio.run(run_all(db, server, sizes, only))
