-- 0002 roles OHM adds on every server, Supabase included.
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

-- The internal schema holds the migration bookkeeping and OHM's functions.
-- It is not part of any API: PostgREST exposes `public`, OHM's HTTP API its
-- own routes.
revoke all on schema ohm from public;
grant usage on schema ohm to ohm_definer;
-- ALTER FUNCTION ... OWNER TO ohm_definer needs the new owner to hold CREATE
-- on the function's schema.  A superuser skips that check; Supabase's
-- `postgres`, which is not one, does not.
grant create on schema ohm to ohm_definer;
grant usage on schema public to anon, authenticated, service_role, ohm_definer;
