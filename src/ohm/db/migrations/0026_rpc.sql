-- 0026 what takes more than one table, as functions in `public`: the schema
-- PostgREST exposes, so a front end calls them with supabase.rpc(), and OHM's
-- own API calls the same functions (one implementation of each).
--
--   share_chat(chat_id, up_to_message_id?, expires_at?)   owner: a new share link (a snapshot)
--   read_share(token)                                     anyone with the token: what it shows, one view counted
--   fork_chat(chat_id, message_id?)                       a user: a copy of their own or a public chat
--   fork_share(token, message_id?)                        a user: a copy of what a share shows
--   restore_artifact_version(artifact_id, version)        owner: a new version with an old version's content
--   search_all(q, ...)                                    ranked search of your rows (anon: public chats)
--   usage_summary(group_by?, ...)                         your messages, tokens and cost per agent, model, ...
--
-- All are SECURITY INVOKER: they run as the caller, under the caller's
-- row-level security, like any other statement of theirs.  What the caller
-- may not read themselves (a share's rows, another user's share count) goes
-- through the SECURITY DEFINER functions of schema `ohm`, which check the
-- token.  Errors carry PostgREST's status codes: SQLSTATE PT404 is a 404,
-- PT409 a 409, PT422 a 422; 42501 (not allowed) a 401/403.  Parameter names
-- are the JSON keys of supabase.rpc(); in the bodies they are always written
-- qualified with the function's name.

-- --- shares ------------------------------------------------------------------------------------------------------

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

