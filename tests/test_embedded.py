"""The embedded default: `ohm` with no database URL starts its own PostgreSQL.

These tests run real `ohm` processes with a fresh OHM_DATA_DIR and no
OHM_DATABASE_URL, whichever server the rest of the suite uses.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = [pytest.mark.embedded, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ohm_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OHM_")}
    env.update({"OHM_DATA_DIR": str(data_dir), **extra})
    return env


def system_tool(name: str) -> str | None:
    """A system administration tool (runuser, useradd): on PATH, or in the sbin directories a minimal PATH
    may leave out."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def run_ohm(data_dir: Path, *args: str, user: str | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ohm", *args]
    if user is not None:
        command = [system_tool("runuser") or "runuser", "-u", user, "--", *command]
    return subprocess.run(command, env=ohm_env(data_dir), capture_output=True, text=True, timeout=timeout)


def postmaster(data_dir: Path) -> psutil.Process | None:
    pid_file = data_dir / "pg" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def wait_stopped(data_dir: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if postmaster(data_dir) is None:
            return True
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def serving(data_dir: Path, *extra_args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ohm", "serve", "--port", str(port), *extra_args],
        env=ohm_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"ohm serve exited: {proc.stdout.read()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("ohm serve did not become healthy")
            time.sleep(0.2)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_serve_starts_persists_across_restarts_and_stops_cleanly(tmp_path):
    data = tmp_path / "ohm-data"
    with serving(data) as (_, base):
        health = httpx.get(f"{base}/healthz").json()
        assert health["status"] == "ok" and health["embedded"] is True
        assert health["database"] == "ok (anon)"
        # A second ohm process on the same data dir attaches ...
        created = run_ohm(data, "user", "create", "maker@example.com")
        assert created.returncode == 0, created.stderr
        user_id = created.stdout.strip()
        # ... and leaving does not stop the server the first one still uses.
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert postmaster(data) is not None
    assert wait_stopped(data), "the embedded server stops with the last ohm process"

    # Data survives: a new process finds the user and signs a token with the kept secret.
    token = run_ohm(data, "token", "maker@example.com")
    assert token.returncode == 0, token.stderr
    assert (data / "jwt_secret").stat().st_mode & 0o777 == 0o600
    import jwt

    claims = jwt.decode(token.stdout.strip(), (data / "jwt_secret").read_text(), algorithms=["HS256"],
                        audience="authenticated")
    assert claims["sub"] == user_id
    assert wait_stopped(data)

    with serving(data) as (_, base):
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
    assert wait_stopped(data)


def test_serve_demo_loads_the_demo_once(tmp_path):
    data = tmp_path / "ohm-data"
    with serving(data, "--demo") as (proc, _):
        pass
    first = proc.stdout.read()
    assert "ESP32 Weather Station demo (loaded)" in first
    assert "/chat/" in first
    with serving(data, "--demo") as (proc, _):
        pass
    second = proc.stdout.read()
    assert "(already loaded)" in second
    chat_url = [line for line in first.splitlines() if "chat URL" in line][0]
    assert chat_url in second


def test_a_killed_process_does_not_keep_the_server_alive_forever(tmp_path):
    data = tmp_path / "ohm-data"
    with serving(data) as (proc, _):
        proc.kill()  # SIGKILL: no chance to detach
        proc.wait()
    assert postmaster(data) is not None, "the server outlives a killed ohm process"
    # The next ohm process forgets the dead handle, so when it leaves, it stops the server.
    result = run_ohm(data, "migrate")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert wait_stopped(data)


def _make_traversable(path: Path, changed: list[tuple[Path, int]]) -> None:
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            changed.append((parent, mode))
            parent.chmod(mode | stat.S_IXOTH)


@pytest.fixture
def unprivileged_user() -> Iterator[str]:
    """A normal system user that can run this interpreter and this checkout."""
    if os.geteuid() != 0:
        pytest.skip("already running as a normal user: the other embedded tests cover it")
    if system_tool("runuser") is None or system_tool("useradd") is None:
        pytest.skip("runuser and useradd (util-linux, passwd) are needed to run OHM as another user")
    name = "ohm_test_user"
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run([str(system_tool("useradd")), "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        name], check=True)
    # The interpreter and the installed package may live under a home
    # directory other users cannot enter; open a path through for the test.
    changed: list[tuple[Path, int]] = []
    import ohm

    for needed in (Path(os.path.realpath(sys.executable)), Path(sys.prefix), Path(ohm.__file__).resolve()):
        _make_traversable(needed.parent, changed)
    try:
        yield name
    finally:
        for path, mode in reversed(changed):
            path.chmod(mode)


def test_works_as_a_normal_user(unprivileged_user):
    uid = pwd.getpwnam(unprivileged_user).pw_uid
    data = Path(tempfile.mkdtemp(prefix="ohm-as-user-"))
    os.chown(data, uid, -1)
    try:
        _run_as_normal_user(data, uid, unprivileged_user)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _run_as_normal_user(data: Path, uid: int, unprivileged_user: str) -> None:
    created = run_ohm(data, "user", "create", "normal@example.com", user=unprivileged_user)
    assert created.returncode == 0, created.stderr
    found = run_ohm(data, "token", "normal@example.com", user=unprivileged_user)
    assert found.returncode == 0, found.stderr
    # The server ran as that user, not as root or a helper account.
    assert (data / "pg").stat().st_uid == uid
    assert wait_stopped(data)


def test_the_embedded_server_lets_only_ohm_in(tmp_path):
    """initdb runs with trust authentication: any local user reaching the socket could log in as
    ohm_authenticator and become service_role.  Now the role needs a password kept (0600) in the data dir,
    and the socket is the server user's alone."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from ohm.db.embedded import EmbeddedPostgres

    data = tmp_path / "ohm-data"
    with serving(data) as (_, base):
        assert httpx.get(f"{base}/healthz").json()["database"] == "ok (anon)"
        password_file = data / "app_db_password"
        assert password_file.stat().st_mode & 0o777 == 0o600 and len(password_file.read_text().strip()) >= 32
        server = EmbeddedPostgres(data)
        server.start()
        try:
            params = conninfo_to_dict(server.app_url)
            assert params["password"] == password_file.read_text().strip()
            without = make_conninfo(**{k: v for k, v in params.items() if k != "password"})
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(without, connect_timeout=5).close()
            wrong = make_conninfo(**{**params, "password": "guess"})
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(wrong, connect_timeout=5).close()
            with psycopg.connect(server.app_url, connect_timeout=5) as conn:
                assert conn.execute("select current_user").fetchone()[0] == "ohm_authenticator"
            with psycopg.connect(server.admin_url) as conn:
                directory = conn.execute("show unix_socket_directories").fetchone()[0].split(",")[0]
                port = conn.execute("show port").fetchone()[0]
                pending = conn.execute("select setting from pg_file_settings "
                                       "where name = 'unix_socket_permissions' and applied is not null").fetchall()
            assert stat.S_IMODE((Path(directory) / f".s.PGSQL.{port}").stat().st_mode) == 0o700
            assert ("0700",) in pending, "and from the next start on, as the server creates it"
        finally:
            server.stop()
