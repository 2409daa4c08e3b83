-- 0027 Supabase Realtime and Storage, where they exist (on any other server
-- this file changes nothing).
--
-- Realtime: Supabase streams the changes of the tables in its publication
-- `supabase_realtime` to subscribed front ends, checking each row against
-- the subscriber's row-level security.  The tables a chat page watches join
-- it, with REPLICA IDENTITY FULL so that an update or delete carries the old
-- row (a front end filtering on chat_id sees deletes and moves; the WAL of
-- such a change holds the old row too).
--
-- Storage: a private bucket `ohm-uploads` for circuit photos and datasheets,
-- and policies on storage.objects so that a signed-in user reads and writes
-- only objects under a folder named after their own user id
-- (`<user id>/<file>`), as supabase-js uploads them.  OHM's API stores its
-- own uploads through Storage's S3 endpoint with the project's S3 keys (under
-- its prefix, e.g. `api/`), which no user's folder rule matches
-- (docs/supabase.md).

do $realtime$
declare
  t text;
begin
  if not exists (select from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    return;
  end if;
  foreach t in array array['chats', 'messages', 'artifacts', 'artifact_versions', 'attachments', 'projects'] loop
    execute format('alter table public.%I replica identity full', t);
    if not exists (select from pg_catalog.pg_publication_tables
                    where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = t) then
      begin
        execute format('alter publication supabase_realtime add table public.%I', t);
      exception when insufficient_privilege then
        raise warning 'not the owner of publication supabase_realtime: as its owner, run alter publication supabase_realtime add table public.%;', t;
      end;
    end if;
  end loop;
end
$realtime$;

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
