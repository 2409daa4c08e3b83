"""OHM on Supabase, tried the way a Supabase user tries it.

The database comes from ``start-supabase-pg`` (see conftest): Supabase's own
init scripts and migrations, Supabase Auth's and Storage's migrations, with
``postgres`` demoted exactly as on a hosted project (not a superuser).  The
install runs as that ``postgres``; a front end reaches the tables as PostgREST
does (tests/test_direct_access.py and tests/test_rls.py run on it too).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from ohm.auth import Identity
from ohm.db.migrate import load_migrations, migrate, schema_script

from .conftest import SupabaseCluster, acting, supabase_user_maker

# What Supabase owns and OHM must leave exactly as it was: definitions, owners, privileges, policies.
SUPABASE_OBJECTS = {
    "auth functions": """select p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid),
                                p.proowner::regrole::text, coalesce(p.proacl::text, '')
                           from pg_proc p where p.pronamespace = 'auth'::regnamespace order by 1, 2""",
    "auth, storage, realtime, extensions schemas": """
        select nspname, nspowner::regrole::text, coalesce(nspacl::text, '') from pg_namespace
         where nspname in ('auth', 'storage', 'realtime', 'extensions') order by 1""",
    "their tables": """select c.oid::regclass::text, c.relowner::regrole::text, coalesce(c.relacl::text, ''),
                              c.relrowsecurity, c.relforcerowsecurity, c.relreplident
                         from pg_class c
                        where c.relnamespace in ('auth'::regnamespace, 'storage'::regnamespace)
                          and c.relkind in ('r', 'p', 'v') order by 1""",
    "their columns": """select a.attrelid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod),
                               a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
                          from pg_attribute a join pg_class c on c.oid = a.attrelid
                          left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
                         where c.relnamespace in ('auth'::regnamespace, 'storage'::regnamespace)
                           and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped order by 1, 2""",
    "their constraints and indexes": """
        select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint
         where connamespace in ('auth'::regnamespace, 'storage'::regnamespace)
        union all
        select tablename, indexname, indexdef from pg_indexes where schemaname in ('auth', 'storage')
        order by 1, 2""",
    "their triggers": """select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) from pg_trigger
                          where not tgisinternal and tgname not like 'ohm\\_%'
                            and tgrelid in (select oid from pg_class
                                             where relnamespace in ('auth'::regnamespace, 'storage'::regnamespace))
                          order by 1, 2""",
    "their policies": """select schemaname, tablename, policyname, cmd, roles::text, qual, with_check from pg_policies
                          where schemaname in ('auth', 'storage') and policyname not like 'ohm\\_%' order by 1, 2, 3""",
    "roles": """select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls,
                       coalesce(rolconfig::text, '')
                  from pg_roles where rolname in ('postgres', 'anon', 'authenticated', 'service_role', 'authenticator',
                                                  'supabase_auth_admin', 'supabase_storage_admin')
                 order by 1""",
    "publication": "select pubname, pubowner::regrole::text, puballtables, pubinsert, pubupdate, pubdelete "
                   "from pg_publication order by 1",
    "event triggers": "select evtname, evtevent, evtfoid::regproc::text, evtenabled from pg_event_trigger order by 1",
    "auth users": "select id, email from auth.users order by id",
}


def snapshot(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in SUPABASE_OBJECTS.items()}


def test_the_cluster_is_shaped_like_a_hosted_project(supabase: SupabaseCluster):
    with psycopg.connect(supabase.url()) as conn:
        postgres = conn.execute("select rolsuper, rolcreaterole, rolbypassrls from pg_roles "
                                "where rolname = current_user").fetchone()
        assert postgres == (False, True, True), "postgres is no superuser, as on supabase.com"
        assert conn.execute("select count(*) from pg_publication where pubname = 'supabase_realtime'").fetchone()[0]
        assert conn.execute("select to_regclass('storage.objects') is not null").fetchone()[0]


def test_install_as_postgres_then_a_second_run_is_a_noop_and_supabase_stays_as_it_was(supabase: SupabaseCluster):
    url = supabase.fresh_database()
    early = supabase_user_maker(url)("early")  # a project with users before OHM
    before = snapshot(url)
    first = migrate(url)
    assert first.applied == [m.name for m in load_migrations()]
    second = migrate(url)
    assert second.applied == [] and second.already_applied == first.applied
    assert snapshot(url) == before
    with psycopg.connect(url) as conn:
        # Supabase's documented pattern: OHM adds its triggers on auth.users and nothing else there.
        triggers = [r[0] for r in conn.execute("select tgname from pg_trigger where tgrelid = 'auth.users'::regclass "
                                               "and tgname like 'ohm%' order by 1")]
        assert triggers == ["ohm_on_auth_user_created", "ohm_on_auth_user_email_changed"]
        assert conn.execute("select email from profiles where id = %s", (early.id,)).fetchone() == (early.email,)


def test_concurrent_installs_queue_instead_of_colliding(supabase: SupabaseCluster):
    url = supabase.fresh_database()
    env = {**os.environ, "OHM_DATABASE_URL": url}
    procs = [subprocess.Popen([sys.executable, "-m", "ohm", "migrate"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1] for o in outputs]
    assert sum("applied 0001_roles_and_auth.sql" in o[0] for o in outputs) == 1
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from ohm.schema_migrations").fetchone()[0] == len(load_migrations())


def psql_file(url: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", path],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql (the PostgreSQL client) is not installed")
def test_ohm_sql_pasted_as_postgres_installs_once_even_twice_at_a_time(supabase: SupabaseCluster, tmp_path):
    script = tmp_path / "ohm.sql"
    script.write_text(schema_script())
    url = supabase.fresh_database()
    before = snapshot(url)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: psql_file(url, str(script)), range(2)))
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    again = psql_file(url, str(script))
    assert again.returncode == 0, again.stderr
    assert snapshot(url) == before
    with psycopg.connect(url) as conn:
        recorded = conn.execute("select name, sha256 from ohm.schema_migrations order by 1").fetchall()
    assert recorded == [(m.name, m.sha256) for m in load_migrations()]
    assert migrate(url).applied == [], "ohm migrate takes over from the pasted script"


def test_a_changed_file_stops_the_pasted_script(supabase: SupabaseCluster, tmp_path):
    url = supabase.fresh_database()
    migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute("update ohm.schema_migrations set sha256 = repeat('0', 64) where name = '0007_sharing.sql'")
    script = tmp_path / "ohm.sql"
    script.write_text(schema_script())
    result = psql_file(url, str(script))
    assert result.returncode != 0 and "0007_sharing.sql" in result.stderr


def test_a_database_of_the_pre_release_files_is_refused_by_the_pasted_script(supabase: SupabaseCluster, tmp_path):
    """The baseline replaced 28 pre-release files: a database that ran them is refused in one line, and the
    script changes nothing there."""
    url = supabase.fresh_database()
    with psycopg.connect(url) as conn:
        conn.execute("create schema ohm")
        conn.execute("create table ohm.schema_migrations (name text primary key, sha256 text not null, "
                     "applied_at timestamptz not null default now(), applied_by text not null default current_user)")
        conn.execute("insert into ohm.schema_migrations (name, sha256) values ('0001_auth_shim.sql', 'x')")
    script = tmp_path / "ohm.sql"
    script.write_text(schema_script())
    result = psql_file(url, str(script))
    assert result.returncode != 0 and "pre-release schema" in result.stderr and "fresh database" in result.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regclass('public.chats')").fetchone() == (None,)
        assert conn.execute("select count(*) from ohm.schema_migrations").fetchone() == (1,)


# --- Realtime ----------------------------------------------------------------------------------------------------


WATCHED = {"chats", "messages", "artifacts", "artifact_versions", "attachments", "projects"}


def test_the_tables_a_front_end_watches_are_in_supabase_realtime(supabase_url):
    with psycopg.connect(supabase_url) as conn:
        published = {r[0] for r in conn.execute(
            "select tablename from pg_publication_tables "
            "where pubname = 'supabase_realtime' and schemaname = 'public'")}
        identities = dict(conn.execute(
            "select relname, relreplident from pg_class where relnamespace = 'public'::regnamespace "
            "and relname = any(%s)", (list(WATCHED),)).fetchall())
    assert published == WATCHED
    assert identities == {t: "f" for t in WATCHED}, "REPLICA IDENTITY FULL: updates and deletes carry the old row"


def test_elsewhere_realtime_is_left_alone(database_url):
    with psycopg.connect(database_url) as conn:
        if conn.execute("select count(*) from pg_publication where pubname = 'supabase_realtime'").fetchone()[0]:
            pytest.skip("this server has a supabase_realtime publication")
        identities = {r[0] for r in conn.execute(
            "select relreplident from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r'")}
    assert identities == {"d"}


# --- Storage -------------------------------------------------------------------------------------------------------


def test_uploads_bucket_is_private_and_each_user_has_only_their_own_folder(supabase_url):
    url_as_api = make_conninfo(supabase_url, user="authenticator")
    maker = supabase_user_maker(supabase_url)
    alice, bob = maker("alice"), maker("bob")
    with psycopg.connect(supabase_url) as conn:
        assert conn.execute("select public, file_size_limit from storage.buckets where id = 'ohm-uploads'"
                            ).fetchone() == (False, 25 * 1024 * 1024)

    def insert(identity: Identity, name: str) -> None:
        with acting(url_as_api, identity) as conn:
            conn.execute("insert into storage.objects (bucket_id, name, owner_id) values ('ohm-uploads', %s, %s)",
                         (name, str(identity.user_id) if identity.user_id else None))

    def names(identity: Identity) -> set[str]:
        with acting(url_as_api, identity) as conn:
            return {r["name"] for r in conn.execute("select name from storage.objects where bucket_id = 'ohm-uploads'")}

    insert(alice.identity, f"{alice.id}/circuit.jpg")
    insert(bob.identity, f"{bob.id}/datasheet.pdf")
    for identity, name in ((bob.identity, f"{alice.id}/planted.jpg"), (alice.identity, "loose-file.jpg"),
                           (alice.identity, f"{alice.id}"), (Identity.anon(), f"{alice.id}/anon.jpg")):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            insert(identity, name)
    assert names(alice.identity) == {f"{alice.id}/circuit.jpg"}
    assert names(bob.identity) == {f"{bob.id}/datasheet.pdf"}
    assert names(Identity.anon()) == set()
    # Deletes as the Storage API makes them (it lifts Storage's own guard against direct deletes first).
    allow_delete = "select set_config('storage.allow_delete_query', 'true', true)"
    with acting(url_as_api, bob.identity) as conn:
        assert conn.execute("update storage.objects set name = %s where name = %s",
                            (f"{bob.id}/stolen.jpg", f"{alice.id}/circuit.jpg")).rowcount == 0
        conn.execute(allow_delete)
        assert conn.execute("delete from storage.objects where name = %s", (f"{alice.id}/circuit.jpg",)).rowcount == 0
    with acting(url_as_api, alice.identity) as conn:
        conn.execute(allow_delete)
        assert conn.execute("delete from storage.objects where name = %s", (f"{alice.id}/circuit.jpg",)).rowcount == 1


def test_a_server_without_storage_gets_no_bucket(database_url):
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        if conn.execute("select to_regclass('storage.buckets') as t").fetchone()["t"] is not None:
            pytest.skip("this server has Supabase Storage")
        assert conn.execute("select count(*) as n from pg_namespace where nspname = 'storage'").fetchone()["n"] == 0
