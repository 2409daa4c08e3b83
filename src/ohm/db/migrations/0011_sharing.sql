-- 0011 share links and forks.
--
-- A share is a snapshot of a chat (up to a message, as of a moment) behind an
-- unguessable token.  The tables stay closed to anon: public reads of a share
-- go through SECURITY DEFINER functions that check the token, revocation and
-- expiry.

create table public.shared_chats (
  id                uuid primary key default gen_random_uuid(),
  chat_id           uuid not null,
  user_id           uuid not null,
  -- >= 128 bits from a CSPRNG, URL-safe base64.
  share_token       text not null unique check (share_token ~ '^[A-Za-z0-9_-]{22,128}$'),
  up_to_message_id  uuid,
  snapshot_at       timestamptz not null default now(),
  is_active         boolean not null default true,
  expires_at        timestamptz,
  view_count        bigint not null default 0 check (view_count >= 0),
  fork_count        bigint not null default 0 check (fork_count >= 0),
  last_viewed_at    timestamptz,
  revoked_at        timestamptz,
  created_at        timestamptz not null default now(),
  check (expires_at is null or expires_at > created_at),
  check (is_active or revoked_at is not null),
  foreign key (chat_id, user_id) references public.chats (id, user_id) on delete cascade,
  foreign key (chat_id, up_to_message_id)
    references public.messages (chat_id, id) on delete set null (up_to_message_id)
);

comment on table public.shared_chats is
  'Share links: token, snapshot point, expiry/revocation, view and fork counts.';

create index idx_shared_chats_chat on public.shared_chats (chat_id, created_at desc);
create index idx_shared_chats_user on public.shared_chats (user_id);
create index idx_shared_chats_up_to on public.shared_chats (chat_id, up_to_message_id)
  where up_to_message_id is not null;

create table public.chat_forks (
  id                     uuid primary key default gen_random_uuid(),
  -- Null once the original chat is deleted: the fork and its lineage remain.
  original_chat_id       uuid references public.chats (id) on delete set null,
  fork_chat_id           uuid not null,
  -- The original's message the fork was cut at (historical; no FK: the
  -- original may belong to someone else and may be deleted).
  fork_point_message_id  uuid,
  share_id               uuid references public.shared_chats (id) on delete set null,
  forked_by              uuid not null,
  created_at             timestamptz not null default now(),
  unique (fork_chat_id),
  foreign key (fork_chat_id, forked_by) references public.chats (id, user_id) on delete cascade
);

comment on table public.chat_forks is
  'Who forked which chat at which message (and through which share); lineage of forks.';

create index idx_chat_forks_original on public.chat_forks (original_chat_id) where original_chat_id is not null;
create index idx_chat_forks_share on public.chat_forks (share_id) where share_id is not null;
create index idx_chat_forks_forked_by on public.chat_forks (forked_by, created_at desc);

alter table public.shared_chats enable row level security;
alter table public.shared_chats force row level security;
alter table public.chat_forks enable row level security;
alter table public.chat_forks force row level security;

create policy shared_chats_owner_select on public.shared_chats
  for select to authenticated using (user_id = (select auth.uid()));
create policy shared_chats_owner_insert on public.shared_chats
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy shared_chats_owner_update on public.shared_chats
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy shared_chats_owner_delete on public.shared_chats
  for delete to authenticated using (user_id = (select auth.uid()));

create policy chat_forks_owner_select on public.chat_forks
  for select to authenticated using (forked_by = (select auth.uid()));
-- Foreign keys and unique keys are checked without RLS; the policy makes
-- sure a fork row only names the author's own fork chat and an original
-- chat and a share its author can see, so inserting rows cannot be used to
-- probe for other users' private ids.
create policy chat_forks_owner_insert on public.chat_forks
  for insert to authenticated
  with check (
    forked_by = (select auth.uid())
    and exists (select 1 from public.chats c
                where c.id = fork_chat_id and c.user_id = (select auth.uid()))
    and (original_chat_id is null
         or exists (select 1 from public.chats c where c.id = original_chat_id))
    and (share_id is null
         or exists (select 1 from public.shared_chats s where s.id = share_id))
  );

revoke all on public.shared_chats from anon, authenticated, public;
grant select, delete on public.shared_chats to authenticated;
grant insert (id, chat_id, user_id, share_token, up_to_message_id, expires_at)
  on public.shared_chats to authenticated;
grant update (is_active, revoked_at, expires_at) on public.shared_chats to authenticated;
grant all on public.shared_chats to service_role;

revoke all on public.chat_forks from anon, authenticated, public;
grant select, insert on public.chat_forks to authenticated;
grant all on public.chat_forks to service_role;
