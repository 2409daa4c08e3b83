-- 0023 cost at the day's price, a spend limit per project, and the activity
-- log written by triggers.
--
-- A message's cost_usd is computed when it is written, from its tokens and
-- the model's price valid at its created_at, unless the agent sent its own
-- cost (which wins).  It is stored: a later price change never rewrites it.
-- Model ids match with or without a provider prefix and a date suffix:
-- "openai/o1", "o1" and "claude-sonnet-4-20250514" ~ "claude-sonnet-4".

-- "openai/GPT-4o-2024-08-06" -> "gpt-4o"
create function ohm.price_model_id(p_model text) returns text
  language sql
  immutable
  set search_path = ''
as $$
  select regexp_replace(lower(regexp_replace(btrim(p_model), '^.*/', '')), '-(\d{4}-\d{2}-\d{2}|\d{8})$', '')
$$;

-- The price row for a model at a moment: an exact id first, then the normalised one.
create function ohm.model_price(p_model text, p_at timestamptz)
  returns table (model_id text, input_per_mtok numeric, output_per_mtok numeric, valid_from timestamptz)
  language sql
  stable
  set search_path = ''
as $$
  select mp.model_id, mp.input_per_mtok, mp.output_per_mtok, mp.valid_from
    from public.model_prices mp
   where mp.model_id in (lower(btrim(p_model)), lower(regexp_replace(btrim(p_model), '^.*/', '')),
                         ohm.price_model_id(p_model))
     and mp.valid_from <= p_at
   order by (mp.model_id = lower(btrim(p_model))) desc,
            (mp.model_id = lower(regexp_replace(btrim(p_model), '^.*/', ''))) desc,
            mp.valid_from desc
   limit 1
$$;

create function ohm.message_cost(p_model text, p_input integer, p_output integer, p_at timestamptz)
  returns numeric
  language sql
  stable
  set search_path = ''
as $$
  select round((p_input * p.input_per_mtok + p_output * p.output_per_mtok) / 1000000, 6)
    from ohm.model_price(p_model, p_at) p
$$;

revoke all on function ohm.price_model_id(text), ohm.model_price(text, timestamptz),
                       ohm.message_cost(text, integer, integer, timestamptz) from public;
grant execute on function ohm.price_model_id(text), ohm.model_price(text, timestamptz),
                          ohm.message_cost(text, integer, integer, timestamptz)
  to ohm_definer, authenticated, service_role;

-- messages_before_insert as in 0019, with the cost computed first.
create or replace function ohm.messages_before_insert() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  seq integer;
  event bigint;
begin
  if new.cost_usd is null and new.agent_model is not null then
    new.cost_usd := ohm.message_cost(new.agent_model, new.input_tokens, new.output_tokens, new.created_at);
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
         total_input_tokens  = c.total_input_tokens + new.input_tokens,
         total_output_tokens = c.total_output_tokens + new.output_tokens,
         total_cost_usd      = c.total_cost_usd + coalesce(new.cost_usd, 0)
   where c.id = new.chat_id and c.user_id = new.user_id
  returning c.last_sequence, c.last_event_seq into seq, event;
  if not found then
    raise exception 'chat % does not exist', new.chat_id
      using errcode = 'foreign_key_violation';
  end if;
  new.sequence_number := seq;
  update public.profiles p
     set message_count       = p.message_count + 1,
         total_input_tokens  = p.total_input_tokens + new.input_tokens,
         total_output_tokens = p.total_output_tokens + new.output_tokens,
         total_cost_usd      = p.total_cost_usd + coalesce(new.cost_usd, 0)
   where p.id = new.user_id;
  perform ohm.emit_event(new.chat_id, new.user_id, event, 'message.created', new.id,
                         jsonb_build_object('sequence_number', seq));
  return new;
end
$$;

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
  ('gemini-1.5-pro', 'google', 1.25, 5.00, null, '2024-10-01T00:00:00Z')
on conflict do nothing;

-- A project's optional LLM spend limit (its hardware budget is budget_amount).
alter table public.projects add column spend_limit_usd numeric(12, 2) check (spend_limit_usd >= 0);
comment on column public.projects.spend_limit_usd is 'Optional limit on the LLM spend of the project''s chats (USD).';
grant update (spend_limit_usd) on public.projects to authenticated;

-- Analytics read a user's messages by time.
create index if not exists idx_messages_user_created on public.messages (user_id, created_at desc);

-- --- activity log --------------------------------------------------------------------------------------------------

-- Whose log a row is in (user_id: the owner of what changed) and who did it
-- (actor_id: the signed-in user; null for the service role or an anonymous
-- share viewer, with actor_role saying which).
alter table public.activity_log
  add column actor_id uuid,
  add column actor_role text check (char_length(actor_role) <= 50);
create index idx_activity_log_user_action on public.activity_log (user_id, action, created_at desc);
create index idx_activity_log_chat on public.activity_log (chat_id, created_at desc) where chat_id is not null;
create index idx_activity_log_project on public.activity_log (project_id, created_at desc)
  where project_id is not null;

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
revoke all on function ohm.log_activity(uuid, text, text, uuid, uuid, uuid, jsonb) from public;

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
revoke all on function ohm.activity_trigger() from public;

-- What the trigger function reads.
create policy artifacts_definer_select on public.artifacts for select to ohm_definer using (true);
grant select on public.artifacts to ohm_definer;

create trigger chats_activity after insert or delete on public.chats
  for each row execute function ohm.activity_trigger();
-- Every message updates its chat's row (counters): only real changes call the function.
create trigger chats_activity_update after update of title, project_id, is_public on public.chats
  for each row when ((old.title is not null and new.title is distinct from old.title)
                     or new.project_id is distinct from old.project_id or new.is_public is distinct from old.is_public)
  execute function ohm.activity_trigger();
create trigger chat_forks_activity after insert on public.chat_forks
  for each row execute function ohm.activity_trigger();
create trigger messages_activity after insert on public.messages
  for each row execute function ohm.activity_trigger();
create trigger artifact_versions_activity after insert on public.artifact_versions
  for each row execute function ohm.activity_trigger();
create trigger shared_chats_activity after insert on public.shared_chats
  for each row execute function ohm.activity_trigger();
create trigger shared_chats_activity_update after update of is_active, view_count on public.shared_chats
  for each row when (new.is_active is distinct from old.is_active or new.view_count > old.view_count)
  execute function ohm.activity_trigger();
create trigger attachments_activity after insert or delete on public.attachments
  for each row execute function ohm.activity_trigger();
create trigger circuit_verifications_activity after insert on public.circuit_verifications
  for each row execute function ohm.activity_trigger();
create trigger datasheet_analyses_activity after insert on public.datasheet_analyses
  for each row execute function ohm.activity_trigger();
create trigger projects_activity after insert or delete or update on public.projects
  for each row execute function ohm.activity_trigger();

-- The log is written by the triggers only: users no longer insert rows themselves.
revoke insert on public.activity_log from authenticated;
drop policy activity_log_owner_insert on public.activity_log;
