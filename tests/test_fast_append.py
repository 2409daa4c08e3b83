"""The append route's short way (ohm.api.fast) answers exactly as the documented route does.

Two servers on one database: the app as it ships, and the same app without the short way. Every request
goes to both, each on its own copy of the chat; statuses, headers that matter, bodies and what the
database holds must agree. The shipped app also records, per request, whether the short way answered or
handed the request on, so the tests know which way each request went.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from ohm.api.app import create_app
from ohm.api.fast import DECLINED, FastAppend
from ohm.auth import issue_token
from ohm.config import Settings

from .conftest import JWT_SECRET, acting, serving
from .helpers import make_chat

MAX_BODY = 64 * 1024


class WhichWay:
    """Outermost middleware: remembers, per request path, whether the short way declined it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.declined: dict[str, bool] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.declined[scope["path"]] = DECLINED in scope


@pytest.fixture(scope="module")
def servers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, WhichWay]]:
    def app(short_way: bool) -> Any:
        built = create_app(Settings(database_url=database_url, jwt_secret=JWT_SECRET, db_pool_max=4,
                                    data_dir=tmp_path_factory.mktemp("fast-append"), rate_limit_writes="off",
                                    rate_limit_public_reads="off", max_body_bytes=MAX_BODY))
        if not short_way:
            built.router.routes[:] = [r for r in built.router.routes if not isinstance(r, FastAppend)]
        return built

    shipped = app(short_way=True)
    assert isinstance(shipped.router.routes[0], FastAppend)
    documented = app(short_way=False)
    recorder = WhichWay(shipped)
    with serving(uvicorn.Config(recorder, log_level="warning")) as fast, \
            serving(uvicorn.Config(documented, log_level="warning")) as slow:
        yield fast, slow, recorder


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def comparable(response: httpx.Response, chat: uuid.UUID) -> Any:
    """The body with what differs between two copies (ids, times, the chat) taken out."""
    text = response.text.replace(str(chat), "CHAT")
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if response.status_code == 201:
        assert UUID.fullmatch(body.pop("id")) and body.pop("created_at")
        if body.get("parent_id") is not None:
            body["parent_id"] = "a message"
    return body


class Pair:
    """One request, both ways, each on its own chat of the same owner."""

    def __init__(self, servers: tuple[str, str, WhichWay], app_url: str, owner: Any) -> None:
        self.fast, self.slow, self.recorder = servers
        self.app_url, self.owner = app_url, owner
        self.chats = (make_chat(app_url, owner), make_chat(app_url, owner))

    def post(self, body: bytes | str | dict | None, *, headers: dict[str, str] | None = None,
             chats: tuple[Any, Any] | None = None, path: str | None = None) -> tuple[httpx.Response, bool]:
        """POST to both; returns the short way's response and whether it declined, after checking the
        documented way answered the same."""
        if headers is None:
            headers = {"Authorization": f"Bearer {self.owner.token()}", "Content-Type": "application/json"}
        content = json.dumps(body) if isinstance(body, (dict, list)) else body
        answers = []
        for base, chat in zip((self.fast, self.slow), chats or self.chats, strict=True):
            url = f"{base}{path.format(chat=chat) if path else f'/v1/chats/{chat}/messages'}"
            response = httpx.post(url, content=content, headers=headers, timeout=30)
            answers.append((response, chat))
        (fast, fast_chat), (slow, slow_chat) = answers
        assert fast.status_code == slow.status_code, (fast.text, slow.text)
        assert comparable(fast, fast_chat) == comparable(slow, slow_chat)
        for header in ("content-type", "www-authenticate"):
            assert fast.headers.get(header) == slow.headers.get(header), header
        declined = self.recorder.declined[httpx.URL(str(fast.url)).path]
        return fast, declined

    def counts(self) -> tuple[int, int]:
        from ohm.auth import Identity

        with acting(self.app_url, Identity.service()) as conn:
            return tuple(conn.execute("select count(*) as n from public.messages where chat_id = %s",
                                      (chat,)).fetchone()["n"] for chat in self.chats)  # type: ignore[return-value]


