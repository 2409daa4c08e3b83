-- 0003 enums and shared trigger functions.
--
-- Enums live in `public` so that Supabase's type generator and PostgREST see
-- them.  A new value is added with `alter type ... add value` in a new
-- migration; values are never removed.

create type public.message_role as enum ('user', 'assistant', 'system', 'tool');

-- What an agent was doing when it answered.
create type public.agent_intent as enum (
  'CHAT', 'PLAN', 'BOM', 'WIRING', 'CODE', 'VERIFY', 'DATASHEET', 'DEBUG', 'RESEARCH', 'SUMMARY'
);

-- Where a hardware conversation stands, from the idea to a working device.
create type public.chat_phase as enum (
  'ideation', 'requirements', 'bom', 'wiring', 'code', 'verification', 'complete'
);

create type public.project_status as enum ('draft', 'active', 'completed', 'archived');

create type public.subscription_tier as enum ('free', 'pro', 'team', 'enterprise');

create type public.artifact_type as enum (
  'bom', 'wiring', 'code', 'document', 'diagram', 'plan', 'verification_report'
);

create type public.verification_status as enum ('pending', 'pass', 'warning', 'fail');

create type public.attachment_category as enum (
  'circuit_image', 'datasheet', 'schematic', 'photo', 'code', 'other'
);

create type public.processing_status as enum ('pending', 'processing', 'done', 'failed');

-- Manufacturer lifecycle of a part (NRND = not recommended for new designs).
create type public.part_lifecycle as enum ('active', 'nrnd', 'eol', 'obsolete', 'unknown');

-- `updated_at` maintenance for every table that has one.  Runs as the
-- caller: it only touches the row being written.
create function ohm.set_updated_at() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;

-- Refuses UPDATE/DELETE on history tables.  A DELETE that is cascading from
-- the parent row is allowed: the RI trigger runs one trigger level deeper.
create function ohm.refuse_history_change() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and pg_catalog.pg_trigger_depth() > 1 then
    return old;
  end if;
  raise exception '% rows are immutable: % refused', tg_table_name, lower(tg_op)
    using errcode = 'restrict_violation',
          hint = 'write a new row instead; history is never rewritten';
end
$$;
