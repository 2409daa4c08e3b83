-- Projects and their hardware: what a maker wants to build (goal, location,
-- budget, workflow), and the BOM lines (parts), pin-to-pin wiring
-- (connections) and firmware files (code_files) its artifacts hold, as rows.
--
-- Every bom / wiring / code artifact version is expanded into parts,
-- connections or code_files in the same transaction that writes it, by a
-- trigger, whoever writes it (the API, a fork, the demo loader, or a client
-- talking to PostgREST directly).  A version whose JSON does not fit the
-- shape fails, and nothing is written.

create type public.project_status as enum ('draft', 'active', 'completed', 'archived');

-- Manufacturer lifecycle of a part (NRND = not recommended for new designs).
create type public.part_lifecycle as enum ('active', 'nrnd', 'eol', 'obsolete', 'unknown');

create table public.projects (
  id               uuid primary key default gen_random_uuid(),
  user_id          uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  name             text not null check (char_length(name) between 1 and 200),
  description      text check (char_length(description) <= 20000),
  goal             text check (char_length(goal) <= 20000),
  location         text check (char_length(location) <= 500),
  budget_amount    numeric(12, 2) check (budget_amount >= 0),
  budget_currency  char(3) not null default 'USD' check (budget_currency ~ '^[A-Z]{3}$'),
  requirements     jsonb not null default '{}'::jsonb
                     check (jsonb_typeof(requirements) in ('object', 'array')
                            and octet_length(requirements::text) <= 262144),
  workflow_steps   jsonb not null default '[]'::jsonb
                     check (jsonb_typeof(workflow_steps) = 'array'
                            and octet_length(workflow_steps::text) <= 262144),
  success_metrics  jsonb not null default '[]'::jsonb
                     check (jsonb_typeof(success_metrics) in ('object', 'array')
                            and octet_length(success_metrics::text) <= 262144),
  status           public.project_status not null default 'active',
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  -- The LLM spend limit of the project's chats; its hardware budget is budget_amount.
  spend_limit_usd  numeric(12, 2) check (spend_limit_usd >= 0),
  -- Target of composite foreign keys: a child row names its project *and*
  -- its owner, so a row can only hang off a project of the same user.
  unique (id, user_id),
  constraint projects_requirements_depth check (not jsonb_path_exists(requirements, '$.**{65}')),
  constraint projects_workflow_steps_depth check (not jsonb_path_exists(workflow_steps, '$.**{65}')),
  constraint projects_success_metrics_depth check (not jsonb_path_exists(success_metrics, '$.**{65}'))
);

comment on table public.projects is
  'A hardware project: goal, location, budget, requirements, workflow; many chats.';
comment on column public.projects.spend_limit_usd is 'Optional limit on the LLM spend of the project''s chats (USD).';

create index idx_projects_user_recent on public.projects (user_id, updated_at desc, id desc);

create trigger projects_set_updated_at
  before update on public.projects
  for each row execute function ohm.set_updated_at();

-- Chats and artifacts may belong to a project of their owner; deleting the
-- project keeps them.
alter table public.chats
  add constraint chats_project_id_user_id_fkey foreign key (project_id, user_id)
    references public.projects (id, user_id) on delete set null (project_id);
alter table public.artifacts
  add constraint artifacts_project_id_user_id_fkey foreign key (project_id, user_id)
    references public.projects (id, user_id) on delete set null (project_id);
-- A project's chats, newest activity first, straight from an index (as a
-- user's chats are); it also serves as the foreign key's index.
create index idx_chats_project_recent on public.chats (project_id, last_message_at desc, id desc)
  where project_id is not null;
create index idx_artifacts_project on public.artifacts (project_id) where project_id is not null;
-- A project's current BOM / wiring / code: the most recently changed artifact of that type.
create index idx_artifacts_project_type on public.artifacts (project_id, type, updated_at desc)
  where project_id is not null;

