"""What a typed supabase-js front end sees: unambiguous embeds, and inserts without the database's columns.

PostgREST joins two tables in an embed (``chats?select=*,messages(*)``) through
their foreign keys; with two keys between them it refuses the embed without a
hint, and Supabase's type generator types it as one nullable row.  The first
test reads the catalog; the second generates the types with Supabase's own
generator (@supabase/postgres-meta, from npm) and type-checks a small front
end (tests/frontend/src/app.ts) with ``tsc --strict``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

pytestmark = pytest.mark.slow

FRONTEND = Path(__file__).resolve().parent / "frontend"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "supabase.md"

# The embeds a front end needs, each in one direction or the other.
EMBEDS = [
    ("chats", "messages"), ("chats", "artifacts"), ("chats", "projects"), ("chats", "attachments"),
    ("chats", "shared_chats"), ("chats", "profiles"), ("messages", "artifacts"), ("messages", "attachments"),
    ("artifacts", "artifact_versions"), ("artifacts", "projects"), ("artifact_versions", "parts"),
    ("artifact_versions", "connections"), ("artifact_versions", "code_files"), ("projects", "parts"),
    ("projects", "connections"), ("projects", "code_files"), ("projects", "circuit_verifications"),
    ("projects", "datasheet_analyses"), ("projects", "profiles"), ("attachments", "circuit_verifications"),
    ("attachments", "datasheet_analyses"),
]


def relationships(url: str) -> tuple[dict[frozenset[str], list[str]], list[str]]:
    """Foreign keys between two different tables of `public` (by pair), and junction tables as PostgREST
    detects them for many-to-many embeds (foreign keys to two tables, all their columns in the primary key)."""
    with psycopg.connect(url) as conn:
        keys = conn.execute(
            """select c.conrelid::regclass::text, c.confrelid::regclass::text, c.conname, c.conkey
                 from pg_constraint c
                where c.contype = 'f' and c.connamespace = 'public'::regnamespace
                  and c.confrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace)"""
        ).fetchall()
        primary = {t: set(cols) for t, cols in conn.execute(
            """select conrelid::regclass::text, conkey from pg_constraint
                where contype = 'p' and connamespace = 'public'::regnamespace""")}
    pairs: dict[frozenset[str], list[str]] = {}
    for table, target, name, _ in keys:
        if table != target:
            pairs.setdefault(frozenset((table, target)), []).append(name)
    junctions = []
    for table, target, name, columns in keys:
        for table2, target2, name2, columns2 in keys:
            if table == table2 and name < name2 and target != target2 \
                    and set(columns) | set(columns2) <= primary.get(table, set()):
                junctions.append(f"{table} ({name}, {name2})")
    return pairs, junctions


def test_every_embed_a_front_end_needs_has_exactly_one_foreign_key(database_url):
    pairs, junctions = relationships(database_url)
    ambiguous = {pair: names for pair, names in pairs.items() if len(names) > 1}
    for a, b in EMBEDS:
        assert len(pairs.get(frozenset((a, b)), [])) == 1, (a, b, pairs.get(frozenset((a, b))))
    assert junctions == [], "no table makes PostgREST see a many-to-many embed"
    # The pairs that truly need two keys: each key is named in docs/supabase.md as the hint to use.
    assert {tuple(sorted(pair)) for pair in ambiguous} == {
        ("chat_forks", "chats"), ("connections", "parts"), ("artifact_versions", "check_runs")}
    documented = DOCS.read_text()
    for names in ambiguous.values():
        for name in names:
            assert name in documented, f"docs/supabase.md does not name the embed hint {name}"


def node_url(conninfo: str) -> str:
    """A libpq connection string as the URL node-postgres reads (a socket directory as ?host=)."""
    params = conninfo_to_dict(conninfo)
    host = params.get("host") or "localhost"
    user = quote(params.get("user") or "postgres", safe="")
    password = f":{quote(params['password'], safe='')}" if params.get("password") else ""
    db, port = quote(params.get("dbname") or "postgres", safe=""), params.get("port") or "5432"
    if host.startswith("/"):
        # WHATWG URLs need a host name; node-postgres takes the socket directory from ?host= instead.
        return f"postgresql://{user}{password}@localhost:{port}/{db}?host={quote(host, safe='')}"
    return f"postgresql://{user}{password}@{host}:{port}/{db}"


@pytest.fixture(scope="session")
def frontend() -> Path:
    """tests/frontend with its npm packages installed (from its lock file)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the typed front-end check needs Node.js and npm: not found")
    installed = FRONTEND / "node_modules" / ".package-lock.json"
    lock = FRONTEND / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=FRONTEND,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"npm ci failed:\n{result.stderr[-3000:]}"
    return FRONTEND


def generate_types(frontend: Path, url: str) -> str:
    env = {**os.environ, "PG_META_DB_URL": node_url(url), "PG_META_GENERATE_TYPES": "typescript",
           "PG_META_GENERATE_TYPES_INCLUDED_SCHEMAS": "public"}
    server = frontend / "node_modules" / "@supabase" / "postgres-meta" / "dist" / "server" / "server.js"
    result = subprocess.run(["node", str(server)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "export type Database" in result.stdout, result.stderr[-3000:]
    return result.stdout


def typecheck(frontend: Path, types: str, workdir: Path) -> subprocess.CompletedProcess:
    (workdir / "src").mkdir()
    (workdir / "src" / "database.types.ts").write_text(types)
    shutil.copy(frontend / "src" / "app.ts", workdir / "src" / "app.ts")
    shutil.copy(frontend / "tsconfig.json", workdir / "tsconfig.json")
    (workdir / "node_modules").symlink_to(frontend / "node_modules")
    return subprocess.run(["node", str(frontend / "node_modules" / "typescript" / "bin" / "tsc"), "-p", str(workdir)],
                          capture_output=True, text=True, timeout=300)


def test_generated_types_type_check_a_supabase_js_front_end(database_url, frontend, tmp_path):
    types = generate_types(frontend, database_url)
    # The shapes the issue was about, as the generator writes them.
    messages = types[types.index("      messages: {"):]
    insert = re.search(r"Insert: \{(.*?)\n        \}", messages, re.S).group(1)
    assert "sequence_number?: number" in insert and "user_id?: string" in insert and "chat_id: string" in insert
    result = typecheck(frontend, types, tmp_path)
    assert result.returncode == 0, f"tsc --strict refused the front end:\n{result.stdout}{result.stderr}"


def test_the_type_check_fails_on_an_ambiguous_embed(database_url, new_database, frontend, tmp_path):
    """The check has teeth: put back a second key between chats and messages, and tsc refuses the front end."""
    from ohm.db.migrate import migrate

    url = new_database()
    migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute("alter table public.chats add constraint second_key foreign key (id, current_leaf_id) "
                     "references public.messages (chat_id, id) deferrable initially deferred")
    result = typecheck(frontend, generate_types(frontend, url), tmp_path)
    assert result.returncode != 0 and "app.ts" in result.stdout
