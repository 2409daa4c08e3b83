"""Row-level security across every table a front end touches, enforced by the database.

Three users each own a complete set of rows (one row or more in every table):
alice and bob privately, carol through a public chat.  Acting as bob, nothing
of alice's can be read, changed, deleted or attached to; acting as anon only
carol's public chat and what hangs off it is visible, and nothing is
writable.  Every check ends by comparing alice's rows with a checksum taken
before.

Each check runs twice: through OHM's server role (ohm_authenticator) on the
test database, and through Supabase's PostgREST role (authenticator) on a
database built from Supabase's own SQL, exactly as supabase-js reaches it.
"""

from __future__ import annotations

import secrets
import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

from ohm.auth import Identity

from .conftest import acting

OWNER_COLUMN = {
    "profiles": "id", "projects": "user_id", "chats": "user_id", "messages": "user_id",
    "artifacts": "user_id", "artifact_versions": "user_id", "parts": "user_id", "connections": "user_id",
    "code_files": "user_id", "circuit_verifications": "user_id", "datasheet_analyses": "user_id",
    "attachments": "user_id", "shared_chats": "user_id", "chat_forks": "forked_by", "activity_log": "user_id",
    "realtime_events": "user_id", "check_runs": "user_id", "api_keys": "user_id", "imports": "user_id",
    "imported_chats": "user_id",
    # A user's totals: their usage slots and the view that sums them (written by the append triggers only).
    "ohm.usage_counters": "user_id", "profile_totals": "user_id",
}
TABLES = sorted(OWNER_COLUMN)
# Tables the API roles can reach that belong to nobody, and why they are not in the matrix.
NOT_OWNED = {
    "public.model_prices": "reference data: everyone reads it, only the service role writes (test_usage.py)",
    "ohm.limits": "the budgets: readable so that clients can show them, written only by the owner",
    "public.part_library": "reference data: everyone reads it, only the service role writes "
                           "(test_part_library.py)",
}

# A column the API roles may update (None: no UPDATE privilege at all) and a new value.
UPDATE = {
    "profiles": ("display_name", "'hacked'"), "projects": ("name", "'hacked'"),
    "chats": ("title", "'hacked'"), "messages": ("content", "'hacked'"),
    "artifacts": ("title", "'hacked'"), "artifact_versions": None, "parts": ("name", "'hacked'"),
    "connections": ("from_pin", "'hacked'"), "code_files": ("filename", "'hacked'"),
    "circuit_verifications": ("model", "'hacked'"), "datasheet_analyses": ("part_number", "'hacked'"),
    "attachments": ("filename", "'hacked'"), "shared_chats": ("expires_at", "now() + interval '1 day'"),
    "chat_forks": None, "activity_log": None, "realtime_events": None, "check_runs": None,
    "ohm.usage_counters": None, "profile_totals": None, "api_keys": ("revoked_at", "now()"), "imports": None,
    "imported_chats": None,
}

# Refusals: no privilege, or a view that cannot be written at all (profile_totals sums rows).
REFUSED = (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)

# Tables anon may select from (rows of public chats only).
ANON_READABLE = {"chats", "messages", "artifacts", "artifact_versions", "attachments", "realtime_events"}


