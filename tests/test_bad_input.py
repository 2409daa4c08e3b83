"""The bad-input catalogue: every write endpoint gets wrong types, missing fields, oversized bodies and
fields, deep nesting, invalid UTF-8, NUL bytes and unpaired surrogates → a 4xx problem+json, and nothing
of the user's changes.  Valid unicode (emoji, RTL, combining marks) and SQL-looking text is stored and
read back exactly."""

from __future__ import annotations

import json

import httpx
import pytest

from .conftest import auth
from .helpers import fingerprint, world

# (method, path, a valid body, the fields whose type is checked)
WRITES = [
    ("POST", "/v1/chats", {"title": "t", "phase": "bom", "is_public": False}, ["title", "phase", "is_public"]),
    ("PATCH", "/v1/chats/{chat_id}", {"title": "t", "is_pinned": True}, ["title", "is_pinned"]),
    ("POST", "/v1/chats/{chat_id}/messages", {"role": "user", "content": "hi", "metadata": {"k": 1},
                                              "usage": {"input_tokens": 1}, "latency_ms": 5},
     ["role", "content", "metadata", "usage", "latency_ms"]),
    ("POST", "/v1/chats/{chat_id}/artifacts", {"type": "document", "title": "t", "content_text": "x"},
     ["type", "title", "content_text"]),
    ("POST", "/v1/artifacts/{artifact_id}/versions", {"base_version": 2, "content_text": "x"},
     ["base_version", "content_text"]),
    ("POST", "/v1/artifacts/{artifact_id}/restore", {"version": 1}, ["version"]),
    ("POST", "/v1/chats/{chat_id}/shares", {"expires_at": "2031-01-01T00:00:00Z"}, ["expires_at"]),
    ("POST", "/v1/chats/{chat_id}/fork", {"message_id": "{message_id}"}, ["message_id"]),
    ("POST", "/v1/shares/{token}/fork", {"message_id": "{message_id}"}, ["message_id"]),
    ("PATCH", "/v1/attachments/{attachment_id}", {"processing_status": "processing"}, ["processing_status"]),
    ("POST", "/v1/projects/{project_id}/verifications",
     {"status": "pass", "issues": [{"severity": "info", "message": "m"}], "suggestions": ["s"]},
     ["status", "issues", "suggestions"]),
    ("POST", "/v1/datasheet-analyses", {"part_number": "X1", "pinout": [{"pin": "1", "name": "A", "type": "io"}],
                                        "key_specs": {"v": 3.3}}, ["part_number", "pinout", "key_specs"]),
    ("POST", "/v1/projects", {"name": "p", "budget_amount": 10.5, "workflow_steps": [{"name": "s"}]},
     ["name", "budget_amount", "workflow_steps"]),
    ("PATCH", "/v1/projects/{project_id}", {"name": "q", "spend_limit_usd": 5.0}, ["name", "spend_limit_usd"]),
]

WRONG = {str: 12345, int: "many", float: "lots", bool: "maybe", list: {"not": "a list"}, dict: [1, 2, 3]}
DEEP = "[" * 50_000 + "]" * 50_000


def fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


def wrong_type(value):
    return WRONG[type(value)] if type(value) in WRONG else None


def bad_bodies(body: dict, fields: list[str]):
    """(name, raw bytes) of invalid requests built from a valid body."""
    yield "not json", b'{"title": '
    yield "json array", b"[1, 2, 3]"
    yield "invalid utf-8", b'{"title": "\xff\xfe\xfd"}'
    yield "oversized body", json.dumps({**body, "padding": "x" * (5 * 1024 * 1024)}).encode()
    yield "deep nesting", ('{"title": ' + DEEP + "}").encode()
    for field in fields:
        wrong = wrong_type(body[field])
        if wrong is not None:
            yield f"{field}: wrong type", json.dumps({**body, field: wrong}).encode()
        if isinstance(body[field], str):
            yield f"{field}: NUL", json.dumps({**body, field: "a\x00b"}).encode()
            yield f"{field}: unpaired surrogate", json.dumps({**body, field: "PLACEHOLDER"}).encode().replace(
                b"PLACEHOLDER", b"a\\ud800b")
            yield f"{field}: 2 MB", json.dumps({**body, field: "x" * 2_000_000}).encode()
        if isinstance(body[field], dict | list):
            yield f"{field}: deep", json.dumps(body).encode().replace(
                json.dumps(body[field]).encode(), ("[" * 5000 + "]" * 5000).encode(), 1)
    yield "unknown field", json.dumps({**body, "is_admin": True}).encode()


