"""Reads on a standby (``python -m bench replicas``).

On a primary and a streaming standby of the benchmark's own (``bench.pgpair``), through the library
with ``OHM_READ_REPLICA_URLS`` set:

1. chat-load throughput (``get_chat`` of a 200-message chat, 8 concurrent readers) with every read
   on the primary vs on the standby, in rotated rounds;
2. a mixed load: 2 writers, each appending and then reading its own chat back with the write's
   position (read-your-writes), beside 6 readers loading chats without one: the share of reads the
   standby served, and how many read-backs saw their write (all must).

Both servers share the machine's cores with the benchmark, so this measures the routing and its
cost, not a second machine's capacity.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from typing import Any

from bench.pgpair import PgPair
from ohm.auth import Identity
from ohm.config import Settings
from ohm.db.migrate import migrate
from ohm.db.replicas import reading_after
from ohm.db.session import Database
from ohm.db.target import open_database
from ohm.models import ChatCreate, MessageCreate
from ohm.store import chats as chat_store
from ohm.store import messages as message_store
from ohm.store import users as users_store

SECRET = "replica-benchmark-secret-" + "x" * 32


async def _fill(db: Database, chats: int, messages: int) -> tuple[Identity, list[uuid.UUID]]:
    profile = await users_store.create_user(db, f"replicas-{uuid.uuid4().hex[:8]}@example.com")
    me = Identity.user(profile.id)
    ids = []
    for c in range(chats):
        chat = await chat_store.create_chat(db, me, ChatCreate(title=f"Chat {c}"))
        for m in range(messages):
            await message_store.append_message(db, me, chat.id, MessageCreate(
                role="user" if m % 2 == 0 else "assistant", content=f"message {m} of chat {c}: " + "text " * 30))
        ids.append(chat.id)
    return me, ids


async def _reader(db: Database, me: Identity, chats: list[uuid.UUID], stop: float, seed: int) -> int:
    """Random chats loaded until ``stop``; how many."""
    rng = random.Random(seed)
    done = 0
    while time.monotonic() < stop:
        await chat_store.get_chat(db, me, rng.choice(chats))
        done += 1
    return done


async def _loads(db: Database, me: Identity, chats: list[uuid.UUID], readers: int, seconds: float) -> float:
    started = time.monotonic()
    done = await asyncio.gather(*(_reader(db, me, chats, started + seconds, i) for i in range(readers)))
    return sum(done) / (time.monotonic() - started)


async def _mixed(db: Database, me: Identity, chats: list[uuid.UUID], seconds: float) -> dict[str, Any]:
    assert db.replicas is not None
    replica = db.replicas.members[0]
    on_replica, on_primary = replica.reads, db.replicas.reads_on_primary
    stop = time.monotonic() + seconds
    read_backs = seen = 0

    async def writer(chat_id: uuid.UUID) -> None:
        nonlocal read_backs, seen
        while time.monotonic() < stop:
            sent = await message_store.append_message(db, me, chat_id, MessageCreate(role="assistant",
                                                                                     content="a new answer"))
            with reading_after(await db.current_lsn()):
                page = await message_store.list_messages(db, me, chat_id, after_sequence=sent.sequence_number - 1)
            read_backs += 1
            seen += any(m.id == sent.id for m in page.items)

    done = await asyncio.gather(writer(chats[0]), writer(chats[1]),
                                *(_reader(db, me, chats, stop, i) for i in range(6)))
    loads = sum(n for n in done if n is not None)
    standby = replica.reads - on_replica
    primary = db.replicas.reads_on_primary - on_primary
    return {"reads": standby + primary, "standby_share": standby / max(1, standby + primary),
            "read_backs": read_backs, "read_backs_that_saw_their_write": seen, "loads": loads}


async def _run(rounds: int, seconds: float, readers: int, chats: int, messages: int) -> dict[str, Any]:
    with PgPair() as pair:
        migrate(pair.primary_url)
        settings = Settings(database_url=pair.primary_url, jwt_secret=SECRET, read_replica_urls=pair.standby_url,
                            db_pool_max=readers + 4, data_dir=tempfile.mkdtemp(prefix="ohm-replica-bench-"),
                            replica_check_interval=0.5)
        async with open_database(settings) as db:
            me, chat_ids = await _fill(db, chats=chats, messages=messages)
            pair.wait_replayed()
            replicas = db.replicas
            on: dict[str, list[float]] = {"primary": [], "standby": []}
            for r in range(rounds):
                for where in (["primary", "standby"] if r % 2 == 0 else ["standby", "primary"]):
                    db.replicas = replicas if where == "standby" else None
                    on[where].append(await _loads(db, me, chat_ids, readers, seconds))
            db.replicas = replicas
            mixed = await _mixed(db, me, chat_ids, seconds * 2)
    return {"chat_loads_per_s": {k: sorted(v)[len(v) // 2] for k, v in on.items()}, "rounds": rounds,
            "seconds": seconds, "readers": readers, "messages_per_chat": messages, "mixed": mixed}


def run(rounds: int = 3, seconds: float = 5.0, readers: int = 8, chats: int = 20, messages: int = 200
        ) -> dict[str, Any]:
    return asyncio.run(_run(rounds, seconds, readers, chats, messages))


def table(result: dict[str, Any]) -> str:
    loads, mixed = result["chat_loads_per_s"], result["mixed"]
    return "\n".join([
        f"Chat loads ({result['messages_per_chat']} messages, {result['readers']} readers, median of "
        f"{result['rounds']} rounds of {result['seconds']:.0f} s):",
        "",
        "| reads on | chat loads / s | vs primary |",
        "| --- | --- | --- |",
        f"| primary | {loads['primary']:.1f} | 1.00 |",
        f"| standby | {loads['standby']:.1f} | {loads['standby'] / loads['primary']:.2f} |",
        "",
        f"Mixed load ({result['seconds'] * 2:.0f} s: 2 writers appending and reading their chat back with "
        "the write's position, 6 readers loading chats):",
        "",
        "| reads | served by the standby | read-backs | saw their write |",
        "| --- | --- | --- | --- |",
        f"| {mixed['reads']} | {mixed['standby_share']:.0%} | {mixed['read_backs']} | "
        f"{mixed['read_backs_that_saw_their_write']} |",
    ])
