"""The schema as a whole: tables, forced RLS, the app role, indexes, policies."""

from __future__ import annotations

import re

import psycopg
import pytest

DESIGN_TABLES = {
    "profiles", "projects", "chats", "messages", "artifacts", "artifact_versions", "parts",
    "connections", "code_files", "circuit_verifications", "datasheet_analyses", "attachments",
    "shared_chats", "chat_forks", "activity_log",
}

# Columns the design names, per table.
DESIGN_COLUMNS = {
    # The totals (message_count, total_*) are computed fields since 0014: test_usage.py.
    "profiles": {"id", "email", "display_name", "preferences", "subscription_tier", "created_at", "updated_at"},
    "projects": {"user_id", "name", "description", "goal", "location", "budget_amount", "budget_currency",
                 "requirements", "workflow_steps", "success_metrics", "status", "created_at", "updated_at"},
    "chats": {"id", "user_id", "project_id", "title", "phase", "is_public", "is_archived", "is_pinned",
              "message_count", "last_message_at", "forked_from", "current_leaf_id", "created_at",
              "updated_at"},
    "messages": {"id", "chat_id", "user_id", "parent_id", "sequence_number", "role", "content",
                 "content_json", "agent_name", "agent_model", "agent_icon", "intent", "input_tokens",
                 "output_tokens", "cost_usd", "latency_ms", "metadata", "content_search", "created_at"},
    "artifacts": {"chat_id", "project_id", "user_id", "message_id", "type", "title", "current_version",
                  "total_versions"},
    "artifact_versions": {"artifact_id", "version_number", "parent_version_id", "content_text",
                          "content_json", "change_summary", "created_by_message_id", "created_by_agent",
                          "created_by_user_id", "created_at"},
    "parts": {"project_id", "artifact_version_id", "name", "mpn", "manufacturer", "quantity",
              "designators", "specs", "unit_price", "currency", "supplier", "datasheet_url",
              "alternatives", "compatibility_warnings"},
    "connections": {"project_id", "artifact_version_id", "from_part", "from_pin", "to_part", "to_pin",
                    "wire_color", "voltage_level", "signal_type", "step_number", "instruction", "warnings"},
    "code_files": {"project_id", "artifact_version_id", "filename", "language", "platform", "board",
                   "success_unit", "content", "libraries", "is_production_ready"},
    "circuit_verifications": {"status", "detected_components", "issues", "suggestions", "attachment_id",
                              "model"},
    "datasheet_analyses": {"part_number", "key_specs", "pinout", "application_notes", "warnings",
                           "attachment_id"},
    "attachments": {"bucket", "storage_path", "filename", "mime_type", "size_bytes", "sha256", "category",
                    "processing_status"},
    "shared_chats": {"share_token", "up_to_message_id", "is_active", "expires_at", "view_count",
                     "fork_count"},
    "chat_forks": {"original_chat_id", "fork_chat_id", "fork_point_message_id", "forked_by"},
    "activity_log": {"user_id", "action", "entity_type", "entity_id", "metadata", "created_at"},
}


@pytest.fixture(scope="module")
def conn(database_url):
    with psycopg.connect(database_url) as c:
        yield c


def public_tables(conn) -> dict[str, tuple[bool, bool]]:
    rows = conn.execute(
        """select relname, relrowsecurity, relforcerowsecurity from pg_class
            where relnamespace = 'public'::regnamespace and relkind in ('r', 'p')"""
    ).fetchall()
    return {name: (enabled, forced) for name, enabled, forced in rows}


def test_all_fifteen_design_tables_exist(conn):
    assert DESIGN_TABLES <= set(public_tables(conn))


@pytest.mark.parametrize("table", sorted(DESIGN_COLUMNS))
def test_design_columns_exist(conn, table):
    columns = {r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'public' and table_name = %s",
        (table,),
    )}
    assert DESIGN_COLUMNS[table] <= columns, DESIGN_COLUMNS[table] - columns


def test_every_table_has_rls_enabled_and_forced(conn):
    tables = public_tables(conn)
    not_forced = [name for name, (enabled, forced) in tables.items() if not (enabled and forced)]
    assert not_forced == []


def test_the_app_role_owns_nothing_and_bypasses_nothing(conn):
    role = conn.execute(
        """select rolsuper, rolbypassrls, rolinherit, rolcanlogin, rolcreaterole, rolcreatedb
             from pg_roles where rolname = 'ohm_authenticator'"""
    ).fetchone()
    assert role == (False, False, False, True, False, False)
    owned = conn.execute(
        """select count(*) from (
             select relowner as owner from pg_class
             union all select proowner from pg_proc
             union all select typowner from pg_type
             union all select nspowner from pg_namespace
           ) o where owner = 'ohm_authenticator'::regrole"""
    ).fetchone()[0]
    assert owned == 0
    granted = {r[0] for r in conn.execute(
        """select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid
            where m.member = 'ohm_authenticator'::regrole"""
    )}
    assert granted == {"anon", "authenticated", "service_role"}


