-- Writers of one chat queue on the chat's row, from the insert trigger's
-- UPDATE until commit.  Everything the trigger did after taking that lock
-- was paid for by every writer waiting behind it.  Four steps need nothing
-- from the lock and now run before it:
--   - pricing the message (one or two lookups in model_prices);
--   - the per-user message budget (a read of the usage counters, + 1 for
--     this message);
--   - the activity row;
--   - the search vector (two to_tsvector calls over up to 256 KiB of text:
--     30 us for a short message, milliseconds for a long one), which as a
--     generated column was computed after the trigger, inside the lock.
--     The column is now an ordinary one a trigger keeps, firing before the
--     one that locks: set on every insert, recomputed when the content
--     changes, never taken from a writer (users cannot write it; the service
--     role's value is replaced).
-- Still under the lock: the leaf and number, the chat's totals, the usage
-- counter (its lock stays after the chat's, the order every other path
-- takes, so no two writers wait on each other), the realtime event (its
-- number is the chat's), and the row itself.

alter table public.messages alter column content_search drop expression;

create or replace function ohm.messages_before_insert()
  returns trigger
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
  -- The budget, before the chat's lock: this message counted in (+ 1).
  owned := coalesce((select sum(u.message_count) from ohm.usage_counters u where u.user_id = new.user_id), 0) + 1;
  if owned > (select l.value from ohm.limits l where l.name = 'messages_per_user') then
    raise exception 'message budget reached: % messages per user', owned - 1
      using errcode = 'PT413', hint = 'delete old chats, or raise ohm.limits.messages_per_user';
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

  -- Everything below runs under the chat row's lock, held until commit.
  if new.parent_id = '00000000-0000-0000-0000-000000000000' then
    select c.current_leaf_id into new.parent_id
      from public.chats c where c.id = new.chat_id and c.user_id = new.user_id
       for update;
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
  -- message.created (ohm.emit_event)
  insert into public.realtime_events (chat_id, user_id, event_seq, kind, entity_id, data)
  values (new.chat_id, new.user_id, event, 'message.created', new.id, jsonb_build_object('sequence_number', seq));
  if exists (select 1 from ohm.realtime_watch w where w.chat_id = new.chat_id and w.watched_until > now()) then
    perform pg_notify('ohm_events', json_build_object(
      'chat_id', new.chat_id, 'user_id', new.user_id, 'seq', event, 'kind', 'message.created', 'id', new.id,
      'data', jsonb_build_object('sequence_number', seq))::text);
  end if;

  return new;
end
$$;

-- Triggers fire in name order: this one first, so before the chat's lock.
-- ENABLE ALWAYS: like the generated column it replaces, the vector is derived
-- from the content whatever writes the row (a replica's apply, a bulk COPY
-- under session_replication_role = replica).
create function ohm.messages_search_vector() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    new.content_search := ohm.search_vector(new.content);
  elsif new.content is distinct from old.content then
    new.content_search := ohm.search_vector(new.content);
  else
    new.content_search := old.content_search;
  end if;
  return new;
end
$$;
revoke execute on function ohm.messages_search_vector() from public, anon, authenticated, service_role;

create trigger messages_0_search_vector
  before insert or update of content, content_search on public.messages
  for each row execute function ohm.messages_search_vector();
alter table public.messages enable always trigger messages_0_search_vector;
