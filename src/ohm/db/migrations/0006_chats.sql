-- 0006 chats: the conversation container.  Its id is the chat's URL
-- (/chat/<uuid>).

create table public.chats (
  id                  uuid primary key default gen_random_uuid(),
  user_id             uuid not null references public.profiles (id) on delete cascade,
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
  -- The tip of the active branch (FK added with the messages table).
  current_leaf_id     uuid,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  unique (id, user_id),
  foreign key (project_id, user_id)
    references public.projects (id, user_id) on delete set null (project_id)
);

comment on table public.chats is
  'A conversation; its uuid is its URL. Counters, title and current leaf kept by triggers on messages.';
comment on column public.chats.last_sequence is
  'Highest message sequence number handed out; taken with UPDATE ... RETURNING, never max()+1.';
comment on column public.chats.current_leaf_id is
  'Last message of the active branch; a new message becomes the leaf.';

-- The design's index for "my recent chats", with id as a tiebreaker for
-- keyset pagination.
create index idx_chats_user_recent on public.chats (user_id, last_message_at desc, id desc);
create index idx_chats_project on public.chats (project_id) where project_id is not null;
create index idx_chats_forked_from on public.chats (forked_from) where forked_from is not null;
create index idx_chats_public on public.chats (id) where is_public;

create trigger chats_set_updated_at
  before update on public.chats
  for each row execute function ohm.set_updated_at();

alter table public.chats enable row level security;
alter table public.chats force row level security;

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
-- Counter triggers (SECURITY DEFINER, owned by ohm_definer).
create policy chats_definer on public.chats
  for all to ohm_definer using (true) with check (true);

revoke all on public.chats from anon, authenticated, public;
grant select on public.chats to anon, authenticated;
grant insert (id, user_id, project_id, title, phase, is_public, is_archived, is_pinned)
  on public.chats to authenticated;
grant update (project_id, title, phase, is_public, is_archived, is_pinned, current_leaf_id)
  on public.chats to authenticated;
grant delete on public.chats to authenticated;
grant select, update on public.chats to ohm_definer;
grant all on public.chats to service_role;
