-- Artifacts and their git-style version history.
--
-- An artifact (a BOM, wiring, firmware, a document) belongs to a chat and
-- optionally to a project.  Every change is a new, immutable row in
-- artifact_versions whose parent is the version it was based on; restoring an
-- old version writes a new version with the old content.

create type public.artifact_type as enum (
  'bom', 'wiring', 'code', 'document', 'diagram', 'plan', 'verification_report'
);

create table public.artifacts (
  id                      uuid primary key default gen_random_uuid(),
  chat_id                 uuid not null,
  user_id                 uuid not null default auth.uid(),
  -- Linked to the project of the same user (foreign key added with projects, 0005).
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
  -- A forked artifact starts its own history at a copy; this points at the
  -- version it was copied from (a plain id: the origin may belong to someone
  -- else, or be gone).
  forked_from_version_id  uuid,
  unique (id, user_id),
  check ((total_versions = 0 and current_version is null)
         or current_version between 1 and total_versions),
  foreign key (chat_id, user_id) references public.chats (id, user_id) on delete cascade,
  foreign key (chat_id, message_id)
    references public.messages (chat_id, id) on delete set null (message_id)
);

comment on table public.artifacts is
  'Versioned output of an agent (bom, wiring, code, ...); current_version/total_versions kept by triggers.';
comment on column public.artifacts.forked_from_version_id is
  'For an artifact copied by a fork: the artifact version it started from.';

create index idx_artifacts_chat on public.artifacts (chat_id, created_at);
create index idx_artifacts_user on public.artifacts (user_id, updated_at desc);
create index idx_artifacts_message on public.artifacts (chat_id, message_id) where message_id is not null;

create trigger artifacts_set_updated_at
  before update on public.artifacts
  for each row execute function ohm.set_updated_at();

create table public.artifact_versions (
  id                    uuid primary key default gen_random_uuid(),
  artifact_id           uuid not null,
  user_id               uuid not null default auth.uid(),
  version_number        integer not null default 0 check (version_number >= 1),
  parent_version_id     uuid,
  content_text          text check (octet_length(content_text) <= 1048576),
  content_json          jsonb check (octet_length(content_json::text) <= 1048576),
  change_summary        text check (char_length(change_summary) <= 2000),
  -- Who wrote it.  Historical references, deliberately without foreign keys:
  -- a version is immutable and must outlive the message that produced it.
  -- The insert trigger checks them when they are written: created_by_user_id
  -- is the caller, created_by_message_id a message of the artifact's chat.
  created_by_message_id uuid,
  created_by_agent      text check (char_length(created_by_agent) <= 100),
  created_by_user_id    uuid,
  created_at            timestamptz not null default now(),
  unique (artifact_id, version_number),
  unique (artifact_id, id),
  unique (id, user_id),
  check (content_text is not null or content_json is not null),
  foreign key (artifact_id, user_id) references public.artifacts (id, user_id) on delete cascade,
  foreign key (artifact_id, parent_version_id) references public.artifact_versions (artifact_id, id),
  constraint artifact_versions_content_json_depth check (not jsonb_path_exists(content_json, '$.**{65}'))
);

comment on table public.artifact_versions is
  'Immutable history of an artifact: UPDATE and DELETE are refused (except the cascade when the artifact goes).';
comment on column public.artifact_versions.version_number is
  'Version 1, 2, ... of the artifact, assigned by the insert trigger; 0 is only a placeholder.';

create index idx_artifact_versions_user on public.artifact_versions (user_id);
create index idx_artifact_versions_parent on public.artifact_versions (artifact_id, parent_version_id)
  where parent_version_id is not null;

-- BEFORE INSERT: the next version number, and the artifact's pointers, in one
-- UPDATE of the artifact row (two writers queue on it; neither gets a
-- duplicate number); the authorship checked; and the realtime event
-- (artifact.created for version 1, artifact.version_created after), numbered
-- in the same transaction.
create function ohm.artifact_versions_before_insert() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  n integer;
  chat uuid;
  next record;
  caller uuid := ohm.request_user_id();
