-- 0028 hardening: what an attack on a running OHM found, closed where the
-- database can close it (so direct supabase-js writes meet the same limits).
--
-- * Ids and creation times are the database's: a client that picks a row's
--   id learned from a unique violation that another user's row had it.
-- * A version names its author truthfully: created_by_user_id is the caller,
--   created_by_message_id a message of the artifact's chat.
-- * JSON is at most 64 levels deep (a message nested 256-990 levels deep was
--   stored, and every later read of its chat failed); upload names hold no
--   control characters.  Both as NOT VALID constraints: rows written before
--   stay readable and deletable (DELETE /v1/messages/{id}), new ones must fit.
-- * A message costs at most $1,000, and a fork's copies are nobody's new
--   spend: they keep their figures for display (is_copy) but count in no
--   chat, profile or usage total (one fork had shown $9.9 billion).
-- * Budgets in ohm.limits: messages per user, forks per user and hour,
--   messages one fork may copy.
-- * A fork through a share records nothing of the private original (its id,
--   the share's id, the fork point) where the forker can read it.
-- * A share view counts once per visitor and day, and the owner's activity
--   log gets at most one share.viewed row per share and hour.
-- * Wiring resolves its endpoints with one join instead of a scan of the BOM
--   per connection (3,000 x 3,000 ran into the statement timeout), and BOM,
--   wiring and code versions have a size cap.
-- * Deleting messages is announced (message.deleted) and subtracts only what
--   was counted.

-- --- limits ------------------------------------------------------------------------------------------------------

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

-- --- the API role is never passwordless ---------------------------------------------------------------------

-- Created by 0002 without a password: on a server that lets it log in without one (trust), it could
-- become service_role.  Where this migration may read pg_authid (a superuser), a role without a password
-- gets a random one nobody knows; `ohm migrate` / `ohm serve` then set OHM_APP_DB_PASSWORD's, and the
-- embedded server keeps its own in the data dir.  (A password is ignored where pg_hba trusts.)
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

-- --- ids and times are the database's -------------------------------------------------------------------------

-- For each table the API roles insert into: the columns they may set stay, minus id and the timestamps.
do $ids$
declare
  t text;
  cols text;
begin
  foreach t in array array['projects', 'chats', 'messages', 'artifacts', 'artifact_versions', 'parts',
                           'connections', 'code_files', 'circuit_verifications', 'datasheet_analyses',
                           'shared_chats', 'chat_forks', 'check_runs'] loop
    select string_agg(quote_ident(column_name), ', ' order by column_name) into cols
      from information_schema.column_privileges
     where table_schema = 'public' and table_name = t and grantee = 'authenticated' and privilege_type = 'INSERT'
       and column_name not in ('id', 'created_at', 'updated_at');
    execute format('revoke insert on public.%I from authenticated', t);
    execute format('revoke insert (%s) on public.%I from authenticated',
                   (select string_agg(quote_ident(attname), ', ') from pg_attribute
                     where attrelid = format('public.%I', t)::regclass and attnum > 0 and not attisdropped
                       and attgenerated = ''), t);
    if cols is not null then
      execute format('grant insert (%s) on public.%I to authenticated', cols, t);
    end if;
  end loop;
end
$ids$;

-- --- JSON depth and upload names ---------------------------------------------------------------------------------

-- More than 64 levels: the item at level 65 exists (level 0 is the value itself).
do $depth$
declare
  c record;
begin
  for c in
    select * from (values
      ('messages', 'content_json'), ('messages', 'metadata'), ('artifact_versions', 'content_json'),
      ('profiles', 'preferences'), ('projects', 'requirements'), ('projects', 'workflow_steps'),
      ('projects', 'success_metrics'), ('parts', 'specs'), ('parts', 'alternatives'),
      ('circuit_verifications', 'detected_components'), ('circuit_verifications', 'issues'),
      ('circuit_verifications', 'suggestions'), ('datasheet_analyses', 'key_specs'),
      ('datasheet_analyses', 'pinout'), ('datasheet_analyses', 'warnings')) v(tab, col)
  loop
    execute format($f$alter table public.%I add constraint %I
                        check (not jsonb_path_exists(%I, '$.**{65}')) not valid$f$,
                   c.tab, c.tab || '_' || c.col || '_depth', c.col);
  end loop;
end
$depth$;

alter table public.attachments add constraint attachments_filename_printable
  check (filename !~ '[[:cntrl:]]') not valid;

-- --- messages: copies, a bound on cost, budgets, deletes announced ----------------------------------------------

alter table public.messages add column is_copy boolean not null default false;
comment on column public.messages.is_copy is
  'A fork''s copy of another message: its usage is shown, but counted in no chat, profile or usage total.';
grant insert (is_copy) on public.messages to authenticated;

alter table public.messages add constraint messages_cost_usd_bound check (cost_usd <= 1000) not valid;

alter table public.realtime_events drop constraint realtime_events_kind_check;
alter table public.realtime_events add constraint realtime_events_kind_check
  check (kind in ('message.created', 'message.updated', 'message.deleted', 'artifact.created',
                  'artifact.version_created', 'chat.updated', 'chat.deleted', 'attachment.created',
                  'attachment.updated'));

-- messages_before_insert as in 0025: copies are neither priced nor counted in totals, and the owner's
-- message budget is checked where the profile row is updated anyway.
create or replace function ohm.messages_before_insert() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  seq integer;
  event bigint;
  claims jsonb;
  exact text;
  bare text;
  priced numeric;
  counted_in integer;
  counted_out integer;
  counted_cost numeric;
  owned bigint;
begin
  if new.parent_id = '00000000-0000-0000-0000-000000000000' then
    select c.current_leaf_id into new.parent_id
      from public.chats c where c.id = new.chat_id and c.user_id = new.user_id
       for update;
  end if;
  if new.agent_model is not null and not new.is_copy then
    -- an exact id first, then without the provider, then without a date suffix
    exact := lower(btrim(new.agent_model));
    bare := regexp_replace(exact, '^.*/', '');
    select round((new.input_tokens * mp.input_per_mtok + new.output_tokens * mp.output_per_mtok) / 1000000, 6)
      into priced
      from public.model_prices mp
     where mp.model_id in (exact, bare) and mp.valid_from <= new.created_at
     order by (mp.model_id = exact) desc, mp.valid_from desc
     limit 1;
    if not found then
      select round((new.input_tokens * mp.input_per_mtok + new.output_tokens * mp.output_per_mtok) / 1000000, 6)
        into priced
        from public.model_prices mp
       where mp.model_id = ohm.price_model_id(new.agent_model) and mp.valid_from <= new.created_at
       order by mp.valid_from desc
       limit 1;
    end if;
    if priced is not null then
      new.cost_usd := priced;
    end if;
  end if;
  if new.is_copy then
    counted_in := 0; counted_out := 0; counted_cost := 0;
  else
    counted_in := new.input_tokens; counted_out := new.output_tokens; counted_cost := coalesce(new.cost_usd, 0);
  end if;
  update public.chats c
     set last_sequence       = c.last_sequence + 1,
         last_event_seq      = c.last_event_seq + 1,
         message_count       = c.message_count + 1,
         last_message_at     = greatest(c.last_message_at, new.created_at),
         current_leaf_id     = new.id,
         is_branched         = c.is_branched or (new.parent_id is distinct from c.current_leaf_id),
         title               = case
                                 when c.title is null and new.role = 'user'
                                 then ohm.chat_title_from(new.content)
                                 else c.title
                               end,
         total_input_tokens  = c.total_input_tokens + counted_in,
         total_output_tokens = c.total_output_tokens + counted_out,
         total_cost_usd      = c.total_cost_usd + counted_cost
   where c.id = new.chat_id and c.user_id = new.user_id
  returning c.last_sequence, c.last_event_seq into seq, event;
  if not found then
    raise exception 'chat % does not exist', new.chat_id
      using errcode = 'foreign_key_violation';
  end if;
  new.sequence_number := seq;
  update public.profiles p
     set message_count       = p.message_count + 1,
         total_input_tokens  = p.total_input_tokens + counted_in,
         total_output_tokens = p.total_output_tokens + counted_out,
         total_cost_usd      = p.total_cost_usd + counted_cost
   where p.id = new.user_id
  returning p.message_count into owned;
  if owned > (select l.value from ohm.limits l where l.name = 'messages_per_user') then
    raise exception 'message budget reached: % messages per user', owned - 1
      using errcode = 'PT413', hint = 'delete old chats, or raise ohm.limits.messages_per_user';
  end if;

  -- message.created (ohm.emit_event)
  insert into public.realtime_events (chat_id, user_id, event_seq, kind, entity_id, data)
  values (new.chat_id, new.user_id, event, 'message.created', new.id, jsonb_build_object('sequence_number', seq));
  if exists (select 1 from ohm.realtime_watch w where w.chat_id = new.chat_id and w.watched_until > now()) then
    perform pg_notify('ohm_events', json_build_object(
      'chat_id', new.chat_id, 'user_id', new.user_id, 'seq', event, 'kind', 'message.created', 'id', new.id,
      'data', jsonb_build_object('sequence_number', seq))::text);
  end if;

  -- the activity row (ohm.activity_trigger; a fork logs itself once)
  if current_setting('ohm.activity_quiet', true) is distinct from 'on' then
    claims := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    insert into public.activity_log (user_id, action, entity_type, entity_id, chat_id, metadata, actor_id,
                                     actor_role)
    values (new.user_id, 'message.created', 'message', new.id, new.chat_id,
            jsonb_strip_nulls(jsonb_build_object(
              'role', new.role, 'agent', new.agent_name, 'model', new.agent_model, 'intent', new.intent,
              'input_tokens', nullif(new.input_tokens, 0), 'output_tokens', nullif(new.output_tokens, 0),
              'cost_usd', new.cost_usd)),
            nullif(claims ->> 'sub', '')::uuid, coalesce(claims ->> 'role', current_user::text));
  end if;
  return new;
end
$$;

-- Usage corrected later (a streamed answer's final count): copies were never counted.
create or replace function ohm.messages_after_update_usage() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if new.is_copy then
    return null;
  end if;
  update public.chats c
     set total_input_tokens  = c.total_input_tokens + new.input_tokens - old.input_tokens,
         total_output_tokens = c.total_output_tokens + new.output_tokens - old.output_tokens,
         total_cost_usd      = c.total_cost_usd + coalesce(new.cost_usd, 0) - coalesce(old.cost_usd, 0)
   where c.id = new.chat_id;
  update public.profiles p
     set total_input_tokens  = p.total_input_tokens + new.input_tokens - old.input_tokens,
         total_output_tokens = p.total_output_tokens + new.output_tokens - old.output_tokens,
         total_cost_usd      = p.total_cost_usd + coalesce(new.cost_usd, 0) - coalesce(old.cost_usd, 0)
   where p.id = new.user_id;
  return null;
end
$$;

-- messages_after_delete as in 0025: only what was counted is subtracted, and each chat that keeps
-- existing hears of the delete (one message.deleted per chat and statement: the topmost message removed,
-- and how many went with it).
create or replace function ohm.messages_after_delete() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  gone record;
  next record;
begin
  update public.chats c
     set message_count       = greatest(c.message_count - d.n, 0),
         total_input_tokens  = greatest(c.total_input_tokens - d.input_tokens, 0),
         total_output_tokens = greatest(c.total_output_tokens - d.output_tokens, 0),
         total_cost_usd      = greatest(c.total_cost_usd - d.cost_usd, 0),
         current_leaf_id     = case when c.current_leaf_id = any (d.ids) then null else c.current_leaf_id end
    from (select chat_id, count(*) as n,
                 coalesce(sum(input_tokens) filter (where not is_copy), 0) as input_tokens,
                 coalesce(sum(output_tokens) filter (where not is_copy), 0) as output_tokens,
                 coalesce(sum(cost_usd) filter (where not is_copy), 0) as cost_usd,
                 array_agg(id) as ids
            from old_rows group by chat_id) d
   where c.id = d.chat_id;
  update public.profiles p
     set message_count       = greatest(p.message_count - d.n, 0),
         total_input_tokens  = greatest(p.total_input_tokens - d.input_tokens, 0),
         total_output_tokens = greatest(p.total_output_tokens - d.output_tokens, 0),
         total_cost_usd      = greatest(p.total_cost_usd - d.cost_usd, 0)
    from (select user_id, count(*) as n,
                 coalesce(sum(input_tokens) filter (where not is_copy), 0) as input_tokens,
                 coalesce(sum(output_tokens) filter (where not is_copy), 0) as output_tokens,
                 coalesce(sum(cost_usd) filter (where not is_copy), 0) as cost_usd
            from old_rows group by user_id) d
   where p.id = d.user_id;
  for gone in
    select distinct on (o.chat_id) o.chat_id, o.id, o.sequence_number,
           count(*) over (partition by o.chat_id) as n
      from old_rows o
     where exists (select 1 from public.chats c where c.id = o.chat_id)
     order by o.chat_id, o.sequence_number
  loop
    select * into next from ohm.next_event_seq(gone.chat_id);
    if next.seq is not null then
      perform ohm.emit_event(gone.chat_id, next.owner, next.seq, 'message.deleted', gone.id,
                             jsonb_build_object('sequence_number', gone.sequence_number, 'deleted', gone.n));
    end if;
  end loop;
  return null;
end
$$;

-- --- versions name their author truthfully --------------------------------------------------------------------------

-- artifact_versions_before_insert as in 0019, and the authorship checked.
create or replace function ohm.artifact_versions_before_insert() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  n integer;
  chat uuid;
  next record;
  caller uuid := ohm.request_user_id();
begin
  if caller is not null then
    if new.created_by_user_id is null then
      new.created_by_user_id := caller;
    elsif new.created_by_user_id <> caller then
      raise exception 'created_by_user_id must be the signed-in user' using errcode = 'insufficient_privilege';
    end if;
  end if;
  update public.artifacts a
     set total_versions  = a.total_versions + 1,
         current_version = a.total_versions + 1
   where a.id = new.artifact_id and a.user_id = new.user_id
  returning a.total_versions, a.chat_id into n, chat;
  if not found then
    raise exception 'artifact % does not exist', new.artifact_id
      using errcode = 'foreign_key_violation';
  end if;
  if new.created_by_message_id is not null
     and not exists (select 1 from public.messages m where m.chat_id = chat and m.id = new.created_by_message_id) then
    raise exception 'created_by_message_id is not a message of this artifact''s chat'
      using errcode = 'foreign_key_violation', constraint = 'artifact_versions_created_by_message';
  end if;
  new.version_number := n;
  select * into next from ohm.next_event_seq(chat);
  perform ohm.emit_event(chat, next.owner, next.seq,
                         case when n = 1 then 'artifact.created' else 'artifact.version_created' end,
                         new.artifact_id, jsonb_build_object('version', n, 'version_id', new.id));
  return new;
end
$$;

-- --- forks ---------------------------------------------------------------------------------------------------------

alter table public.chat_forks add column via_share boolean not null default false;
comment on column public.chat_forks.via_share is
  'Forked through a share link: the original, the share and the fork point are not recorded for the forker.';
grant insert (via_share) on public.chat_forks to authenticated;

-- Share forks made before: forget what the forker should not have learned.
update public.chats c set forked_from = null
  from public.chat_forks f where f.fork_chat_id = c.id and f.share_id is not null;
update public.chat_forks set via_share = true, original_chat_id = null, fork_point_message_id = null, share_id = null
 where share_id is not null;

-- record_fork as in 0017; through a share, only the share's fork count and "via a share" are kept.
create or replace function ohm.record_fork(p_original uuid, p_fork uuid, p_fork_point uuid, p_share_token text)
  returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  caller uuid := ohm.request_user_id();
begin
  if caller is null or not exists (select 1 from public.chats where id = p_fork and user_id = caller) then
    raise exception 'fork chat not found' using errcode = 'no_data_found';
  end if;
  if p_share_token is not null then
    update public.shared_chats
       set fork_count = fork_count + 1
     where share_token = p_share_token and is_active and (expires_at is null or expires_at > now());
    if not found then
      raise exception 'share not found' using errcode = 'no_data_found';
    end if;
    insert into public.chat_forks (fork_chat_id, forked_by, via_share) values (p_fork, caller, true);
    return;
  end if;
  if not exists (select 1 from public.chats where id = p_original and (user_id = caller or is_public)) then
    raise exception 'original chat not found' using errcode = 'no_data_found';
  end if;
  update public.chats set forked_from = p_original where id = p_fork;
  insert into public.chat_forks (original_chat_id, fork_chat_id, fork_point_message_id, forked_by)
  values (p_original, p_fork, p_fork_point, caller);
end
$$;

create or replace function ohm.chat_lineage(p_chat uuid)
  returns table (depth integer, chat_id uuid, title text, readable boolean, fork_point_message_id uuid,
                 forked_at timestamptz, via_share boolean)
  language sql
  stable
  security definer
  set search_path = ''
as $$
  with recursive up as (
    select 1 as depth, f.original_chat_id as chat_id, f.fork_point_message_id, f.created_at as forked_at,
           f.via_share or f.share_id is not null as via_share, array[f.fork_chat_id] as seen
      from public.chat_forks f
     where f.fork_chat_id = p_chat
       and exists (select 1 from public.chats c
                    where c.id = p_chat and (c.user_id = ohm.request_user_id() or c.is_public))
    union all
    select up.depth + 1, f.original_chat_id, f.fork_point_message_id, f.created_at,
           f.via_share or f.share_id is not null, up.seen || f.fork_chat_id
      from up join public.chat_forks f on f.fork_chat_id = up.chat_id
     where up.chat_id is not null and not f.fork_chat_id = any(up.seen) and up.depth < 100
  )
  select up.depth, up.chat_id,
         case when c.user_id = ohm.request_user_id() or c.is_public then c.title end,
         coalesce(c.user_id = ohm.request_user_id() or c.is_public, false),
         up.fork_point_message_id, up.forked_at, up.via_share
    from up left join public.chats c on c.id = up.chat_id
   order by up.depth
$$;

-- write_fork as in 0026, within the budgets, without choosing ids: each copy is inserted without a parent
-- (the append trigger makes it the child of the one before) and is marked as a copy.
create or replace function ohm.write_fork(p_title text, p_messages jsonb, p_artifacts jsonb, p_original uuid,
                                          p_fork_point uuid, p_share_token text)
  returns public.chats
  language plpgsql
  volatile
  set search_path = ''
as $$
declare
  owner uuid := ohm.fork_owner();
  fork_id uuid;
  ids jsonb;
  a jsonb;
  copied uuid;
  result public.chats;
begin
  if jsonb_array_length(p_messages) > (select l.value from ohm.limits l where l.name = 'fork_messages') then
    raise exception 'a fork copies at most % messages: fork up to an earlier message',
      (select l.value from ohm.limits l where l.name = 'fork_messages') using errcode = 'PT413';
  end if;
  if (select count(*) from public.chat_forks f
       where f.forked_by = owner and f.created_at > now() - interval '1 hour')
     >= (select l.value from ohm.limits l where l.name = 'forks_per_hour') then
    raise exception 'too many forks in the last hour: at most % per hour',
      (select l.value from ohm.limits l where l.name = 'forks_per_hour') using errcode = 'PT429';
  end if;
  perform set_config('ohm.activity_quiet', 'on', true);
  insert into public.chats (user_id, title) values (owner, p_title) returning id into fork_id;
  with copies as (
    insert into public.messages (chat_id, user_id, role, content, content_json, agent_name, agent_model,
                                 agent_icon, intent, input_tokens, output_tokens, cost_usd, latency_ms, metadata,
                                 is_copy)
    select fork_id, owner, (r.m ->> 'role')::public.message_role, coalesce(r.m ->> 'content', ''),
           nullif(r.m -> 'content_json', 'null'::jsonb), r.m ->> 'agent_name', r.m ->> 'agent_model',
           r.m ->> 'agent_icon', (r.m ->> 'intent')::public.agent_intent,
           coalesce((r.m ->> 'input_tokens')::integer, 0), coalesce((r.m ->> 'output_tokens')::integer, 0),
           least((r.m ->> 'cost_usd')::numeric, 1000), (r.m ->> 'latency_ms')::integer,
           coalesce(nullif(r.m -> 'metadata', 'null'::jsonb), '{}'::jsonb), true
      from jsonb_array_elements(p_messages) with ordinality r(m, ord)
     order by r.ord
    returning id, sequence_number
  )
  -- sequence numbers are 1, 2, ... in the order given: the n-th copy is of the n-th message
  select coalesce(jsonb_object_agg(p_messages -> (c.sequence_number - 1) ->> 'id', c.id), '{}'::jsonb) into ids
    from copies c;
  for a in select e.x from jsonb_array_elements(p_artifacts) e(x) loop
    insert into public.artifacts (chat_id, user_id, message_id, type, title, forked_from_version_id)
    values (fork_id, owner, (ids ->> (a ->> 'message_id'))::uuid, (a ->> 'type')::public.artifact_type,
            a ->> 'title', (a ->> 'version_id')::uuid)
    returning id into copied;
    insert into public.artifact_versions (artifact_id, user_id, content_text, content_json, change_summary,
                                          created_by_user_id)
    values (copied, owner, a ->> 'content_text', nullif(a -> 'content_json', 'null'::jsonb),
            left('Forked from v' || (a ->> 'version') || coalesce(': ' || nullif(a ->> 'change_summary', ''), ''), 2000),
            owner);
  end loop;
  perform set_config('ohm.activity_quiet', 'off', true);
  perform ohm.record_fork(p_original, fork_id, p_fork_point, p_share_token);
  select * into result from public.chats c where c.id = fork_id;
  return result;
end
$$;

-- --- share views -------------------------------------------------------------------------------------------------

-- Who has seen which share on which day (a visitor is an opaque hash: the API's of the client address and
-- user agent; through PostgREST, of the forwarded address and user agent PostgREST passes on).
create table ohm.share_views (
  share_id uuid not null,
  day      date not null default current_date,
  visitor  text not null check (char_length(visitor) <= 64),
  primary key (share_id, day, visitor)
);
create index idx_share_views_day on ohm.share_views (day);
alter table ohm.share_views enable row level security;
alter table ohm.share_views force row level security;
create policy share_views_definer on ohm.share_views for all to ohm_definer using (true) with check (true);
grant select, insert, delete on ohm.share_views to ohm_definer;

drop function ohm.share_snapshot(text, boolean);

-- share_snapshot as in 0017, with a view counted once per visitor and day (on the first page), and the
-- messages in pages: after sequence number p_after, at most p_limit of them and about p_budget bytes
-- (a page always holds its first message); null limit and budget: every message.  The artifacts come
-- with the first page.  `next_after_sequence` says where the next page starts (null: no more).
create function ohm.share_snapshot(p_token text, p_count_view boolean default true, p_visitor text default null,
                                   p_after integer default 0, p_limit integer default null,
                                   p_budget bigint default null)
  returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  s public.shared_chats;
  headers jsonb;
  visitor text := p_visitor;
  fresh integer;
  page jsonb;
  kept integer;
  remaining bigint;
begin
  select * into s from public.shared_chats
   where share_token = p_token and is_active and (expires_at is null or expires_at > now());
  if s.id is null then
    return null;
  end if;
  if p_count_view and coalesce(p_after, 0) = 0 then
    if visitor is null then
      headers := nullif(current_setting('request.headers', true), '')::jsonb;
      visitor := md5(coalesce(headers ->> 'x-forwarded-for', '') || '|' || coalesce(headers ->> 'user-agent', ''));
    end if;
    insert into ohm.share_views (share_id, visitor) values (s.id, left(visitor, 64)) on conflict do nothing;
    get diagnostics fresh = row_count;
    if fresh > 0 then
      update public.shared_chats set view_count = view_count + 1, last_viewed_at = now()
       where id = s.id returning * into s;
    end if;
    if random() < 0.01 then
      delete from ohm.share_views where day < current_date - 1;
    end if;
  end if;
  -- The branch by ids first (cheap), then the page's rows with what they weigh.
  with recursive branch as (
    select m.id, m.parent_id, m.sequence_number
      from public.messages m
     where m.id = s.up_to_message_id and m.chat_id = s.chat_id
    union all
    select m.id, m.parent_id, m.sequence_number
      from public.messages m join branch b on m.chat_id = s.chat_id and m.id = b.parent_id
  ), weighed as (
    select b.id, count(*) over () as remaining,
           row_number() over (order by b.sequence_number) as rn,
           sum(octet_length(m.content) + coalesce(pg_column_size(m.content_json), 0) + pg_column_size(m.metadata))
             over (order by b.sequence_number) as running,
           octet_length(m.content) + coalesce(pg_column_size(m.content_json), 0) + pg_column_size(m.metadata) as own
      from branch b join public.messages m on m.chat_id = s.chat_id and m.id = b.id
     where b.sequence_number > coalesce(p_after, 0)
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', m.id, 'parent_id', m.parent_id, 'sequence_number', m.sequence_number, 'role', m.role,
           'content', m.content, 'content_json', m.content_json,
           'agent', case when m.agent_name is null then null
                         else jsonb_build_object('name', m.agent_name, 'model', m.agent_model, 'icon', m.agent_icon) end,
           'intent', m.intent,
           'usage', jsonb_build_object('input_tokens', m.input_tokens, 'output_tokens', m.output_tokens,
                                       'cost_usd', m.cost_usd),
           'latency_ms', m.latency_ms, 'metadata', m.metadata, 'created_at', m.created_at)
           order by m.sequence_number), '[]'::jsonb),
         count(*), max(w.remaining)
    into page, kept, remaining
    from weighed w join public.messages m on m.chat_id = s.chat_id and m.id = w.id
   where (p_limit is null or w.rn <= p_limit)
     and (p_budget is null or w.rn = 1 or w.running - w.own < p_budget);
  return jsonb_build_object(
    'share', jsonb_build_object(
      'id', s.id, 'up_to_message_id', s.up_to_message_id, 'snapshot_at', s.snapshot_at,
      'expires_at', s.expires_at, 'view_count', s.view_count, 'fork_count', s.fork_count,
      'created_at', s.created_at),
    'chat', (select jsonb_build_object('title', c.title, 'phase', c.phase,
                                       'owner_name', p.display_name, 'created_at', c.created_at)
               from public.chats c left join public.profiles p on p.id = c.user_id
              where c.id = s.chat_id),
    'messages', page,
    'next_after_sequence', case when remaining > kept then (page -> -1 ->> 'sequence_number')::integer end,
    'artifacts', case when coalesce(p_after, 0) > 0 then '[]'::jsonb else coalesce((select jsonb_agg(jsonb_build_object(
        'id', a.id, 'type', a.type, 'title', a.title, 'message_id', a.message_id,
        'version', v.version_number, 'version_id', v.id, 'content_text', v.content_text,
        'content_json', v.content_json, 'change_summary', v.change_summary, 'created_at', v.created_at)
        order by a.created_at, a.id)
        from jsonb_each_text(s.artifact_versions) snap(artifact_id, version)
        join public.artifacts a on a.id = snap.artifact_id::uuid and a.chat_id = s.chat_id
        join public.artifact_versions v on v.artifact_id = a.id and v.version_number = snap.version::integer),
      '[]'::jsonb) end
  );
