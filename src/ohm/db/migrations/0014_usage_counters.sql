-- A user's totals without a per-user hot row.
--
-- Until now every append updated the user's `profiles` row (message count,
-- tokens, cost) in the writing transaction, so all of one user's writers --
-- the orchestrator, bomGenerator, wiringExpert, ... on eight chats at once --
-- queued on that one row lock until commit: measured through the library,
-- one user writing to 8 chats got about half the throughput of 8 users.
--
-- The totals now live in `ohm.usage_counters`, a few rows per user keyed by a
-- slot: the writing backend's process id modulo 32.  A connection runs one
-- transaction at a time, so it never waits for itself, and the connections of
-- a pool (opened together, consecutive process ids) land on different slots:
-- concurrent writers of one user update different rows.  A user's total is
-- the sum of their slots, read in one snapshot (`public.profile_totals`), so
-- it is exact: an append adds its message to a slot in the same transaction
-- that inserts it, and a delete subtracts in its own.  A slot may go below
-- zero (a delete on another connection than the append); the sum never does.
--
-- The message budget (ohm.limits.messages_per_user) is checked against that
-- sum.  Without the row lock, concurrent appends of one user do not see each
-- other's uncommitted messages: the budget can be passed by at most the
-- number of that user's concurrent writers, then every further append is
-- refused.

create table ohm.usage_counters (
  user_id             uuid not null references public.profiles (id) on delete cascade,
  slot                smallint not null check (slot between 0 and 31),
  message_count       bigint not null default 0,
  total_input_tokens  bigint not null default 0,
  total_output_tokens bigint not null default 0,
  total_cost_usd      numeric(16, 6) not null default 0,
  primary key (user_id, slot)
);

comment on table ohm.usage_counters is
  'A user''s message, token and cost totals in up to 32 slots (writing backend pid mod 32); the total is the sum.';

-- What the profiles held until now.
insert into ohm.usage_counters (user_id, slot, message_count, total_input_tokens, total_output_tokens,
                                total_cost_usd)
select id, 0, message_count, total_input_tokens, total_output_tokens, total_cost_usd
  from public.profiles
 where message_count <> 0 or total_input_tokens <> 0 or total_output_tokens <> 0 or total_cost_usd <> 0;

alter table public.profiles
  drop column message_count,
  drop column total_input_tokens,
  drop column total_output_tokens,
  drop column total_cost_usd;

alter table ohm.usage_counters enable row level security;
alter table ohm.usage_counters force row level security;
create policy usage_counters_select_own on ohm.usage_counters
  for select to authenticated using (user_id = (select auth.uid()));
create policy usage_counters_definer on ohm.usage_counters
  for all to ohm_definer using (true) with check (true);
revoke all on ohm.usage_counters from anon, authenticated, public;
grant select on ohm.usage_counters to authenticated;
grant select, insert, update on ohm.usage_counters to ohm_definer;
grant all on ohm.usage_counters to service_role;

-- A user's totals: one row per profile the caller may read (their own; the
-- service role's every one), zeros for a user who never wrote.
create view public.profile_totals with (security_invoker = true) as
select p.id as user_id,
       coalesce(t.message_count, 0)::bigint       as message_count,
       coalesce(t.total_input_tokens, 0)::bigint  as total_input_tokens,
       coalesce(t.total_output_tokens, 0)::bigint as total_output_tokens,
       coalesce(t.total_cost_usd, 0)::numeric(16, 6) as total_cost_usd
  from public.profiles p
  cross join lateral (
    select sum(u.message_count) as message_count, sum(u.total_input_tokens) as total_input_tokens,
           sum(u.total_output_tokens) as total_output_tokens, sum(u.total_cost_usd) as total_cost_usd
      from ohm.usage_counters u
     where u.user_id = p.id
  ) t;

comment on view public.profile_totals is
  'A user''s totals over all their chats: messages (a fork''s copies included), tokens and cost (copies excluded).';

revoke all on public.profile_totals from anon, authenticated, public;
grant select on public.profile_totals to authenticated, service_role;

-- The profile's columns of before, as computed fields: `profiles.message_count`
-- in SQL (qualified: `p.message_count`), and `profiles?select=message_count,...`
-- through PostgREST / supabase-js, as front ends read them until now.
create function public.message_count(public.profiles) returns bigint
  language sql stable set search_path = ''
as $$ select coalesce(sum(u.message_count), 0)::bigint from ohm.usage_counters u where u.user_id = $1.id $$;
create function public.total_input_tokens(public.profiles) returns bigint
  language sql stable set search_path = ''
