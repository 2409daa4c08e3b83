"""What every store module shares: error translation, limits, keyset cursors."""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import AsyncCursor, errors, sql
from psycopg.rows import DictRow
from pydantic import BaseModel

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.store import constraints
from ohm.store.errors import Conflict, Forbidden, Invalid, NotFound, StoreError, TooLarge, TooMany, Unauthenticated

M = TypeVar("M", bound=BaseModel)

MiB = 1024 * 1024
KiB = 1024


# SQLSTATEs PostgREST turns into HTTP statuses (PTxyz = status xyz), raised by the functions in `public`
# (the rpc functions of the migrations) with a message meant for the caller.
RAISED: dict[str, type[StoreError]] = {"PT404": NotFound, "PT409": Conflict, "PT422": Invalid, "PT413": TooLarge,
                                       "PT429": TooMany, "28000": Unauthenticated}


def _primary(exc: psycopg.Error) -> str:
    """PostgreSQL's one-line message, without its DETAIL, HINT or CONTEXT (those may quote statements)."""
    return " ".join((exc.diag.message_primary or type(exc).__name__).split())[:300]


def own_user(identity: Identity, doing: str) -> uuid.UUID:
    """The id of a user acting with their own token; Forbidden for an API key (``doing`` is what a key may not
    do: manage keys, change or export the account), the service role and anon."""
    if identity.key is not None:
        raise Forbidden(f"an API key cannot {doing}: use the user's own token")
    if identity.role != "authenticated" or identity.user_id is None:
        raise Forbidden(f"only a signed-in user can {doing}")
    return identity.user_id


@contextlib.contextmanager
def database_errors(not_found: str = "not found") -> Iterator[None]:
    """Turn what PostgreSQL refuses into domain errors (the transaction is rolled back by the caller).

    Details are named by constraint or column only: PostgreSQL's own text can carry the statement of a
    trigger (``CONTEXT: SQL statement "insert into public.connections ..."``), which is not the caller's."""
    try:
        try:
            yield
        except psycopg.Error as exc:
            if exc.sqlstate in RAISED:
                raise RAISED[exc.sqlstate](exc.diag.message_primary or not_found) from None
            raise
    except errors.InsufficientPrivilege:
        # A write RLS or a column privilege refused: to the caller the row is not theirs.
        raise NotFound(not_found) from None
    except errors.CheckViolation as exc:
        raise constraints.refusal(exc.diag.constraint_name or "", _primary(exc)) from None
    except errors.ForeignKeyViolation as exc:
        raise Invalid(f"refers to something that does not exist or is not yours ({exc.diag.constraint_name})"
                      ) from None
    except errors.UniqueViolation as exc:
        raise Conflict(f"already exists ({exc.diag.constraint_name})") from None
    except errors.NotNullViolation as exc:
        raise Invalid(f"{exc.diag.column_name or 'a value'} is required ({exc.diag.table_name})") from None
    except errors.StringDataRightTruncation:
        raise Invalid("a value is too long") from None
    except (errors.UntranslatableCharacter, errors.CharacterNotInRepertoire):
        raise Invalid("text contains characters PostgreSQL cannot store (NUL)") from None
    except psycopg.DataError as exc:
        raise Invalid(f"invalid value: {_primary(exc)}") from None


async def first(cur: AsyncCursor[DictRow]) -> DictRow:
    """The row of a statement that always returns one (an INSERT ... RETURNING, an aggregate)."""
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


def check_text_size(name: str, value: str | None, limit: int) -> None:
    if value is None:
        return
    if "\x00" in value:
        raise Invalid(f"{name} contains a NUL character")
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise TooLarge(f"{name} is {size} bytes; the limit is {limit}", limit=limit)


