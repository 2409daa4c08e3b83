-- Share links and forks.
--
-- A share is a snapshot behind an unguessable token: the branch ending at
-- up_to_message_id and each artifact at the version current when the share
-- was made (artifact id -> version number).  The tables stay closed to anon:
-- anyone holding the token reads the share through ohm.share_snapshot(), a
-- SECURITY DEFINER function that checks the token, revocation and expiry.
-- Forks are written by the forking user under their own RLS; only the
-- bookkeeping that touches rows of others (the share's fork count, the
-- fork's origin) goes through ohm.record_fork().  A fork through a share
-- records nothing of the private original (its id, the share's id, the fork
-- point) where the forker can read it.
--
-- The functions a front end calls with supabase.rpc() (see 0001):
--   share_chat(chat_id, up_to_message_id?, expires_at?)   owner: a new share link (a snapshot)
--   read_share(token, after_sequence?, max_messages?)     anyone with the token: what it shows, a page at a time
--   fork_chat(chat_id, message_id?)                       a user: a copy of their own or a public chat
--   fork_share(token, message_id?)                        a user: a copy of what a share shows

create table public.shared_chats (
  id                 uuid primary key default gen_random_uuid(),
  chat_id            uuid not null,
  user_id            uuid not null default auth.uid(),
  -- >= 128 bits from a CSPRNG, URL-safe base64.
  share_token        text not null unique check (share_token ~ '^[A-Za-z0-9_-]{22,128}$'),
  up_to_message_id   uuid,
  snapshot_at        timestamptz not null default now(),
  is_active          boolean not null default true,
  expires_at         timestamptz,
  view_count         bigint not null default 0 check (view_count >= 0),
  fork_count         bigint not null default 0 check (fork_count >= 0),
  last_viewed_at     timestamptz,
  revoked_at         timestamptz,
  created_at         timestamptz not null default now(),
  artifact_versions  jsonb not null default '{}'::jsonb check (jsonb_typeof(artifact_versions) = 'object'),
  check (expires_at is null or expires_at > created_at),
  check (is_active or revoked_at is not null),
  foreign key (chat_id, user_id) references public.chats (id, user_id) on delete cascade,
  foreign key (chat_id, up_to_message_id)
    references public.messages (chat_id, id) on delete set null (up_to_message_id)
);

comment on table public.shared_chats is
  'Share links: token, snapshot point, expiry/revocation, view and fork counts.';
comment on column public.shared_chats.artifact_versions is
  'Snapshot: artifact id -> version number current when the share was made.';

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
  forked_by              uuid not null default auth.uid(),
  created_at             timestamptz not null default now(),
  via_share              boolean not null default false,
  unique (fork_chat_id),
  foreign key (fork_chat_id, forked_by) references public.chats (id, user_id) on delete cascade
);

comment on table public.chat_forks is
  'Who forked which chat at which message (and through which share); lineage of forks.';
comment on column public.chat_forks.via_share is
  'Forked through a share link: the original, the share and the fork point are not recorded for the forker.';

create index idx_chat_forks_original on public.chat_forks (original_chat_id) where original_chat_id is not null;
create index idx_chat_forks_share on public.chat_forks (share_id) where share_id is not null;
create index idx_chat_forks_forked_by on public.chat_forks (forked_by, created_at desc);

-- Who has seen which share on which day, so that a view counts once per
-- visitor and day.  A visitor is an opaque hash: the API's of the client
-- address and user agent; through PostgREST, of the forwarded address and
-- user agent PostgREST passes on.
create table ohm.share_views (
  share_id uuid not null,
  day      date not null default current_date,
  visitor  text not null check (char_length(visitor) <= 64),
  primary key (share_id, day, visitor)
);
create index idx_share_views_day on ohm.share_views (day);

alter table public.shared_chats enable row level security;
alter table public.shared_chats force row level security;
alter table public.chat_forks enable row level security;
alter table public.chat_forks force row level security;
alter table ohm.share_views enable row level security;
alter table ohm.share_views force row level security;