as $$ select coalesce(sum(u.total_input_tokens), 0)::bigint from ohm.usage_counters u where u.user_id = $1.id $$;
create function public.total_output_tokens(public.profiles) returns bigint
  language sql stable set search_path = ''
as $$ select coalesce(sum(u.total_output_tokens), 0)::bigint from ohm.usage_counters u where u.user_id = $1.id $$;
create function public.total_cost_usd(public.profiles) returns numeric
  language sql stable set search_path = ''
as $$
  select coalesce(sum(u.total_cost_usd), 0)::numeric(16, 6) from ohm.usage_counters u where u.user_id = $1.id
$$;
revoke execute on function public.message_count(public.profiles), public.total_input_tokens(public.profiles),
  public.total_output_tokens(public.profiles), public.total_cost_usd(public.profiles) from public, anon;
grant execute on function public.message_count(public.profiles), public.total_input_tokens(public.profiles),
  public.total_output_tokens(public.profiles), public.total_cost_usd(public.profiles)
  to authenticated, service_role;

-- Add to (or, with negative figures, subtract from) the caller's slot of a
-- user's totals.  The update finds the row nearly always; the insert runs
-- once per user and slot.
create function ohm.add_usage(p_user uuid, p_messages bigint, p_input bigint, p_output bigint,
                              p_cost numeric) returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  s smallint := (pg_catalog.pg_backend_pid() % 32)::smallint;
begin
  update ohm.usage_counters u
     set message_count       = u.message_count + p_messages,
         total_input_tokens  = u.total_input_tokens + p_input,
         total_output_tokens = u.total_output_tokens + p_output,
         total_cost_usd      = u.total_cost_usd + p_cost
   where u.user_id = p_user and u.slot = s;
  if not found then
    insert into ohm.usage_counters as u
      (user_id, slot, message_count, total_input_tokens, total_output_tokens, total_cost_usd)
    select p_user, s, p_messages, p_input, p_output, p_cost
     where exists (select 1 from public.profiles p where p.id = p_user)
    on conflict (user_id, slot) do update
       set message_count       = u.message_count + excluded.message_count,
           total_input_tokens  = u.total_input_tokens + excluded.total_input_tokens,
           total_output_tokens = u.total_output_tokens + excluded.total_output_tokens,
           total_cost_usd      = u.total_cost_usd + excluded.total_cost_usd;
  end if;
end
$$;
alter function ohm.add_usage(uuid, bigint, bigint, bigint, numeric) owner to ohm_definer;
-- Only the triggers (as ohm_definer) add to totals.
revoke execute on function ohm.add_usage(uuid, bigint, bigint, bigint, numeric) from public, anon, authenticated;

-- The append trigger of 0003, with the profile update replaced by the slot's
-- and the budget read from the sum.
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
  -- ohm.add_usage, in place (the append path)
  update ohm.usage_counters u
     set message_count       = u.message_count + 1,
         total_input_tokens  = u.total_input_tokens + counted_in,
         total_output_tokens = u.total_output_tokens + counted_out,
         total_cost_usd      = u.total_cost_usd + counted_cost
   where u.user_id = new.user_id and u.slot = (pg_catalog.pg_backend_pid() % 32)::smallint;
  if not found then
    perform ohm.add_usage(new.user_id, 1, counted_in, counted_out, counted_cost);
  end if;
  owned := (select sum(u.message_count) from ohm.usage_counters u where u.user_id = new.user_id);
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

-- Usage corrected later (a streamed answer's final token count).
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
  perform ohm.add_usage(new.user_id, 0, new.input_tokens - old.input_tokens, new.output_tokens - old.output_tokens,
                        coalesce(new.cost_usd, 0) - coalesce(old.cost_usd, 0));
  return null;
end
$$;

-- Deletes: as in 0003, with the user's totals subtracted in the caller's
-- slot (once per user and statement).
create or replace function ohm.messages_after_delete() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  gone record;
  next record;
  spent record;
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
  for spent in
    select user_id, count(*) as n,
           coalesce(sum(input_tokens) filter (where not is_copy), 0) as input_tokens,
           coalesce(sum(output_tokens) filter (where not is_copy), 0) as output_tokens,
           coalesce(sum(cost_usd) filter (where not is_copy), 0) as cost_usd
      from old_rows
     where exists (select 1 from public.profiles p where p.id = old_rows.user_id)
     group by user_id
  loop
    perform ohm.add_usage(spent.user_id, -spent.n, -spent.input_tokens, -spent.output_tokens, -spent.cost_usd);
  end loop;
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
