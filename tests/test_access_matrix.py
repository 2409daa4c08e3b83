"""Every route in the OpenAPI schema, called by every kind of caller.

For each operation the table below says what it is (a read of one of Alice's
rows, a write to one, a create, a list, a public read, ...).  The test calls
it as Alice, as Bob, without a token, with an expired token, with three kinds
of forged token, and as the service role, and checks: the owner and the
service role succeed; Bob and anon get 404/401 and none of Alice's data; bad
tokens get 401; and nothing of Alice's changes in the database while the
others try.  A route missing from the table fails the test.
"""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt

from ohm.auth import issue_token

from .conftest import JWT_SECRET
from .helpers import MARK, OPS, call, fingerprint, world

SERVICE_TOKEN = issue_token(JWT_SECRET, role="service_role")


# --- the callers ----------------------------------------------------------------------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def bad_tokens(alice, bob) -> dict[str, str]:
    """Tokens the API must refuse with 401."""
    now = int(time.time())
    claims = {"role": "authenticated", "aud": "authenticated", "sub": str(alice.id), "iat": now, "exp": now + 3600}
    valid = issue_token(JWT_SECRET, user_id=alice.id)
    header, _payload, signature = valid.split(".")
    return {
        "expired": issue_token(JWT_SECRET, user_id=alice.id, now=now - 7200, ttl_seconds=3600),
        "wrong_secret": jwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256"),
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "tampered": f"{header}.{_b64({**claims, 'sub': str(bob.id)})}.{signature}",
        "tampered_role": f"{header}.{_b64({**claims, 'role': 'service_role'})}.{signature}",
    }



# --- what must not change -------------------------------------------------------------------------------------

# --- the test ----------------------------------------------------------------------------------------------------


def test_every_route_is_in_the_table(live_server):
    schema = httpx.get(f"{live_server}/openapi.json").json()
    routes = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    assert routes - OPS.keys() == set(), "new routes need an entry in OPS (and a decision about who may call them)"
    assert OPS.keys() - routes == set(), "OPS lists routes that no longer exist"


def test_access_matrix(http, user, other_user, app_url, live_server):
    alice, bob = user, other_user
    ids = world(http, alice)
    tokens = bad_tokens(alice, bob)
    before = fingerprint(app_url, alice.id)
    failures = []

    def expect(label: str, response: httpx.Response, allowed: tuple[int, ...], *, leak_check: bool = True) -> None:
        if response.status_code not in allowed:
            failures.append(f"{label}: {response.status_code} (expected {allowed}) {response.text[:200]}")
        elif response.status_code >= 400 and not response.headers.get("content-type", "").startswith(
                "application/problem+json"):
            failures.append(f"{label}: error is not problem+json")
        elif response.status_code >= 400 and response.request.method != "HEAD" and not str(
                response.json().get("type", "")).startswith("urn:ohm:problem:"):
            failures.append(f"{label}: problem type {response.json().get('type')!r} is not one of OHM's")
        if leak_check and MARK in response.text:
            failures.append(f"{label}: leaked Alice's data")

    for (method, path), op in sorted(OPS.items()):
        label = f"{method} {path}"
        # Forged and expired tokens: 401 everywhere a token is read.
        for name, token in tokens.items():
            response = call(http, method, path, op, ids, token)
            allowed = (200,) if op.kind in ("health", "signed") else (401,)
            expect(f"{label} [{name}]", response, allowed, leak_check=op.kind not in ("signed", "health"))
        # Another user, and no token.
        for who, token in (("bob", bob.token()), ("anon", None)):
            if op.kind == "health":
                expect(f"{label} [{who}]", call(http, method, path, op, ids, token), (200,))
            elif op.kind in ("read", "write", "stream", "destructive"):
                allowed = op.other if who == "bob" else op.anon
                if who == "anon" and method != "GET":
                    allowed = (401,)
                expect(f"{label} [{who}]", call(http, method, path, op, ids, token), allowed)
            elif op.kind == "list":
                allowed = (200,) if who == "bob" else op.anon + (200,)
                expect(f"{label} [{who}]", call(http, method, path, op, ids, token), allowed)
            elif op.kind == "create":
                allowed = (201,) if who == "bob" else (401,)
                expect(f"{label} [{who}]", call(http, method, path, op, ids, token), allowed,
                       leak_check=path != "/v1/shares/{token}/fork")
            elif op.kind in ("public", "signed"):
                expect(f"{label} [{who}]", call(http, method, path, op, ids, token), (200,), leak_check=False)
    after = fingerprint(app_url, alice.id)
    changed = {t for t in before if before[t] != after[t]}
    assert not failures, "\n".join(failures)
    assert not changed, f"others changed Alice's rows in {changed}"

    # The owner and the service role succeed; writes each on a fresh copy of Alice's world.
    for (method, path), op in sorted(OPS.items()):
        label = f"{method} {path}"
        if op.kind == "destructive":  # succeeding would end the test's owner: tests/test_account.py has it
            continue
        for who, token in (("owner", alice.token()), ("service", SERVICE_TOKEN)):
            target = ids if op.kind not in ("write",) else world(http, alice)
            body = None
            if op.kind == "create" and who == "service":
                if op.service_body == "owner":
                    body = ({**(op.body or {}), "user_id": str(alice.id)} if not op.files
                            else {**(op.body if isinstance(op.body, dict) else {"category": "photo"}),
                                  "user_id": str(alice.id)})
                elif op.service_body == "attachment":
                    body = {**op.body, "attachment_id": target["attachment_id"]}
            response = call(http, method, path, op, target, token, body=body)
            if who == "service" and op.service:
                expect(f"{label} [{who}]", response, op.service, leak_check=False)
            elif response.status_code >= 300 and not (path.endswith("wiring.svg") and response.status_code == 501):
                failures.append(f"{label} [{who}]: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