create policy shared_chats_owner_select on public.shared_chats
  for select to authenticated using (user_id = (select auth.uid()));
create policy shared_chats_owner_insert on public.shared_chats
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy shared_chats_owner_update on public.shared_chats
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy shared_chats_owner_delete on public.shared_chats
  for delete to authenticated using (user_id = (select auth.uid()));
create policy shared_chats_definer on public.shared_chats for all to ohm_definer using (true) with check (true);

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
create policy chat_forks_definer on public.chat_forks for all to ohm_definer using (true) with check (true);

create policy share_views_definer on ohm.share_views for all to ohm_definer using (true) with check (true);

revoke all on public.shared_chats from anon, authenticated, public;
grant select, delete on public.shared_chats to authenticated;
grant insert (chat_id, user_id, share_token, up_to_message_id, expires_at, artifact_versions)
  on public.shared_chats to authenticated;
grant update (is_active, revoked_at, expires_at) on public.shared_chats to authenticated;
grant select, update on public.shared_chats to ohm_definer;
grant all on public.shared_chats to service_role;

revoke all on public.chat_forks from anon, authenticated, public;
grant select on public.chat_forks to authenticated;
grant insert (original_chat_id, fork_chat_id, fork_point_message_id, share_id, forked_by, via_share)
  on public.chat_forks to authenticated;
grant select, insert on public.chat_forks to ohm_definer;
grant all on public.chat_forks to service_role;

grant select, insert, delete on ohm.share_views to ohm_definer;

-- --- reading a share -----------------------------------------------------------------------------------------------

-- A share as JSON: {share, chat, messages, next_after_sequence, artifacts},
-- or null when the token is unknown, revoked or expired.  A view is counted
-- once per visitor and day (on the first page).  The messages come in pages:
-- after sequence number p_after, at most p_limit of them and about p_budget
-- bytes (a page always holds its first message); null limit and budget:
-- every message.  The artifacts come with the first page.
-- `next_after_sequence` says where the next page starts (null: no more).
create function ohm.share_snapshot(p_token text, p_count_view boolean default true, p_visitor text default null,
                                   p_after integer default 0, p_limit integer default null,
                                   p_budget bigint default null)
  returns jsonb
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  s public.shared_chats;
  headers jsonb;
  visitor text := p_visitor;
  fresh integer;
  page jsonb;
  kept integer;
  remaining bigint;