def test_every_write_refuses_bad_input_and_changes_nothing(http, user, app_url):
    ids = world(http, user)
    headers = {**auth(user), "content-type": "application/json"}
    before = fingerprint(app_url, user.id)
    failures = []
    tried = 0
    for method, path, body, fields in WRITES:
        valid = fill(body, ids)
        url = path.format(**ids)
        for name, raw in bad_bodies(valid, fields):
            tried += 1
            response = http.request(method, url, headers=headers, content=raw)
            kind = response.headers.get("content-type", "")
            if not 400 <= response.status_code < 500 or not kind.startswith("application/problem+json"):
                failures.append(f"{method} {path} [{name}]: {response.status_code} {response.text[:150]}")
        optional_only = path.endswith(("/fork", "/shares")) or path == "/v1/chats"
        if method == "POST" and not optional_only:
            response = http.request(method, url, headers=headers, content=b"{}")
            if response.status_code != 422:
                failures.append(f"{method} {path} [missing fields]: {response.status_code}")
        for bad_id in ("not-a-uuid", "00000000-0000-0000-0000-00000000000g", "1; drop table chats"):
            if "{" in path and "{token}" not in path:
                response = http.request(method, path.replace(path[path.index("{"):path.index("}") + 1], bad_id)
                                        .format(**ids), headers=headers, content=json.dumps(valid).encode())
                if response.status_code != 422:
                    failures.append(f"{method} {path} [id {bad_id!r}]: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert tried > 150
    assert fingerprint(app_url, user.id) == before, "a refused request changed something"


def test_uploads_refuse_bad_requests(http, user, app_url):
    ids = world(http, user)
    before = fingerprint(app_url, user.id)
    cases = {
        "json instead of multipart": {"json": {"file": "x"}},
        "no file": {"data": {"category": "photo"}},
        "broken multipart": {"content": b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n",
                             "headers": {"content-type": "multipart/form-data; boundary=x"}},
        "bad category": {"files": {"file": ("a.png", b"\x89PNG\r\n\x1a\n")}, "data": {"category": "banana"}},
        "spoofed type": {"files": {"file": ("photo.png", b"MZ\x90\x00" + b"\x00" * 200, "image/png")},
                         "data": {"category": "photo"}},
        "chat of nobody": {"files": {"file": ("a.txt", b"hello")}, "data": {"chat_id": "not-a-uuid"}},
    }
    for name, kwargs in cases.items():
        headers = {**auth(user), **kwargs.pop("headers", {})}
        response = http.post("/v1/attachments", headers=headers, **kwargs)
        assert 400 <= response.status_code < 500, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), name
    assert fingerprint(app_url, user.id) == before
    assert ids["attachment_id"]


TEXTS = [
    "Weather station 🌦️ with ESP32 — 温度 and humidité",
    "مرحبا بالعالم: محطة الطقس",  # Arabic, right to left
    "שלום \u202eevil\u202c mixed direction",  # Hebrew with a bidi override
    "e\u0301 (e + combining acute), 👩🏽‍🔧 (ZWJ sequence), 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 (4-byte)",
    "'; drop table messages; --",
    "\" or 1=1 --",
    "Robert'); DELETE FROM chats WHERE ('1'='1",
    "../../../../etc/passwd",
    "<script>alert(1)</script>",
    "\\x00 \\u0000 (escaped, not NUL)",
    "tab\tnewline\nreturn\r end",
]


@pytest.mark.parametrize("text", TEXTS)
def test_valid_unicode_and_sql_looking_text_round_trip_exactly(http, user, text):
    headers = auth(user)
    chat = http.post("/v1/chats", headers=headers, json={"title": text[:300]}).json()
    assert chat["title"] == text[:300]
    message = http.post(f"/v1/chats/{chat['id']}/messages", headers=headers,
                        json={"role": "user", "content": text, "metadata": {"note": text}, "content_json": [text]})
    assert message.status_code == 201, message.text
    back = http.get(f"/v1/messages/{message.json()['id']}", headers=headers).json()
    assert back["content"].encode() == text.encode()
    assert back["metadata"] == {"note": text} and back["content_json"] == [text]
    project = http.post("/v1/projects", headers=headers, json={"name": text[:200], "goal": text}).json()
    assert http.get(f"/v1/projects/{project['id']}", headers=headers).json()["goal"] == text
    artifact = http.post(f"/v1/chats/{chat['id']}/artifacts", headers=headers,
                         json={"type": "document", "title": text[:300], "content_text": text}).json()
    assert http.get(f"/v1/artifacts/{artifact['id']}", headers=headers).json()["current"]["content_text"] == text


