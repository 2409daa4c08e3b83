"""Apply the SQL files in ``ohm/db/migrations`` in order.

Each file runs in its own transaction, under a session-level advisory lock so
that two ``ohm migrate`` runs against one database queue instead of colliding.
Applied files are recorded with their sha256 in ``ohm.schema_migrations``; a
file whose checksum changed after it was applied stops the run (ship a new
file instead of editing an old one).

The files 0001-0010 are the baseline, one file per domain.  They replaced the
28 files of OHM's pre-release history; a database that ran those is refused
with one line before anything is applied (``PreReleaseDatabase``).
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


# The files of the pre-release history the baseline replaced.  None of these names is reused.
PRE_RELEASE = frozenset({
    "0001_auth_shim.sql", "0002_roles.sql", "0003_types.sql", "0004_profiles.sql", "0005_projects.sql",
    "0006_chats.sql", "0007_messages.sql", "0008_artifacts.sql", "0009_hardware.sql", "0010_attachments.sql",
    "0011_sharing.sql", "0012_activity_log.sql", "0013_model_prices.sql", "0014_append_message.sql",
    "0015_linear_chats.sql", "0016_project_chats_index.sql", "0017_shares_forks.sql", "0018_search.sql",
    "0019_realtime.sql", "0020_realtime_watch.sql", "0021_uploads.sql", "0022_hardware_normalise.sql",
    "0023_costs_activity.sql", "0024_lighter_append.sql", "0025_direct_clients.sql", "0026_rpc.sql",
    "0027_supabase_realtime_storage.sql", "0028_hardening.sql",
})

PRE_RELEASE_REFUSAL = (
    "this database holds OHM's pre-release schema, which the baseline migrations replace and cannot "
    "upgrade: create a fresh database and run `ohm migrate` on it (nothing was changed here)"
)


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


class PreReleaseDatabase(MigrationError):
    def __init__(self) -> None:
        super().__init__(PRE_RELEASE_REFUSAL)


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
            applied: dict[str, str] = dict(
                conn.execute("select name, sha256 from ohm.schema_migrations").fetchall()
            )
            if PRE_RELEASE & set(applied):
                raise PreReleaseDatabase()
            shipped = {m.name for m in migrations}
            report.unknown = sorted(set(applied) - shipped)
            changed = [m.name for m in migrations if m.name in applied and applied[m.name] != m.sha256]
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
        if conn.execute("select to_regclass('ohm.schema_migrations')").fetchone() == (None,):
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
    known = ",\n    ".join(f"('{m.name}', '{m.sha256}')" for m in migrations)
    old = ", ".join(f"'{name}'" for name in sorted(PRE_RELEASE))
    refusal = PRE_RELEASE_REFUSAL.replace("'", "''")
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
        f"  if exists (select from ohm.schema_migrations where name in ({old})) then",
        f"    raise exception '{refusal}';",
        "  end if;",
        "  select string_agg(r.name, ', ' order by r.name) into changed",
        "    from ohm.schema_migrations r",
        f"    join (values\n    {known}) as shipped(name, sha256) on shipped.name = r.name",
        "   where r.sha256 <> shipped.sha256;",
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
