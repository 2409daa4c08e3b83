-- OHM's schema as a fresh database holds it after every migration: generated from the catalog by
-- `python -m ohm.db.catalog <owner DSN>` (ohm/db/catalog.py), checked by tests/test_migrations.py.
-- Read it to see the whole schema in one place; change the schema with a new migration, then
-- regenerate this file.


-- === roles ===============================================================================================
role anon: nologin, rls, noinherit; member of nothing
role authenticated: nologin, rls, noinherit; member of nothing
role ohm_authenticator: login, rls, noinherit; member of anon, authenticated, service_role
role ohm_definer: nologin, rls, noinherit; member of nothing
role service_role: nologin, bypassrls, noinherit; member of nothing

-- === extensions ==========================================================================================
extension btree_gin

-- === types ===============================================================================================
type public.agent_intent as enum ('CHAT', 'PLAN', 'BOM', 'WIRING', 'CODE', 'VERIFY', 'DATASHEET', 'DEBUG', 'RESEARCH', 'SUMMARY')
type public.artifact_type as enum ('bom', 'wiring', 'code', 'document', 'diagram', 'plan', 'verification_report')
type public.attachment_category as enum ('circuit_image', 'datasheet', 'schematic', 'photo', 'code', 'other')
type public.chat_phase as enum ('ideation', 'requirements', 'bom', 'wiring', 'code', 'verification', 'complete')
type public.message_role as enum ('user', 'assistant', 'system', 'tool')
type public.part_lifecycle as enum ('active', 'nrnd', 'eol', 'obsolete', 'unknown')
type public.processing_status as enum ('pending', 'processing', 'done', 'failed')
type public.project_status as enum ('draft', 'active', 'completed', 'archived')
type public.subscription_tier as enum ('free', 'pro', 'team', 'enterprise')
type public.verification_status as enum ('pending', 'pass', 'warning', 'fail')

