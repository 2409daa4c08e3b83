"""API key secrets: how they look, how they are made and how they are kept (no I/O here).

A key reads ``ohm_sk_<id>_<secret>``: ``ohm_sk_<id>`` (8 random letters and digits) is its public prefix,
shown in lists and logs; ``<secret>`` is 43 random letters and digits (43 × log2(62) = 256 bits; no
``_`` or ``-``, so a double click selects the whole key).
Only the sha256 of the whole string is stored: the secret has far more entropy than any password, so a
fast hash is enough, and the comparison is done in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

PREFIX = "ohm_sk_"
KEY = re.compile(r"^(ohm_sk_[A-Za-z0-9]{8})_([A-Za-z0-9]{43})$")
ALPHABET = string.ascii_letters + string.digits
SCOPES: dict[str, str] = {
    "*": "everything a key may do (not: keys, changing the account)",
    "chats:read": "chats, their messages, lineage, shares by token and realtime events",
    "chats:write": "create, change, delete and fork chats",
    "messages:write": "append and delete messages",
    "artifacts:read": "artifacts, their versions and diffs",
    "artifacts:write": "create artifacts, add versions, restore, delete",
    "projects:read": "projects, BOM, wiring, code, checks, exports, circuit verifications, parts",
    "projects:write": "create, change and delete projects; record circuit verifications",
    "files:read": "uploads and datasheet analyses",
    "files:write": "upload, change and delete files; record datasheet analyses",
    "shares:write": "create, list and revoke share links",
    "search": "full-text search",
    "analytics:read": "usage, prices and the activity log",
    "account:read": "the user's own profile and totals (GET /v1/me)",
}


def new_key() -> tuple[str, str, bytes]:
    """A new key: (the whole secret, its public prefix, the sha256 to store)."""
    prefix = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(8))
    secret = f"{prefix}_{''.join(secrets.choice(ALPHABET) for _ in range(43))}"
    return secret, prefix, digest(secret)


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


def parse(token: str) -> str | None:
    """The public prefix of a well-formed key, else None."""
    match = KEY.match(token)
    return match.group(1) if match else None


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def matches(secret: str, stored: bytes) -> bool:
    return hmac.compare_digest(digest(secret), stored)