def test_definer_role_cannot_log_in_and_is_not_granted_to_the_app(conn):
    assert conn.execute("select rolcanlogin, rolbypassrls from pg_roles where rolname = 'ohm_definer'").fetchone() == (
        False, False)
    assert not conn.execute("select pg_has_role('ohm_authenticator', 'ohm_definer', 'MEMBER')").fetchone()[0]


def test_table_owner_is_not_the_app_role(conn):
    owners = {r[0] for r in conn.execute(
        "select distinct relowner::regrole::text from pg_class where relnamespace = 'public'::regnamespace"
    )}
    assert "ohm_authenticator" not in owners


def indexed_leading_columns(conn) -> dict[str, set[str]]:
    rows = conn.execute(
        """select t.relname, a.attname
             from pg_index i
             join pg_class t on t.oid = i.indrelid
             join pg_attribute a on a.attrelid = t.oid and a.attnum = i.indkey[0]
            where t.relnamespace = 'public'::regnamespace"""
    ).fetchall()
    leading: dict[str, set[str]] = {}
    for table, column in rows:
        leading.setdefault(table, set()).add(column)
    return leading


def test_every_foreign_key_is_indexed(conn):
    leading = indexed_leading_columns(conn)
    fks = conn.execute(
        """select c.conrelid::regclass::text, c.conname,
                  array(select a.attname from unnest(c.conkey) k join pg_attribute a
                          on a.attrelid = c.conrelid and a.attnum = k)
             from pg_constraint c
            where c.contype = 'f' and c.connamespace = 'public'::regnamespace"""
    ).fetchall()
    assert fks
    missing = []
    for table, name, columns in fks:
        table = table.removeprefix("public.")
        # The lookup column of a composite key (chat_id, user_id) is the first
        # one that is not the owner column.
        key = next((c for c in columns if c != "user_id"), columns[0])
        if key not in leading.get(table, set()):
            missing.append(f"{table}.{name} ({key})")
    assert missing == []


def test_every_policy_owner_column_is_indexed_and_uses_select_auth_uid(conn):
    leading = indexed_leading_columns(conn)
    policies = conn.execute(
        "select tablename, policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '') from pg_policies "
        "where schemaname = 'public'"
    ).fetchall()
    assert policies
    checked = 0
    for table, name, text in policies:
        # auth.uid() only ever inside a scalar sub-select (evaluated once per statement).
        bare = re.findall(r"(?<!SELECT )auth\.uid\(\)", text)
        assert not bare, f"{table}.{name} calls auth.uid() per row: {text}"
        # Unqualified columns are this table's (qualified ones belong to a sub-select).
        for column in re.findall(r"(?<![.\w])(\w+) = \( SELECT auth\.uid\(\)", text):
            assert column in leading.get(table, set()), f"{table}.{column} used by {name} is not indexed"
            checked += 1
    assert checked >= 40  # the owner policies of all fifteen tables were looked at


def test_design_indexes(conn):
    defs = dict(conn.execute("select indexname, indexdef from pg_indexes where schemaname = 'public'"))
    assert "(user_id, last_message_at DESC" in defs["idx_chats_user_recent"]
    assert "UNIQUE INDEX" in defs["idx_messages_chat_seq"]
    assert "(chat_id, sequence_number)" in defs["idx_messages_chat_seq"]
    assert "gin (user_id, content_search)" in defs["idx_messages_search"]


@pytest.mark.parametrize("role", ["anon", "authenticated", "service_role"])
def test_api_roles_cannot_call_the_append_fast_path(app_url, role, make_user):
    """Only the server may pick an identity: the function takes it as an argument."""
    from ohm.auth import Identity

    from .conftest import acting

    victim = make_user("victim")
    identity = Identity.user(victim.id) if role == "authenticated" else Identity(role)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with acting(app_url, identity) as conn:
            conn.execute(
                "select * from ohm.append_message('service_role', '{}', gen_random_uuid(), false, null, 'user', "
                "'x', null, null, null, null, null, 0, 0, null, null, '{}')")


