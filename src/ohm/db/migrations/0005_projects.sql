-- 0005 projects: what a maker wants to build, with budget and workflow.

create table public.projects (
  id               uuid primary key default gen_random_uuid(),
  user_id          uuid not null references public.profiles (id) on delete cascade,
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
  -- Target of composite foreign keys: a child row names its project *and*
  -- its owner, so a row can only hang off a project of the same user.
  unique (id, user_id)
);

comment on table public.projects is
  'A hardware project: goal, location, budget, requirements, workflow; many chats.';

create index idx_projects_user_recent on public.projects (user_id, updated_at desc, id desc);

create trigger projects_set_updated_at
  before update on public.projects
  for each row execute function ohm.set_updated_at();

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
grant select, insert, delete on public.projects to authenticated;
grant update (name, description, goal, location, budget_amount, budget_currency,
              requirements, workflow_steps, success_metrics, status)
  on public.projects to authenticated;
grant all on public.projects to service_role;