def build_world(conn: psycopg.Connection, user_id: uuid.UUID, *, public: bool) -> dict[str, uuid.UUID]:
    """One row (at least) in every table, owned by ``user_id`` (service role)."""
    ids: dict[str, uuid.UUID] = {"user": user_id}

    def one(query: str, *params) -> uuid.UUID:
        return conn.execute(query, params).fetchone()["id"]

    ids["project"] = one("insert into projects (user_id, name) values (%s, 'Station') returning id", user_id)
    ids["chat"] = one(
        "insert into chats (user_id, project_id, is_public) values (%s, %s, %s) returning id",
        user_id, ids["project"], public)
    ids["message"] = one(
        "insert into messages (chat_id, user_id, role, content) values (%s, %s, 'user', 'secret words') "
        "returning id", ids["chat"], user_id)
    ids["reply"] = one(
        "insert into messages (chat_id, user_id, parent_id, role, content, agent_name) "
        "values (%s, %s, %s, 'assistant', 'reply', 'bomGenerator') returning id",
        ids["chat"], user_id, ids["message"])
    ids["artifact"] = one(
        "insert into artifacts (chat_id, user_id, project_id, message_id, type, title) "
        "values (%s, %s, %s, %s, 'bom', 'BOM') returning id",
        ids["chat"], user_id, ids["project"], ids["reply"])
    ids["version"] = one(
        "insert into artifact_versions (artifact_id, user_id, content_json) values (%s, %s, %s) returning id",
        ids["artifact"], user_id, Jsonb({"parts": [{"name": "BME280"}]}))
    ids["part"] = one(
        "insert into parts (user_id, project_id, artifact_version_id, name, mpn) "
        "values (%s, %s, %s, 'Sensor', 'BME280') returning id", user_id, ids["project"], ids["version"])
    ids["connection"] = one(
        "insert into connections (user_id, project_id, artifact_version_id, from_part, from_pin, to_part, "
        "to_pin, from_part_id) values (%s, %s, %s, 'U1', 'GPIO21', 'U2', 'SDA', %s) returning id",
        user_id, ids["project"], ids["version"], ids["part"])
    ids["code_file"] = one(
        "insert into code_files (user_id, project_id, artifact_version_id, filename, success_unit) "
        "values (%s, %s, %s, 'src/main.cpp', 1) returning id", user_id, ids["project"], ids["version"])
    ids["attachment"] = one(
        "insert into attachments (user_id, chat_id, message_id, project_id, storage_path, filename, "
        "mime_type, size_bytes, sha256, category) values (%s, %s, %s, %s, 'a/b', 'circuit.jpg', "
        "'image/jpeg', 10, %s, 'circuit_image') returning id",
        user_id, ids["chat"], ids["message"], ids["project"], "a" * 64)
    ids["verification"] = one(
        "insert into circuit_verifications (user_id, project_id, chat_id, attachment_id, status) "
        "values (%s, %s, %s, %s, 'pass') returning id", user_id, ids["project"], ids["chat"], ids["attachment"])
    ids["analysis"] = one(
        "insert into datasheet_analyses (user_id, project_id, attachment_id, part_number) "
        "values (%s, %s, %s, 'BME280') returning id", user_id, ids["project"], ids["attachment"])
    ids["share"] = one(
        "insert into shared_chats (chat_id, user_id, share_token) values (%s, %s, %s) returning id",
        ids["chat"], user_id, secrets.token_urlsafe(24))
    ids["fork_chat"] = one("insert into chats (user_id) values (%s) returning id", user_id)
    ids["fork"] = one(
        "insert into chat_forks (original_chat_id, fork_chat_id, forked_by) values (%s, %s, %s) returning id",
        ids["chat"], ids["fork_chat"], user_id)
    conn.execute(
        "insert into activity_log (user_id, action, entity_type, entity_id) values (%s, 'chat.created', 'chat', %s)",
        (user_id, ids["chat"]))
    ids["api_key"] = one(
        "insert into api_keys (user_id, name, prefix, secret_sha256, scopes, chat_id) values "
        "(%s, 'bomGenerator', %s, %s, '{*}', %s) returning id", user_id,
        "ohm_sk_" + secrets.token_hex(4), secrets.token_bytes(32), ids["chat"])
    ids["import"] = one("insert into imports (user_id, source, status) values (%s, 'chatgpt', 'done') returning id",
                        user_id)
    conn.execute("insert into imported_chats (import_id, user_id, source, source_id, position, status, chat_id) "
                 "values (%s, %s, 'chatgpt', %s, 0, 'created', %s)", (ids["import"], user_id, str(uuid.uuid4()),
                                                                     ids["chat"]))
    ids["check_run"] = one(
        "insert into check_runs (user_id, project_id, bom_version_id, rules_version) values (%s, %s, %s, 1) "
        "returning id", user_id, ids["project"], ids["version"])
    return ids


@pytest.fixture(scope="module")
def worlds(api_target):
    users = {name: api_target.make_user(name) for name in ("alice", "bob", "carol")}
    with acting(api_target.url, Identity.service()) as conn:
        built = {
            "alice": build_world(conn, users["alice"].id, public=False),
            "bob": build_world(conn, users["bob"].id, public=False),
            "carol": build_world(conn, users["carol"].id, public=True),
        }
    return users, built


