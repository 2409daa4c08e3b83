"""Uploads: limits, content sniffing, content-addressed blobs, quota, deletes and garbage collection.

An upload is stored in two steps that never leave a row without its file:
the blob is written first (complete, under its sha256), then the row is
inserted in a transaction that re-checks the blob and the owner's quota.  A
crash between the two leaves only an unreferenced blob, which ``gc`` removes.
Uploads and blob removals of the same content serialise on an advisory lock,
so the last reference's delete cannot remove a blob a new upload just claimed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
import unicodedata
import uuid
from base64 import urlsafe_b64encode
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import filetype
from anyio import to_thread
from psycopg import errors

from ohm.auth import Identity
from ohm.blobs import BlobStore, content_key, is_ohm_key
from ohm.db.session import Conn, Database
from ohm.models import Attachment, AttachmentCategory, AttachmentUpdate, SignedUrl
from ohm.store._common import database_errors, first, owner_for_new
from ohm.store.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unsupported

NOT_FOUND = "attachment not found"
SNIFF_BYTES = 8192
IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/heic", "image/avif", "image/bmp",
          "image/tiff"}
EXECUTABLES = {"application/x-executable", "application/x-msdownload", "application/x-sharedlib",
               "application/x-mach-binary", "application/vnd.microsoft.portable-executable"}
ALLOWED: dict[str, set[str] | None] = {
    "circuit_image": IMAGES,
    "photo": IMAGES,
    "datasheet": {"application/pdf"} | IMAGES,
    "schematic": {"application/pdf", "image/svg+xml"} | IMAGES,
    "code": {"text/plain", "application/json"},
    "other": None,  # anything but executables
}
# Shown in the browser; everything else is downloaded (an SVG or HTML file may carry script).
INLINE = IMAGES | {"application/pdf"}

COLUMNS = """
    a.id, a.user_id, a.chat_id, a.message_id, a.project_id, a.filename, a.mime_type, a.size_bytes, a.sha256,
    a.category::text as category, a.processing_status::text as processing_status, a.processing_error,
    a.storage_path, a.created_at, a.updated_at
"""


def clean_filename(name: str | None) -> str:
    """A display name only (storage is by content hash): no directories, no control characters, bounded."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".").strip()
    if not name:
        return "upload"
    if len(name.encode()) > 200:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and 0 < len(ext.encode()) <= 16 else ""
        stem = (stem if ext else name).encode()[: 200 - len(ext.encode()) - 1].decode("utf-8", "ignore")
        name = f"{stem}.{ext}" if ext else stem
    return name


def sniff(head: bytes) -> str:
    """The type the bytes say they are (the client's Content-Type and file name are not trusted)."""
    kind = filetype.guess_mime(head)
    if kind:
        return kind
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the sniffing boundary
                return "application/octet-stream"
            text = head[: exc.start].decode("utf-8")
        lead = text.lstrip()[:512].lower()
        if lead.startswith("<svg") or (lead.startswith("<?xml") and "<svg" in lead):
            return "image/svg+xml"
        if lead.startswith(("{", "[")):
            return "application/json"
        return "text/plain"
    return "application/octet-stream"


def check_type(category: str, mime: str) -> None:
    if mime in EXECUTABLES:
        raise Unsupported(f"executables are not accepted (the file is {mime})")
    allowed = ALLOWED[category]
    if allowed is not None and mime not in allowed:
        raise Unsupported(f"a {category} must be one of {', '.join(sorted(allowed))}; this file is {mime}",
                          detected=mime)


@dataclass
class Measured:
    size: int
    sha256: str
    mime: str


def measure(source: BinaryIO, limit: int) -> Measured:
    source.seek(0)
    digest = hashlib.sha256()
    size = 0
    head = b""
    while chunk := source.read(1024 * 1024):
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the file is larger than {limit} bytes", limit=limit)
        digest.update(chunk)
    return Measured(size, digest.hexdigest(), sniff(head))


def _lock_key(sha256: str) -> int:
    return int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)


def attachment_from_row(row: dict[str, Any]) -> Attachment:
    fields = {k: v for k, v in row.items() if k != "storage_path"}
    return Attachment(**fields, content_url=f"/v1/attachments/{row['id']}/content")