-- === tables ==============================================================================================
table auth.users (
  id uuid default gen_random_uuid() not null,
  aud character varying(255) default 'authenticated'::character varying,
  role character varying(255) default 'authenticated'::character varying,
  email character varying(255),
  raw_app_meta_data jsonb default '{}'::jsonb,
  raw_user_meta_data jsonb default '{}'::jsonb,
  created_at timestamp with time zone default now(),
  updated_at timestamp with time zone default now(),
  deleted_at timestamp with time zone,
  constraint users_pkey PRIMARY KEY (id)
)
table ohm.limits (  -- Budgets the database enforces; change a value with UPDATE as the owner.
  name text not null,
  value bigint not null,
  description text not null,
  constraint limits_pkey PRIMARY KEY (name),
  constraint limits_value_check CHECK ((value >= 0))
)  -- row level security, forced
table ohm.login_codes (  -- One-time console sign-in codes (their sha256), exchanged for a session cookie.
  code_sha256 text not null,
  user_id uuid not null,
  created_at timestamp with time zone default now() not null,
  expires_at timestamp with time zone default (now() + '00:15:00'::interval) not null,
  used_at timestamp with time zone,
  constraint login_codes_code_sha256_check CHECK ((code_sha256 ~ '^[0-9a-f]{64}$'::text)),
  constraint login_codes_pkey PRIMARY KEY (code_sha256),
  constraint login_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE
)  -- row level security, forced
table ohm.realtime_watch (  -- Chats some server process has live subscribers for (leases); NOTIFY is sent only for these.
  chat_id uuid not null,
  watched_until timestamp with time zone not null,
  constraint realtime_watch_pkey PRIMARY KEY (chat_id)
)  -- unlogged, row level security, forced
table ohm.schema_migrations (
  name text not null,
  sha256 text not null,
  applied_at timestamp with time zone default now() not null,
  applied_by text default CURRENT_USER not null,
  constraint schema_migrations_pkey PRIMARY KEY (name)
)
table ohm.share_views (
  share_id uuid not null,
  day date default CURRENT_DATE not null,
  visitor text not null,
  constraint share_views_pkey PRIMARY KEY (share_id, day, visitor),
  constraint share_views_visitor_check CHECK ((char_length(visitor) <= 64))
)  -- row level security, forced
table ohm.usage_counters (  -- A user's message, token and cost totals in up to 32 slots (writing backend pid mod 32); the total is the sum.
  user_id uuid not null,
  slot smallint not null,
  message_count bigint default 0 not null,
  total_input_tokens bigint default 0 not null,
  total_output_tokens bigint default 0 not null,
  total_cost_usd numeric(16,6) default 0 not null,
  constraint usage_counters_pkey PRIMARY KEY (user_id, slot),
  constraint usage_counters_slot_check CHECK (((slot >= 0) AND (slot <= 31))),
  constraint usage_counters_user_id_fkey FOREIGN KEY (user_id) REFERENCES profiles(id) ON DELETE CASCADE
)  -- row level security, forced
table public.activity_log (  -- Append-only log of important actions (actor, action, entity, context); UPDATE refused, DELETE only by retention.
  id bigint generated always as identity not null,
  user_id uuid,
  action text not null,
  entity_type text not null,
  entity_id uuid,
  chat_id uuid,
  project_id uuid,
  metadata jsonb default '{}'::jsonb not null,
  created_at timestamp with time zone default now() not null,
  actor_id uuid,
  actor_role text,
  actor_key_id uuid,
  actor_key_name text,
  constraint activity_log_action_check CHECK (((action ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'::text) AND (char_length(action) <= 100))),
  constraint activity_log_actor_key_name_check CHECK ((char_length(actor_key_name) <= 100)),
  constraint activity_log_actor_role_check CHECK ((char_length(actor_role) <= 50)),
  constraint activity_log_entity_type_check CHECK (((char_length(entity_type) >= 1) AND (char_length(entity_type) <= 50))),
  constraint activity_log_metadata_check CHECK (((jsonb_typeof(metadata) = 'object'::text) AND (octet_length((metadata)::text) <= 16384))),
  constraint activity_log_pkey PRIMARY KEY (id),
  constraint activity_log_user_id_fkey FOREIGN KEY (user_id) REFERENCES profiles(id) ON DELETE CASCADE
)  -- row level security, forced
table public.api_keys (  -- Keys agents act with (as their user, within scopes, optionally limited to one chat or project); only a hash is kept.
  id uuid default gen_random_uuid() not null,
  user_id uuid default auth.uid() not null,
  name text not null,
  prefix text not null,
  secret_sha256 bytea not null,
  scopes text[] not null,
  chat_id uuid,
  project_id uuid,
  expires_at timestamp with time zone,
  created_at timestamp with time zone default now() not null,
  last_used_at timestamp with time zone,
  revoked_at timestamp with time zone,
  constraint api_keys_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES chats(id) ON DELETE CASCADE,
  constraint api_keys_name_check CHECK ((((char_length(btrim(name)) >= 1) AND (char_length(btrim(name)) <= 100)) AND (name !~ '[[:cntrl:]]'::text))),
  constraint api_keys_one_limit CHECK (((chat_id IS NULL) OR (project_id IS NULL))),
  constraint api_keys_pkey PRIMARY KEY (id),
  constraint api_keys_prefix_check CHECK ((prefix ~ '^ohm_sk_[A-Za-z0-9]{8}$'::text)),
  constraint api_keys_prefix_key UNIQUE (prefix),
  constraint api_keys_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects(id) ON DELETE CASCADE,
  constraint api_keys_scopes_check CHECK ((((cardinality(scopes) >= 1) AND (cardinality(scopes) <= 20)) AND (array_position(scopes, NULL::text) IS NULL) AND (scopes <@ ARRAY['*'::text, 'chats:read'::text, 'chats:write'::text, 'messages:write'::text, 'artifacts:read'::text, 'artifacts:write'::text, 'projects:read'::text, 'projects:write'::text, 'files:read'::text, 'files:write'::text, 'shares:write'::text, 'search'::text, 'analytics:read'::text, 'account:read'::text]))),
  constraint api_keys_secret_sha256_check CHECK ((octet_length(secret_sha256) = 32)),
  constraint api_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES profiles(id) ON DELETE CASCADE
)  -- row level security, forced
table public.artifact_versions (  -- Immutable history of an artifact: UPDATE and DELETE are refused (except the cascade when the artifact goes).
  id uuid default gen_random_uuid() not null,
  artifact_id uuid not null,
  user_id uuid default auth.uid() not null,
  version_number integer default 0 not null,  -- Version 1, 2, ... of the artifact, assigned by the insert trigger; 0 is only a placeholder.
  parent_version_id uuid,
  content_text text,
  content_json jsonb,
  change_summary text,
  created_by_message_id uuid,
  created_by_agent text,
  created_by_user_id uuid,
  created_at timestamp with time zone default now() not null,
  content_search tsvector generated always as (((ohm.search_vector(content_text) || COALESCE(jsonb_to_tsvector('english'::regconfig, content_json, '["string", "numeric"]'::jsonb), ''::tsvector)) || to_tsvector('english'::regconfig, ohm.identifier_parts(COALESCE((content_json)::text, ''::text))))) stored,
  constraint artifact_versions_artifact_id_id_key UNIQUE (artifact_id, id),
  constraint artifact_versions_artifact_id_parent_version_id_fkey FOREIGN KEY (artifact_id, parent_version_id) REFERENCES artifact_versions(artifact_id, id),
  constraint artifact_versions_artifact_id_user_id_fkey FOREIGN KEY (artifact_id, user_id) REFERENCES artifacts(id, user_id) ON DELETE CASCADE,
  constraint artifact_versions_artifact_id_version_number_key UNIQUE (artifact_id, version_number),
  constraint artifact_versions_change_summary_check CHECK ((char_length(change_summary) <= 2000)),
  constraint artifact_versions_check CHECK (((content_text IS NOT NULL) OR (content_json IS NOT NULL))),
  constraint artifact_versions_content_json_check CHECK ((octet_length((content_json)::text) <= 1048576)),
  constraint artifact_versions_content_json_depth CHECK ((NOT jsonb_path_exists(content_json, '$.**{65}'::jsonpath))),
  constraint artifact_versions_content_text_check CHECK ((octet_length(content_text) <= 1048576)),
  constraint artifact_versions_created_by_agent_check CHECK ((char_length(created_by_agent) <= 100)),
  constraint artifact_versions_id_user_id_key UNIQUE (id, user_id),
  constraint artifact_versions_pkey PRIMARY KEY (id),
  constraint artifact_versions_version_number_check CHECK ((version_number >= 1))
)  -- row level security, forced
table public.artifacts (  -- Versioned output of an agent (bom, wiring, code, ...); current_version/total_versions kept by triggers.
  id uuid default gen_random_uuid() not null,
  chat_id uuid not null,
  user_id uuid default auth.uid() not null,
  project_id uuid,
  message_id uuid,
  type artifact_type not null,
  title text not null,
  current_version integer,
  total_versions integer default 0 not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  forked_from_version_id uuid,  -- For an artifact copied by a fork: the artifact version it started from.
  constraint artifacts_chat_id_message_id_fkey FOREIGN KEY (chat_id, message_id) REFERENCES messages(chat_id, id) ON DELETE SET NULL (message_id),
  constraint artifacts_chat_id_user_id_fkey FOREIGN KEY (chat_id, user_id) REFERENCES chats(id, user_id) ON DELETE CASCADE,
  constraint artifacts_check CHECK ((((total_versions = 0) AND (current_version IS NULL)) OR ((current_version >= 1) AND (current_version <= total_versions)))),
  constraint artifacts_current_version_check CHECK ((current_version >= 1)),
  constraint artifacts_id_user_id_key UNIQUE (id, user_id),
  constraint artifacts_pkey PRIMARY KEY (id),
  constraint artifacts_project_id_user_id_fkey FOREIGN KEY (project_id, user_id) REFERENCES projects(id, user_id) ON DELETE SET NULL (project_id),
  constraint artifacts_title_check CHECK (((char_length(title) >= 1) AND (char_length(title) <= 300))),
  constraint artifacts_total_versions_check CHECK ((total_versions >= 0))
)  -- row level security, forced
table public.attachments (  -- Uploaded files (circuit photos, datasheets): storage location, size, sha256, AI processing status.
  id uuid default gen_random_uuid() not null,
  user_id uuid not null,
  chat_id uuid,
  message_id uuid,
  project_id uuid,
  bucket text default 'attachments'::text not null,
  storage_path text not null,
  filename text not null,
  mime_type text not null,
  size_bytes bigint not null,
  sha256 character(64) not null,
  category attachment_category default 'other'::attachment_category not null,
  processing_status processing_status default 'pending'::processing_status not null,
  processing_error text,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint attachments_bucket_check CHECK (((char_length(bucket) >= 1) AND (char_length(bucket) <= 100))),
  constraint attachments_chat_id_message_id_fkey FOREIGN KEY (chat_id, message_id) REFERENCES messages(chat_id, id) ON DELETE SET NULL (message_id),
  constraint attachments_chat_id_user_id_fkey FOREIGN KEY (chat_id, user_id) REFERENCES chats(id, user_id) ON DELETE SET NULL (chat_id),
  constraint attachments_filename_check CHECK (((char_length(filename) >= 1) AND (char_length(filename) <= 255))),
  constraint attachments_filename_printable CHECK ((filename !~ '[[:cntrl:]]'::text)),
  constraint attachments_id_user_id_key UNIQUE (id, user_id),
  constraint attachments_mime_type_check CHECK (((char_length(mime_type) >= 3) AND (char_length(mime_type) <= 255))),
  constraint attachments_pkey PRIMARY KEY (id),
  constraint attachments_processing_error_check CHECK ((char_length(processing_error) <= 5000)),
  constraint attachments_project_id_user_id_fkey FOREIGN KEY (project_id, user_id) REFERENCES projects(id, user_id) ON DELETE SET NULL (project_id),
  constraint attachments_sha256_check CHECK ((sha256 ~ '^[0-9a-f]{64}$'::text)),
  constraint attachments_size_bytes_check CHECK ((size_bytes >= 0)),
  constraint attachments_storage_path_check CHECK (((char_length(storage_path) >= 1) AND (char_length(storage_path) <= 1024))),
  constraint attachments_user_id_fkey FOREIGN KEY (user_id) REFERENCES profiles(id) ON DELETE CASCADE
)  -- row level security, forced
table public.chat_forks (  -- Who forked which chat at which message (and through which share); lineage of forks.
  id uuid default gen_random_uuid() not null,
  original_chat_id uuid,
  fork_chat_id uuid not null,
  fork_point_message_id uuid,
  share_id uuid,
  forked_by uuid default auth.uid() not null,
  created_at timestamp with time zone default now() not null,
  via_share boolean default false not null,  -- Forked through a share link: the original, the share and the fork point are not recorded for the forker.
  constraint chat_forks_fork_chat_id_forked_by_fkey FOREIGN KEY (fork_chat_id, forked_by) REFERENCES chats(id, user_id) ON DELETE CASCADE,
  constraint chat_forks_fork_chat_id_key UNIQUE (fork_chat_id),
  constraint chat_forks_original_chat_id_fkey FOREIGN KEY (original_chat_id) REFERENCES chats(id) ON DELETE SET NULL,
  constraint chat_forks_pkey PRIMARY KEY (id),
  constraint chat_forks_share_id_fkey FOREIGN KEY (share_id) REFERENCES shared_chats(id) ON DELETE SET NULL
)  -- row level security, forced
table public.chats (  -- A conversation; its uuid is its URL. Counters, title and current leaf kept by triggers on messages.
  id uuid default gen_random_uuid() not null,
  user_id uuid default auth.uid() not null,
  project_id uuid,
  title text,
  phase chat_phase default 'ideation'::chat_phase not null,
  is_public boolean default false not null,
  is_archived boolean default false not null,
  is_pinned boolean default false not null,
  message_count integer default 0 not null,
  last_sequence integer default 0 not null,  -- Highest message sequence number handed out; taken with UPDATE ... RETURNING, never max()+1.
  last_message_at timestamp with time zone default now() not null,
  total_input_tokens bigint default 0 not null,
  total_output_tokens bigint default 0 not null,
  total_cost_usd numeric(16,6) default 0 not null,
  forked_from uuid,
  current_leaf_id uuid,  -- Last message of the active branch; a new message becomes the leaf. Set it to switch branches (a message of this chat); cleared when that message is deleted.
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  is_branched boolean default false not null,  -- True once any message was added off the current leaf; false means the messages form one chain.
  last_event_seq bigint default 0 not null,  -- Cursor of the newest realtime event of this chat.
  constraint chats_forked_from_fkey FOREIGN KEY (forked_from) REFERENCES chats(id) ON DELETE SET NULL,
  constraint chats_id_user_id_key UNIQUE (id, user_id),
  constraint chats_last_event_seq_check CHECK ((last_event_seq >= 0)),
  constraint chats_last_sequence_check CHECK ((last_sequence >= 0)),
  constraint chats_message_count_check CHECK ((message_count >= 0)),
  constraint chats_pkey PRIMARY KEY (id),
  constraint chats_project_id_user_id_fkey FOREIGN KEY (project_id, user_id) REFERENCES projects(id, user_id) ON DELETE SET NULL (project_id),
  constraint chats_title_check CHECK ((char_length(title) <= 300)),
  constraint chats_total_cost_usd_check CHECK ((total_cost_usd >= (0)::numeric)),
  constraint chats_total_input_tokens_check CHECK ((total_input_tokens >= 0)),
  constraint chats_total_output_tokens_check CHECK ((total_output_tokens >= 0)),
  constraint chats_user_id_fkey FOREIGN KEY (user_id) REFERENCES profiles(id) ON DELETE CASCADE
)  -- row level security, forced
table public.check_runs (  -- Electrical and maker checks of a project, per (BOM, wiring, code) version combination and rules version.
  id uuid default gen_random_uuid() not null,
  user_id uuid default auth.uid() not null,
  project_id uuid not null,
  bom_version_id uuid,
  wiring_version_id uuid,
  code_version_id uuid,
  rules_version integer not null,
  findings jsonb default '[]'::jsonb not null,
  errors integer default 0 not null,
  warnings integer default 0 not null,
  infos integer default 0 not null,
  created_at timestamp with time zone default now() not null,
  constraint check_runs_bom_version_id_user_id_fkey FOREIGN KEY (bom_version_id, user_id) REFERENCES artifact_versions(id, user_id) ON DELETE CASCADE,
  constraint check_runs_code_version_id_user_id_fkey FOREIGN KEY (code_version_id, user_id) REFERENCES artifact_versions(id, user_id) ON DELETE CASCADE,
  constraint check_runs_errors_check CHECK ((errors >= 0)),
  constraint check_runs_findings_check CHECK (((jsonb_typeof(findings) = 'array'::text) AND (octet_length((findings)::text) <= 1048576))),
  constraint check_runs_infos_check CHECK ((infos >= 0)),
  constraint check_runs_pkey PRIMARY KEY (id),
  constraint check_runs_project_id_bom_version_id_wiring_version_id_code_key UNIQUE NULLS NOT DISTINCT (project_id, bom_version_id, wiring_version_id, code_version_id, rules_version),
  constraint check_runs_project_id_user_id_fkey FOREIGN KEY (project_id, user_id) REFERENCES projects(id, user_id) ON DELETE CASCADE,
  constraint check_runs_rules_version_check CHECK ((rules_version >= 1)),
  constraint check_runs_warnings_check CHECK ((warnings >= 0)),
  constraint check_runs_wiring_version_id_user_id_fkey FOREIGN KEY (wiring_version_id, user_id) REFERENCES artifact_versions(id, user_id) ON DELETE CASCADE
)  -- row level security, forced
table public.circuit_verifications (  -- A vision agent's check of a circuit photo: pass/fail/warning, detected components, issues, suggestions.
  id uuid default gen_random_uuid() not null,
  user_id uuid default auth.uid() not null,
  project_id uuid not null,
  chat_id uuid,
  message_id uuid,
  attachment_id uuid,
  status verification_status default 'pending'::verification_status not null,
  detected_components jsonb default '[]'::jsonb not null,
  issues jsonb default '[]'::jsonb not null,
  suggestions jsonb default '[]'::jsonb not null,
  model text,
  created_at timestamp with time zone default now() not null,
  constraint circuit_verifications_attachment_id_user_id_fkey FOREIGN KEY (attachment_id, user_id) REFERENCES attachments(id, user_id) ON DELETE SET NULL (attachment_id),
  constraint circuit_verifications_chat_id_message_id_fkey FOREIGN KEY (chat_id, message_id) REFERENCES messages(chat_id, id) ON DELETE SET NULL (message_id),
  constraint circuit_verifications_chat_id_user_id_fkey FOREIGN KEY (chat_id, user_id) REFERENCES chats(id, user_id) ON DELETE SET NULL (chat_id),
  constraint circuit_verifications_detected_components_check CHECK (((jsonb_typeof(detected_components) = 'array'::text) AND (octet_length((detected_components)::text) <= 262144))),
  constraint circuit_verifications_detected_components_depth CHECK ((NOT jsonb_path_exists(detected_components, '$.**{65}'::jsonpath))),
  constraint circuit_verifications_issues_check CHECK (((jsonb_typeof(issues) = 'array'::text) AND (octet_length((issues)::text) <= 262144))),
  constraint circuit_verifications_issues_depth CHECK ((NOT jsonb_path_exists(issues, '$.**{65}'::jsonpath))),
  constraint circuit_verifications_model_check CHECK ((char_length(model) <= 200)),
  constraint circuit_verifications_pkey PRIMARY KEY (id),
  constraint circuit_verifications_project_id_user_id_fkey FOREIGN KEY (project_id, user_id) REFERENCES projects(id, user_id) ON DELETE CASCADE,
  constraint circuit_verifications_suggestions_check CHECK (((jsonb_typeof(suggestions) = 'array'::text) AND (octet_length((suggestions)::text) <= 262144))),
  constraint circuit_verifications_suggestions_depth CHECK ((NOT jsonb_path_exists(suggestions, '$.**{65}'::jsonpath)))
)  -- row level security, forced
table public.code_files (  -- Firmware files normalised from a code artifact version.
  id uuid default gen_random_uuid() not null,
  user_id uuid default auth.uid() not null,
  project_id uuid,
  artifact_version_id uuid not null,
  position integer default 0 not null,
  filename text not null,
  language text,
  platform text,
  board text,
  framework text,
  success_unit smallint,
  content text default ''::text not null,
  libraries text[] default '{}'::text[] not null,
  is_production_ready boolean default false not null,
  created_at timestamp with time zone default now() not null,
  constraint code_files_artifact_version_id_filename_key UNIQUE (artifact_version_id, filename),
  constraint code_files_artifact_version_id_user_id_fkey FOREIGN KEY (artifact_version_id, user_id) REFERENCES artifact_versions(id, user_id) ON DELETE CASCADE,
  constraint code_files_board_check CHECK ((char_length(board) <= 100)),
  constraint code_files_content_check CHECK ((octet_length(content) <= 1048576)),
  constraint code_files_filename_check CHECK (((char_length(filename) >= 1) AND (char_length(filename) <= 500))),
  constraint code_files_framework_check CHECK ((char_length(framework) <= 50)),
  constraint code_files_language_check CHECK ((char_length(language) <= 50)),
  constraint code_files_pkey PRIMARY KEY (id),
  constraint code_files_platform_check CHECK ((char_length(platform) <= 50)),
  constraint code_files_position_check CHECK (("position" >= 0)),
  constraint code_files_project_id_user_id_fkey FOREIGN KEY (project_id, user_id) REFERENCES projects(id, user_id) ON DELETE SET NULL (project_id),
  constraint code_files_success_unit_check CHECK (((success_unit >= 1) AND (success_unit <= 3)))
)  -- row level security, forced
table public.connections (  -- Pin-to-pin wiring normalised from a wiring artifact version.
  id uuid default gen_random_uuid() not null,
  user_id uuid default auth.uid() not null,
  project_id uuid,
  artifact_version_id uuid not null,
  position integer default 0 not null,
  from_part text not null,
  from_pin text not null,
  to_part text not null,
  to_pin text not null,
  from_part_id uuid,
  to_part_id uuid,
  wire_color text,
  voltage_level numeric(8,3),
  signal_type text,
  step_number integer,
  instruction text,
  warnings text[] default '{}'::text[] not null,
  created_at timestamp with time zone default now() not null,
  constraint connections_artifact_version_id_user_id_fkey FOREIGN KEY (artifact_version_id, user_id) REFERENCES artifact_versions(id, user_id) ON DELETE CASCADE,
  constraint connections_from_part_check CHECK (((char_length(from_part) >= 1) AND (char_length(from_part) <= 100))),
  constraint connections_from_part_id_user_id_fkey FOREIGN KEY (from_part_id, user_id) REFERENCES parts(id, user_id) ON DELETE SET NULL (from_part_id),
  constraint connections_from_pin_check CHECK (((char_length(from_pin) >= 1) AND (char_length(from_pin) <= 100))),
  constraint connections_instruction_check CHECK ((char_length(instruction) <= 5000)),
  constraint connections_pkey PRIMARY KEY (id),
  constraint connections_position_check CHECK (("position" >= 0)),
  constraint connections_project_id_user_id_fkey FOREIGN KEY (project_id, user_id) REFERENCES projects(id, user_id) ON DELETE SET NULL (project_id),
  constraint connections_signal_type_check CHECK ((char_length(signal_type) <= 50)),
  constraint connections_step_number_check CHECK ((step_number >= 1)),
  constraint connections_to_part_check CHECK (((char_length(to_part) >= 1) AND (char_length(to_part) <= 100))),
  constraint connections_to_part_id_user_id_fkey FOREIGN KEY (to_part_id, user_id) REFERENCES parts(id, user_id) ON DELETE SET NULL (to_part_id),
  constraint connections_to_pin_check CHECK (((char_length(to_pin) >= 1) AND (char_length(to_pin) <= 100))),
  constraint connections_wire_color_check CHECK ((char_length(wire_color) <= 32))
)  -- row level security, forced
table public.datasheet_analyses (  -- A document agent's reading of a datasheet: key specs, pinout, application notes, warnings.
  id uuid default gen_random_uuid() not null,
  user_id uuid default auth.uid() not null,
  project_id uuid,
  attachment_id uuid,
  part_number text not null,
  manufacturer text,
  key_specs jsonb default '{}'::jsonb not null,
  pinout jsonb default '[]'::jsonb not null,
  application_notes text,
  warnings jsonb default '[]'::jsonb not null,
  model text,
  created_at timestamp with time zone default now() not null,
  constraint datasheet_analyses_application_notes_check CHECK ((char_length(application_notes) <= 100000)),
  constraint datasheet_analyses_attachment_id_user_id_fkey FOREIGN KEY (attachment_id, user_id) REFERENCES attachments(id, user_id) ON DELETE SET NULL (attachment_id),
  constraint datasheet_analyses_id_user_id_key UNIQUE (id, user_id),
  constraint datasheet_analyses_key_specs_check CHECK (((jsonb_typeof(key_specs) = 'object'::text) AND (octet_length((key_specs)::text) <= 262144))),
  constraint datasheet_analyses_key_specs_depth CHECK ((NOT jsonb_path_exists(key_specs, '$.**{65}'::jsonpath))),
  constraint datasheet_analyses_manufacturer_check CHECK ((char_length(manufacturer) <= 200)),
  constraint datasheet_analyses_model_check CHECK ((char_length(model) <= 200)),
  constraint datasheet_analyses_part_number_check CHECK (((char_length(part_number) >= 1) AND (char_length(part_number) <= 100))),
  constraint datasheet_analyses_pinout_check CHECK (((jsonb_typeof(pinout) = 'array'::text) AND (octet_length((pinout)::text) <= 262144))),
  constraint datasheet_analyses_pinout_depth CHECK ((NOT jsonb_path_exists(pinout, '$.**{65}'::jsonpath))),
  constraint datasheet_analyses_pkey PRIMARY KEY (id),
  constraint datasheet_analyses_project_id_user_id_fkey FOREIGN KEY (project_id, user_id) REFERENCES projects(id, user_id) ON DELETE SET NULL (project_id),
  constraint datasheet_analyses_user_id_fkey FOREIGN KEY (user_id) REFERENCES profiles(id) ON DELETE CASCADE,
  constraint datasheet_analyses_warnings_check CHECK (((jsonb_typeof(warnings) = 'array'::text) AND (octet_length((warnings)::text) <= 65536))),
  constraint datasheet_analyses_warnings_depth CHECK ((NOT jsonb_path_exists(warnings, '$.**{65}'::jsonpath)))
)  -- row level security, forced
table public.imported_chats (  -- What an import did with each conversation; a created row with its chat is what makes a re-import skip it.
  id bigint generated always as identity not null,
  import_id uuid not null,
  user_id uuid not null,
  source text not null,
  source_id text not null,
  position integer not null,
  title text,
  status text not null,
  chat_id uuid,
  messages integer default 0 not null,
  detail text,
  created_at timestamp with time zone default now() not null,
  constraint imported_chats_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES chats(id) ON DELETE SET NULL,
  constraint imported_chats_detail_check CHECK ((char_length(detail) <= 1000)),
  constraint imported_chats_import_id_fkey FOREIGN KEY (import_id) REFERENCES imports(id) ON DELETE CASCADE,
  constraint imported_chats_messages_check CHECK ((messages >= 0)),
  constraint imported_chats_pkey PRIMARY KEY (id),
  constraint imported_chats_position_check CHECK (("position" >= 0)),
  constraint imported_chats_source_check CHECK ((source = ANY (ARRAY['chatgpt'::text, 'claude'::text]))),
  constraint imported_chats_source_id_check CHECK (((char_length(source_id) >= 1) AND (char_length(source_id) <= 200))),
  constraint imported_chats_status_check CHECK ((status = ANY (ARRAY['created'::text, 'skipped'::text, 'failed'::text]))),
  constraint imported_chats_title_check CHECK ((char_length(title) <= 300)),
  constraint imported_chats_user_id_fkey FOREIGN KEY (user_id) REFERENCES profiles(id) ON DELETE CASCADE
)  -- row level security, forced
table public.imports (  -- Import jobs (ChatGPT, Claude exports): progress and totals; the per-conversation report is imported_chats.
  id uuid default gen_random_uuid() not null,
  user_id uuid not null,
  source text not null,
  filename text,
  status text default 'queued'::text not null,
  bytes_total bigint default 0 not null,
  bytes_read bigint default 0 not null,
  conversations integer default 0 not null,
  chats_created integer default 0 not null,
  chats_skipped integer default 0 not null,
  chats_failed integer default 0 not null,
  messages bigint default 0 not null,
  error text,
  created_at timestamp with time zone default now() not null,
  finished_at timestamp with time zone,
  constraint imports_bytes_read_check CHECK ((bytes_read >= 0)),
  constraint imports_bytes_total_check CHECK ((bytes_total >= 0)),
  constraint imports_chats_created_check CHECK ((chats_created >= 0)),
  constraint imports_chats_failed_check CHECK ((chats_failed >= 0)),
  constraint imports_chats_skipped_check CHECK ((chats_skipped >= 0)),
  constraint imports_conversations_check CHECK ((conversations >= 0)),
  constraint imports_error_check CHECK ((char_length(error) <= 2000)),
  constraint imports_filename_check CHECK ((char_length(filename) <= 255)),
  constraint imports_messages_check CHECK ((messages >= 0)),
  constraint imports_pkey PRIMARY KEY (id),
  constraint imports_source_check CHECK ((source = ANY (ARRAY['chatgpt'::text, 'claude'::text]))),
  constraint imports_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'running'::text, 'done'::text, 'failed'::text]))),
  constraint imports_user_id_fkey FOREIGN KEY (user_id) REFERENCES profiles(id) ON DELETE CASCADE
)  -- row level security, forced
table public.messages (  -- Every message, ordered by sequence_number per chat; parent_id links branches (edits, regenerations).
  id uuid default gen_random_uuid() not null,
  chat_id uuid not null,
  user_id uuid default auth.uid() not null,
  parent_id uuid default '00000000-0000-0000-0000-000000000000'::uuid,  -- The message this one answers or replaces (same chat). Omitted: the chat's current leaf; null: a new root.
  sequence_number integer default 0 not null,  -- Position in the chat over all branches (1, 2, ...), assigned by the insert trigger; 0 is only a placeholder.
  role message_role not null,
  content text default ''::text not null,
  content_json jsonb,
  agent_name text,
  agent_model text,
  agent_icon text,
  intent agent_intent,
  input_tokens integer default 0 not null,
  output_tokens integer default 0 not null,
  cost_usd numeric(14,6),
  latency_ms integer,
  metadata jsonb default '{}'::jsonb not null,
  created_at timestamp with time zone default now() not null,
  is_copy boolean default false not null,  -- A fork's copy of another message: its usage is shown, but counted in no chat, profile or usage total.
  content_search tsvector,
  constraint messages_agent_icon_check CHECK ((char_length(agent_icon) <= 32)),
  constraint messages_agent_model_check CHECK ((char_length(agent_model) <= 200)),
  constraint messages_agent_name_check CHECK ((char_length(agent_name) <= 100)),
  constraint messages_chat_id_id_key UNIQUE (chat_id, id),
  constraint messages_chat_id_parent_id_fkey FOREIGN KEY (chat_id, parent_id) REFERENCES messages(chat_id, id) ON DELETE CASCADE,
  constraint messages_chat_id_user_id_fkey FOREIGN KEY (chat_id, user_id) REFERENCES chats(id, user_id) ON DELETE CASCADE,
  constraint messages_check CHECK ((parent_id IS DISTINCT FROM id)),
  constraint messages_content_check CHECK ((octet_length(content) <= 1048576)),
  constraint messages_content_json_check CHECK ((octet_length((content_json)::text) <= 262144)),
  constraint messages_content_json_depth CHECK ((NOT jsonb_path_exists(content_json, '$.**{65}'::jsonpath))),
  constraint messages_cost_usd_bound CHECK ((cost_usd <= (1000)::numeric)),
  constraint messages_cost_usd_check CHECK ((cost_usd >= (0)::numeric)),
  constraint messages_input_tokens_check CHECK ((input_tokens >= 0)),
  constraint messages_latency_ms_check CHECK ((latency_ms >= 0)),
  constraint messages_metadata_check CHECK (((jsonb_typeof(metadata) = 'object'::text) AND (octet_length((metadata)::text) <= 262144))),
  constraint messages_metadata_depth CHECK ((NOT jsonb_path_exists(metadata, '$.**{65}'::jsonpath))),
  constraint messages_output_tokens_check CHECK ((output_tokens >= 0)),
  constraint messages_pkey PRIMARY KEY (id),
  constraint messages_sequence_number_check CHECK ((sequence_number >= 1))
)  -- row level security, forced
table public.model_prices (  -- List prices per million tokens, valid from a moment on; the latest valid_from <= t applies at t.
  model_id text not null,
  provider text not null,
  input_per_mtok numeric(12,6) not null,
  output_per_mtok numeric(12,6) not null,
  cached_input_per_mtok numeric(12,6),
  currency character(3) default 'USD'::bpchar not null,
  valid_from timestamp with time zone not null,
  created_at timestamp with time zone default now() not null,
  constraint model_prices_cached_input_per_mtok_check CHECK ((cached_input_per_mtok >= (0)::numeric)),
  constraint model_prices_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
  constraint model_prices_input_per_mtok_check CHECK ((input_per_mtok >= (0)::numeric)),
  constraint model_prices_model_id_check CHECK (((model_id ~ '^[A-Za-z0-9][A-Za-z0-9._:@-]*$'::text) AND (char_length(model_id) <= 200))),
  constraint model_prices_output_per_mtok_check CHECK ((output_per_mtok >= (0)::numeric)),
  constraint model_prices_pkey PRIMARY KEY (model_id, valid_from),
  constraint model_prices_provider_check CHECK (((char_length(provider) >= 1) AND (char_length(provider) <= 100)))
)  -- row level security, forced
table public.part_library (  -- Pin tables of symbols imported from KiCad libraries (ohm parts import-kicad), matched to BOM lines by MPN.
  id uuid default gen_random_uuid() not null,
  source text default 'kicad'::text not null,
  library text not null,
  name text not null,
  match_key text generated always as (upper(regexp_replace(name, '[^A-Za-z0-9]'::text, ''::text, 'g'::text))) stored,
  reference text,
  description text,
  keywords text,
  datasheet text,
  pins jsonb not null,
  imported_at timestamp with time zone default now() not null,
  constraint part_library_datasheet_check CHECK ((char_length(datasheet) <= 2048)),
  constraint part_library_description_check CHECK ((char_length(description) <= 2000)),
  constraint part_library_keywords_check CHECK ((char_length(keywords) <= 2000)),
  constraint part_library_library_check CHECK (((char_length(library) >= 1) AND (char_length(library) <= 200))),
  constraint part_library_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200))),
  constraint part_library_pins_check CHECK (((jsonb_typeof(pins) = 'array'::text) AND (octet_length((pins)::text) <= 262144))),
  constraint part_library_pkey PRIMARY KEY (id),
  constraint part_library_reference_check CHECK ((char_length(reference) <= 20)),
  constraint part_library_source_check CHECK ((source = 'kicad'::text)),
  constraint part_library_source_library_name_key UNIQUE (source, library, name)
)  -- row level security, forced
table public.parts (  -- BOM lines normalised from a bom artifact version.
  id uuid default gen_random_uuid() not null,
  user_id uuid default auth.uid() not null,
  project_id uuid,
  artifact_version_id uuid not null,
  position integer default 0 not null,
  name text not null,
  mpn text,
  manufacturer text,
  quantity integer default 1 not null,
  designators text[] default '{}'::text[] not null,
  specs jsonb default '{}'::jsonb not null,
  unit_price numeric(12,4),
  currency character(3) default 'USD'::bpchar not null,
  supplier text,
  supplier_part_number text,
  footprint text,
  datasheet_url text,
  datasheet_analysis_id uuid,
  alternatives jsonb default '[]'::jsonb not null,
  compatibility_warnings text[] default '{}'::text[] not null,
  lifecycle part_lifecycle default 'unknown'::part_lifecycle not null,
  notes text,
  created_at timestamp with time zone default now() not null,
  voltage_min numeric(8,3),  -- Lowest supply voltage, from specs.supply_voltage (or specs.voltage).
  voltage_max numeric(8,3),  -- Highest supply voltage, from specs.supply_voltage (or specs.voltage).
  content_search tsvector generated always as (ohm.search_vector(((((((((((name || ' '::text) || COALESCE(mpn, ''::text)) || ' '::text) || COALESCE(manufacturer, ''::text)) || ' '::text) || COALESCE(supplier, ''::text)) || ' '::text) || COALESCE(supplier_part_number, ''::text)) || ' '::text) || COALESCE(notes, ''::text)))) stored,
  constraint parts_alternatives_check CHECK (((jsonb_typeof(alternatives) = 'array'::text) AND (octet_length((alternatives)::text) <= 65536))),
  constraint parts_alternatives_depth CHECK ((NOT jsonb_path_exists(alternatives, '$.**{65}'::jsonpath))),
  constraint parts_artifact_version_id_user_id_fkey FOREIGN KEY (artifact_version_id, user_id) REFERENCES artifact_versions(id, user_id) ON DELETE CASCADE,
  constraint parts_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
  constraint parts_datasheet_analysis_fk FOREIGN KEY (datasheet_analysis_id, user_id) REFERENCES datasheet_analyses(id, user_id) ON DELETE SET NULL (datasheet_analysis_id),
  constraint parts_datasheet_url_check CHECK ((char_length(datasheet_url) <= 2048)),
  constraint parts_footprint_check CHECK ((char_length(footprint) <= 200)),
  constraint parts_id_user_id_key UNIQUE (id, user_id),
  constraint parts_manufacturer_check CHECK ((char_length(manufacturer) <= 200)),
  constraint parts_mpn_check CHECK ((char_length(mpn) <= 100)),
  constraint parts_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 300))),
  constraint parts_notes_check CHECK ((char_length(notes) <= 5000)),
  constraint parts_pkey PRIMARY KEY (id),
  constraint parts_position_check CHECK (("position" >= 0)),
  constraint parts_project_id_user_id_fkey FOREIGN KEY (project_id, user_id) REFERENCES projects(id, user_id) ON DELETE SET NULL (project_id),
  constraint parts_quantity_check CHECK ((quantity > 0)),
  constraint parts_specs_check CHECK (((jsonb_typeof(specs) = 'object'::text) AND (octet_length((specs)::text) <= 65536))),
  constraint parts_specs_depth CHECK ((NOT jsonb_path_exists(specs, '$.**{65}'::jsonpath))),
  constraint parts_supplier_check CHECK ((char_length(supplier) <= 200)),
  constraint parts_supplier_part_number_check CHECK ((char_length(supplier_part_number) <= 100)),
  constraint parts_unit_price_check CHECK ((unit_price >= (0)::numeric))
)  -- row level security, forced
table public.profiles (  -- One row per auth user (same id), created by a trigger on auth.users; usage stats kept by triggers.
  id uuid not null,
  email text,
  display_name text,
  avatar_url text,
  preferences jsonb default '{}'::jsonb not null,
  subscription_tier subscription_tier default 'free'::subscription_tier not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint profiles_avatar_url_check CHECK ((char_length(avatar_url) <= 2048)),
  constraint profiles_display_name_check CHECK ((char_length(display_name) <= 200)),
  constraint profiles_id_fkey FOREIGN KEY (id) REFERENCES auth.users(id) ON DELETE CASCADE,
  constraint profiles_pkey PRIMARY KEY (id),
  constraint profiles_preferences_check CHECK (((jsonb_typeof(preferences) = 'object'::text) AND (octet_length((preferences)::text) <= 65536))),
  constraint profiles_preferences_depth CHECK ((NOT jsonb_path_exists(preferences, '$.**{65}'::jsonpath)))
)  -- row level security, forced
table public.projects (  -- A hardware project: goal, location, budget, requirements, workflow; many chats.
  id uuid default gen_random_uuid() not null,
  user_id uuid default auth.uid() not null,
  name text not null,
  description text,
  goal text,
  location text,
  budget_amount numeric(12,2),
  budget_currency character(3) default 'USD'::bpchar not null,
  requirements jsonb default '{}'::jsonb not null,
  workflow_steps jsonb default '[]'::jsonb not null,
  success_metrics jsonb default '[]'::jsonb not null,
  status project_status default 'active'::project_status not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  spend_limit_usd numeric(12,2),  -- Optional limit on the LLM spend of the project's chats (USD).
  constraint projects_budget_amount_check CHECK ((budget_amount >= (0)::numeric)),
  constraint projects_budget_currency_check CHECK ((budget_currency ~ '^[A-Z]{3}$'::text)),
  constraint projects_description_check CHECK ((char_length(description) <= 20000)),
  constraint projects_goal_check CHECK ((char_length(goal) <= 20000)),
  constraint projects_id_user_id_key UNIQUE (id, user_id),
  constraint projects_location_check CHECK ((char_length(location) <= 500)),
  constraint projects_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200))),
  constraint projects_pkey PRIMARY KEY (id),
  constraint projects_requirements_check CHECK (((jsonb_typeof(requirements) = ANY (ARRAY['object'::text, 'array'::text])) AND (octet_length((requirements)::text) <= 262144))),
  constraint projects_requirements_depth CHECK ((NOT jsonb_path_exists(requirements, '$.**{65}'::jsonpath))),
  constraint projects_spend_limit_usd_check CHECK ((spend_limit_usd >= (0)::numeric)),
  constraint projects_success_metrics_check CHECK (((jsonb_typeof(success_metrics) = ANY (ARRAY['object'::text, 'array'::text])) AND (octet_length((success_metrics)::text) <= 262144))),
  constraint projects_success_metrics_depth CHECK ((NOT jsonb_path_exists(success_metrics, '$.**{65}'::jsonpath))),
  constraint projects_user_id_fkey FOREIGN KEY (user_id) REFERENCES profiles(id) ON DELETE CASCADE,
  constraint projects_workflow_steps_check CHECK (((jsonb_typeof(workflow_steps) = 'array'::text) AND (octet_length((workflow_steps)::text) <= 262144))),
  constraint projects_workflow_steps_depth CHECK ((NOT jsonb_path_exists(workflow_steps, '$.**{65}'::jsonpath)))
)  -- row level security, forced
table public.realtime_events (  -- What happened to each chat, in order (event_seq per chat): the replay log behind realtime resumes.
  id bigint generated always as identity not null,
  chat_id uuid not null,
  user_id uuid not null,
  event_seq bigint not null,
  kind text not null,
  entity_id uuid not null,
  data jsonb default '{}'::jsonb not null,
  created_at timestamp with time zone default now() not null,
  constraint realtime_events_chat_id_event_seq_key UNIQUE (chat_id, event_seq),
  constraint realtime_events_data_check CHECK ((jsonb_typeof(data) = 'object'::text)),
  constraint realtime_events_event_seq_check CHECK ((event_seq >= 1)),
  constraint realtime_events_kind_check CHECK ((kind = ANY (ARRAY['message.created'::text, 'message.updated'::text, 'message.deleted'::text, 'artifact.created'::text, 'artifact.version_created'::text, 'chat.updated'::text, 'chat.deleted'::text, 'attachment.created'::text, 'attachment.updated'::text]))),
  constraint realtime_events_pkey PRIMARY KEY (id)
)  -- row level security, forced
table public.shared_chats (  -- Share links: token, snapshot point, expiry/revocation, view and fork counts.
  id uuid default gen_random_uuid() not null,
  chat_id uuid not null,
  user_id uuid default auth.uid() not null,
  share_token text not null,
  up_to_message_id uuid,
  snapshot_at timestamp with time zone default now() not null,
  is_active boolean default true not null,
  expires_at timestamp with time zone,
  view_count bigint default 0 not null,
  fork_count bigint default 0 not null,
  last_viewed_at timestamp with time zone,
  revoked_at timestamp with time zone,
  created_at timestamp with time zone default now() not null,
  artifact_versions jsonb default '{}'::jsonb not null,  -- Snapshot: artifact id -> version number current when the share was made.
  constraint shared_chats_artifact_versions_check CHECK ((jsonb_typeof(artifact_versions) = 'object'::text)),
  constraint shared_chats_chat_id_up_to_message_id_fkey FOREIGN KEY (chat_id, up_to_message_id) REFERENCES messages(chat_id, id) ON DELETE SET NULL (up_to_message_id),
  constraint shared_chats_chat_id_user_id_fkey FOREIGN KEY (chat_id, user_id) REFERENCES chats(id, user_id) ON DELETE CASCADE,
  constraint shared_chats_check CHECK (((expires_at IS NULL) OR (expires_at > created_at))),
  constraint shared_chats_check1 CHECK ((is_active OR (revoked_at IS NOT NULL))),
  constraint shared_chats_fork_count_check CHECK ((fork_count >= 0)),
  constraint shared_chats_pkey PRIMARY KEY (id),
  constraint shared_chats_share_token_check CHECK ((share_token ~ '^[A-Za-z0-9_-]{22,128}$'::text)),
  constraint shared_chats_share_token_key UNIQUE (share_token),
  constraint shared_chats_view_count_check CHECK ((view_count >= 0))
)  -- row level security, forced

