"""The `ohm` command line against the test database."""

from __future__ import annotations

import uuid

import jwt
import psycopg
import pytest
from typer.testing import CliRunner

from ohm.cli import app, parse_ttl
from ohm.config import ConfigError

from .conftest import JWT_SECRET

runner = CliRunner()


@pytest.fixture
def env(database_url):
    return {"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET}


def invoke(env, *args):
    return runner.invoke(app, list(args), env=env)


def test_user_create_prints_the_id_and_token_finds_the_user(env, database_url):
    email = f"cli-{uuid.uuid4().hex[:8]}@Example.com"
    created = invoke(env, "user", "create", email, "--name", "CLI Maker")
    assert created.exit_code == 0, created.output
    user_id = uuid.UUID(created.stdout.strip())
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select email, display_name from profiles where id = %s", (user_id,)).fetchone() == (
            email.lower(), "CLI Maker")

    for key in (email.upper(), str(user_id)):
        result = invoke(env, "token", key, "--ttl", "2h")
        assert result.exit_code == 0, result.output
        claims = jwt.decode(result.stdout.strip(), JWT_SECRET, algorithms=["HS256"], audience="authenticated")
        assert claims["sub"] == str(user_id)
        assert claims["role"] == "authenticated"
        assert claims["exp"] - claims["iat"] == 7200


def test_duplicate_and_malformed_emails_are_clear_errors(env):
    email = f"dup-{uuid.uuid4().hex[:8]}@example.com"
    assert invoke(env, "user", "create", email).exit_code == 0
    again = invoke(env, "user", "create", email)
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    bad = invoke(env, "user", "create", "not-an-email")
    assert bad.exit_code == 2
    assert "not an email address" in bad.stderr


def test_service_role_token_needs_no_user(env):
    result = invoke(env, "token", "--role", "service_role", "--ttl", "30m")
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), JWT_SECRET, algorithms=["HS256"])
    assert claims["role"] == "service_role"
    assert "sub" not in claims


@pytest.mark.parametrize("args, message", [
    (("token",), "needs a USER"),
    (("token", "nobody@example.com"), "no user"),
    (("token", "--role", "postgres"), "unknown role"),
    (("token", "--role", "service_role", "--ttl", "forever"), "not a lifetime"),
])
def test_token_errors(env, args, message):
    result = invoke(env, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_parse_ttl():
    assert [parse_ttl(t) for t in ("90", "90s", "15m", "2h", "7d")] == [90, 90, 900, 7200, 604800]
    for bad in ("0", "-1", "1w", "", "h"):
        with pytest.raises(ConfigError):
            parse_ttl(bad)


def test_demo_is_loaded_once_with_three_bom_versions(env, database_url):
    first = invoke(env, "demo")
    assert first.exit_code == 0, first.output
    assert "(loaded)" in first.stdout or "(already loaded)" in first.stdout
    second = invoke(env, "demo")
    assert "(already loaded)" in second.stdout
    url = [line for line in first.stdout.splitlines() if "chat URL" in line][0]
    assert url in second.stdout
    chat_id = url.split("/chat/")[1].strip()
    with psycopg.connect(database_url) as conn:
        agents = {r[0] for r in conn.execute(
            "select distinct agent_name from messages where chat_id = %s and role = 'assistant'", (chat_id,))}
        assert agents == {"orchestrator", "bomGenerator", "wiringExpert", "codeGenerator"}
        versions = conn.execute(
            """select v.version_number, v.change_summary, array_agg(p.mpn order by p.position)
                 from artifacts a join artifact_versions v on v.artifact_id = a.id
                 join parts p on p.artifact_version_id = v.id
                where a.chat_id = %s and a.type = 'bom'
                group by 1, 2 order by 1""", (chat_id,)).fetchall()
        assert versions == [
            (1, "Initial BOM", ["ESP32-DEVKITC-32E", "AM2302", "SSD1306-128X64-I2C"]),
            (2, "Replaced DHT22 with BME280", ["ESP32-DEVKITC-32E", "BME280", "SSD1306-128X64-I2C"]),
            (3, "Added a rain sensor, breadboard and wires",
             ["ESP32-DEVKITC-32E", "BME280", "SSD1306-128X64-I2C", "YL-83", "BB-830", "JW-MF-20"]),
        ]
        parents = conn.execute(
            """select v.version_number, p.version_number from artifact_versions v
                 join artifacts a on a.id = v.artifact_id
                 left join artifact_versions p on p.id = v.parent_version_id
                where a.chat_id = %s and a.type = 'bom' order by 1""", (chat_id,)).fetchall()
        assert parents == [(1, None), (2, 1), (3, 2)]
        assert conn.execute(
            """select count(*) from connections c join artifact_versions v on v.id = c.artifact_version_id
                 join artifacts a on a.id = v.artifact_id where a.chat_id = %s""", (chat_id,)).fetchone()[0] == 11
        assert conn.execute("select array_agg(success_unit order by success_unit) from code_files f "
                            "join artifact_versions v on v.id = f.artifact_version_id join artifacts a on "
                            "a.id = v.artifact_id where a.chat_id = %s", (chat_id,)).fetchone()[0] == [1, 2, 3]
        title, count = conn.execute("select title, message_count from chats where id = %s", (chat_id,)).fetchone()
        assert (title, count) == ("ESP32 Weather Station", 11)


@pytest.mark.parametrize("url, message", [
    ("postgresql://postgres@127.0.0.1:1/nothing", "cannot connect to PostgreSQL at 127.0.0.1:1/nothing"),
    ("this is not a url", "invalid database URL"),
])
def test_bad_database_urls_are_clear_errors(url, message):
    result = runner.invoke(app, ["migrate", "--database-url", url], env={"OHM_JWT_SECRET": JWT_SECRET})
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_sql_prints_the_schema():
    result = runner.invoke(app, ["sql"])
    assert result.exit_code == 0
    assert result.stdout.startswith("-- OHM schema")
    assert "create table public.messages" in result.stdout
    assert result.stdout.rstrip().endswith("commit;")


async def test_the_worker_listener_gives_connections_tcp_nodelay():
    """uvicorn's own shared listener loses TCP_NODELAY (40 ms per keep-alive request); ours keeps it."""
    import asyncio
    import socket

    from ohm.cli import tcp_listener

    listener = tcp_listener("127.0.0.1", 0)
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Probe, sock=listener)
    port = listener.getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.read()
    writer.close()
    server.close()
    await server.wait_closed()
    assert seen == [1]


