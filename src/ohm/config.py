"""Settings, read from the environment (prefix ``OHM_``) and from CLI flags.

``OHM_DATABASE_URL`` is the *owner* connection: migrations and administration
run with it.  The API never uses it for requests; it connects as the
application login role (``ohm_authenticator``), either through
``OHM_APP_DATABASE_URL`` or through a URL derived from the owner URL.
With no database URL at all, OHM starts the embedded PostgreSQL in
``OHM_DATA_DIR``.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_ROLE = "ohm_authenticator"
"""The LOGIN role the API connects as: owns nothing, bypasses nothing."""

JWT_SECRET_FILE = "jwt_secret"
MIN_JWT_SECRET_BYTES = 32


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("ohm", appauthor=False))


RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$", re.I)
UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(text: str) -> float | None:
    """'6000/min' -> 100.0 writes per second; 'off' -> None."""
    if text.strip().lower() in ("off", "0", "none", ""):
        return None
    match = RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not a rate: {text!r} (use e.g. 100/s, 6000/min, or off)")
    return float(match.group(1)) / UNITS[match.group(2).lower()]



class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OHM_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="Owner connection URL; unset = embedded PostgreSQL."
    )
    app_database_url: str | None = Field(
        default=None,
        description="URL the API connects with (the ohm_authenticator role). "
        "Unset = the owner URL with its user replaced by ohm_authenticator.",
    )
    app_db_password: SecretStr | None = Field(
        default=None,
        description="Password for ohm_authenticator: set on the role by `ohm migrate` "
        "and used in the derived application URL.",
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = Field(
        default=None, description="JWKS of the public keys that sign user tokens (ES256, RS256), e.g. "
        "https://<project>.supabase.co/auth/v1/.well-known/jwks.json; fetched at start, cached 10 minutes, "
        "fetched again for an unknown key id (at most every 30 s).")
    jwt_jwks_cooldown: float = Field(
        default=30.0, ge=0, le=3600, description="Seconds between two fetches of the JWKS caused by tokens "
        "with an unknown key id (after a failed fetch: at most 5).")
    jwt_jwks_file: Path | None = Field(
        default=None, description="A JWKS (or one JWK) in a file, for keys that do not change or a server "
        "without a route to the JWKS URL.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    db_connect_timeout: int = Field(default=10, ge=1)
    db_pool_timeout: float = Field(default=5.0, gt=0, le=600,
                                   description="Seconds a request waits for a free connection (then 503).")
    statement_timeout_ms: int = Field(default=15000, ge=0,
                                      description="Longest statement a request may run (0 = no limit; then 503).")
    rate_limit_writes: str = Field(
        default="6000/min", description="Writes (POST, PUT, PATCH, DELETE) per token: 'N/s', 'N/min', 'N/h' "
        "or 'off'. Beyond: 429 with Retry-After. Counted per server process.")
    rate_limit_burst: int = Field(default=200, ge=1, description="Writes a token may make at once before the "
                                                                 "rate applies.")
    rate_limit_public_reads: str = Field(
        default="120/min", description="Heavy reads without a token (share pages and JSON, diffs, search, exports, "
        "public chat loads) per client address: 'N/s', 'N/min', 'N/h' or 'off'. Beyond: 429 with Retry-After.")
    rate_limit_public_burst: int = Field(default=60, ge=1, description="Heavy anonymous reads an address may make "
                                                                      "at once before the rate applies.")
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024,
                                description="Largest request body the API reads (413 beyond).")
    storage_url: str | None = Field(
        default=None, description="Where uploads go: s3://bucket/prefix, or file:///path. "
        "Unset: a directory 'blobs' in the data dir.")
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, R2, ...).")
    s3_region: str | None = None
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1, description="Largest upload (413 beyond).")
    max_import_bytes: int = Field(default=2 * 1024**3, ge=1,
                                  description="Largest export accepted by POST /v1/imports (413 beyond).")
    storage_quota_bytes: int = Field(default=1024**3, ge=0, description="Upload bytes per user (413 beyond).")
    shutdown_timeout: float = Field(
        default=5.0, ge=0, le=3600, description="Seconds `ohm serve` gives open requests and event streams "
        "(SSE, WebSocket) on SIGTERM before it closes them; clients resume from their cursors elsewhere.")
    read_replica_urls: str | None = Field(
        default=None, description="Streaming standbys of the database, comma-separated, for reads that tolerate "
        "replication (chat loads, lists, search, analytics, exports). Given as the owner URL is (the API "
        "connects as ohm_authenticator), or with that role already in it.")
    replica_max_lag: float = Field(default=5.0, ge=0, description="Seconds a standby may be behind before "
                                                                  "reads skip it.")
    replica_wait_ms: int = Field(default=0, ge=0, le=10_000, description="How long a read that must see a "
                                 "write (OHM-LSN) waits for a standby to replay it before the primary answers.")
    replica_check_interval: float = Field(default=1.0, gt=0, le=60, description="Seconds between two checks of "
                                          "each standby's state and lag.")
    ws_compression: bool = Field(
        default=False, description="Offer permessage-deflate on WebSockets. Off: realtime frames are small, and "
        "compressing each one once per subscriber costs more CPU (and ~60 KB of zlib state per connection) "
        "than the bandwidth it saves.")

    @property
    def replica_urls(self) -> list[str]:
        return [u.strip() for u in (self.read_replica_urls or "").split(",") if u.strip()]

    @field_validator("rate_limit_writes", "rate_limit_public_reads")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("jwt_jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("OHM_JWT_JWKS_URL must be an http(s) URL")
        return value

    @field_validator("database_url", "app_database_url", "jwt_jwks_url", "jwt_jwks_file", "read_replica_urls",
                     mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    def resolve_jwt_secret(self) -> str:
        """The HS256 secret for tokens.

        Configured secrets win.  With the embedded database a secret is
        generated once and kept (mode 0600) in the data dir, so tokens survive
        restarts.  With an external database a secret must be configured:
        several OHM processes must agree on it.
        """
        if self.jwt_secret is not None:
            secret = self.jwt_secret.get_secret_value()
            if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
                raise ConfigError(
                    f"OHM_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes long"
                )
            return secret
        if not self.embedded:
            raise ConfigError(
                "OHM_JWT_SECRET is not set. With OHM_DATABASE_URL set, configure the "
                "JWT secret (on Supabase: Project Settings -> API -> JWT secret)."
            )
        return kept_secret(self.data_dir / JWT_SECRET_FILE)


def kept_secret(path: Path) -> str:
    """A random secret kept (mode 0600) in ``path``, made on first use.

    Written to a private temp file, then hard-linked into place: linking is atomic and fails if
    another process got there first, so two processes starting together end up agreeing on one."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_urlsafe(48).encode())
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""