-- === indexes (other than those of primary keys and unique constraints) ===================================
CREATE UNIQUE INDEX users_email_key ON auth.users USING btree (lower((email)::text));
CREATE INDEX idx_login_codes_user ON ohm.login_codes USING btree (user_id);
CREATE INDEX idx_share_views_day ON ohm.share_views USING btree (day);
CREATE INDEX idx_activity_log_created ON public.activity_log USING btree (created_at);
CREATE INDEX idx_activity_log_user ON public.activity_log USING btree (user_id, created_at DESC, id DESC);
CREATE INDEX idx_api_keys_chat ON public.api_keys USING btree (chat_id) WHERE (chat_id IS NOT NULL);
CREATE INDEX idx_api_keys_project ON public.api_keys USING btree (project_id) WHERE (project_id IS NOT NULL);
CREATE INDEX idx_api_keys_user ON public.api_keys USING btree (user_id, created_at DESC);
CREATE INDEX idx_artifact_versions_parent ON public.artifact_versions USING btree (artifact_id, parent_version_id) WHERE (parent_version_id IS NOT NULL);
CREATE INDEX idx_artifact_versions_search ON public.artifact_versions USING gin (user_id, content_search);
CREATE INDEX idx_artifact_versions_user ON public.artifact_versions USING btree (user_id);
CREATE INDEX idx_artifacts_chat ON public.artifacts USING btree (chat_id, created_at);
CREATE INDEX idx_artifacts_message ON public.artifacts USING btree (chat_id, message_id) WHERE (message_id IS NOT NULL);
CREATE INDEX idx_artifacts_project ON public.artifacts USING btree (project_id) WHERE (project_id IS NOT NULL);
CREATE INDEX idx_artifacts_project_type ON public.artifacts USING btree (project_id, type, updated_at DESC) WHERE (project_id IS NOT NULL);
CREATE INDEX idx_artifacts_user ON public.artifacts USING btree (user_id, updated_at DESC);
CREATE INDEX idx_attachments_chat ON public.attachments USING btree (chat_id) WHERE (chat_id IS NOT NULL);
CREATE INDEX idx_attachments_message ON public.attachments USING btree (chat_id, message_id) WHERE (message_id IS NOT NULL);
CREATE INDEX idx_attachments_project ON public.attachments USING btree (project_id) WHERE (project_id IS NOT NULL);
CREATE INDEX idx_attachments_sha256 ON public.attachments USING btree (sha256);
CREATE INDEX idx_attachments_user ON public.attachments USING btree (user_id, created_at DESC);
CREATE INDEX idx_chat_forks_forked_by ON public.chat_forks USING btree (forked_by, created_at DESC);
CREATE INDEX idx_chat_forks_original ON public.chat_forks USING btree (original_chat_id) WHERE (original_chat_id IS NOT NULL);
CREATE INDEX idx_chat_forks_share ON public.chat_forks USING btree (share_id) WHERE (share_id IS NOT NULL);
CREATE INDEX idx_chats_forked_from ON public.chats USING btree (forked_from) WHERE (forked_from IS NOT NULL);
CREATE INDEX idx_chats_project_recent ON public.chats USING btree (project_id, last_message_at DESC, id DESC) WHERE (project_id IS NOT NULL);
CREATE INDEX idx_chats_public ON public.chats USING btree (id) WHERE is_public;
CREATE INDEX idx_chats_user_recent ON public.chats USING btree (user_id, last_message_at DESC, id DESC);
CREATE INDEX idx_check_runs_bom ON public.check_runs USING btree (bom_version_id) WHERE (bom_version_id IS NOT NULL);
CREATE INDEX idx_check_runs_code ON public.check_runs USING btree (code_version_id) WHERE (code_version_id IS NOT NULL);
CREATE INDEX idx_check_runs_project ON public.check_runs USING btree (project_id, created_at DESC);
CREATE INDEX idx_check_runs_user ON public.check_runs USING btree (user_id);
CREATE INDEX idx_check_runs_wiring ON public.check_runs USING btree (wiring_version_id) WHERE (wiring_version_id IS NOT NULL);
CREATE INDEX idx_circuit_verifications_attachment ON public.circuit_verifications USING btree (attachment_id) WHERE (attachment_id IS NOT NULL);
CREATE INDEX idx_circuit_verifications_chat ON public.circuit_verifications USING btree (chat_id) WHERE (chat_id IS NOT NULL);
CREATE INDEX idx_circuit_verifications_latest ON public.circuit_verifications USING btree (project_id, created_at DESC, id DESC);
CREATE INDEX idx_circuit_verifications_message ON public.circuit_verifications USING btree (chat_id, message_id) WHERE (message_id IS NOT NULL);
CREATE INDEX idx_circuit_verifications_user ON public.circuit_verifications USING btree (user_id);
CREATE INDEX idx_code_files_project ON public.code_files USING btree (project_id) WHERE (project_id IS NOT NULL);
CREATE INDEX idx_code_files_user ON public.code_files USING btree (user_id);
CREATE INDEX idx_connections_from_part ON public.connections USING btree (from_part_id) WHERE (from_part_id IS NOT NULL);
CREATE INDEX idx_connections_project ON public.connections USING btree (project_id) WHERE (project_id IS NOT NULL);
CREATE INDEX idx_connections_to_part ON public.connections USING btree (to_part_id) WHERE (to_part_id IS NOT NULL);
CREATE INDEX idx_connections_user ON public.connections USING btree (user_id);
CREATE INDEX idx_connections_version ON public.connections USING btree (artifact_version_id, step_number, "position");
CREATE INDEX idx_datasheet_analyses_attachment ON public.datasheet_analyses USING btree (attachment_id) WHERE (attachment_id IS NOT NULL);
CREATE INDEX idx_datasheet_analyses_project ON public.datasheet_analyses USING btree (project_id) WHERE (project_id IS NOT NULL);
CREATE INDEX idx_datasheet_analyses_user ON public.datasheet_analyses USING btree (user_id, upper(part_number));
CREATE INDEX idx_imported_chats_chat ON public.imported_chats USING btree (chat_id) WHERE (chat_id IS NOT NULL);
CREATE INDEX idx_imported_chats_import ON public.imported_chats USING btree (import_id, "position");
CREATE INDEX idx_imports_user ON public.imports USING btree (user_id, created_at DESC);
CREATE INDEX idx_messages_chat_parent ON public.messages USING btree (chat_id, parent_id);
CREATE UNIQUE INDEX idx_messages_chat_seq ON public.messages USING btree (chat_id, sequence_number);
CREATE INDEX idx_messages_search ON public.messages USING gin (user_id, content_search);
CREATE INDEX idx_messages_user_created ON public.messages USING btree (user_id, created_at DESC);
CREATE INDEX idx_part_library_match ON public.part_library USING btree (match_key);
CREATE INDEX idx_parts_datasheet_analysis ON public.parts USING btree (datasheet_analysis_id) WHERE (datasheet_analysis_id IS NOT NULL);
CREATE INDEX idx_parts_project ON public.parts USING btree (project_id) WHERE (project_id IS NOT NULL);
CREATE INDEX idx_parts_search ON public.parts USING gin (user_id, content_search);
CREATE INDEX idx_parts_user_mpn ON public.parts USING btree (user_id, upper(mpn));
CREATE INDEX idx_parts_user_name ON public.parts USING btree (user_id, upper(name));
CREATE INDEX idx_parts_user_voltage ON public.parts USING btree (user_id, voltage_min, voltage_max) WHERE (voltage_min IS NOT NULL);
CREATE INDEX idx_parts_version ON public.parts USING btree (artifact_version_id, "position");
CREATE INDEX idx_profiles_email ON public.profiles USING btree (lower(email));
CREATE INDEX idx_projects_user_recent ON public.projects USING btree (user_id, updated_at DESC, id DESC);
CREATE INDEX idx_realtime_events_created ON public.realtime_events USING btree (created_at);
CREATE INDEX idx_realtime_events_user ON public.realtime_events USING btree (user_id, created_at);
CREATE INDEX idx_shared_chats_chat ON public.shared_chats USING btree (chat_id, created_at DESC);
CREATE INDEX idx_shared_chats_up_to ON public.shared_chats USING btree (chat_id, up_to_message_id) WHERE (up_to_message_id IS NOT NULL);
CREATE INDEX idx_shared_chats_user ON public.shared_chats USING btree (user_id);
CREATE UNIQUE INDEX imported_chats_once ON public.imported_chats USING btree (user_id, source, source_id) WHERE ((status = 'created'::text) AND (chat_id IS NOT NULL));

