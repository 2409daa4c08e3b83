-- 0021 uploads: rows are registered only by the server that hashed the bytes.
--
-- An attachment row is a claim on a stored blob (storage_path is the blob's
-- sha256 key).  If users could insert or rewrite rows themselves they could
-- claim a blob they never had by copying a sha256 from a public chat's
-- metadata, or dodge their quota by editing size_bytes.  So inserts are made
-- by the API as service_role after it has hashed and stored the bytes (the
-- composite foreign keys still tie chat, message and project to the owner),
-- and users may change only the display name, the links and the processing
-- status of their own rows.

revoke insert, update on public.attachments from authenticated;
grant update (filename, chat_id, message_id, project_id, processing_status, processing_error)
  on public.attachments to authenticated;

-- Realtime: an upload in a chat, and each change of its processing status.
alter table public.realtime_events drop constraint realtime_events_kind_check;
alter table public.realtime_events add constraint realtime_events_kind_check
  check (kind in ('message.created', 'message.updated', 'artifact.created', 'artifact.version_created',
                  'chat.updated', 'chat.deleted', 'attachment.created', 'attachment.updated'));

create function ohm.attachments_event() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  next record;
begin
  if new.chat_id is null then
    return null;
  end if;
  if tg_op = 'UPDATE' and new.processing_status is not distinct from old.processing_status
     and new.processing_error is not distinct from old.processing_error
     and new.chat_id is not distinct from old.chat_id then
    return null;
  end if;
  select * into next from ohm.next_event_seq(new.chat_id);
  if next.seq is null then
    return null;
  end if;
  perform ohm.emit_event(new.chat_id, next.owner, next.seq,
                         case when tg_op = 'INSERT' then 'attachment.created' else 'attachment.updated' end,
                         new.id, jsonb_build_object('processing_status', new.processing_status));
  return null;
end
$$;
alter function ohm.attachments_event() owner to ohm_definer;
revoke all on function ohm.attachments_event() from public;
create trigger attachments_after_insert_event
  after insert on public.attachments
  for each row execute function ohm.attachments_event();
create trigger attachments_after_update_event
  after update of processing_status, processing_error, chat_id on public.attachments
  for each row execute function ohm.attachments_event();

-- The newest verification of each project is what the project shows.
create index idx_circuit_verifications_latest on public.circuit_verifications (project_id, created_at desc, id desc);
drop index public.idx_circuit_verifications_project;

-- The uploads a share shows: those of its chat posted with a message in the
-- shared branch, or without a message before the share was made.  Metadata
-- only; the API hands out signed links for the bytes.
create policy attachments_definer_select on public.attachments for select to ohm_definer using (true);
grant select on public.attachments to ohm_definer;
create function ohm.share_attachments(p_token text)
  returns table (id uuid, message_id uuid, filename text, mime_type text, size_bytes bigint, category text,
                 created_at timestamptz)
  language sql
  stable
  security definer
  set search_path = ''
as $$
  with recursive s as (
    select sc.chat_id, sc.up_to_message_id, sc.snapshot_at from public.shared_chats sc
     where sc.share_token = p_token and sc.is_active and (sc.expires_at is null or sc.expires_at > now())
  ), branch as (
    select m.id, m.parent_id from public.messages m join s on m.chat_id = s.chat_id and m.id = s.up_to_message_id
    union all
    select m.id, m.parent_id from public.messages m join branch b on m.id = b.parent_id
                                                    join s on m.chat_id = s.chat_id
  )
  select a.id, a.message_id, a.filename, a.mime_type, a.size_bytes, a.category::text, a.created_at
    from public.attachments a, s
   where a.chat_id = s.chat_id
     and (a.message_id in (select id from branch) or (a.message_id is null and a.created_at <= s.snapshot_at))
   order by a.created_at, a.id
$$;
alter function ohm.share_attachments(text) owner to ohm_definer;
revoke all on function ohm.share_attachments(text) from public;
grant execute on function ohm.share_attachments(text) to anon, authenticated, service_role;