def checksum(app_url: str, table: str, owner: uuid.UUID) -> str:
    with acting(app_url, Identity.service()) as conn:
        return conn.execute(
            f"select count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as c "
            f"from {table} t where {OWNER_COLUMN[table]} = %s",
            (owner,),
        ).fetchone()["c"]


def count_as(app_url: str, identity: Identity, table: str, owner: uuid.UUID) -> int:
    with acting(app_url, identity) as conn:
        return conn.execute(f"select count(*) as n from {table} where {OWNER_COLUMN[table]} = %s",
                            (owner,)).fetchone()["n"]


def test_the_matrix_covers_every_table_a_client_can_reach(api_target):
    """Read from the catalog: a new table that anon or authenticated can touch must join OWNER_COLUMN (and
    so every check below) or NOT_OWNED with a reason; the matrix cannot silently miss it."""
    with psycopg.connect(api_target.owner_url) as conn:
        reachable = {row[0] for row in conn.execute(
            """select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'p', 'v', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
                  and n.nspname in ('public', 'ohm')
                  and (has_table_privilege('anon', c.oid, 'select,insert,update,delete')
                       or has_table_privilege('authenticated', c.oid, 'select,insert,update,delete')
                       or has_any_column_privilege('anon', c.oid, 'select,insert,update')
                       or has_any_column_privilege('authenticated', c.oid, 'select,insert,update'))""")}
    assert reachable == {t if "." in t else f"public.{t}" for t in OWNER_COLUMN} | set(NOT_OWNED)


@pytest.mark.parametrize("table", TABLES)
def test_each_user_sees_their_own_rows(worlds, api_target, table):
    users, _ = worlds
    assert count_as(api_target.url, users["alice"].identity, table, users["alice"].id) >= 1


@pytest.mark.parametrize("table", TABLES)
def test_another_user_cannot_read_my_rows(worlds, api_target, table):
    users, _ = worlds
    assert count_as(api_target.url, users["bob"].identity, table, users["alice"].id) == 0
    # Not even by guessing ids, without a filter on the owner.
    with acting(api_target.url, users["bob"].identity) as conn:
        owners = {r["o"] for r in conn.execute(f"select {OWNER_COLUMN[table]} as o from {table}")}
    assert users["alice"].id not in owners


@pytest.mark.parametrize("table", TABLES)
def test_another_user_cannot_change_or_delete_my_rows(worlds, api_target, table):
    users, _ = worlds
    alice, bob = users["alice"], users["bob"]
    before = checksum(api_target.url, table, alice.id)
    owner_column = OWNER_COLUMN[table]
    statements = [f"delete from {table} where {owner_column} = %s"]
    if UPDATE[table]:
        column, value = UPDATE[table]
        statements.append(f"update {table} set {column} = {value} where {owner_column} = %s")
    else:
        statements.append(f"update {table} set {owner_column} = {owner_column} where {owner_column} = %s")
    for statement in statements:
        try:
            with acting(api_target.url, bob.identity) as conn:
                assert conn.execute(statement, (alice.id,)).rowcount == 0
        except REFUSED:
            pass  # no privilege at all is as good as no rows
    assert checksum(api_target.url, table, alice.id) == before


