"""The connection pool and ``acting_as``: one transaction as one identity.

Every connection belongs to the application login role.  ``acting_as``
borrows one, opens a transaction and switches it to the identity's role and
JWT claims with transaction-local ``set_config`` calls, exactly what
PostgREST does; at commit or rollback both settings vanish, so nothing leaks
to the next borrower.  Row-level security does the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from psycopg import AsyncConnection, errors, sql
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from ohm.auth import Identity
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


class Database:
    """A pool of connections as the application role."""

    def __init__(self, conninfo: str, *, min_size: int = 1, max_size: int = 10,
                 timeout: float = 30.0, connect_timeout: int = 10, statement_timeout_ms: int = 0) -> None:
        self.statement_timeout_ms = statement_timeout_ms
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            conninfo,
            connection_class=Conn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": connect_timeout, "row_factory": dict_row},
            configure=self._configure,
            name="ohm",
        )
        self.target: Any = None
        """The DatabaseTarget this pool was opened for, when opened through ``open_database``."""

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
