"""File storage behind one interface: a local directory or any S3-compatible store.

Blobs are content-addressed (``sha256/ab/cd/<sha256>``): identical uploads are
stored once, and a blob appears under its final key only when it is complete
(a rename locally, a single PUT on S3).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol
from urllib.parse import urlparse

if TYPE_CHECKING:
    from ohm.config import Settings

CHUNK = 1024 * 1024


# A blob's final key, and the temporary name a directory store writes it under first (`tmp/<sha256>.<random>`,
# left behind when a process dies mid-write).
OHM_KEY = re.compile(r"sha256/([0-9a-f]{2})/([0-9a-f]{2})/\1\2[0-9a-f]{60}|tmp/[0-9a-f]{64}\.[0-9a-f]{16}")


def content_key(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def is_ohm_key(key: str) -> bool:
    """A key OHM writes: anything else in a shared bucket (a supabase-js upload under a user's folder) is not
    OHM's to collect."""
    return OHM_KEY.fullmatch(key) is not None


class BlobStore(Protocol):
    bucket: str

    async def put(self, key: str, source: BinaryIO) -> bool:
        """Store ``source`` under ``key`` unless it is already there; True if written."""

    async def exists(self, key: str) -> bool: ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The bytes in chunks of at most ``CHUNK``; FileNotFoundError (before any chunk) when missing."""

    async def read(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def listing(self) -> list[tuple[str, datetime]]:
        """Every stored key with its last-modified time (for garbage collection)."""


def blob_store_for(settings: Settings) -> BlobStore:
    """The store a server or command with these settings uses (OHM_STORAGE_URL, else the data directory)."""
    return open_blob_store(settings.storage_url, settings.data_dir, endpoint_url=settings.s3_endpoint_url,
                           region=settings.s3_region)


def open_blob_store(storage_url: str | None, data_dir: Path, *, endpoint_url: str | None = None,
                    region: str | None = None) -> BlobStore:
    if storage_url is None:
        from ohm.blobs.local import LocalBlobStore

        return LocalBlobStore(data_dir / "blobs")
    parsed = urlparse(storage_url)
    if parsed.scheme == "file":
        from ohm.blobs.local import LocalBlobStore

        return LocalBlobStore(Path(parsed.path))
    if parsed.scheme == "s3":
        from ohm.blobs.s3 import S3BlobStore

        return S3BlobStore(parsed.netloc, parsed.path.strip("/"), endpoint_url=endpoint_url, region=region)
    raise ValueError(f"unsupported storage URL {storage_url!r}: use s3://bucket/prefix or file:///path")