def hostile_inserts(a: dict, b_user: uuid.UUID) -> dict[str, list[tuple[str, tuple]]]:
    """For each table, inserts by bob that would claim or attach to alice's rows."""
    A, B = a["user"], b_user
    token = secrets.token_urlsafe(24)
    return {
        "profiles": [("insert into profiles (id) values (%s)", (A,))],
        "projects": [("insert into projects (user_id, name) values (%s, 'x')", (A,))],
        "chats": [("insert into chats (user_id) values (%s)", (A,)),
                  ("insert into chats (user_id, project_id) values (%s, %s)", (B, a["project"]))],
        "messages": [("insert into messages (chat_id, user_id, role) values (%s, %s, 'user')", (a["chat"], A)),
                     ("insert into messages (chat_id, user_id, role) values (%s, %s, 'user')", (a["chat"], B))],
        "artifacts": [("insert into artifacts (chat_id, user_id, type, title) values (%s, %s, 'bom', 'x')",
                       (a["chat"], A)),
                      ("insert into artifacts (chat_id, user_id, type, title) values (%s, %s, 'bom', 'x')",
                       (a["chat"], B))],
        "artifact_versions": [
            ("insert into artifact_versions (artifact_id, user_id, content_text) values (%s, %s, 'x')",
             (a["artifact"], A)),
            ("insert into artifact_versions (artifact_id, user_id, content_text) values (%s, %s, 'x')",
             (a["artifact"], B))],
        "parts": [("insert into parts (user_id, artifact_version_id, name) values (%s, %s, 'x')", (A, a["version"])),
                  ("insert into parts (user_id, artifact_version_id, name) values (%s, %s, 'x')", (B, a["version"]))],
        "connections": [
            ("insert into connections (user_id, artifact_version_id, from_part, from_pin, to_part, to_pin) "
             "values (%s, %s, 'a', 'b', 'c', 'd')", (B, a["version"]))],
        "code_files": [("insert into code_files (user_id, artifact_version_id, filename) values (%s, %s, 'x')",
                        (B, a["version"]))],
        "circuit_verifications": [
            ("insert into circuit_verifications (user_id, project_id) values (%s, %s)", (B, a["project"])),
            ("insert into circuit_verifications (user_id, project_id) values (%s, %s)", (A, a["project"]))],
        "datasheet_analyses": [
            ("insert into datasheet_analyses (user_id, attachment_id, part_number) values (%s, %s, 'x')",
             (B, a["attachment"]))],
        "attachments": [
            ("insert into attachments (user_id, chat_id, storage_path, filename, mime_type, size_bytes, sha256) "
             "values (%s, %s, 'p', 'f', 'a/b', 1, %s)", (B, a["chat"], "b" * 64)),
            ("insert into attachments (user_id, storage_path, filename, mime_type, size_bytes, sha256) "
             "values (%s, 'p', 'f', 'a/b', 1, %s)", (A, "b" * 64))],
        "shared_chats": [("insert into shared_chats (chat_id, user_id, share_token) values (%s, %s, %s)",
                          (a["chat"], B, token)),
                         ("insert into shared_chats (chat_id, user_id, share_token) values (%s, %s, %s)",
                          (a["chat"], A, token))],
        "chat_forks": [
            # Claiming alice's private chat as the original, or alice's chat as the fork.
            ("insert into chat_forks (original_chat_id, fork_chat_id, forked_by) "
             "values (%s, (select id from chats where user_id = %s limit 1), %s)", (a["chat"], B, B)),
            ("insert into chat_forks (fork_chat_id, forked_by) values (%s, %s)", (a["fork_chat"], B))],
        "activity_log": [("insert into activity_log (user_id, action, entity_type) values (%s, 'x.y', 'chat')",
                          (A,))],
        "realtime_events": [("insert into realtime_events (chat_id, user_id, event_seq, kind, entity_id) "
                             "values (%s, %s, 1000, 'chat.updated', %s)", (a["chat"], A, a["chat"]))],
        "check_runs": [("insert into check_runs (user_id, project_id, rules_version) values (%s, %s, 1)",
                        (B, a["project"])),
                       ("insert into check_runs (user_id, project_id, rules_version) values (%s, %s, 1)",
                        (A, a["project"]))],
        # A key of bob's limited to alice's chat or project (one that would act as bob there), or one for alice.
        "api_keys": [
            ("insert into api_keys (name, prefix, secret_sha256, scopes, chat_id) values ('x', %s, %s, '{*}', %s)",
             ("ohm_sk_" + secrets.token_hex(4), secrets.token_bytes(32), a["chat"])),
            ("insert into api_keys (name, prefix, secret_sha256, scopes, project_id) values ('x', %s, %s, '{*}', %s)",
             ("ohm_sk_" + secrets.token_hex(4), secrets.token_bytes(32), a["project"])),
            ("insert into api_keys (user_id, name, prefix, secret_sha256, scopes) values (%s, 'x', %s, %s, '{*}')",
             (A, "ohm_sk_" + secrets.token_hex(4), secrets.token_bytes(32)))],
        # Import jobs and their reports are written by the server only.
        "imports": [("insert into imports (user_id, source) values (%s, 'chatgpt')", (A,)),
                    ("insert into imports (user_id, source) values (%s, 'chatgpt')", (B,))],
        "imported_chats": [
            ("insert into imported_chats (import_id, user_id, source, source_id, position, status, chat_id) "
             "values (%s, %s, 'chatgpt', 'x', 0, 'created', %s)", (a["import"], B, a["chat"]))],
        "ohm.usage_counters": [
            ("insert into ohm.usage_counters (user_id, slot, message_count) values (%s, 31, 1000)", (A,)),
            ("insert into ohm.usage_counters (user_id, slot, message_count) values (%s, 31, -1000)", (B,))],
        "profile_totals": [("insert into profile_totals (user_id, message_count) values (%s, 0)", (A,))],
    }