MESSAGE = {"role": "assistant", "content": "Use a BME280 on I2C: SDA to GPIO21, SCL to GPIO22.", "intent": "WIRING",
           "agent": {"name": "wiringExpert", "model": "openai/gpt-4o", "icon": "🔌"},
           "usage": {"input_tokens": 1200, "output_tokens": 340}, "latency_ms": 812,
           "metadata": {"tool_calls": [{"name": "pinout", "args": {"part": "BME280"}}]}}


def test_ordinary_appends_take_the_short_way_and_answer_the_same(servers, app_url, user):
    pair = Pair(servers, app_url, user)
    response, declined = pair.post(MESSAGE)
    assert response.status_code == 201 and not declined
    assert response.json()["usage"]["cost_usd"] is not None
    # A charset parameter, a parent that starts a branch, an unknown model (a warning), what agents really
    # send (no agent, extra unicode, a bare user turn): all the short way.
    first = response.json()["id"]
    for body, headers in (
            ({"role": "user", "content": "and a 3.3 V regulator?"},
             {"Content-Type": "application/json; charset=utf-8"}),
            ({**MESSAGE, "agent": {"name": "bomGenerator", "model": "acme/unknown-9000"}}, None),
            ({"role": "assistant", "content": "Ω µ 🌡️ — \t tabs\nand lines", "intent": "CHAT"}, None),
    ):
        if headers is not None:
            headers = {"Authorization": f"Bearer {user.token()}", **headers}
        response, declined = pair.post(body, headers=headers)
        assert response.status_code == 201 and not declined, response.text
    unknown = pair.post({**MESSAGE, "agent": {"name": "x", "model": "acme/unknown-9000"}})[0].json()
    assert unknown["usage"]["cost_usd"] is None and unknown["warnings"]
    # Branching from the first message: each copy names its own first message.
    firsts = []
    for chat in pair.chats:
        with acting(app_url, user.identity) as conn:
            firsts.append(conn.execute("select id from public.messages where chat_id = %s and sequence_number = 1",
                                       (chat,)).fetchone()["id"])
    assert first in {str(f) for f in firsts}
    for base, chat, parent in zip((pair.fast, pair.slow), pair.chats, firsts, strict=True):
        branched = httpx.post(f"{base}/v1/chats/{chat}/messages", headers={"Authorization": f"Bearer {user.token()}"},
                              json={"role": "assistant", "content": "regenerated", "parent_id": str(parent)})
        assert branched.status_code == 201 and branched.json()["parent_id"] == str(parent)
    fast_count, slow_count = pair.counts()
    assert fast_count == slow_count == 6


