-- Search snippets keep what looks like a tag.  ts_headline's parser reads
-- "<Arduino.h>" as an HTML tag and drops it, so `#include <Arduino.h>` came
-- back as `#include`.  The text's < and > now go through ts_headline as two
-- control characters (and the control characters used as markers are taken
-- out of the text first), and come out escaped: the snippet is the text,
-- HTML-escaped, with only the matches in <mark>.

create or replace function public.search_all(
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
             ts_headline('pg_catalog.english',
                         translate(left(page.text, 20000), '<>' || chr(2) || chr(3) || chr(4) || chr(5),
                                   chr(4) || chr(5)),
                         %2$s,
                         'MaxFragments=2, MaxWords=20, MinWords=6, FragmentDelimiter=" … ", StartSel='
                         || chr(2) || ', StopSel=' || chr(3)),
             '&', '&amp;'), chr(4), '&lt;'), chr(5), '&gt;'), chr(2), '<mark>'), chr(3), '</mark>'),
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