# A NUL in a key or a string, as json.dumps writes it: \u0000 after an even number of backslashes (an odd
# number would make it the escaped text "\\u0000" instead).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def check_json_size(name: str, value: Any, limit: int) -> None:
    """Size as PostgreSQL's jsonb text output measures it (UTF-8, ', ' and ': '), and no NUL (jsonb
    cannot store one).

    Everything here runs in C: a value whose compact JSON (orjson) is already over the limit is refused
    on that alone, and the NUL check reads the JSON text. Walking a value in Python took ~0.9 s of the
    event loop for 4 MiB of small numbers, which one request body can hold."""
    if value is None:
        return
    try:
        compact = len(orjson.dumps(value))
    except TypeError:  # what orjson does not write (ints past 64 bits, lone surrogates): measured below
        compact = 0
    if compact > limit:
        raise TooLarge(f"{name} is at least {compact} bytes as JSON; the limit is {limit}", limit=limit)
    text = json.dumps(value, ensure_ascii=False)
    if _NUL_ESCAPE.search(text):
        raise Invalid(f"{name} contains a NUL character")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise TooLarge(f"{name} is {size} bytes as JSON; the limit is {limit}", limit=limit)


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([str(v) if not isinstance(v, (int, float)) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeError):
        raise Invalid("malformed cursor") from None
    if not isinstance(values, list) or len(values) != arity:
        raise Invalid("malformed cursor")
    return values


def owner_for_new(identity: Identity, requested: uuid.UUID | None, what: str) -> uuid.UUID:
    """Whose new row this is: the signed-in user's own, or (service role only, and then required) ``user_id``."""
    if identity.role == "service_role":
        if requested is None:
            raise Invalid(f"the service role must say whose {what} this is (user_id)")
        return requested
    if identity.role != "authenticated" or identity.user_id is None:
        raise NotFound(f"sign in to create a {what}")
    if requested is not None and requested != identity.user_id:
        raise Invalid("user_id can only be set by the service role")
    return identity.user_id


async def delete_older_than(db: Database, table: str, older_than: timedelta, *, dry_run: bool = False,
                            batch: int = 10_000, permit: str | None = None) -> int:
    """A retention job: delete rows of ``public.<table>`` created more than ``older_than`` ago.

    As the service role, oldest first, ``batch`` rows per transaction so that a large backlog
    never holds one long transaction.  ``permit`` names a setting the table's guard trigger
    wants turned on for the delete.  Returns the rows deleted (or, with ``dry_run``, due).
    """
    cutoff = datetime.now().astimezone() - older_than
    name = sql.Identifier("public", table)
    total = 0
    while True:
        async with db.acting_as(Identity.service()) as conn:
            if dry_run:
                cur = await conn.execute(sql.SQL("select count(*) as n from {} where created_at < %s").format(name),
                                         (cutoff,))
                return int((await first(cur))["n"])
            if permit:
                await conn.execute("select set_config(%s, 'on', true)", (permit,))
            cur = await conn.execute(
                sql.SQL("delete from {t} where id in (select id from {t} where created_at < %s order by id limit %s)")
                .format(t=name), (cutoff, batch))
            deleted = cur.rowcount
        total += deleted
        if deleted < batch:
            return total


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # as pydantic writes a Decimal
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


MAX_JSON_DEPTH = 64
TOO_DEEP = "[nested deeper than 64 levels: not shown]"


def cap_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> Any:
    """A copy of ``value`` whose containers below ``limit`` levels are replaced by a marker.

    New rows cannot nest deeper (the database refuses them); rows written before could,
    and a serialiser that gives up on them must not make their whole chat unreadable."""
    def copy(item: Any, depth: int) -> Any:
        if isinstance(item, dict):
            return TOO_DEEP if depth >= limit else {k: copy(v, depth + 1) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return TOO_DEEP if depth >= limit else [copy(v, depth + 1) for v in item]
        return item

    return copy(value, 0)


def json_bytes(document: Any) -> bytes:
    """JSON as the API's models write it (UUIDs and datetimes as pydantic does, UTC as Z, Decimals as
    strings), for documents built from rows without a model in between."""
    try:
        return orjson.dumps(document, default=_json_default, option=orjson.OPT_UTC_Z)
    except TypeError:  # orjson stops at 255 levels: a row from before the depth limit
        return orjson.dumps(cap_depth(document, MAX_JSON_DEPTH + 8), default=_json_default,
                            option=orjson.OPT_UTC_Z)


def trusted(model: type[M]) -> Callable[[dict[str, Any]], M]:
    """A maker of ``model`` from a dict of values that already have its fields' types, every field given:
    what pydantic's ``model_construct`` does, without its pass over defaults, aliases and extras (0.4 µs a
    model instead of 1.9).  Only for rows the database typed and constrained; input goes through validation.
    Every model made shares one fields-set holding all the fields, so the ``add`` pydantic does to it when
    a field is assigned changes nothing."""
    every_field = set(model.model_fields)

    def make(values: dict[str, Any], new: Any = object.__new__, put: Any = object.__setattr__) -> M:
        instance: M = new(model)
        put(instance, "__dict__", values)
        put(instance, "__pydantic_fields_set__", every_field)
        put(instance, "__pydantic_extra__", None)
        put(instance, "__pydantic_private__", None)
        return instance

    return make


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while a page of rows becomes objects.

    A 1,000-message chat is ~4,000 new dicts and models and not one reference cycle, yet every 700
    allocations start a collection, and some of them walk every object of the process: in a process
    holding a few hundred MB that took longer than building the models (measured: 34 ms -> 20 ms for
    one page).  The pause covers one synchronous call; collection resumes right after it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
