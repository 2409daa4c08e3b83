-- 0024 a lighter append.
--
-- Appending is what agents do most, and by 0023 every append ran, beside the
-- insert itself, five SQL helper functions that PostgreSQL cannot inline
-- (they carry `set search_path`) and so plans again in every transaction,
-- plus a second row trigger for the activity log.  Measured with pgbench and
-- track_functions (one client, local server), per append:
--
--   search_vector()            123 us  ->  55 us   (PL/pgSQL keeps its plans per session)
--   cost, event and log rows   365 us  -> 300 us   (written by the trigger that already runs)
--
-- Nothing is computed differently: the same vector, the same price row, the
-- same event and the same activity row as before.
--
-- The activity log also loses four of its seven indexes.  Listing a user's
-- log by chat, project, action or entity walks that user's rows newest first
-- (idx_activity_log_user) and filters, which stays fast at any size the
-- retention job (`ohm activity prune`) allows; every append paid for them.

drop index public.idx_activity_log_entity;
drop index public.idx_activity_log_user_action;
drop index public.idx_activity_log_chat;
drop index public.idx_activity_log_project;

-- --- search vectors ------------------------------------------------------------------------------------------------

create or replace function ohm.identifier_parts(t text) returns text
  language plpgsql immutable parallel safe
  set search_path = ''
as $$
begin
  return (select coalesce(string_agg(translate(m[1], '.-_/:', '     '), ' '), '')
            from regexp_matches(left(t, 262144), '([A-Za-z0-9]+(?:[.\-_/:][A-Za-z0-9]+)+)', 'g') as m);
end
$$;

create or replace function ohm.search_vector(t text) returns tsvector
  language plpgsql immutable parallel safe
  set search_path = ''
as $$
begin
  return to_tsvector('pg_catalog.english', left(coalesce(t, ''), 262144))
      || to_tsvector('pg_catalog.english', ohm.identifier_parts(coalesce(t, '')));
end
$$;

create or replace function ohm.price_model_id(p_model text) returns text
  language plpgsql immutable parallel safe
  set search_path = ''
as $$
begin
  return regexp_replace(lower(regexp_replace(btrim(p_model), '^.*/', '')), '-(\d{4}-\d{2}-\d{2}|\d{8})$', '');
end
$$;

-- --- the append trigger --------------------------------------------------------------------------------------------

drop trigger messages_activity on public.messages;

-- messages_before_insert as in 0023, with the price lookup of ohm.model_price(),
-- the event of ohm.emit_event() and the activity row of ohm.activity_trigger()
-- written out in place.
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
begin
  if new.cost_usd is null and new.agent_model is not null then
    -- an exact id first, then without the provider, then without a date suffix
    exact := lower(btrim(new.agent_model));
    bare := regexp_replace(exact, '^.*/', '');
    select round((new.input_tokens * mp.input_per_mtok + new.output_tokens * mp.output_per_mtok) / 1000000, 6)
      into new.cost_usd
      from public.model_prices mp
     where mp.model_id in (exact, bare) and mp.valid_from <= new.created_at
     order by (mp.model_id = exact) desc, mp.valid_from desc
     limit 1;
    if not found then
      select round((new.input_tokens * mp.input_per_mtok + new.output_tokens * mp.output_per_mtok) / 1000000, 6)
        into new.cost_usd
        from public.model_prices mp
       where mp.model_id = ohm.price_model_id(new.agent_model) and mp.valid_from <= new.created_at
       order by mp.valid_from desc
       limit 1;
    end if;
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