-- === views ===============================================================================================
view public.profile_totals as
 SELECT p.id AS user_id,
    COALESCE(t.message_count, 0::numeric)::bigint AS message_count,
    COALESCE(t.total_input_tokens, 0::numeric)::bigint AS total_input_tokens,
    COALESCE(t.total_output_tokens, 0::numeric)::bigint AS total_output_tokens,
    COALESCE(t.total_cost_usd, 0::numeric)::numeric(16,6) AS total_cost_usd
   FROM profiles p
     CROSS JOIN LATERAL ( SELECT sum(u.message_count) AS message_count,
            sum(u.total_input_tokens) AS total_input_tokens,
            sum(u.total_output_tokens) AS total_output_tokens,
            sum(u.total_cost_usd) AS total_cost_usd
           FROM ohm.usage_counters u
          WHERE u.user_id = p.id) t;

-- === functions ===========================================================================================
CREATE OR REPLACE FUNCTION auth.email()
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
      select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
      )::text
    $function$;
CREATE OR REPLACE FUNCTION auth.jwt()
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $function$;
CREATE OR REPLACE FUNCTION auth.role()
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
      select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $function$;
CREATE OR REPLACE FUNCTION auth.uid()
 RETURNS uuid
 LANGUAGE sql
 STABLE
AS $function$
      select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $function$;
CREATE OR REPLACE FUNCTION ohm.activity_log_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if tg_op = 'DELETE' and (pg_trigger_depth() > 1
                           or current_setting('ohm.activity_prune', true) = 'on') then
    return old;
  end if;
  raise exception 'activity_log is append-only: % refused', lower(tg_op)
    using errcode = 'restrict_violation';
end
$function$;
CREATE OR REPLACE FUNCTION ohm.activity_log_key()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  k jsonb := ohm.request_key();
begin
  new.actor_key_id := (k ->> 'id')::uuid;
  new.actor_key_name := k ->> 'name';
  return new;
end
$function$;
CREATE OR REPLACE FUNCTION ohm.activity_trigger()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  r record;
  art record;
  restored text;
begin
  -- A fork copies many messages and versions: it is logged once, as chat.forked.
  if current_setting('ohm.activity_quiet', true) = 'on' then
    return null;
  end if;
  case tg_table_name
  when 'chats' then
    if tg_op = 'INSERT' then
      perform ohm.log_activity(new.user_id, 'chat.created', 'chat', new.id, new.id, new.project_id,
                               jsonb_strip_nulls(jsonb_build_object('title', new.title)));
    elsif tg_op = 'DELETE' then
      perform ohm.log_activity(old.user_id, 'chat.deleted', 'chat', old.id, old.id, old.project_id,
                               jsonb_strip_nulls(jsonb_build_object('title', old.title,
                                                                    'messages', old.message_count)));
    elsif new.title is distinct from old.title and old.title is not null then
      perform ohm.log_activity(new.user_id, 'chat.renamed', 'chat', new.id, new.id, new.project_id,
                               jsonb_build_object('from', old.title, 'to', new.title));
    elsif new.project_id is distinct from old.project_id then
      perform ohm.log_activity(new.user_id, 'chat.moved', 'chat', new.id, new.id, new.project_id,
                               jsonb_build_object('from_project', old.project_id));
    elsif new.is_public is distinct from old.is_public then
      perform ohm.log_activity(new.user_id, case when new.is_public then 'chat.published' else 'chat.unpublished'
                                            end, 'chat', new.id, new.id, new.project_id);
    end if;
  when 'messages' then
    perform ohm.log_activity(new.user_id, 'message.created', 'message', new.id, new.chat_id, null,
                             jsonb_strip_nulls(jsonb_build_object(
                               'role', new.role, 'agent', new.agent_name, 'model', new.agent_model,
                               'intent', new.intent, 'input_tokens', nullif(new.input_tokens, 0),
                               'output_tokens', nullif(new.output_tokens, 0), 'cost_usd', new.cost_usd)));
  when 'artifact_versions' then
    select a.chat_id, a.project_id, a.type::text as type, a.title into art
      from public.artifacts a where a.id = new.artifact_id;
    restored := nullif(current_setting('ohm.restored_from', true), '');
    perform ohm.log_activity(new.user_id, case when restored is not null then 'artifact.restored'
                                               when new.version_number = 1 then 'artifact.created'
                                               else 'artifact.version_created' end,
                             'artifact', new.artifact_id, art.chat_id, art.project_id,
                             jsonb_strip_nulls(jsonb_build_object(
                               'type', art.type, 'title', art.title, 'version', new.version_number,
                               'restored_from', restored::integer, 'agent', new.created_by_agent,
                               'summary', left(new.change_summary, 200))));
  when 'shared_chats' then
    select c.project_id into r from public.chats c where c.id = new.chat_id;
    if tg_op = 'INSERT' then
      perform ohm.log_activity(new.user_id, 'share.created', 'share', new.id, new.chat_id, r.project_id,
                               jsonb_strip_nulls(jsonb_build_object('expires_at', new.expires_at)));
    elsif new.is_active is distinct from old.is_active and not new.is_active then
      perform ohm.log_activity(new.user_id, 'share.revoked', 'share', new.id, new.chat_id, r.project_id);
    elsif new.view_count > old.view_count then
      perform ohm.log_activity(new.user_id, 'share.viewed', 'share', new.id, new.chat_id, r.project_id,
                               jsonb_build_object('views', new.view_count));
    end if;
  when 'chat_forks' then
    select c.project_id into r from public.chats c where c.id = new.fork_chat_id;
    perform ohm.log_activity(new.forked_by, 'chat.forked', 'chat', new.fork_chat_id, new.fork_chat_id, r.project_id,
                             jsonb_strip_nulls(jsonb_build_object('original_chat_id', new.original_chat_id,
                                                                  'share_id', new.share_id,
                                                                  'fork_point_message_id', new.fork_point_message_id)));
  when 'attachments' then
    if tg_op = 'INSERT' then
      perform ohm.log_activity(new.user_id, 'attachment.uploaded', 'attachment', new.id, new.chat_id,
                               new.project_id, jsonb_build_object('filename', new.filename, 'category', new.category,
                                                                  'size_bytes', new.size_bytes));
    elsif tg_op = 'DELETE' then
      perform ohm.log_activity(old.user_id, 'attachment.deleted', 'attachment', old.id, old.chat_id,
                               old.project_id, jsonb_build_object('filename', old.filename));
    end if;
  when 'circuit_verifications' then
    perform ohm.log_activity(new.user_id, 'verification.created', 'verification', new.id, new.chat_id,
                             new.project_id, jsonb_build_object('status', new.status,
                                                                'issues', jsonb_array_length(new.issues)));
  when 'datasheet_analyses' then
    perform ohm.log_activity(new.user_id, 'datasheet_analysis.created', 'datasheet_analysis', new.id, null,
                             new.project_id, jsonb_build_object('part_number', new.part_number));
  when 'projects' then
    if tg_op = 'INSERT' then
      perform ohm.log_activity(new.user_id, 'project.created', 'project', new.id, null, new.id,
                               jsonb_build_object('name', new.name));
    elsif tg_op = 'DELETE' then
      perform ohm.log_activity(old.user_id, 'project.deleted', 'project', old.id, null, old.id,
                               jsonb_build_object('name', old.name));
    else
      perform ohm.log_activity(new.user_id, 'project.updated', 'project', new.id, null, new.id,
                               jsonb_build_object('fields', (
                                 select coalesce(jsonb_agg(n.key order by n.key), '[]'::jsonb)
                                   from jsonb_each(to_jsonb(new)) n join jsonb_each(to_jsonb(old)) o using (key)
                                  where n.value is distinct from o.value and n.key <> 'updated_at')));
    end if;
  end case;
  return null;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.add_usage(p_user uuid, p_messages bigint, p_input bigint, p_output bigint, p_cost numeric)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  s smallint := (pg_catalog.pg_backend_pid() % 32)::smallint;
