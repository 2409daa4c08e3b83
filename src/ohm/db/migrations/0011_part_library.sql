-- The shared part library: pin tables of ICs and modules imported from KiCad's
-- symbol libraries (`ohm parts import-kicad`), for BOM lines the part catalogue
-- (src/ohm/hardware/parts.toml) does not know.  Public knowledge, like model
-- prices: anyone reads it, only the service role writes it.
--
-- A BOM line finds its symbol by match_key: its MPN (else its name) in upper
-- case with everything but letters and digits removed ("AP2112K-3.3" and
-- "ap2112k 3.3" both read AP2112K33).

create table public.part_library (
  id          uuid primary key default gen_random_uuid(),
  source      text not null default 'kicad' check (source in ('kicad')),
  library     text not null check (char_length(library) between 1 and 200),
  name        text not null check (char_length(name) between 1 and 200),
  match_key   text generated always as (upper(regexp_replace(name, '[^A-Za-z0-9]', '', 'g'))) stored,
  reference   text check (char_length(reference) <= 20),
  description text check (char_length(description) <= 2000),
  keywords    text check (char_length(keywords) <= 2000),
  datasheet   text check (char_length(datasheet) <= 2048),
  -- [{number, name, type}] with KiCad's electrical types
  pins        jsonb not null check (jsonb_typeof(pins) = 'array' and octet_length(pins::text) <= 262144),
  imported_at timestamptz not null default now(),
  unique (source, library, name)
);

comment on table public.part_library is
  'Pin tables of symbols imported from KiCad libraries (ohm parts import-kicad), matched to BOM lines by MPN.';

create index idx_part_library_match on public.part_library (match_key);

alter table public.part_library enable row level security;
alter table public.part_library force row level security;

create policy part_library_read on public.part_library
  for select to anon, authenticated, ohm_definer using (true);

revoke all on public.part_library from anon, authenticated, public;
grant select on public.part_library to anon, authenticated, ohm_definer;
grant all on public.part_library to service_role;
