-- Costs and activity: what a model costs per million tokens from a date on,
-- what a user spent, and the log of important actions.
--
-- A message's cost_usd is computed when it is written, from its tokens and
-- the model's price valid at its created_at (the append trigger, 0003), and
-- stored: a later price change never rewrites it.  Model ids match with or
-- without a provider prefix and a date suffix: "openai/o1", "o1" and
-- "claude-sonnet-4-20250514" ~ "claude-sonnet-4".

create table public.model_prices (
  model_id               text not null check (model_id ~ '^[A-Za-z0-9][A-Za-z0-9._:@-]*$'
                                              and char_length(model_id) <= 200),
  provider               text not null check (char_length(provider) between 1 and 100),
  input_per_mtok         numeric(12, 6) not null check (input_per_mtok >= 0),
  output_per_mtok        numeric(12, 6) not null check (output_per_mtok >= 0),
  cached_input_per_mtok  numeric(12, 6) check (cached_input_per_mtok >= 0),
  currency               char(3) not null default 'USD' check (currency ~ '^[A-Z]{3}$'),
  valid_from             timestamptz not null,
  created_at             timestamptz not null default now(),
  primary key (model_id, valid_from)
);

comment on table public.model_prices is
  'List prices per million tokens, valid from a moment on; the latest valid_from <= t applies at t.';

-- Seed list prices (USD per million tokens).  gpt-4o shows a price change:
-- messages before 2024-10-02 are costed at the launch price.
insert into public.model_prices (model_id, provider, input_per_mtok, output_per_mtok, cached_input_per_mtok,
                                 valid_from) values
  ('gpt-4o', 'openai', 5.00, 15.00, null, '2024-05-13T00:00:00Z'),
  ('gpt-4o', 'openai', 2.50, 10.00, 1.25, '2024-10-02T00:00:00Z'),
  ('gpt-4o-mini', 'openai', 0.15, 0.60, 0.075, '2024-07-18T00:00:00Z'),
  ('gpt-4.1', 'openai', 2.00, 8.00, 0.50, '2025-04-14T00:00:00Z'),
  ('gpt-4.1-mini', 'openai', 0.40, 1.60, 0.10, '2025-04-14T00:00:00Z'),
  ('o1', 'openai', 15.00, 60.00, 7.50, '2024-12-05T00:00:00Z'),
  ('o3-mini', 'openai', 1.10, 4.40, 0.55, '2025-01-31T00:00:00Z'),
  ('claude-opus-4', 'anthropic', 15.00, 75.00, 1.50, '2025-05-22T00:00:00Z'),
  ('claude-sonnet-4', 'anthropic', 3.00, 15.00, 0.30, '2025-05-22T00:00:00Z'),
  ('claude-3-7-sonnet', 'anthropic', 3.00, 15.00, 0.30, '2025-02-24T00:00:00Z'),
  ('claude-3-5-haiku', 'anthropic', 0.80, 4.00, 0.08, '2024-10-22T00:00:00Z'),
  ('gemini-2.5-pro', 'google', 1.25, 10.00, 0.31, '2025-06-17T00:00:00Z'),
  ('gemini-2.5-flash', 'google', 0.30, 2.50, 0.075, '2025-06-17T00:00:00Z'),
  ('gemini-2.0-flash', 'google', 0.10, 0.40, 0.025, '2025-02-05T00:00:00Z'),
  ('gemini-1.5-pro', 'google', 1.25, 5.00, null, '2024-10-01T00:00:00Z');

alter table public.model_prices enable row level security;
alter table public.model_prices force row level security;

-- Prices are public knowledge; only the service role changes them.
create policy model_prices_read on public.model_prices
  for select to anon, authenticated, ohm_definer using (true);

revoke all on public.model_prices from anon, authenticated, public;
grant select on public.model_prices to anon, authenticated, ohm_definer;
grant all on public.model_prices to service_role;

-- The model id prices are kept under: "openai/GPT-4o-2024-08-06" -> "gpt-4o".
-- (The append trigger tries the exact id and the id without provider first.)
create function ohm.price_model_id(p_model text) returns text
  language plpgsql immutable parallel safe
  set search_path = ''