begin
  update ohm.usage_counters u
     set message_count       = u.message_count + p_messages,
         total_input_tokens  = u.total_input_tokens + p_input,
         total_output_tokens = u.total_output_tokens + p_output,
         total_cost_usd      = u.total_cost_usd + p_cost
   where u.user_id = p_user and u.slot = s;
  if not found then
    insert into ohm.usage_counters as u
      (user_id, slot, message_count, total_input_tokens, total_output_tokens, total_cost_usd)
    select p_user, s, p_messages, p_input, p_output, p_cost
     where exists (select 1 from public.profiles p where p.id = p_user)
    on conflict (user_id, slot) do update
       set message_count       = u.message_count + excluded.message_count,
           total_input_tokens  = u.total_input_tokens + excluded.total_input_tokens,
           total_output_tokens = u.total_output_tokens + excluded.total_output_tokens,
           total_cost_usd      = u.total_cost_usd + excluded.total_cost_usd;
  end if;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.api_key_lookup(p_prefix text)
 RETURNS TABLE(id uuid, user_id uuid, name text, secret_sha256 bytea, scopes text[], chat_id uuid, project_id uuid, expires_at timestamp with time zone, revoked_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select k.id, k.user_id, k.name, k.secret_sha256, k.scopes, k.chat_id, k.project_id, k.expires_at, k.revoked_at
    from public.api_keys k
   where k.prefix = p_prefix
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.api_keys_before_update()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if old.revoked_at is not null and new.revoked_at is distinct from old.revoked_at then
    raise exception 'a revoked key stays revoked' using errcode = 'check_violation';
  end if;
  return new;
end
$function$;
CREATE OR REPLACE FUNCTION ohm.append_message(p_role text, p_claims text, p_chat_id uuid, p_parent_given boolean, p_parent_id uuid, p_message_role message_role, p_content text, p_content_json jsonb, p_agent_name text, p_agent_model text, p_agent_icon text, p_intent agent_intent, p_input_tokens integer, p_output_tokens integer, p_cost_usd numeric, p_latency_ms integer, p_metadata jsonb)
 RETURNS TABLE(id uuid, parent_id uuid, sequence_number integer, cost_usd numeric, created_at timestamp with time zone)
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  owner uuid;
  claims jsonb := p_claims::jsonb;
begin
  if p_role not in ('authenticated', 'service_role') then
    raise exception 'role % may not append messages', p_role using errcode = 'insufficient_privilege';
  end if;
  if claims ? 'ohm_key' then
    perform ohm.use_api_key((claims -> 'ohm_key' ->> 'id')::uuid, nullif(claims ->> 'sub', '')::uuid);
  end if;
  perform set_config('role', p_role, true);
  perform set_config('request.jwt.claims', p_claims, true);
  if p_role = 'authenticated' then
    owner := nullif(claims ->> 'sub', '')::uuid;
  else
    select c.user_id into owner from public.chats c where c.id = p_chat_id;
    if not found then
      raise exception 'chat % does not exist', p_chat_id using errcode = 'foreign_key_violation';
    end if;
  end if;
  return query
    insert into public.messages as m
      (chat_id, user_id, parent_id, role, content, content_json, agent_name, agent_model, agent_icon, intent,
       input_tokens, output_tokens, cost_usd, latency_ms, metadata)
    values (p_chat_id, owner,
            case when p_parent_given then p_parent_id else '00000000-0000-0000-0000-000000000000'::uuid end,
            p_message_role, p_content, p_content_json, p_agent_name, p_agent_model, p_agent_icon, p_intent,
            p_input_tokens, p_output_tokens, p_cost_usd, p_latency_ms, p_metadata)
    returning m.id, m.parent_id, m.sequence_number, m.cost_usd, m.created_at;
end
$function$;
CREATE OR REPLACE FUNCTION ohm.artifact_versions_before_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  n integer;
  chat uuid;
  next record;
  caller uuid := ohm.request_user_id();
begin
  if caller is not null then
    if new.created_by_user_id is null then
      new.created_by_user_id := caller;
    elsif new.created_by_user_id <> caller then
      raise exception 'created_by_user_id must be the signed-in user' using errcode = 'insufficient_privilege';
    end if;
  end if;
  update public.artifacts a
     set total_versions  = a.total_versions + 1,
         current_version = a.total_versions + 1
   where a.id = new.artifact_id and a.user_id = new.user_id
  returning a.total_versions, a.chat_id into n, chat;
  if not found then
    raise exception 'artifact % does not exist', new.artifact_id
      using errcode = 'foreign_key_violation';
  end if;
  if new.created_by_message_id is not null
     and not exists (select 1 from public.messages m where m.chat_id = chat and m.id = new.created_by_message_id) then
    raise exception 'created_by_message_id is not a message of this artifact''s chat'
      using errcode = 'foreign_key_violation', constraint = 'artifact_versions_created_by_message';
  end if;
  new.version_number := n;
  select * into next from ohm.next_event_seq(chat);
  perform ohm.emit_event(chat, next.owner, next.seq,
                         case when n = 1 then 'artifact.created' else 'artifact.version_created' end,
                         new.artifact_id, jsonb_build_object('version', n, 'version_id', new.id));
  return new;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.attachments_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  next record;
begin
  if new.chat_id is null then
    return null;
  end if;
  if tg_op = 'UPDATE' and new.processing_status is not distinct from old.processing_status
     and new.processing_error is not distinct from old.processing_error
     and new.chat_id is not distinct from old.chat_id then
    return null;
  end if;
  select * into next from ohm.next_event_seq(new.chat_id);
  if next.seq is null then
    return null;
  end if;
  perform ohm.emit_event(new.chat_id, next.owner, next.seq,
                         case when tg_op = 'INSERT' then 'attachment.created' else 'attachment.updated' end,
                         new.id, jsonb_build_object('processing_status', new.processing_status));
  return null;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.chat_lineage(p_chat uuid)
 RETURNS TABLE(depth integer, chat_id uuid, title text, readable boolean, fork_point_message_id uuid, forked_at timestamp with time zone, via_share boolean)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  with recursive up as (
    select 1 as depth, f.original_chat_id as chat_id, f.fork_point_message_id, f.created_at as forked_at,
           f.via_share or f.share_id is not null as via_share, array[f.fork_chat_id] as seen
      from public.chat_forks f
     where f.fork_chat_id = p_chat
       and exists (select 1 from public.chats c
                    where c.id = p_chat and (c.user_id = ohm.request_user_id() or c.is_public))
    union all
    select up.depth + 1, f.original_chat_id, f.fork_point_message_id, f.created_at,
           f.via_share or f.share_id is not null, up.seen || f.fork_chat_id
      from up join public.chat_forks f on f.fork_chat_id = up.chat_id
     where up.chat_id is not null and not f.fork_chat_id = any(up.seen) and up.depth < 100
  )
  select up.depth, up.chat_id,
         case when c.user_id = ohm.request_user_id() or c.is_public then c.title end,
         coalesce(c.user_id = ohm.request_user_id() or c.is_public, false),
         up.fork_point_message_id, up.forked_at, up.via_share
    from up left join public.chats c on c.id = up.chat_id
   order by up.depth
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.chat_title_from(content text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select case
    when t = '' then null
    when char_length(t) <= 80 then t
    else coalesce(nullif(rtrim(substring(left(t, 81) from '^(.*\S)\s')), ''), left(t, 79)) || '…'
  end
  from (select btrim(regexp_replace(left(content, 400), '\s+', ' ', 'g')) as t) s
$function$;
CREATE OR REPLACE FUNCTION ohm.chats_after_delete_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform ohm.emit_event(old.id, old.user_id, old.last_event_seq + 1, 'chat.deleted', old.id);
  return null;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.chats_after_update_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform ohm.emit_event(new.id, new.user_id, new.last_event_seq, 'chat.updated', new.id);
  return null;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.chats_before_update_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if new.last_sequence = old.last_sequence
     and (new.title, new.phase, new.is_public, new.is_archived, new.is_pinned, new.project_id, new.current_leaf_id)
         is distinct from
         (old.title, old.phase, old.is_public, old.is_archived, old.is_pinned, old.project_id, old.current_leaf_id)
  then
    new.last_event_seq := old.last_event_seq + 1;
  end if;
  return new;
end
$function$;
CREATE OR REPLACE FUNCTION ohm.chats_check_current_leaf()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  if not exists (select 1 from public.messages m where m.chat_id = new.id and m.id = new.current_leaf_id) then
    raise exception 'current_leaf_id % is not a message of this chat', new.current_leaf_id
      using errcode = 'foreign_key_violation', constraint = 'chats_current_leaf_fk';
  end if;
  return new;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.create_api_key(p_name text, p_prefix text, p_secret_sha256 bytea, p_scopes text[], p_chat_id uuid, p_project_id uuid, p_expires_at timestamp with time zone)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  me uuid := ohm.request_user_id();
  made uuid;
begin
  if me is null or ohm.request_key() is not null then
    raise exception 'only a user, with their own token, makes API keys' using errcode = 'insufficient_privilege';
  end if;
  if p_chat_id is not null and not exists (select 1 from public.chats c where c.id = p_chat_id and c.user_id = me)
     or p_project_id is not null
        and not exists (select 1 from public.projects p where p.id = p_project_id and p.user_id = me) then
    raise exception 'the chat or project is not yours' using errcode = 'insufficient_privilege';
  end if;
  insert into public.api_keys (user_id, name, prefix, secret_sha256, scopes, chat_id, project_id, expires_at)
  values (me, p_name, p_prefix, p_secret_sha256, p_scopes, p_chat_id, p_project_id, p_expires_at)
  returning id into made;
  return made;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.current_bom_version(p_project uuid, p_chat uuid)
 RETURNS uuid
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select v.id
    from public.artifacts a
    join public.artifact_versions v on v.artifact_id = a.id and v.version_number = a.current_version
   where a.type = 'bom'
     and case when p_project is not null then a.project_id = p_project else a.chat_id = p_chat end
   order by a.updated_at desc, a.id desc
   limit 1
$function$;
CREATE OR REPLACE FUNCTION ohm.emit_event(p_chat uuid, p_owner uuid, p_seq bigint, p_kind text, p_entity uuid, p_data jsonb DEFAULT '{}'::jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  insert into public.realtime_events (chat_id, user_id, event_seq, kind, entity_id, data)
  values (p_chat, p_owner, p_seq, p_kind, p_entity, p_data);
  if exists (select 1 from ohm.realtime_watch w where w.chat_id = p_chat and w.watched_until > now()) then
    perform pg_notify('ohm_events', json_build_object(
      'chat_id', p_chat, 'user_id', p_owner, 'seq', p_seq, 'kind', p_kind, 'id', p_entity, 'data', p_data)::text);
  end if;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.event_heads(p_chats uuid[])
 RETURNS TABLE(chat_id uuid, last_event_seq bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select c.id, c.last_event_seq from public.chats c where c.id = any(p_chats)
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.fork_owner()
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  if auth.uid() is not null then
    return auth.uid();
  end if;
  if auth.role() = 'service_role' or current_user = 'service_role' then
    raise exception 'a fork belongs to a user: fork with the user''s token' using errcode = 'PT422';
  end if;
  raise exception 'sign in as a user to fork' using errcode = '42501';
end
$function$;
CREATE OR REPLACE FUNCTION ohm.handle_auth_user_email_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  update public.profiles set email = new.email where id = new.id;
  return new;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.handle_new_auth_user()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  insert into public.profiles (id, email, display_name)
  values (
    new.id,
    new.email,
    left(coalesce(
      nullif(new.raw_user_meta_data ->> 'display_name', ''),
      nullif(new.raw_user_meta_data ->> 'full_name', ''),
      nullif(new.raw_user_meta_data ->> 'name', ''),
      nullif(split_part(new.email, '@', 1), '')
    ), 200)
  )
  on conflict (id) do nothing;
  return new;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.identifier_parts(t text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
begin
  return (select coalesce(string_agg(translate(m[1], '.-_/:', '     '), ' '), '')
            from regexp_matches(left(t, 262144), '([A-Za-z0-9]+(?:[.\-_/:][A-Za-z0-9]+)+)', 'g') as m);
end
$function$;
CREATE OR REPLACE FUNCTION ohm.key_chats()
 RETURNS uuid[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select case
           when k ->> 'chat_id' is not null then array[(k ->> 'chat_id')::uuid]
           when k ->> 'project_id' is not null
             then array(select c.id from public.chats c where c.project_id = (k ->> 'project_id')::uuid)
         end
    from (select ohm.request_key() as k) s
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.key_limited()
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
  select coalesce(ohm.request_key() OPERATOR(pg_catalog.?|) array['chat_id', 'project_id'], false)
$function$;
CREATE OR REPLACE FUNCTION ohm.key_projects()
 RETURNS uuid[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select case
           when k ->> 'project_id' is not null then array[(k ->> 'project_id')::uuid]
           when k ->> 'chat_id' is not null
             then array(select c.project_id from public.chats c
                         where c.id = (k ->> 'chat_id')::uuid and c.project_id is not null)
         end
    from (select ohm.request_key() as k) s
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.log_activity(p_owner uuid, p_action text, p_entity_type text, p_entity uuid, p_chat uuid, p_project uuid, p_metadata jsonb DEFAULT '{}'::jsonb)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  insert into public.activity_log (user_id, action, entity_type, entity_id, chat_id, project_id, metadata,
                                   actor_id, actor_role)
  select p_owner, p_action, p_entity_type, p_entity, p_chat, p_project, p_metadata, ohm.request_user_id(),
         coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', current_user::text)
   where exists (select 1 from public.profiles where id = p_owner)
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.message_copy(m messages)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select jsonb_build_object(
    'id', m.id, 'role', m.role, 'content', m.content, 'content_json', m.content_json, 'agent_name', m.agent_name,
    'agent_model', m.agent_model, 'agent_icon', m.agent_icon, 'intent', m.intent, 'input_tokens', m.input_tokens,
    'output_tokens', m.output_tokens, 'cost_usd', m.cost_usd, 'latency_ms', m.latency_ms, 'metadata', m.metadata,
    'created_at', m.created_at)
$function$;
CREATE OR REPLACE FUNCTION ohm.messages_after_delete()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  gone record;
  next record;
  spent record;
begin
  update public.chats c
     set message_count       = greatest(c.message_count - d.n, 0),
         total_input_tokens  = greatest(c.total_input_tokens - d.input_tokens, 0),
         total_output_tokens = greatest(c.total_output_tokens - d.output_tokens, 0),
         total_cost_usd      = greatest(c.total_cost_usd - d.cost_usd, 0),
         current_leaf_id     = case when c.current_leaf_id = any (d.ids) then null else c.current_leaf_id end
    from (select chat_id, count(*) as n,
                 coalesce(sum(input_tokens) filter (where not is_copy), 0) as input_tokens,
                 coalesce(sum(output_tokens) filter (where not is_copy), 0) as output_tokens,
                 coalesce(sum(cost_usd) filter (where not is_copy), 0) as cost_usd,
                 array_agg(id) as ids
            from old_rows group by chat_id) d
   where c.id = d.chat_id;
  for spent in
    select user_id, count(*) as n,
           coalesce(sum(input_tokens) filter (where not is_copy), 0) as input_tokens,
           coalesce(sum(output_tokens) filter (where not is_copy), 0) as output_tokens,
           coalesce(sum(cost_usd) filter (where not is_copy), 0) as cost_usd
      from old_rows
     where exists (select 1 from public.profiles p where p.id = old_rows.user_id)
     group by user_id
  loop
    perform ohm.add_usage(spent.user_id, -spent.n, -spent.input_tokens, -spent.output_tokens, -spent.cost_usd);
  end loop;
  for gone in
    select distinct on (o.chat_id) o.chat_id, o.id, o.sequence_number,
           count(*) over (partition by o.chat_id) as n
      from old_rows o
     where exists (select 1 from public.chats c where c.id = o.chat_id)
     order by o.chat_id, o.sequence_number
  loop
    select * into next from ohm.next_event_seq(gone.chat_id);
    if next.seq is not null then
      perform ohm.emit_event(gone.chat_id, next.owner, next.seq, 'message.deleted', gone.id,
                             jsonb_build_object('sequence_number', gone.sequence_number, 'deleted', gone.n));
    end if;
  end loop;
  return null;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.messages_after_update_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  next record;
begin
  select * into next from ohm.next_event_seq(new.chat_id);
  perform ohm.emit_event(new.chat_id, next.owner, next.seq, 'message.updated', new.id,
                         jsonb_build_object('sequence_number', new.sequence_number));
  return null;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.messages_after_update_usage()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  if new.is_copy then
    return null;
  end if;
  update public.chats c
     set total_input_tokens  = c.total_input_tokens + new.input_tokens - old.input_tokens,
         total_output_tokens = c.total_output_tokens + new.output_tokens - old.output_tokens,
         total_cost_usd      = c.total_cost_usd + coalesce(new.cost_usd, 0) - coalesce(old.cost_usd, 0)
   where c.id = new.chat_id;
  perform ohm.add_usage(new.user_id, 0, new.input_tokens - old.input_tokens, new.output_tokens - old.output_tokens,
                        coalesce(new.cost_usd, 0) - coalesce(old.cost_usd, 0));
  return null;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.messages_before_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  seq integer;
  event bigint;
  claims jsonb;
  exact text;
  bare text;
  priced numeric;
  counted_in integer;
  counted_out integer;
  counted_cost numeric;
  owned bigint;
begin
  if new.agent_model is not null and not new.is_copy then
    -- an exact id first, then without the provider, then without a date suffix
    exact := lower(btrim(new.agent_model));
    bare := regexp_replace(exact, '^.*/', '');
    select round((new.input_tokens * mp.input_per_mtok + new.output_tokens * mp.output_per_mtok) / 1000000, 6)
      into priced
      from public.model_prices mp
     where mp.model_id in (exact, bare) and mp.valid_from <= new.created_at
     order by (mp.model_id = exact) desc, mp.valid_from desc
     limit 1;
    if not found then
      select round((new.input_tokens * mp.input_per_mtok + new.output_tokens * mp.output_per_mtok) / 1000000, 6)
        into priced
        from public.model_prices mp
       where mp.model_id = ohm.price_model_id(new.agent_model) and mp.valid_from <= new.created_at
       order by mp.valid_from desc
       limit 1;
    end if;
    if priced is not null then
      new.cost_usd := priced;
    end if;
  end if;
  if new.is_copy then
    counted_in := 0; counted_out := 0; counted_cost := 0;
  else
    counted_in := new.input_tokens; counted_out := new.output_tokens; counted_cost := coalesce(new.cost_usd, 0);
  end if;
  -- The budget, before the chat's lock: this message counted in (+ 1).
  owned := coalesce((select sum(u.message_count) from ohm.usage_counters u where u.user_id = new.user_id), 0) + 1;
  if owned > (select l.value from ohm.limits l where l.name = 'messages_per_user') then
    raise exception 'message budget reached: % messages per user', owned - 1
      using errcode = 'PT413', hint = 'delete old chats, or raise ohm.limits.messages_per_user';
  end if;

  -- the activity row (ohm.activity_trigger; a fork logs itself once)
  if current_setting('ohm.activity_quiet', true) is distinct from 'on' then
    claims := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    insert into public.activity_log (user_id, action, entity_type, entity_id, chat_id, metadata, actor_id,
                                     actor_role)
    values (new.user_id, 'message.created', 'message', new.id, new.chat_id,
            jsonb_strip_nulls(jsonb_build_object(
              'role', new.role, 'agent', new.agent_name, 'model', new.agent_model, 'intent', new.intent,
              'input_tokens', nullif(new.input_tokens, 0), 'output_tokens', nullif(new.output_tokens, 0),
              'cost_usd', new.cost_usd)),
            nullif(claims ->> 'sub', '')::uuid, coalesce(claims ->> 'role', current_user::text));
  end if;

  -- Everything below runs under the chat row's lock, held until commit.
  if new.parent_id = '00000000-0000-0000-0000-000000000000' then
    select c.current_leaf_id into new.parent_id
      from public.chats c where c.id = new.chat_id and c.user_id = new.user_id
       for update;
  end if;
  update public.chats c
     set last_sequence       = c.last_sequence + 1,
         last_event_seq      = c.last_event_seq + 1,
         message_count       = c.message_count + 1,
         last_message_at     = greatest(c.last_message_at, new.created_at),
         current_leaf_id     = new.id,
         is_branched         = c.is_branched or (new.parent_id is distinct from c.current_leaf_id),
         title               = case
                                 when c.title is null and new.role = 'user'
                                 then ohm.chat_title_from(new.content)
                                 else c.title
                               end,
         total_input_tokens  = c.total_input_tokens + counted_in,
         total_output_tokens = c.total_output_tokens + counted_out,
         total_cost_usd      = c.total_cost_usd + counted_cost
   where c.id = new.chat_id and c.user_id = new.user_id
  returning c.last_sequence, c.last_event_seq into seq, event;
  if not found then
    raise exception 'chat % does not exist', new.chat_id
      using errcode = 'foreign_key_violation';
  end if;
  new.sequence_number := seq;
  -- ohm.add_usage, in place (the append path)
  update ohm.usage_counters u
     set message_count       = u.message_count + 1,
         total_input_tokens  = u.total_input_tokens + counted_in,
         total_output_tokens = u.total_output_tokens + counted_out,
         total_cost_usd      = u.total_cost_usd + counted_cost
   where u.user_id = new.user_id and u.slot = (pg_catalog.pg_backend_pid() % 32)::smallint;
  if not found then
    perform ohm.add_usage(new.user_id, 1, counted_in, counted_out, counted_cost);
  end if;
  -- message.created (ohm.emit_event)
  insert into public.realtime_events (chat_id, user_id, event_seq, kind, entity_id, data)
  values (new.chat_id, new.user_id, event, 'message.created', new.id, jsonb_build_object('sequence_number', seq));
  if exists (select 1 from ohm.realtime_watch w where w.chat_id = new.chat_id and w.watched_until > now()) then
    perform pg_notify('ohm_events', json_build_object(
      'chat_id', new.chat_id, 'user_id', new.user_id, 'seq', event, 'kind', 'message.created', 'id', new.id,
      'data', jsonb_build_object('sequence_number', seq))::text);
  end if;

  return new;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.messages_search_vector()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if tg_op = 'INSERT' then
    new.content_search := ohm.search_vector(new.content);
  elsif new.content is distinct from old.content then
    new.content_search := ohm.search_vector(new.content);
  else
    new.content_search := old.content_search;
  end if;
  return new;
end
$function$;
CREATE OR REPLACE FUNCTION ohm.new_share_token()
 RETURNS text
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  select rtrim(translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'),
                         '+/', '-_'), '=')
$function$;
CREATE OR REPLACE FUNCTION ohm.next_event_seq(p_chat uuid, OUT seq bigint, OUT owner uuid)
 RETURNS record
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  update public.chats set last_event_seq = last_event_seq + 1 where id = p_chat
  returning last_event_seq, user_id
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.normalise_hardware_version()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
$function$;
CREATE OR REPLACE FUNCTION ohm.price_model_id(p_model text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
begin
  return regexp_replace(lower(regexp_replace(btrim(p_model), '^.*/', '')), '-(\d{4}-\d{2}-\d{2}|\d{8})$', '');
end
$function$;
CREATE OR REPLACE FUNCTION ohm.record_fork(p_original uuid, p_fork uuid, p_fork_point uuid, p_share_token text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  caller uuid := ohm.request_user_id();
begin
  if caller is null or not exists (select 1 from public.chats where id = p_fork and user_id = caller) then
    raise exception 'fork chat not found' using errcode = 'no_data_found';
  end if;
  if p_share_token is not null then
    update public.shared_chats
       set fork_count = fork_count + 1
     where share_token = p_share_token and is_active and (expires_at is null or expires_at > now());
    if not found then
      raise exception 'share not found' using errcode = 'no_data_found';
    end if;
    insert into public.chat_forks (fork_chat_id, forked_by, via_share) values (p_fork, caller, true);
    return;
  end if;
  if not exists (select 1 from public.chats where id = p_original and (user_id = caller or is_public)) then
    raise exception 'original chat not found' using errcode = 'no_data_found';
  end if;
  update public.chats set forked_from = p_original where id = p_fork;
  insert into public.chat_forks (original_chat_id, fork_chat_id, fork_point_message_id, forked_by)
  values (p_original, p_fork, p_fork_point, caller);
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.refuse_history_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if tg_op = 'DELETE' and pg_catalog.pg_trigger_depth() > 1 then
    return old;
  end if;
  raise exception '% rows are immutable: % refused', tg_table_name, lower(tg_op)
    using errcode = 'restrict_violation',
          hint = 'write a new row instead; history is never rewritten';
end
$function$;
CREATE OR REPLACE FUNCTION ohm.request_key()
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
  select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb OPERATOR(pg_catalog.->) 'ohm_key'
$function$;
CREATE OR REPLACE FUNCTION ohm.request_user_id()
 RETURNS uuid
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.search_vector(t text)
 RETURNS tsvector
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
begin
  return to_tsvector('pg_catalog.english', left(coalesce(t, ''), 262144))
      || to_tsvector('pg_catalog.english', ohm.identifier_parts(coalesce(t, '')));
end
$function$;
CREATE OR REPLACE FUNCTION ohm.set_updated_at()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$function$;
CREATE OR REPLACE FUNCTION ohm.share_attachments(p_token text)
 RETURNS TABLE(id uuid, message_id uuid, filename text, mime_type text, size_bytes bigint, category text, created_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  with recursive s as (
    select sc.chat_id, sc.up_to_message_id, sc.snapshot_at from public.shared_chats sc
     where sc.share_token = p_token and sc.is_active and (sc.expires_at is null or sc.expires_at > now())
  ), branch as (
    select m.id, m.parent_id from public.messages m join s on m.chat_id = s.chat_id and m.id = s.up_to_message_id
    union all
    select m.id, m.parent_id from public.messages m join branch b on m.id = b.parent_id
                                                    join s on m.chat_id = s.chat_id
  )
  select a.id, a.message_id, a.filename, a.mime_type, a.size_bytes, a.category::text, a.created_at
    from public.attachments a, s
   where a.chat_id = s.chat_id
     and (a.message_id in (select id from branch) or (a.message_id is null and a.created_at <= s.snapshot_at))
   order by a.created_at, a.id
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.share_snapshot(p_token text, p_count_view boolean DEFAULT true, p_visitor text DEFAULT NULL::text, p_after integer DEFAULT 0, p_limit integer DEFAULT NULL::integer, p_budget bigint DEFAULT NULL::bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  s public.shared_chats;
  headers jsonb;
  visitor text := p_visitor;
  fresh integer;
  page jsonb;
  kept integer;
  remaining bigint;
begin
  select * into s from public.shared_chats
   where share_token = p_token and is_active and (expires_at is null or expires_at > now());
  if s.id is null then
    return null;
  end if;
  if p_count_view and coalesce(p_after, 0) = 0 then
    if visitor is null then
      headers := nullif(current_setting('request.headers', true), '')::jsonb;
      visitor := md5(coalesce(headers ->> 'x-forwarded-for', '') || '|' || coalesce(headers ->> 'user-agent', ''));
    end if;
    insert into ohm.share_views (share_id, visitor) values (s.id, left(visitor, 64)) on conflict do nothing;
    get diagnostics fresh = row_count;
    if fresh > 0 then
      update public.shared_chats set view_count = view_count + 1, last_viewed_at = now()
       where id = s.id returning * into s;
    end if;
    if random() < 0.01 then
      delete from ohm.share_views where day < current_date - 1;
    end if;
  end if;
  -- The branch by ids first (cheap), then the page's rows with what they weigh.
  with recursive branch as (
    select m.id, m.parent_id, m.sequence_number
      from public.messages m
     where m.id = s.up_to_message_id and m.chat_id = s.chat_id
    union all
    select m.id, m.parent_id, m.sequence_number
      from public.messages m join branch b on m.chat_id = s.chat_id and m.id = b.parent_id
  ), weighed as (
    select b.id, count(*) over () as remaining,
           row_number() over (order by b.sequence_number) as rn,
           sum(octet_length(m.content) + coalesce(pg_column_size(m.content_json), 0) + pg_column_size(m.metadata))
             over (order by b.sequence_number) as running,
           octet_length(m.content) + coalesce(pg_column_size(m.content_json), 0) + pg_column_size(m.metadata) as own
      from branch b join public.messages m on m.chat_id = s.chat_id and m.id = b.id
     where b.sequence_number > coalesce(p_after, 0)
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', m.id, 'parent_id', m.parent_id, 'sequence_number', m.sequence_number, 'role', m.role,
           'content', m.content, 'content_json', m.content_json,
           'agent', case when m.agent_name is null then null
                         else jsonb_build_object('name', m.agent_name, 'model', m.agent_model, 'icon', m.agent_icon) end,
           'intent', m.intent,
           'usage', jsonb_build_object('input_tokens', m.input_tokens, 'output_tokens', m.output_tokens,
                                       'cost_usd', m.cost_usd),
           'latency_ms', m.latency_ms, 'metadata', m.metadata, 'created_at', m.created_at)
           order by m.sequence_number), '[]'::jsonb),
         count(*), max(w.remaining)
    into page, kept, remaining
    from weighed w join public.messages m on m.chat_id = s.chat_id and m.id = w.id
   where (p_limit is null or w.rn <= p_limit)
     and (p_budget is null or w.rn = 1 or w.running - w.own < p_budget);
  return jsonb_build_object(
    'share', jsonb_build_object(
      'id', s.id, 'up_to_message_id', s.up_to_message_id, 'snapshot_at', s.snapshot_at,
      'expires_at', s.expires_at, 'view_count', s.view_count, 'fork_count', s.fork_count,
      'created_at', s.created_at),
    'chat', (select jsonb_build_object('title', c.title, 'phase', c.phase,
                                       'owner_name', p.display_name, 'created_at', c.created_at)
               from public.chats c left join public.profiles p on p.id = c.user_id
              where c.id = s.chat_id),
    'messages', page,
    'next_after_sequence', case when remaining > kept then (page -> -1 ->> 'sequence_number')::integer end,
    'artifacts', case when coalesce(p_after, 0) > 0 then '[]'::jsonb else coalesce((select jsonb_agg(jsonb_build_object(
        'id', a.id, 'type', a.type, 'title', a.title, 'message_id', a.message_id,
        'version', v.version_number, 'version_id', v.id, 'content_text', v.content_text,
        'content_json', v.content_json, 'change_summary', v.change_summary, 'created_at', v.created_at)
        order by a.created_at, a.id)
        from jsonb_each_text(s.artifact_versions) snap(artifact_id, version)
        join public.artifacts a on a.id = snap.artifact_id::uuid and a.chat_id = s.chat_id
        join public.artifact_versions v on v.artifact_id = a.id and v.version_number = snap.version::integer),
      '[]'::jsonb) end
  );
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.text_array(p_value jsonb)
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select case when p_value is null or jsonb_typeof(p_value) = 'null' then '{}'::text[]
              else array(select jsonb_array_elements_text(p_value)) end
$function$;
CREATE OR REPLACE FUNCTION ohm.use_api_key(p_key uuid, p_user uuid)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  k record;
begin
  select a.revoked_at, a.expires_at, a.last_used_at into k
    from public.api_keys a where a.id = p_key and a.user_id = p_user;
  if not found or k.revoked_at is not null or (k.expires_at is not null and k.expires_at <= now()) then
    raise exception 'API key revoked or expired' using errcode = 'invalid_authorization_specification';
  end if;
  if k.last_used_at is null or k.last_used_at < now() - interval '1 minute' then
    update public.api_keys a set last_used_at = now()
     where a.id = p_key and (a.last_used_at is null or a.last_used_at < now() - interval '1 minute');
  end if;
end
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.volts(p_value jsonb, p_bound text)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
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
$function$;
CREATE OR REPLACE FUNCTION ohm.watch_chats(p_chats uuid[], p_seconds integer DEFAULT 60)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  insert into ohm.realtime_watch (chat_id, watched_until)
  select c, now() + make_interval(secs => least(greatest(p_seconds, 1), 600)) from unnest(p_chats) c
  on conflict (chat_id) do update set watched_until = greatest(ohm.realtime_watch.watched_until,
                                                               excluded.watched_until);
  delete from ohm.realtime_watch where watched_until < now() - interval '1 minute';
$function$;
-- owner: ohm_definer
CREATE OR REPLACE FUNCTION ohm.write_fork(p_title text, p_messages jsonb, p_artifacts jsonb, p_original uuid, p_fork_point uuid, p_share_token text)
 RETURNS chats
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  owner uuid := ohm.fork_owner();
  fork_id uuid;
  ids jsonb;
  a jsonb;
  copied uuid;
  result public.chats;
begin
  if jsonb_array_length(p_messages) > (select l.value from ohm.limits l where l.name = 'fork_messages') then
    raise exception 'a fork copies at most % messages: fork up to an earlier message',
      (select l.value from ohm.limits l where l.name = 'fork_messages') using errcode = 'PT413';
  end if;
  if (select count(*) from public.chat_forks f
       where f.forked_by = owner and f.created_at > now() - interval '1 hour')
     >= (select l.value from ohm.limits l where l.name = 'forks_per_hour') then
    raise exception 'too many forks in the last hour: at most % per hour',
      (select l.value from ohm.limits l where l.name = 'forks_per_hour') using errcode = 'PT429';
  end if;
  perform set_config('ohm.activity_quiet', 'on', true);
  insert into public.chats (user_id, title) values (owner, p_title) returning id into fork_id;
  with copies as (
    insert into public.messages (chat_id, user_id, role, content, content_json, agent_name, agent_model,
                                 agent_icon, intent, input_tokens, output_tokens, cost_usd, latency_ms, metadata,
                                 is_copy)
    select fork_id, owner, (r.m ->> 'role')::public.message_role, coalesce(r.m ->> 'content', ''),
           nullif(r.m -> 'content_json', 'null'::jsonb), r.m ->> 'agent_name', r.m ->> 'agent_model',
           r.m ->> 'agent_icon', (r.m ->> 'intent')::public.agent_intent,
           coalesce((r.m ->> 'input_tokens')::integer, 0), coalesce((r.m ->> 'output_tokens')::integer, 0),
           least((r.m ->> 'cost_usd')::numeric, 1000), (r.m ->> 'latency_ms')::integer,
           coalesce(nullif(r.m -> 'metadata', 'null'::jsonb), '{}'::jsonb), true
      from jsonb_array_elements(p_messages) with ordinality r(m, ord)
     order by r.ord
    returning id, sequence_number
  )
  -- sequence numbers are 1, 2, ... in the order given: the n-th copy is of the n-th message
  select coalesce(jsonb_object_agg(p_messages -> (c.sequence_number - 1) ->> 'id', c.id), '{}'::jsonb) into ids
    from copies c;
  for a in select e.x from jsonb_array_elements(p_artifacts) e(x) loop
    insert into public.artifacts (chat_id, user_id, message_id, type, title, forked_from_version_id)
    values (fork_id, owner, (ids ->> (a ->> 'message_id'))::uuid, (a ->> 'type')::public.artifact_type,
            a ->> 'title', (a ->> 'version_id')::uuid)
    returning id into copied;
    insert into public.artifact_versions (artifact_id, user_id, content_text, content_json, change_summary,
                                          created_by_user_id)
    values (copied, owner, a ->> 'content_text', nullif(a -> 'content_json', 'null'::jsonb),
            left('Forked from v' || (a ->> 'version') || coalesce(': ' || nullif(a ->> 'change_summary', ''), ''), 2000),
            owner);
  end loop;
  perform set_config('ohm.activity_quiet', 'off', true);
  perform ohm.record_fork(p_original, fork_id, p_fork_point, p_share_token);
  select * into result from public.chats c where c.id = fork_id;
  return result;
end
$function$;
CREATE OR REPLACE FUNCTION public.fork_chat(chat_id uuid, message_id uuid DEFAULT NULL::uuid)
 RETURNS chats
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  source record;
  leaf uuid;
  leaf_seq integer;
  messages jsonb;
  branch uuid[];
  point jsonb;
  until timestamptz;
  artifacts jsonb;
begin
  perform ohm.fork_owner();
  select c.id, c.title, c.current_leaf_id, c.is_branched into source
    from public.chats c where c.id = fork_chat.chat_id;
  if source.id is null then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  if fork_chat.message_id is not null
     and not exists (select 1 from public.messages m where m.chat_id = source.id and m.id = fork_chat.message_id) then
    raise exception 'message_id is not a message of this chat' using errcode = 'PT422';
  end if;
  leaf := coalesce(fork_chat.message_id, source.current_leaf_id,
                   (select m.id from public.messages m where m.chat_id = source.id
                     order by m.sequence_number desc limit 1));
  if not source.is_branched then
    -- One chain in sequence order: the branch is every message up to the leaf.
    select m.sequence_number into leaf_seq from public.messages m where m.chat_id = source.id and m.id = leaf;
    select coalesce(jsonb_agg(ohm.message_copy(m) order by m.sequence_number), '[]'::jsonb) into messages
      from public.messages m where m.chat_id = source.id and m.sequence_number <= leaf_seq;
  else
    with recursive walk as (
      select m.id, m.parent_id, m.sequence_number from public.messages m where m.chat_id = source.id and m.id = leaf
      union all
      select m.id, m.parent_id, m.sequence_number
        from public.messages m join walk w on m.chat_id = source.id and m.id = w.parent_id
    )
    select coalesce(jsonb_agg(ohm.message_copy(m) order by m.sequence_number), '[]'::jsonb) into messages
      from walk w join public.messages m on m.chat_id = source.id and m.id = w.id;
  end if;
  select array_agg((e.m ->> 'id')::uuid) into branch from jsonb_array_elements(messages) e(m);
  point := messages -> -1;
  if point is not null and fork_chat.message_id is not null
     and (point ->> 'id')::uuid is distinct from source.current_leaf_id then
    until := (point ->> 'created_at')::timestamptz;
  end if;
  select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) into artifacts from (
    select distinct on (a.id)
           a.id, a.type::text as type, a.title, a.message_id, v.id as version_id, v.version_number as version,
           v.content_text, v.content_json, v.change_summary
      from public.artifacts a
      join public.artifact_versions v on v.artifact_id = a.id
     where a.chat_id = source.id
       and (a.message_id = any (branch) or (a.message_id is null and (until is null or a.created_at <= until)))
       and (v.created_by_message_id = any (branch)
            or (v.created_by_message_id is null and (until is null or v.created_at <= until)))
     order by a.id, v.version_number desc) x;
  return ohm.write_fork(source.title, messages, artifacts, source.id, (point ->> 'id')::uuid, null);
end
$function$;
CREATE OR REPLACE FUNCTION public.fork_share(token text, message_id uuid DEFAULT NULL::uuid)
 RETURNS chats
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  snapshot jsonb;
  cut bigint;
  messages jsonb;
  branch uuid[];
  point jsonb;
  until timestamptz;
  artifacts jsonb;
  most bigint := (select l.value from ohm.limits l where l.name = 'fork_messages');
begin
  perform ohm.fork_owner();
  if fork_share.token is not null and fork_share.token ~ '^[A-Za-z0-9_-]{1,128}$' then
    snapshot := ohm.share_snapshot(fork_share.token, false, null, 0, (most + 1)::integer, null);
  end if;
  if snapshot is null then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  if fork_share.message_id is not null then
    select e.ord into cut from jsonb_array_elements(snapshot -> 'messages') with ordinality e(m, ord)
     where (e.m ->> 'id')::uuid = fork_share.message_id;
    if cut is null then
      raise exception 'message_id is not a message of this share (or lies beyond what a fork may copy)'
        using errcode = 'PT422';
    end if;
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', e.m -> 'id', 'role', e.m -> 'role', 'content', e.m -> 'content', 'content_json', e.m -> 'content_json',
           'agent_name', e.m -> 'agent' -> 'name', 'agent_model', e.m -> 'agent' -> 'model',
           'agent_icon', e.m -> 'agent' -> 'icon', 'intent', e.m -> 'intent',
           'input_tokens', e.m -> 'usage' -> 'input_tokens', 'output_tokens', e.m -> 'usage' -> 'output_tokens',
           'cost_usd', e.m -> 'usage' -> 'cost_usd', 'latency_ms', e.m -> 'latency_ms', 'metadata', e.m -> 'metadata',
           'created_at', e.m -> 'created_at') order by e.ord), '[]'::jsonb)
    into messages
    from jsonb_array_elements(snapshot -> 'messages') with ordinality e(m, ord)
   where cut is null or e.ord <= cut;
  select array_agg((e.m ->> 'id')::uuid) into branch from jsonb_array_elements(messages) e(m);
  point := messages -> -1;
  if fork_share.message_id is not null and point is not null then
    until := (point ->> 'created_at')::timestamptz;
  end if;
  select coalesce(jsonb_agg(a.x), '[]'::jsonb) into artifacts
    from jsonb_array_elements(snapshot -> 'artifacts') a(x)
   where (a.x ->> 'message_id')::uuid = any (branch)
      or (a.x ->> 'message_id' is null and (until is null or (a.x ->> 'created_at')::timestamptz <= until));
  return ohm.write_fork(snapshot -> 'chat' ->> 'title', messages, artifacts, null, (point ->> 'id')::uuid,
                        fork_share.token);
end
$function$;
CREATE OR REPLACE FUNCTION public.message_count(profiles)
 RETURNS bigint
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$ select coalesce(sum(u.message_count), 0)::bigint from ohm.usage_counters u where u.user_id = $1.id $function$;
CREATE OR REPLACE FUNCTION public.read_share(token text, after_sequence integer DEFAULT 0, max_messages integer DEFAULT 200)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  snapshot jsonb;
begin
  if read_share.token is null or read_share.token !~ '^[A-Za-z0-9_-]{1,128}$' then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  if read_share.after_sequence is null or read_share.after_sequence < 0
     or read_share.max_messages is null or read_share.max_messages not between 1 and 500 then
    raise exception 'after_sequence must be >= 0 and max_messages between 1 and 500' using errcode = 'PT422';
  end if;
  snapshot := ohm.share_snapshot(read_share.token, true, null, read_share.after_sequence, read_share.max_messages,
                                 4194304);
  if snapshot is null then
    raise exception 'share not found' using errcode = 'PT404';
  end if;
  return snapshot || jsonb_build_object('attachments', case when read_share.after_sequence > 0 then '[]'::jsonb
    else coalesce((select jsonb_agg(to_jsonb(a)) from ohm.share_attachments(read_share.token) a), '[]'::jsonb) end);
end
$function$;
CREATE OR REPLACE FUNCTION public.restore_artifact_version(artifact_id uuid, version integer)
 RETURNS artifacts
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  art record;
  old record;
  result public.artifacts;
begin
  -- FOR UPDATE applies the artifact's UPDATE policy (owner only) and queues concurrent writers.
  select a.id, a.user_id, a.current_version, v.id as current_id into art
    from public.artifacts a
    left join public.artifact_versions v on v.artifact_id = a.id and v.version_number = a.current_version
   where a.id = restore_artifact_version.artifact_id
     for update of a;
  if art.id is null then
    raise exception 'artifact not found' using errcode = 'PT404';
  end if;
  select v.content_text, v.content_json into old
    from public.artifact_versions v
   where v.artifact_id = art.id and v.version_number = restore_artifact_version.version;
  if not found then
    raise exception 'version % not found', restore_artifact_version.version using errcode = 'PT404';
  end if;
  if restore_artifact_version.version = art.current_version then
    raise exception 'v% is already the current version', restore_artifact_version.version using errcode = 'PT409';
  end if;
  -- The activity log records this version as a restore.
  perform set_config('ohm.restored_from', restore_artifact_version.version::text, true);
  insert into public.artifact_versions (artifact_id, user_id, parent_version_id, content_text, content_json,
                                        change_summary, created_by_user_id)
  values (art.id, art.user_id, art.current_id, old.content_text, old.content_json,
          'Restored v' || restore_artifact_version.version, auth.uid());
  perform set_config('ohm.restored_from', '', true);
  select * into result from public.artifacts a where a.id = art.id;
  return result;
end
$function$;
CREATE OR REPLACE FUNCTION public.search_all(q text, types text[] DEFAULT NULL::text[], project_id uuid DEFAULT NULL::uuid, chat_id uuid DEFAULT NULL::uuid, agent text DEFAULT NULL::text, intent text DEFAULT NULL::text, role text DEFAULT NULL::text, since timestamp with time zone DEFAULT NULL::timestamp with time zone, until timestamp with time zone DEFAULT NULL::timestamp with time zone, for_user uuid DEFAULT NULL::uuid, max_results integer DEFAULT 20, after_rank double precision DEFAULT NULL::double precision, after_created_at timestamp with time zone DEFAULT NULL::timestamp with time zone, after_id uuid DEFAULT NULL::uuid)
 RETURNS SETOF search_hit
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
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
$function$;
CREATE OR REPLACE FUNCTION public.share_chat(chat_id uuid, up_to_message_id uuid DEFAULT NULL::uuid, expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS shared_chats
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  chat record;
  result public.shared_chats;
begin
  -- FOR KEY SHARE applies the chat's UPDATE policy: only its owner may share it.
  select c.id, c.user_id, c.current_leaf_id into chat
    from public.chats c where c.id = share_chat.chat_id for key share;
  if chat.id is null then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  if share_chat.up_to_message_id is not null
     and not exists (select 1 from public.messages m
                      where m.chat_id = chat.id and m.id = share_chat.up_to_message_id) then
    raise exception 'up_to_message_id is not a message of this chat' using errcode = 'PT422';
  end if;
  if share_chat.expires_at is not null and share_chat.expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = 'PT422';
  end if;
  insert into public.shared_chats as s
    (chat_id, user_id, share_token, up_to_message_id, expires_at, artifact_versions)
  values (
    chat.id, chat.user_id, ohm.new_share_token(),
    coalesce(share_chat.up_to_message_id, chat.current_leaf_id,
             (select m.id from public.messages m where m.chat_id = chat.id order by m.sequence_number desc limit 1)),
    share_chat.expires_at,
    (select coalesce(jsonb_object_agg(a.id, a.current_version), '{}'::jsonb)
       from public.artifacts a where a.chat_id = chat.id and a.current_version is not null))
  returning s.* into result;
  return result;
end
$function$;
CREATE OR REPLACE FUNCTION public.total_cost_usd(profiles)
 RETURNS numeric
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(sum(u.total_cost_usd), 0)::numeric(16, 6) from ohm.usage_counters u where u.user_id = $1.id
$function$;
CREATE OR REPLACE FUNCTION public.total_input_tokens(profiles)
 RETURNS bigint
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$ select coalesce(sum(u.total_input_tokens), 0)::bigint from ohm.usage_counters u where u.user_id = $1.id $function$;
CREATE OR REPLACE FUNCTION public.total_output_tokens(profiles)
 RETURNS bigint
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$ select coalesce(sum(u.total_output_tokens), 0)::bigint from ohm.usage_counters u where u.user_id = $1.id $function$;
CREATE OR REPLACE FUNCTION public.usage_summary(group_by text DEFAULT 'agent'::text, since timestamp with time zone DEFAULT NULL::timestamp with time zone, until timestamp with time zone DEFAULT NULL::timestamp with time zone, chat_id uuid DEFAULT NULL::uuid, project_id uuid DEFAULT NULL::uuid, role text DEFAULT NULL::text, for_user uuid DEFAULT NULL::uuid)
 RETURNS SETOF usage_row
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  owner uuid;
  everyone boolean := false;
  key text;
  label text;
  ordering text;
  aggregates constant text := $a$
    count(*), coalesce(sum(m.input_tokens), 0)::bigint, coalesce(sum(m.output_tokens), 0)::bigint,
    coalesce(sum(m.cost_usd), 0), coalesce(avg(m.input_tokens), 0)::float8, coalesce(avg(m.output_tokens), 0)::float8,
    avg(m.latency_ms)::float8, count(*) filter (where m.agent_model is not null and m.cost_usd is null)$a$;
  source constant text := $s$
      from public.messages m
      join public.chats c on c.id = m.chat_id
      left join public.projects p on p.id = c.project_id
     where ($1::uuid is null and $7 or m.user_id = $1) and not m.is_copy
       and ($2::timestamptz is null or m.created_at >= $2) and ($3::timestamptz is null or m.created_at < $3)
       and ($4::uuid is null or m.chat_id = $4) and ($5::uuid is null or c.project_id = $5)
       and ($6::text is null or m.role::text = $6)$s$;
begin
  if auth.uid() is not null then
    if usage_summary.for_user is not null and usage_summary.for_user <> auth.uid() then
      raise exception 'for_user can only be set by the service role' using errcode = 'PT422';
    end if;
    owner := auth.uid();
  elsif auth.role() = 'service_role' or current_user = 'service_role' then
    owner := usage_summary.for_user;
    everyone := owner is null;
  else
    raise exception 'sign in to see usage' using errcode = '42501';
  end if;
  if usage_summary.since is not null and usage_summary.until is not null
     and usage_summary.until <= usage_summary.since then
    raise exception 'until must be after since' using errcode = 'PT422';
  end if;
  if usage_summary.role is not null and usage_summary.role not in ('user', 'assistant', 'system', 'tool') then
    raise exception 'role must be one of user, assistant, system, tool' using errcode = 'PT422';
  end if;
  case usage_summary.group_by
    when 'agent' then key := 'm.agent_name'; label := 'null::text';
    when 'model' then key := 'ohm.price_model_id(m.agent_model)'; label := 'null::text';
    when 'intent' then key := 'm.intent::text'; label := 'null::text';
    when 'role' then key := 'm.role::text'; label := 'null::text';
    when 'day' then key := $k$to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD')$k$; label := 'null::text';
    when 'chat' then key := 'm.chat_id::text'; label := 'max(c.title)';
    when 'project' then key := 'c.project_id::text'; label := 'max(p.name)';
    else
      raise exception 'group_by must be one of agent, model, intent, role, day, chat, project'
        using errcode = 'PT422';
  end case;
  ordering := case usage_summary.group_by
                when 'day' then '1'
                when 'chat' then '6 desc, 3 desc, 1'
                when 'project' then '6 desc, 3 desc, 1'
                else '3 desc, 6 desc, 1' end;
  return query execute format(
    'select * from (select %1$s, %2$s, %3$s, false %4$s group by 1 order by %5$s limit 1000) g
     union all
     select null::text, null::text, %3$s, true %4$s',
    key, label, aggregates, source, ordering)
    using owner, usage_summary.since, usage_summary.until, usage_summary.chat_id, usage_summary.project_id,
          usage_summary.role, everyone;
end
$function$;

-- === triggers ============================================================================================
CREATE TRIGGER ohm_on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION ohm.handle_new_auth_user();
CREATE TRIGGER ohm_on_auth_user_email_changed AFTER UPDATE OF email ON auth.users FOR EACH ROW WHEN (((old.email)::text IS DISTINCT FROM (new.email)::text)) EXECUTE FUNCTION ohm.handle_auth_user_email_change();
CREATE TRIGGER activity_log_append_only BEFORE DELETE OR UPDATE ON public.activity_log FOR EACH ROW EXECUTE FUNCTION ohm.activity_log_append_only();
CREATE TRIGGER activity_log_key BEFORE INSERT ON public.activity_log FOR EACH ROW WHEN ((strpos(current_setting('request.jwt.claims'::text, true), '"ohm_key"'::text) > 0)) EXECUTE FUNCTION ohm.activity_log_key();
CREATE TRIGGER api_keys_before_update BEFORE UPDATE ON public.api_keys FOR EACH ROW EXECUTE FUNCTION ohm.api_keys_before_update();
CREATE TRIGGER artifact_versions_activity AFTER INSERT ON public.artifact_versions FOR EACH ROW EXECUTE FUNCTION ohm.activity_trigger();
CREATE TRIGGER artifact_versions_before_insert BEFORE INSERT ON public.artifact_versions FOR EACH ROW EXECUTE FUNCTION ohm.artifact_versions_before_insert();
CREATE TRIGGER artifact_versions_immutable BEFORE DELETE OR UPDATE ON public.artifact_versions FOR EACH ROW EXECUTE FUNCTION ohm.refuse_history_change();
CREATE TRIGGER artifact_versions_normalise AFTER INSERT ON public.artifact_versions FOR EACH ROW EXECUTE FUNCTION ohm.normalise_hardware_version();
CREATE TRIGGER artifacts_set_updated_at BEFORE UPDATE ON public.artifacts FOR EACH ROW EXECUTE FUNCTION ohm.set_updated_at();
CREATE TRIGGER attachments_activity AFTER INSERT OR DELETE ON public.attachments FOR EACH ROW EXECUTE FUNCTION ohm.activity_trigger();
CREATE TRIGGER attachments_after_insert_event AFTER INSERT ON public.attachments FOR EACH ROW EXECUTE FUNCTION ohm.attachments_event();
CREATE TRIGGER attachments_after_update_event AFTER UPDATE OF processing_status, processing_error, chat_id ON public.attachments FOR EACH ROW EXECUTE FUNCTION ohm.attachments_event();
CREATE TRIGGER attachments_set_updated_at BEFORE UPDATE ON public.attachments FOR EACH ROW EXECUTE FUNCTION ohm.set_updated_at();
CREATE TRIGGER chat_forks_activity AFTER INSERT ON public.chat_forks FOR EACH ROW EXECUTE FUNCTION ohm.activity_trigger();
CREATE TRIGGER chats_activity AFTER INSERT OR DELETE ON public.chats FOR EACH ROW EXECUTE FUNCTION ohm.activity_trigger();
CREATE TRIGGER chats_activity_update AFTER UPDATE OF title, project_id, is_public ON public.chats FOR EACH ROW WHEN ((((old.title IS NOT NULL) AND (new.title IS DISTINCT FROM old.title)) OR (new.project_id IS DISTINCT FROM old.project_id) OR (new.is_public IS DISTINCT FROM old.is_public))) EXECUTE FUNCTION ohm.activity_trigger();
CREATE TRIGGER chats_after_delete_event AFTER DELETE ON public.chats FOR EACH ROW EXECUTE FUNCTION ohm.chats_after_delete_event();
CREATE TRIGGER chats_after_update_event AFTER UPDATE ON public.chats FOR EACH ROW WHEN (((new.last_event_seq > old.last_event_seq) AND (new.last_sequence = old.last_sequence) AND (((((((new.title IS DISTINCT FROM old.title) OR (new.phase IS DISTINCT FROM old.phase)) OR (new.is_public IS DISTINCT FROM old.is_public)) OR (new.is_archived IS DISTINCT FROM old.is_archived)) OR (new.is_pinned IS DISTINCT FROM old.is_pinned)) OR (new.project_id IS DISTINCT FROM old.project_id)) OR (new.current_leaf_id IS DISTINCT FROM old.current_leaf_id)))) EXECUTE FUNCTION ohm.chats_after_update_event();
CREATE TRIGGER chats_before_update_event BEFORE UPDATE ON public.chats FOR EACH ROW EXECUTE FUNCTION ohm.chats_before_update_event();
CREATE TRIGGER chats_check_current_leaf BEFORE INSERT OR UPDATE OF current_leaf_id ON public.chats FOR EACH ROW WHEN (((new.current_leaf_id IS NOT NULL) AND (pg_trigger_depth() = 0))) EXECUTE FUNCTION ohm.chats_check_current_leaf();
CREATE TRIGGER chats_set_updated_at BEFORE UPDATE ON public.chats FOR EACH ROW EXECUTE FUNCTION ohm.set_updated_at();
CREATE TRIGGER circuit_verifications_activity AFTER INSERT ON public.circuit_verifications FOR EACH ROW EXECUTE FUNCTION ohm.activity_trigger();
CREATE TRIGGER datasheet_analyses_activity AFTER INSERT ON public.datasheet_analyses FOR EACH ROW EXECUTE FUNCTION ohm.activity_trigger();
CREATE TRIGGER messages_0_search_vector BEFORE INSERT OR UPDATE OF content, content_search ON public.messages FOR EACH ROW EXECUTE FUNCTION ohm.messages_search_vector(); -- enabled always
CREATE TRIGGER messages_after_delete AFTER DELETE ON public.messages REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ohm.messages_after_delete();
CREATE TRIGGER messages_after_update_event AFTER UPDATE OF content, content_json, metadata, input_tokens, output_tokens, cost_usd ON public.messages FOR EACH ROW WHEN (((old.content IS DISTINCT FROM new.content) OR (old.content_json IS DISTINCT FROM new.content_json) OR (old.metadata IS DISTINCT FROM new.metadata) OR (old.input_tokens IS DISTINCT FROM new.input_tokens) OR (old.output_tokens IS DISTINCT FROM new.output_tokens) OR (old.cost_usd IS DISTINCT FROM new.cost_usd))) EXECUTE FUNCTION ohm.messages_after_update_event();
CREATE TRIGGER messages_after_update_usage AFTER UPDATE OF input_tokens, output_tokens, cost_usd ON public.messages FOR EACH ROW WHEN (((old.input_tokens IS DISTINCT FROM new.input_tokens) OR (old.output_tokens IS DISTINCT FROM new.output_tokens) OR (old.cost_usd IS DISTINCT FROM new.cost_usd))) EXECUTE FUNCTION ohm.messages_after_update_usage();
CREATE TRIGGER messages_before_insert BEFORE INSERT ON public.messages FOR EACH ROW EXECUTE FUNCTION ohm.messages_before_insert();
CREATE TRIGGER profiles_set_updated_at BEFORE UPDATE ON public.profiles FOR EACH ROW EXECUTE FUNCTION ohm.set_updated_at();
CREATE TRIGGER projects_activity AFTER INSERT OR DELETE OR UPDATE ON public.projects FOR EACH ROW EXECUTE FUNCTION ohm.activity_trigger();
CREATE TRIGGER projects_set_updated_at BEFORE UPDATE ON public.projects FOR EACH ROW EXECUTE FUNCTION ohm.set_updated_at();
CREATE TRIGGER shared_chats_activity AFTER INSERT ON public.shared_chats FOR EACH ROW EXECUTE FUNCTION ohm.activity_trigger();
CREATE TRIGGER shared_chats_activity_update AFTER UPDATE OF is_active, view_count ON public.shared_chats FOR EACH ROW WHEN (((new.is_active IS DISTINCT FROM old.is_active) OR ((new.view_count > old.view_count) AND ((old.last_viewed_at IS NULL) OR (old.last_viewed_at < (now() - '01:00:00'::interval)))))) EXECUTE FUNCTION ohm.activity_trigger();

-- === policies ============================================================================================
policy limits_read on ohm.limits permissive for select to authenticated, ohm_definer, service_role
  using (true)
policy login_codes_service on ohm.login_codes permissive for all to service_role
  using (true)
  with check (true)
policy realtime_watch_definer on ohm.realtime_watch permissive for all to ohm_definer
  using (true)
  with check (true)
policy share_views_definer on ohm.share_views permissive for all to ohm_definer
  using (true)
  with check (true)
policy usage_counters_definer on ohm.usage_counters permissive for all to ohm_definer
  using (true)
  with check (true)
policy usage_counters_select_own on ohm.usage_counters permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy activity_log_definer_insert on public.activity_log permissive for insert to ohm_definer
  with check (true)
policy activity_log_key_limit on public.activity_log restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[])) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[])) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
policy activity_log_owner_select on public.activity_log permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy api_keys_definer on public.api_keys permissive for all to ohm_definer
  using (true)
  with check (true)
policy api_keys_owner_select on public.api_keys permissive for select to authenticated
  using (((user_id = ( SELECT auth.uid() AS uid)) AND (( SELECT ohm.request_key() AS request_key) IS NULL)))
policy api_keys_owner_update on public.api_keys permissive for update to authenticated
  using (((user_id = ( SELECT auth.uid() AS uid)) AND (( SELECT ohm.request_key() AS request_key) IS NULL)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy artifact_versions_definer_select on public.artifact_versions permissive for select to ohm_definer
  using (true)
policy artifact_versions_key_limit on public.artifact_versions restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (EXISTS ( SELECT 1
   FROM artifacts a
  WHERE (a.id = artifact_versions.artifact_id)))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (EXISTS ( SELECT 1
   FROM artifacts a
  WHERE (a.id = artifact_versions.artifact_id)))))
policy artifact_versions_owner_insert on public.artifact_versions permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy artifact_versions_select on public.artifact_versions permissive for select to anon, authenticated
  using (((user_id = ( SELECT auth.uid() AS uid)) OR (EXISTS ( SELECT 1
   FROM (artifacts a
     JOIN chats c ON ((c.id = a.chat_id)))
  WHERE ((a.id = artifact_versions.artifact_id) AND c.is_public)))))
policy artifacts_definer on public.artifacts permissive for all to ohm_definer
  using (true)
  with check (true)
policy artifacts_key_limit on public.artifacts restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
policy artifacts_owner_delete on public.artifacts permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy artifacts_owner_insert on public.artifacts permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy artifacts_owner_update on public.artifacts permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy artifacts_select on public.artifacts permissive for select to anon, authenticated
  using (((user_id = ( SELECT auth.uid() AS uid)) OR (EXISTS ( SELECT 1
   FROM chats c
  WHERE ((c.id = artifacts.chat_id) AND c.is_public)))))
policy attachments_definer_select on public.attachments permissive for select to ohm_definer
  using (true)
policy attachments_key_limit on public.attachments restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[])) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[])) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
policy attachments_owner_delete on public.attachments permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy attachments_owner_insert on public.attachments permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy attachments_owner_update on public.attachments permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy attachments_select on public.attachments permissive for select to anon, authenticated
  using (((user_id = ( SELECT auth.uid() AS uid)) OR (EXISTS ( SELECT 1
   FROM chats c
  WHERE ((c.id = attachments.chat_id) AND c.is_public)))))
