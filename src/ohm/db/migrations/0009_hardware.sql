-- 0009 hardware data: BOM lines (parts), pin-to-pin wiring (connections) and
-- firmware files (code_files).  Each row comes from one artifact version (the
-- BOM, wiring or code artifact it was normalised from) and, when the
-- artifact belongs to a project, from that project.

create table public.parts (
  id                     uuid primary key default gen_random_uuid(),
  user_id                uuid not null,
  project_id             uuid,
  artifact_version_id    uuid not null,
  position               integer not null default 0 check (position >= 0),
  name                   text not null check (char_length(name) between 1 and 300),
  mpn                    text check (char_length(mpn) <= 100),
  manufacturer           text check (char_length(manufacturer) <= 200),
  quantity               integer not null default 1 check (quantity > 0),
  designators            text[] not null default '{}',
  -- voltage, current, pins, interface, ... as the datasheet states them
  specs                  jsonb not null default '{}'::jsonb
                           check (jsonb_typeof(specs) = 'object'
                                  and octet_length(specs::text) <= 65536),
  unit_price             numeric(12, 4) check (unit_price >= 0),
  currency               char(3) not null default 'USD' check (currency ~ '^[A-Z]{3}$'),
  supplier               text check (char_length(supplier) <= 200),
  supplier_part_number   text check (char_length(supplier_part_number) <= 100),
  footprint              text check (char_length(footprint) <= 200),
  datasheet_url          text check (char_length(datasheet_url) <= 2048),
  datasheet_analysis_id  uuid,
  alternatives           jsonb not null default '[]'::jsonb
                           check (jsonb_typeof(alternatives) = 'array'
                                  and octet_length(alternatives::text) <= 65536),
  compatibility_warnings text[] not null default '{}',
  lifecycle              public.part_lifecycle not null default 'unknown',
  notes                  text check (char_length(notes) <= 5000),
  created_at             timestamptz not null default now(),
  unique (id, user_id),
  foreign key (artifact_version_id, user_id)
    references public.artifact_versions (id, user_id) on delete cascade,
  foreign key (project_id, user_id)
    references public.projects (id, user_id) on delete set null (project_id)
);

comment on table public.parts is 'BOM lines normalised from a bom artifact version.';

create index idx_parts_version on public.parts (artifact_version_id, position);
create index idx_parts_project on public.parts (project_id) where project_id is not null;
create index idx_parts_user_mpn on public.parts (user_id, upper(mpn));

create table public.connections (
  id                   uuid primary key default gen_random_uuid(),
  user_id              uuid not null,
  project_id           uuid,
  artifact_version_id  uuid not null,
  position             integer not null default 0 check (position >= 0),
  -- Endpoints as the agent named them (designator or part name + pin) ...
  from_part            text not null check (char_length(from_part) between 1 and 100),
  from_pin             text not null check (char_length(from_pin) between 1 and 100),
  to_part              text not null check (char_length(to_part) between 1 and 100),
  to_pin               text not null check (char_length(to_pin) between 1 and 100),
  -- ... and resolved to BOM lines of the same version where possible.
  from_part_id         uuid,
  to_part_id           uuid,
  wire_color           text check (char_length(wire_color) <= 32),
  voltage_level        numeric(8, 3),
  signal_type          text check (char_length(signal_type) <= 50),
  step_number          integer check (step_number >= 1),
  instruction          text check (char_length(instruction) <= 5000),
  warnings             text[] not null default '{}',
  created_at           timestamptz not null default now(),
  foreign key (artifact_version_id, user_id)
    references public.artifact_versions (id, user_id) on delete cascade,
  foreign key (project_id, user_id)
    references public.projects (id, user_id) on delete set null (project_id),
  foreign key (from_part_id, user_id)
    references public.parts (id, user_id) on delete set null (from_part_id),
  foreign key (to_part_id, user_id)
    references public.parts (id, user_id) on delete set null (to_part_id)
);

comment on table public.connections is 'Pin-to-pin wiring normalised from a wiring artifact version.';

create index idx_connections_version on public.connections (artifact_version_id, step_number, position);
create index idx_connections_project on public.connections (project_id) where project_id is not null;
create index idx_connections_user on public.connections (user_id);
create index idx_connections_from_part on public.connections (from_part_id) where from_part_id is not null;
create index idx_connections_to_part on public.connections (to_part_id) where to_part_id is not null;

create table public.code_files (
  id                   uuid primary key default gen_random_uuid(),
  user_id              uuid not null,
  project_id           uuid,
  artifact_version_id  uuid not null,
  position             integer not null default 0 check (position >= 0),
  filename             text not null check (char_length(filename) between 1 and 500),
  language             text check (char_length(language) <= 50),
  platform             text check (char_length(platform) <= 50),
  board                text check (char_length(board) <= 100),
  framework            text check (char_length(framework) <= 50),
  -- Success Unit methodology: 1 = it compiles and blinks, 2 = sensors work,
  -- 3 = the whole device works.
  success_unit         smallint check (success_unit between 1 and 3),
  content              text not null default '' check (octet_length(content) <= 1048576),
  libraries            text[] not null default '{}',
  is_production_ready  boolean not null default false,
  created_at           timestamptz not null default now(),
  unique (artifact_version_id, filename),
  foreign key (artifact_version_id, user_id)
    references public.artifact_versions (id, user_id) on delete cascade,
  foreign key (project_id, user_id)
    references public.projects (id, user_id) on delete set null (project_id)
);

comment on table public.code_files is 'Firmware files normalised from a code artifact version.';

create index idx_code_files_project on public.code_files (project_id) where project_id is not null;
create index idx_code_files_user on public.code_files (user_id);

do $rls$
declare
  t text;
begin
  foreach t in array array['parts', 'connections', 'code_files'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
    execute format($p$create policy %I on public.%I for select to authenticated
                      using (user_id = (select auth.uid()))$p$, t || '_owner_select', t);
    execute format($p$create policy %I on public.%I for insert to authenticated
                      with check (user_id = (select auth.uid()))$p$, t || '_owner_insert', t);
    execute format($p$create policy %I on public.%I for update to authenticated
                      using (user_id = (select auth.uid()))
                      with check (user_id = (select auth.uid()))$p$, t || '_owner_update', t);
    execute format($p$create policy %I on public.%I for delete to authenticated
                      using (user_id = (select auth.uid()))$p$, t || '_owner_delete', t);
    execute format('revoke all on public.%I from anon, authenticated, public', t);
    execute format('grant select, insert, update, delete on public.%I to authenticated', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end
$rls$;
