-- Uploads and what vision and document agents made of them: attachments,
-- circuit_verifications (from circuit photos), datasheet_analyses; and, on
-- Supabase, the Storage bucket that holds the bytes.

create type public.attachment_category as enum (
  'circuit_image', 'datasheet', 'schematic', 'photo', 'code', 'other'
);

create type public.processing_status as enum ('pending', 'processing', 'done', 'failed');

create type public.verification_status as enum ('pending', 'pass', 'warning', 'fail');

-- An attachment row is a claim on a stored blob (storage_path is the blob's
-- sha256 key).  If users could insert or rewrite rows themselves they could
-- claim a blob they never had by copying a sha256 from a public chat's
-- metadata, or dodge their quota by editing size_bytes.  So rows are
-- registered by the API as service_role after it has hashed and stored the
-- bytes (the composite foreign keys still tie chat, message and project to
-- the owner), and users may change only the display name, the links and the
-- processing status of their own rows.
create table public.attachments (
  id                 uuid primary key default gen_random_uuid(),
  user_id            uuid not null references public.profiles (id) on delete cascade,
  chat_id            uuid,
  message_id         uuid,
  project_id         uuid,
  bucket             text not null default 'attachments' check (char_length(bucket) between 1 and 100),
  storage_path       text not null check (char_length(storage_path) between 1 and 1024),
  filename           text not null check (char_length(filename) between 1 and 255),
  mime_type          text not null check (char_length(mime_type) between 3 and 255),
  size_bytes         bigint not null check (size_bytes >= 0),
  sha256             char(64) not null check (sha256 ~ '^[0-9a-f]{64}$'),
  category           public.attachment_category not null default 'other',
  processing_status  public.processing_status not null default 'pending',
  processing_error   text check (char_length(processing_error) <= 5000),
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  unique (id, user_id),
  -- Deleting a chat, message or project keeps the upload (a project's
  -- datasheet outlives the chat it was posted in); the link is cleared.
  foreign key (chat_id, user_id) references public.chats (id, user_id) on delete set null (chat_id),
  foreign key (chat_id, message_id) references public.messages (chat_id, id) on delete set null (message_id),
  foreign key (project_id, user_id) references public.projects (id, user_id) on delete set null (project_id),
  -- Upload names hold no control characters.
  constraint attachments_filename_printable check (filename !~ '[[:cntrl:]]')
);

comment on table public.attachments is
  'Uploaded files (circuit photos, datasheets): storage location, size, sha256, AI processing status.';

create index idx_attachments_user on public.attachments (user_id, created_at desc);
create index idx_attachments_chat on public.attachments (chat_id) where chat_id is not null;
create index idx_attachments_message on public.attachments (chat_id, message_id) where message_id is not null;
create index idx_attachments_project on public.attachments (project_id) where project_id is not null;
create index idx_attachments_sha256 on public.attachments (sha256);

create trigger attachments_set_updated_at
  before update on public.attachments
  for each row execute function ohm.set_updated_at();

create table public.circuit_verifications (
  id                   uuid primary key default gen_random_uuid(),
  user_id              uuid not null default auth.uid(),
  project_id           uuid not null,
  chat_id              uuid,
  message_id           uuid,
  attachment_id        uuid,
  status               public.verification_status not null default 'pending',
  detected_components  jsonb not null default '[]'::jsonb
                         check (jsonb_typeof(detected_components) = 'array'
                                and octet_length(detected_components::text) <= 262144),
  -- [{severity, message, location?}]
  issues               jsonb not null default '[]'::jsonb
                         check (jsonb_typeof(issues) = 'array'
                                and octet_length(issues::text) <= 262144),
  suggestions          jsonb not null default '[]'::jsonb
                         check (jsonb_typeof(suggestions) = 'array'
                                and octet_length(suggestions::text) <= 262144),
  model                text check (char_length(model) <= 200),
  created_at           timestamptz not null default now(),
  foreign key (project_id, user_id) references public.projects (id, user_id) on delete cascade,
  foreign key (chat_id, user_id) references public.chats (id, user_id) on delete set null (chat_id),
  foreign key (chat_id, message_id) references public.messages (chat_id, id) on delete set null (message_id),
  foreign key (attachment_id, user_id)
    references public.attachments (id, user_id) on delete set null (attachment_id),
  constraint circuit_verifications_detected_components_depth
    check (not jsonb_path_exists(detected_components, '$.**{65}')),
  constraint circuit_verifications_issues_depth check (not jsonb_path_exists(issues, '$.**{65}')),
  constraint circuit_verifications_suggestions_depth check (not jsonb_path_exists(suggestions, '$.**{65}'))
);

