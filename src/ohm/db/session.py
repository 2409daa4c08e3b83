"""The connection pool and ``acting_as``: one transaction as one identity.

Every connection belongs to the application login role.  ``acting_as``
borrows one, opens a transaction and switches it to the identity's role and
JWT claims with transaction-local ``set_config`` calls, exactly what
PostgREST does; at commit or rollback both settings vanish, so nothing leaks
to the next borrower.  Row-level security does the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection, errors, sql
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ohm.auth import Identity
from ohm.db.replicas import Replica, Replicas, read_after
from ohm.lsn import format_lsn, parse_lsn
from ohm.store.errors import Unauthenticated

Conn = AsyncConnection[DictRow]
"""A connection of the pool: rows come back as dicts (cursors that need tuples ask for tuple_row)."""

SWITCH_IDENTITY = (
    "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"
)


def begin_as(identity: Identity) -> sql.Composed:
    """BEGIN and the identity switch as one simple query: one round trip.

    The values travel as quoted literals (psycopg quotes them); the role is
    one of three fixed names and the claims are the verified token's.  With an
    API key, the database first checks the key is still live (not revoked, not
    expired: ``ohm.use_api_key``), so a revocation holds on the next request.
    """
    switch = sql.SQL("select set_config('role', {}, true), set_config('request.jwt.claims', {}, true)").format(
        sql.Literal(identity.role), sql.Literal(identity.claims_json()))
    if identity.key is None:
        return sql.SQL("begin; {}").format(switch)
    return sql.SQL("begin; select ohm.use_api_key({}, {}); {}").format(
        sql.Literal(identity.key.id), sql.Literal(identity.user_id), switch)


def begin_read_as(identity: Identity, after: int | None) -> sql.Composed:
    """On a standby: a read-only BEGIN, the identity switch and whether it has replayed ``after``, in one
    round trip (API keys never come here: their checks are written on the primary)."""
    caught_up = sql.SQL("pg_last_wal_replay_lsn() >= {}::pg_lsn").format(sql.Literal(format_lsn(after))) \
        if after is not None else sql.SQL("true")
    return sql.SQL("begin read only; select set_config('role', {}, true), set_config('request.jwt.claims', {}, "
                   "true), {} as caught_up").format(sql.Literal(identity.role), sql.Literal(identity.claims_json()),
                                                    caught_up)


class ReadAttempt:
    """One try at a read: on a standby when one is usable and caught up, else on the primary.

    Entering it on a standby that cannot begin (down, or behind ``read_after`` past the wait) falls back
    to the primary at once.  A standby failing later, mid-read, is marked down and the error swallowed:
    ``Database.reads`` then makes a second attempt, on the primary."""

    def __init__(self, db: Database, identity: Identity, replica: Replica | None) -> None:
        self.db = db
        self.identity = identity
        self.replica = replica
        self.retry = False
        self._conn: Conn | None = None
        self._primary: Any = None

    async def __aenter__(self) -> Conn:
        if self.replica is not None:
            conn = await self._begin_on_replica(self.replica)
            if conn is not None:
                self._conn = conn
                self.replica.reads += 1
                return conn
            self.replica = None
        if self.db.replicas is not None:
            self.db.replicas.reads_on_primary += 1
        self._primary = self.db.acting_as(self.identity)
        conn = await self._primary.__aenter__()
        return conn

    async def _begin_on_replica(self, replica: Replica) -> Conn | None:
        replicas = self.db.replicas
        assert replicas is not None
        after = read_after.get()
        try:
            conn = await replica.pool.getconn(timeout=replicas.checkout_timeout)
        except PoolTimeout:  # every connection to it busy (or it cannot be reached): the primary reads this one
            return None
        except psycopg.OperationalError as exc:
            replica.failed(exc)
            return None
        deadline = time.monotonic() + replicas.wait_ms / 1000
        try:
            while True:
                cur = await conn.execute(begin_read_as(self.identity, after))
                cur.nextset()
                row = await cur.fetchone()
                if row is not None and row["caught_up"]:
                    return conn
                await conn.execute("rollback")
                if time.monotonic() >= deadline:
                    await replica.pool.putconn(conn)
                    return None
                await asyncio.sleep(0.002)
        except psycopg.OperationalError as exc:
            replica.failed(exc)
            await replica.pool.putconn(conn)
            return None

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if self._primary is not None:
            return bool(await self._primary.__aexit__(kind, exc, tb))
        conn, replica = self._conn, self.replica
        assert conn is not None and replica is not None
        try:
            if exc is None:
                try:
                    await conn.execute("commit")
                except psycopg.OperationalError as gone:  # read only and read whole: nothing is lost
                    replica.failed(gone)
                return False
            if not conn.broken:
                with contextlib.suppress(Exception):
                    await conn.execute("rollback")
            # The standby went away, or cancelled the read for a conflict with what it replays: the
            # primary answers instead (nothing was written; a read can run twice).
            if isinstance(exc, psycopg.OperationalError | errors.SerializationFailure) and not isinstance(
                    exc, errors.QueryCanceled):
                if isinstance(exc, psycopg.OperationalError):
                    replica.failed(exc)
                self.retry = True
                return True
            return False
        finally:
            await replica.pool.putconn(conn)


class Reads:
    """The attempts of one read: the first; a second, on the primary, only if a standby failed mid-way."""

    def __init__(self, first: ReadAttempt) -> None:
        self.first = first
        self.given = 0

    def __aiter__(self) -> Reads:
        return self

    async def __anext__(self) -> ReadAttempt:
        self.given += 1
        if self.given == 1:
            return self.first
        if self.given == 2 and self.first.retry:
            return ReadAttempt(self.first.db, self.first.identity, None)
        raise StopAsyncIteration


class Database:
    """A pool of connections as the application role."""

    def __init__(self, conninfo: str, *, min_size: int = 1, max_size: int = 10,
                 timeout: float = 30.0, connect_timeout: int = 10, statement_timeout_ms: int = 0) -> None:
        self.statement_timeout_ms = statement_timeout_ms
        self.pool = self.pool_for(conninfo, name="ohm", min_size=min_size, max_size=max_size, timeout=timeout,
                                  connect_timeout=connect_timeout)
        self.target: Any = None
        """The DatabaseTarget this pool was opened for, when opened through ``open_database``."""
        self.replicas: Replicas | None = None
        """Read replicas (``OHM_READ_REPLICA_URLS``), when configured: see ``reads``."""

    def pool_for(self, conninfo: str, *, name: str, min_size: int, max_size: int, timeout: float,
                 connect_timeout: int) -> AsyncConnectionPool[Conn]:
        """A pool (not yet open) whose connections are set up like this database's (the primary's, a standby's)."""
        return AsyncConnectionPool(
            conninfo, connection_class=Conn, min_size=min_size, max_size=max_size, timeout=timeout, open=False,
            kwargs={"autocommit": True, "connect_timeout": connect_timeout, "row_factory": dict_row},
            configure=self._configure, name=name)

    async def _configure(self, conn: Conn) -> None:
        # json/jsonb columns parsed with orjson: several times faster on message-heavy reads.
        set_json_loads(orjson.loads, conn)
        # Requests are short: JIT compilation (triggered by large estimates, e.g. a search
        # over a big table) would cost more than it saves (15 ms on a 20 ms search).
        await conn.execute("set jit = off")
        # One slow statement (or a transaction left waiting on a lock) cannot hold a connection for ever.
        if self.statement_timeout_ms:
            await conn.execute(sql.SQL("set statement_timeout = {}").format(sql.Literal(self.statement_timeout_ms)))
            await conn.execute(sql.SQL("set idle_in_transaction_session_timeout = {}").format(
                sql.Literal(max(self.statement_timeout_ms * 2, 60000))))

    async def open(self, *, wait: bool = True) -> None:
        await self.pool.open(wait=wait)

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run_one(self, query: sql.SQL | sql.Composed | str, params: Any) -> dict[str, Any] | None:
        """One statement in its own transaction (autocommit): one round trip, first row back.

        For statements that carry the identity themselves, such as
        ``ohm.append_message``; everything else goes through ``acting_as``.
        """
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

    def reads(self, identity: Identity) -> Reads:
        """A read that tolerates replication, as ``identity``: on a standby when one is configured, usable
        and caught up with ``read_after``, else on the primary.  Used as::

            async for attempt in db.reads(identity):
                async with attempt as conn:
                    ...   # the same code as under acting_as; it runs again on the primary if a
                          # standby fails mid-way

        Without replicas this is one ``acting_as``.  API keys read on the primary (their liveness is
        checked and written there, and a revocation must hold at once)."""
        replica = None
        if self.replicas is not None and identity.key is None:
            replica = self.replicas.pick(read_after.get())
        return Reads(ReadAttempt(self, identity, replica))

    async def current_lsn(self) -> int:
        """The primary's WAL insert position: past every commit made so far (what ``OHM-LSN`` carries)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("select pg_current_wal_insert_lsn()::text as lsn")
            row = await cur.fetchone()
        assert row is not None
        return parse_lsn(row["lsn"])

    @contextlib.asynccontextmanager
    async def acting_as(self, identity: Identity) -> AsyncIterator[Conn]:
        """One transaction in which the database sees ``identity``.

        Three round trips for a one-statement operation: BEGIN with the
        identity switch, the statement, COMMIT.  (psycopg's pipeline mode
        would save one, but on a nearby server its bookkeeping costs more
        than the round trip: measured in bench/, see docs/benchmarks.md.)
        On any exception the transaction is rolled back; if that fails the
        pool rolls the connection back when it gets it back.
        """
        async with self.pool.connection() as conn:
            try:
                await conn.execute(begin_as(identity))
            except errors.InvalidAuthorizationSpecification:
                with contextlib.suppress(Exception):
                    await conn.execute("rollback")
                raise Unauthenticated("API key revoked or expired") from None
            try:
                yield conn
            except BaseException:
                if not conn.broken:
                    with contextlib.suppress(Exception):
                        await conn.execute("rollback")
                raise
            await conn.execute("commit")
