-- 0007 messages: every message of every chat, in order, as a tree.
--
-- `parent_id` makes branches: an edit or a regeneration is a new message whose
-- parent is not the chat's current leaf.  `sequence_number` is unique and
-- gap-free per chat in insertion order (over all branches), taken from
-- chats.last_sequence with UPDATE ... RETURNING in the inserting transaction,
-- so concurrent writers queue on the chat row instead of racing on max()+1.

create table public.messages (
  id              uuid primary key default gen_random_uuid(),
  chat_id         uuid not null,
  -- The chat's owner (not the author): denormalised so policies need no join.
  user_id         uuid not null,
  parent_id       uuid,
  sequence_number integer not null check (sequence_number >= 1),
  role            public.message_role not null,
  content         text not null default '' check (octet_length(content) <= 1048576),
  content_json    jsonb check (octet_length(content_json::text) <= 262144),
  agent_name      text check (char_length(agent_name) <= 100),
  agent_model     text check (char_length(agent_model) <= 200),
  agent_icon      text check (char_length(agent_icon) <= 32),
  intent          public.agent_intent,
  input_tokens    integer not null default 0 check (input_tokens >= 0),
  output_tokens   integer not null default 0 check (output_tokens >= 0),
  cost_usd        numeric(14, 6) check (cost_usd >= 0),
  latency_ms      integer check (latency_ms >= 0),
  metadata        jsonb not null default '{}'::jsonb
                    check (jsonb_typeof(metadata) = 'object'
                           and octet_length(metadata::text) <= 262144),
  -- English full-text vector of the first 256 KiB (a tsvector is capped at 1 MB).
  content_search  tsvector generated always as
                    (to_tsvector('english'::regconfig, left(content, 262144))) stored,
  created_at      timestamptz not null default now(),
  unique (chat_id, id),
  foreign key (chat_id, user_id) references public.chats (id, user_id) on delete cascade,
  -- A parent is always in the same chat; deleting a message deletes its subtree.
  foreign key (chat_id, parent_id) references public.messages (chat_id, id) on delete cascade,
  check (parent_id is distinct from id)
);

comment on table public.messages is
  'Every message, ordered by sequence_number per chat; parent_id links branches (edits, regenerations).';

create unique index idx_messages_chat_seq on public.messages (chat_id, sequence_number);
create index idx_messages_chat_parent on public.messages (chat_id, parent_id);
create index idx_messages_user_created on public.messages (user_id, created_at desc);
create index idx_messages_search on public.messages using gin (content_search);

alter table public.chats
  add constraint chats_current_leaf_fk foreign key (id, current_leaf_id)
    references public.messages (chat_id, id) on delete set null (current_leaf_id)
    deferrable initially deferred;
create index idx_chats_current_leaf on public.chats (current_leaf_id)
  where current_leaf_id is not null;

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

-- BEFORE INSERT: number the message and update its chat in one UPDATE of the
-- chat row (the row lock serialises writers of one chat; writers of other
-- chats do not wait).  SECURITY DEFINER because the counters are not writable
-- by the API roles.  The chat must belong to the message's user_id, which RLS
-- then checks against the caller.
create function ohm.messages_before_insert() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  seq integer;
begin
  update public.chats c
     set last_sequence       = c.last_sequence + 1,
         message_count       = c.message_count + 1,
         last_message_at     = greatest(c.last_message_at, new.created_at),
         current_leaf_id     = new.id,
         title               = case
                                 when c.title is null and new.role = 'user'
                                 then ohm.chat_title_from(new.content)
                                 else c.title
                               end,
         total_input_tokens  = c.total_input_tokens + new.input_tokens,
         total_output_tokens = c.total_output_tokens + new.output_tokens,
         total_cost_usd      = c.total_cost_usd + coalesce(new.cost_usd, 0)
   where c.id = new.chat_id and c.user_id = new.user_id
  returning c.last_sequence into seq;
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
  return new;
end
$$;

-- Usage figures corrected later (a streamed answer's final token count).
create function ohm.messages_after_update_usage() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
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
-- statement and chat, not once per row.
create function ohm.messages_after_delete() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  update public.chats c
     set message_count       = greatest(c.message_count - d.n, 0),
         total_input_tokens  = greatest(c.total_input_tokens - d.input_tokens, 0),
         total_output_tokens = greatest(c.total_output_tokens - d.output_tokens, 0),
         total_cost_usd      = greatest(c.total_cost_usd - d.cost_usd, 0)
    from (select chat_id, count(*) as n, sum(input_tokens) as input_tokens,
                 sum(output_tokens) as output_tokens, coalesce(sum(cost_usd), 0) as cost_usd
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

alter function ohm.messages_before_insert() owner to ohm_definer;
alter function ohm.messages_after_update_usage() owner to ohm_definer;
alter function ohm.messages_after_delete() owner to ohm_definer;
revoke all on function ohm.messages_before_insert() from public;
revoke all on function ohm.messages_after_update_usage() from public;
revoke all on function ohm.messages_after_delete() from public;
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

alter table public.messages enable row level security;
alter table public.messages force row level security;

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

revoke all on public.messages from anon, authenticated, public;
grant select on public.messages to anon, authenticated;
grant insert (id, chat_id, user_id, parent_id, role, content, content_json, agent_name,
              agent_model, agent_icon, intent, input_tokens, output_tokens, cost_usd,
              latency_ms, metadata)
  on public.messages to authenticated;
grant update (content, content_json, metadata) on public.messages to authenticated;
grant delete on public.messages to authenticated;
grant select, insert, update, delete on public.messages to service_role;
-- ohm_definer reads profiles/chats only; messages stay closed to it here.