def test_a_body_over_the_limit_is_cut_off_while_it_streams(live_server, user):
    """The client says nothing about the length (chunked): the server stops reading at the limit."""
    def chunks():
        yield b'{"title": "'
        for _ in range(6 * 1024):
            yield b"x" * 1024
        yield b'"}'

    with httpx.Client(base_url=live_server, timeout=30) as client:
        response = client.post("/v1/chats", headers={**auth(user), "content-type": "application/json"},
                               content=chunks())
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


# Query parameters and path segments as raw URL text: a NUL, a byte that is not UTF-8, an overlong
# encoding, an unpaired surrogate.
BAD_URL_TEXT = ["x%00y", "%FF", "%C0%80", "%ED%A0%80"]


def test_no_parameter_of_any_read_route_can_cause_a_500(http, user, live_server):
    """Every GET and DELETE in the schema, and the pages, with each bad text in each query parameter and in
    each path segment: a 4xx (problem+json for the API) or an answer, never a 5xx."""
    import re
    import uuid

    ids = world(http, user)
    spec = http.get("/openapi.json").json()
    routes = [(method.upper(), path, [p for p in op.get("parameters", []) if p["in"] == "query"])
              for path, ops in spec["paths"].items() for method, op in ops.items()
              if method in ("get", "delete") and not path.endswith("/events")]  # a stream never ends
    routes += [("GET", "/share/{token}", []), ("GET", "/usage", [{"name": "token"}, {"name": "days"}])]
    failures, tried = [], 0

    def check(method: str, url: str) -> None:
        nonlocal tried
        tried += 1
        response = http.request(method, url, headers=auth(user))
        api = url.startswith("/v1/")
        if response.status_code >= 500 or (api and response.status_code >= 400 and not response.headers[
                "content-type"].startswith("application/problem+json")):
            failures.append((method, url, response.status_code, response.text[:120]))

    for method, path, query in routes:
        if method == "DELETE":  # with real ids these would delete the world: only bad ids
            for bad in BAD_URL_TEXT:
                check(method, re.sub(r"\{[a-z_]+\}", bad, path))
            continue
        real = re.sub(r"\{([a-z_]+)\}", lambda m: str(ids.get(m.group(1), uuid.uuid4())), path)
        for parameter in [*query, {"name": "unknown"}]:
            for bad in BAD_URL_TEXT:
                check(method, f"{real}?{parameter['name']}={bad}")
        for name in re.findall(r"\{([a-z_]+)\}", path):
            for bad in BAD_URL_TEXT:
                check(method, re.sub(r"\{([a-z_]+)\}", lambda m, name=name, bad=bad: bad if m.group(1) == name
                                     else str(ids.get(m.group(1), uuid.uuid4())), path))
    assert tried > 500
    assert failures == []


def test_database_refusals_name_the_constraint_never_the_statement(http, user):
    """A trigger's statement used to reach the caller (`CONTEXT: SQL statement "insert into public.parts ..."`),
    and an unknown datasheet_analysis_id in a BOM part was a 500."""
    import uuid

    chat = http.post("/v1/chats", headers=auth(user), json={}).json()["id"]
    cases = [
        {"type": "bom", "title": "BOM", "content_json": {"parts": [
            {"name": "BME280", "datasheet_analysis_id": str(uuid.uuid4())}]}},
        {"type": "bom", "title": "BOM", "content_json": {"parts": [{"name": "BME280", "quantity": "two"}]}},
        {"type": "wiring", "title": "Wiring", "content_json": {"connections": [
            {"from": {"part": "U1", "pin": "3V3"}, "to": {"part": "U2", "pin": "VCC"}, "voltage": "3v3ish"}]}},
    ]
    for body in cases:
        response = http.post(f"/v1/chats/{chat}/artifacts", headers=auth(user), json=body)
        assert response.status_code == 422, (body, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        text = response.text.lower()
        assert "context" not in text and "insert into" not in text and "sql statement" not in text, text
    assert http.get(f"/v1/chats/{chat}", headers=auth(user)).json()["artifacts"] == []