def test_the_fast_path_refuses_anon(app_url):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="may not append"):
        with psycopg.connect(app_url) as conn:
            conn.execute(
                "select * from ohm.append_message('anon', '{}', gen_random_uuid(), false, null, 'user', "
                "'x', null, null, null, null, null, 0, 0, null, null, '{}')")


def test_internal_functions_are_not_callable_by_everyone(conn):
    """Nothing in schema ohm is executable by PUBLIC; what the API roles may call is listed here."""
    public_exec = [r[0] for r in conn.execute(
        """select p.proname from pg_proc p
            where p.pronamespace = 'ohm'::regnamespace
              and has_function_privilege('public', p.oid, 'execute')""")]
    assert public_exec == []
    callable_by = {}
    for role in ("anon", "authenticated", "service_role", "ohm_authenticator"):
        callable_by[role] = sorted(r[0] for r in conn.execute(
            """select p.proname from pg_proc p
                where p.pronamespace = 'ohm'::regnamespace and p.prorettype <> 'trigger'::regtype
                  and has_function_privilege(%s, p.oid, 'execute')""", (role,)))
    search = ["identifier_parts", "search_vector"]
    shares = ["share_attachments", "share_snapshot"]
    assert callable_by["anon"] == sorted(["chat_lineage", *shares, *search])
    normalise = ["current_bom_version", "text_array", "volts"]
    prices = ["price_model_id"]
    forks = ["fork_owner", "message_copy", "new_share_token", "write_fork"]  # what the rpc functions use
    key_limits = ["key_chats", "key_limited", "key_projects", "request_key"]  # the API-key policies call these
    key_limits.append("create_api_key")  # keys are made only through it (a secret the server drew)
    assert callable_by["authenticated"] == sorted(["chat_lineage", "record_fork", *shares, *search, *normalise,
                                                   *prices, *forks, *key_limits])
    assert "append_message" in callable_by["ohm_authenticator"]
    assert {"api_key_lookup", "use_api_key"} <= set(callable_by["ohm_authenticator"])
    assert not {"api_key_lookup", "use_api_key"} & set(callable_by["authenticated"] + callable_by["service_role"])


def test_public_functions_are_exactly_the_documented_rpc_calls(conn):
    """PostgREST exposes every function of `public` its caller may execute: only the rpc functions of
    docs/supabase.md are there, each for exactly its callers (Supabase's default privileges would give
    anon and authenticated every new function)."""
    callable_by = {}
    for role in ("public", "anon", "authenticated", "service_role"):
        callable_by[role] = sorted(r[0] for r in conn.execute(
            """select p.proname from pg_proc p
                where p.pronamespace = 'public'::regnamespace and p.prokind = 'f'
                  and p.prorettype <> 'trigger'::regtype and has_function_privilege(%s, p.oid, 'execute')
                  and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')""",
            (role,)))
    anyone = ["read_share", "search_all"]
    users = ["fork_chat", "fork_share", "restore_artifact_version", "share_chat", "usage_summary"]
    # Computed fields of profiles (PostgREST: profiles?select=message_count), not rpc calls.
    computed = ["message_count", "total_cost_usd", "total_input_tokens", "total_output_tokens"]
    assert callable_by["public"] == []
    assert callable_by["anon"] == anyone
    assert callable_by["authenticated"] == sorted(anyone + users + computed)
    assert callable_by["service_role"] == sorted(anyone + users + computed)


def test_every_check_constraint_has_a_refusal_in_the_table(conn):
    """database_errors maps a refused CHECK by its exact name (store/constraints.py): every constraint of the
    schema is in that table, the table names none that does not exist, and the names the triggers raise
    are the ones the migrations raise."""
    from pathlib import Path

    from ohm.store import constraints

    catalog = {r[0] for r in conn.execute(
        "select conname from pg_constraint where contype = 'c' "
        "and connamespace in ('public'::regnamespace, 'ohm'::regnamespace)")}
    listed = constraints.ALL - constraints.RAISED
    assert catalog - listed == set(), "constraints without a refusal in store/constraints.py"
    assert listed - catalog == set(), "store/constraints.py names constraints the schema does not have"
    migrations = Path(__file__).resolve().parents[1] / "src" / "ohm" / "db" / "migrations"
    sql = "".join(p.read_text() for p in migrations.glob("*.sql"))
    assert set(re.findall(r"errcode = 'check_violation',\s*constraint = '(\w+)'", sql)) == constraints.RAISED
    groups = [constraints.TOO_LARGE, constraints.TOO_DEEP, constraints.BUDGETS, constraints.SHAPES, constraints.COST,
              constraints.NOT_ALLOWED]
    assert sum(map(len, groups)) == len(constraints.ALL), "a constraint is in two groups"
