-- Imports of other assistants' exports (ChatGPT, Claude).
--
-- `imports` is one import job: what was sent, how far it got, what it made.  `imported_chats` is its
-- report, a row per conversation (created, skipped as already imported, or failed with the field that
-- was wrong), and the key that makes an import idempotent: a conversation of a source is made into a
-- chat once per user (while that chat exists; delete the chat and a new import brings it back).
-- Both are written by the server (the service role), read by their owner.

create table public.imports (
  id                uuid primary key default gen_random_uuid(),
  user_id           uuid not null references public.profiles (id) on delete cascade,
  source            text not null check (source in ('chatgpt', 'claude')),
  filename          text check (char_length(filename) <= 255),
  status            text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed')),
  bytes_total       bigint not null default 0 check (bytes_total >= 0),
  bytes_read        bigint not null default 0 check (bytes_read >= 0),
  conversations     integer not null default 0 check (conversations >= 0),
  chats_created     integer not null default 0 check (chats_created >= 0),
  chats_skipped     integer not null default 0 check (chats_skipped >= 0),
  chats_failed      integer not null default 0 check (chats_failed >= 0),
  messages          bigint not null default 0 check (messages >= 0),
  error             text check (char_length(error) <= 2000),
  created_at        timestamptz not null default now(),
  finished_at       timestamptz
);

comment on table public.imports is
  'Import jobs (ChatGPT, Claude exports): progress and totals; the per-conversation report is imported_chats.';

create index idx_imports_user on public.imports (user_id, created_at desc);

create table public.imported_chats (
  id          bigint generated always as identity primary key,
  import_id   uuid not null references public.imports (id) on delete cascade,
  user_id     uuid not null references public.profiles (id) on delete cascade,
  source      text not null check (source in ('chatgpt', 'claude')),
  source_id   text not null check (char_length(source_id) between 1 and 200),
  position    integer not null check (position >= 0),
  title       text check (char_length(title) <= 300),
  status      text not null check (status in ('created', 'skipped', 'failed')),
  chat_id     uuid references public.chats (id) on delete set null,
  messages    integer not null default 0 check (messages >= 0),
  detail      text check (char_length(detail) <= 1000),
  created_at  timestamptz not null default now()
);

comment on table public.imported_chats is
  'What an import did with each conversation; a created row with its chat is what makes a re-import skip it.';

create unique index imported_chats_once on public.imported_chats (user_id, source, source_id)
  where status = 'created' and chat_id is not null;
create index idx_imported_chats_import on public.imported_chats (import_id, position);
create index idx_imported_chats_chat on public.imported_chats (chat_id) where chat_id is not null;

alter table public.imports enable row level security;
alter table public.imports force row level security;
alter table public.imported_chats enable row level security;
alter table public.imported_chats force row level security;
create policy imports_owner_select on public.imports
  for select to authenticated using (user_id = (select auth.uid()));
create policy imported_chats_owner_select on public.imported_chats
  for select to authenticated using (user_id = (select auth.uid()));
revoke all on public.imports, public.imported_chats from anon, authenticated, public;
grant select on public.imports, public.imported_chats to authenticated;
grant all on public.imports, public.imported_chats to service_role;
