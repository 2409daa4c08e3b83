-- 0025 a front end that talks to the tables directly (supabase-js through
-- PostgREST, with the user's JWT) gets what OHM's API gets.
--
-- * Inserts name only what the user decides.  `user_id` defaults to the
--   caller (auth.uid(), as Supabase's own examples do), and the numbers the
--   triggers assign (a message's sequence_number, a version's version_number)
--   have a placeholder default, so a generated `Insert` type does not ask for
--   them.  The placeholder 0 fails the `>= 1` check if the trigger ever does
--   not run (session_replication_role = replica), instead of passing silently.
-- * A message inserted without parent_id continues the active branch, as a
--   message posted to OHM's API does: the column's default is a marker (the
--   nil UUID) that the insert trigger replaces by the chat's current leaf.
--   An explicit null starts a new root (an edit of the first message).
-- * Exactly one foreign key links chats and messages (messages.chat_id), so
--   `chats?select=*,messages(*)` embeds without a hint and typed clients see
--   an array.  The tip of the active branch (chats.current_leaf_id) is kept
--   consistent by triggers instead: a leaf set by a user must be a message of
--   the chat, and deleting the leaf clears it (as the foreign key's
--   ON DELETE SET NULL did).  The appending trigger sets it without a check:
--   the message it points at is the one being inserted.
-- * cost_usd is the database's when it knows the model's price: a value a
--   client sends is kept only for models without a price.
-- * Identity sequences are not anyone's to advance (Supabase's default
--   privileges give anon and authenticated USAGE on new sequences).

-- Migration 0002's first text lacked this grant (see ohm.db.migrate.AMENDED).
grant create on schema ohm to ohm_definer;

-- --- defaults for inserts --------------------------------------------------------------------------------------------

do $defaults$
declare
  t text;
begin
  foreach t in array array['projects', 'chats', 'messages', 'artifacts', 'artifact_versions', 'parts', 'connections',
                           'code_files', 'circuit_verifications', 'datasheet_analyses', 'shared_chats', 'check_runs']
  loop
    execute format('alter table public.%I alter column user_id set default auth.uid()', t);
  end loop;
end
$defaults$;
alter table public.chat_forks alter column forked_by set default auth.uid();

alter table public.messages alter column sequence_number set default 0;
alter table public.messages alter column parent_id set default '00000000-0000-0000-0000-000000000000';
comment on column public.messages.parent_id is
  'The message this one answers or replaces (same chat). Omitted: the chat''s current leaf; null: a new root.';
comment on column public.messages.sequence_number is
  'Position in the chat over all branches (1, 2, ...), assigned by the insert trigger; 0 is only a placeholder.';
alter table public.artifact_versions alter column version_number set default 0;
comment on column public.artifact_versions.version_number is
  'Version 1, 2, ... of the artifact, assigned by the insert trigger; 0 is only a placeholder.';

-- --- the current leaf without a second foreign key ---------------------------------------------------------------

alter table public.chats drop constraint chats_current_leaf_fk;
comment on column public.chats.current_leaf_id is
  'Last message of the active branch; a new message becomes the leaf. Set it to switch branches (a message of '
  'this chat); cleared when that message is deleted.';

create function ohm.chats_check_current_leaf() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  if not exists (select 1 from public.messages m where m.chat_id = new.id and m.id = new.current_leaf_id) then
    raise exception 'current_leaf_id % is not a message of this chat', new.current_leaf_id
      using errcode = 'foreign_key_violation', constraint = 'chats_current_leaf_fk';
  end if;
  return new;
end
$$;
alter function ohm.chats_check_current_leaf() owner to ohm_definer;
revoke all on function ohm.chats_check_current_leaf() from public;

-- Only statements of users and services (trigger depth 0): the append trigger
-- points the leaf at the row it is inserting.
create trigger chats_check_current_leaf
  before insert or update of current_leaf_id on public.chats
  for each row when (new.current_leaf_id is not null and pg_trigger_depth() = 0)
  execute function ohm.chats_check_current_leaf();

-- messages_after_delete as in 0007, and the leaf cleared when it was deleted.
create or replace function ohm.messages_after_delete() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update public.chats c
     set message_count       = greatest(c.message_count - d.n, 0),
         total_input_tokens  = greatest(c.total_input_tokens - d.input_tokens, 0),
         total_output_tokens = greatest(c.total_output_tokens - d.output_tokens, 0),
         total_cost_usd      = greatest(c.total_cost_usd - d.cost_usd, 0),
         current_leaf_id     = case when c.current_leaf_id = any (d.ids) then null else c.current_leaf_id end
    from (select chat_id, count(*) as n, sum(input_tokens) as input_tokens,
                 sum(output_tokens) as output_tokens, coalesce(sum(cost_usd), 0) as cost_usd,
                 array_agg(id) as ids
            from old_rows group by chat_id) d
   where c.id = d.chat_id;
  update public.profiles p
     set message_count       = greatest(p.message_count - d.n, 0),
         total_input_tokens  = greatest(p.total_input_tokens - d.input_tokens, 0),
         total_output_tokens = greatest(p.total_output_tokens - d.output_tokens, 0),
         total_cost_usd      = greatest(p.total_cost_usd - d.cost_usd, 0)
    from (select user_id, count(*) as n, sum(input_tokens) as input_tokens,
                 sum(output_tokens) as output_tokens, coalesce(sum(cost_usd), 0) as cost_usd
            from old_rows group by user_id) d
   where p.id = d.user_id;
  return null;
end
$$;

-- --- cost_usd at the day's price, whoever writes ---------------------------------------------------------------

-- messages_before_insert as in 0024; the price, when one is known, replaces a cost the writer sent, and
-- an omitted parent becomes the current leaf (the chat row is locked first: the leaf cannot move between).
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
begin
  if new.parent_id = '00000000-0000-0000-0000-000000000000' then
    select c.current_leaf_id into new.parent_id
      from public.chats c where c.id = new.chat_id and c.user_id = new.user_id
       for update;
  end if;
  if new.agent_model is not null then
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

-- --- sequences ---------------------------------------------------------------------------------------------------

revoke all on sequence public.activity_log_id_seq, public.realtime_events_id_seq from anon, authenticated, public;