as $$
begin
  return regexp_replace(lower(regexp_replace(btrim(p_model), '^.*/', '')), '-(\d{4}-\d{2}-\d{2}|\d{8})$', '');
end
$$;

-- --- usage -----------------------------------------------------------------------------------------------------------

create type public.usage_row as (
  key               text,     -- the agent, model, intent, role, day, chat id or project id (null: none)
  label             text,     -- a chat's title or a project's name
  messages          bigint,
  input_tokens      bigint,
  output_tokens     bigint,
  cost_usd          numeric,
  avg_input_tokens  float8,
  avg_output_tokens float8,
  avg_latency_ms    float8,
  unpriced          bigint,   -- messages of a model with no known price (cost unknown)
  is_total          boolean   -- the last row: every message of the selection
);

-- Messages, tokens and cost of the caller's own messages (the service role:
-- everyone's, or for_user's) grouped by agent, model, intent, role, day
-- (UTC), chat or project, largest first (days in order), at most 1,000
-- groups, then one row of totals.  A fork's copies are nobody's spend.
-- Callable with supabase.rpc() (see 0001).
create function public.usage_summary(
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

-- --- activity log ----------------------------------------------------------------------------------------------------

-- One append-only row per important action.  Rows are never updated.  They
-- are deleted only with their user, or by the retention job (`ohm activity
-- prune`), which sets `ohm.activity_prune` for its own transaction.  Whose
-- log a row is in (user_id: the owner of what changed) and who did it
-- (actor_id: the signed-in user; null for the service role or an anonymous
-- share viewer, with actor_role saying which).  The rows are written by the
-- triggers below (and, for messages, by the append trigger in 0003); users
-- do not insert rows themselves.
create table public.activity_log (
  id           bigint generated always as identity primary key,
  user_id      uuid references public.profiles (id) on delete cascade,
  -- e.g. chat.created, message.created, artifact.version_created, share.viewed
  action       text not null check (action ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'
                                    and char_length(action) <= 100),
  entity_type  text not null check (char_length(entity_type) between 1 and 50),
  entity_id    uuid,
  -- Context, kept as plain ids: the log outlives what it describes.
  chat_id      uuid,
  project_id   uuid,
  metadata     jsonb not null default '{}'::jsonb
                 check (jsonb_typeof(metadata) = 'object'
                        and octet_length(metadata::text) <= 16384),
  created_at   timestamptz not null default now(),
  actor_id     uuid,
  actor_role   text check (char_length(actor_role) <= 50)
);

comment on table public.activity_log is
  'Append-only log of important actions (actor, action, entity, context); UPDATE refused, DELETE only by retention.';

-- Listing a user's log by chat, project, action or entity walks that user's
-- rows newest first and filters, which stays fast at any size the retention
-- job allows; every append would pay for more indexes.
create index idx_activity_log_user on public.activity_log (user_id, created_at desc, id desc);
create index idx_activity_log_created on public.activity_log (created_at);

create function ohm.activity_log_append_only() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and (pg_trigger_depth() > 1
                           or current_setting('ohm.activity_prune', true) = 'on') then
    return old;
  end if;
  raise exception 'activity_log is append-only: % refused', lower(tg_op)
    using errcode = 'restrict_violation';
end
$$;

create trigger activity_log_append_only
  before update or delete on public.activity_log
  for each row execute function ohm.activity_log_append_only();

alter table public.activity_log enable row level security;
alter table public.activity_log force row level security;

create policy activity_log_owner_select on public.activity_log
  for select to authenticated using (user_id = (select auth.uid()));
create policy activity_log_definer_insert on public.activity_log
  for insert to ohm_definer with check (true);

revoke all on public.activity_log from anon, authenticated, public;
grant select on public.activity_log to authenticated;
grant insert on public.activity_log to ohm_definer;
grant select, insert, delete on public.activity_log to service_role;
revoke all on sequence public.activity_log_id_seq from anon, authenticated, public;

create function ohm.log_activity(p_owner uuid, p_action text, p_entity_type text, p_entity uuid, p_chat uuid,
                                 p_project uuid, p_metadata jsonb default '{}'::jsonb) returns void
  language sql
  security definer
  set search_path = ''
as $$
  insert into public.activity_log (user_id, action, entity_type, entity_id, chat_id, project_id, metadata,
                                   actor_id, actor_role)
  select p_owner, p_action, p_entity_type, p_entity, p_chat, p_project, p_metadata, ohm.request_user_id(),
         coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', current_user::text)
   where exists (select 1 from public.profiles where id = p_owner)
$$;
alter function ohm.log_activity(uuid, text, text, uuid, uuid, uuid, jsonb) owner to ohm_definer;

-- One trigger function for every table whose changes are logged.
create function ohm.activity_trigger() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  r record;
  art record;
  restored text;
begin
  -- A fork copies many messages and versions: it is logged once, as chat.forked.
  if current_setting('ohm.activity_quiet', true) = 'on' then
    return null;
  end if;
  case tg_table_name
  when 'chats' then
    if tg_op = 'INSERT' then
      perform ohm.log_activity(new.user_id, 'chat.created', 'chat', new.id, new.id, new.project_id,
                               jsonb_strip_nulls(jsonb_build_object('title', new.title)));
    elsif tg_op = 'DELETE' then
      perform ohm.log_activity(old.user_id, 'chat.deleted', 'chat', old.id, old.id, old.project_id,
                               jsonb_strip_nulls(jsonb_build_object('title', old.title,
                                                                    'messages', old.message_count)));
    elsif new.title is distinct from old.title and old.title is not null then
      perform ohm.log_activity(new.user_id, 'chat.renamed', 'chat', new.id, new.id, new.project_id,
                               jsonb_build_object('from', old.title, 'to', new.title));
    elsif new.project_id is distinct from old.project_id then
      perform ohm.log_activity(new.user_id, 'chat.moved', 'chat', new.id, new.id, new.project_id,
                               jsonb_build_object('from_project', old.project_id));
    elsif new.is_public is distinct from old.is_public then
      perform ohm.log_activity(new.user_id, case when new.is_public then 'chat.published' else 'chat.unpublished'
                                            end, 'chat', new.id, new.id, new.project_id);
    end if;
  when 'messages' then
    perform ohm.log_activity(new.user_id, 'message.created', 'message', new.id, new.chat_id, null,
                             jsonb_strip_nulls(jsonb_build_object(
                               'role', new.role, 'agent', new.agent_name, 'model', new.agent_model,
                               'intent', new.intent, 'input_tokens', nullif(new.input_tokens, 0),
                               'output_tokens', nullif(new.output_tokens, 0), 'cost_usd', new.cost_usd)));
  when 'artifact_versions' then
    select a.chat_id, a.project_id, a.type::text as type, a.title into art
      from public.artifacts a where a.id = new.artifact_id;
    restored := nullif(current_setting('ohm.restored_from', true), '');
    perform ohm.log_activity(new.user_id, case when restored is not null then 'artifact.restored'
                                               when new.version_number = 1 then 'artifact.created'
                                               else 'artifact.version_created' end,
                             'artifact', new.artifact_id, art.chat_id, art.project_id,
                             jsonb_strip_nulls(jsonb_build_object(
                               'type', art.type, 'title', art.title, 'version', new.version_number,
                               'restored_from', restored::integer, 'agent', new.created_by_agent,
                               'summary', left(new.change_summary, 200))));
  when 'shared_chats' then
    select c.project_id into r from public.chats c where c.id = new.chat_id;
    if tg_op = 'INSERT' then
      perform ohm.log_activity(new.user_id, 'share.created', 'share', new.id, new.chat_id, r.project_id,
                               jsonb_strip_nulls(jsonb_build_object('expires_at', new.expires_at)));
    elsif new.is_active is distinct from old.is_active and not new.is_active then
      perform ohm.log_activity(new.user_id, 'share.revoked', 'share', new.id, new.chat_id, r.project_id);
    elsif new.view_count > old.view_count then
      perform ohm.log_activity(new.user_id, 'share.viewed', 'share', new.id, new.chat_id, r.project_id,
                               jsonb_build_object('views', new.view_count));
    end if;
  when 'chat_forks' then
    select c.project_id into r from public.chats c where c.id = new.fork_chat_id;
    perform ohm.log_activity(new.forked_by, 'chat.forked', 'chat', new.fork_chat_id, new.fork_chat_id, r.project_id,
                             jsonb_strip_nulls(jsonb_build_object('original_chat_id', new.original_chat_id,
                                                                  'share_id', new.share_id,
                                                                  'fork_point_message_id', new.fork_point_message_id)));
  when 'attachments' then
    if tg_op = 'INSERT' then
      perform ohm.log_activity(new.user_id, 'attachment.uploaded', 'attachment', new.id, new.chat_id,
                               new.project_id, jsonb_build_object('filename', new.filename, 'category', new.category,
                                                                  'size_bytes', new.size_bytes));
    elsif tg_op = 'DELETE' then
      perform ohm.log_activity(old.user_id, 'attachment.deleted', 'attachment', old.id, old.chat_id,
                               old.project_id, jsonb_build_object('filename', old.filename));
    end if;
  when 'circuit_verifications' then
    perform ohm.log_activity(new.user_id, 'verification.created', 'verification', new.id, new.chat_id,
                             new.project_id, jsonb_build_object('status', new.status,
                                                                'issues', jsonb_array_length(new.issues)));
  when 'datasheet_analyses' then
    perform ohm.log_activity(new.user_id, 'datasheet_analysis.created', 'datasheet_analysis', new.id, null,
                             new.project_id, jsonb_build_object('part_number', new.part_number));
  when 'projects' then
    if tg_op = 'INSERT' then
      perform ohm.log_activity(new.user_id, 'project.created', 'project', new.id, null, new.id,
                               jsonb_build_object('name', new.name));
    elsif tg_op = 'DELETE' then
      perform ohm.log_activity(old.user_id, 'project.deleted', 'project', old.id, null, old.id,
                               jsonb_build_object('name', old.name));
    else
      perform ohm.log_activity(new.user_id, 'project.updated', 'project', new.id, null, new.id,
                               jsonb_build_object('fields', (
                                 select coalesce(jsonb_agg(n.key order by n.key), '[]'::jsonb)
                                   from jsonb_each(to_jsonb(new)) n join jsonb_each(to_jsonb(old)) o using (key)
                                  where n.value is distinct from o.value and n.key <> 'updated_at')));
    end if;
  end case;
  return null;
end
$$;
alter function ohm.activity_trigger() owner to ohm_definer;

create trigger chats_activity after insert or delete on public.chats
  for each row execute function ohm.activity_trigger();
-- Every message updates its chat's row (counters): only real changes call the function.
create trigger chats_activity_update after update of title, project_id, is_public on public.chats
  for each row when ((old.title is not null and new.title is distinct from old.title)
                     or new.project_id is distinct from old.project_id or new.is_public is distinct from old.is_public)
  execute function ohm.activity_trigger();
create trigger chat_forks_activity after insert on public.chat_forks
  for each row execute function ohm.activity_trigger();
create trigger artifact_versions_activity after insert on public.artifact_versions
  for each row execute function ohm.activity_trigger();
create trigger shared_chats_activity after insert on public.shared_chats
  for each row execute function ohm.activity_trigger();
-- At most one share.viewed row per share and hour in the owner's log.
create trigger shared_chats_activity_update after update of is_active, view_count on public.shared_chats
  for each row when (new.is_active is distinct from old.is_active
                     or (new.view_count > old.view_count
                         and (old.last_viewed_at is null or old.last_viewed_at < now() - interval '1 hour')))
  execute function ohm.activity_trigger();
create trigger attachments_activity after insert or delete on public.attachments
  for each row execute function ohm.activity_trigger();
create trigger circuit_verifications_activity after insert on public.circuit_verifications
  for each row execute function ohm.activity_trigger();
create trigger datasheet_analyses_activity after insert on public.datasheet_analyses
  for each row execute function ohm.activity_trigger();
create trigger projects_activity after insert or delete or update on public.projects
  for each row execute function ohm.activity_trigger();

revoke execute on all functions in schema ohm from public;
grant execute on function ohm.price_model_id(text) to ohm_definer, authenticated, service_role;
revoke all on function public.usage_summary(text, timestamptz, timestamptz, uuid, uuid, text, uuid)
  from public, anon, authenticated;
grant execute on function public.usage_summary(text, timestamptz, timestamptz, uuid, uuid, text, uuid)
  to authenticated, service_role;
