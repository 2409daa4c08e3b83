"""What a newcomer meets in the first hour: the `ohm` process's own messages (ports, data dirs, URLs, help),
the API's errors, and install hints that name the package as it is published.

Behaviour about the process (exit codes, what is printed before what, data dirs) goes through the installed
`ohm` entry point in a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from typer.testing import CliRunner

import ohm
from ohm.auth import issue_token
from ohm.cli import app
from ohm.client import OhmClient

from .conftest import JWT_SECRET, free_port

ROOT = Path(__file__).resolve().parents[1]
OHM = str(Path(sys.executable).with_name("ohm"))


def run_ohm(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real entry point, as a newcomer runs it: a clean environment but for what the test sets."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OHM_")}
    return subprocess.run([OHM, *args], env={**base, "COLUMNS": "200", **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


# --- the process -------------------------------------------------------------------------------------------

def test_a_busy_port_is_one_line_before_anything_is_announced(database_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_ohm("serve", "--port", str(port),
                         env={"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET})
    assert result.returncode == 2
    assert one_line(result.stderr) == f"error: port {port} is in use (use --port)"
    assert result.stdout == ""  # no docs URL, no token, no uvicorn lines of a server that never ran


def test_a_malformed_database_url_says_what_shape_is_expected():
    for url in ("http://example.com/db", "not a url at all", "postgresql://maker:s3cret@db:5432/ohm?sslmode"):
        result = run_ohm("migrate", "--database-url", url)
        assert result.returncode == 2, result
        line = one_line(result.stderr)
        assert line.startswith("error: invalid database URL") and "postgresql://user:password@host:5432/dbname" in line
        assert "s3cret" not in line and "Traceback" not in result.stderr


def test_a_bad_setting_is_one_line_naming_its_variable():
    result = run_ohm("migrate", env={"OHM_PORT": "eighty"})
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("error: OHM_PORT: ") and "'eighty'" in line


@pytest.mark.slow
def test_commands_say_which_data_dir_they_created_and_users_can_be_listed(tmp_path):
    data_dir = tmp_path / "second-terminal"
    env = {"OHM_DATA_DIR": str(data_dir)}
    created = run_ohm("user", "create", "maker@example.com", "--name", "Maker", env=env)
    assert created.returncode == 0, created.stderr
    note = one_line(created.stderr)
    assert note.startswith("note: created a new embedded database in ") and str(data_dir.resolve()) in note
    user_id = uuid.UUID(created.stdout.strip())

    listed = run_ohm("user", "list", env=env)
    assert listed.returncode == 0 and listed.stderr == ""  # the data dir exists now: nothing to note
    assert "maker@example.com" in listed.stdout and str(user_id) in listed.stdout

    shown = run_ohm("user", "show", "MAKER@example.com", env=env)
    assert shown.returncode == 0, shown.stderr
    profile = json.loads(shown.stdout)
    assert (profile["id"], profile["email"], profile["display_name"]) == (str(user_id), "maker@example.com", "Maker")

    missing = run_ohm("token", "nobody@example.com", env=env)
    assert missing.returncode == 2
    line = one_line(missing.stderr)
    assert "no user 'nobody@example.com'" in line and "ohm user create" in line

    anon = run_ohm("token", "maker@example.com", "--role", "anon", env=env)
    assert anon.returncode == 0
    assert "ignored" in one_line(anon.stderr)
    secret = (data_dir / "jwt_secret").read_text().strip()
    claims = jwt.decode(anon.stdout.strip(), secret, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["role"] == "anon" and "sub" not in claims


def test_share_tokens_never_reach_the_access_log(database_url, make_user, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OHM_")},
           "OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET, "OHM_DATA_DIR": str(tmp_path)}
    with log.open("w") as sink:
        server = subprocess.Popen([OHM, "serve", "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        maker = make_user("sharer")
        with OhmClient(base, token=maker.token()) as client:
            chat = client.create_chat(title="Shared")
            client.post_message(chat.id, "user", "hello")
            share = httpx.post(f"{base}/v1/chats/{chat.id}/shares", json={},
                               headers={"Authorization": f"Bearer {maker.token()}"}).json()
        token = share["token"]
        assert httpx.get(f"{base}/share/{token}").status_code == 200
        assert httpx.get(f"{base}/v1/shares/{token}").status_code == 200
    finally:
        server.terminate()
        server.wait(30)
    text = log.read_text()
    assert f"/share/{token}" not in text and token not in text
    assert "/share/[redacted]" in text and "/v1/shares/[redacted]" in text


# --- help --------------------------------------------------------------------------------------------------

def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_help_shows_no_type_for_flags_and_serve_shows_defaults_and_variables():
    import typer

    runner = CliRunner()
    for path in [(), *(p[:1] for p in _commands(typer.main.get_command(app))), *_commands(typer.main.get_command(app))]:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, path
        assert "<bool>" not in result.stdout, path
    serve = run_ohm("serve", "--help").stdout
    for expected in ("OHM_HOST", "OHM_PORT", "[default: 127.0.0.1]", "[default: 8000]", "OHM_DATABASE_URL"):
        assert expected in serve, expected


# --- the API -----------------------------------------------------------------------------------------------

def test_401s_are_ohm_problems_that_say_how_to_get_a_token(live_server, user):
    missing = httpx.post(f"{live_server}/v1/chats", json={})
    assert missing.status_code == 401
    body = missing.json()
    assert body["type"] == "urn:ohm:problem:unauthorized"
    assert "Authorization: Bearer <token>" in body["detail"] and "ohm token" in body["detail"]

    # a token from another data dir's secret: the answer says that is the likely cause
    other = issue_token("another-data-dirs-secret-" + "x" * 32, user_id=user.id)
    wrong = httpx.get(f"{live_server}/v1/chats", headers={"Authorization": f"Bearer {other}"})
    assert wrong.status_code == 401
    assert wrong.json()["type"] == "urn:ohm:problem:unauthorized"
    assert "another secret" in wrong.json()["detail"] and "OHM_DATA_DIR" in wrong.json()["detail"]


def test_usage_rows_without_an_agent_are_named_alike_in_the_cli_and_on_the_page(database_url, make_user,
                                                                                   live_server):
    maker = make_user("plain")
    with OhmClient(live_server, token=maker.token()) as client:
        chat = client.create_chat(title="No agents here")
        client.post_message(chat.id, "user", "hello", usage={"input_tokens": 10, "output_tokens": 0})
    result = CliRunner().invoke(app, ["usage", str(maker.id)], env={"OHM_DATABASE_URL": database_url,
                                                                  "OHM_JWT_SECRET": JWT_SECRET, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "(no agent)" in result.stdout and "(none)" not in result.stdout
    page = httpx.get(f"{live_server}/usage", cookies={"ohm_usage_token": maker.token()})
    assert page.status_code == 200
    assert "(no agent)" in page.text


# --- the package -------------------------------------------------------------------------------------------

def test_the_package_has_a_name_of_its_own_and_every_install_hint_uses_it(monkeypatch):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == ohm.DISTRIBUTION == "ohm-store"  # the index's "ohm" is someone else's
    assert project["scripts"]["ohm"] == "ohm.cli:main"
    hint = ohm.install_hint("wireviz")
    assert "pip install 'ohm-store[wireviz]'" in hint and "pip install -e '.[wireviz]'" in hint
    assert "wireviz" in project["optional-dependencies"]

    from ohm.hardware.exports import RendererMissing, render_wireviz_svg

    monkeypatch.setitem(sys.modules, "wireviz", None)  # as on a server without the extra
    with pytest.raises(RendererMissing) as missing:
        render_wireviz_svg("connectors: {}")
    assert hint in str(missing.value)

    # nothing tells anyone to install the other project
    texts = [*(ROOT / "src").rglob("*.py"), *(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]
    stale = [str(p.relative_to(ROOT)) for p in texts if "install 'ohm[" in p.read_text()
             or "install ohm " in p.read_text() or "install ohm\n" in p.read_text()]
    assert stale == []