def test_keys_and_me(env, database_url, live_server):
    import httpx

    email = f"keys-{uuid.uuid4().hex[:8]}@example.com"
    assert invoke(env, "user", "create", email).exit_code == 0
    created = invoke(env, "keys", "create", email, "--name", "bomGenerator", "--scope", "chats:read",
                     "--scope", "chats:write", "--expires", "30d")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("ohm_sk_")
    with psycopg.connect(database_url) as conn:
        row = conn.execute("select k.id, k.scopes, k.expires_at > now() + interval '29 days', "
                           "k.secret_sha256 <> convert_to(%s, 'utf8') from api_keys k join profiles p "
                           "on p.id = k.user_id where p.email = %s", (secret, email)).fetchone()
    key_id, scopes_, expires_ok, hashed = row
    assert sorted(scopes_) == ["chats:read", "chats:write"] and expires_ok and hashed
    assert httpx.post(f"{live_server}/v1/chats", headers={"Authorization": f"Bearer {secret}"},
                      json={"title": "from a key"}).status_code == 201
    wide = {**env, "COLUMNS": "300"}
    listed = invoke(wide, "keys", "list", email)
    assert listed.exit_code == 0 and "bomGenerator" in listed.stdout and "active" in listed.stdout
    assert secret[15:] not in listed.stdout
    assert invoke(env, "keys", "revoke", email, str(key_id)).exit_code == 0
    assert httpx.get(f"{live_server}/v1/chats", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "revoked" in invoke(wide, "keys", "list", email).stdout
    bad = invoke(env, "keys", "create", email, "--name", "x", "--scope", "admin")
    assert bad.exit_code == 2 and "invalid key" in bad.stderr
    assert invoke(env, "keys", "revoke", email, "nope").exit_code == 2

    shown = invoke(env, "me", email, "--display-name", "Ada", "--preferences", '{"theme": "dark"}')
    assert shown.exit_code == 0, shown.output
    import json

    me = json.loads(shown.stdout)
    assert (me["display_name"], me["preferences"], me["totals"]["message_count"]) == ("Ada", {"theme": "dark"}, 0)
    assert invoke(env, "me", email, "--preferences", "[1]").exit_code == 2
    assert json.loads(invoke(env, "me", email).stdout)["display_name"] == "Ada"


def test_user_delete(env, database_url):
    email = f"gone-{uuid.uuid4().hex[:8]}@example.com"
    user_id = invoke(env, "user", "create", email).stdout.strip()
    refused = runner.invoke(app, ["user", "delete", email], env=env, input="n\n")
    assert refused.exit_code == 1
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from profiles where id = %s", (user_id,)).fetchone()[0] == 1
    done = invoke(env, "user", "delete", email, "--yes")
    assert done.exit_code == 0, done.output
    assert "deleted" in done.stdout and "0 chats" in done.stdout
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from auth.users where id = %s", (user_id,)).fetchone()[0] == 0
    assert invoke(env, "user", "delete", email, "--yes").exit_code == 2
