"""A PostgreSQL primary and a streaming standby of their own, for the replica tests and benchmark.

Built with the machine's server binaries (Debian: /usr/lib/postgresql/<major>/bin; or PG_BIN) in a
temporary directory: ``initdb`` for the primary, ``pg_basebackup -R`` for the standby (real streaming
replication), each on a free port of 127.0.0.1 with trust authentication.  As root the clusters run as
the ``postgres`` OS user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def server_binaries() -> Path | None:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgPair:
    """``with PgPair() as pair:`` a running primary and standby; ``pair.primary_url``, ``pair.standby_url``."""

    def __init__(self, root: Path | None = None) -> None:
        bin_dir = server_binaries()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries (Debian: apt-get install postgresql; or set PG_BIN)")
        self.bin = bin_dir
        self.root = Path(root or tempfile.mkdtemp(prefix="ohm-pgpair-"))
        self.primary_dir = self.root / "primary"
        self.standby_dir = self.root / "standby"
        self.primary_port = _free_port()
        self.standby_port = _free_port()
        self._as_postgres = os.geteuid() == 0

    # -- running commands as the clusters' owner ---------------------------------------------------------------

    def _run(self, *args: str | Path) -> None:
        result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300,
                                user="postgres" if self._as_postgres else None, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(str(args[0])).name} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def _pg_ctl(self, data: Path, *args: str) -> None:
        self._run(self.bin / "pg_ctl", "-D", data, "-l", data.parent / f"{data.name}.log", *args)

    @staticmethod
    def url(port: int, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def standby_url(self) -> str:
        return self.url(self.standby_port)

    # -- the life of the pair ----------------------------------------------------------------------------------

    def start(self) -> PgPair:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(self.bin / "initdb", "-D", self.primary_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        with (self.primary_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.primary_port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nwal_level = replica\nmax_wal_senders = 5\n"
                       "fsync = off\n")
        self._pg_ctl(self.primary_dir, "-w", "start")
        self._run(self.bin / "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "-D", self.standby_dir, "-R", "-X", "stream", "-c", "fast")
        with (self.standby_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.standby_port}\nhot_standby = on\nwal_receiver_status_interval = 1s\n")
        self.start_standby()
        return self

    def start_standby(self) -> None:
        self._pg_ctl(self.standby_dir, "-w", "start")

    def stop_standby(self, mode: str = "immediate") -> None:
        self._pg_ctl(self.standby_dir, "-m", mode, "-w", "stop")

    def set_apply_delay(self, milliseconds: int) -> None:
        """How long the standby holds each transaction before replaying it (recovery_min_apply_delay)."""
        with psycopg.connect(self.standby_url, autocommit=True) as conn:
            conn.execute(f"alter system set recovery_min_apply_delay = '{int(milliseconds)}ms'")
            conn.execute("select pg_reload_conf()")

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary_url, autocommit=True) as primary:
            target = primary.execute("select pg_current_wal_insert_lsn()").fetchone()[0]  # type: ignore[index]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.standby_url, autocommit=True) as standby:
            while not standby.execute("select pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:  # type: ignore[index]
                if time.monotonic() > deadline:
                    raise TimeoutError("the standby did not catch up")
                time.sleep(0.02)

    def close(self) -> None:
        for data in (self.standby_dir, self.primary_dir):
            if (data / "postmaster.pid").exists():
                try:
                    self._pg_ctl(data, "-m", "immediate", "-w", "stop")
                except RuntimeError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgPair:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
