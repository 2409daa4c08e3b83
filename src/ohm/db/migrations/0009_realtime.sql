-- Realtime: every change a chat's watchers care about becomes a row in
-- realtime_events, numbered per chat (chats.last_event_seq, taken in the
-- writing transaction like message numbers), and a NOTIFY on channel
-- `ohm_events` that carries only ids.  NOTIFY is delivered at commit, so a
-- listener only hears of committed changes; the numbered rows let a client
-- that was away catch up from its last cursor with no gap and no duplicate.
--
-- NOTIFY only for chats someone is watching: PostgreSQL serialises the
-- commits of all transactions that NOTIFY (a global lock held through
-- commit), which cost a third of the append throughput with 8 writers.  Most
-- chats are written by agents with nobody watching live, so server processes
-- announce which chats their subscribers watch (a lease renewed every 20 s),
-- and events are notified only for those.  Events are still always recorded;
-- a process also compares each watched chat's newest event number with what
-- it delivered every few seconds, so an event committed while a lease was
-- being taken is delivered late, never lost.
--
-- Events come from: messages (message.created, written by the append trigger
-- in 0003; message.updated; message.deleted, by messages_after_delete),
-- artifact versions (artifact.created, artifact.version_created, by the
-- version trigger in 0004), chats (chat.updated, chat.deleted) and uploads
-- (attachment.created, attachment.updated).

create table public.realtime_events (
  id          bigint generated always as identity primary key,
  chat_id     uuid not null,
  -- The chat's owner, for policies without joins; no foreign key: a
  -- chat.deleted event outlives its chat.
  user_id     uuid not null,
  event_seq   bigint not null check (event_seq >= 1),
  kind        text not null check (kind in ('message.created', 'message.updated', 'message.deleted',
                                            'artifact.created', 'artifact.version_created', 'chat.updated',
                                            'chat.deleted', 'attachment.created', 'attachment.updated')),
  entity_id   uuid not null,
  data        jsonb not null default '{}'::jsonb check (jsonb_typeof(data) = 'object'),
  created_at  timestamptz not null default now(),
  unique (chat_id, event_seq)
);

comment on table public.realtime_events is
  'What happened to each chat, in order (event_seq per chat): the replay log behind realtime resumes.';

create index idx_realtime_events_user on public.realtime_events (user_id, created_at);
create index idx_realtime_events_created on public.realtime_events (created_at);

create unlogged table ohm.realtime_watch (
  chat_id        uuid primary key,
  watched_until  timestamptz not null
);
comment on table ohm.realtime_watch is
  'Chats some server process has live subscribers for (leases); NOTIFY is sent only for these.';

alter table public.realtime_events enable row level security;
alter table public.realtime_events force row level security;
alter table ohm.realtime_watch enable row level security;
alter table ohm.realtime_watch force row level security;

create policy realtime_events_select on public.realtime_events
  for select to anon, authenticated
  using (
    user_id = (select auth.uid())
    or exists (select 1 from public.chats c where c.id = chat_id and c.is_public)
  );
create policy realtime_events_definer on public.realtime_events
  for insert to ohm_definer with check (true);
create policy realtime_watch_definer on ohm.realtime_watch for all to ohm_definer using (true) with check (true);

revoke all on public.realtime_events from anon, authenticated, public;
grant select on public.realtime_events to anon, authenticated;
grant insert on public.realtime_events to ohm_definer;
grant select, delete on public.realtime_events to service_role;
-- Identity sequences are not anyone's to advance (Supabase's default
-- privileges give anon and authenticated USAGE on new sequences).
revoke all on sequence public.realtime_events_id_seq from anon, authenticated, public;

grant select, insert, update, delete on ohm.realtime_watch to ohm_definer;