begin
  if caller is not null then
    if new.created_by_user_id is null then
      new.created_by_user_id := caller;
    elsif new.created_by_user_id <> caller then
      raise exception 'created_by_user_id must be the signed-in user' using errcode = 'insufficient_privilege';
    end if;
  end if;
  update public.artifacts a
     set total_versions  = a.total_versions + 1,
         current_version = a.total_versions + 1
   where a.id = new.artifact_id and a.user_id = new.user_id
  returning a.total_versions, a.chat_id into n, chat;
  if not found then
    raise exception 'artifact % does not exist', new.artifact_id
      using errcode = 'foreign_key_violation';
  end if;
  if new.created_by_message_id is not null
     and not exists (select 1 from public.messages m where m.chat_id = chat and m.id = new.created_by_message_id) then
    raise exception 'created_by_message_id is not a message of this artifact''s chat'
      using errcode = 'foreign_key_violation', constraint = 'artifact_versions_created_by_message';
  end if;
  new.version_number := n;
  select * into next from ohm.next_event_seq(chat);
  perform ohm.emit_event(chat, next.owner, next.seq,
                         case when n = 1 then 'artifact.created' else 'artifact.version_created' end,
                         new.artifact_id, jsonb_build_object('version', n, 'version_id', new.id));
  return new;
end
$$;
alter function ohm.artifact_versions_before_insert() owner to ohm_definer;

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
-- The version trigger, share snapshots and the activity log.
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
create policy artifact_versions_definer_select on public.artifact_versions
  for select to ohm_definer using (true);

revoke all on public.artifacts from anon, authenticated, public;
grant select on public.artifacts to anon, authenticated;
grant insert (chat_id, user_id, project_id, message_id, type, title, forked_from_version_id)
  on public.artifacts to authenticated;
grant update (title, project_id) on public.artifacts to authenticated;
grant delete on public.artifacts to authenticated;
grant select, update on public.artifacts to ohm_definer;
grant all on public.artifacts to service_role;

revoke all on public.artifact_versions from anon, authenticated, public;
grant select on public.artifact_versions to anon, authenticated;
grant insert (artifact_id, user_id, parent_version_id, content_text, content_json, change_summary,
              created_by_message_id, created_by_agent, created_by_user_id)
  on public.artifact_versions to authenticated;
grant select on public.artifact_versions to ohm_definer;
grant select, insert, update, delete on public.artifact_versions to service_role;

-- A new version with an old version's content, on top of the current one
-- (the history stays), callable with supabase.rpc() as OHM's API calls it.
-- (How functions in `public` behave: see 0001.)
create function public.restore_artifact_version(artifact_id uuid, version integer) returns public.artifacts
  language plpgsql
  volatile
  set search_path = ''
as $$
declare
  art record;
  old record;
  result public.artifacts;
begin
  -- FOR UPDATE applies the artifact's UPDATE policy (owner only) and queues concurrent writers.
  select a.id, a.user_id, a.current_version, v.id as current_id into art
    from public.artifacts a
    left join public.artifact_versions v on v.artifact_id = a.id and v.version_number = a.current_version
   where a.id = restore_artifact_version.artifact_id
     for update of a;
  if art.id is null then
    raise exception 'artifact not found' using errcode = 'PT404';
  end if;
  select v.content_text, v.content_json into old
    from public.artifact_versions v
   where v.artifact_id = art.id and v.version_number = restore_artifact_version.version;
  if not found then
    raise exception 'version % not found', restore_artifact_version.version using errcode = 'PT404';
  end if;
  if restore_artifact_version.version = art.current_version then
    raise exception 'v% is already the current version', restore_artifact_version.version using errcode = 'PT409';
  end if;
  -- The activity log records this version as a restore.
  perform set_config('ohm.restored_from', restore_artifact_version.version::text, true);
  insert into public.artifact_versions (artifact_id, user_id, parent_version_id, content_text, content_json,
                                        change_summary, created_by_user_id)
  values (art.id, art.user_id, art.current_id, old.content_text, old.content_json,
          'Restored v' || restore_artifact_version.version, auth.uid());
  perform set_config('ohm.restored_from', '', true);
  select * into result from public.artifacts a where a.id = art.id;
  return result;
end
$$;

revoke all on function public.restore_artifact_version(uuid, integer) from public, anon, authenticated;
grant execute on function public.restore_artifact_version(uuid, integer) to authenticated, service_role;
revoke execute on all functions in schema ohm from public;
