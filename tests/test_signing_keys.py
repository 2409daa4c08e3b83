"""User tokens signed with asymmetric keys published as a JWKS (how new Supabase projects sign them).

A local HTTP server plays Supabase Auth's ``/auth/v1/.well-known/jwks.json``
with locally generated P-256 and RSA keys; the real app runs under uvicorn and
is asked over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .conftest import JWT_SECRET, free_port, serving

EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())
ROTATED_KEY = ec.generate_private_key(ec.SECP256R1())
OCT_SECRET = b"a-symmetric-key-that-must-never-verify-anything"


def public_jwk(private_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.ECAlgorithm if alg == "ES256" else jwt.algorithms.RSAAlgorithm
    jwk = algorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(user_id: uuid.UUID, ttl: int = 3600) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": str(user_id), "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + ttl,
            "iss": "https://project.supabase.co/auth/v1", "email": "maker@example.com"}


def signed(private_key: Any, kid: str | None, alg: str, body: dict[str, Any]) -> str:
    return jwt.encode(body, private_key, algorithm=alg, headers={"kid": kid} if kid else None)


def hs256_by_hand(secret: bytes, kid: str, body: dict[str, Any]) -> str:
    """An HS256 token whose HMAC key is whatever bytes we like (PyJWT refuses public keys as HMAC secrets)."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(body).encode())
    mac = hmac.new(secret, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{b64(mac)}"


def unsigned(kid: str, body: dict[str, Any]) -> str:
    return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT', 'kid': kid}).encode())}.{b64(json.dumps(body).encode())}."


class Jwks:
    """Supabase Auth's JWKS endpoint: what it answers can change during a test; it counts requests."""

    def __init__(self, port: int | None = None) -> None:
        self.keys = [public_jwk(EC_KEY, "ec-1", "ES256"), public_jwk(RSA_KEY, "rsa-1", "RS256"),
                     {"kty": "oct", "kid": "oct-1", "k": b64(OCT_SECRET), "alg": "HS256"}]
        self.status, self.raw, self.requests = 200, None, 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                jwks.requests += 1
                body = jwks.raw if jwks.raw is not None else json.dumps({"keys": jwks.keys}).encode()
                self.send_response(jwks.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/auth/v1/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    yield server
    server.close()


def app_serving(database_url: str, tmp_path, **settings: Any):
    import uvicorn

    from ohm.api.app import create_app
    from ohm.config import Settings

    app = create_app(Settings(database_url=database_url, jwt_secret=JWT_SECRET, data_dir=tmp_path,
                              rate_limit_writes="off", jwt_jwks_cooldown=0.5, **settings))
    return serving(uvicorn.Config(app, log_level="warning"))


def create_chat(base: str, token: str) -> httpx.Response:
    return httpx.post(f"{base}/v1/chats", json={"title": "signed"}, headers={"Authorization": f"Bearer {token}"},
                      timeout=30)


def test_es256_and_rs256_tokens_from_the_jwks_act_as_their_user(database_url, make_user, jwks, tmp_path):
    user = make_user("keys")
    with app_serving(database_url, tmp_path, jwt_jwks_url=jwks.url) as base:
        for key, kid, alg in ((EC_KEY, "ec-1", "ES256"), (RSA_KEY, "rsa-1", "RS256")):
            response = create_chat(base, signed(key, kid, alg, claims(user.id)))
            assert response.status_code == 201, response.text
            assert response.json()["user_id"] == str(user.id)
        assert create_chat(base, user.token()).status_code == 201, "the HS256 secret still works beside the keys"
        assert jwks.requests == 1, "fetched once at start, then cached"


def test_tokens_that_do_not_verify_are_refused(database_url, make_user, jwks, tmp_path):
    user = make_user("keys")
    body = claims(user.id)
    public_pem = EC_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    refused = {
        "signed with another key": signed(OTHER_EC_KEY, "ec-1", "ES256", body),
        "alg none": unsigned("ec-1", body),
        "HS256 signed with the public key": hs256_by_hand(public_pem, "ec-1", body),
        "HS256 signed with a JWKS oct key": hs256_by_hand(OCT_SECRET, "oct-1", body),
        "RS256 header naming the EC key": signed(RSA_KEY, "ec-1", "RS256", body),
        "expired": signed(EC_KEY, "ec-1", "ES256", claims(user.id, ttl=-10)),
        "unknown kid": signed(OTHER_EC_KEY, "nobody", "ES256", body),
        "ES512": signed(ec.generate_private_key(ec.SECP521R1()), "ec-1", "ES512", body),
    }
    with app_serving(database_url, tmp_path, jwt_jwks_url=jwks.url) as base:
        for what, token in refused.items():
            response = create_chat(base, token)
            assert response.status_code == 401, (what, response.status_code, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        # A made-up key id makes the server look again, at most once per cooldown.
        before = jwks.requests
        for _ in range(5):
            assert create_chat(base, signed(OTHER_EC_KEY, f"made-up-{uuid.uuid4()}", "ES256", body)).status_code == 401
        assert jwks.requests - before <= 1


def test_a_rotated_key_is_picked_up_on_its_first_token(database_url, make_user, jwks, tmp_path):
    user = make_user("keys")
    with app_serving(database_url, tmp_path, jwt_jwks_url=jwks.url) as base:
        token = signed(ROTATED_KEY, "ec-2", "ES256", claims(user.id))
        assert create_chat(base, token).status_code == 401
        jwks.keys.append(public_jwk(ROTATED_KEY, "ec-2", "ES256"))
        time.sleep(0.6)  # the cooldown after the last fetch
        assert create_chat(base, token).status_code == 201


def test_an_unreachable_jwks_is_a_503_never_a_401_or_500(database_url, make_user, tmp_path):
    user = make_user("keys")
    port = free_port()
    token = signed(EC_KEY, "ec-1", "ES256", claims(user.id))
    with app_serving(database_url, tmp_path,
                     jwt_jwks_url=f"http://127.0.0.1:{port}/auth/v1/.well-known/jwks.json") as base:
        response = create_chat(base, token)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"] and "signing keys" in response.json()["detail"]
        assert create_chat(base, user.token()).status_code == 201, "HS256 tokens do not depend on the JWKS"
        server = Jwks(port)  # the JWKS comes back
        try:
            time.sleep(0.6)
            assert create_chat(base, token).status_code == 201
            # It breaks again: a known key goes on working; a key that would need a fetch is a 503.
            server.status = 500
            time.sleep(0.6)
            assert create_chat(base, token).status_code == 201
            rotated = signed(ROTATED_KEY, "ec-new", "ES256", claims(user.id))
            assert create_chat(base, rotated).status_code == 503
            server.status, server.raw = 200, b"<html>not a jwks</html>"
            time.sleep(0.6)
            assert create_chat(base, rotated).status_code == 503
        finally:
            server.close()


def test_keys_from_a_jwks_file(database_url, make_user, tmp_path):
    user = make_user("keys")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(EC_KEY, "ec-1", "ES256")]}))
    with app_serving(database_url, tmp_path, jwt_jwks_file=path) as base:
        assert create_chat(base, signed(EC_KEY, "ec-1", "ES256", claims(user.id))).status_code == 201
        assert create_chat(base, signed(EC_KEY, None, "ES256", claims(user.id))).status_code == 201, \
            "without a kid, the one ES256 key"
        assert create_chat(base, signed(RSA_KEY, "rsa-1", "RS256", claims(user.id))).status_code == 401


def test_settings_refuse_a_jwks_url_that_is_not_http():
    from pydantic import ValidationError

    from ohm.config import Settings

    with pytest.raises(ValidationError, match="OHM_JWT_JWKS_URL"):
        Settings(jwt_jwks_url="file:///etc/passwd")