end
$$;
alter function ohm.share_snapshot(text, boolean, text, integer, integer, bigint) owner to ohm_definer;
revoke all on function ohm.share_snapshot(text, boolean, text, integer, integer, bigint) from public;
grant execute on function ohm.share_snapshot(text, boolean, text, integer, integer, bigint)
  to anon, authenticated, service_role;

-- read_share as in 0026, page by page: after_sequence and max_messages (at most 500; and about 4 MiB).
drop function public.read_share(text);
create function public.read_share(token text, after_sequence integer default 0, max_messages integer default 200)
  returns jsonb
  language plpgsql
  volatile
  set search_path = ''
as $$
declare
  snapshot jsonb;
begin
  if read_share.token is null or read_share.token !~ '^[A-Za-z0-9_-]{1,128}$' then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  if read_share.after_sequence is null or read_share.after_sequence < 0
     or read_share.max_messages is null or read_share.max_messages not between 1 and 500 then
    raise exception 'after_sequence must be >= 0 and max_messages between 1 and 500' using errcode = 'PT422';
  end if;
  snapshot := ohm.share_snapshot(read_share.token, true, null, read_share.after_sequence, read_share.max_messages,
                                 4194304);
  if snapshot is null then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  return snapshot || jsonb_build_object('attachments', case when read_share.after_sequence > 0 then '[]'::jsonb
    else coalesce((select jsonb_agg(to_jsonb(a)) from ohm.share_attachments(read_share.token) a), '[]'::jsonb) end);
