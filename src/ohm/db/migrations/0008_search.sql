-- Search: one vector per searchable row that understands both prose and
-- hardware identifiers, indexed together with the owner so that a user's
-- search never walks everyone else's rows.
--
-- The English configuration stems prose well ("sensors" finds "sensor") and
-- keeps numbered words whole (BME280, GPIO21, ESP32-WROOM-32 with its parts),
-- but an identifier such as U3.VCC or AMS1117-3.3 is one token to it, so
-- "VCC" would not find it.  ohm.search_vector() adds the parts of every
-- dotted, dashed, slashed or underscored identifier as tokens of their own.
-- btree_gin lets one GIN index hold (user_id, vector): PostgreSQL then
-- intersects the user's entries with the query's before touching a row
-- (a common word: 6 ms for a user with 10,000 of 10 million messages,
-- against 1.8 s without the owner in the index).

do $ext$
begin
  if not exists (select from pg_catalog.pg_extension where extname = 'btree_gin') then
    if not exists (select from pg_catalog.pg_namespace where nspname = 'extensions') then
      create schema extensions;
      grant usage on schema extensions to anon, authenticated, service_role;
    end if;
    create extension btree_gin with schema extensions;
  end if;
end
$ext$;

-- The parts of identifiers: "U3.VCC to AMS1117-3.3" -> "U3 VCC AMS1117 3 3".
-- PL/pgSQL rather than SQL: with `set search_path` PostgreSQL cannot inline
-- a SQL function and plans it again in every transaction, while PL/pgSQL
-- keeps its plans per session (123 us -> 55 us per appended message).
create function ohm.identifier_parts(t text) returns text
  language plpgsql immutable parallel safe
  set search_path = ''
as $$
begin
  return (select coalesce(string_agg(translate(m[1], '.-_/:', '     '), ' '), '')
            from regexp_matches(left(t, 262144), '([A-Za-z0-9]+(?:[.\-_/:][A-Za-z0-9]+)+)', 'g') as m);
end
$$;

-- The text, then its identifiers' parts, both read the English way (words
-- stemmed, numbered tokens kept whole), so one query reading
-- (websearch_to_tsquery: quoted phrases, OR and -exclusion as people type
-- them) matches both: exclusion (-word) and phrases keep their meaning.
-- The text is cut at 256 KiB (a tsvector is capped at 1 MB).
create function ohm.search_vector(t text) returns tsvector
  language plpgsql immutable parallel safe
  set search_path = ''
as $$
begin
  return to_tsvector('pg_catalog.english', left(coalesce(t, ''), 262144))
      || to_tsvector('pg_catalog.english', ohm.identifier_parts(coalesce(t, '')));
end
$$;

grant execute on function ohm.identifier_parts(text), ohm.search_vector(text)
  to anon, authenticated, service_role, ohm_definer, ohm_authenticator;

-- Messages: the content.
alter table public.messages
  add column content_search tsvector generated always as (ohm.search_vector(content)) stored;
create index idx_messages_search on public.messages using gin (user_id, content_search);

-- Artifact versions: text and the strings and numbers of the JSON.
alter table public.artifact_versions
  add column content_search tsvector generated always as (
    ohm.search_vector(content_text)
    || coalesce(jsonb_to_tsvector('pg_catalog.english', content_json, '["string", "numeric"]'), ''::tsvector)
    || to_tsvector('pg_catalog.english', ohm.identifier_parts(coalesce(content_json::text, '')))
  ) stored;
create index idx_artifact_versions_search on public.artifact_versions using gin (user_id, content_search);

-- Parts: name and description words, MPN, manufacturer and supplier numbers.
alter table public.parts
  add column content_search tsvector generated always as (
    ohm.search_vector(name || ' ' || coalesce(mpn, '') || ' ' || coalesce(manufacturer, '') || ' '
                      || coalesce(supplier, '') || ' ' || coalesce(supplier_part_number, '') || ' '
                      || coalesce(notes, ''))
  ) stored;
create index idx_parts_search on public.parts using gin (user_id, content_search);

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

-- Ranked full-text and identifier search (see docs/search.md) over messages,
-- artifact versions (current ones), BOM parts and chat titles: the caller's
-- own rows, the service role's for everyone (or for_user), anon's in public
-- chats (never parts).  Pages by keyset: pass the last hit's rank, created_at
-- and id.  Each source is searched within the owner's rows of its (user_id,
-- vector) GIN index; only the page gets snippets.  The statement is planned
-- for each call, with the query as a constant.  Callable with
-- supabase.rpc() (see 0001).
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

revoke execute on all functions in schema ohm from public;
revoke all on function public.search_all(text, text[], uuid, uuid, text, text, text, timestamptz, timestamptz,
                                         uuid, integer, float8, timestamptz, uuid)
  from public, anon, authenticated;
grant execute on function public.search_all(text, text[], uuid, uuid, text, text, text, timestamptz, timestamptz,
                                            uuid, integer, float8, timestamptz, uuid)
  to anon, authenticated, service_role;
