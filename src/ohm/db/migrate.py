"""Apply the SQL files in ``ohm/db/migrations`` in order.

Each file runs in its own transaction, under a session-level advisory lock so
that two ``ohm migrate`` runs against one database queue instead of colliding.
Applied files are recorded with their sha256 in ``ohm.schema_migrations``; a
file whose checksum changed after it was applied stops the run (ship a new
file instead of editing an old one).  The one exception is ``AMENDED``: a file
corrected in place because its first text could not install at all somewhere
(e.g. as Supabase's non-superuser ``postgres``), whose correction a later file
also applies to databases that ran the first text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources

import psycopg
from psycopg import sql

from ohm.config import APP_ROLE

MIGRATION_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")

# pg_advisory_lock key: the bytes of "ohm:migr" as a signed 64-bit integer.
LOCK_KEY = int.from_bytes(b"ohm:migr", "big", signed=True)

BOOTSTRAP_SQL = """\
create schema if not exists ohm;
create table if not exists ohm.schema_migrations (
  name       text primary key,
  sha256     text not null,
  applied_at timestamptz not null default now(),
  applied_by text not null default current_user
);
"""


# file -> checksums of earlier texts that are still accepted as applied.
AMENDED: dict[str, frozenset[str]] = {
    # 0002 gained `grant create on schema ohm to ohm_definer` (without it a non-superuser owner cannot
    # hand functions to ohm_definer in 0004); 0025 grants the same to databases that ran the first text.
    "0002_roles.sql": frozenset({"ace2af7a4e3a550c8c8268e68e9f9b1b2bb083654a05a57f1af72ae26e10d0c7"}),
}


def accepted(migration: Migration, recorded_sha: str) -> bool:
    return recorded_sha == migration.sha256 or recorded_sha in AMENDED.get(migration.name, ())


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str
    sha256: str


@dataclass
class MigrationReport:
    applied: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Recorded in the database but not shipped with this version of OHM."""


class MigrationError(Exception):
    pass


class ChecksumMismatch(MigrationError):
    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(
            "applied migration(s) changed since they were applied: "
            + ", ".join(names)
            + ". Migrations are never edited once shipped; restore the original file "
            "and add a new migration instead."
        )


def load_migrations() -> list[Migration]:
    """The migrations shipped in the package, in the order they apply."""
    folder = resources.files("ohm.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        if not MIGRATION_NAME.match(entry.name):
            raise MigrationError(f"badly named migration file: {entry.name}")
        raw = entry.read_bytes()
        found.append(Migration(entry.name, raw.decode("utf-8"), hashlib.sha256(raw).hexdigest()))
    found.sort(key=lambda m: m.name)
    return found


def migrate(conninfo: str, *, connect_timeout: int = 10) -> MigrationReport:
    """Apply pending migrations; a no-op when everything is applied."""
    migrations = load_migrations()
    report = MigrationReport()
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout) as conn:
        conn.execute("select pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            with conn.transaction():
                conn.execute(BOOTSTRAP_SQL)
            applied = dict(
                conn.execute("select name, sha256 from ohm.schema_migrations").fetchall()
            )
            shipped = {m.name for m in migrations}
            report.unknown = sorted(set(applied) - shipped)
            changed = [m.name for m in migrations if m.name in applied and not accepted(m, applied[m.name])]
            if changed:
                raise ChecksumMismatch(changed)
            for m in migrations:
                if m.name in applied:
                    report.already_applied.append(m.name)
                    continue
                with conn.transaction():
                    conn.execute(m.sql)
                    conn.execute(
                        "insert into ohm.schema_migrations (name, sha256) values (%s, %s)",
                        [m.name, m.sha256],
                    )
                report.applied.append(m.name)
        finally:
            if not conn.closed:  # a lost connection has released the lock already
                conn.execute("select pg_advisory_unlock(%s)", [LOCK_KEY])
    return report


def applied_migrations(conninfo: str, *, connect_timeout: int = 10) -> list[str]:
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout) as conn:
        if conn.execute("select to_regclass('ohm.schema_migrations')").fetchone()[0] is None:
            return []
        rows = conn.execute("select name from ohm.schema_migrations order by name").fetchall()
    return [r[0] for r in rows]


def set_app_role_password(conninfo: str, password: str, *, connect_timeout: int = 10) -> None:
    """Give the application login role a password (for servers that ask for one)."""
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout) as conn:
        conn.execute(
            sql.SQL("alter role {} password {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(password)
            )
        )


def _quote_tag(name: str, text: str) -> str:
    """A dollar-quote tag for ``text`` that does not occur in it."""
    tag = "ohm_" + re.sub(r"[^a-z0-9_]", "_", name.removesuffix(".sql"))
    while f"${tag}$" in text:
        tag += "_"
    return f"${tag}$"


def schema_script(since: str | None = None) -> str:
    """All migrations as one script, e.g. to paste into Supabase's SQL editor or run with ``psql -f``.

    The script does what ``ohm migrate`` does, in one transaction: it takes the
    same advisory lock (two runs queue, they do not collide), refuses a
    database where an applied file has changed, applies each file that is not
    recorded in ``ohm.schema_migrations`` yet and records it.  Run twice, the
    second run changes nothing; ``ohm migrate`` can take over at any time.
    ``since`` leaves out the files up to and including that one.
    """
    migrations = load_migrations()
    if since is not None:
        names = [m.name for m in migrations]
        if since not in names:
            raise MigrationError(f"unknown migration {since!r}; known: {', '.join(names)}")
        migrations = migrations[names.index(since) + 1 :]
    known = ",\n    ".join(
        f"('{m.name}', array[{', '.join(repr(s) for s in sorted({m.sha256, *AMENDED.get(m.name, ())}))}])"
        for m in migrations
    )
    parts = [
        "-- OHM schema: every migration in order, as one transaction.",
        "-- Generated by `ohm sql`. Safe to run again: files already applied are skipped.",
        "begin;",
        f"select pg_advisory_xact_lock({LOCK_KEY});",
        "",
        BOOTSTRAP_SQL,
        "do $ohm_checksums$",
        "declare",
        "  changed text;",
        "begin",
        "  select string_agg(r.name, ', ' order by r.name) into changed",
        "    from ohm.schema_migrations r",
        f"    join (values\n    {known}) as shipped(name, accepted) on shipped.name = r.name",
        "   where not r.sha256 = any (shipped.accepted);",
        "  if changed is not null then",
        "    raise exception 'applied migration(s) changed since they were applied: %', changed",
        "      using hint = 'Migrations are never edited once shipped; restore the original file and add a new one.';",
        "  end if;",
        "end",
        "$ohm_checksums$;",
        "",
    ]
    for m in migrations:
        outer, inner = _quote_tag("run_" + m.name, m.sql), _quote_tag(m.name, m.sql)
        parts.append(f"-- ===== {m.name} (sha256 {m.sha256}) =====")
        parts.append(
            f"do {outer}\nbegin\n"
            f"  if exists (select from ohm.schema_migrations where name = '{m.name}') then\n"
            f"    return;\n  end if;\n"
            f"  execute {inner}\n{m.sql.rstrip()}\n{inner};\n"
            f"  insert into ohm.schema_migrations (name, sha256) values ('{m.name}', '{m.sha256}');\n"
            f"end\n{outer};\n"
        )
    parts.append("commit;")
    return "\n".join(parts) + "\n"