-- Record one event (the chat's next number is taken by the caller) and
-- announce it if someone watches the chat.
create function ohm.emit_event(p_chat uuid, p_owner uuid, p_seq bigint, p_kind text, p_entity uuid,
                                          p_data jsonb default '{}'::jsonb) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  insert into public.realtime_events (chat_id, user_id, event_seq, kind, entity_id, data)
  values (p_chat, p_owner, p_seq, p_kind, p_entity, p_data);
  if exists (select 1 from ohm.realtime_watch w where w.chat_id = p_chat and w.watched_until > now()) then
    perform pg_notify('ohm_events', json_build_object(
      'chat_id', p_chat, 'user_id', p_owner, 'seq', p_seq, 'kind', p_kind, 'id', p_entity, 'data', p_data)::text);
  end if;
end
$$;
alter function ohm.emit_event(uuid, uuid, bigint, text, uuid, jsonb) owner to ohm_definer;

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

-- A process takes or renews leases on the chats its subscribers watch.
create function ohm.watch_chats(p_chats uuid[], p_seconds integer default 60) returns void
  language sql
  security definer
  set search_path = ''
as $$
  insert into ohm.realtime_watch (chat_id, watched_until)
  select c, now() + make_interval(secs => least(greatest(p_seconds, 1), 600)) from unnest(p_chats) c
  on conflict (chat_id) do update set watched_until = greatest(ohm.realtime_watch.watched_until,
                                                               excluded.watched_until);
  delete from ohm.realtime_watch where watched_until < now() - interval '1 minute';
$$;
alter function ohm.watch_chats(uuid[], integer) owner to ohm_definer;

-- The newest event number of each watched chat (numbers only), for the safety sweep.
create function ohm.event_heads(p_chats uuid[]) returns table (chat_id uuid, last_event_seq bigint)
  language sql
  stable
  security definer
  set search_path = ''
as $$
  select c.id, c.last_event_seq from public.chats c where c.id = any(p_chats)
$$;
alter function ohm.event_heads(uuid[]) owner to ohm_definer;

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
create trigger messages_after_update_event
  after update of content, content_json, metadata, input_tokens, output_tokens, cost_usd on public.messages
  for each row
  when (old.content is distinct from new.content or old.content_json is distinct from new.content_json
        or old.metadata is distinct from new.metadata or old.input_tokens is distinct from new.input_tokens
        or old.output_tokens is distinct from new.output_tokens or old.cost_usd is distinct from new.cost_usd)
  execute function ohm.messages_after_update_event();

-- chat.updated: something a viewer sees changed (not the counters a new
-- message moves: that is message.created).  The number is taken in the same
-- UPDATE (BEFORE), the event written after it.
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

-- An upload in a chat, and each change of its processing status.
create function ohm.attachments_event() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  next record;
begin
  if new.chat_id is null then
    return null;
  end if;
  if tg_op = 'UPDATE' and new.processing_status is not distinct from old.processing_status
     and new.processing_error is not distinct from old.processing_error
     and new.chat_id is not distinct from old.chat_id then
    return null;
  end if;
  select * into next from ohm.next_event_seq(new.chat_id);
  if next.seq is null then
    return null;
  end if;
  perform ohm.emit_event(new.chat_id, next.owner, next.seq,
                         case when tg_op = 'INSERT' then 'attachment.created' else 'attachment.updated' end,
                         new.id, jsonb_build_object('processing_status', new.processing_status));
  return null;
end
$$;
alter function ohm.attachments_event() owner to ohm_definer;
create trigger attachments_after_insert_event
  after insert on public.attachments
  for each row execute function ohm.attachments_event();
create trigger attachments_after_update_event
  after update of processing_status, processing_error, chat_id on public.attachments
  for each row execute function ohm.attachments_event();

revoke execute on all functions in schema ohm from public;
grant execute on function ohm.emit_event(uuid, uuid, bigint, text, uuid, jsonb), ohm.next_event_seq(uuid)
  to ohm_definer;
grant execute on function ohm.watch_chats(uuid[], integer), ohm.event_heads(uuid[]) to ohm_authenticator;

-- Supabase Realtime, where it exists (on any other server this changes
-- nothing): Supabase streams the changes of the tables in its publication
-- `supabase_realtime` to subscribed front ends, checking each row against
-- the subscriber's row-level security.  The tables a chat page watches join
-- it, with REPLICA IDENTITY FULL so that an update or delete carries the old
-- row (a front end filtering on chat_id sees deletes and moves; the WAL of
-- such a change holds the old row too).
do $realtime$
declare
  t text;
begin
  if not exists (select from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    return;
  end if;
  foreach t in array array['chats', 'messages', 'artifacts', 'artifact_versions', 'attachments', 'projects'] loop
    execute format('alter table public.%I replica identity full', t);
    if not exists (select from pg_catalog.pg_publication_tables
                    where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = t) then
      begin
        execute format('alter publication supabase_realtime add table public.%I', t);
      exception when insufficient_privilege then
        raise warning 'not the owner of publication supabase_realtime: as its owner, run alter publication supabase_realtime add table public.%;', t;
      end;
    end if;
  end loop;
end
$realtime$;