def test_refused_appends_answer_the_same_and_write_nothing(servers, app_url, user, other_user):
    pair = Pair(servers, app_url, user)
    token = user.token()
    bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deep = "[" * 30_000 + "]" * 30_000
    cases: list[tuple[str, Any, dict[str, str] | None, int]] = [
        ("not JSON", "{role: assistant", bearer, 422),
        ("nested past the stack", deep, bearer, 400),
        ("empty body", "", bearer, 422),
        ("a list", [MESSAGE], bearer, 422),
        ("no role", {"content": "hi"}, bearer, 422),
        ("unknown role", {**MESSAGE, "role": "robot"}, bearer, 422),
        ("negative tokens", {**MESSAGE, "usage": {"input_tokens": -5}}, bearer, 422),
        ("a NUL in the content", {**MESSAGE, "content": "a\u0000b"}, bearer, 422),
        ("parent of nowhere", {**MESSAGE, "parent_id": str(uuid.uuid4())}, bearer, 422),
        ("parent not a UUID", {**MESSAGE, "parent_id": "latest"}, bearer, 422),
        ("no token", MESSAGE, {"Content-Type": "application/json"}, 401),
        ("not a bearer token", MESSAGE, {"Authorization": f"Basic {token}", "Content-Type": "application/json"}, 401),
        ("a forged token", MESSAGE, {"Authorization": f"Bearer {token[:-4]}AAAA", "Content-Type": "application/json"},
         401),
        ("an expired token", MESSAGE, {"Authorization": "Bearer " + issue_token(
            JWT_SECRET, user_id=user.id, ttl_seconds=60, now=1_000_000), "Content-Type": "application/json"}, 401),
        ("the anon role", MESSAGE, {"Authorization": "Bearer " + issue_token(JWT_SECRET, role="anon"),
                                    "Content-Type": "application/json"}, 401),
        ("someone else's chat", MESSAGE, {"Authorization": f"Bearer {other_user.token()}",
                                          "Content-Type": "application/json"}, 404),
        ("plain text", MESSAGE, {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}, 422),
        ("too large", {**MESSAGE, "content": "x" * (MAX_BODY + 1)}, bearer, 413),
    ]
    wrong = []
    for name, body, headers, status in cases:
        response, _ = pair.post(body, headers=headers)
        if response.status_code != status:
            wrong.append(f"{name}: {response.status_code} {response.text[:200]}")
        elif not response.headers["content-type"].startswith("application/problem+json"):
            wrong.append(f"{name}: {response.headers['content-type']}")
    assert not wrong, "\n".join(wrong)
    # A chat that does not exist, and one that is not a UUID, answer alike too.
    assert pair.post(MESSAGE, chats=(uuid.uuid4(), uuid.uuid4()))[0].status_code == 404
    assert pair.post(MESSAGE, path="/v1/chats/{chat}-x/messages")[0].status_code == 422
    assert pair.counts() == (0, 0)


def test_other_json_types_are_the_documented_routes(servers, app_url, user):
    """A +json media type is JSON to FastAPI: the short way leaves it to the route, which accepts it."""
    pair = Pair(servers, app_url, user)
    response, declined = pair.post(MESSAGE, headers={"Authorization": f"Bearer {user.token()}",
                                                     "Content-Type": "application/vnd.ohm+json"})
    assert response.status_code == 201 and declined
    assert pair.counts() == (1, 1)


def test_api_keys_on_the_short_way(servers, app_url, user, live_server):
    pair = Pair(servers, app_url, user)
    owner = {"Authorization": f"Bearer {user.token()}"}

    def key(**body: Any) -> dict[str, str]:
        created = httpx.post(f"{live_server}/v1/keys", headers=owner, json={"name": "bomGenerator", **body})
        assert created.status_code == 201, created.text
        return {"Authorization": f"Bearer {created.json()['secret']}", "Content-Type": "application/json"}

    writer = key(scopes=["messages:write"])
    response, declined = pair.post({"role": "assistant", "content": "BOM ready"}, headers=writer)
    assert response.status_code == 201 and not declined
    assert response.json()["agent"]["name"] == "bomGenerator"  # a key's name answers when no agent is given
    reader = key(scopes=["chats:read"])
    response, declined = pair.post(MESSAGE, headers=reader)
    assert response.status_code == 403 and declined
    elsewhere = key(scopes=["*"], chat_id=str(make_chat(app_url, user)))
    response, declined = pair.post(MESSAGE, headers=elsewhere)
    assert response.status_code == 404 and not declined  # the database holds a key to its chat
    assert pair.counts() == (1, 1)


def test_the_service_role_appends_the_same(servers, app_url, user, service_token):
    pair = Pair(servers, app_url, user)
    response, declined = pair.post(MESSAGE, headers={"Authorization": f"Bearer {service_token}",
                                                     "Content-Type": "application/json"})
    assert response.status_code == 201 and not declined
    assert pair.counts() == (1, 1)


