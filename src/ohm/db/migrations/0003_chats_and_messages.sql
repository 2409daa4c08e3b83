-- Chats and messages.
--
-- A chat's id is its URL (/chat/<uuid>).  Every message of every chat is kept,
-- in order, as a tree: `parent_id` makes branches (an edit or a regeneration
-- is a new message whose parent is not the chat's current leaf).
-- `sequence_number` is unique and gap-free per chat in insertion order (over
-- all branches), taken from chats.last_sequence with UPDATE ... RETURNING in
-- the inserting transaction, so concurrent writers queue on the chat row
-- instead of racing on max()+1.

create type public.message_role as enum ('user', 'assistant', 'system', 'tool');

-- What an agent was doing when it answered.
create type public.agent_intent as enum (
  'CHAT', 'PLAN', 'BOM', 'WIRING', 'CODE', 'VERIFY', 'DATASHEET', 'DEBUG', 'RESEARCH', 'SUMMARY'
);

-- Where a hardware conversation stands, from the idea to a working device.
create type public.chat_phase as enum (
  'ideation', 'requirements', 'bom', 'wiring', 'code', 'verification', 'complete'
);

-- Enums live in `public` so that Supabase's type generator and PostgREST see
-- them.  A new value is added with `alter type ... add value` in a new
-- migration; values are never removed.

create table public.chats (
  id                  uuid primary key default gen_random_uuid(),
  user_id             uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  -- Linked to the project of the same user (foreign key added with projects, 0005).
  project_id          uuid,
  title               text check (char_length(title) <= 300),
  phase               public.chat_phase not null default 'ideation',
  is_public           boolean not null default false,
  is_archived         boolean not null default false,
  is_pinned           boolean not null default false,
  -- Kept by triggers on messages; not writable through the API roles.
  message_count       integer not null default 0 check (message_count >= 0),
  last_sequence       integer not null default 0 check (last_sequence >= 0),
  last_message_at     timestamptz not null default now(),
  total_input_tokens  bigint not null default 0 check (total_input_tokens >= 0),
  total_output_tokens bigint not null default 0 check (total_output_tokens >= 0),
  total_cost_usd      numeric(16, 6) not null default 0 check (total_cost_usd >= 0),
  forked_from         uuid references public.chats (id) on delete set null,
  current_leaf_id     uuid,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  is_branched         boolean not null default false,
  last_event_seq      bigint not null default 0 check (last_event_seq >= 0),
  unique (id, user_id)
);

comment on table public.chats is
  'A conversation; its uuid is its URL. Counters, title and current leaf kept by triggers on messages.';
comment on column public.chats.last_sequence is
  'Highest message sequence number handed out; taken with UPDATE ... RETURNING, never max()+1.';
comment on column public.chats.current_leaf_id is
  'Last message of the active branch; a new message becomes the leaf. Set it to switch branches (a message of '
  'this chat); cleared when that message is deleted.';
-- Most chats never branch, and their active branch is simply every message in
-- order: loading one reads the messages in index order instead of walking
-- parent links one by one.  The flag never goes back: once set, readers walk
-- the tree, which is always correct.
comment on column public.chats.is_branched is
  'True once any message was added off the current leaf; false means the messages form one chain.';
comment on column public.chats.last_event_seq is 'Cursor of the newest realtime event of this chat.';

-- "My recent chats", with id as a tiebreaker for keyset pagination.
create index idx_chats_user_recent on public.chats (user_id, last_message_at desc, id desc);
create index idx_chats_forked_from on public.chats (forked_from) where forked_from is not null;
create index idx_chats_public on public.chats (id) where is_public;

create trigger chats_set_updated_at
  before update on public.chats
  for each row execute function ohm.set_updated_at();

create table public.messages (
  id              uuid primary key default gen_random_uuid(),
  chat_id         uuid not null,
  -- The chat's owner (not the author): denormalised so policies need no join.
  user_id         uuid not null default auth.uid(),
  parent_id       uuid default '00000000-0000-0000-0000-000000000000',
  sequence_number integer not null default 0 check (sequence_number >= 1),
  role            public.message_role not null,
  content         text not null default '' check (octet_length(content) <= 1048576),
  content_json    jsonb check (octet_length(content_json::text) <= 262144),
  agent_name      text check (char_length(agent_name) <= 100),
  agent_model     text check (char_length(agent_model) <= 200),
  agent_icon      text check (char_length(agent_icon) <= 32),
  intent          public.agent_intent,
  input_tokens    integer not null default 0 check (input_tokens >= 0),
  output_tokens   integer not null default 0 check (output_tokens >= 0),
  -- At the model's price of the message's day when OHM knows it (see 0010).
  cost_usd        numeric(14, 6) check (cost_usd >= 0),
  latency_ms      integer check (latency_ms >= 0),
  metadata        jsonb not null default '{}'::jsonb
                    check (jsonb_typeof(metadata) = 'object'
                           and octet_length(metadata::text) <= 262144),
  created_at      timestamptz not null default now(),
  is_copy         boolean not null default false,
  unique (chat_id, id),
  foreign key (chat_id, user_id) references public.chats (id, user_id) on delete cascade,
  -- A parent is always in the same chat; deleting a message deletes its subtree.
  foreign key (chat_id, parent_id) references public.messages (chat_id, id) on delete cascade,
  check (parent_id is distinct from id),
  constraint messages_content_json_depth check (not jsonb_path_exists(content_json, '$.**{65}')),
  constraint messages_metadata_depth check (not jsonb_path_exists(metadata, '$.**{65}')),
  -- One fork had shown $9.9 billion.
  constraint messages_cost_usd_bound check (cost_usd <= 1000)
);

comment on table public.messages is
  'Every message, ordered by sequence_number per chat; parent_id links branches (edits, regenerations).';
-- A message inserted without parent_id continues the active branch, as one
-- posted to OHM's API does: the default is a marker (the nil UUID) that the
-- insert trigger replaces by the chat's current leaf.  An explicit null
-- starts a new root (an edit of the first message).
comment on column public.messages.parent_id is
  'The message this one answers or replaces (same chat). Omitted: the chat''s current leaf; null: a new root.';
-- The placeholder 0 fails the `>= 1` check if the trigger ever does not run
-- (session_replication_role = replica), instead of passing silently; with a
-- default, a generated `Insert` type does not ask for it.
comment on column public.messages.sequence_number is
  'Position in the chat over all branches (1, 2, ...), assigned by the insert trigger; 0 is only a placeholder.';
comment on column public.messages.is_copy is
  'A fork''s copy of another message: its usage is shown, but counted in no chat, profile or usage total.';

create unique index idx_messages_chat_seq on public.messages (chat_id, sequence_number);
create index idx_messages_chat_parent on public.messages (chat_id, parent_id);
-- Analytics read a user's messages by time.
create index idx_messages_user_created on public.messages (user_id, created_at desc);

-- A chat title from the first user message: whitespace collapsed, cut at a
-- word boundary near 80 characters, with an ellipsis when cut.
create function ohm.chat_title_from(content text) returns text
  language sql immutable
  set search_path = ''
as $$
  select case
    when t = '' then null
    when char_length(t) <= 80 then t
    else coalesce(nullif(rtrim(substring(left(t, 81) from '^(.*\S)\s')), ''), left(t, 79)) || '…'
  end
  from (select btrim(regexp_replace(left(content, 400), '\s+', ' ', 'g')) as t) s
$$;

-- BEFORE INSERT, the append path, which agents run more than anything else.
-- One UPDATE of the chat row numbers the message (sequence_number and the
-- realtime event number), moves the leaf, counts it and titles the chat; the
-- row lock serialises writers of one chat, writers of other chats do not
-- wait.  SECURITY DEFINER because the counters are not writable by the API
-- roles; the chat must belong to the message's user_id, which RLS then checks
-- against the caller.  An omitted parent becomes the current leaf (the chat
-- row is locked first: the leaf cannot move in between).
--
-- The message is priced at its model's price valid at created_at: an exact
-- model id first, then without the provider ("openai/o1" ~ "o1"), then
-- without a date suffix ("claude-sonnet-4-20250514" ~ "claude-sonnet-4");
-- a known price replaces a cost the writer sent, an unknown model keeps it.
-- The cost is stored: a later price change never rewrites it.  A fork's
-- copies (is_copy) are neither priced nor counted in any total, and the
-- owner's message budget (ohm.limits) is checked where the profile row is
-- updated anyway.
--
-- The realtime event (what ohm.emit_event writes, 0009) and the activity row
-- (what ohm.activity_trigger writes, 0010) are written here in place: as
-- calls, five SQL helpers PostgreSQL cannot inline were planned again in
-- every transaction, plus a second row trigger.  Measured with pgbench and
-- track_functions (one client, local server), per append: search vector
-- 123 us -> 55 us, cost, event and log rows 365 us -> 300 us.
create function ohm.messages_before_insert() returns trigger
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

-- Usage corrected later (a streamed answer's final token count); copies were
-- never counted.
create function ohm.messages_after_update_usage() returns trigger
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

-- Deletes (one message, a subtree, a whole chat) adjust counters once per
-- statement and chat, not once per row, subtract only what was counted,
-- clear the leaf when it went, and tell each chat that keeps existing
-- (one message.deleted per chat and statement: the topmost message removed,
-- and how many went with it).
create function ohm.messages_after_delete() returns trigger
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

alter function ohm.messages_before_insert() owner to ohm_definer;
alter function ohm.messages_after_update_usage() owner to ohm_definer;
alter function ohm.messages_after_delete() owner to ohm_definer;
grant execute on function ohm.chat_title_from(text) to ohm_definer;

create trigger messages_before_insert
  before insert on public.messages
  for each row execute function ohm.messages_before_insert();
create trigger messages_after_update_usage
  after update of input_tokens, output_tokens, cost_usd on public.messages
  for each row
  when (old.input_tokens is distinct from new.input_tokens
        or old.output_tokens is distinct from new.output_tokens
        or old.cost_usd is distinct from new.cost_usd)
  execute function ohm.messages_after_update_usage();
create trigger messages_after_delete
  after delete on public.messages
  referencing old table as old_rows
  for each statement execute function ohm.messages_after_delete();

-- The current leaf is kept consistent by a trigger rather than a second
-- foreign key between chats and messages: with exactly one
-- (messages.chat_id), `chats?select=*,messages(*)` embeds without a hint and
-- typed clients see an array.  A leaf set by a user must be a message of the
-- chat; deleting the leaf clears it (messages_after_delete).  Only statements
-- of users and services (trigger depth 0) are checked: the append trigger
-- points the leaf at the row it is inserting.
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

create trigger chats_check_current_leaf
  before insert or update of current_leaf_id on public.chats
  for each row when (new.current_leaf_id is not null and pg_trigger_depth() = 0)
  execute function ohm.chats_check_current_leaf();

alter table public.chats enable row level security;
alter table public.chats force row level security;
alter table public.messages enable row level security;
alter table public.messages force row level security;

create policy chats_select on public.chats
  for select to anon, authenticated
  using (is_public or user_id = (select auth.uid()));
create policy chats_owner_insert on public.chats
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy chats_owner_update on public.chats
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy chats_owner_delete on public.chats
  for delete to authenticated using (user_id = (select auth.uid()));
-- Counter triggers and the definer functions of later files.
create policy chats_definer on public.chats
  for all to ohm_definer using (true) with check (true);

create policy messages_select on public.messages
  for select to anon, authenticated
  using (
    user_id = (select auth.uid())
    or exists (select 1 from public.chats c where c.id = chat_id and c.is_public)
  );
create policy messages_owner_insert on public.messages
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy messages_owner_update on public.messages
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy messages_owner_delete on public.messages
  for delete to authenticated using (user_id = (select auth.uid()));
-- Share snapshots (0007) read messages as their definer.
create policy messages_definer_select on public.messages for select to ohm_definer using (true);

-- Inserts name only what the user decides: ids and creation times are the
-- database's (a client that picked a row's id learned from a unique
-- violation that another user's row had it), counters the triggers'.
revoke all on public.chats from anon, authenticated, public;
grant select on public.chats to anon, authenticated;
grant insert (user_id, project_id, title, phase, is_public, is_archived, is_pinned)
  on public.chats to authenticated;
grant update (project_id, title, phase, is_public, is_archived, is_pinned, current_leaf_id)
  on public.chats to authenticated;
grant delete on public.chats to authenticated;
grant select, update on public.chats to ohm_definer;
grant all on public.chats to service_role;

revoke all on public.messages from anon, authenticated, public;
grant select on public.messages to anon, authenticated;
grant insert (chat_id, user_id, parent_id, role, content, content_json, agent_name, agent_model, agent_icon,
              intent, input_tokens, output_tokens, cost_usd, latency_ms, metadata, is_copy)
  on public.messages to authenticated;
grant update (content, content_json, metadata) on public.messages to authenticated;
grant delete on public.messages to authenticated;
grant select on public.messages to ohm_definer;
grant select, insert, update, delete on public.messages to service_role;

-- The append fast path: one round trip per message.  Through the general
-- path an append costs three (BEGIN with the identity switch, the INSERT,
-- COMMIT).  This function takes the identity as arguments, switches to it
-- for the rest of the (implicit, one-statement) transaction exactly as
-- acting_as would, and runs the same locked insert: the caller sends one
-- statement in autocommit mode and gets the new row back with the commit.
-- It is SECURITY INVOKER: after the switch everything runs as that role
-- under row-level security, the same policies as any other path.  Only the
-- application login role may call it (the API roles may not: they must not
-- pick an identity), and PostgreSQL checks the role switch itself (the
-- session user must be a member of the role).
create function ohm.append_message(
  p_role          text,
  p_claims        text,
  p_chat_id       uuid,
  p_parent_given  boolean,
  p_parent_id     uuid,
  p_message_role  public.message_role,
  p_content       text,
  p_content_json  jsonb,
  p_agent_name    text,
  p_agent_model   text,
  p_agent_icon    text,
  p_intent        public.agent_intent,
  p_input_tokens  integer,
  p_output_tokens integer,
  p_cost_usd      numeric,
  p_latency_ms    integer,
  p_metadata      jsonb
) returns table (
  id uuid, chat_id uuid, parent_id uuid, sequence_number integer, role text, content text,
  content_json jsonb, agent_name text, agent_model text, agent_icon text, intent text,
  input_tokens integer, output_tokens integer, cost_usd numeric, latency_ms integer, metadata jsonb,
  created_at timestamptz
)
  language plpgsql
  set search_path = ''
as $$
begin
  if p_role not in ('authenticated', 'service_role') then
    raise exception 'role % may not append messages', p_role using errcode = 'insufficient_privilege';
  end if;
  perform set_config('role', p_role, true);
  perform set_config('request.jwt.claims', p_claims, true);
  return query
    with chat as (
      select c.id, c.user_id, c.current_leaf_id from public.chats c where c.id = p_chat_id for update
    )
    insert into public.messages as m
      (chat_id, user_id, parent_id, role, content, content_json, agent_name, agent_model, agent_icon, intent,
       input_tokens, output_tokens, cost_usd, latency_ms, metadata)
    select chat.id, chat.user_id,
           case when p_parent_given then p_parent_id else chat.current_leaf_id end,
           p_message_role, p_content, p_content_json, p_agent_name, p_agent_model, p_agent_icon, p_intent,
           p_input_tokens, p_output_tokens, p_cost_usd, p_latency_ms, p_metadata
      from chat
    returning m.id, m.chat_id, m.parent_id, m.sequence_number, m.role::text, m.content, m.content_json,
              m.agent_name, m.agent_model, m.agent_icon, m.intent::text, m.input_tokens, m.output_tokens,
              m.cost_usd, m.latency_ms, m.metadata, m.created_at;
end
$$;

revoke execute on all functions in schema ohm from public;
grant execute on function ohm.append_message(text, text, uuid, boolean, uuid, public.message_role, text, jsonb,
                                             text, text, text, public.agent_intent, integer, integer, numeric,
                                             integer, jsonb) to ohm_authenticator;
