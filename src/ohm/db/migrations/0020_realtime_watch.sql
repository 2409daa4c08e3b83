-- 0020 NOTIFY only for chats someone is watching.
--
-- PostgreSQL serialises the commits of all transactions that NOTIFY (a
-- global lock held through commit), which cost a third of the append
-- throughput with 8 writers.  Most chats are written by agents with nobody
-- watching live, so server processes now announce which chats their
-- subscribers watch (a lease renewed every 20 s), and the event trigger
-- notifies only for those.  Events are still always recorded in
-- realtime_events; a process also compares each watched chat's newest event
-- number with what it delivered every few seconds, so an event committed
-- while a lease was being taken is delivered late, never lost.

create unlogged table ohm.realtime_watch (
  chat_id        uuid primary key,
  watched_until  timestamptz not null
);
comment on table ohm.realtime_watch is
  'Chats some server process has live subscribers for (leases); NOTIFY is sent only for these.';
alter table ohm.realtime_watch enable row level security;
alter table ohm.realtime_watch force row level security;
create policy realtime_watch_definer on ohm.realtime_watch for all to ohm_definer using (true) with check (true);
grant select, insert, update, delete on ohm.realtime_watch to ohm_definer;

create or replace function ohm.emit_event(p_chat uuid, p_owner uuid, p_seq bigint, p_kind text, p_entity uuid,
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

revoke all on function ohm.watch_chats(uuid[], integer), ohm.event_heads(uuid[]) from public;
grant execute on function ohm.watch_chats(uuid[], integer), ohm.event_heads(uuid[]) to ohm_authenticator;
