-- API keys for agents and services.
--
-- A user creates keys for their agents (`POST /v1/keys`): a name (the agent's, e.g. bomGenerator), scopes,
-- optionally one chat or one project the key is limited to, optionally an expiry.  The secret
-- (`ohm_sk_<id>_<43 letters and digits>`, 256 random bits after the id) is shown once; only its sha256 is kept,
-- beside the public prefix `ohm_sk_<id>` that names it in lists and logs.
--
-- A request with a key acts as its user, under the same row-level security, with the key in its claims
-- (`request.jwt.claims -> 'ohm_key'`: id, name, and the chat or project it is limited to).  The database
-- holds the key to that:
--   * `ohm.use_api_key` refuses a revoked or expired key at the start of every transaction the server
--     runs for it (and inside `ohm.append_message`), so a revocation holds on the next request in every
--     server process;
--   * restrictive policies keep a limited key to its chat or project, for reads, writes, search and
--     realtime alike (they only ever narrow what the permissive policies allow);
--   * keys cannot create, list or revoke keys (the policies of `api_keys` refuse a key's claims);
--   * the activity log records which key acted (`actor_key_id`, `actor_key_name`).
-- Scopes (which routes a key may call) are the API's: see ohm/api/scopes.py.

create table public.api_keys (
  id            uuid primary key default gen_random_uuid(),
  user_id       uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  name          text not null check (char_length(btrim(name)) between 1 and 100 and name !~ '[[:cntrl:]]'),
  prefix        text not null unique check (prefix ~ '^ohm_sk_[A-Za-z0-9]{8}$'),
  secret_sha256 bytea not null check (octet_length(secret_sha256) = 32),
  scopes        text[] not null check (cardinality(scopes) between 1 and 20 and array_position(scopes, null) is null
                                       and scopes <@ array['*', 'chats:read', 'chats:write', 'messages:write',
                                                           'artifacts:read', 'artifacts:write', 'projects:read',
                                                           'projects:write', 'files:read', 'files:write',
                                                           'shares:write', 'search', 'analytics:read',
                                                           'account:read']),
  chat_id       uuid references public.chats (id) on delete cascade,
  project_id    uuid references public.projects (id) on delete cascade,
  expires_at    timestamptz,
  created_at    timestamptz not null default now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  constraint api_keys_one_limit check (chat_id is null or project_id is null)
);

comment on table public.api_keys is
  'Keys agents act with (as their user, within scopes, optionally limited to one chat or project); only a hash is kept.';

create index idx_api_keys_user on public.api_keys (user_id, created_at desc);
create index idx_api_keys_chat on public.api_keys (chat_id) where chat_id is not null;
create index idx_api_keys_project on public.api_keys (project_id) where project_id is not null;

-- The key a request acts with (its claims' ohm_key), null for a token.  These two are plain SQL without a
-- search_path of their own so that PostgreSQL inlines them into the policies (one expression per statement
-- instead of a function call: measured 0.06 ms of a 1.3 ms page read); every name in them is qualified.
create function ohm.request_key() returns jsonb
  language sql stable
as $$
  select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb OPERATOR(pg_catalog.->) 'ohm_key'
$$;

-- Whether the request acts with a key limited to a chat or a project.
create function ohm.key_limited() returns boolean
  language sql stable
as $$
  select coalesce(ohm.request_key() OPERATOR(pg_catalog.?|) array['chat_id', 'project_id'], false)
$$;

-- The chats a limited key may reach: its chat, or the chats of its project (null: no limit).
create function ohm.key_chats() returns uuid[]
  language sql stable
  security definer
  set search_path = ''
as $$
  select case
           when k ->> 'chat_id' is not null then array[(k ->> 'chat_id')::uuid]
           when k ->> 'project_id' is not null
             then array(select c.id from public.chats c where c.project_id = (k ->> 'project_id')::uuid)
         end
    from (select ohm.request_key() as k) s
$$;
alter function ohm.key_chats() owner to ohm_definer;

-- The projects a limited key may reach: its project, or its chat's project (null: no limit).
create function ohm.key_projects() returns uuid[]
  language sql stable
  security definer
  set search_path = ''
as $$
  select case
           when k ->> 'project_id' is not null then array[(k ->> 'project_id')::uuid]
           when k ->> 'chat_id' is not null
             then array(select c.project_id from public.chats c
                         where c.id = (k ->> 'chat_id')::uuid and c.project_id is not null)
         end
    from (select ohm.request_key() as k) s
$$;
alter function ohm.key_projects() owner to ohm_definer;

-- What the policies call: the roles they apply to (and the definer, whose functions call them) may run them.
revoke execute on function ohm.request_key(), ohm.key_limited(), ohm.key_chats(), ohm.key_projects()
  from public, anon, authenticated, service_role;
grant execute on function ohm.request_key(), ohm.key_limited(), ohm.key_chats(), ohm.key_projects()
  to authenticated, ohm_definer;

-- The keys' own rows: the owner sees and revokes them, never with a key; the hash is not readable.  Keys
-- are made only by `ohm.create_api_key`, from a secret the server drew: a client cannot store a hash of a
-- secret of its own choosing (and so a weak key) by inserting a row.
alter table public.api_keys enable row level security;
alter table public.api_keys force row level security;
create policy api_keys_owner_select on public.api_keys
  for select to authenticated using (user_id = (select auth.uid()) and (select ohm.request_key()) is null);
create policy api_keys_owner_update on public.api_keys
  for update to authenticated
  using (user_id = (select auth.uid()) and (select ohm.request_key()) is null)
  with check (user_id = (select auth.uid()));
create policy api_keys_definer on public.api_keys
  for all to ohm_definer using (true) with check (true);
revoke all on public.api_keys from anon, authenticated, public;
grant select (id, user_id, name, prefix, scopes, chat_id, project_id, expires_at, created_at, last_used_at,
              revoked_at) on public.api_keys to authenticated;
grant update (revoked_at) on public.api_keys to authenticated;
grant select, insert, update (last_used_at) on public.api_keys to ohm_definer;
grant all on public.api_keys to service_role;

-- A key for the caller (a user, acting with a token: never a key), limited to a chat or project of theirs
-- (the definer reads whose a project is: the one thing it needs of projects).
create policy projects_definer_select on public.projects for select to ohm_definer using (true);
grant select (id, user_id) on public.projects to ohm_definer;

create function ohm.create_api_key(p_name text, p_prefix text, p_secret_sha256 bytea, p_scopes text[],
                                   p_chat_id uuid, p_project_id uuid, p_expires_at timestamptz)
  returns uuid
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  me uuid := ohm.request_user_id();
  made uuid;
begin
  if me is null or ohm.request_key() is not null then
    raise exception 'only a user, with their own token, makes API keys' using errcode = 'insufficient_privilege';
  end if;
  if p_chat_id is not null and not exists (select 1 from public.chats c where c.id = p_chat_id and c.user_id = me)
     or p_project_id is not null
        and not exists (select 1 from public.projects p where p.id = p_project_id and p.user_id = me) then
    raise exception 'the chat or project is not yours' using errcode = 'insufficient_privilege';
  end if;
  insert into public.api_keys (user_id, name, prefix, secret_sha256, scopes, chat_id, project_id, expires_at)
  values (me, p_name, p_prefix, p_secret_sha256, p_scopes, p_chat_id, p_project_id, p_expires_at)
  returning id into made;
  return made;
end
$$;
alter function ohm.create_api_key(text, text, bytea, text[], uuid, uuid, timestamptz) owner to ohm_definer;
revoke execute on function ohm.create_api_key(text, text, bytea, text[], uuid, uuid, timestamptz)
  from public, anon, authenticated, service_role;
grant execute on function ohm.create_api_key(text, text, bytea, text[], uuid, uuid, timestamptz) to authenticated;

-- A revocation is final: a revoked key is not brought back.
create function ohm.api_keys_before_update() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if old.revoked_at is not null and new.revoked_at is distinct from old.revoked_at then
    raise exception 'a revoked key stays revoked' using errcode = 'check_violation';
  end if;
  return new;
end
$$;
revoke execute on function ohm.api_keys_before_update() from public, anon, authenticated, service_role;
create trigger api_keys_before_update before update on public.api_keys
  for each row execute function ohm.api_keys_before_update();

-- The server's lookup of a key by its public prefix (it compares the hash itself, in constant time).
create function ohm.api_key_lookup(p_prefix text)
  returns table (id uuid, user_id uuid, name text, secret_sha256 bytea, scopes text[], chat_id uuid,
                 project_id uuid, expires_at timestamptz, revoked_at timestamptz)
  language sql stable
  security definer
  set search_path = ''
as $$
  select k.id, k.user_id, k.name, k.secret_sha256, k.scopes, k.chat_id, k.project_id, k.expires_at, k.revoked_at
    from public.api_keys k
   where k.prefix = p_prefix
$$;
alter function ohm.api_key_lookup(text) owner to ohm_definer;

-- At the start of each transaction run with a key: refuse it if it was revoked or has expired since the
-- server read it, and note when it was last used (at most once a minute, so that eight agents on one key
-- do not queue on its row).
create function ohm.use_api_key(p_key uuid, p_user uuid) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  k record;
begin
  select a.revoked_at, a.expires_at, a.last_used_at into k
    from public.api_keys a where a.id = p_key and a.user_id = p_user;
  if not found or k.revoked_at is not null or (k.expires_at is not null and k.expires_at <= now()) then
    raise exception 'API key revoked or expired' using errcode = 'invalid_authorization_specification';
  end if;
  if k.last_used_at is null or k.last_used_at < now() - interval '1 minute' then
    update public.api_keys a set last_used_at = now()
     where a.id = p_key and (a.last_used_at is null or a.last_used_at < now() - interval '1 minute');
  end if;
end
$$;
alter function ohm.use_api_key(uuid, uuid) owner to ohm_definer;
revoke execute on function ohm.api_key_lookup(text), ohm.use_api_key(uuid, uuid)
  from public, anon, authenticated, service_role;
grant execute on function ohm.api_key_lookup(text), ohm.use_api_key(uuid, uuid) to ohm_authenticator;

-- Which key acted, in the activity log.
alter table public.activity_log
  add column actor_key_id uuid,
  add column actor_key_name text check (char_length(actor_key_name) <= 100);

create function ohm.activity_log_key() returns trigger
  language plpgsql
  set search_path = ''
as $$
declare
  k jsonb := ohm.request_key();
begin
  new.actor_key_id := (k ->> 'id')::uuid;
  new.actor_key_name := k ->> 'name';
  return new;
end
$$;
revoke execute on function ohm.activity_log_key() from public, anon, authenticated, service_role;
create trigger activity_log_key before insert on public.activity_log
  for each row when (pg_catalog.strpos(pg_catalog.current_setting('request.jwt.claims', true), '"ohm_key"') > 0)
  execute function ohm.activity_log_key();

-- A limited key's reach, on every table a user reaches: restrictive policies, ANDed with the permissive
-- ones.  For tokens and unlimited keys the first term is true and the rest is never evaluated.
create policy chats_key_limit on public.chats as restrictive for all to authenticated
  using (not (select ohm.key_limited()) or id = any ((select ohm.key_chats())::uuid[])
         or project_id = ((select ohm.request_key()) ->> 'project_id')::uuid)
  with check (not (select ohm.key_limited()) or id = any ((select ohm.key_chats())::uuid[])
              or project_id = ((select ohm.request_key()) ->> 'project_id')::uuid);

do $$
declare
  t text;
begin
  foreach t in array array['messages', 'artifacts', 'realtime_events', 'shared_chats'] loop
    execute format('create policy %I on public.%I as restrictive for all to authenticated '
                   'using (not (select ohm.key_limited()) or chat_id = any ((select ohm.key_chats())::uuid[])) '
                   'with check (not (select ohm.key_limited()) or chat_id = any ((select ohm.key_chats())::uuid[]))',
                   t || '_key_limit', t);
  end loop;
  foreach t in array array['parts', 'connections', 'code_files', 'check_runs', 'circuit_verifications',
                           'datasheet_analyses'] loop
    execute format('create policy %I on public.%I as restrictive for all to authenticated '
                   'using (not (select ohm.key_limited()) or project_id = any ((select ohm.key_projects())::uuid[])) '
                   'with check (not (select ohm.key_limited()) '
                   'or project_id = any ((select ohm.key_projects())::uuid[]))',
                   t || '_key_limit', t);
  end loop;
  foreach t in array array['attachments', 'activity_log'] loop
    execute format('create policy %I on public.%I as restrictive for all to authenticated '
                   'using (not (select ohm.key_limited()) or chat_id = any ((select ohm.key_chats())::uuid[]) '
                   'or project_id = any ((select ohm.key_projects())::uuid[])) '
                   'with check (not (select ohm.key_limited()) or chat_id = any ((select ohm.key_chats())::uuid[]) '
                   'or project_id = any ((select ohm.key_projects())::uuid[]))',
                   t || '_key_limit', t);
  end loop;
end
$$;

create policy projects_key_limit on public.projects as restrictive for all to authenticated
  using (not (select ohm.key_limited()) or id = any ((select ohm.key_projects())::uuid[]))
  with check (not (select ohm.key_limited()) or id = any ((select ohm.key_projects())::uuid[]));
create policy artifact_versions_key_limit on public.artifact_versions as restrictive for all to authenticated
  using (not (select ohm.key_limited())
         or exists (select 1 from public.artifacts a where a.id = artifact_id))
  with check (not (select ohm.key_limited())
              or exists (select 1 from public.artifacts a where a.id = artifact_id));
create policy chat_forks_key_limit on public.chat_forks as restrictive for all to authenticated
  using (not (select ohm.key_limited()) or fork_chat_id = any ((select ohm.key_chats())::uuid[]))
  with check (not (select ohm.key_limited()) or fork_chat_id = any ((select ohm.key_chats())::uuid[]));

-- The append function of 0015, with the key checked first.
create or replace function ohm.append_message(
  p_role          text,
  p_claims        text,
  p_chat_id       uuid,
  p_parent_given  boolean,
  p_parent_id     uuid,
  p_message_role  public.message_role,
  p_content       text,
  p_content_json  jsonb,
  p_agent_name    text,
  p_agent_model   text,
  p_agent_icon    text,
  p_intent        public.agent_intent,
  p_input_tokens  integer,
  p_output_tokens integer,
  p_cost_usd      numeric,
  p_latency_ms    integer,
  p_metadata      jsonb
) returns table (id uuid, parent_id uuid, sequence_number integer, cost_usd numeric, created_at timestamptz)
  language plpgsql
  set search_path = ''
as $$
declare
  owner uuid;
  claims jsonb := p_claims::jsonb;
begin
  if p_role not in ('authenticated', 'service_role') then
    raise exception 'role % may not append messages', p_role using errcode = 'insufficient_privilege';
  end if;
  if claims ? 'ohm_key' then
    perform ohm.use_api_key((claims -> 'ohm_key' ->> 'id')::uuid, nullif(claims ->> 'sub', '')::uuid);
  end if;
  perform set_config('role', p_role, true);
  perform set_config('request.jwt.claims', p_claims, true);
  if p_role = 'authenticated' then
    owner := nullif(claims ->> 'sub', '')::uuid;
  else
    select c.user_id into owner from public.chats c where c.id = p_chat_id;
    if not found then
      raise exception 'chat % does not exist', p_chat_id using errcode = 'foreign_key_violation';
    end if;
  end if;
  return query
    insert into public.messages as m
      (chat_id, user_id, parent_id, role, content, content_json, agent_name, agent_model, agent_icon, intent,
       input_tokens, output_tokens, cost_usd, latency_ms, metadata)
    values (p_chat_id, owner,
            case when p_parent_given then p_parent_id else '00000000-0000-0000-0000-000000000000'::uuid end,
            p_message_role, p_content, p_content_json, p_agent_name, p_agent_model, p_agent_icon, p_intent,
            p_input_tokens, p_output_tokens, p_cost_usd, p_latency_ms, p_metadata)
    returning m.id, m.parent_id, m.sequence_number, m.cost_usd, m.created_at;
end
$$;
