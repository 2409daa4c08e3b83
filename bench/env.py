"""The benchmark's surroundings: a database, users, prefilled chats, an `ohm serve` process."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from ohm.auth import issue_token
from ohm.db.migrate import migrate
from ohm.db.target import derive_app_url

from .text import TextGenerator

JWT_SECRET = secrets.token_urlsafe(48)


def with_dbname(conninfo: str, dbname: str) -> str:
    params = conninfo_to_dict(conninfo)
    params["dbname"] = dbname
    return make_conninfo(**params)


@dataclass
class BenchDatabase:
    server_url: str
    name: str
    fresh: bool
    admin_url: str = field(init=False)
    app_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.admin_url = with_dbname(self.server_url, self.name)
        self.app_url = derive_app_url(self.admin_url, os.environ.get("OHM_APP_DB_PASSWORD"))

    @classmethod
    def open(cls, server_url: str, name: str | None) -> BenchDatabase:
        """``name`` = use that (e.g. scaled) database; None = a fresh one."""
        fresh = name is None
        name = name or f"ohm_bench_{secrets.token_hex(4)}"
        if fresh:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        db = cls(server_url, name, fresh)
        migrate(db.admin_url)
        return db

    def close(self) -> None:
        if self.fresh:
            with psycopg.connect(self.server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(self.name)))

    def pg_version(self) -> str:
        with psycopg.connect(self.admin_url) as conn:
            return conn.execute("show server_version").fetchone()[0]

    def new_user(self, label: str = "bench") -> uuid.UUID:
        with psycopg.connect(self.admin_url) as conn:
            return conn.execute(
                "insert into auth.users (email) values (%s) returning id",
                (f"{label}-{secrets.token_hex(5)}@bench.invalid",),
            ).fetchone()[0]

    def new_chat(self, user_id: uuid.UUID, title: str = "bench") -> uuid.UUID:
        with psycopg.connect(self.admin_url) as conn:
            return conn.execute("insert into chats (user_id, title) values (%s, %s) returning id",
                                (user_id, title)).fetchone()[0]

    def prefill_messages(self, chat_id: uuid.UUID, user_id: uuid.UUID, n: int, text: TextGenerator) -> list[uuid.UUID]:
        """``n`` messages in one linear branch, through the normal triggers (COPY fires them)."""
        ids = [uuid.uuid4() for _ in range(n)]
        with psycopg.connect(self.admin_url) as conn:
            with conn.cursor().copy(
                "copy messages (id, chat_id, user_id, parent_id, role, content, agent_name, agent_model, "
                "intent, input_tokens, output_tokens) from stdin"
            ) as copy:
                for i, mid in enumerate(ids):
                    assistant = i % 2 == 1
                    copy.write_row((mid, chat_id, user_id, ids[i - 1] if i else None,
                                    "assistant" if assistant else "user", text.message(),
                                    "bomGenerator" if assistant else None, "openai/o1" if assistant else None,
                                    "BOM" if assistant else None, 900 if assistant else 0, 300 if assistant else 0))
        self.analyze()
        return ids

    def settle(self) -> None:
        """Before a measurement: no checkpoint or autovacuum of earlier writes in the middle of it."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("checkpoint")
            conn.execute("vacuum (analyze) chats, messages, profiles, artifacts, artifact_versions")

    def analyze(self) -> None:
        """Fresh planner statistics, as autovacuum would soon give a production database."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("analyze chats, messages, profiles")

    def add_artifacts(self, chat_id: uuid.UUID, user_id: uuid.UUID, count: int, versions: int,
                      text: TextGenerator) -> None:
        with psycopg.connect(self.admin_url) as conn:
            for a in range(count):
                artifact = conn.execute(
                    "insert into artifacts (chat_id, user_id, type, title) values (%s, %s, 'bom', %s) returning id",
                    (chat_id, user_id, f"BOM {a}")).fetchone()[0]
                parent = None
                for v in range(versions):
                    parts = [{"name": w, "mpn": w, "quantity": 1 + v} for w in text.words(12)]
                    parent = conn.execute(
                        "insert into artifact_versions (artifact_id, user_id, parent_version_id, content_text, "
                        "content_json, change_summary) values (%s, %s, %s, %s, %s, %s) returning id",
                        (artifact, user_id, parent, text.message(40, 120), Jsonb({"parts": parts}),
                         f"revision {v + 1}")).fetchone()[0]

    def prefill_chats(self, user_id: uuid.UUID, n: int) -> None:
        """``n`` chats with spread-out activity times, for listing."""
        with psycopg.connect(self.admin_url) as conn:
            conn.execute(
                """insert into chats (user_id, title, last_message_at, message_count)
                   select %s, 'chat ' || g, now() - make_interval(mins => g), 0
                     from generate_series(1, %s) g""",
                (user_id, n),
            )
        self.analyze()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`ohm serve` on the benchmark database, in its own process(es); their RSS is what we report."""

    def __init__(self, db: BenchDatabase, pool_max: int = 10, workers: int = 1) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OHM_")}
        # The write rate limit is for production; here it would measure itself.
        env.update({"OHM_DATABASE_URL": db.admin_url, "OHM_JWT_SECRET": JWT_SECRET,
                    "OHM_DB_POOL_MAX": str(pool_max), "OHM_DB_POOL_MIN": str(pool_max),
                    "OHM_RATE_LIMIT_WRITES": "off"})
        # The log goes to a file: an unread pipe fills up and blocks the server.
        self.log = tempfile.NamedTemporaryFile(prefix="ohm-bench-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ohm", "serve", "--port", str(self.port), "--workers", str(workers),
             "--no-access-log"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ohm server exited: {Path(self.log.name).read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("ohm server did not start")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def token_for(user_id: uuid.UUID) -> str:
    return issue_token(JWT_SECRET, user_id=user_id, ttl_seconds=24 * 3600)


def contents(text: TextGenerator, n: int) -> Iterator[str]:
    for _ in range(n):
        yield text.message()
