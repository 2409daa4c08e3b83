-- 0012 activity log: one append-only row per important action.
--
-- Rows are never updated.  They are deleted only with their user, or by the
-- retention job, which sets `ohm.activity_prune` for its own transaction.

create table public.activity_log (
  id           bigint generated always as identity primary key,
  user_id      uuid references public.profiles (id) on delete cascade,
  -- e.g. chat.created, message.created, artifact.version_created, share.viewed
  action       text not null check (action ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'
                                    and char_length(action) <= 100),
  entity_type  text not null check (char_length(entity_type) between 1 and 50),
  entity_id    uuid,
  -- Context, kept as plain ids: the log outlives what it describes.
  chat_id      uuid,
  project_id   uuid,
  metadata     jsonb not null default '{}'::jsonb
                 check (jsonb_typeof(metadata) = 'object'
                        and octet_length(metadata::text) <= 16384),
  created_at   timestamptz not null default now()
);

comment on table public.activity_log is
  'Append-only log of important actions (actor, action, entity, context); UPDATE refused, DELETE only by retention.';

create index idx_activity_log_user on public.activity_log (user_id, created_at desc, id desc);
create index idx_activity_log_entity on public.activity_log (entity_type, entity_id);
create index idx_activity_log_created on public.activity_log (created_at);

create function ohm.activity_log_append_only() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and (pg_trigger_depth() > 1
                           or current_setting('ohm.activity_prune', true) = 'on') then
    return old;
  end if;
  raise exception 'activity_log is append-only: % refused', lower(tg_op)
    using errcode = 'restrict_violation';
end
$$;

create trigger activity_log_append_only
  before update or delete on public.activity_log
  for each row execute function ohm.activity_log_append_only();

alter table public.activity_log enable row level security;
alter table public.activity_log force row level security;

create policy activity_log_owner_select on public.activity_log
  for select to authenticated using (user_id = (select auth.uid()));
create policy activity_log_owner_insert on public.activity_log
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy activity_log_definer_insert on public.activity_log
  for insert to ohm_definer with check (true);

revoke all on public.activity_log from anon, authenticated, public;
grant select on public.activity_log to authenticated;
grant insert (user_id, action, entity_type, entity_id, chat_id, project_id, metadata)
  on public.activity_log to authenticated;
grant insert on public.activity_log to ohm_definer;
grant select, insert, delete on public.activity_log to service_role;
