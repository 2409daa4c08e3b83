-- 0022 BOM, wiring and code as rows: every bom / wiring / code artifact
-- version is expanded into parts, connections or code_files in the same
-- transaction that writes it, by a trigger, whoever writes it (the API, a
-- fork, the demo loader, or a client talking to PostgREST directly).  A
-- version whose JSON does not fit the shape fails, and nothing is written.
-- Also: supply voltages as columns (for "all my 5 V parts"), and stored
-- check runs per combination of BOM, wiring and code versions.

alter table public.parts
  add column voltage_min numeric(8, 3),
  add column voltage_max numeric(8, 3);
comment on column public.parts.voltage_min is 'Lowest supply voltage, from specs.supply_voltage (or specs.voltage).';
comment on column public.parts.voltage_max is 'Highest supply voltage, from specs.supply_voltage (or specs.voltage).';
create index idx_parts_user_voltage on public.parts (user_id, voltage_min, voltage_max)
  where voltage_min is not null;
create index idx_parts_user_name on public.parts (user_id, upper(name));

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

create function ohm.normalise_hardware_version() returns trigger
  language plpgsql
  set search_path = ''
as $$
declare
  art record;
  bom uuid;
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
    bom := ohm.current_bom_version(art.project_id, art.chat_id);
    insert into public.connections
      (user_id, project_id, artifact_version_id, position, from_part, from_pin, to_part, to_pin, from_part_id,
       to_part_id, wire_color, voltage_level, signal_type, step_number, instruction, warnings)
    select new.user_id, art.project_id, new.id, (e.ord - 1)::integer,
           e.c -> 'from' ->> 'part', e.c -> 'from' ->> 'pin', e.c -> 'to' ->> 'part', e.c -> 'to' ->> 'pin',
           (select p.id from public.parts p
             where p.artifact_version_id = bom
               and (upper(e.c -> 'from' ->> 'part') = any (select upper(d) from unnest(p.designators) d)
                    or upper(p.mpn) = upper(e.c -> 'from' ->> 'part') or upper(p.name) = upper(e.c -> 'from' ->> 'part'))
             order by p.position limit 1),
           (select p.id from public.parts p
             where p.artifact_version_id = bom
               and (upper(e.c -> 'to' ->> 'part') = any (select upper(d) from unnest(p.designators) d)
                    or upper(p.mpn) = upper(e.c -> 'to' ->> 'part') or upper(p.name) = upper(e.c -> 'to' ->> 'part'))
             order by p.position limit 1),
           e.c ->> 'wire_color', (e.c ->> 'voltage')::numeric, e.c ->> 'signal', (e.c ->> 'step')::integer,
           e.c ->> 'instruction', ohm.text_array(e.c -> 'warnings')
      from jsonb_array_elements(new.content_json -> 'connections') with ordinality as e(c, ord);
  else
    if jsonb_typeof(new.content_json -> 'files') is distinct from 'array' then
      raise exception 'a code version needs content_json.files (an array)' using errcode = 'check_violation',
        constraint = 'code_shape';
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
revoke all on function ohm.normalise_hardware_version() from public;
-- The trigger runs as the writer (their RLS applies to the rows it writes).
revoke all on function ohm.volts(jsonb, text), ohm.text_array(jsonb), ohm.current_bom_version(uuid, uuid)
  from public;
grant execute on function ohm.volts(jsonb, text), ohm.text_array(jsonb), ohm.current_bom_version(uuid, uuid)
  to authenticated, service_role;

create trigger artifact_versions_normalise
  after insert on public.artifact_versions
  for each row execute function ohm.normalise_hardware_version();

-- Checks of a project (src/ohm/hardware/checks.py), stored per combination
-- of the BOM, wiring and code versions they were run on.
create table public.check_runs (
  id                 uuid primary key default gen_random_uuid(),
  user_id            uuid not null,
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
grant select, insert, delete on public.check_runs to authenticated;
grant all on public.check_runs to service_role;

-- A project's current BOM / wiring / code: the most recently changed artifact of that type.
create index idx_artifacts_project_type on public.artifacts (project_id, type, updated_at desc)
  where project_id is not null;
