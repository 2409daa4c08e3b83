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

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ohm.auth import Identity

SWITCH_IDENTITY = (
    "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"
)


class Database:
    """A pool of connections as the application role."""

    def __init__(self, conninfo: str, *, min_size: int = 1, max_size: int = 10,
                 timeout: float = 30.0, connect_timeout: int = 10) -> None:
        self.pool = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": connect_timeout, "row_factory": dict_row},
            name="ohm",
        )
        self.target: Any = None
        """The DatabaseTarget this pool was opened for, when opened through ``open_database``."""

    async def open(self, *, wait: bool = True) -> None:
        await self.pool.open(wait=wait)

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def acting_as(self, identity: Identity) -> AsyncIterator[AsyncConnection]:
        """One transaction in which the database sees ``identity``."""
        async with self.pool.connection() as conn:
            async with conn.transaction():
                await conn.execute(SWITCH_IDENTITY, (identity.role, identity.claims_json()))
                yield conn
