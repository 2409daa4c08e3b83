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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ohm.auth import Identity, issue_token
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


@pytest.fixture(scope="session")
def make_user(app_url: str) -> Callable[..., User]:
    def make(name: str = "user") -> User:
        email = f"{name}-{secrets.token_hex(4)}@example.com"
        with acting(app_url, Identity.service()) as conn:
            row = conn.execute(
                "insert into auth.users (email, raw_user_meta_data) values (%s, %s) returning id",
                (email, Jsonb({"display_name": name})),
            ).fetchone()
        return User(row["id"], email)

    return make


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
                              data_dir=tmp_path_factory.mktemp("live-data"), rate_limit_writes="off"))
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