begin
  select * into s from public.shared_chats
   where share_token = p_token and is_active and (expires_at is null or expires_at > now());
  if s.id is null then
    return null;
  end if;
  if p_count_view and coalesce(p_after, 0) = 0 then
    if visitor is null then
      headers := nullif(current_setting('request.headers', true), '')::jsonb;
      visitor := md5(coalesce(headers ->> 'x-forwarded-for', '') || '|' || coalesce(headers ->> 'user-agent', ''));
    end if;
    insert into ohm.share_views (share_id, visitor) values (s.id, left(visitor, 64)) on conflict do nothing;
    get diagnostics fresh = row_count;
    if fresh > 0 then
      update public.shared_chats set view_count = view_count + 1, last_viewed_at = now()
       where id = s.id returning * into s;
    end if;
    if random() < 0.01 then
      delete from ohm.share_views where day < current_date - 1;
    end if;
  end if;
  -- The branch by ids first (cheap), then the page's rows with what they weigh.
  with recursive branch as (
    select m.id, m.parent_id, m.sequence_number
      from public.messages m
     where m.id = s.up_to_message_id and m.chat_id = s.chat_id
    union all
    select m.id, m.parent_id, m.sequence_number
      from public.messages m join branch b on m.chat_id = s.chat_id and m.id = b.parent_id
  ), weighed as (
    select b.id, count(*) over () as remaining,
           row_number() over (order by b.sequence_number) as rn,
           sum(octet_length(m.content) + coalesce(pg_column_size(m.content_json), 0) + pg_column_size(m.metadata))
             over (order by b.sequence_number) as running,
           octet_length(m.content) + coalesce(pg_column_size(m.content_json), 0) + pg_column_size(m.metadata) as own
      from branch b join public.messages m on m.chat_id = s.chat_id and m.id = b.id
     where b.sequence_number > coalesce(p_after, 0)
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', m.id, 'parent_id', m.parent_id, 'sequence_number', m.sequence_number, 'role', m.role,
           'content', m.content, 'content_json', m.content_json,
           'agent', case when m.agent_name is null then null
                         else jsonb_build_object('name', m.agent_name, 'model', m.agent_model, 'icon', m.agent_icon) end,
           'intent', m.intent,
           'usage', jsonb_build_object('input_tokens', m.input_tokens, 'output_tokens', m.output_tokens,
                                       'cost_usd', m.cost_usd),
           'latency_ms', m.latency_ms, 'metadata', m.metadata, 'created_at', m.created_at)
           order by m.sequence_number), '[]'::jsonb),
         count(*), max(w.remaining)
    into page, kept, remaining
    from weighed w join public.messages m on m.chat_id = s.chat_id and m.id = w.id
   where (p_limit is null or w.rn <= p_limit)
     and (p_budget is null or w.rn = 1 or w.running - w.own < p_budget);
  return jsonb_build_object(
    'share', jsonb_build_object(
      'id', s.id, 'up_to_message_id', s.up_to_message_id, 'snapshot_at', s.snapshot_at,
      'expires_at', s.expires_at, 'view_count', s.view_count, 'fork_count', s.fork_count,
      'created_at', s.created_at),
    'chat', (select jsonb_build_object('title', c.title, 'phase', c.phase,
                                       'owner_name', p.display_name, 'created_at', c.created_at)
               from public.chats c left join public.profiles p on p.id = c.user_id
              where c.id = s.chat_id),
    'messages', page,
    'next_after_sequence', case when remaining > kept then (page -> -1 ->> 'sequence_number')::integer end,
    'artifacts', case when coalesce(p_after, 0) > 0 then '[]'::jsonb else coalesce((select jsonb_agg(jsonb_build_object(
        'id', a.id, 'type', a.type, 'title', a.title, 'message_id', a.message_id,
        'version', v.version_number, 'version_id', v.id, 'content_text', v.content_text,
        'content_json', v.content_json, 'change_summary', v.change_summary, 'created_at', v.created_at)
        order by a.created_at, a.id)
        from jsonb_each_text(s.artifact_versions) snap(artifact_id, version)
        join public.artifacts a on a.id = snap.artifact_id::uuid and a.chat_id = s.chat_id
        join public.artifact_versions v on v.artifact_id = a.id and v.version_number = snap.version::integer),
      '[]'::jsonb) end
  );
end
$$;
alter function ohm.share_snapshot(text, boolean, text, integer, integer, bigint) owner to ohm_definer;

-- The uploads a share shows: those of its chat posted with a message in the
-- shared branch, or without a message before the share was made.  Metadata
-- only; the API hands out signed links for the bytes.
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

-- 244 random bits (two v4 UUIDs from PostgreSQL's CSPRNG), as 43 URL-safe characters.
create function ohm.new_share_token() returns text
  language sql
  volatile
  set search_path = ''
as $$
  select rtrim(translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'),
                         '+/', '-_'), '=')
$$;

create function public.share_chat(chat_id uuid, up_to_message_id uuid default null,
                                  expires_at timestamptz default null)
  returns public.shared_chats
  language plpgsql
  volatile
  set search_path = ''
as $$
declare
  chat record;
  result public.shared_chats;
begin
  -- FOR KEY SHARE applies the chat's UPDATE policy: only its owner may share it.
  select c.id, c.user_id, c.current_leaf_id into chat
    from public.chats c where c.id = share_chat.chat_id for key share;
  if chat.id is null then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  if share_chat.up_to_message_id is not null
     and not exists (select 1 from public.messages m
                      where m.chat_id = chat.id and m.id = share_chat.up_to_message_id) then
    raise exception 'up_to_message_id is not a message of this chat' using errcode = 'PT422';
  end if;
  if share_chat.expires_at is not null and share_chat.expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = 'PT422';
  end if;
  insert into public.shared_chats as s
    (chat_id, user_id, share_token, up_to_message_id, expires_at, artifact_versions)
  values (
    chat.id, chat.user_id, ohm.new_share_token(),
    coalesce(share_chat.up_to_message_id, chat.current_leaf_id,
             (select m.id from public.messages m where m.chat_id = chat.id order by m.sequence_number desc limit 1)),
    share_chat.expires_at,
    (select coalesce(jsonb_object_agg(a.id, a.current_version), '{}'::jsonb)
       from public.artifacts a where a.chat_id = chat.id and a.current_version is not null))
  returning s.* into result;
  return result;
