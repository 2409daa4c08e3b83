-- 0017 share snapshots, public share reads and fork bookkeeping.
--
-- A share is a snapshot: the branch ending at up_to_message_id and each
-- artifact at the version current when the share was made (kept in
-- artifact_versions, artifact id -> version number).  Anyone holding the
-- token reads it through ohm.share_snapshot(), a SECURITY DEFINER function
-- that checks the token, revocation and expiry; the tables stay closed to
-- anon.  Forks are written by the forking user under their own RLS; only the
-- bookkeeping that touches rows of others (the share's fork count, the
-- fork's origin) goes through ohm.record_fork().

alter table public.shared_chats
  add column artifact_versions jsonb not null default '{}'::jsonb
    check (jsonb_typeof(artifact_versions) = 'object');
comment on column public.shared_chats.artifact_versions is
  'Snapshot: artifact id -> version number current when the share was made.';
grant insert (artifact_versions) on public.shared_chats to authenticated;

-- A forked artifact starts its own history at a copy; this points at the
-- version it was copied from (a plain id: the origin may belong to someone
-- else, or be gone).
alter table public.artifacts add column forked_from_version_id uuid;
comment on column public.artifacts.forked_from_version_id is
  'For an artifact copied by a fork: the artifact version it started from.';
grant insert (forked_from_version_id) on public.artifacts to authenticated;

grant usage on schema ohm to anon, authenticated, service_role;

-- The signed-in user, read the way auth.uid() reads it, for definer
-- functions (whose owner has no business in the auth schema).
create function ohm.request_user_id() returns uuid
  language sql stable
  set search_path = ''
as $$
  select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
$$;
alter function ohm.request_user_id() owner to ohm_definer;

-- What the definer functions below read.
create policy messages_definer_select on public.messages for select to ohm_definer using (true);
create policy artifact_versions_definer_select on public.artifact_versions for select to ohm_definer using (true);
create policy shared_chats_definer on public.shared_chats for all to ohm_definer using (true) with check (true);
create policy chat_forks_definer on public.chat_forks for all to ohm_definer using (true) with check (true);
grant select on public.messages, public.artifact_versions to ohm_definer;
grant select, update on public.shared_chats to ohm_definer;
grant select, insert on public.chat_forks to ohm_definer;

-- A share as JSON: {share, chat, messages, artifacts}, or null when the token
-- is unknown, revoked or expired.  p_count_view adds one view atomically.
create function ohm.share_snapshot(p_token text, p_count_view boolean default true) returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  s public.shared_chats;
  result jsonb;
begin
  if p_count_view then
    update public.shared_chats
       set view_count = view_count + 1, last_viewed_at = now()
     where share_token = p_token and is_active and (expires_at is null or expires_at > now())
    returning * into s;
  else
    select * into s from public.shared_chats
     where share_token = p_token and is_active and (expires_at is null or expires_at > now());
  end if;
  if s.id is null then
    return null;
  end if;
  with recursive branch as (
    select m.id, m.parent_id, m.sequence_number, m.role, m.content, m.content_json, m.agent_name,
           m.agent_model, m.agent_icon, m.intent, m.input_tokens, m.output_tokens, m.cost_usd,
           m.latency_ms, m.metadata, m.created_at
      from public.messages m
     where m.id = s.up_to_message_id and m.chat_id = s.chat_id
    union all
    select m.id, m.parent_id, m.sequence_number, m.role, m.content, m.content_json, m.agent_name,
           m.agent_model, m.agent_icon, m.intent, m.input_tokens, m.output_tokens, m.cost_usd,
           m.latency_ms, m.metadata, m.created_at
      from public.messages m join branch b on m.chat_id = s.chat_id and m.id = b.parent_id
  )
  select jsonb_build_object(
    'share', jsonb_build_object(
      'id', s.id, 'up_to_message_id', s.up_to_message_id, 'snapshot_at', s.snapshot_at,
      'expires_at', s.expires_at, 'view_count', s.view_count, 'fork_count', s.fork_count,
      'created_at', s.created_at),
    'chat', (select jsonb_build_object('title', c.title, 'phase', c.phase,
                                       'owner_name', p.display_name, 'created_at', c.created_at)
               from public.chats c left join public.profiles p on p.id = c.user_id
              where c.id = s.chat_id),
    'messages', coalesce((select jsonb_agg(jsonb_build_object(
        'id', b.id, 'parent_id', b.parent_id, 'sequence_number', b.sequence_number, 'role', b.role,
        'content', b.content, 'content_json', b.content_json,
        'agent', case when b.agent_name is null then null
                      else jsonb_build_object('name', b.agent_name, 'model', b.agent_model, 'icon', b.agent_icon) end,
        'intent', b.intent,
        'usage', jsonb_build_object('input_tokens', b.input_tokens, 'output_tokens', b.output_tokens,
                                    'cost_usd', b.cost_usd),
        'latency_ms', b.latency_ms, 'metadata', b.metadata, 'created_at', b.created_at)
        order by b.sequence_number) from branch b), '[]'::jsonb),
    'artifacts', coalesce((select jsonb_agg(jsonb_build_object(
        'id', a.id, 'type', a.type, 'title', a.title, 'message_id', a.message_id,
        'version', v.version_number, 'version_id', v.id, 'content_text', v.content_text,
        'content_json', v.content_json, 'change_summary', v.change_summary, 'created_at', v.created_at)
        order by a.created_at, a.id)
        from jsonb_each_text(s.artifact_versions) snap(artifact_id, version)
        join public.artifacts a on a.id = snap.artifact_id::uuid and a.chat_id = s.chat_id
        join public.artifact_versions v on v.artifact_id = a.id and v.version_number = snap.version::integer),
      '[]'::jsonb)
  ) into result;
  return result;
end
$$;
alter function ohm.share_snapshot(text, boolean) owner to ohm_definer;

-- Bookkeeping of a fork the caller has just written (their chat, their rows):
-- the fork's origin on the chat, the lineage row, and, through a share, the
-- share's fork count.  The caller must own the fork and be able to see the
-- original (their own chat, a public chat, or an active share of it: then
-- p_original is ignored and the share's chat is the original).
create function ohm.record_fork(p_original uuid, p_fork uuid, p_fork_point uuid, p_share_token text)
  returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  caller uuid := ohm.request_user_id();
  share_id uuid;
  original uuid := p_original;
begin
  if caller is null or not exists (select 1 from public.chats where id = p_fork and user_id = caller) then
    raise exception 'fork chat not found' using errcode = 'no_data_found';
  end if;
  if p_share_token is not null then
    update public.shared_chats
       set fork_count = fork_count + 1
     where share_token = p_share_token and is_active and (expires_at is null or expires_at > now())
    returning id, chat_id into share_id, original;
    if share_id is null then
      raise exception 'share not found' using errcode = 'no_data_found';
    end if;
  elsif not exists (select 1 from public.chats
                     where id = p_original and (user_id = caller or is_public)) then
    raise exception 'original chat not found' using errcode = 'no_data_found';
  end if;
  update public.chats set forked_from = original where id = p_fork;
  insert into public.chat_forks (original_chat_id, fork_chat_id, fork_point_message_id, share_id, forked_by)
  values (original, p_fork, p_fork_point, share_id, caller);
end
$$;
alter function ohm.record_fork(uuid, uuid, uuid, text) owner to ohm_definer;

-- Where a chat comes from: its chain of originals, nearest first.  Titles
-- only of chats the caller may read; the others appear as ids, which the
-- caller's own fork records already hold.
create function ohm.chat_lineage(p_chat uuid)
  returns table (depth integer, chat_id uuid, title text, readable boolean, fork_point_message_id uuid,
                 forked_at timestamptz, via_share boolean)
  language sql
  stable
  security definer
  set search_path = ''
as $$
  with recursive up as (
    select 1 as depth, f.original_chat_id as chat_id, f.fork_point_message_id, f.created_at as forked_at,
           f.share_id is not null as via_share, array[f.fork_chat_id] as seen
      from public.chat_forks f
     where f.fork_chat_id = p_chat
       and exists (select 1 from public.chats c
                    where c.id = p_chat and (c.user_id = ohm.request_user_id() or c.is_public))
    union all
    select up.depth + 1, f.original_chat_id, f.fork_point_message_id, f.created_at, f.share_id is not null,
           up.seen || f.fork_chat_id
      from up join public.chat_forks f on f.fork_chat_id = up.chat_id
     where up.chat_id is not null and not f.fork_chat_id = any(up.seen) and up.depth < 100
  )
  select up.depth, up.chat_id,
         case when c.user_id = ohm.request_user_id() or c.is_public then c.title end,
         coalesce(c.user_id = ohm.request_user_id() or c.is_public, false),
         up.fork_point_message_id, up.forked_at, up.via_share
    from up left join public.chats c on c.id = up.chat_id
   order by up.depth
$$;
alter function ohm.chat_lineage(uuid) owner to ohm_definer;

-- Functions in `ohm` are internal unless granted one by one (new functions
-- get EXECUTE for PUBLIC by default; every later migration revokes it too).
revoke execute on all functions in schema ohm from public;
grant execute on function ohm.share_snapshot(text, boolean) to anon, authenticated, service_role;
grant execute on function ohm.record_fork(uuid, uuid, uuid, text) to authenticated;
grant execute on function ohm.chat_lineage(uuid) to anon, authenticated, service_role;
grant execute on function ohm.chat_title_from(text) to ohm_definer;
grant execute on function ohm.append_message(text, text, uuid, boolean, uuid, public.message_role, text, jsonb,
                                             text, text, text, public.agent_intent, integer, integer, numeric,
                                             integer, jsonb) to ohm_authenticator;
