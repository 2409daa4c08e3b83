"""Which PostgreSQL this process talks to, and as whom.

``admin_url`` is the owner connection (migrations, administration).
``app_url`` is the application login role, ``ohm_authenticator``: the only
connection requests run on.  Both come from the settings, or from the
embedded server when no URL is configured.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ohm.config import APP_ROLE, Settings
from ohm.db.embedded import EmbeddedPostgres
from ohm.db.migrate import MigrationReport, migrate, set_app_role_password
from ohm.db.replicas import Replicas
from ohm.db.session import Database


class DatabaseUnavailable(Exception):
    """The configured database cannot be reached or the URL is not usable."""


@dataclass
class DatabaseTarget:
    admin_url: str
    app_url: str
    embedded: EmbeddedPostgres | None = None
    migration_report: MigrationReport | None = None


def describe(conninfo: str) -> str:
    """host:port/dbname of a connection string, without user or password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<invalid URL>"
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or ''}"


URL_SHAPE = "postgresql://user:password@host:5432/dbname"


def check_url(conninfo: str) -> str:
    """A PostgreSQL URL (or libpq key=value string), or one line saying what shape is expected."""
    scheme = conninfo.split("://", 1)[0].lower() if "://" in conninfo else None
    if scheme is not None and scheme not in ("postgresql", "postgres"):
        raise DatabaseUnavailable(f"invalid database URL {redact_url(conninfo)!r}: expected {URL_SHAPE}")
    try:
        conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).split(":", 1)[0] if scheme else "not a URL or key=value pairs"
        raise DatabaseUnavailable(f"invalid database URL {redact_url(conninfo)!r} ({reason}): expected "
                                  f"{URL_SHAPE}") from None
    return conninfo


def redact_url(conninfo: str) -> str:
    """The URL with any password replaced, for messages."""
    import re

    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", re.sub(r"(password\s*=\s*)\S+", r"\1***", conninfo))


def derive_app_url(admin_url: str, password: str | None) -> str:
    """The owner URL with the user switched to the application role."""
    params = conninfo_to_dict(admin_url)
    params["user"] = APP_ROLE
    params.pop("password", None)
    if password:
        params["password"] = password
    return make_conninfo("", **params)


def probe(conninfo: str, *, timeout: int) -> None:
    """Connect once, turning failures into one clear sentence."""
    try:
        with psycopg.connect(conninfo, connect_timeout=timeout, autocommit=True):
            pass
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {describe(conninfo)}: {reason}"
        ) from None


@contextlib.contextmanager
def open_target(settings: Settings, *, run_migrations: bool = True) -> Iterator[DatabaseTarget]:
    """Resolve (and for the embedded default, start) the database.

    With ``run_migrations`` pending migrations are applied first, as
    ``ohm migrate`` would.
    """
    password = settings.app_db_password.get_secret_value() if settings.app_db_password else None
    embedded = None
    if settings.database_url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        embedded.start()
        admin_url, app_url = embedded.admin_url, embedded.app_url
    else:
        admin_url = check_url(settings.database_url)
        app_url = (
            check_url(settings.app_database_url)
            if settings.app_database_url
            else derive_app_url(admin_url, password)
        )
        probe(admin_url, timeout=settings.db_connect_timeout)
    try:
        report = None
        if run_migrations:
            report = migrate(admin_url, connect_timeout=settings.db_connect_timeout)
            if password and not embedded:
                set_app_role_password(admin_url, password, connect_timeout=settings.db_connect_timeout)
        if embedded is not None:
            embedded.secure()
        yield DatabaseTarget(admin_url, app_url, embedded, report)
    finally:
        if embedded is not None:
            embedded.stop()


@contextlib.asynccontextmanager
async def open_database(settings: Settings | None = None) -> AsyncIterator[Database]:
    """For agents using OHM in-process: the configured (or embedded) database, migrated, as a pool.

    ::

        async with open_database() as db:
            chat = await chats.create_chat(db, Identity.user(user_id), ChatCreate(title="..."))
    """
    from anyio import to_thread

    settings = settings or Settings()
    target_cm = open_target(settings)
    target = await to_thread.run_sync(target_cm.__enter__)
    try:
        async with Database(target.app_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                            timeout=settings.db_pool_timeout, connect_timeout=settings.db_connect_timeout,
                            statement_timeout_ms=settings.statement_timeout_ms) as db:
            db.target = target
            if settings.replica_urls:
                db.replicas = replicas_for(settings, db, password=(
                    settings.app_db_password.get_secret_value() if settings.app_db_password else
                    target.embedded.app_password if target.embedded else None))
                await db.replicas.start(db.current_lsn)
            try:
                yield db
            finally:
                if db.replicas is not None:
                    await db.replicas.stop()
    finally:
        await to_thread.run_sync(target_cm.__exit__, None, None, None)


def replicas_for(settings: Settings, db: Database, *, password: str | None) -> Replicas:
    """Pools on the configured standbys, as the application role, configured like the primary's."""
    pools = []
    for url in settings.replica_urls:
        check_url(url)
        app_url = url if conninfo_to_dict(url).get("user") == APP_ROLE else derive_app_url(url, password)
        pools.append((describe(url), db.pool_for(
            app_url, name=f"ohm-replica-{describe(url)}", min_size=0, max_size=settings.db_pool_max,
            timeout=settings.db_pool_timeout, connect_timeout=min(settings.db_connect_timeout, 3))))
    return Replicas(pools, max_lag=settings.replica_max_lag, wait_ms=settings.replica_wait_ms,
                    check_interval=settings.replica_check_interval, checkout_timeout=1.0)
