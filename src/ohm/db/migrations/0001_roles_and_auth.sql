-- Roles, the auth shim, and what every later file relies on.
--
-- OHM's schema is ten files, one per domain, each object defined once:
--   0001 roles and auth shim      0006 files and analyses
--   0002 profiles                 0007 sharing and forks
--   0003 chats and messages       0008 search
--   0004 artifacts                0009 realtime
--   0005 projects and hardware    0010 costs and activity
-- Later changes are new files on top.  src/ohm/db/schema.sql is the whole
-- result in one place, generated from the catalog.
--
-- The auth shim: the Supabase objects OHM's policies rely on, created only
-- where they are missing.  On Supabase every one already exists and this
-- changes nothing (Supabase refuses CREATE in its `auth` schema, so every
-- CREATE is guarded by a catalog check, never by IF NOT EXISTS, which still
-- checks privileges first).  On plain PostgreSQL and on the embedded server
-- it creates what Supabase would have: the three API roles, the `auth`
-- schema, a minimal `auth.users` table and auth.uid() / auth.role() /
-- auth.jwt() / auth.email(), which read the request's JWT claims exactly as
-- PostgREST hands them over (`request.jwt.claims`, per transaction).

do $shim$
begin
  -- Roles are cluster-wide: another database on the same server may be
  -- creating them right now, so a lost race is not an error.
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
      create role anon nologin noinherit;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
      create role authenticated nologin noinherit;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
      create role service_role nologin noinherit bypassrls;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;

  if not exists (select from pg_catalog.pg_namespace where nspname = 'auth') then
    create schema auth;
    grant usage on schema auth to anon, authenticated, service_role;
  end if;

  if to_regclass('auth.users') is null then
    -- The columns OHM reads, named and typed as Supabase's auth.users.
    create table auth.users (
      id                 uuid primary key default gen_random_uuid(),
      aud                varchar(255) default 'authenticated',
      role               varchar(255) default 'authenticated',
      email              varchar(255),
      raw_app_meta_data  jsonb default '{}'::jsonb,
      raw_user_meta_data jsonb default '{}'::jsonb,
      created_at         timestamptz default now(),
      updated_at         timestamptz default now(),
      deleted_at         timestamptz
    );
    create unique index users_email_key on auth.users (lower(email));
    grant select, insert, update, delete on auth.users to service_role;
  end if;

  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
      language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $fn$;
    grant execute on function auth.uid() to anon, authenticated, service_role;
  end if;

  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
      language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $fn$;
    grant execute on function auth.role() to anon, authenticated, service_role;
  end if;

  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
      language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $fn$;
    grant execute on function auth.jwt() to anon, authenticated, service_role;
  end if;

  if to_regprocedure('auth.email()') is null then
    create function auth.email() returns text
      language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
      )::text
    $fn$;
    grant execute on function auth.email() to anon, authenticated, service_role;
  end if;
end
$shim$;

-- Roles OHM adds on every server, Supabase included.
--
-- ohm_authenticator  the LOGIN role the API server connects as.  It owns
--                    nothing, has no BYPASSRLS and, being NOINHERIT, has no
--                    privileges of its own: each request switches into anon,
--                    authenticated or service_role for one transaction
--                    (`set_config('role', ..., true)`), exactly as Supabase's
--                    PostgREST does with its `authenticator` role.
-- ohm_definer        NOLOGIN owner of OHM's SECURITY DEFINER functions
--                    (counters, the profile trigger, share reads).  Tables
--                    force row level security on their owner too, so instead
--                    of relying on an owner that bypasses RLS, each table
--                    grants ohm_definer exactly the rows and columns those
--                    functions need through policies `to ohm_definer`.
--                    Nobody logs in as it and no login role is granted it
--                    except the migration owner (needed to hand it functions).

do $roles$
begin
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'ohm_authenticator') then
      create role ohm_authenticator login noinherit nosuperuser nocreatedb nocreaterole nobypassrls;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'ohm_definer') then
      create role ohm_definer nologin noinherit nosuperuser nocreatedb nocreaterole nobypassrls;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;

  if not pg_catalog.pg_has_role('ohm_authenticator', 'anon', 'MEMBER') then
    grant anon to ohm_authenticator;
  end if;
  if not pg_catalog.pg_has_role('ohm_authenticator', 'authenticated', 'MEMBER') then
    grant authenticated to ohm_authenticator;
  end if;
  if not pg_catalog.pg_has_role('ohm_authenticator', 'service_role', 'MEMBER') then
    grant service_role to ohm_authenticator;
  end if;
  -- The migration owner must be able to SET ROLE ohm_definer to give it
  -- functions (ALTER FUNCTION ... OWNER TO).  Superusers already can.
  if current_setting('server_version_num')::int >= 160000 then
    if not pg_catalog.pg_has_role(current_user, 'ohm_definer', 'SET') then
      execute format('grant ohm_definer to %I with set true', current_user);
    end if;
  elsif not pg_catalog.pg_has_role(current_user, 'ohm_definer', 'MEMBER') then
    execute format('grant ohm_definer to %I', current_user);
  end if;