end
$$;
revoke all on function public.read_share(text, integer, integer) from public, anon, authenticated;
grant execute on function public.read_share(text, integer, integer) to anon, authenticated, service_role;

-- fork_share as in 0026, reading no more of the share than a fork may copy.
create or replace function public.fork_share(token text, message_id uuid default null) returns public.chats
  language plpgsql
  volatile
  set search_path = ''
as $$
declare
  snapshot jsonb;
  cut bigint;
  messages jsonb;
  branch uuid[];
  point jsonb;
  until timestamptz;
  artifacts jsonb;
  most bigint := (select l.value from ohm.limits l where l.name = 'fork_messages');
begin
  perform ohm.fork_owner();
  if fork_share.token is not null and fork_share.token ~ '^[A-Za-z0-9_-]{1,128}$' then
    snapshot := ohm.share_snapshot(fork_share.token, false, null, 0, (most + 1)::integer, null);
  end if;
  if snapshot is null then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  if fork_share.message_id is not null then
    select e.ord into cut from jsonb_array_elements(snapshot -> 'messages') with ordinality e(m, ord)
     where (e.m ->> 'id')::uuid = fork_share.message_id;
    if cut is null then
      raise exception 'message_id is not a message of this share (or lies beyond what a fork may copy)'
        using errcode = 'PT422';
    end if;
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', e.m -> 'id', 'role', e.m -> 'role', 'content', e.m -> 'content', 'content_json', e.m -> 'content_json',
           'agent_name', e.m -> 'agent' -> 'name', 'agent_model', e.m -> 'agent' -> 'model',
           'agent_icon', e.m -> 'agent' -> 'icon', 'intent', e.m -> 'intent',
           'input_tokens', e.m -> 'usage' -> 'input_tokens', 'output_tokens', e.m -> 'usage' -> 'output_tokens',
           'cost_usd', e.m -> 'usage' -> 'cost_usd', 'latency_ms', e.m -> 'latency_ms', 'metadata', e.m -> 'metadata',
           'created_at', e.m -> 'created_at') order by e.ord), '[]'::jsonb)
    into messages
    from jsonb_array_elements(snapshot -> 'messages') with ordinality e(m, ord)
   where cut is null or e.ord <= cut;
  select array_agg((e.m ->> 'id')::uuid) into branch from jsonb_array_elements(messages) e(m);
  point := messages -> -1;
  if fork_share.message_id is not null and point is not null then
    until := (point ->> 'created_at')::timestamptz;
  end if;
  select coalesce(jsonb_agg(a.x), '[]'::jsonb) into artifacts
    from jsonb_array_elements(snapshot -> 'artifacts') a(x)
   where (a.x ->> 'message_id')::uuid = any (branch)
      or (a.x ->> 'message_id' is null and (until is null or (a.x ->> 'created_at')::timestamptz <= until));
  return ohm.write_fork(snapshot -> 'chat' ->> 'title', messages, artifacts, null, (point ->> 'id')::uuid,
                        fork_share.token);
