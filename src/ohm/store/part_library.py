"""The shared part library: KiCad symbols' pin tables, for BOM lines the part catalogue does not know."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.hardware.kicad import LibrarySymbol

UPSERT = """
insert into public.part_library (library, name, reference, description, keywords, datasheet, pins)
values (%s, %s, %s, %s, %s, %s, %s)
on conflict (source, library, name) do update
   set reference = excluded.reference, description = excluded.description, keywords = excluded.keywords,
       datasheet = excluded.datasheet, pins = excluded.pins, imported_at = now()
"""


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


async def import_symbols(db: Database, symbols: list[LibrarySymbol]) -> int:
    """Insert or refresh the symbols (as the service role, in one transaction); the count written."""
    rows = [(s.library[:200], s.name[:200], _clip(s.reference, 20), _clip(s.description, 2000),
             _clip(s.keywords, 2000), _clip(s.datasheet, 2048), Jsonb(s.pins[:2000]))
            for s in symbols]
    if not rows:
        return 0
    async with db.acting_as(Identity.service()) as conn:
        async with conn.cursor() as cur:
            await cur.executemany(UPSERT, rows)
    return len(rows)


async def count(db: Database) -> int:
    async with db.acting_as(Identity.service()) as conn:
        cur = await conn.execute("select count(*) as n from public.part_library")
        row = await cur.fetchone()
    return int(row["n"]) if row else 0
