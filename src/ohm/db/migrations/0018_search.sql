-- 0018 search: one vector per searchable row that understands both prose and
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
create function ohm.identifier_parts(t text) returns text
  language sql immutable parallel safe
  set search_path = ''
as $$
  select coalesce(string_agg(translate(m[1], '.-_/:', '     '), ' '), '')
    from regexp_matches(left(t, 262144), '([A-Za-z0-9]+(?:[.\-_/:][A-Za-z0-9]+)+)', 'g') as m
$$;

-- The text, then its identifiers' parts, both read the English way (words
-- stemmed, numbered tokens kept whole), so one query reading matches both:
-- exclusion (-word) and phrases keep their meaning.
create function ohm.search_vector(t text) returns tsvector
  language sql immutable parallel safe
  set search_path = ''
as $$
  select to_tsvector('pg_catalog.english', left(coalesce(t, ''), 262144))
      || to_tsvector('pg_catalog.english', ohm.identifier_parts(coalesce(t, '')))
$$;

-- The query side: quoted phrases, OR and -exclusion as people type them.
create function ohm.search_query(q text) returns tsquery
  language sql immutable parallel safe
  set search_path = ''
as $$
  select websearch_to_tsquery('pg_catalog.english', q)
$$;

revoke execute on function ohm.identifier_parts(text), ohm.search_vector(text), ohm.search_query(text) from public;
grant execute on function ohm.identifier_parts(text), ohm.search_vector(text), ohm.search_query(text)
  to anon, authenticated, service_role, ohm_definer, ohm_authenticator;

-- Messages: the vector is recomputed for every row (a table rewrite on a
-- populated database).
drop index public.idx_messages_search;
alter table public.messages drop column content_search;
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