policy chat_forks_definer on public.chat_forks permissive for all to ohm_definer
  using (true)
  with check (true)
policy chat_forks_key_limit on public.chat_forks restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (fork_chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (fork_chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
policy chat_forks_owner_insert on public.chat_forks permissive for insert to authenticated
  with check (((forked_by = ( SELECT auth.uid() AS uid)) AND (EXISTS ( SELECT 1
   FROM chats c
  WHERE ((c.id = chat_forks.fork_chat_id) AND (c.user_id = ( SELECT auth.uid() AS uid))))) AND ((original_chat_id IS NULL) OR (EXISTS ( SELECT 1
   FROM chats c
  WHERE (c.id = chat_forks.original_chat_id)))) AND ((share_id IS NULL) OR (EXISTS ( SELECT 1
   FROM shared_chats s
  WHERE (s.id = chat_forks.share_id))))))
policy chat_forks_owner_select on public.chat_forks permissive for select to authenticated
  using ((forked_by = ( SELECT auth.uid() AS uid)))
policy chats_definer on public.chats permissive for all to ohm_definer
  using (true)
  with check (true)
policy chats_key_limit on public.chats restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[])) OR (project_id = ((( SELECT ohm.request_key() AS request_key) ->> 'project_id'::text))::uuid)))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[])) OR (project_id = ((( SELECT ohm.request_key() AS request_key) ->> 'project_id'::text))::uuid)))
policy chats_owner_delete on public.chats permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy chats_owner_insert on public.chats permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy chats_owner_update on public.chats permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy chats_select on public.chats permissive for select to anon, authenticated
  using ((is_public OR (user_id = ( SELECT auth.uid() AS uid))))
