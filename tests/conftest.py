"""Fixtures: a real PostgreSQL for every test run.

With ``OHM_TEST_DATABASE_URL`` set (an owner/superuser URL of a server), each
test session creates a fresh database there, migrates it, and drops it at the
end.  Without it, the session starts an embedded PostgreSQL in a temporary
directory and does the same there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ohm.auth import Identity, issue_token
from ohm.client import OhmClient
from ohm.db.embedded import EmbeddedPostgres
from ohm.db.migrate import migrate, set_app_role_password
from ohm.db.session import SWITCH_IDENTITY
from ohm.db.target import derive_app_url

TEST_URL = os.environ.get("OHM_TEST_DATABASE_URL") or None
APP_PASSWORD = os.environ.get("OHM_APP_DB_PASSWORD") or None
JWT_SECRET = "test-secret-" + "x" * 40


def with_dbname(conninfo: str, dbname: str) -> str:
    params = conninfo_to_dict(conninfo)
    params["dbname"] = dbname
    return make_conninfo(**params)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Owner conninfo of the server's maintenance database."""
    if TEST_URL:
        yield TEST_URL
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("embedded-server"))
    server.start()
    try:
        yield server.conninfo(dbname="postgres")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def new_database(pg_server: str) -> Iterator[Callable[[], str]]:
    """Factory: a fresh, empty database on the test server (dropped at the end)."""
    created: list[str] = []

    def make() -> str:
        name = f"ohm_test_{secrets.token_hex(6)}"
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        return with_dbname(pg_server, name)

    yield make
    with psycopg.connect(pg_server, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def database_url(new_database: Callable[[], str]) -> str:
    """Owner URL of the session's migrated database."""
    url = new_database()
    migrate(url)
    if APP_PASSWORD:
        set_app_role_password(url, APP_PASSWORD)
    return url


@pytest.fixture(scope="session")
def app_url(database_url: str) -> str:
    """The same database as the application role (ohm_authenticator)."""
    return derive_app_url(database_url, APP_PASSWORD)


@contextlib.contextmanager
def acting(app_url: str, identity: Identity) -> Iterator[psycopg.Connection]:
    """A synchronous ``acting_as``: one transaction as ``identity``, committed at the end."""
    with psycopg.connect(app_url, autocommit=True, row_factory=dict_row) as conn:
        with conn.transaction():
            conn.execute(SWITCH_IDENTITY, (identity.role, identity.claims_json()))
            yield conn


@dataclass
class User:
    id: uuid.UUID
    email: str

    @property
    def identity(self) -> Identity:
        return Identity.user(self.id)

    def token(self, **kwargs) -> str:
        return issue_token(JWT_SECRET, user_id=self.id, email=self.email, **kwargs)


def server_user_maker(app_url: str) -> Callable[..., User]:
    def make(name: str = "user") -> User:
        email = f"{name}-{secrets.token_hex(4)}@example.com"
        with acting(app_url, Identity.service()) as conn:
            row = conn.execute(
                "insert into auth.users (email, raw_user_meta_data) values (%s, %s) returning id",
                (email, Jsonb({"display_name": name})),
            ).fetchone()
        return User(row["id"], email)

    return make


@pytest.fixture(scope="session")
def make_user(app_url: str) -> Callable[..., User]:
    return server_user_maker(app_url)


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user("alice")


@pytest.fixture
def other_user(make_user: Callable[..., User]) -> User:
    return make_user("bob")


@contextlib.contextmanager
def serving(config, port: int = 0) -> Iterator[str]:
    """A uvicorn.Config served on ``port`` (default: a free one) in a background thread; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app under uvicorn on a free port, in a background thread."""
    import uvicorn

    from ohm.api.app import create_app
    from ohm.config import Settings

    # The write rate limit has its own tests (with their own app); here it would only slow the load tests.
    app = create_app(Settings(database_url=database_url, jwt_secret=JWT_SECRET, db_pool_max=16,
                              data_dir=tmp_path_factory.mktemp("live-data"), rate_limit_writes="off",
                              rate_limit_public_reads="off"))
    with serving(uvicorn.Config(app, log_level="warning")) as url:
        yield url


@pytest.fixture
def http(live_server: str) -> Iterator:
    """Raw HTTP to the live server, for tests that read the wire format itself."""
    import httpx

    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def auth(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token()}"}


@pytest.fixture(scope="session")
def service_token() -> str:
    return issue_token(JWT_SECRET, role="service_role")


# --- a database built from Supabase's own SQL ----------------------------------------------------------------

def find_supabase_script() -> Path | None:
    """``start-supabase-pg`` (it builds a PostgreSQL 15 cluster from Supabase's own SQL, with ``postgres``
    demoted as on a hosted project): ``OHM_SUPABASE_PG_SCRIPT``, else ``shared/supabase/`` beside this
    repository, or beside the repository it was cloned from."""
    configured = os.environ.get("OHM_SUPABASE_PG_SCRIPT")
    if configured:
        return Path(configured)
    top = Path(__file__).resolve().parents[1]
    candidates = [top]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        origin = subprocess.run(["git", "-C", str(top), "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        origin = origin.removeprefix("file://")
        if origin and "://" not in origin and ":" not in origin.split("/")[0]:  # a path, not a remote host
            candidates.append((top / origin).resolve())
    for base in candidates:
        script = base.parent / "shared" / "supabase" / "start-supabase-pg"
        if script.is_file():
            return script
    return None


def pg15_binaries() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or bool(os.environ.get("PG_BIN"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SupabaseCluster:
    port: int
    directory: Path

    def url(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def fresh_database(self) -> str:
        """A new database copied from the pristine Supabase one; the ``postgres`` role's URL to it."""
        name = f"ohm_sb_{secrets.token_hex(5)}"
        with psycopg.connect(self.url(user="supabase_admin"), autocommit=True) as conn:
            conn.execute(sql.SQL("create database {} template postgres owner postgres").format(sql.Identifier(name)))
        return self.url(name)


@pytest.fixture(scope="session")
def supabase() -> Iterator[SupabaseCluster]:
    """A throwaway PostgreSQL 15 cluster laid out as a Supabase project's database (skips, saying why, when
    the script or the server binaries are missing)."""
    script = find_supabase_script()
    if script is None:
        pytest.skip("Supabase tests need start-supabase-pg (set OHM_SUPABASE_PG_SCRIPT): not found")
    if not pg15_binaries():
        pytest.skip("Supabase tests need the PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin): not found")
    directory = Path(tempfile.mkdtemp(prefix="ohm-supabase-"))
    port = free_port()
    try:
        result = subprocess.run([str(script), str(directory), str(port)], capture_output=True, text=True,
                                timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"start-supabase-pg failed: {result.stderr.strip()}")
        yield SupabaseCluster(port, directory)
    finally:
        subprocess.run([str(script), "--stop", str(directory)], capture_output=True, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def supabase_url(supabase: SupabaseCluster) -> str:
    """A Supabase database with OHM installed by `ohm migrate` as Supabase's own (non-superuser) postgres."""
    url = supabase.fresh_database()
    migrate(url)
    return url


# --- where the API roles connect: OHM's server role, or Supabase's PostgREST role ---------------------------------

@dataclass
class ApiTarget:
    """A database as the API roles reach it: ``url`` logs in as the role that switches into anon /
    authenticated / service_role per transaction (OHM's ``ohm_authenticator``, or Supabase's PostgREST
    ``authenticator``), exactly as each server does it."""

    name: str
    url: str
    owner_url: str
    make_user: Callable[..., User]


def supabase_user_maker(owner_url: str) -> Callable[..., User]:
    """Users signed up the way Supabase Auth does it: rows inserted into auth.users by supabase_auth_admin."""
    auth_url = make_conninfo(**{**conninfo_to_dict(owner_url), "user": "supabase_auth_admin"})

    def make(name: str = "user") -> User:
        email = f"{name}-{secrets.token_hex(4)}@example.com"
        with psycopg.connect(auth_url, autocommit=True) as conn:
            user_id = conn.execute(
                """insert into auth.users (instance_id, id, aud, role, email, raw_user_meta_data, created_at,
                                           updated_at)
                   values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated',
                           'authenticated', %s, %s, now(), now()) returning id""",
                (email, Jsonb({"full_name": name}))).fetchone()[0]
        return User(user_id, email)

    return make


@pytest.fixture(scope="module", params=["server", "supabase"])
def api_target(request: pytest.FixtureRequest) -> ApiTarget:
    if request.param == "server":
        owner = request.getfixturevalue("database_url")
        url = derive_app_url(owner, APP_PASSWORD)
        return ApiTarget("server", url, owner, server_user_maker(url))
    owner = request.getfixturevalue("supabase_url")
    return ApiTarget("supabase", make_conninfo(**{**conninfo_to_dict(owner), "user": "authenticator"}), owner,
                     supabase_user_maker(owner))

# --- the typed client as each kind of caller (live_server) -------------------------------------------------


@pytest.fixture
def alice(user, live_server):
    with OhmClient(live_server, token=user.token()) as client:
        yield client


@pytest.fixture
def bob(other_user, live_server):
    with OhmClient(live_server, token=other_user.token()) as client:
        yield client


@pytest.fixture
def anon(live_server):
    with OhmClient(live_server) as client:
        yield client


@pytest.fixture
def service(live_server, service_token):
    with OhmClient(live_server, token=service_token) as client:
        yield client
