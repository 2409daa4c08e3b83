"""Migrations: ordered, idempotent, checksum-guarded, safe to run concurrently."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from ohm.db.migrate import PRE_RELEASE, ChecksumMismatch, PreReleaseDatabase, load_migrations, migrate, schema_script


def recorded(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("select name, sha256 from ohm.schema_migrations order by name").fetchall()


def test_files_are_numbered_in_order_and_shipped_in_the_package():
    names = [m.name for m in load_migrations()]
    assert names[0] == "0001_roles_and_auth.sql"
    assert names == sorted(names)
    numbers = [int(n[:4]) for n in names]
    assert numbers == list(range(1, len(names) + 1)), "no gaps, no duplicates"


def test_fresh_database_gets_every_file_then_a_second_run_is_a_noop(new_database):
    url = new_database()
    first = migrate(url)
    assert first.applied == [m.name for m in load_migrations()]
    assert first.already_applied == []
    second = migrate(url)
    assert second.applied == []
    assert second.already_applied == first.applied
    assert recorded(url) == [(m.name, m.sha256) for m in load_migrations()]


def test_a_changed_applied_file_stops_the_run(new_database):
    url = new_database()
    migrate(url)
    # The database remembers a different checksum for one file, exactly what
    # it would see if that file had been edited after it was applied.
    with psycopg.connect(url) as conn:
        conn.execute("update ohm.schema_migrations set sha256 = repeat('0', 64) where name = '0007_sharing.sql'")
        conn.execute("delete from ohm.schema_migrations where name = '0009_realtime.sql'")
    with pytest.raises(ChecksumMismatch) as info:
        migrate(url)
    assert info.value.names == ["0007_sharing.sql"]
    # Nothing after the mismatch ran: the deleted record was not re-applied.
    assert "0009_realtime.sql" not in dict(recorded(url))


def test_the_cli_reports_a_checksum_mismatch_with_exit_code_2(new_database):
    url = new_database()
    migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute("update ohm.schema_migrations set sha256 = repeat('0', 64) where name = '0002_profiles.sql'")
    result = subprocess.run([sys.executable, "-m", "ohm", "migrate", "--database-url", url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "0002_profiles.sql" in result.stderr
    assert "changed since they were applied" in " ".join(result.stderr.split())


def pre_release_database(url: str) -> None:
    """A database as the pre-release files left it: their records, and one of their tables."""
    with psycopg.connect(url) as conn:
        conn.execute("create schema ohm")
        conn.execute("create table ohm.schema_migrations (name text primary key, sha256 text not null, "
                     "applied_at timestamptz not null default now(), applied_by text not null default current_user)")
        for name in sorted(PRE_RELEASE):
            conn.execute("insert into ohm.schema_migrations (name, sha256) values (%s, repeat('a', 64))", (name,))
        conn.execute("create table public.chats (id uuid primary key)")


def test_a_database_of_the_pre_release_files_is_refused_in_one_line_and_left_alone(new_database):
    url = new_database()
    pre_release_database(url)
    before = recorded(url)
    with pytest.raises(PreReleaseDatabase):
        migrate(url)
    result = subprocess.run([sys.executable, "-m", "ohm", "migrate", "--database-url", url],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "300"})
    assert result.returncode == 2
    message = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(message) == 1, result.stderr
    assert "pre-release" in message[0] and "fresh database" in message[0]
    assert recorded(url) == before
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regclass('public.messages')").fetchone() == (None,)
    # The pasted script refuses too, in its one transaction.
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="pre-release"):
            conn.execute(schema_script())
    assert recorded(url) == before


def test_no_baseline_file_reuses_a_pre_release_name():
    assert not PRE_RELEASE & {m.name for m in load_migrations()}


def test_unknown_applied_migrations_are_reported(new_database):
    url = new_database()
    migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute("insert into ohm.schema_migrations (name, sha256) values ('9999_future.sql', 'x')")
    report = migrate(url)
    assert report.unknown == ["9999_future.sql"]
    assert report.applied == []


def test_concurrent_migrate_runs_do_not_collide(new_database):
    url = new_database()
    env = {**os.environ, "OHM_DATABASE_URL": url}
    procs = [
        subprocess.Popen([sys.executable, "-m", "ohm", "migrate"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [o[1] for o in outputs]
    # Exactly one run applied the files; the others waited for the lock and
    # found nothing to do.
    appliers = [o[0] for o in outputs if "applied 0001_roles_and_auth.sql" in o[0]]
    assert len(appliers) == 1
    assert sum("up to date" in o[0] for o in outputs) == 3
    assert recorded(url) == [(m.name, m.sha256) for m in load_migrations()]


def catalog(url: str) -> dict[str, list]:
    """What the schema consists of, for comparing two databases."""
    with psycopg.connect(url) as conn:
        return {
            "columns": conn.execute(
                """select table_schema, table_name, column_name, data_type, is_nullable, column_default
                     from information_schema.columns
                    where table_schema in ('public', 'auth', 'ohm')
                    order by 1, 2, 3"""
            ).fetchall(),
            "policies": conn.execute(
                "select tablename, policyname, cmd, roles::text, qual, with_check from pg_policies order by 1, 2"
            ).fetchall(),
            "indexes": conn.execute(
                "select indexname, indexdef from pg_indexes where schemaname in ('public', 'ohm') order by 1"
            ).fetchall(),
            "triggers": conn.execute(
                "select tgrelid::regclass::text, tgname from pg_trigger where not tgisinternal order by 1, 2"
            ).fetchall(),
            "migrations": conn.execute("select name, sha256 from ohm.schema_migrations order by 1").fetchall(),
        }


def test_ohm_sql_builds_the_same_schema_and_migrate_takes_over(new_database):
    migrated, pasted = new_database(), new_database()
    migrate(migrated)
    with psycopg.connect(pasted, autocommit=True) as conn:
        conn.execute(schema_script())
    assert catalog(pasted) == catalog(migrated)
    assert migrate(pasted).applied == []


def test_ohm_sql_since_prints_only_later_files():
    script = schema_script(since="0007_sharing.sql")
    assert "0008_search.sql" in script
    assert "0007_sharing.sql (sha256" not in script
    assert "create table public.chats" not in script


def test_a_fresh_database_is_exactly_schema_sql(new_database):
    """src/ohm/db/schema.sql is the whole schema in one readable file, generated from the catalog; a fresh
    database migrated from the files must describe exactly as it does, so the two can never drift (after a
    schema change: python -m ohm.db.catalog <owner DSN> > src/ohm/db/schema.sql)."""
    from importlib import resources

    from ohm.db.catalog import describe

    url = new_database()
    migrate(url)
    with psycopg.connect(url) as conn:
        described = describe(conn)
    committed = resources.files("ohm.db").joinpath("schema.sql").read_text()
    if described != committed:
        import difflib

        diff = "".join(difflib.unified_diff(committed.splitlines(True), described.splitlines(True),
                                            "schema.sql (committed)", "a fresh database", n=1))
        raise AssertionError(f"schema.sql is not what the migrations make:\n{diff[:6000]}")