async def upload(db: Database, blobs: BlobStore, identity: Identity, source: BinaryIO, filename: str | None, *,
                 category: AttachmentCategory = "other", chat_id: uuid.UUID | None = None,
                 message_id: uuid.UUID | None = None, project_id: uuid.UUID | None = None,
                 user_id: uuid.UUID | None = None, max_bytes: int, quota_bytes: int) -> Attachment:
    """Hash, sniff and store the bytes, then register the row (as the service role: see migration 0006)."""
    owner = owner_for_new(identity, user_id, "upload")
    if message_id is not None and chat_id is None:
        raise Invalid("message_id needs its chat_id")
    measured = await to_thread.run_sync(measure, source, max_bytes)
    check_type(category, measured.mime)
    # The quota before anything is written: a refused upload leaves no file behind.
    await _check_quota(db, owner, measured.size, quota_bytes)
    key = content_key(measured.sha256)
    written = await blobs.put(key, source)
    try:
        async with db.acting_as(Identity.service()) as conn:
            await conn.execute("select pg_advisory_xact_lock(%s)", (_lock_key(measured.sha256),))
            # A delete of the last other reference may have removed the blob meanwhile.
            if not await blobs.exists(key):
                written = await blobs.put(key, source) or written
            await conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (1, str(owner)))
            await _check_quota(db, owner, measured.size, quota_bytes, conn=conn)  # again, under the user's lock
            with database_errors("chat not found"):
                try:
                    cur = await conn.execute(
                        f"""insert into public.attachments as a
                              (user_id, chat_id, message_id, project_id, bucket, storage_path, filename, mime_type,
                               size_bytes, sha256, category)
                            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::public.attachment_category)
                            returning {COLUMNS}""",
                        (owner, chat_id, message_id, project_id, blobs.bucket[:100], key, clean_filename(filename),
                         measured.mime, measured.size, measured.sha256, category))
                    row = await first(cur)
                except errors.ForeignKeyViolation:
                    raise Invalid("chat_id, message_id or project_id is not the owner's (or the message is not "
                                  "in that chat)") from None
    except BaseException:
        if written:
            await _forget_unreferenced(db, blobs, key, measured.sha256)
        raise
    return attachment_from_row(row)


async def storage_used(conn: Conn, owner: uuid.UUID) -> int:
    """The bytes of a user's uploads, all of them (read as the service role: the account's figure)."""
    cur = await conn.execute("select coalesce(sum(size_bytes), 0)::bigint as used from public.attachments "
                             "where user_id = %s", (owner,))
    return int((await first(cur))["used"])


async def _check_quota(db: Database, owner: uuid.UUID, size: int, quota_bytes: int,
                       conn: Any = None) -> None:
    if conn is None:
        async with db.acting_as(Identity.service()) as own:
            used = await storage_used(own, owner)
    else:
        used = await storage_used(conn, owner)
    if used + size > quota_bytes:
        raise TooLarge(f"storage quota exceeded: {used} of {quota_bytes} bytes used, this file needs {size}",
                       quota=quota_bytes, used=used)


async def _forget_unreferenced(db: Database, blobs: BlobStore, key: str, sha256: str) -> None:
    """Remove a blob this request wrote when no row refers to it (the upload failed after writing it)."""
    with contextlib.suppress(Exception):  # the original error matters more; `ohm gc` is the backstop
        await forget_unreferenced(db, blobs, key, sha256)


async def forget_unreferenced(db: Database, blobs: BlobStore, key: str, sha256: str) -> bool:
    """Remove a stored file no row refers to any more (under the lock uploads of the same bytes take);
    True when it was removed."""
    async with db.acting_as(Identity.service()) as conn:
        await conn.execute("select pg_advisory_xact_lock(%s)", (_lock_key(sha256),))
        if await _referenced(conn, blobs, key):
            return False
        await blobs.delete(key)
        return True


async def _referenced(conn: Conn, blobs: BlobStore, key: str) -> bool:
    """Does a row of this store refer to ``key``? (Rows of another store, e.g. before a move to S3, do not.)"""
    cur = await conn.execute("select exists (select 1 from public.attachments where storage_path = %s and bucket = %s)"
                             " as used", (key, blobs.bucket[:100]))
    return bool((await first(cur))["used"])