end
$roles$;

-- The API role is never passwordless: on a server that lets a role without a
-- password log in (trust), it could become service_role.  Where this file may
-- read pg_authid (a superuser), a role without a password gets a random one
-- nobody knows; `ohm migrate` / `ohm serve` then set OHM_APP_DB_PASSWORD's,
-- and the embedded server keeps its own in the data dir.  (A password is
-- ignored where pg_hba trusts.)
do $password$
begin
  if exists (select from pg_catalog.pg_authid where rolname = 'ohm_authenticator' and rolpassword is null) then
    execute format('alter role ohm_authenticator password %L',
                   encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex'));
  end if;
exception when insufficient_privilege then
  null;  -- not a superuser (Supabase's postgres): the owner sets it (docs/supabase.md)
end
$password$;

-- The internal schema `ohm` (created by the migration runner, which keeps its
-- bookkeeping there) holds OHM's functions and internal tables.  It is not
-- part of any API: PostgREST exposes `public`, OHM's HTTP API its own routes.
-- Its functions are internal unless granted one by one: each file ends by
-- taking EXECUTE away from PUBLIC (which new functions get by default).
revoke all on schema ohm from public;
grant usage on schema ohm to ohm_definer, ohm_authenticator, anon, authenticated, service_role;
-- ALTER FUNCTION ... OWNER TO ohm_definer needs the new owner to hold CREATE
-- on the function's schema.  A superuser skips that check; Supabase's
-- `postgres`, which is not one, does not.
grant create on schema ohm to ohm_definer;
grant usage on schema public to anon, authenticated, service_role, ohm_definer;

-- What takes more than one table is a function in `public`, the schema
-- PostgREST exposes, so a front end calls it with supabase.rpc() and OHM's
-- own API calls the same function (one implementation of each): sharing and
-- forking (0007), restoring a version (0004), search (0008), usage (0010).
-- They are SECURITY INVOKER: they run as the caller, under the caller's
-- row-level security, like any other statement of theirs.  What the caller
-- may not read themselves (a share's rows, another user's share count) goes
-- through SECURITY DEFINER functions of schema `ohm`, which check the token.
-- Errors carry PostgREST's status codes: SQLSTATE PT404 is a 404, PT409 a
-- 409, PT413 a 413, PT422 a 422, PT429 a 429; 42501 (not allowed) a 401/403.
-- Parameter names are the JSON keys of supabase.rpc(); in the bodies they are
-- always written qualified with the function's name.  New functions in
-- `public` are executable by PUBLIC, and on Supabase also by anon and
-- authenticated (its default privileges): each is taken from them and
-- granted to its callers.

-- The signed-in user, read the way auth.uid() reads it, for definer
-- functions (whose owner has no business in the auth schema).
create function ohm.request_user_id() returns uuid
  language sql stable
  set search_path = ''
as $$
  select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
$$;
alter function ohm.request_user_id() owner to ohm_definer;

-- `updated_at` maintenance for every table that has one.  Runs as the
-- caller: it only touches the row being written.
create function ohm.set_updated_at() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;

-- Refuses UPDATE/DELETE on history tables.  A DELETE that is cascading from
-- the parent row is allowed: the RI trigger runs one trigger level deeper.
create function ohm.refuse_history_change() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and pg_catalog.pg_trigger_depth() > 1 then
    return old;
  end if;
  raise exception '% rows are immutable: % refused', tg_table_name, lower(tg_op)
    using errcode = 'restrict_violation',
          hint = 'write a new row instead; history is never rewritten';
end
$$;

-- Budgets the database enforces, so that writes through supabase-js meet
-- them as writes through OHM's API do.  The owner changes a value with
-- UPDATE; SQLSTATE PT413 / PT429 (PostgREST's 413 and 429) say one ran out.
create table ohm.limits (
  name        text primary key,
  value       bigint not null check (value >= 0),
  description text not null
);
comment on table ohm.limits is 'Budgets the database enforces; change a value with UPDATE as the owner.';
insert into ohm.limits (name, value, description) values
  ('messages_per_user', 1000000, 'messages one user may have in all (413 beyond)'),
  ('forks_per_hour', 30, 'forks one user may make in a rolling hour (429 beyond)'),
  ('fork_messages', 5000, 'messages one fork may copy (413 beyond: fork up to an earlier message)'),
  ('bom_parts', 1000, 'parts in one BOM version'),
  ('wiring_connections', 2000, 'connections in one wiring version'),
  ('code_files', 200, 'files in one code version');
alter table ohm.limits enable row level security;
alter table ohm.limits force row level security;
create policy limits_read on ohm.limits for select to ohm_definer, authenticated, service_role using (true);
grant select on ohm.limits to ohm_definer, authenticated, service_role;

revoke execute on all functions in schema ohm from public;