policy check_runs_key_limit on public.check_runs restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
policy check_runs_owner_delete on public.check_runs permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy check_runs_owner_insert on public.check_runs permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy check_runs_owner_select on public.check_runs permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy circuit_verifications_key_limit on public.circuit_verifications restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
policy circuit_verifications_owner_delete on public.circuit_verifications permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy circuit_verifications_owner_insert on public.circuit_verifications permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy circuit_verifications_owner_select on public.circuit_verifications permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy circuit_verifications_owner_update on public.circuit_verifications permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy code_files_key_limit on public.code_files restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
policy code_files_owner_delete on public.code_files permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy code_files_owner_insert on public.code_files permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy code_files_owner_select on public.code_files permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy code_files_owner_update on public.code_files permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy connections_key_limit on public.connections restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
policy connections_owner_delete on public.connections permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy connections_owner_insert on public.connections permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy connections_owner_select on public.connections permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy connections_owner_update on public.connections permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy datasheet_analyses_key_limit on public.datasheet_analyses restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
policy datasheet_analyses_owner_delete on public.datasheet_analyses permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy datasheet_analyses_owner_insert on public.datasheet_analyses permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy datasheet_analyses_owner_select on public.datasheet_analyses permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy datasheet_analyses_owner_update on public.datasheet_analyses permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy imported_chats_owner_select on public.imported_chats permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy imports_owner_select on public.imports permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy messages_definer_select on public.messages permissive for select to ohm_definer
  using (true)
policy messages_key_limit on public.messages restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
policy messages_owner_delete on public.messages permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy messages_owner_insert on public.messages permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy messages_owner_update on public.messages permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy messages_select on public.messages permissive for select to anon, authenticated
  using (((user_id = ( SELECT auth.uid() AS uid)) OR (EXISTS ( SELECT 1
   FROM chats c
  WHERE ((c.id = messages.chat_id) AND c.is_public)))))
