"""Tokens as Supabase issues them, and everything that must be refused."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from ohm.auth import Identity, InvalidToken, issue_token, verify_token

SECRET = "s" * 40


def test_user_token_round_trip():
    uid = uuid.uuid4()
    identity = verify_token(SECRET, issue_token(SECRET, user_id=uid, email="a@b.io"))
    assert identity.role == "authenticated"
    assert identity.user_id == uid
    assert identity.claims["email"] == "a@b.io"


def test_service_and_anon_keys_without_audience_are_accepted():
    # Supabase's API keys carry a role but no audience and no subject.
    for role in ("service_role", "anon"):
        key = jwt.encode({"role": role, "iss": "supabase", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
        assert verify_token(SECRET, key) == Identity(role, None, verify_token(SECRET, key).claims)
        assert verify_token(SECRET, key).user_id is None


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"role": "authenticated", "aud": "authenticated", "sub": "x", "exp": 9999999999}, "subject"),
        ({"role": "authenticated", "sub": str(uuid.uuid4()), "exp": 9999999999}, "audience"),
        ({"role": "authenticated", "aud": "other", "sub": str(uuid.uuid4()), "exp": 9999999999}, "audience"),
        ({"role": "postgres", "exp": 9999999999}, "unknown role"),
        ({"role": "supabase_admin", "exp": 9999999999}, "unknown role"),
        ({"aud": "authenticated", "sub": str(uuid.uuid4()), "exp": 9999999999}, "role"),
        ({"role": "authenticated", "aud": "authenticated", "sub": str(uuid.uuid4())}, "exp"),
        ({"role": "authenticated", "aud": "authenticated", "sub": str(uuid.uuid4()), "exp": 1}, "expired"),
    ],
)
def test_bad_claims_are_refused(claims, reason):
    with pytest.raises(InvalidToken, match=reason):
        verify_token(SECRET, jwt.encode(claims, SECRET, algorithm="HS256"))


def test_wrong_secret_tampering_and_alg_none_are_refused():
    good = issue_token(SECRET, user_id=uuid.uuid4())
    with pytest.raises(InvalidToken, match="(?i)signature"):
        verify_token("another-secret-" + "x" * 30, good)
    header, payload, signature = good.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"authenticated"', b'"service_role"', 1)).decode()
    with pytest.raises(InvalidToken):
        verify_token(SECRET, f"{header}.{forged_payload}.{signature}")
    unsigned = jwt.encode({"role": "service_role", "exp": 9999999999}, None, algorithm="none")
    with pytest.raises(InvalidToken):
        verify_token(SECRET, unsigned)
    with pytest.raises(InvalidToken):
        verify_token(SECRET, "not.a.token")


def test_identity_claims_seen_by_the_database():
    uid = uuid.uuid4()
    assert Identity.user(uid).claims_json() == f'{{"sub":"{uid}","role":"authenticated"}}'
    assert Identity.anon().claims_json() == '{"role":"anon"}'
    with pytest.raises(ValueError):
        Identity("authenticated")
    with pytest.raises(ValueError):
        Identity("postgres")  # type: ignore[arg-type]


async def test_token_cache_answers_like_verify_and_honours_expiry():
    from ohm.auth import TokenCache

    cache = TokenCache(SECRET, max_entries=2)
    uid = uuid.uuid4()
    token = issue_token(SECRET, user_id=uid, ttl_seconds=1)
    assert (await cache.verify(token)).user_id == uid
    assert (await cache.verify(token)).user_id == uid  # from the cache
    with pytest.raises(InvalidToken):
        await cache.verify(token[:-2] + "xx")
    time.sleep(1.1)
    with pytest.raises(InvalidToken, match="expired"):
        await cache.verify(token)
    for _ in range(5):
        await cache.verify(issue_token(SECRET, user_id=uuid.uuid4()))
    assert len(cache._entries) <= 2
