-- 0008 artifacts and their git-style version history.
--
-- An artifact (a BOM, wiring, firmware, a document) belongs to a chat and
-- optionally to a project.  Every change is a new, immutable row in
-- artifact_versions whose parent is the version it was based on; restoring an
-- old version writes a new version with the old content.

create table public.artifacts (
  id                      uuid primary key default gen_random_uuid(),
  chat_id                 uuid not null,
  user_id                 uuid not null,
  project_id              uuid,
  -- The message whose answer created the artifact.
  message_id              uuid,
  type                    public.artifact_type not null,
  title                   text not null check (char_length(title) between 1 and 300),
  -- Both kept by the version trigger; null/0 only inside the creating transaction.
  current_version         integer check (current_version >= 1),
  total_versions          integer not null default 0 check (total_versions >= 0),
  created_at              timestamptz not null default now(),
  updated_at              timestamptz not null default now(),
  unique (id, user_id),
  check ((total_versions = 0 and current_version is null)
         or current_version between 1 and total_versions),
  foreign key (chat_id, user_id) references public.chats (id, user_id) on delete cascade,
  foreign key (project_id, user_id)
    references public.projects (id, user_id) on delete set null (project_id),
  foreign key (chat_id, message_id)
    references public.messages (chat_id, id) on delete set null (message_id)
);

comment on table public.artifacts is
  'Versioned output of an agent (bom, wiring, code, ...); current_version/total_versions kept by triggers.';

create index idx_artifacts_chat on public.artifacts (chat_id, created_at);
create index idx_artifacts_user on public.artifacts (user_id, updated_at desc);
create index idx_artifacts_project on public.artifacts (project_id) where project_id is not null;
create index idx_artifacts_message on public.artifacts (chat_id, message_id) where message_id is not null;

create trigger artifacts_set_updated_at
  before update on public.artifacts
  for each row execute function ohm.set_updated_at();

create table public.artifact_versions (
  id                    uuid primary key default gen_random_uuid(),
  artifact_id           uuid not null,
  user_id               uuid not null,
  -- Assigned by trigger: 1, 2, 3, ... per artifact.
  version_number        integer not null check (version_number >= 1),
  parent_version_id     uuid,
  content_text          text check (octet_length(content_text) <= 1048576),
  content_json          jsonb check (octet_length(content_json::text) <= 1048576),
  change_summary        text check (char_length(change_summary) <= 2000),
  -- Who wrote it.  Historical references, deliberately without foreign keys:
  -- a version is immutable and must outlive the message that produced it.
  created_by_message_id uuid,
  created_by_agent      text check (char_length(created_by_agent) <= 100),
  created_by_user_id    uuid,
  created_at            timestamptz not null default now(),
  unique (artifact_id, version_number),
  unique (artifact_id, id),
  unique (id, user_id),
  check (content_text is not null or content_json is not null),
  foreign key (artifact_id, user_id) references public.artifacts (id, user_id) on delete cascade,
  foreign key (artifact_id, parent_version_id) references public.artifact_versions (artifact_id, id)
);

comment on table public.artifact_versions is
  'Immutable history of an artifact: UPDATE and DELETE are refused (except the cascade when the artifact goes).';

create index idx_artifact_versions_user on public.artifact_versions (user_id);
create index idx_artifact_versions_parent on public.artifact_versions (artifact_id, parent_version_id)
  where parent_version_id is not null;

-- BEFORE INSERT: the next version number, and the artifact's pointers, in one
-- UPDATE of the artifact row (two writers queue on it; neither gets a
-- duplicate number).
create function ohm.artifact_versions_before_insert() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  n integer;
begin
  update public.artifacts a
     set total_versions  = a.total_versions + 1,
         current_version = a.total_versions + 1
   where a.id = new.artifact_id and a.user_id = new.user_id
  returning a.total_versions into n;
  if not found then
    raise exception 'artifact % does not exist', new.artifact_id
      using errcode = 'foreign_key_violation';
  end if;
  new.version_number := n;
  return new;
end
$$;
alter function ohm.artifact_versions_before_insert() owner to ohm_definer;
revoke all on function ohm.artifact_versions_before_insert() from public;

create trigger artifact_versions_before_insert
  before insert on public.artifact_versions
  for each row execute function ohm.artifact_versions_before_insert();
create trigger artifact_versions_immutable
  before update or delete on public.artifact_versions
  for each row execute function ohm.refuse_history_change();

alter table public.artifacts enable row level security;
alter table public.artifacts force row level security;
alter table public.artifact_versions enable row level security;
alter table public.artifact_versions force row level security;

create policy artifacts_select on public.artifacts
  for select to anon, authenticated
  using (
    user_id = (select auth.uid())
    or exists (select 1 from public.chats c where c.id = chat_id and c.is_public)
  );
create policy artifacts_owner_insert on public.artifacts
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy artifacts_owner_update on public.artifacts
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy artifacts_owner_delete on public.artifacts
  for delete to authenticated using (user_id = (select auth.uid()));
create policy artifacts_definer on public.artifacts
  for all to ohm_definer using (true) with check (true);

create policy artifact_versions_select on public.artifact_versions
  for select to anon, authenticated
  using (
    user_id = (select auth.uid())
    or exists (
      select 1 from public.artifacts a join public.chats c on c.id = a.chat_id
      where a.id = artifact_id and c.is_public
    )
  );
create policy artifact_versions_owner_insert on public.artifact_versions
  for insert to authenticated with check (user_id = (select auth.uid()));

revoke all on public.artifacts from anon, authenticated, public;
grant select on public.artifacts to anon, authenticated;
grant insert (id, chat_id, user_id, project_id, message_id, type, title)
  on public.artifacts to authenticated;
grant update (title, project_id) on public.artifacts to authenticated;
grant delete on public.artifacts to authenticated;
grant select, update on public.artifacts to ohm_definer;
grant all on public.artifacts to service_role;

revoke all on public.artifact_versions from anon, authenticated, public;
grant select on public.artifact_versions to anon, authenticated;
grant insert (id, artifact_id, user_id, parent_version_id, content_text, content_json,
              change_summary, created_by_message_id, created_by_agent, created_by_user_id)
  on public.artifact_versions to authenticated;
grant select, insert, update, delete on public.artifact_versions to service_role;