end
$$;

-- At most one share.viewed row per share and hour in the owner's log.
drop trigger shared_chats_activity_update on public.shared_chats;
create trigger shared_chats_activity_update after update of is_active, view_count on public.shared_chats
  for each row when (new.is_active is distinct from old.is_active
                     or (new.view_count > old.view_count
                         and (old.last_viewed_at is null or old.last_viewed_at < now() - interval '1 hour')))
  execute function ohm.activity_trigger();

-- --- hardware: one join per wiring version, and size caps ----------------------------------------------------------

create or replace function ohm.normalise_hardware_version() returns trigger
  language plpgsql
  set search_path = ''
as $$
declare
  art record;
  bom uuid;
  items integer;
  cap bigint;
begin
  select a.type::text as type, a.project_id, a.chat_id into art from public.artifacts a where a.id = new.artifact_id;
  if art.type not in ('bom', 'wiring', 'code') or new.content_json is null then
    return null;
  end if;
  if art.type = 'bom' then
    if jsonb_typeof(new.content_json -> 'parts') is distinct from 'array' then
      raise exception 'a bom version needs content_json.parts (an array)' using errcode = 'check_violation',
        constraint = 'bom_shape';
    end if;
    items := jsonb_array_length(new.content_json -> 'parts');
    cap := (select l.value from ohm.limits l where l.name = 'bom_parts');
    if items > cap then
      raise exception 'a bom version has at most % parts (this one has %)', cap, items
        using errcode = 'check_violation', constraint = 'bom_parts_limit';
    end if;
    insert into public.parts
      (user_id, project_id, artifact_version_id, position, name, mpn, manufacturer, quantity, designators, specs,
       unit_price, currency, supplier, supplier_part_number, footprint, datasheet_url, datasheet_analysis_id,
       alternatives, lifecycle, notes, voltage_min, voltage_max)
    select new.user_id, art.project_id, new.id, (e.ord - 1)::integer, e.p ->> 'name', e.p ->> 'mpn',
           e.p ->> 'manufacturer', coalesce((e.p ->> 'quantity')::integer, 1), ohm.text_array(e.p -> 'designators'),
           coalesce(e.p -> 'specs', '{}'::jsonb), (e.p ->> 'unit_price')::numeric,
           coalesce(e.p ->> 'currency', 'USD'), e.p ->> 'supplier', e.p ->> 'supplier_part_number',
           e.p ->> 'footprint', e.p ->> 'datasheet_url', (e.p ->> 'datasheet_analysis_id')::uuid,
           coalesce(e.p -> 'alternatives', '[]'::jsonb),
           coalesce(e.p ->> 'lifecycle', 'unknown')::public.part_lifecycle, e.p ->> 'notes',
           ohm.volts(coalesce(e.p -> 'specs' -> 'supply_voltage', e.p -> 'specs' -> 'voltage'), 'min'),
           ohm.volts(coalesce(e.p -> 'specs' -> 'supply_voltage', e.p -> 'specs' -> 'voltage'), 'max')
      from jsonb_array_elements(new.content_json -> 'parts') with ordinality as e(p, ord);
  elsif art.type = 'wiring' then
    if jsonb_typeof(new.content_json -> 'connections') is distinct from 'array' then
      raise exception 'a wiring version needs content_json.connections (an array)'
        using errcode = 'check_violation', constraint = 'wiring_shape';
    end if;
    items := jsonb_array_length(new.content_json -> 'connections');
    cap := (select l.value from ohm.limits l where l.name = 'wiring_connections');
    if items > cap then
      raise exception 'a wiring version has at most % connections (this one has %)', cap, items
        using errcode = 'check_violation', constraint = 'wiring_connections_limit';
    end if;
    bom := ohm.current_bom_version(art.project_id, art.chat_id);
    -- Each name an endpoint may use (a designator, the MPN, the part's name), with the first part by
    -- position that answers to it: built once, joined twice.
    insert into public.connections
      (user_id, project_id, artifact_version_id, position, from_part, from_pin, to_part, to_pin, from_part_id,
       to_part_id, wire_color, voltage_level, signal_type, step_number, instruction, warnings)
    with names as (
      select distinct on (n.name) n.name, n.id
        from (select upper(d) as name, p.id, p.position from public.parts p, unnest(p.designators) d
               where p.artifact_version_id = bom
              union all
              select upper(p.mpn), p.id, p.position from public.parts p
               where p.artifact_version_id = bom and p.mpn is not null
              union all
              select upper(p.name), p.id, p.position from public.parts p where p.artifact_version_id = bom) n
       order by n.name, n.position
    )
    select new.user_id, art.project_id, new.id, (e.ord - 1)::integer,
           e.c -> 'from' ->> 'part', e.c -> 'from' ->> 'pin', e.c -> 'to' ->> 'part', e.c -> 'to' ->> 'pin',
           f.id, t.id,
           e.c ->> 'wire_color', (e.c ->> 'voltage')::numeric, e.c ->> 'signal', (e.c ->> 'step')::integer,
           e.c ->> 'instruction', ohm.text_array(e.c -> 'warnings')
      from jsonb_array_elements(new.content_json -> 'connections') with ordinality as e(c, ord)
      left join names f on f.name = upper(e.c -> 'from' ->> 'part')
      left join names t on t.name = upper(e.c -> 'to' ->> 'part');
  else
    if jsonb_typeof(new.content_json -> 'files') is distinct from 'array' then
      raise exception 'a code version needs content_json.files (an array)' using errcode = 'check_violation',
        constraint = 'code_shape';
    end if;
    items := jsonb_array_length(new.content_json -> 'files');
    cap := (select l.value from ohm.limits l where l.name = 'code_files');
    if items > cap then
      raise exception 'a code version has at most % files (this one has %)', cap, items
        using errcode = 'check_violation', constraint = 'code_files_limit';
    end if;
    insert into public.code_files
      (user_id, project_id, artifact_version_id, position, filename, language, platform, board, framework,
       success_unit, content, libraries, is_production_ready)
    select new.user_id, art.project_id, new.id, (e.ord - 1)::integer, e.f ->> 'filename', e.f ->> 'language',
           e.f ->> 'platform', e.f ->> 'board', e.f ->> 'framework', (e.f ->> 'success_unit')::smallint,
           coalesce(e.f ->> 'content', ''), ohm.text_array(e.f -> 'libraries'),
           coalesce((e.f ->> 'is_production_ready')::boolean, false)
      from jsonb_array_elements(new.content_json -> 'files') with ordinality as e(f, ord);
  end if;
  return null;
end
$$;

-- --- usage: copies are nobody's spend ----------------------------------------------------------------------------

create or replace function public.usage_summary(
  group_by   text default 'agent',
  since      timestamptz default null,
  until      timestamptz default null,
  chat_id    uuid default null,
  project_id uuid default null,
  role       text default null,
  for_user   uuid default null
) returns setof public.usage_row
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  owner uuid;
  everyone boolean := false;
  key text;
  label text;
  ordering text;
  aggregates constant text := $a$
    count(*), coalesce(sum(m.input_tokens), 0)::bigint, coalesce(sum(m.output_tokens), 0)::bigint,
    coalesce(sum(m.cost_usd), 0), coalesce(avg(m.input_tokens), 0)::float8, coalesce(avg(m.output_tokens), 0)::float8,
    avg(m.latency_ms)::float8, count(*) filter (where m.agent_model is not null and m.cost_usd is null)$a$;
  source constant text := $s$
      from public.messages m
      join public.chats c on c.id = m.chat_id
      left join public.projects p on p.id = c.project_id
     where ($1::uuid is null and $7 or m.user_id = $1) and not m.is_copy
       and ($2::timestamptz is null or m.created_at >= $2) and ($3::timestamptz is null or m.created_at < $3)
       and ($4::uuid is null or m.chat_id = $4) and ($5::uuid is null or c.project_id = $5)
       and ($6::text is null or m.role::text = $6)$s$;
begin
  if auth.uid() is not null then
    if usage_summary.for_user is not null and usage_summary.for_user <> auth.uid() then
      raise exception 'for_user can only be set by the service role' using errcode = 'PT422';
    end if;
    owner := auth.uid();
  elsif auth.role() = 'service_role' or current_user = 'service_role' then
    owner := usage_summary.for_user;
    everyone := owner is null;
  else
    raise exception 'sign in to see usage' using errcode = '42501';
  end if;
  if usage_summary.since is not null and usage_summary.until is not null
     and usage_summary.until <= usage_summary.since then
    raise exception 'until must be after since' using errcode = 'PT422';
  end if;
  if usage_summary.role is not null and usage_summary.role not in ('user', 'assistant', 'system', 'tool') then
    raise exception 'role must be one of user, assistant, system, tool' using errcode = 'PT422';
  end if;
  case usage_summary.group_by
    when 'agent' then key := 'm.agent_name'; label := 'null::text';
    when 'model' then key := 'ohm.price_model_id(m.agent_model)'; label := 'null::text';
    when 'intent' then key := 'm.intent::text'; label := 'null::text';
    when 'role' then key := 'm.role::text'; label := 'null::text';
    when 'day' then key := $k$to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD')$k$; label := 'null::text';
    when 'chat' then key := 'm.chat_id::text'; label := 'max(c.title)';
    when 'project' then key := 'c.project_id::text'; label := 'max(p.name)';
    else
      raise exception 'group_by must be one of agent, model, intent, role, day, chat, project'
        using errcode = 'PT422';
  end case;
  ordering := case usage_summary.group_by
                when 'day' then '1'
                when 'chat' then '6 desc, 3 desc, 1'
                when 'project' then '6 desc, 3 desc, 1'
                else '3 desc, 6 desc, 1' end;
  return query execute format(
    'select * from (select %1$s, %2$s, %3$s, false %4$s group by 1 order by %5$s limit 1000) g
     union all
     select null::text, null::text, %3$s, true %4$s',
    key, label, aggregates, source, ordering)
    using owner, usage_summary.since, usage_summary.until, usage_summary.chat_id, usage_summary.project_id,
          usage_summary.role, everyone;
end
$$;
