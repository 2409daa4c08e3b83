-- 0019 realtime: every change a chat's watchers care about becomes a row in
-- realtime_events, numbered per chat (chats.last_event_seq, taken in the
-- writing transaction like message numbers), and a NOTIFY on channel
-- `ohm_events` that carries only ids.  NOTIFY is delivered at commit, so a
-- listener only hears of committed changes; the numbered rows let a client
-- that was away catch up from its last cursor with no gap and no duplicate.

alter table public.chats add column last_event_seq bigint not null default 0 check (last_event_seq >= 0);
comment on column public.chats.last_event_seq is 'Cursor of the newest realtime event of this chat.';

create table public.realtime_events (
  id          bigint generated always as identity primary key,
  chat_id     uuid not null,
  -- The chat's owner, for policies without joins; no foreign key: a
  -- chat.deleted event outlives its chat.
  user_id     uuid not null,
  event_seq   bigint not null check (event_seq >= 1),
  kind        text not null check (kind in ('message.created', 'message.updated', 'artifact.created',
                                            'artifact.version_created', 'chat.updated', 'chat.deleted')),
  entity_id   uuid not null,
  data        jsonb not null default '{}'::jsonb check (jsonb_typeof(data) = 'object'),
  created_at  timestamptz not null default now(),
  unique (chat_id, event_seq)
);

comment on table public.realtime_events is
  'What happened to each chat, in order (event_seq per chat): the replay log behind realtime resumes.';

create index idx_realtime_events_user on public.realtime_events (user_id, created_at);
create index idx_realtime_events_created on public.realtime_events (created_at);

alter table public.realtime_events enable row level security;
alter table public.realtime_events force row level security;

create policy realtime_events_select on public.realtime_events
  for select to anon, authenticated
  using (
    user_id = (select auth.uid())
    or exists (select 1 from public.chats c where c.id = chat_id and c.is_public)
  );
create policy realtime_events_definer on public.realtime_events
  for insert to ohm_definer with check (true);

revoke all on public.realtime_events from anon, authenticated, public;
grant select on public.realtime_events to anon, authenticated;
grant insert on public.realtime_events to ohm_definer;
grant select, delete on public.realtime_events to service_role;

-- Record one event (the chat's next number is taken by the caller) and announce it.
create function ohm.emit_event(p_chat uuid, p_owner uuid, p_seq bigint, p_kind text, p_entity uuid,
                               p_data jsonb default '{}'::jsonb) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  insert into public.realtime_events (chat_id, user_id, event_seq, kind, entity_id, data)
  values (p_chat, p_owner, p_seq, p_kind, p_entity, p_data);
  perform pg_notify('ohm_events', json_build_object(
    'chat_id', p_chat, 'user_id', p_owner, 'seq', p_seq, 'kind', p_kind, 'id', p_entity, 'data', p_data)::text);
end
$$;
alter function ohm.emit_event(uuid, uuid, bigint, text, uuid, jsonb) owner to ohm_definer;
revoke all on function ohm.emit_event(uuid, uuid, bigint, text, uuid, jsonb) from public;

-- The next event number of a chat, for changes that do not update the chat row themselves.
create function ohm.next_event_seq(p_chat uuid, out seq bigint, out owner uuid)
  language sql
  security definer
  set search_path = ''
as $$
  update public.chats set last_event_seq = last_event_seq + 1 where id = p_chat
  returning last_event_seq, user_id
$$;
alter function ohm.next_event_seq(uuid) owner to ohm_definer;
revoke all on function ohm.next_event_seq(uuid) from public;

-- message.created: numbered in the same UPDATE of the chat row that numbers the message.
create or replace function ohm.messages_before_insert() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  seq integer;
  event bigint;
begin
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

-- message.updated: content, JSON, metadata or usage changed.
create function ohm.messages_after_update_event() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  next record;
begin
  select * into next from ohm.next_event_seq(new.chat_id);
  perform ohm.emit_event(new.chat_id, next.owner, next.seq, 'message.updated', new.id,
                         jsonb_build_object('sequence_number', new.sequence_number));
  return null;
end
$$;
alter function ohm.messages_after_update_event() owner to ohm_definer;
revoke all on function ohm.messages_after_update_event() from public;
create trigger messages_after_update_event
  after update of content, content_json, metadata, input_tokens, output_tokens, cost_usd on public.messages
  for each row
  when (old.content is distinct from new.content or old.content_json is distinct from new.content_json
        or old.metadata is distinct from new.metadata or old.input_tokens is distinct from new.input_tokens
        or old.output_tokens is distinct from new.output_tokens or old.cost_usd is distinct from new.cost_usd)
  execute function ohm.messages_after_update_event();

-- artifact.created (version 1) and artifact.version_created (later versions),
-- numbered with the version in the same transaction.
create or replace function ohm.artifact_versions_before_insert() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  n integer;
  chat uuid;
  next record;
begin
  update public.artifacts a
     set total_versions  = a.total_versions + 1,
         current_version = a.total_versions + 1
   where a.id = new.artifact_id and a.user_id = new.user_id
  returning a.total_versions, a.chat_id into n, chat;
  if not found then
    raise exception 'artifact % does not exist', new.artifact_id
      using errcode = 'foreign_key_violation';
  end if;
  new.version_number := n;
  select * into next from ohm.next_event_seq(chat);
  perform ohm.emit_event(chat, next.owner, next.seq,
                         case when n = 1 then 'artifact.created' else 'artifact.version_created' end,
                         new.artifact_id, jsonb_build_object('version', n, 'version_id', new.id));
  return new;
end
$$;

-- chat.updated: something a viewer sees changed (not the counters a new
-- message moves: that is message.created).
create function ohm.chats_before_update_event() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if new.last_sequence = old.last_sequence
     and (new.title, new.phase, new.is_public, new.is_archived, new.is_pinned, new.project_id, new.current_leaf_id)
         is distinct from
         (old.title, old.phase, old.is_public, old.is_archived, old.is_pinned, old.project_id, old.current_leaf_id)
  then
    new.last_event_seq := old.last_event_seq + 1;
  end if;
  return new;
end
$$;
create function ohm.chats_after_update_event() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  perform ohm.emit_event(new.id, new.user_id, new.last_event_seq, 'chat.updated', new.id);
  return null;
end
$$;
create function ohm.chats_after_delete_event() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  perform ohm.emit_event(old.id, old.user_id, old.last_event_seq + 1, 'chat.deleted', old.id);
  return null;
end
$$;
alter function ohm.chats_after_update_event() owner to ohm_definer;
alter function ohm.chats_after_delete_event() owner to ohm_definer;
revoke all on function ohm.chats_before_update_event(), ohm.chats_after_update_event(),
                       ohm.chats_after_delete_event() from public;

create trigger chats_before_update_event
  before update on public.chats
  for each row execute function ohm.chats_before_update_event();
create trigger chats_after_update_event
  after update on public.chats
  for each row when (new.last_event_seq > old.last_event_seq and new.last_sequence = old.last_sequence
                     and (new.title, new.phase, new.is_public, new.is_archived, new.is_pinned, new.project_id,
                          new.current_leaf_id)
                         is distinct from
                         (old.title, old.phase, old.is_public, old.is_archived, old.is_pinned, old.project_id,
                          old.current_leaf_id))
  execute function ohm.chats_after_update_event();
create trigger chats_after_delete_event
  after delete on public.chats
  for each row execute function ohm.chats_after_delete_event();

grant execute on function ohm.emit_event(uuid, uuid, bigint, text, uuid, jsonb), ohm.next_event_seq(uuid)
  to ohm_definer;