comment on table public.circuit_verifications is
  'A vision agent''s check of a circuit photo: pass/fail/warning, detected components, issues, suggestions.';

-- The newest verification of each project is what the project shows.
create index idx_circuit_verifications_latest on public.circuit_verifications (project_id, created_at desc, id desc);
create index idx_circuit_verifications_user on public.circuit_verifications (user_id);
create index idx_circuit_verifications_chat on public.circuit_verifications (chat_id) where chat_id is not null;
create index idx_circuit_verifications_message on public.circuit_verifications (chat_id, message_id)
  where message_id is not null;
create index idx_circuit_verifications_attachment on public.circuit_verifications (attachment_id)
  where attachment_id is not null;

create table public.datasheet_analyses (
  id                 uuid primary key default gen_random_uuid(),
  user_id            uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  project_id         uuid,
  attachment_id      uuid,
  part_number        text not null check (char_length(part_number) between 1 and 100),
  manufacturer       text check (char_length(manufacturer) <= 200),
  key_specs          jsonb not null default '{}'::jsonb
                       check (jsonb_typeof(key_specs) = 'object'
                              and octet_length(key_specs::text) <= 262144),
  -- [{pin, name, type, voltage?}]
  pinout             jsonb not null default '[]'::jsonb
                       check (jsonb_typeof(pinout) = 'array'
                              and octet_length(pinout::text) <= 262144),
  application_notes  text check (char_length(application_notes) <= 100000),
  warnings           jsonb not null default '[]'::jsonb
                       check (jsonb_typeof(warnings) = 'array'
                              and octet_length(warnings::text) <= 65536),
  model              text check (char_length(model) <= 200),
  created_at         timestamptz not null default now(),
  unique (id, user_id),
  foreign key (project_id, user_id) references public.projects (id, user_id) on delete set null (project_id),
  foreign key (attachment_id, user_id)
    references public.attachments (id, user_id) on delete set null (attachment_id),
  constraint datasheet_analyses_key_specs_depth check (not jsonb_path_exists(key_specs, '$.**{65}')),
  constraint datasheet_analyses_pinout_depth check (not jsonb_path_exists(pinout, '$.**{65}')),
  constraint datasheet_analyses_warnings_depth check (not jsonb_path_exists(warnings, '$.**{65}'))
);

comment on table public.datasheet_analyses is
  'A document agent''s reading of a datasheet: key specs, pinout, application notes, warnings.';

create index idx_datasheet_analyses_user on public.datasheet_analyses (user_id, upper(part_number));
create index idx_datasheet_analyses_project on public.datasheet_analyses (project_id) where project_id is not null;
create index idx_datasheet_analyses_attachment on public.datasheet_analyses (attachment_id)
  where attachment_id is not null;

-- A BOM line can point at the analysis of its datasheet.
alter table public.parts
  add constraint parts_datasheet_analysis_fk foreign key (datasheet_analysis_id, user_id)
    references public.datasheet_analyses (id, user_id) on delete set null (datasheet_analysis_id);
create index idx_parts_datasheet_analysis on public.parts (datasheet_analysis_id)
  where datasheet_analysis_id is not null;

alter table public.attachments enable row level security;
alter table public.attachments force row level security;
alter table public.circuit_verifications enable row level security;
alter table public.circuit_verifications force row level security;
alter table public.datasheet_analyses enable row level security;
alter table public.datasheet_analyses force row level security;