end
$$;

-- What a share shows ({share, chat, messages, next_after_sequence, artifacts,
-- attachments}), page by page: after_sequence and max_messages (at most 500;
-- and about 4 MiB).  Each first page counts a view.  Attachments are
-- metadata: the bytes are served by signed links (OHM's API) or Storage
-- policies.
create function public.read_share(token text, after_sequence integer default 0, max_messages integer default 200)
  returns jsonb
  language plpgsql
  volatile
  set search_path = ''
as $$
declare
  snapshot jsonb;
begin
  if read_share.token is null or read_share.token !~ '^[A-Za-z0-9_-]{1,128}$' then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  if read_share.after_sequence is null or read_share.after_sequence < 0
     or read_share.max_messages is null or read_share.max_messages not between 1 and 500 then
    raise exception 'after_sequence must be >= 0 and max_messages between 1 and 500' using errcode = 'PT422';
  end if;
  snapshot := ohm.share_snapshot(read_share.token, true, null, read_share.after_sequence, read_share.max_messages,
                                 4194304);
  if snapshot is null then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  return snapshot || jsonb_build_object('attachments', case when read_share.after_sequence > 0 then '[]'::jsonb
    else coalesce((select jsonb_agg(to_jsonb(a)) from ohm.share_attachments(read_share.token) a), '[]'::jsonb) end);
end
$$;

-- --- forks -----------------------------------------------------------------------------------------------------------

-- Bookkeeping of a fork the caller has just written (their chat, their rows):
-- the fork's origin on the chat, the lineage row, and, through a share, the
-- share's fork count (and only "via a share": nothing of the original).  The
-- caller must own the fork and be able to see the original (their own chat
-- or a public chat) or hold an active share.
create function ohm.record_fork(p_original uuid, p_fork uuid, p_fork_point uuid, p_share_token text)
  returns void
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  caller uuid := ohm.request_user_id();
begin
  if caller is null or not exists (select 1 from public.chats where id = p_fork and user_id = caller) then
    raise exception 'fork chat not found' using errcode = 'no_data_found';
  end if;
  if p_share_token is not null then
    update public.shared_chats
       set fork_count = fork_count + 1
     where share_token = p_share_token and is_active and (expires_at is null or expires_at > now());
    if not found then
      raise exception 'share not found' using errcode = 'no_data_found';
    end if;
    insert into public.chat_forks (fork_chat_id, forked_by, via_share) values (p_fork, caller, true);
    return;
  end if;
  if not exists (select 1 from public.chats where id = p_original and (user_id = caller or is_public)) then
    raise exception 'original chat not found' using errcode = 'no_data_found';
  end if;
  update public.chats set forked_from = p_original where id = p_fork;
  insert into public.chat_forks (original_chat_id, fork_chat_id, fork_point_message_id, forked_by)
  values (p_original, p_fork, p_fork_point, caller);
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
           f.via_share or f.share_id is not null as via_share, array[f.fork_chat_id] as seen
      from public.chat_forks f
     where f.fork_chat_id = p_chat
       and exists (select 1 from public.chats c
                    where c.id = p_chat and (c.user_id = ohm.request_user_id() or c.is_public))
    union all
    select up.depth + 1, f.original_chat_id, f.fork_point_message_id, f.created_at,
           f.via_share or f.share_id is not null, up.seen || f.fork_chat_id
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

-- Who a fork belongs to: the signed-in user.
create function ohm.fork_owner() returns uuid
  language plpgsql
  stable
  set search_path = ''
as $$
begin
  if auth.uid() is not null then
    return auth.uid();
  end if;
  if auth.role() = 'service_role' or current_user = 'service_role' then
    raise exception 'a fork belongs to a user: fork with the user''s token' using errcode = 'PT422';
  end if;
  raise exception 'sign in as a user to fork' using errcode = '42501';
end
$$;

-- Write a fork as the caller, within the budgets (ohm.limits: messages one
-- fork may copy, forks per hour): a new chat with copies of p_messages
-- (oldest first; each inserted without a parent, so the append trigger makes
-- it the child of the one before; marked as a copy, so it counts in no
-- total) and of p_artifacts (each starting its own history at the copied
-- version, linked to it), then the bookkeeping of ohm.record_fork.  One
-- activity row: chat.forked.
create function ohm.write_fork(p_title text, p_messages jsonb, p_artifacts jsonb, p_original uuid,
                                          p_fork_point uuid, p_share_token text)
  returns public.chats
  language plpgsql
  volatile
  set search_path = ''
as $$
declare
  owner uuid := ohm.fork_owner();
  fork_id uuid;
  ids jsonb;
  a jsonb;
  copied uuid;
  result public.chats;
begin
  if jsonb_array_length(p_messages) > (select l.value from ohm.limits l where l.name = 'fork_messages') then
    raise exception 'a fork copies at most % messages: fork up to an earlier message',
      (select l.value from ohm.limits l where l.name = 'fork_messages') using errcode = 'PT413';
  end if;
  if (select count(*) from public.chat_forks f
       where f.forked_by = owner and f.created_at > now() - interval '1 hour')
     >= (select l.value from ohm.limits l where l.name = 'forks_per_hour') then
    raise exception 'too many forks in the last hour: at most % per hour',
      (select l.value from ohm.limits l where l.name = 'forks_per_hour') using errcode = 'PT429';
  end if;
  perform set_config('ohm.activity_quiet', 'on', true);
  insert into public.chats (user_id, title) values (owner, p_title) returning id into fork_id;
  with copies as (
    insert into public.messages (chat_id, user_id, role, content, content_json, agent_name, agent_model,
                                 agent_icon, intent, input_tokens, output_tokens, cost_usd, latency_ms, metadata,
                                 is_copy)
    select fork_id, owner, (r.m ->> 'role')::public.message_role, coalesce(r.m ->> 'content', ''),
           nullif(r.m -> 'content_json', 'null'::jsonb), r.m ->> 'agent_name', r.m ->> 'agent_model',
           r.m ->> 'agent_icon', (r.m ->> 'intent')::public.agent_intent,
           coalesce((r.m ->> 'input_tokens')::integer, 0), coalesce((r.m ->> 'output_tokens')::integer, 0),
           least((r.m ->> 'cost_usd')::numeric, 1000), (r.m ->> 'latency_ms')::integer,
           coalesce(nullif(r.m -> 'metadata', 'null'::jsonb), '{}'::jsonb), true
      from jsonb_array_elements(p_messages) with ordinality r(m, ord)
     order by r.ord
    returning id, sequence_number
  )
  -- sequence numbers are 1, 2, ... in the order given: the n-th copy is of the n-th message
  select coalesce(jsonb_object_agg(p_messages -> (c.sequence_number - 1) ->> 'id', c.id), '{}'::jsonb) into ids
    from copies c;
  for a in select e.x from jsonb_array_elements(p_artifacts) e(x) loop
    insert into public.artifacts (chat_id, user_id, message_id, type, title, forked_from_version_id)
    values (fork_id, owner, (ids ->> (a ->> 'message_id'))::uuid, (a ->> 'type')::public.artifact_type,
            a ->> 'title', (a ->> 'version_id')::uuid)
    returning id into copied;
    insert into public.artifact_versions (artifact_id, user_id, content_text, content_json, change_summary,
                                          created_by_user_id)
    values (copied, owner, a ->> 'content_text', nullif(a -> 'content_json', 'null'::jsonb),
            left('Forked from v' || (a ->> 'version') || coalesce(': ' || nullif(a ->> 'change_summary', ''), ''), 2000),
            owner);
  end loop;
  perform set_config('ohm.activity_quiet', 'off', true);
  perform ohm.record_fork(p_original, fork_id, p_fork_point, p_share_token);
  select * into result from public.chats c where c.id = fork_id;
  return result;
end
$$;

-- A message as ohm.write_fork copies it.
create function ohm.message_copy(m public.messages) returns jsonb
  language sql
  immutable
  set search_path = ''
as $$
  select jsonb_build_object(
    'id', m.id, 'role', m.role, 'content', m.content, 'content_json', m.content_json, 'agent_name', m.agent_name,
    'agent_model', m.agent_model, 'agent_icon', m.agent_icon, 'intent', m.intent, 'input_tokens', m.input_tokens,
    'output_tokens', m.output_tokens, 'cost_usd', m.cost_usd, 'latency_ms', m.latency_ms, 'metadata', m.metadata,
    'created_at', m.created_at)
$$;

-- Fork your own chat or a public one, up to message_id (default: its current
-- leaf): the branch ending there, and every artifact as it was at that point
-- (made by a message of that branch, or without a message before the fork
-- point).
create function public.fork_chat(chat_id uuid, message_id uuid default null) returns public.chats
  language plpgsql
  volatile
  set search_path = ''
as $$
declare
  source record;
  leaf uuid;
  leaf_seq integer;
  messages jsonb;
  branch uuid[];
  point jsonb;
  until timestamptz;
  artifacts jsonb;
begin
  perform ohm.fork_owner();
  select c.id, c.title, c.current_leaf_id, c.is_branched into source
    from public.chats c where c.id = fork_chat.chat_id;
  if source.id is null then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  if fork_chat.message_id is not null
     and not exists (select 1 from public.messages m where m.chat_id = source.id and m.id = fork_chat.message_id) then
    raise exception 'message_id is not a message of this chat' using errcode = 'PT422';
  end if;
  leaf := coalesce(fork_chat.message_id, source.current_leaf_id,
                   (select m.id from public.messages m where m.chat_id = source.id
                     order by m.sequence_number desc limit 1));
  if not source.is_branched then
    -- One chain in sequence order: the branch is every message up to the leaf.
    select m.sequence_number into leaf_seq from public.messages m where m.chat_id = source.id and m.id = leaf;
    select coalesce(jsonb_agg(ohm.message_copy(m) order by m.sequence_number), '[]'::jsonb) into messages
      from public.messages m where m.chat_id = source.id and m.sequence_number <= leaf_seq;
  else
    with recursive walk as (
      select m.id, m.parent_id, m.sequence_number from public.messages m where m.chat_id = source.id and m.id = leaf
      union all
      select m.id, m.parent_id, m.sequence_number
        from public.messages m join walk w on m.chat_id = source.id and m.id = w.parent_id
    )
    select coalesce(jsonb_agg(ohm.message_copy(m) order by m.sequence_number), '[]'::jsonb) into messages
      from walk w join public.messages m on m.chat_id = source.id and m.id = w.id;
  end if;
  select array_agg((e.m ->> 'id')::uuid) into branch from jsonb_array_elements(messages) e(m);
  point := messages -> -1;
  if point is not null and fork_chat.message_id is not null
     and (point ->> 'id')::uuid is distinct from source.current_leaf_id then
    until := (point ->> 'created_at')::timestamptz;
  end if;
  select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) into artifacts from (
    select distinct on (a.id)
           a.id, a.type::text as type, a.title, a.message_id, v.id as version_id, v.version_number as version,
           v.content_text, v.content_json, v.change_summary
      from public.artifacts a
      join public.artifact_versions v on v.artifact_id = a.id
     where a.chat_id = source.id
       and (a.message_id = any (branch) or (a.message_id is null and (until is null or a.created_at <= until)))
       and (v.created_by_message_id = any (branch)
            or (v.created_by_message_id is null and (until is null or v.created_at <= until)))
     order by a.id, v.version_number desc) x;
  return ohm.write_fork(source.title, messages, artifacts, source.id, (point ->> 'id')::uuid, null);
