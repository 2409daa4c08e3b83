"""Read replicas: reads that tolerate replication go to a healthy standby, with read-your-writes.

PostgreSQL's streaming replication keeps standbys a few milliseconds behind the primary.  OHM sends
some reads there (chat loads, lists, search, analytics, exports: see ``Database.reads``) and keeps
everything else on the primary: writes, realtime ``LISTEN``, reads inside a write transaction, and
reads with an API key (the key's liveness and revocation are checked where they are written).

Read-your-writes: a write's HTTP response carries ``OHM-LSN``, the primary's WAL insert position
after its commit.  A read that sends it back is served by a standby only once that standby has
replayed past it (checked in the same round trip as its ``BEGIN``); otherwise it waits up to
``OHM_REPLICA_WAIT_MS`` for it, then goes to the primary.  The position travels in a context
variable (``read_after``) that the HTTP layer sets per request and library users may set
themselves.

Health: every ``OHM_REPLICA_CHECK_INTERVAL`` seconds each standby reports its replay position;
one that is down, is no longer a standby, or lags more than ``OHM_REPLICA_MAX_LAG`` seconds is
skipped, and one that failed is retried with backoff (0.5 s doubling to 30 s).  A read that fails on
a standby mid-way is run again on the primary: a standby going away is never a 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ohm.lsn import parse_lsn

log = logging.getLogger(__name__)

read_after: contextvars.ContextVar[int | None] = contextvars.ContextVar("ohm_read_after", default=None)
"""The WAL position the current request's reads must see (from its ``OHM-LSN``), or None."""

MAX_BACKOFF = 30.0


@contextlib.contextmanager
def reading_after(lsn: int | None) -> Iterator[None]:
    """Reads in this block see at least the writes up to ``lsn`` (library use; HTTP sets it per request)."""
    token = read_after.set(lsn)
    try:
        yield
    finally:
        read_after.reset(token)


@dataclass
class ReplicaReport:
    name: str
    state: str
    lag_seconds: float | None
    lag_bytes: int | None
    reads: int
    error: str | None


class Replica:
    """One standby: its pool (as the application role) and what the last check found."""

    def __init__(self, name: str, pool: AsyncConnectionPool[Any]) -> None:
        self.name = name
        self.pool = pool
        self.state = "unknown"
        self.replay_lsn = 0
        self.lag_seconds: float | None = None
        self.lag_bytes: int | None = None
        self.failures = 0
        self.retry_at = 0.0
        self.reads = 0
        self.error: str | None = None

    @property
    def usable(self) -> bool:
        return self.state == "ok"

    def failed(self, exc: BaseException) -> None:
        """Down: skipped until the backoff has passed and a check finds it well again."""
        if self.state != "down":
            log.warning("read replica %s is down: %s", self.name, str(exc).strip() or type(exc).__name__)
        self.state = "down"
        self.error = (str(exc).strip() or type(exc).__name__)[:200]
        self.failures += 1
        self.retry_at = time.monotonic() + min(MAX_BACKOFF, 0.5 * 2 ** (self.failures - 1))

    def report(self) -> ReplicaReport:
        return ReplicaReport(self.name, self.state, self.lag_seconds, self.lag_bytes, self.reads,
                             self.error if self.state == "down" else None)


CHECK_SQL = """
select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as replay,
       extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 as since_replay
"""


class Replicas:
    """The configured standbys, checked in the background, handed out round-robin."""

    def __init__(self, pools: list[tuple[str, AsyncConnectionPool[Any]]], *, max_lag: float, wait_ms: int,
                 check_interval: float, checkout_timeout: float) -> None:
        self.members = [Replica(name, pool) for name, pool in pools]
        self.max_lag = max_lag
        self.wait_ms = wait_ms
        self.check_interval = check_interval
        self.checkout_timeout = checkout_timeout
        self.reads_on_primary = 0
        self._next = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self, primary_lsn: Callable[[], Awaitable[int]]) -> None:
        for member in self.members:
            await member.pool.open(wait=False)
        await self.check(primary_lsn)  # know where each stands before the first request
        self._task = asyncio.create_task(self._loop(primary_lsn), name="ohm-replica-checks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for member in self.members:
            await member.pool.close()

    async def _loop(self, primary_lsn: Callable[[], Awaitable[int]]) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            try:
                await self.check(primary_lsn)
            except Exception:  # the primary itself is away: requests say so; keep checking
                log.exception("read replica check failed")

    async def check(self, primary_lsn: Callable[[], Awaitable[int]]) -> None:
        due = [m for m in self.members if m.state != "down" or time.monotonic() >= m.retry_at]
        if not due:
            return
        primary = await primary_lsn()
        await asyncio.gather(*(self._check_one(m, primary) for m in due))

    async def _check_one(self, member: Replica, primary: int) -> None:
        try:
            async with asyncio.timeout(max(self.check_interval, 1.0) * 2):
                conn = await member.pool.getconn(timeout=self.checkout_timeout)
                try:
                    cur = await conn.cursor(row_factory=dict_row).execute(CHECK_SQL)
                    row = await cur.fetchone()
                finally:
                    await member.pool.putconn(conn)
        except (psycopg.Error, TimeoutError, OSError) as exc:
            member.failed(exc)
            return
        assert row is not None
        if not row["standby"] or row["replay"] is None:
            member.state, member.error = "not a standby", None
            return
        member.replay_lsn = max(member.replay_lsn, parse_lsn(row["replay"]))
        member.lag_bytes = max(0, primary - member.replay_lsn)
        # Caught up with where the primary was a moment ago: no lag, however long ago its last transaction.
        member.lag_seconds = 0.0 if member.lag_bytes == 0 else max(0.0, row["since_replay"] or 0.0)
        if member.state == "down":
            log.info("read replica %s is back", member.name)
        member.failures, member.error = 0, None
        member.state = "ok" if member.lag_seconds <= self.max_lag else "lagging"

    def pick(self, after: int | None) -> Replica | None:
        """The next usable standby, round-robin; one known to have replayed ``after`` first."""
        usable = [m for m in self.members if m.usable]
        if not usable:
            return None
        start = self._next
        self._next = (self._next + 1) % len(usable)
        ordered = usable[start % len(usable):] + usable[:start % len(usable)]
        if after is not None:
            for member in ordered:
                if member.replay_lsn >= after:
                    return member
        return ordered[0]

    def report(self) -> list[ReplicaReport]:
        return [m.report() for m in self.members]