-- What a share shows ({share, chat, messages, artifacts, attachments}); each call counts one view.
-- Attachments are metadata: the bytes are served by signed links (OHM's API) or Storage policies.
create function public.read_share(token text) returns jsonb
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
  snapshot := ohm.share_snapshot(read_share.token, true);
  if snapshot is null then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  return snapshot || jsonb_build_object('attachments', coalesce(
    (select jsonb_agg(to_jsonb(a)) from ohm.share_attachments(read_share.token) a), '[]'::jsonb));
end
$$;

-- --- forks -------------------------------------------------------------------------------------------------------

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

-- Write a fork as the caller: a new chat with copies of p_messages (oldest
-- first, each the child of the one before; new ids, the same content, agents
-- and usage) and of p_artifacts (each starting its own history at the copied
-- version, linked to it), then the bookkeeping of ohm.record_fork (origin,
-- lineage row, the share's fork count).  One activity row: chat.forked.
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
  perform set_config('ohm.activity_quiet', 'on', true);
  insert into public.chats (user_id, title) values (owner, p_title) returning id into fork_id;
  select coalesce(jsonb_object_agg(e.m ->> 'id', gen_random_uuid()), '{}'::jsonb) into ids
    from jsonb_array_elements(p_messages) e(m);
  -- Rows are inserted in the order given: the append trigger numbers them 1, 2, ... and keeps the chain.
  insert into public.messages (id, chat_id, user_id, parent_id, role, content, content_json, agent_name,
                               agent_model, agent_icon, intent, input_tokens, output_tokens, cost_usd, latency_ms,
                               metadata)
  select (ids ->> (r.m ->> 'id'))::uuid, fork_id, owner, (ids ->> lag(r.m ->> 'id') over (order by r.ord))::uuid,
         (r.m ->> 'role')::public.message_role, coalesce(r.m ->> 'content', ''),
         nullif(r.m -> 'content_json', 'null'::jsonb), r.m ->> 'agent_name', r.m ->> 'agent_model',
         r.m ->> 'agent_icon', (r.m ->> 'intent')::public.agent_intent, coalesce((r.m ->> 'input_tokens')::integer, 0),
         coalesce((r.m ->> 'output_tokens')::integer, 0), (r.m ->> 'cost_usd')::numeric,
         (r.m ->> 'latency_ms')::integer, coalesce(nullif(r.m -> 'metadata', 'null'::jsonb), '{}'::jsonb)
    from jsonb_array_elements(p_messages) with ordinality r(m, ord)
   order by r.ord;
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

-- Fork your own chat or a public one, up to message_id (default: its current leaf): the branch ending
-- there, and every artifact as it was at that point (made by a message of that branch, or without a
-- message before the fork point).
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

-- Fork what a share shows, up to message_id (default: the share's last message).
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
begin
  perform ohm.fork_owner();
  if fork_share.token is not null and fork_share.token ~ '^[A-Za-z0-9_-]{1,128}$' then
    snapshot := ohm.share_snapshot(fork_share.token, false);
  end if;
  if snapshot is null then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  if fork_share.message_id is not null then
    select e.ord into cut from jsonb_array_elements(snapshot -> 'messages') with ordinality e(m, ord)
     where (e.m ->> 'id')::uuid = fork_share.message_id;
    if cut is null then
      raise exception 'message_id is not a message of this share' using errcode = 'PT422';
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

-- --- artifacts ---------------------------------------------------------------------------------------------------

-- A new version with version `version`'s content, on top of the current one; the history stays.
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

-- --- search ------------------------------------------------------------------------------------------------------

create type public.search_hit as (
  type          text,         -- message, artifact, part or chat
  id            uuid,
  chat_id       uuid,
  chat_title    text,
  snippet       text,         -- HTML: the text escaped, the matches in <mark>
  rank          float8,
  created_at    timestamptz,
  role          text,
  agent         text,
  intent        text,
  artifact_type text,
  version       integer
);

-- Ranked full-text and identifier search (see docs/search.md) over messages, artifact versions (current
-- ones), BOM parts and chat titles: the caller's own rows, the service role's for everyone (or for_user),
-- anon's in public chats (never parts).  Pages by keyset: pass the last hit's rank, created_at and id.
-- Each source is searched within the owner's rows of its (user_id, vector) GIN index; only the page
-- gets snippets.  The statement is planned for each call, with the query as a constant.
create function public.search_all(
  q                text,
  types            text[] default null,
  project_id       uuid default null,
  chat_id          uuid default null,
  agent            text default null,
  intent           text default null,
  role             text default null,
  since            timestamptz default null,
  until            timestamptz default null,
  for_user         uuid default null,
  max_results      integer default 20,
  after_rank       float8 default null,
  after_created_at timestamptz default null,
  after_id         uuid default null
) returns setof public.search_hit
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  query text := btrim(search_all.q);
  tsq text;
  owner uuid;
  scope text;
  kinds text[] := coalesce(search_all.types, array['messages', 'artifacts', 'parts', 'chats']);
  sources text[] := '{}';
  statement text;
begin
  if query is null or query = '' then
    raise exception 'q must not be empty' using errcode = 'PT422';
  end if;
  if char_length(query) > 1000 then
    raise exception 'q is longer than 1000 characters' using errcode = 'PT422';
  end if;
  if search_all.max_results is null or search_all.max_results not between 1 and 200 then
    raise exception 'max_results must be between 1 and 200' using errcode = 'PT422';
  end if;
  if not kinds <@ array['messages', 'artifacts', 'parts', 'chats'] then
    raise exception 'types must be among messages, artifacts, parts, chats' using errcode = 'PT422';
  end if;
  if (search_all.after_rank is null) <> (search_all.after_id is null)
     or (search_all.after_rank is null) <> (search_all.after_created_at is null) then
    raise exception 'after_rank, after_created_at and after_id go together' using errcode = 'PT422';
  end if;
  if auth.uid() is not null then
    owner := auth.uid();
    scope := '%1$s.user_id = $1';
  elsif auth.role() = 'service_role' or current_user = 'service_role' then
    owner := search_all.for_user;
    scope := '($1::uuid is null or %1$s.user_id = $1)';
  else
    -- Parts belong to no public surface; everything else only from public chats.
    kinds := array_remove(kinds, 'parts');
    scope := 'c.is_public';
  end if;
  tsq := format('websearch_to_tsquery(''pg_catalog.english'', %L)', query);
  if 'messages' = any (kinds) then
    sources := sources || format($s$
      select 'message' as type, m.id, m.chat_id, c.title as chat_title, m.content as text, m.created_at,
             ts_rank(m.content_search, %1$s)::float8 as rank, m.role::text as role, m.agent_name as agent,
             m.intent::text as intent, null::text as artifact_type, null::integer as version
        from public.messages m join public.chats c on c.id = m.chat_id
       where m.content_search @@ %1$s and %2$s
         and ($2::uuid is null or m.chat_id = $2) and ($3::uuid is null or c.project_id = $3)
         and ($4::text is null or m.agent_name = $4) and ($5::text is null or m.intent::text = $5)
         and ($6::text is null or m.role::text = $6)
         and ($7::timestamptz is null or m.created_at >= $7) and ($8::timestamptz is null or m.created_at < $8)$s$,
      tsq, format(scope, 'm'));
  end if;
  if 'artifacts' = any (kinds) then
    sources := sources || format($s$
      select 'artifact', a.id, a.chat_id, c.title, a.title || E'\n' || coalesce(v.content_text, ''), v.created_at,
             ts_rank(v.content_search, %1$s)::float8, null::text, v.created_by_agent, null::text, a.type::text,
             v.version_number
        from public.artifact_versions v
        join public.artifacts a on a.id = v.artifact_id and a.current_version = v.version_number
        join public.chats c on c.id = a.chat_id
       where v.content_search @@ %1$s and %2$s
         and ($2::uuid is null or a.chat_id = $2) and ($3::uuid is null or a.project_id = $3)
         and ($4::text is null or v.created_by_agent = $4) and $5::text is null and $6::text is null
         and ($7::timestamptz is null or v.created_at >= $7) and ($8::timestamptz is null or v.created_at < $8)$s$,
      tsq, format(scope, 'v'));
  end if;
  if 'parts' = any (kinds) then
    sources := sources || format($s$
      select 'part', p.id, a.chat_id, c.title,
             concat_ws(' · ', p.name, p.mpn, p.manufacturer, p.supplier, p.supplier_part_number), p.created_at,
             ts_rank(p.content_search, %1$s)::float8, null::text, null::text, null::text, null::text, v.version_number
        from public.parts p
        join public.artifact_versions v on v.id = p.artifact_version_id
        join public.artifacts a on a.id = v.artifact_id and a.current_version = v.version_number
        join public.chats c on c.id = a.chat_id
       where p.content_search @@ %1$s and %2$s
         and ($2::uuid is null or a.chat_id = $2) and ($3::uuid is null or p.project_id = $3)
         and $4::text is null and $5::text is null and $6::text is null
         and ($7::timestamptz is null or p.created_at >= $7) and ($8::timestamptz is null or p.created_at < $8)$s$,
      tsq, format(scope, 'p'));
  end if;
  if 'chats' = any (kinds) then
    sources := sources || format($s$
      select 'chat', c.id, c.id, c.title, c.title, c.last_message_at,
             ts_rank(ohm.search_vector(c.title), %1$s)::float8, null::text, null::text, null::text, null::text,
             null::integer
        from public.chats c
       where c.title is not null and ohm.search_vector(c.title) @@ %1$s and %2$s
         and ($2::uuid is null or c.id = $2) and ($3::uuid is null or c.project_id = $3)
         and $4::text is null and $5::text is null and $6::text is null
         and ($7::timestamptz is null or c.last_message_at >= $7)
         and ($8::timestamptz is null or c.last_message_at < $8)$s$,
      tsq, format(scope, 'c'));
  end if;
  if cardinality(sources) = 0 then
    return;
  end if;
  statement := format($s$
    with hits (type, id, chat_id, chat_title, text, created_at, rank, role, agent, intent, artifact_type, version)
      as (%1$s),
    page as (
      select * from hits h
       where $9::float8 is null or (h.rank, h.created_at, h.id) < ($9, $10, $11)
       order by h.rank desc, h.created_at desc, h.id desc
       limit $12
    )
    select page.type, page.id, page.chat_id, page.chat_title,
           replace(replace(replace(replace(replace(
             ts_headline('pg_catalog.english', left(page.text, 20000), %2$s,
                         'MaxFragments=2, MaxWords=20, MinWords=6, FragmentDelimiter=" … ", StartSel='
                         || chr(2) || ', StopSel=' || chr(3)),
             '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), chr(2), '<mark>'), chr(3), '</mark>'),
           page.rank, page.created_at, page.role, page.agent, page.intent, page.artifact_type, page.version
      from page
     order by page.rank desc, page.created_at desc, page.id desc$s$,
    array_to_string(sources, ' union all '), tsq);
  return query execute statement
    using owner, search_all.chat_id, search_all.project_id, search_all.agent, search_all.intent, search_all.role,
          search_all.since, search_all.until, search_all.after_rank, search_all.after_created_at,
          search_all.after_id, search_all.max_results;
end
$$;

-- --- usage -------------------------------------------------------------------------------------------------------

create type public.usage_row as (
  key               text,     -- the agent, model, intent, role, day, chat id or project id (null: none)
  label             text,     -- a chat's title or a project's name
  messages          bigint,
  input_tokens      bigint,
  output_tokens     bigint,
  cost_usd          numeric,
  avg_input_tokens  float8,
  avg_output_tokens float8,
  avg_latency_ms    float8,
  unpriced          bigint,   -- messages of a model with no known price (cost unknown)
  is_total          boolean   -- the last row: every message of the selection
);

-- Messages, tokens and cost of the caller's own messages (the service role: everyone's, or for_user's)
-- grouped by agent, model, intent, role, day (UTC), chat or project, largest first (days in order), at
-- most 1,000 groups, then one row of totals.
create function public.usage_summary(
  group_by   text default 'agent',
  since      timestamptz default null,
  until      timestamptz default null,
  chat_id    uuid default null,
  project_id uuid default null,
  role       text default null,
  for_user   uuid default null
) returns setof public.usage_row
  language plpgsql
  stable
  set search_path = ''
as $$
declare
  owner uuid;
  everyone boolean := false;
  key text;
  label text;
  ordering text;
  aggregates constant text := $a$
    count(*), coalesce(sum(m.input_tokens), 0)::bigint, coalesce(sum(m.output_tokens), 0)::bigint,
    coalesce(sum(m.cost_usd), 0), coalesce(avg(m.input_tokens), 0)::float8, coalesce(avg(m.output_tokens), 0)::float8,
    avg(m.latency_ms)::float8, count(*) filter (where m.agent_model is not null and m.cost_usd is null)$a$;
  source constant text := $s$
      from public.messages m
      join public.chats c on c.id = m.chat_id
      left join public.projects p on p.id = c.project_id
     where ($1::uuid is null and $7 or m.user_id = $1)
       and ($2::timestamptz is null or m.created_at >= $2) and ($3::timestamptz is null or m.created_at < $3)
       and ($4::uuid is null or m.chat_id = $4) and ($5::uuid is null or c.project_id = $5)
       and ($6::text is null or m.role::text = $6)$s$;
begin
  if auth.uid() is not null then
    if usage_summary.for_user is not null and usage_summary.for_user <> auth.uid() then
      raise exception 'for_user can only be set by the service role' using errcode = 'PT422';
    end if;
    owner := auth.uid();
  elsif auth.role() = 'service_role' or current_user = 'service_role' then
    owner := usage_summary.for_user;
    everyone := owner is null;
  else
    raise exception 'sign in to see usage' using errcode = '42501';
  end if;
  if usage_summary.since is not null and usage_summary.until is not null
     and usage_summary.until <= usage_summary.since then
    raise exception 'until must be after since' using errcode = 'PT422';
  end if;
  if usage_summary.role is not null and usage_summary.role not in ('user', 'assistant', 'system', 'tool') then
    raise exception 'role must be one of user, assistant, system, tool' using errcode = 'PT422';
  end if;
  case usage_summary.group_by
    when 'agent' then key := 'm.agent_name'; label := 'null::text';
    when 'model' then key := 'ohm.price_model_id(m.agent_model)'; label := 'null::text';
    when 'intent' then key := 'm.intent::text'; label := 'null::text';
    when 'role' then key := 'm.role::text'; label := 'null::text';
    when 'day' then key := $k$to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD')$k$; label := 'null::text';
    when 'chat' then key := 'm.chat_id::text'; label := 'max(c.title)';
    when 'project' then key := 'c.project_id::text'; label := 'max(p.name)';
    else
      raise exception 'group_by must be one of agent, model, intent, role, day, chat, project'
        using errcode = 'PT422';
  end case;
  ordering := case usage_summary.group_by
                when 'day' then '1'
                when 'chat' then '6 desc, 3 desc, 1'
                when 'project' then '6 desc, 3 desc, 1'
                else '3 desc, 6 desc, 1' end;
  return query execute format(
    'select * from (select %1$s, %2$s, %3$s, false %4$s group by 1 order by %5$s limit 1000) g
     union all
     select null::text, null::text, %3$s, true %4$s',
    key, label, aggregates, source, ordering)
    using owner, usage_summary.since, usage_summary.until, usage_summary.chat_id, usage_summary.project_id,
          usage_summary.role, everyone;
end
$$;

-- --- who may call what ---------------------------------------------------------------------------------------------

-- New functions are executable by PUBLIC, and on Supabase also by anon and authenticated (its default
-- privileges in `public`): take that away, then grant each function to its callers.
revoke all on function ohm.new_share_token(), ohm.fork_owner(), ohm.message_copy(public.messages),
  ohm.write_fork(text, jsonb, jsonb, uuid, uuid, text) from public;
revoke all on function public.share_chat(uuid, uuid, timestamptz), public.read_share(text),
  public.fork_chat(uuid, uuid), public.fork_share(text, uuid), public.restore_artifact_version(uuid, integer),
  public.search_all(text, text[], uuid, uuid, text, text, text, timestamptz, timestamptz, uuid, integer, float8,
                    timestamptz, uuid),
  public.usage_summary(text, timestamptz, timestamptz, uuid, uuid, text, uuid)
  from public, anon, authenticated;

grant execute on function ohm.new_share_token() to authenticated, service_role;
grant execute on function ohm.fork_owner(), ohm.message_copy(public.messages),
  ohm.write_fork(text, jsonb, jsonb, uuid, uuid, text) to authenticated, service_role;

grant execute on function public.share_chat(uuid, uuid, timestamptz), public.restore_artifact_version(uuid, integer),
  public.usage_summary(text, timestamptz, timestamptz, uuid, uuid, text, uuid),
  public.fork_chat(uuid, uuid), public.fork_share(text, uuid)
  to authenticated, service_role;
grant execute on function public.read_share(text),
  public.search_all(text, text[], uuid, uuid, text, text, text, timestamptz, timestamptz, uuid, integer, float8,
                    timestamptz, uuid)
  to anon, authenticated, service_role;