async def get(db: Database, identity: Identity, attachment_id: uuid.UUID) -> Attachment:
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(f"select {COLUMNS} from public.attachments a where a.id = %s", (attachment_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(NOT_FOUND)
    return attachment_from_row(row)


async def _open(blobs: BlobStore, row: dict[str, Any]) -> AsyncIterator[bytes]:
    try:
        return await blobs.open(row["storage_path"])
    except FileNotFoundError:
        raise NotFound("the file's bytes are missing from storage") from None


async def content(db: Database, blobs: BlobStore, identity: Identity,
                  attachment_id: uuid.UUID) -> tuple[Attachment, AsyncIterator[bytes]]:
    """The bytes as a stream of chunks, for the owner (and the service role); others read public metadata
    only."""
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            f"""select {COLUMNS} from public.attachments a
                 where a.id = %s and (a.user_id = (select auth.uid()) or (select auth.role()) = 'service_role')""",
            (attachment_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(NOT_FOUND)
    return attachment_from_row(row), await _open(blobs, row)


async def update(db: Database, identity: Identity, attachment_id: uuid.UUID, data: AttachmentUpdate) -> Attachment:
    """Processing status: pending -> processing -> done | failed (failed -> processing to retry)."""
    allowed = {"pending": {"processing", "failed"}, "processing": {"done", "failed"}, "failed": {"processing"},
               "done": set()}
    async with db.acting_as(identity) as conn:
        with database_errors(NOT_FOUND):
            cur = await conn.execute(
                "select processing_status::text as status from public.attachments where id = %s for update",
                (attachment_id,))
            current = await cur.fetchone()
        if current is None:
            raise NotFound(NOT_FOUND)
        if data.processing_status not in allowed[current["status"]]:
            raise Conflict(f"processing_status cannot go from {current['status']} to {data.processing_status}",
                           current=current["status"])
        error = data.processing_error if data.processing_status == "failed" else None
        cur = await conn.execute(
            f"""update public.attachments a
                   set processing_status = %s::public.processing_status, processing_error = %s
                 where a.id = %s returning {COLUMNS}""", (data.processing_status, error, attachment_id))
        return attachment_from_row(await first(cur))


async def delete(db: Database, blobs: BlobStore, identity: Identity, attachment_id: uuid.UUID) -> None:
    """Delete the row (as the caller, under RLS); the blob goes with the last row that refers to it.

    The reference count is taken afterwards as the service role, under the content's advisory lock: an
    upload of the same bytes either committed before (and is counted) or re-checks the blob after."""
    async with db.acting_as(identity) as conn:
        with database_errors(NOT_FOUND):
            cur = await conn.execute("delete from public.attachments where id = %s returning storage_path, sha256",
                                     (attachment_id,))
            deleted = await cur.fetchone()
        if deleted is None:
            raise NotFound(NOT_FOUND)
    async with db.acting_as(Identity.service()) as conn:
        await conn.execute("select pg_advisory_xact_lock(%s)", (_lock_key(deleted["sha256"]),))
        if not await _referenced(conn, blobs, deleted["storage_path"]):
            await blobs.delete(deleted["storage_path"])


# --- signed URLs -----------------------------------------------------------------------------------


def _signing_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"ohm signed download urls v1", hashlib.sha256).digest()


def sign(secret: str, attachment_id: uuid.UUID, expires: int) -> str:
    mac = hmac.new(_signing_key(secret), f"{attachment_id}:{expires}".encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(mac).decode().rstrip("=")


async def signed_url(db: Database, identity: Identity, secret: str, attachment_id: uuid.UUID,
                     ttl_seconds: int) -> SignedUrl:
    """A download link that works without a token until it expires (owner only)."""
    attachment = await get(db, identity, attachment_id)
    if identity.role != "service_role" and attachment.user_id != identity.user_id:
        raise NotFound(NOT_FOUND)
    expires = int(time.time()) + ttl_seconds
    return SignedUrl(url=signed_path(secret, attachment_id, ttl_seconds, expires=expires),
                     expires_at=datetime.fromtimestamp(expires, UTC))


def signed_path(secret: str, attachment_id: uuid.UUID, ttl_seconds: int, *, expires: int | None = None) -> str:
    if expires is None:
        # Rounded up to the minute, so a page rendered twice links the same (cacheable) URL.
        expires = (int(time.time()) + ttl_seconds + 59) // 60 * 60
    return f"/v1/attachments/{attachment_id}/blob?expires={expires}&signature={sign(secret, attachment_id, expires)}"


def check_signature(secret: str, attachment_id: uuid.UUID, expires: int, signature: str) -> None:
    if not hmac.compare_digest(sign(secret, attachment_id, expires).encode(), signature.encode("utf-8", "replace")):
        raise Forbidden("bad signature")
    if expires < time.time():
        raise Forbidden("this link has expired")


async def signed_content(db: Database, blobs: BlobStore, secret: str, attachment_id: uuid.UUID, expires: int,
                         signature: str) -> tuple[Attachment, AsyncIterator[bytes]]:
    """The bytes behind a signed URL: the signature is the authority, no token is involved."""
    check_signature(secret, attachment_id, expires, signature)
    async with db.acting_as(Identity.service()) as conn:
        cur = await conn.execute(f"select {COLUMNS} from public.attachments a where a.id = %s", (attachment_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(NOT_FOUND)
    return attachment_from_row(row), await _open(blobs, row)


# --- garbage collection ------------------------------------------------------------------------------


@dataclass
class GcReport:
    blobs: int
    removed: list[str]
    kept_young: int
    missing: list[str]


async def gc(db: Database, blobs: BlobStore, *, grace: timedelta = timedelta(hours=1),
             dry_run: bool = False) -> GcReport:
    """Remove blobs no row refers to (older than ``grace``, so uploads in flight are safe).

    Only keys of OHM's own shapes are considered (content-addressed blobs, a directory store's temporary
    files): a bucket shared with supabase-js uploads keeps everything else."""
    listing = [(key, modified) for key, modified in await blobs.listing() if is_ohm_key(key)]
    async with db.acting_as(Identity.service()) as conn:
        cur = await conn.execute("select distinct storage_path from public.attachments where bucket = %s",
                                 (blobs.bucket[:100],))
        referenced = {r["storage_path"] for r in await cur.fetchall()}
    cutoff = datetime.now(UTC) - grace
    removed, young = [], 0
    stored = {key for key, _ in listing}
    for key, modified in listing:
        if key in referenced:
            continue
        if modified > cutoff:
            young += 1
            continue
        removed.append(key)
        if not dry_run:
            await blobs.delete(key)
    return GcReport(blobs=len(listing), removed=removed, kept_young=young,
                    missing=sorted(referenced - stored))