alter table public.projects enable row level security;
alter table public.projects force row level security;

create policy projects_owner_select on public.projects
  for select to authenticated using (user_id = (select auth.uid()));
create policy projects_owner_insert on public.projects
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy projects_owner_update on public.projects
  for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy projects_owner_delete on public.projects
  for delete to authenticated using (user_id = (select auth.uid()));

revoke all on public.projects from anon, authenticated, public;
grant select, delete on public.projects to authenticated;
grant insert (user_id, name, description, goal, location, budget_amount, budget_currency, requirements,
              workflow_steps, success_metrics, status, spend_limit_usd)
  on public.projects to authenticated;
grant update (name, description, goal, location, budget_amount, budget_currency, requirements, workflow_steps,
              success_metrics, status, spend_limit_usd)
  on public.projects to authenticated;
grant all on public.projects to service_role;

-- --- hardware rows ---------------------------------------------------------------------------------------------------

-- Each row comes from one artifact version (the BOM, wiring or code artifact
-- it was normalised from) and, when the artifact belongs to a project, from
-- that project.

create table public.parts (
  id                     uuid primary key default gen_random_uuid(),
  user_id                uuid not null default auth.uid(),
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
  -- The analysis of the part's datasheet (foreign key added with the analyses, 0006).
  datasheet_analysis_id  uuid,
  alternatives           jsonb not null default '[]'::jsonb
                           check (jsonb_typeof(alternatives) = 'array'
                                  and octet_length(alternatives::text) <= 65536),
  compatibility_warnings text[] not null default '{}',
  lifecycle              public.part_lifecycle not null default 'unknown',
  notes                  text check (char_length(notes) <= 5000),
  created_at             timestamptz not null default now(),
  -- Supply voltages as columns, for "all my 5 V parts".
  voltage_min            numeric(8, 3),
  voltage_max            numeric(8, 3),
  unique (id, user_id),
  foreign key (artifact_version_id, user_id)
    references public.artifact_versions (id, user_id) on delete cascade,
  foreign key (project_id, user_id)
    references public.projects (id, user_id) on delete set null (project_id),
  constraint parts_specs_depth check (not jsonb_path_exists(specs, '$.**{65}')),
  constraint parts_alternatives_depth check (not jsonb_path_exists(alternatives, '$.**{65}'))
);

comment on table public.parts is 'BOM lines normalised from a bom artifact version.';
comment on column public.parts.voltage_min is 'Lowest supply voltage, from specs.supply_voltage (or specs.voltage).';
comment on column public.parts.voltage_max is 'Highest supply voltage, from specs.supply_voltage (or specs.voltage).';

create index idx_parts_version on public.parts (artifact_version_id, position);
create index idx_parts_project on public.parts (project_id) where project_id is not null;
create index idx_parts_user_mpn on public.parts (user_id, upper(mpn));
create index idx_parts_user_name on public.parts (user_id, upper(name));
create index idx_parts_user_voltage on public.parts (user_id, voltage_min, voltage_max)
  where voltage_min is not null;

