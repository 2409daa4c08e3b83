"""The auth shim changes nothing where Supabase's objects already exist.

The database below is dressed as a Supabase project: `auth` schema, a full
`auth.users` and Supabase's own auth.uid()/role()/jwt()/email(), all owned by
supabase_auth_admin, plus an event trigger that refuses CREATE/ALTER/DROP in
`auth` the way Supabase does (triggers on auth.users stay allowed, as on
Supabase).  Migrating must succeed and leave every auth object as it was.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from ohm.db.migrate import migrate

SUPABASE_AUTH = r"""
do $$
begin
  if not exists (select from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end $$;

create schema auth authorization supabase_auth_admin;
grant usage on schema auth to anon, authenticated, service_role;

create table auth.users (
  instance_id uuid,
  id uuid not null primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  recovery_token varchar(255),
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  banned_until timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
create unique index users_email_partial_key on auth.users (email) where is_sso_user = false;
alter table auth.users owner to supabase_auth_admin;

create function auth.uid() returns uuid language sql stable as $f$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$f$;
create function auth.role() returns text language sql stable as $f$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$f$;
create function auth.jwt() returns jsonb language sql stable as $f$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$f$;
create function auth.email() returns text language sql stable as $f$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$f$;
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;

-- Supabase refuses schema changes in `auth` to everyone but its auth service.
create function public.supabase_sim_refuse_auth_ddl() returns event_trigger
  language plpgsql as $f$
declare
  cmd record;
begin
  for cmd in select * from pg_event_trigger_ddl_commands() loop
    if cmd.schema_name = 'auth' and cmd.command_tag <> 'CREATE TRIGGER' then
      raise exception 'permission denied for schema auth (% %)', cmd.command_tag, cmd.object_identity;
    end if;
  end loop;
end
$f$;
create event trigger supabase_sim_guard on ddl_command_end
  execute function public.supabase_sim_refuse_auth_ddl();
"""

SNAPSHOT_QUERIES = {
    "functions": """select p.oid::bigint, p.proname, pg_get_functiondef(p.oid), p.proowner::regrole::text,
                           coalesce(p.proacl::text, '')
                      from pg_proc p where p.pronamespace = 'auth'::regnamespace order by p.proname""",
    "schema": """select nspowner::regrole::text, coalesce(nspacl::text, '')
                   from pg_namespace where nspname = 'auth'""",
    "users_table": """select oid::bigint, relowner::regrole::text, coalesce(relacl::text, ''), relrowsecurity
                        from pg_class where oid = 'auth.users'::regclass""",
    "users_columns": """select attname, format_type(atttypid, atttypmod), attnotnull
                          from pg_attribute where attrelid = 'auth.users'::regclass and attnum > 0
                           and not attisdropped order by attnum""",
    "users_indexes": "select indexname, indexdef from pg_indexes where schemaname = 'auth' order by 1",
    "auth_tables": "select relname from pg_class where relnamespace = 'auth'::regnamespace order by 1",
}


def snapshot(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in SNAPSHOT_QUERIES.items()}


@pytest.fixture
def supabase_like(new_database) -> str:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SUPABASE_AUTH)
    return url


def test_the_simulated_supabase_really_refuses_creates_in_auth(supabase_like):
    with psycopg.connect(supabase_like) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="permission denied for schema auth"):
            conn.execute("create function auth.extra() returns int language sql as 'select 1'")


def test_migrating_a_supabase_project_leaves_every_auth_object_alone(supabase_like):
    existing_user = uuid.uuid4()
    with psycopg.connect(supabase_like) as conn:
        conn.execute(
            "insert into auth.users (id, email, raw_user_meta_data) values (%s, 'early@example.com', '{}')",
            (existing_user,),
        )
    before = snapshot(supabase_like)

    report = migrate(supabase_like)

    assert "0001_roles_and_auth.sql" in report.applied
    assert snapshot(supabase_like) == before
    with psycopg.connect(supabase_like) as conn:
        triggers = [r[0] for r in conn.execute(
            "select tgname from pg_trigger where tgrelid = 'auth.users'::regclass and not tgisinternal order by 1"
        )]
        # The documented Supabase pattern: OHM adds its triggers on auth.users, nothing else.
        assert triggers == ["ohm_on_auth_user_created", "ohm_on_auth_user_email_changed"]
        # A user who signed up before OHM was installed got a profile.
        assert conn.execute("select email from public.profiles where id = %s", (existing_user,)).fetchone() == (
            "early@example.com",
        )


def test_sign_ups_by_supabase_auth_create_profiles(supabase_like):
    migrate(supabase_like)
    new_user = uuid.uuid4()
    with psycopg.connect(supabase_like) as conn:
        # Supabase Auth writes auth.users as supabase_auth_admin, which has no
        # rights on public.profiles and no access to OHM's internal schema.
        conn.execute("set role supabase_auth_admin")
        conn.execute(
            """insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at)
               values (%s, 'authenticated', 'authenticated', 'new@example.com', '{"full_name": "New Maker"}',
                       now(), now())""",
            (new_user,),
        )
        conn.execute("update auth.users set email = 'renamed@example.com' where id = %s", (new_user,))
        conn.execute("reset role")
        row = conn.execute("select email, display_name from public.profiles where id = %s", (new_user,)).fetchone()
    assert row == ("renamed@example.com", "New Maker")
