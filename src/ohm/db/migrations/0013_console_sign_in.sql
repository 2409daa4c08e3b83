-- Sign-in links for the web console: a one-time code, exchanged once for an
-- HttpOnly session cookie (`ohm login-link EMAIL`, `ohm serve --demo`).  Only
-- the code's sha256 is kept; a code lives 15 minutes and works once.

create table ohm.login_codes (
  code_sha256 text primary key check (code_sha256 ~ '^[0-9a-f]{64}$'),
  user_id     uuid not null references auth.users (id) on delete cascade,
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null default now() + interval '15 minutes',
  used_at     timestamptz
);
comment on table ohm.login_codes is 'One-time console sign-in codes (their sha256), exchanged for a session cookie.';
create index idx_login_codes_user on ohm.login_codes (user_id);

alter table ohm.login_codes enable row level security;
alter table ohm.login_codes force row level security;
create policy login_codes_service on ohm.login_codes for all to service_role using (true) with check (true);
grant select, insert, update, delete on ohm.login_codes to service_role;
