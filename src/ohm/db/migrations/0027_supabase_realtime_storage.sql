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
begin
  if to_regclass('storage.buckets') is null or to_regclass('storage.objects') is null then
    return;
  end if;
  insert into storage.buckets (id, name, public, file_size_limit)
  values ('ohm-uploads', 'ohm-uploads', false, 26214400)
  on conflict (id) do nothing;

  if not exists (select from pg_catalog.pg_policies
                  where schemaname = 'storage' and tablename = 'objects' and policyname = 'ohm_uploads_owner_select') then
    create policy ohm_uploads_owner_select on storage.objects
      for select to authenticated
      using (bucket_id = 'ohm-uploads' and position('/' in name) > 0
             and split_part(name, '/', 1) = (select auth.uid())::text);
  end if;
  if not exists (select from pg_catalog.pg_policies
                  where schemaname = 'storage' and tablename = 'objects' and policyname = 'ohm_uploads_owner_insert') then
    create policy ohm_uploads_owner_insert on storage.objects
      for insert to authenticated
      with check (bucket_id = 'ohm-uploads' and position('/' in name) > 0
                  and split_part(name, '/', 1) = (select auth.uid())::text);
  end if;
  if not exists (select from pg_catalog.pg_policies
                  where schemaname = 'storage' and tablename = 'objects' and policyname = 'ohm_uploads_owner_update') then
    create policy ohm_uploads_owner_update on storage.objects
      for update to authenticated
      using (bucket_id = 'ohm-uploads' and position('/' in name) > 0
             and split_part(name, '/', 1) = (select auth.uid())::text)
      with check (bucket_id = 'ohm-uploads' and position('/' in name) > 0
                  and split_part(name, '/', 1) = (select auth.uid())::text);
  end if;
  if not exists (select from pg_catalog.pg_policies
                  where schemaname = 'storage' and tablename = 'objects' and policyname = 'ohm_uploads_owner_delete') then
    create policy ohm_uploads_owner_delete on storage.objects
      for delete to authenticated
      using (bucket_id = 'ohm-uploads' and position('/' in name) > 0
             and split_part(name, '/', 1) = (select auth.uid())::text);
  end if;
end
$storage$;
