-- Profiles: one row per auth user, created by a trigger on auth.users (as on
-- Supabase), with usage statistics kept by the triggers on messages.

create type public.subscription_tier as enum ('free', 'pro', 'team', 'enterprise');

create table public.profiles (
  id                  uuid primary key references auth.users (id) on delete cascade,
  email               text,
  display_name        text check (char_length(display_name) <= 200),
  avatar_url          text check (char_length(avatar_url) <= 2048),
  preferences         jsonb not null default '{}'::jsonb
                        check (jsonb_typeof(preferences) = 'object'
                               and octet_length(preferences::text) <= 65536),
  subscription_tier   public.subscription_tier not null default 'free',
  -- Statistics, maintained by triggers on messages; not writable by users.
  -- A fork's copies (messages.is_copy) count in message_count only.
  message_count       bigint not null default 0 check (message_count >= 0),
  total_input_tokens  bigint not null default 0 check (total_input_tokens >= 0),
  total_output_tokens bigint not null default 0 check (total_output_tokens >= 0),
  total_cost_usd      numeric(16, 6) not null default 0 check (total_cost_usd >= 0),
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  -- JSON is at most 64 levels deep: the item at level 65 does not exist
  -- (level 0 is the value itself).  Deeper JSON made every later read fail.
  constraint profiles_preferences_depth check (not jsonb_path_exists(preferences, '$.**{65}'))
);

comment on table public.profiles is
  'One row per auth user (same id), created by a trigger on auth.users; usage stats kept by triggers.';

create index idx_profiles_email on public.profiles (lower(email));

create trigger profiles_set_updated_at
  before update on public.profiles
  for each row execute function ohm.set_updated_at();

-- A new auth user gets a profile, whoever inserted the user (Supabase Auth's
-- supabase_auth_admin, `ohm user create`, ...).
create function ohm.handle_new_auth_user() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  insert into public.profiles (id, email, display_name)
  values (
    new.id,
    new.email,
    left(coalesce(
      nullif(new.raw_user_meta_data ->> 'display_name', ''),
      nullif(new.raw_user_meta_data ->> 'full_name', ''),
      nullif(new.raw_user_meta_data ->> 'name', ''),
      nullif(split_part(new.email, '@', 1), '')
    ), 200)
  )
  on conflict (id) do nothing;
  return new;
end
$$;

create function ohm.handle_auth_user_email_change() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update public.profiles set email = new.email where id = new.id;
  return new;
end
$$;

alter function ohm.handle_new_auth_user() owner to ohm_definer;
alter function ohm.handle_auth_user_email_change() owner to ohm_definer;

do $triggers$
begin
  if not exists (
    select from pg_catalog.pg_trigger
    where tgrelid = 'auth.users'::regclass and tgname = 'ohm_on_auth_user_created'
  ) then
    create trigger ohm_on_auth_user_created
      after insert on auth.users
      for each row execute function ohm.handle_new_auth_user();
  end if;
  if not exists (
    select from pg_catalog.pg_trigger
    where tgrelid = 'auth.users'::regclass and tgname = 'ohm_on_auth_user_email_changed'
  ) then
    create trigger ohm_on_auth_user_email_changed
      after update of email on auth.users
      for each row when (old.email is distinct from new.email)
      execute function ohm.handle_auth_user_email_change();
  end if;
end
$triggers$;

-- Users that existed before OHM was installed (an existing Supabase project).
-- Done before RLS is forced: the migration owner has no policy of its own.
insert into public.profiles (id, email)
select u.id, u.email from auth.users u
on conflict (id) do nothing;

alter table public.profiles enable row level security;
alter table public.profiles force row level security;

create policy profiles_select_own on public.profiles
  for select to authenticated
  using (id = (select auth.uid()));

create policy profiles_update_own on public.profiles
  for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));

-- The profile trigger and the message counters.
create policy profiles_definer on public.profiles
  for all to ohm_definer
  using (true) with check (true);

revoke all on public.profiles from anon, authenticated, public;
grant select on public.profiles to authenticated;
grant update (display_name, avatar_url, preferences) on public.profiles to authenticated;
grant select, insert, update on public.profiles to ohm_definer;
grant all on public.profiles to service_role;

revoke execute on all functions in schema ohm from public;