@pytest.mark.parametrize("table", TABLES)
def test_another_user_cannot_write_rows_into_my_data(worlds, api_target, table):
    users, built = worlds
    alice, bob = users["alice"], users["bob"]
    before = checksum(api_target.url, table, alice.id)
    attempts = hostile_inserts(built["alice"], bob.id)[table]
    assert attempts
    for statement, params in attempts:
        with pytest.raises((*REFUSED, psycopg.errors.ForeignKeyViolation)):
            with acting(api_target.url, bob.identity) as conn:
                conn.execute(statement, params)
    assert checksum(api_target.url, table, alice.id) == before


@pytest.mark.parametrize("table", TABLES)
def test_anon_sees_only_public_chats_and_what_hangs_off_them(worlds, api_target, table):
    users, built = worlds
    carol = built["carol"]
    if table not in ANON_READABLE:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with acting(api_target.url, Identity.anon()) as conn:
                conn.execute(f"select * from {table}")
        return
    with acting(api_target.url, Identity.anon()) as conn:
        rows = conn.execute(f"select * from {table}").fetchall()
        public_chats = {r["id"] for r in conn.execute("select id from chats")}
    with acting(api_target.url, Identity.service()) as conn:
        truly_public = {r["id"] for r in conn.execute("select id from chats where is_public")}
        artifact_chat = {r["id"]: r["chat_id"] for r in conn.execute("select id, chat_id from artifacts")}
    chat_of = {
        "chats": lambda r: r["id"], "messages": lambda r: r["chat_id"], "attachments": lambda r: r["chat_id"],
        "artifacts": lambda r: r["chat_id"], "artifact_versions": lambda r: artifact_chat[r["artifact_id"]],
        "realtime_events": lambda r: r["chat_id"],
    }[table]
    assert rows, "carol's public rows are visible"
    assert public_chats == truly_public
    assert {chat_of(r) for r in rows} <= truly_public
    assert carol["chat"] in {chat_of(r) for r in rows}
    for name in ("alice", "bob"):
        assert users[name].id not in {r["user_id"] for r in rows}


@pytest.mark.parametrize("table", TABLES)
def test_anon_can_write_nothing(worlds, api_target, table):
    users, built = worlds
    carol = users["carol"]
    before = checksum(api_target.url, table, carol.id)
    owner_column = OWNER_COLUMN[table]
    for statement in (f"delete from {table} where {owner_column} = %s",
                      f"update {table} set {owner_column} = {owner_column} where {owner_column} = %s",
                      f"insert into {table} ({owner_column}) values (%s)"):
        with pytest.raises(REFUSED):
            with acting(api_target.url, Identity.anon()) as conn:
                conn.execute(statement, (carol.id,))
    assert checksum(api_target.url, table, carol.id) == before


def test_public_chats_are_readable_by_other_users_but_writable_only_by_the_owner(worlds, api_target):
    users, built = worlds
    bob, carol = users["bob"], built["carol"]
    with acting(api_target.url, bob.identity) as conn:
        assert conn.execute("select count(*) as n from messages where chat_id = %s",
                            (carol["chat"],)).fetchone()["n"] == 2
        assert conn.execute("select count(*) as n from artifact_versions where artifact_id = %s",
                            (carol["artifact"],)).fetchone()["n"] == 1
        assert conn.execute("update chats set title = 'mine now' where id = %s", (carol["chat"],)).rowcount == 0
        assert conn.execute("update messages set content = 'x' where chat_id = %s", (carol["chat"],)).rowcount == 0
        assert conn.execute("delete from artifacts where id = %s", (carol["artifact"],)).rowcount == 0
        # The project behind a public chat stays private.
        assert conn.execute("select count(*) as n from projects where id = %s",
                            (carol["project"],)).fetchone()["n"] == 0
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        with acting(api_target.url, bob.identity) as conn:
            conn.execute("insert into messages (chat_id, user_id, role) values (%s, %s, 'user')",
                         (carol["chat"], bob.id))