end
$$;

-- Fork what a share shows, up to message_id (default: the share's last
-- message), reading no more of the share than a fork may copy.
create function public.fork_share(token text, message_id uuid default null) returns public.chats
  language plpgsql
  volatile
  set search_path = ''
as $$
declare
  snapshot jsonb;
  cut bigint;
  messages jsonb;
  branch uuid[];
  point jsonb;
  until timestamptz;
  artifacts jsonb;
  most bigint := (select l.value from ohm.limits l where l.name = 'fork_messages');
begin
  perform ohm.fork_owner();
  if fork_share.token is not null and fork_share.token ~ '^[A-Za-z0-9_-]{1,128}$' then
    snapshot := ohm.share_snapshot(fork_share.token, false, null, 0, (most + 1)::integer, null);
  end if;
  if snapshot is null then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  if fork_share.message_id is not null then
    select e.ord into cut from jsonb_array_elements(snapshot -> 'messages') with ordinality e(m, ord)
     where (e.m ->> 'id')::uuid = fork_share.message_id;
    if cut is null then
      raise exception 'message_id is not a message of this share (or lies beyond what a fork may copy)'
        using errcode = 'PT422';
    end if;
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', e.m -> 'id', 'role', e.m -> 'role', 'content', e.m -> 'content', 'content_json', e.m -> 'content_json',
           'agent_name', e.m -> 'agent' -> 'name', 'agent_model', e.m -> 'agent' -> 'model',
           'agent_icon', e.m -> 'agent' -> 'icon', 'intent', e.m -> 'intent',
           'input_tokens', e.m -> 'usage' -> 'input_tokens', 'output_tokens', e.m -> 'usage' -> 'output_tokens',
           'cost_usd', e.m -> 'usage' -> 'cost_usd', 'latency_ms', e.m -> 'latency_ms', 'metadata', e.m -> 'metadata',
           'created_at', e.m -> 'created_at') order by e.ord), '[]'::jsonb)
    into messages
    from jsonb_array_elements(snapshot -> 'messages') with ordinality e(m, ord)
   where cut is null or e.ord <= cut;
  select array_agg((e.m ->> 'id')::uuid) into branch from jsonb_array_elements(messages) e(m);
  point := messages -> -1;
  if fork_share.message_id is not null and point is not null then
    until := (point ->> 'created_at')::timestamptz;
  end if;
  select coalesce(jsonb_agg(a.x), '[]'::jsonb) into artifacts
    from jsonb_array_elements(snapshot -> 'artifacts') a(x)
   where (a.x ->> 'message_id')::uuid = any (branch)
      or (a.x ->> 'message_id' is null and (until is null or (a.x ->> 'created_at')::timestamptz <= until));
  return ohm.write_fork(snapshot -> 'chat' ->> 'title', messages, artifacts, null, (point ->> 'id')::uuid,
                        fork_share.token);
end
$$;

revoke execute on all functions in schema ohm from public;
grant execute on function ohm.share_snapshot(text, boolean, text, integer, integer, bigint),
  ohm.share_attachments(text), ohm.chat_lineage(uuid)
  to anon, authenticated, service_role;
grant execute on function ohm.record_fork(uuid, uuid, uuid, text) to authenticated;
grant execute on function ohm.new_share_token(), ohm.fork_owner(), ohm.message_copy(public.messages),
  ohm.write_fork(text, jsonb, jsonb, uuid, uuid, text)
  to authenticated, service_role;

revoke all on function public.share_chat(uuid, uuid, timestamptz), public.read_share(text, integer, integer),
  public.fork_chat(uuid, uuid), public.fork_share(text, uuid)
  from public, anon, authenticated;
grant execute on function public.share_chat(uuid, uuid, timestamptz), public.fork_chat(uuid, uuid),
  public.fork_share(text, uuid)
  to authenticated, service_role;
grant execute on function public.read_share(text, integer, integer) to anon, authenticated, service_role;