policy model_prices_read on public.model_prices permissive for select to anon, authenticated, ohm_definer
  using (true)
policy part_library_read on public.part_library permissive for select to anon, authenticated, ohm_definer
  using (true)
policy parts_key_limit on public.parts restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (project_id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
policy parts_owner_delete on public.parts permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy parts_owner_insert on public.parts permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy parts_owner_select on public.parts permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy parts_owner_update on public.parts permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy profiles_definer on public.profiles permissive for all to ohm_definer
  using (true)
  with check (true)
policy profiles_select_own on public.profiles permissive for select to authenticated
  using ((id = ( SELECT auth.uid() AS uid)))
policy profiles_update_own on public.profiles permissive for update to authenticated
  using ((id = ( SELECT auth.uid() AS uid)))
  with check ((id = ( SELECT auth.uid() AS uid)))
policy projects_definer_select on public.projects permissive for select to ohm_definer
  using (true)
policy projects_key_limit on public.projects restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (id = ANY (( SELECT ohm.key_projects() AS key_projects)::uuid[]))))
policy projects_owner_delete on public.projects permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy projects_owner_insert on public.projects permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy projects_owner_select on public.projects permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy projects_owner_update on public.projects permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy realtime_events_definer on public.realtime_events permissive for insert to ohm_definer
  with check (true)
policy realtime_events_key_limit on public.realtime_events restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
policy realtime_events_select on public.realtime_events permissive for select to anon, authenticated
  using (((user_id = ( SELECT auth.uid() AS uid)) OR (EXISTS ( SELECT 1
   FROM chats c
  WHERE ((c.id = realtime_events.chat_id) AND c.is_public)))))
policy shared_chats_definer on public.shared_chats permissive for all to ohm_definer
  using (true)
  with check (true)
policy shared_chats_key_limit on public.shared_chats restrictive for all to authenticated
  using (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
  with check (((NOT ( SELECT ohm.key_limited() AS key_limited)) OR (chat_id = ANY (( SELECT ohm.key_chats() AS key_chats)::uuid[]))))
policy shared_chats_owner_delete on public.shared_chats permissive for delete to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy shared_chats_owner_insert on public.shared_chats permissive for insert to authenticated
  with check ((user_id = ( SELECT auth.uid() AS uid)))
policy shared_chats_owner_select on public.shared_chats permissive for select to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
policy shared_chats_owner_update on public.shared_chats permissive for update to authenticated
  using ((user_id = ( SELECT auth.uid() AS uid)))
  with check ((user_id = ( SELECT auth.uid() AS uid)))

-- === grants to OHM's roles ===============================================================================
grant USAGE on schema auth to anon
grant USAGE on schema auth to authenticated
grant USAGE on schema auth to service_role
grant USAGE on schema ohm to anon
grant USAGE on schema ohm to authenticated
grant USAGE on schema ohm to ohm_authenticator
grant CREATE, USAGE on schema ohm to ohm_definer
grant USAGE on schema ohm to service_role
grant USAGE on schema public to PUBLIC
grant USAGE on schema public to anon
grant USAGE on schema public to authenticated
grant USAGE on schema public to ohm_definer
grant USAGE on schema public to service_role
grant DELETE, INSERT, SELECT, UPDATE on auth.users to service_role
grant SELECT on ohm.limits to authenticated
grant SELECT on ohm.limits to ohm_definer
grant SELECT on ohm.limits to service_role
grant DELETE, INSERT, SELECT, UPDATE on ohm.login_codes to service_role
grant DELETE, INSERT, SELECT, UPDATE on ohm.realtime_watch to ohm_definer
grant DELETE, INSERT, SELECT on ohm.share_views to ohm_definer
grant SELECT on ohm.usage_counters to authenticated
grant INSERT, SELECT, UPDATE on ohm.usage_counters to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on ohm.usage_counters to service_role
grant SELECT on public.activity_log to authenticated
grant INSERT on public.activity_log to ohm_definer
grant DELETE, INSERT, SELECT on public.activity_log to service_role
grant INSERT, SELECT on public.api_keys to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.api_keys to service_role
grant SELECT on public.artifact_versions to anon
grant SELECT on public.artifact_versions to authenticated
grant SELECT on public.artifact_versions to ohm_definer
grant DELETE, INSERT, SELECT, UPDATE on public.artifact_versions to service_role
grant SELECT on public.artifacts to anon
grant DELETE, SELECT on public.artifacts to authenticated
grant SELECT, UPDATE on public.artifacts to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.artifacts to service_role
grant SELECT on public.attachments to anon
grant DELETE, SELECT on public.attachments to authenticated
grant SELECT on public.attachments to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.attachments to service_role
grant SELECT on public.chat_forks to authenticated
grant INSERT, SELECT on public.chat_forks to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.chat_forks to service_role
grant SELECT on public.chats to anon
grant DELETE, SELECT on public.chats to authenticated
grant SELECT, UPDATE on public.chats to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.chats to service_role
grant DELETE, SELECT on public.check_runs to authenticated
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.check_runs to service_role
grant DELETE, SELECT, UPDATE on public.circuit_verifications to authenticated
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.circuit_verifications to service_role
grant DELETE, SELECT, UPDATE on public.code_files to authenticated
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.code_files to service_role
grant DELETE, SELECT, UPDATE on public.connections to authenticated
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.connections to service_role
grant DELETE, SELECT, UPDATE on public.datasheet_analyses to authenticated
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.datasheet_analyses to service_role
grant SELECT on public.imported_chats to authenticated
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.imported_chats to service_role
grant SELECT on public.imports to authenticated
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.imports to service_role
grant SELECT on public.messages to anon
grant DELETE, SELECT on public.messages to authenticated
grant SELECT on public.messages to ohm_definer
grant DELETE, INSERT, SELECT, UPDATE on public.messages to service_role
grant SELECT on public.model_prices to anon
grant SELECT on public.model_prices to authenticated
grant SELECT on public.model_prices to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.model_prices to service_role
grant SELECT on public.part_library to anon
grant SELECT on public.part_library to authenticated
grant SELECT on public.part_library to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.part_library to service_role
grant DELETE, SELECT, UPDATE on public.parts to authenticated
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.parts to service_role
grant SELECT on public.profile_totals to authenticated
grant SELECT on public.profile_totals to service_role
grant SELECT on public.profiles to authenticated
grant INSERT, SELECT, UPDATE on public.profiles to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.profiles to service_role
grant DELETE, SELECT on public.projects to authenticated
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.projects to service_role
grant SELECT on public.realtime_events to anon
grant SELECT on public.realtime_events to authenticated
grant INSERT on public.realtime_events to ohm_definer
grant DELETE, SELECT on public.realtime_events to service_role
grant DELETE, SELECT on public.shared_chats to authenticated
grant SELECT, UPDATE on public.shared_chats to ohm_definer
grant DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on public.shared_chats to service_role
grant SELECT (chat_id, created_at, expires_at, id, last_used_at, name, prefix, project_id, revoked_at, scopes, user_id) on public.api_keys to authenticated
grant UPDATE (revoked_at) on public.api_keys to authenticated
grant UPDATE (last_used_at) on public.api_keys to ohm_definer
grant INSERT (artifact_id, change_summary, content_json, content_text, created_by_agent, created_by_message_id, created_by_user_id, parent_version_id, user_id) on public.artifact_versions to authenticated
grant INSERT (chat_id, forked_from_version_id, message_id, project_id, title, type, user_id) on public.artifacts to authenticated
grant UPDATE (project_id, title) on public.artifacts to authenticated
grant UPDATE (chat_id, filename, message_id, processing_error, processing_status, project_id) on public.attachments to authenticated
grant INSERT (fork_chat_id, fork_point_message_id, forked_by, original_chat_id, share_id, via_share) on public.chat_forks to authenticated
grant INSERT (is_archived, is_pinned, is_public, phase, project_id, title, user_id) on public.chats to authenticated
grant UPDATE (current_leaf_id, is_archived, is_pinned, is_public, phase, project_id, title) on public.chats to authenticated
grant INSERT (bom_version_id, code_version_id, errors, findings, infos, project_id, rules_version, user_id, warnings, wiring_version_id) on public.check_runs to authenticated
grant INSERT (attachment_id, chat_id, detected_components, issues, message_id, model, project_id, status, suggestions, user_id) on public.circuit_verifications to authenticated
grant INSERT (artifact_version_id, board, content, filename, framework, is_production_ready, language, libraries, platform, position, project_id, success_unit, user_id) on public.code_files to authenticated
grant INSERT (artifact_version_id, from_part, from_part_id, from_pin, instruction, position, project_id, signal_type, step_number, to_part, to_part_id, to_pin, user_id, voltage_level, warnings, wire_color) on public.connections to authenticated
grant INSERT (application_notes, attachment_id, key_specs, manufacturer, model, part_number, pinout, project_id, user_id, warnings) on public.datasheet_analyses to authenticated
grant INSERT (agent_icon, agent_model, agent_name, chat_id, content, content_json, cost_usd, input_tokens, intent, is_copy, latency_ms, metadata, output_tokens, parent_id, role, user_id) on public.messages to authenticated
grant UPDATE (content, content_json, metadata) on public.messages to authenticated
grant INSERT (alternatives, artifact_version_id, compatibility_warnings, currency, datasheet_analysis_id, datasheet_url, designators, footprint, lifecycle, manufacturer, mpn, name, notes, position, project_id, quantity, specs, supplier, supplier_part_number, unit_price, user_id, voltage_max, voltage_min) on public.parts to authenticated
grant UPDATE (avatar_url, display_name, preferences) on public.profiles to authenticated
grant INSERT (budget_amount, budget_currency, description, goal, location, name, requirements, spend_limit_usd, status, success_metrics, user_id, workflow_steps) on public.projects to authenticated
grant UPDATE (budget_amount, budget_currency, description, goal, location, name, requirements, spend_limit_usd, status, success_metrics, workflow_steps) on public.projects to authenticated
grant SELECT (id, user_id) on public.projects to ohm_definer
grant INSERT (artifact_versions, chat_id, expires_at, share_token, up_to_message_id, user_id) on public.shared_chats to authenticated
grant UPDATE (expires_at, is_active, revoked_at) on public.shared_chats to authenticated
grant execute on function auth.email() to PUBLIC, anon, authenticated, service_role
grant execute on function auth.jwt() to PUBLIC, anon, authenticated, service_role
grant execute on function auth.role() to PUBLIC, anon, authenticated, service_role
grant execute on function auth.uid() to PUBLIC, anon, authenticated, service_role
grant execute on function ohm.activity_trigger() to ohm_definer
grant execute on function ohm.add_usage(p_user uuid, p_messages bigint, p_input bigint, p_output bigint, p_cost numeric) to ohm_definer
grant execute on function ohm.api_key_lookup(p_prefix text) to ohm_authenticator, ohm_definer
grant execute on function ohm.append_message(p_role text, p_claims text, p_chat_id uuid, p_parent_given boolean, p_parent_id uuid, p_message_role message_role, p_content text, p_content_json jsonb, p_agent_name text, p_agent_model text, p_agent_icon text, p_intent agent_intent, p_input_tokens integer, p_output_tokens integer, p_cost_usd numeric, p_latency_ms integer, p_metadata jsonb) to ohm_authenticator
grant execute on function ohm.artifact_versions_before_insert() to ohm_definer
grant execute on function ohm.attachments_event() to ohm_definer
grant execute on function ohm.chat_lineage(p_chat uuid) to anon, authenticated, ohm_definer, service_role
grant execute on function ohm.chat_title_from(content text) to ohm_definer
grant execute on function ohm.chats_after_delete_event() to ohm_definer
grant execute on function ohm.chats_after_update_event() to ohm_definer
grant execute on function ohm.chats_check_current_leaf() to ohm_definer
grant execute on function ohm.create_api_key(p_name text, p_prefix text, p_secret_sha256 bytea, p_scopes text[], p_chat_id uuid, p_project_id uuid, p_expires_at timestamp with time zone) to authenticated, ohm_definer
grant execute on function ohm.current_bom_version(p_project uuid, p_chat uuid) to authenticated, service_role
grant execute on function ohm.emit_event(p_chat uuid, p_owner uuid, p_seq bigint, p_kind text, p_entity uuid, p_data jsonb) to ohm_definer
grant execute on function ohm.event_heads(p_chats uuid[]) to ohm_authenticator, ohm_definer
grant execute on function ohm.fork_owner() to authenticated, service_role
grant execute on function ohm.handle_auth_user_email_change() to ohm_definer
grant execute on function ohm.handle_new_auth_user() to ohm_definer
grant execute on function ohm.identifier_parts(t text) to anon, authenticated, ohm_authenticator, ohm_definer, service_role
grant execute on function ohm.key_chats() to authenticated, ohm_definer
grant execute on function ohm.key_limited() to authenticated, ohm_definer
grant execute on function ohm.key_projects() to authenticated, ohm_definer
grant execute on function ohm.log_activity(p_owner uuid, p_action text, p_entity_type text, p_entity uuid, p_chat uuid, p_project uuid, p_metadata jsonb) to ohm_definer
grant execute on function ohm.message_copy(m messages) to authenticated, service_role
grant execute on function ohm.messages_after_delete() to ohm_definer
grant execute on function ohm.messages_after_update_event() to ohm_definer
grant execute on function ohm.messages_after_update_usage() to ohm_definer
grant execute on function ohm.messages_before_insert() to ohm_definer
grant execute on function ohm.new_share_token() to authenticated, service_role
grant execute on function ohm.next_event_seq(p_chat uuid, OUT seq bigint, OUT owner uuid) to ohm_definer
grant execute on function ohm.price_model_id(p_model text) to authenticated, ohm_definer, service_role
grant execute on function ohm.record_fork(p_original uuid, p_fork uuid, p_fork_point uuid, p_share_token text) to authenticated, ohm_definer
grant execute on function ohm.request_key() to authenticated, ohm_definer
grant execute on function ohm.request_user_id() to ohm_definer
grant execute on function ohm.search_vector(t text) to anon, authenticated, ohm_authenticator, ohm_definer, service_role
grant execute on function ohm.share_attachments(p_token text) to anon, authenticated, ohm_definer, service_role
grant execute on function ohm.share_snapshot(p_token text, p_count_view boolean, p_visitor text, p_after integer, p_limit integer, p_budget bigint) to anon, authenticated, ohm_definer, service_role
grant execute on function ohm.text_array(p_value jsonb) to authenticated, service_role
grant execute on function ohm.use_api_key(p_key uuid, p_user uuid) to ohm_authenticator, ohm_definer
grant execute on function ohm.volts(p_value jsonb, p_bound text) to authenticated, service_role
grant execute on function ohm.watch_chats(p_chats uuid[], p_seconds integer) to ohm_authenticator, ohm_definer
grant execute on function ohm.write_fork(p_title text, p_messages jsonb, p_artifacts jsonb, p_original uuid, p_fork_point uuid, p_share_token text) to authenticated, service_role
grant execute on function public.fork_chat(chat_id uuid, message_id uuid) to authenticated, service_role
grant execute on function public.fork_share(token text, message_id uuid) to authenticated, service_role
grant execute on function public.message_count(profiles) to authenticated, service_role
grant execute on function public.read_share(token text, after_sequence integer, max_messages integer) to anon, authenticated, service_role
grant execute on function public.restore_artifact_version(artifact_id uuid, version integer) to authenticated, service_role
grant execute on function public.search_all(q text, types text[], project_id uuid, chat_id uuid, agent text, intent text, role text, since timestamp with time zone, until timestamp with time zone, for_user uuid, max_results integer, after_rank double precision, after_created_at timestamp with time zone, after_id uuid) to anon, authenticated, service_role
grant execute on function public.share_chat(chat_id uuid, up_to_message_id uuid, expires_at timestamp with time zone) to authenticated, service_role
grant execute on function public.total_cost_usd(profiles) to authenticated, service_role
grant execute on function public.total_input_tokens(profiles) to authenticated, service_role
grant execute on function public.total_output_tokens(profiles) to authenticated, service_role
grant execute on function public.usage_summary(group_by text, since timestamp with time zone, until timestamp with time zone, chat_id uuid, project_id uuid, role text, for_user uuid) to authenticated, service_role

-- === rows of ohm.limits ==================================================================================
('bom_parts', '1000')
('code_files', '200')
('fork_messages', '5000')
('forks_per_hour', '30')
('messages_per_user', '1000000')
('wiring_connections', '2000')

-- === rows of public.model_prices =========================================================================
('claude-3-5-haiku', 'anthropic', '0.800000', '4.000000', '0.080000', 'USD', '2024-10-22 00:00:00+00:00')
('claude-3-7-sonnet', 'anthropic', '3.000000', '15.000000', '0.300000', 'USD', '2025-02-24 00:00:00+00:00')
('claude-opus-4', 'anthropic', '15.000000', '75.000000', '1.500000', 'USD', '2025-05-22 00:00:00+00:00')
('claude-sonnet-4', 'anthropic', '3.000000', '15.000000', '0.300000', 'USD', '2025-05-22 00:00:00+00:00')
('gemini-1.5-pro', 'google', '1.250000', '5.000000', null, 'USD', '2024-10-01 00:00:00+00:00')
('gemini-2.0-flash', 'google', '0.100000', '0.400000', '0.025000', 'USD', '2025-02-05 00:00:00+00:00')
('gemini-2.5-flash', 'google', '0.300000', '2.500000', '0.075000', 'USD', '2025-06-17 00:00:00+00:00')
('gemini-2.5-pro', 'google', '1.250000', '10.000000', '0.310000', 'USD', '2025-06-17 00:00:00+00:00')
('gpt-4.1', 'openai', '2.000000', '8.000000', '0.500000', 'USD', '2025-04-14 00:00:00+00:00')
('gpt-4.1-mini', 'openai', '0.400000', '1.600000', '0.100000', 'USD', '2025-04-14 00:00:00+00:00')
('gpt-4o', 'openai', '5.000000', '15.000000', null, 'USD', '2024-05-13 00:00:00+00:00')
('gpt-4o', 'openai', '2.500000', '10.000000', '1.250000', 'USD', '2024-10-02 00:00:00+00:00')
('gpt-4o-mini', 'openai', '0.150000', '0.600000', '0.075000', 'USD', '2024-07-18 00:00:00+00:00')
('o1', 'openai', '15.000000', '60.000000', '7.500000', 'USD', '2024-12-05 00:00:00+00:00')
('o3-mini', 'openai', '1.100000', '4.400000', '0.550000', 'USD', '2025-01-31 00:00:00+00:00')
