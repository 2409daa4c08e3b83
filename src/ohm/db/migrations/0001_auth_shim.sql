-- 0001 auth shim: the Supabase objects OHM's policies rely on, created only
-- where they are missing.
--
-- On Supabase every object below already exists and this file changes
-- nothing (Supabase refuses CREATE in its `auth` schema, so every CREATE is
-- guarded by a catalog check, never by IF NOT EXISTS, which still checks
-- privileges first).  On plain PostgreSQL and on the embedded server it
-- creates what Supabase would have: the three API roles, the `auth` schema, a
-- minimal `auth.users` table and auth.uid() / auth.role() / auth.jwt() /
-- auth.email(), which read the request's JWT claims exactly as PostgREST
-- hands them over (`request.jwt.claims`, per transaction).

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
