-- 0013 model prices: what a model cost per million tokens from a date on, so
-- a message's cost is computed at the price of its day and never rewritten.

create table public.model_prices (
  model_id               text not null check (model_id ~ '^[A-Za-z0-9][A-Za-z0-9._:@-]*$'
                                              and char_length(model_id) <= 200),
  provider               text not null check (char_length(provider) between 1 and 100),
  input_per_mtok         numeric(12, 6) not null check (input_per_mtok >= 0),
  output_per_mtok        numeric(12, 6) not null check (output_per_mtok >= 0),
  cached_input_per_mtok  numeric(12, 6) check (cached_input_per_mtok >= 0),
  currency               char(3) not null default 'USD' check (currency ~ '^[A-Z]{3}$'),
  valid_from             timestamptz not null,
  created_at             timestamptz not null default now(),
  primary key (model_id, valid_from)
);

comment on table public.model_prices is
  'List prices per million tokens, valid from a moment on; the latest valid_from <= t applies at t.';

alter table public.model_prices enable row level security;
alter table public.model_prices force row level security;

-- Prices are public knowledge; only the service role changes them.
create policy model_prices_read on public.model_prices
  for select to anon, authenticated, ohm_definer using (true);

revoke all on public.model_prices from anon, authenticated, public;
grant select on public.model_prices to anon, authenticated, ohm_definer;
grant all on public.model_prices to service_role;
