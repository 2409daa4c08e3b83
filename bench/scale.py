"""Fill a database to production-like size: users, chats, messages, artifacts with versions, parts.

Rows go in through COPY from parallel worker processes.  Row triggers are
switched off for the load (``session_replication_role = replica``, which
needs a superuser) and what they would have maintained — counters, leaves,
totals, version pointers — is computed afterwards in a few set-based
statements, which is what makes ten million messages a matter of minutes.
Chat sizes and user activity follow Zipf-like distributions: a few users and
chats are very large, most are small, as in real chat stores.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ohm.db.migrate import migrate

from .env import with_dbname
from .text import PART_NUMBERS, TextGenerator

console = Console()

AGENTS = [
    ("orchestrator", "anthropic/claude-sonnet-4", "🧭", "PLAN"),
    ("bomGenerator", "openai/o1", "📦", "BOM"),
    ("wiringExpert", "anthropic/claude-opus-4", "🔌", "WIRING"),
    ("codeGenerator", "openai/gpt-4o", "💻", "CODE"),
    ("circuitVerifier", "google/gemini-2.5-pro", "🔍", "VERIFY"),
    ("datasheetReader", "openai/gpt-4o-mini", "📄", "DATASHEET"),
    ("chat", "anthropic/claude-sonnet-4", "💬", "CHAT"),
]
EPOCH = datetime(2025, 11, 1, tzinfo=UTC)
BATCH = 20_000


def zipf_split(total: int, parts: int, rng: random.Random, s: float = 0.9, minimum: int = 1) -> list[int]:
    """``total`` split into ``parts`` sizes following a Zipf-like curve (shuffled)."""
    weights = [1.0 / (rank**s) for rank in range(1, parts + 1)]
    scale = (total - minimum * parts) / sum(weights)
    sizes = [minimum + int(w * scale) for w in weights]
    sizes[0] += total - sum(sizes)
    rng.shuffle(sizes)
    return sizes


def _replica(conn: psycopg.Connection) -> None:
    conn.execute("set session_replication_role = replica")
    conn.execute("set synchronous_commit = off")


def _write_messages(url: str, jobs: list[tuple[str, str, int, float]], seed: int, counter) -> None:
    """Worker process: the messages of the given chats, as one branch each."""
    text = TextGenerator(seed)
    rng = random.Random(seed)
    with psycopg.connect(url) as conn:
        _replica(conn)
        pending = 0
        copy_cm = None
        copy = None
        for chat_id, user_id, n, start in jobs:
            if copy is None:
                copy_cm = conn.cursor().copy(
                    "copy messages (id, chat_id, user_id, parent_id, sequence_number, role, content, agent_name, "
                    "agent_model, agent_icon, intent, input_tokens, output_tokens, cost_usd, latency_ms, "
                    "created_at) from stdin")
                copy = copy_cm.__enter__()
            parent = None
            at = EPOCH + timedelta(seconds=start)
            for seq in range(1, n + 1):
                mid = uuid.uuid4()
                at += timedelta(seconds=rng.randint(5, 600))
                if seq % 2:
                    copy.write_row((mid, chat_id, user_id, parent, seq, "user", text.message(4, 50), None, None,
                                    None, None, 0, 0, None, None, at))
                else:
                    name, model, icon, intent = AGENTS[rng.randrange(len(AGENTS))]
                    tin, tout = rng.randint(300, 6000), rng.randint(80, 2500)
                    copy.write_row((mid, chat_id, user_id, parent, seq, "assistant", text.message(10, 90), name,
                                    model, icon, intent, tin, tout, Decimal(tin * 3 + tout * 12) / 1_000_000,
                                    rng.randint(400, 20000), at))
                parent = mid
            pending += n
            if pending >= BATCH:
                copy_cm.__exit__(None, None, None)
                conn.commit()
                with counter.get_lock():
                    counter.value += pending
                pending, copy, copy_cm = 0, None, None
        if copy is not None:
            copy_cm.__exit__(None, None, None)
            conn.commit()
            with counter.get_lock():
                counter.value += pending


def fill(server_url: str, database: str, *, users: int, chats: int, messages: int, seed: int, workers: int) -> None:
    rng = random.Random(seed)
    started = time.monotonic()
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        if exists:
            raise SystemExit(f"database {database} exists; drop it first or pick another name")
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    url = with_dbname(server_url, database)
    migrate(url)

    user_ids = [str(uuid.uuid4()) for _ in range(users)]
    chats_per_user = zipf_split(chats, users, rng, s=0.8)
    chat_rows: list[tuple[str, str, float]] = []
    for user_id, n in zip(user_ids, chats_per_user, strict=True):
        for _ in range(n):
            chat_rows.append((str(uuid.uuid4()), user_id, rng.uniform(0, 360 * 86400)))
    messages_per_chat = zipf_split(messages, len(chat_rows), rng, s=0.7, minimum=2)
    text = TextGenerator(seed)

    with psycopg.connect(url) as conn:
        _replica(conn)
        with conn.cursor().copy("copy auth.users (id, email, raw_user_meta_data) from stdin") as copy:
            for i, uid in enumerate(user_ids):
                copy.write_row((uid, f"maker{i}@scale.invalid", Jsonb({"display_name": f"Maker {i}"})))
        with conn.cursor().copy("copy profiles (id, email, display_name) from stdin") as copy:
            for i, uid in enumerate(user_ids):
                copy.write_row((uid, f"maker{i}@scale.invalid", f"Maker {i}"))
        with conn.cursor().copy("copy chats (id, user_id, title, phase, is_public, created_at, last_message_at) "
                                "from stdin") as copy:
            phases = ["ideation", "requirements", "bom", "wiring", "code", "verification", "complete"]
            for chat_id, user_id, start in chat_rows:
                at = EPOCH + timedelta(seconds=start)
                copy.write_row((chat_id, user_id, text.title(), rng.choice(phases), rng.random() < 0.02, at, at))
        conn.commit()
    console.print(f"{users:,} users and {len(chat_rows):,} chats in {time.monotonic() - started:.0f} s")

    # Messages: chats dealt round-robin (largest first) so the workers finish together.
    order = sorted(range(len(chat_rows)), key=lambda i: -messages_per_chat[i])
    jobs: list[list[tuple[str, str, int, float]]] = [[] for _ in range(workers)]
    for k, i in enumerate(order):
        chat_id, user_id, start = chat_rows[i]
        jobs[k % workers].append((chat_id, user_id, messages_per_chat[i], start))
    counter = mp.Value("q", 0)
    context = mp.get_context("fork")
    procs = [context.Process(target=_write_messages, args=(url, jobs[w], seed + 100 + w, counter))
             for w in range(workers)]
    t0 = time.monotonic()
    with Progress(TextColumn("messages"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}/s"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("messages", total=messages, rate="0")
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            done = counter.value
            progress.update(task, completed=done, rate=f"{done / max(time.monotonic() - t0, 1e-9):,.0f}")
        progress.update(task, completed=counter.value)
    if any(p.exitcode for p in procs):
        raise SystemExit("a message worker failed")
    console.print(f"{messages:,} messages in {time.monotonic() - t0:.0f} s")

    t1 = time.monotonic()
    _artifacts(url, chat_rows, rng, text)
    console.print(f"artifacts and parts in {time.monotonic() - t1:.0f} s")
    t2 = time.monotonic()
    _derive_counters(url)
    console.print(f"counters, leaves and totals in {time.monotonic() - t2:.0f} s")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum (analyze)")
    console.print(f"[bold]done[/bold]: {database} filled in {time.monotonic() - started:.0f} s")


def _artifacts(url: str, chat_rows: list[tuple[str, str, float]], rng: random.Random, text: TextGenerator) -> None:
    """One artifact per ~10 chats, 1-4 versions each; bom versions get their parts."""
    with psycopg.connect(url) as conn:
        _replica(conn)
        artifacts, versions, parts = [], [], []
        for chat_id, user_id, start in chat_rows:
            if rng.random() >= 0.1:
                continue
            artifact_id = str(uuid.uuid4())
            kind = rng.choice(["bom", "bom", "wiring", "code", "document"])
            count = rng.randint(1, 4)
            at = EPOCH + timedelta(seconds=start)
            artifacts.append((artifact_id, chat_id, user_id, kind, f"{kind.upper()} {text.title()}", count, count,
                              at))
            parent = None
            for v in range(1, count + 1):
                version_id = str(uuid.uuid4())
                chosen = rng.sample(PART_NUMBERS, rng.randint(3, 8))
                body = {"parts": [{"name": p, "mpn": p, "quantity": rng.randint(1, 4)} for p in chosen]}
                versions.append((version_id, artifact_id, user_id, v, parent, text.message(20, 80), Jsonb(body),
                                 f"revision {v}", at + timedelta(minutes=v)))
                if kind == "bom":
                    for position, p in enumerate(chosen):
                        parts.append((user_id, version_id, position, p, p, rng.randint(1, 4),
                                      Decimal(rng.randint(10, 2500)) / 100, rng.choice(["LCSC", "DigiKey", "Mouser"])))
                parent = version_id
        with conn.cursor().copy("copy artifacts (id, chat_id, user_id, type, title, current_version, total_versions, "
                                "created_at) from stdin") as copy:
            for row in artifacts:
                copy.write_row(row)
        with conn.cursor().copy("copy artifact_versions (id, artifact_id, user_id, version_number, parent_version_id, "
                                "content_text, content_json, change_summary, created_at) from stdin") as copy:
            for row in versions:
                copy.write_row(row)
        with conn.cursor().copy("copy parts (user_id, artifact_version_id, position, name, mpn, quantity, unit_price, "
                                "supplier) from stdin") as copy:
            for row in parts:
                copy.write_row(row)
        conn.commit()


DERIVE_SQL = [
    # What messages_before_insert keeps per chat, computed once for all.
    """update chats c
          set message_count = s.n, last_sequence = s.last_seq, last_message_at = s.last_at,
              total_input_tokens = s.tin, total_output_tokens = s.tout, total_cost_usd = s.cost
         from (select chat_id, count(*) as n, max(sequence_number) as last_seq, max(created_at) as last_at,
                      sum(input_tokens) as tin, sum(output_tokens) as tout, coalesce(sum(cost_usd), 0) as cost
                 from messages group by chat_id) s
        where c.id = s.chat_id""",
    """update chats c set current_leaf_id = m.id
         from messages m
        where m.chat_id = c.id and m.sequence_number = c.last_sequence""",
    """update chats c set title = left(m.content, 80)
         from messages m
        where m.chat_id = c.id and m.sequence_number = 1 and c.title is null""",
    # A user's totals: one usage slot each (ohm.usage_counters, migration 0014).
    """insert into ohm.usage_counters (user_id, slot, message_count, total_input_tokens, total_output_tokens,
                                      total_cost_usd)
       select user_id, 0, sum(message_count), sum(total_input_tokens), sum(total_output_tokens),
              sum(total_cost_usd)
         from chats group by user_id
       on conflict (user_id, slot) do update
          set message_count = excluded.message_count, total_input_tokens = excluded.total_input_tokens,
              total_output_tokens = excluded.total_output_tokens, total_cost_usd = excluded.total_cost_usd""",
]


def _derive_counters(url: str) -> None:
    with psycopg.connect(url) as conn:
        _replica(conn)
        conn.execute("set work_mem = '256MB'")
        for statement in DERIVE_SQL:
            conn.execute(statement)
        conn.commit()