def test_a_client_that_leaves_mid_body_is_no_error(servers, app_url, user, caplog):
    """Headers promising a body, a few bytes of it, then the socket closes: nothing written, nothing logged
    as an error, and the server goes on answering."""
    import logging
    import socket
    import time

    fast, _, _ = servers
    chat = make_chat(app_url, user)
    host, port = httpx.URL(fast).host, httpx.URL(fast).port
    caplog.set_level(logging.WARNING)
    with socket.create_connection((host, port)) as sock:
        sock.sendall((f"POST /v1/chats/{chat}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user.token()}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"role\": \"us").encode())
        time.sleep(0.2)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # the server notices the close
        time.sleep(0.1)
        if any(r.levelno >= logging.ERROR for r in caplog.records):
            break
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    with acting(app_url, user.identity) as conn:
        assert conn.execute("select count(*) as n from public.messages where chat_id = %s",
                            (chat,)).fetchone()["n"] == 0
    ok = httpx.post(f"{fast}/v1/chats/{chat}/messages", json=MESSAGE,
                    headers={"Authorization": f"Bearer {user.token()}"})
    assert ok.status_code == 201


def test_json_that_readers_disagree_on_answers_the_same(servers, app_url, user):
    """Bodies Python's json reads and orjson (the short way's reader) does not, or reads differently:
    both ways agree on each, and on what was stored."""
    pair = Pair(servers, app_url, user)
    good = json.dumps(MESSAGE)
    bodies = {
        "NaN in metadata": good.replace('"latency_ms": 812', '"latency_ms": 812, "metadata": {"x": NaN}'),
        "an int past 64 bits": good.replace('"latency_ms": 812', '"latency_ms": 99999999999999999999999'),
        "an int past 64 bits in metadata": good.replace('"pinout"', '"p", "n": 99999999999999999999999, "q": "x"'),
        "a BOM": "\ufeff" + good,
        "UTF-16": good.encode("utf-16"),
        "an unpaired surrogate": good.replace("Use a BME280", "Use a \\ud800 BME280"),
        "invalid UTF-8": good.encode().replace(b"Use a", b"Use \xff\xfe"),
        "duplicate keys": good[:-1] + ', "content": "the later one"}',
        "escaped NUL as text": good.replace("Use a BME280", "Use a \\\\u0000 BME280"),
        "a NUL in a metadata key": good.replace('"tool_calls"', '"tool\\u0000calls"'),
    }
    answers = {}
    for name, body in bodies.items():
        response, _ = pair.post(body)
        answers[name] = response.status_code
    assert answers["duplicate keys"] == 201 and answers["escaped NUL as text"] == 201
    assert answers["a NUL in a metadata key"] == 422
    assert all(status < 500 for status in answers.values()), answers
    fast_count, slow_count = pair.counts()
    assert fast_count == slow_count == sum(1 for status in answers.values() if status == 201)


def test_oversized_json_values_are_refused_without_walking_them(app_url, user):
    """4 MiB of small values in metadata: refused as too large (413), and NULs are found wherever they are."""
    from ohm.store._common import check_json_size
    from ohm.store.errors import Invalid, TooLarge

    with pytest.raises(TooLarge, match="at least"):
        check_json_size("metadata", {"a": [1] * 2_000_000}, 256 * 1024)
    for value in ({"a": "x\x00y"}, {"k\x00": 1}, {"a": ["\\", "\x00"]}, {"a": "\\\x00"}, [[["\x00"]]]):
        with pytest.raises(Invalid, match="NUL"):
            check_json_size("metadata", value, 256 * 1024)
    for value in ({"a": "\\u0000"}, {"a": "\\\\u0000"}, {"a": "\ud800"}, {"a": 2**70}, {"a": "\\"}):
        check_json_size("metadata", value, 256 * 1024)
    with pytest.raises(TooLarge, match="bytes as JSON"):  # measured as PostgreSQL writes it: ", " and ": "
        check_json_size("metadata", {"a": [1] * 90_000}, 256 * 1024)