-- Metadata of an upload in a public chat is readable; its bytes are served
-- only through signed URLs.
create policy attachments_select on public.attachments
  for select to anon, authenticated
  using (
    user_id = (select auth.uid())
    or exists (select 1 from public.chats c where c.id = chat_id and c.is_public)
  );
create policy attachments_owner_insert on public.attachments
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy attachments_owner_update on public.attachments
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy attachments_owner_delete on public.attachments
  for delete to authenticated using (user_id = (select auth.uid()));
-- The uploads a share shows (ohm.share_attachments, 0007).
create policy attachments_definer_select on public.attachments for select to ohm_definer using (true);

revoke all on public.attachments from anon, authenticated, public;
grant select on public.attachments to anon, authenticated;
grant update (filename, chat_id, message_id, project_id, processing_status, processing_error)
  on public.attachments to authenticated;
grant delete on public.attachments to authenticated;
grant select on public.attachments to ohm_definer;
grant all on public.attachments to service_role;

do $rls$
declare
  t text;
begin
  foreach t in array array['circuit_verifications', 'datasheet_analyses'] loop
    execute format($p$create policy %I on public.%I for select to authenticated
                      using (user_id = (select auth.uid()))$p$, t || '_owner_select', t);
    execute format($p$create policy %I on public.%I for insert to authenticated
                      with check (user_id = (select auth.uid()))$p$, t || '_owner_insert', t);
    execute format($p$create policy %I on public.%I for update to authenticated
                      using (user_id = (select auth.uid()))
                      with check (user_id = (select auth.uid()))$p$, t || '_owner_update', t);
    execute format($p$create policy %I on public.%I for delete to authenticated
                      using (user_id = (select auth.uid()))$p$, t || '_owner_delete', t);
    execute format('revoke all on public.%I from anon, authenticated, public', t);
    execute format('grant select, update, delete on public.%I to authenticated', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end
$rls$;
grant insert (user_id, project_id, chat_id, message_id, attachment_id, status, detected_components, issues,
              suggestions, model)
  on public.circuit_verifications to authenticated;
grant insert (user_id, project_id, attachment_id, part_number, manufacturer, key_specs, pinout, application_notes,
              warnings, model)
  on public.datasheet_analyses to authenticated;

-- Supabase Storage, where it exists (on any other server this changes
-- nothing): a private bucket `ohm-uploads` for circuit photos and
-- datasheets, and policies on storage.objects so that a signed-in user reads
-- and writes only objects under a folder named after their own user id
-- (`<user id>/<file>`), as supabase-js uploads them.  OHM's API stores its
-- own uploads through Storage's S3 endpoint with the project's S3 keys (under
-- its prefix, e.g. `api/`), which no user's folder rule matches
-- (docs/supabase.md).
do $storage$
declare
  -- An object of the bucket under a folder named after the signed-in user: `<user id>/<file>`.
  own constant text := $c$bucket_id = 'ohm-uploads' and position('/' in name) > 0
                          and split_part(name, '/', 1) = (select auth.uid())::text$c$;
  policy record;
begin
  if to_regclass('storage.buckets') is null or to_regclass('storage.objects') is null then
    return;
  end if;
  insert into storage.buckets (id, name, public, file_size_limit)
  values ('ohm-uploads', 'ohm-uploads', false, 26214400)
  on conflict (id) do nothing;
  for policy in
    select * from (values ('ohm_uploads_owner_select', 'select', format('using (%s)', own)),
                          ('ohm_uploads_owner_insert', 'insert', format('with check (%s)', own)),
                          ('ohm_uploads_owner_update', 'update', format('using (%s) with check (%s)', own, own)),
                          ('ohm_uploads_owner_delete', 'delete', format('using (%s)', own))) p(name, command, rule)
  loop
    if not exists (select from pg_catalog.pg_policies
                    where schemaname = 'storage' and tablename = 'objects' and policyname = policy.name) then
      execute format('create policy %I on storage.objects for %s to authenticated %s',
                     policy.name, policy.command, policy.rule);
    end if;
  end loop;
end
$storage$;