create table public.connections (
  id                   uuid primary key default gen_random_uuid(),
  user_id              uuid not null default auth.uid(),
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
  user_id              uuid not null default auth.uid(),
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
    execute format('grant select, update, delete on public.%I to authenticated', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end
$rls$;
grant insert (user_id, project_id, artifact_version_id, position, name, mpn, manufacturer, quantity, designators,
              specs, unit_price, currency, supplier, supplier_part_number, footprint, datasheet_url,
              datasheet_analysis_id, alternatives, compatibility_warnings, lifecycle, notes, voltage_min, voltage_max)
  on public.parts to authenticated;
grant insert (user_id, project_id, artifact_version_id, position, from_part, from_pin, to_part, to_pin,
              from_part_id, to_part_id, wire_color, voltage_level, signal_type, step_number, instruction, warnings)
  on public.connections to authenticated;
grant insert (user_id, project_id, artifact_version_id, position, filename, language, platform, board, framework,
              success_unit, content, libraries, is_production_ready)
  on public.code_files to authenticated;

-- --- artifact versions as rows ---------------------------------------------------------------------------------------

-- 3.3, "3.3", {"min": 3.0, "max": 3.6} or [3.0, 3.6] -> the bound asked for.
create function ohm.volts(p_value jsonb, p_bound text) returns numeric
  language sql
  immutable
  set search_path = ''
as $$
  select case jsonb_typeof(p_value)
           when 'number' then (p_value #>> '{}')::numeric
           when 'string' then case when (p_value #>> '{}') ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*[vV]?\s*$'
                                   then rtrim(trim(p_value #>> '{}'), 'vV ')::numeric end
           when 'object' then coalesce(
             case when jsonb_typeof(p_value -> p_bound) = 'number' then (p_value ->> p_bound)::numeric end,
             case when jsonb_typeof(p_value -> 'nominal') = 'number' then (p_value ->> 'nominal')::numeric end)
           when 'array' then case when jsonb_array_length(p_value) = 2
                                       and jsonb_typeof(p_value -> (case p_bound when 'min' then 0 else 1 end)) = 'number'
                                  then (p_value ->> (case p_bound when 'min' then 0 else 1 end))::numeric end
         end
$$;

create function ohm.text_array(p_value jsonb) returns text[]
  language sql
  immutable
  set search_path = ''
as $$
  select case when p_value is null or jsonb_typeof(p_value) = 'null' then '{}'::text[]
              else array(select jsonb_array_elements_text(p_value)) end
$$;

-- The BOM version a wiring version's endpoints resolve against: the current
-- version of the most recently changed bom artifact of the same project (or,
-- outside projects, of the same chat).
create function ohm.current_bom_version(p_project uuid, p_chat uuid) returns uuid
  language sql
  stable
  set search_path = ''
as $$
  select v.id
    from public.artifacts a
    join public.artifact_versions v on v.artifact_id = a.id and v.version_number = a.current_version
   where a.type = 'bom'
     and case when p_project is not null then a.project_id = p_project else a.chat_id = p_chat end
   order by a.updated_at desc, a.id desc
   limit 1
$$;

-- Runs as the writer (their RLS applies to the rows it writes).  Each kind
-- has a size cap (ohm.limits).  Wiring resolves its endpoints with one join
-- against the names the BOM's parts answer to, not a scan of the BOM per
-- connection (3,000 x 3,000 ran into the statement timeout; 2,000 wires x
-- 1,000 parts now take 0.07 s).
create function ohm.normalise_hardware_version() returns trigger
  language plpgsql
  set search_path = ''
as $$
declare
  art record;
  bom uuid;
  items integer;
  cap bigint;
begin
  select a.type::text as type, a.project_id, a.chat_id into art from public.artifacts a where a.id = new.artifact_id;
  if art.type not in ('bom', 'wiring', 'code') or new.content_json is null then
    return null;
  end if;
  if art.type = 'bom' then
    if jsonb_typeof(new.content_json -> 'parts') is distinct from 'array' then
      raise exception 'a bom version needs content_json.parts (an array)' using errcode = 'check_violation',
        constraint = 'bom_shape';
    end if;
    items := jsonb_array_length(new.content_json -> 'parts');
    cap := (select l.value from ohm.limits l where l.name = 'bom_parts');
    if items > cap then
      raise exception 'a bom version has at most % parts (this one has %)', cap, items
        using errcode = 'check_violation', constraint = 'bom_parts_limit';
    end if;
    insert into public.parts
      (user_id, project_id, artifact_version_id, position, name, mpn, manufacturer, quantity, designators, specs,
       unit_price, currency, supplier, supplier_part_number, footprint, datasheet_url, datasheet_analysis_id,
       alternatives, lifecycle, notes, voltage_min, voltage_max)
    select new.user_id, art.project_id, new.id, (e.ord - 1)::integer, e.p ->> 'name', e.p ->> 'mpn',
           e.p ->> 'manufacturer', coalesce((e.p ->> 'quantity')::integer, 1), ohm.text_array(e.p -> 'designators'),
           coalesce(e.p -> 'specs', '{}'::jsonb), (e.p ->> 'unit_price')::numeric,
           coalesce(e.p ->> 'currency', 'USD'), e.p ->> 'supplier', e.p ->> 'supplier_part_number',
           e.p ->> 'footprint', e.p ->> 'datasheet_url', (e.p ->> 'datasheet_analysis_id')::uuid,
           coalesce(e.p -> 'alternatives', '[]'::jsonb),
           coalesce(e.p ->> 'lifecycle', 'unknown')::public.part_lifecycle, e.p ->> 'notes',
           ohm.volts(coalesce(e.p -> 'specs' -> 'supply_voltage', e.p -> 'specs' -> 'voltage'), 'min'),
           ohm.volts(coalesce(e.p -> 'specs' -> 'supply_voltage', e.p -> 'specs' -> 'voltage'), 'max')
      from jsonb_array_elements(new.content_json -> 'parts') with ordinality as e(p, ord);
  elsif art.type = 'wiring' then
    if jsonb_typeof(new.content_json -> 'connections') is distinct from 'array' then
      raise exception 'a wiring version needs content_json.connections (an array)'
        using errcode = 'check_violation', constraint = 'wiring_shape';
    end if;
    items := jsonb_array_length(new.content_json -> 'connections');
    cap := (select l.value from ohm.limits l where l.name = 'wiring_connections');
    if items > cap then
      raise exception 'a wiring version has at most % connections (this one has %)', cap, items
        using errcode = 'check_violation', constraint = 'wiring_connections_limit';
    end if;
    bom := ohm.current_bom_version(art.project_id, art.chat_id);
    -- Each name an endpoint may use (a designator, the MPN, the part's name), with the first part by
    -- position that answers to it: built once, joined twice.
    insert into public.connections
      (user_id, project_id, artifact_version_id, position, from_part, from_pin, to_part, to_pin, from_part_id,
       to_part_id, wire_color, voltage_level, signal_type, step_number, instruction, warnings)
    with names as (
      select distinct on (n.name) n.name, n.id
        from (select upper(d) as name, p.id, p.position from public.parts p, unnest(p.designators) d
               where p.artifact_version_id = bom
              union all
              select upper(p.mpn), p.id, p.position from public.parts p
               where p.artifact_version_id = bom and p.mpn is not null
              union all
              select upper(p.name), p.id, p.position from public.parts p where p.artifact_version_id = bom) n
       order by n.name, n.position
    )
    select new.user_id, art.project_id, new.id, (e.ord - 1)::integer,
           e.c -> 'from' ->> 'part', e.c -> 'from' ->> 'pin', e.c -> 'to' ->> 'part', e.c -> 'to' ->> 'pin',
           f.id, t.id,
           e.c ->> 'wire_color', (e.c ->> 'voltage')::numeric, e.c ->> 'signal', (e.c ->> 'step')::integer,
           e.c ->> 'instruction', ohm.text_array(e.c -> 'warnings')
      from jsonb_array_elements(new.content_json -> 'connections') with ordinality as e(c, ord)
      left join names f on f.name = upper(e.c -> 'from' ->> 'part')
      left join names t on t.name = upper(e.c -> 'to' ->> 'part');
  else
    if jsonb_typeof(new.content_json -> 'files') is distinct from 'array' then
      raise exception 'a code version needs content_json.files (an array)' using errcode = 'check_violation',
        constraint = 'code_shape';
    end if;
    items := jsonb_array_length(new.content_json -> 'files');
    cap := (select l.value from ohm.limits l where l.name = 'code_files');
    if items > cap then
      raise exception 'a code version has at most % files (this one has %)', cap, items
        using errcode = 'check_violation', constraint = 'code_files_limit';
    end if;
    insert into public.code_files
      (user_id, project_id, artifact_version_id, position, filename, language, platform, board, framework,
       success_unit, content, libraries, is_production_ready)
    select new.user_id, art.project_id, new.id, (e.ord - 1)::integer, e.f ->> 'filename', e.f ->> 'language',
           e.f ->> 'platform', e.f ->> 'board', e.f ->> 'framework', (e.f ->> 'success_unit')::smallint,
           coalesce(e.f ->> 'content', ''), ohm.text_array(e.f -> 'libraries'),
           coalesce((e.f ->> 'is_production_ready')::boolean, false)
      from jsonb_array_elements(new.content_json -> 'files') with ordinality as e(f, ord);
  end if;
  return null;
end
$$;

create trigger artifact_versions_normalise
  after insert on public.artifact_versions
  for each row execute function ohm.normalise_hardware_version();

-- --- check runs ------------------------------------------------------------------------------------------------------

-- Checks of a project (src/ohm/hardware/checks.py), stored per combination
-- of the BOM, wiring and code versions they were run on.
create table public.check_runs (
  id                 uuid primary key default gen_random_uuid(),
  user_id            uuid not null default auth.uid(),
  project_id         uuid not null,
  bom_version_id     uuid,
  wiring_version_id  uuid,
  code_version_id    uuid,
  rules_version      integer not null check (rules_version >= 1),
  findings           jsonb not null default '[]'::jsonb
                       check (jsonb_typeof(findings) = 'array' and octet_length(findings::text) <= 1048576),
  errors             integer not null default 0 check (errors >= 0),
  warnings           integer not null default 0 check (warnings >= 0),
  infos              integer not null default 0 check (infos >= 0),
  created_at         timestamptz not null default now(),
  unique nulls not distinct (project_id, bom_version_id, wiring_version_id, code_version_id, rules_version),
  foreign key (project_id, user_id) references public.projects (id, user_id) on delete cascade,
  foreign key (bom_version_id, user_id) references public.artifact_versions (id, user_id) on delete cascade,
  foreign key (wiring_version_id, user_id) references public.artifact_versions (id, user_id) on delete cascade,
  foreign key (code_version_id, user_id) references public.artifact_versions (id, user_id) on delete cascade
);
comment on table public.check_runs is
  'Electrical and maker checks of a project, per (BOM, wiring, code) version combination and rules version.';
create index idx_check_runs_project on public.check_runs (project_id, created_at desc);
create index idx_check_runs_user on public.check_runs (user_id);
create index idx_check_runs_bom on public.check_runs (bom_version_id) where bom_version_id is not null;
create index idx_check_runs_wiring on public.check_runs (wiring_version_id) where wiring_version_id is not null;
create index idx_check_runs_code on public.check_runs (code_version_id) where code_version_id is not null;

alter table public.check_runs enable row level security;
alter table public.check_runs force row level security;
create policy check_runs_owner_select on public.check_runs
  for select to authenticated using (user_id = (select auth.uid()));
create policy check_runs_owner_insert on public.check_runs
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy check_runs_owner_delete on public.check_runs
  for delete to authenticated using (user_id = (select auth.uid()));
revoke all on public.check_runs from anon, authenticated, public;
grant select, delete on public.check_runs to authenticated;
grant insert (user_id, project_id, bom_version_id, wiring_version_id, code_version_id, rules_version, findings,
              errors, warnings, infos)
  on public.check_runs to authenticated;
grant all on public.check_runs to service_role;

revoke execute on all functions in schema ohm from public;
grant execute on function ohm.volts(jsonb, text), ohm.text_array(jsonb), ohm.current_bom_version(uuid, uuid)
  to authenticated, service_role;
