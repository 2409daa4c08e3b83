"""Uploads on both storage backends (a directory, and S3 through moto's HTTP server), their limits,
signed URLs, garbage collection, and who may see or change what."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ohm.api.app import create_app
from ohm.auth import Identity, issue_token
from ohm.blobs import content_key
from ohm.cli import app as cli_app
from ohm.config import Settings
from ohm.db.session import Database
from ohm.store import attachments

from .conftest import JWT_SECRET, acting, auth
from .helpers import PDF, make_chat, png

LIMIT = 64 * 1024
QUOTA = 200 * 1024


WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00" \
    + b"\x00" * 64 + b"PE\x00\x00L\x01" + b"\x00" * 200
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


# --- the two backends ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto in server mode: a real S3 HTTP endpoint on a free port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path: Path, monkeypatch) -> dict:
    if request.param == "local":
        return {"data_dir": tmp_path, "storage_url": None}
    endpoint = request.getfixturevalue("s3_endpoint")
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    bucket = f"ohm-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return {"data_dir": tmp_path, "storage_url": f"s3://{bucket}/uploads", "s3_endpoint_url": endpoint,
            "s3_region": "us-east-1"}


@pytest.fixture
def settings(database_url: str, storage: dict) -> Settings:
    return Settings(database_url=database_url, jwt_secret=JWT_SECRET, max_upload_bytes=LIMIT,
                    storage_quota_bytes=QUOTA, **storage)


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def blob_keys(api: TestClient):
    """The keys the app's store holds now."""
    return lambda: sorted(k for k, _ in asyncio.run(api.app.state.blobs.listing()))


def upload(api: TestClient, user, data: bytes, name: str = "board.png", headers: dict | None = None, **form):
    return api.post("/v1/attachments", files={"file": (name, data, "application/octet-stream")},
                    data={k: str(v) for k, v in form.items()}, headers=headers if headers is not None else auth(user))


def row_count(app_url: str, user) -> int:
    with acting(app_url, Identity.service()) as conn:
        return conn.execute("select count(*) as n from public.attachments where user_id = %s",
                            (user.id,)).fetchone()["n"]


# --- uploading and reading back ----------------------------------------------------------------------


def test_upload_stores_bytes_and_reports_what_they_are(api, user, app_url, blob_keys):
    chat = make_chat(app_url, user)
    data = png(seed=1)
    response = upload(api, user, data, "wiring photo.PNG", category="circuit_image", chat_id=chat)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["size_bytes"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["mime_type"] == "image/png"
    assert body["filename"] == "wiring photo.PNG"
    assert body["chat_id"] == str(chat) and body["processing_status"] == "pending"
    assert response.headers["location"] == f"/v1/attachments/{body['id']}"
    assert "storage_path" not in body
    assert content_key(body["sha256"]) in blob_keys()

    meta = api.get(f"/v1/attachments/{body['id']}", headers=auth(user)).json()
    assert meta == body
    content = api.get(body["content_url"], headers=auth(user))
    assert content.status_code == 200 and content.content == data
    assert content.headers["content-type"] == "image/png"
    assert content.headers["content-disposition"].startswith('inline; filename="wiring photo.PNG"')
    assert content.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in content.headers["content-security-policy"]


def test_identical_uploads_are_stored_once_and_the_last_delete_removes_the_blob(api, user, other_user, blob_keys):
    data = PDF + b"% shared datasheet\n"
    key = content_key(hashlib.sha256(data).hexdigest())
    before = blob_keys()
    first = upload(api, user, data, "lm7805.pdf", category="datasheet").json()
    second = upload(api, other_user, data, "LM7805 (1).pdf", category="datasheet").json()
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert blob_keys() == sorted({*before, key})

    assert api.delete(f"/v1/attachments/{first['id']}", headers=auth(user)).status_code == 204
    assert key in blob_keys()
    assert api.get(f"/v1/attachments/{second['id']}/content", headers=auth(other_user)).content == data
    assert api.delete(f"/v1/attachments/{second['id']}", headers=auth(other_user)).status_code == 204
    assert key not in blob_keys()
    assert api.get(f"/v1/attachments/{second['id']}", headers=auth(other_user)).status_code == 404


def test_svg_and_unknown_types_download_rather_than_render(api, user):
    svg = upload(api, user, SVG, "schematic.svg", category="schematic").json()
    assert svg["mime_type"] == "image/svg+xml"
    served = api.get(svg["content_url"], headers=auth(user))
    assert served.headers["content-disposition"].startswith("attachment;")
    assert served.headers["content-type"].startswith("image/svg+xml")
    code = upload(api, user, b"void setup() {}\nvoid loop() {}\n", "main.ino", category="code").json()
    assert code["mime_type"] == "text/plain"
    assert api.get(code["content_url"], headers=auth(user)).headers["content-disposition"].startswith("attachment;")


# --- limits and checks -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [LIMIT + 1, 4 * LIMIT])
def test_too_large_is_413_and_nothing_is_stored(api, user, app_url, blob_keys, size):
    before = blob_keys()
    data = PDF + b"0" * (size - len(PDF))
    response = upload(api, user, data, "big.pdf", category="datasheet")
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert row_count(app_url, user) == 0
    assert blob_keys() == before


def test_exactly_the_limit_is_accepted(api, user):
    data = PDF + b"0" * (LIMIT - len(PDF))
    response = upload(api, user, data, "limit.pdf", category="datasheet")
    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == LIMIT


@pytest.mark.parametrize(("data", "name", "category"), [
    (WINDOWS_EXE, "photo.png", "circuit_image"),
    (ELF, "notes.txt", "other"),
    (b"just some text, not an image", "board.jpg", "photo"),
    (png(seed=3), "datasheet.pdf", "code"),
    (b"\x00\x01\x02\x03 binary blob", "lm358.pdf", "datasheet"),
])
def test_bytes_that_do_not_suit_the_category_are_415(api, user, app_url, blob_keys, data, name, category):
    before = blob_keys()
    response = upload(api, user, data, name, category=category)
    assert response.status_code == 415, response.text
    problem = response.json()
    assert problem["status"] == 415 and problem["type"].startswith("urn:ohm:problem:")
    assert row_count(app_url, user) == 0
    assert blob_keys() == before


@pytest.mark.parametrize(("given", "expected"), [
    ("../../etc/passwd.png", "passwd.png"),
    ("..\\..\\windows\\system32\\evil.png", "evil.png"),
    ("wiring\x00\x1b[31m\r\nphoto.png", "wiring[31mphoto.png"),
    ("...", "upload"),
    ("", "upload"),
    (".bashrc.png", "bashrc.png"),
])
def test_filenames_are_sanitised(given, expected):
    assert attachments.clean_filename(given) == expected


def test_absurdly_long_names_are_cut_keeping_the_extension(api, user):
    name = "ä" * 1500 + ".png"
    clean = attachments.clean_filename(name)
    assert clean.endswith(".png") and len(clean.encode()) <= 200
    response = upload(api, user, png(seed=4), "../" + name, category="photo")
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == clean
    # Past the multipart parser's 4 KiB header line: refused before anything is read.
    refused = upload(api, user, png(seed=4), "ä" * 5000 + ".png", category="photo")
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_quota_is_per_user_with_a_clear_error(api, user, other_user, app_url):
    chunk = LIMIT - 1024
    stored = 0
    for seed in range(QUOTA // chunk):
        response = upload(api, user, PDF + bytes([seed]) * (chunk - len(PDF)), f"d{seed}.pdf", category="datasheet")
        assert response.status_code == 201, response.text
        stored += chunk
    response = upload(api, user, PDF + b"z" * (chunk - len(PDF)), "one-too-many.pdf", category="datasheet")
    assert response.status_code == 413
    assert "quota" in response.json()["detail"]
    assert response.json()["used"] == stored
    assert row_count(app_url, user) == QUOTA // chunk
    assert upload(api, other_user, PDF + b"z" * (chunk - len(PDF)), "fine.pdf", category="datasheet").status_code == 201


def test_refused_uploads_leave_no_file_behind(api, user, other_user, app_url, blob_keys):
    """Over the quota, or refused by the database after the bytes were written: no blob stays (before,
    five uploads answered 413 left their files until `ohm gc`)."""
    chunk = LIMIT - 1024
    for seed in range(QUOTA // chunk):
        assert upload(api, user, PDF + bytes([seed]) * (chunk - len(PDF)), category="datasheet").status_code == 201
    before = blob_keys()
    for seed in range(5):
        refused = upload(api, user, PDF + bytes([100 + seed]) * (chunk - len(PDF)), category="datasheet")
        assert refused.status_code == 413 and "quota" in refused.json()["detail"]
    assert blob_keys() == before, "after quota"
    # The database refuses the row (another user's chat) after the blob was written: it is removed again.
    bob_chat = make_chat(app_url, other_user)
    refused = upload(api, other_user, png(seed=77), category="photo", chat_id=make_chat(app_url, user))
    assert refused.status_code == 422
    assert blob_keys() == before
    assert upload(api, other_user, png(seed=77), category="photo", chat_id=bob_chat).status_code == 201
    assert len(blob_keys()) == len(before) + 1


def test_uploads_up_to_the_upload_limit_pass_the_general_body_limit(database_url, storage):
    """The app-wide body limit (here 64 KiB) does not cut uploads short of the upload limit (1 MiB)."""
    settings = Settings(database_url=database_url, jwt_secret=JWT_SECRET, max_body_bytes=64 * 1024,
                        max_upload_bytes=1024 * 1024, storage_quota_bytes=QUOTA * 100, **storage)
    with TestClient(create_app(settings)) as client:
        from ohm.db.target import derive_app_url

        from .conftest import server_user_maker

        user = server_user_maker(derive_app_url(database_url, None))("big")
        big = PDF + b"x" * (900 * 1024)
        response = upload(client, user, big, "big.pdf", category="datasheet")
        assert response.status_code == 201, response.text
        content = client.get(response.json()["content_url"], headers=auth(user))
        assert content.content == big and content.headers["content-length"] == str(len(big))
        assert upload(client, user, PDF + b"x" * (1100 * 1024), category="datasheet").status_code == 413
        # Everything else is held to the general limit.
        chat = client.post("/v1/chats", json={"title": "x" * 100_000}, headers=auth(user))
        assert chat.status_code == 413


def test_a_stored_name_with_line_breaks_cannot_break_the_download(api, user, app_url, database_url):
    """A name with CR/LF made /content a 500. The database now refuses one (a direct SQL update could write
    it); a row stored before still downloads, with the Content-Disposition header one safe line."""
    body = upload(api, user, png(seed=81), "ok.png", category="photo").json()
    evil = "evil\r\nSet-Cookie: x=1\r\n.png"
    with pytest.raises(psycopg.errors.CheckViolation):
        with acting(app_url, user.identity) as conn:
            conn.execute("update public.attachments set filename = %s where id = %s", (evil, body["id"]))
    with psycopg.connect(database_url) as conn:  # a row from before the constraint
        conn.execute("alter table public.attachments drop constraint attachments_filename_printable")
        conn.execute("update public.attachments set filename = %s where id = %s", (evil, body["id"]))
        conn.execute("alter table public.attachments add constraint attachments_filename_printable "
                     "check (filename !~ '[[:cntrl:]]') not valid")
    response = api.get(body["content_url"], headers=auth(user))
    assert response.status_code == 200 and response.content == png(seed=81)
    disposition = response.headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "set-cookie" not in response.headers
    assert "evil%0D%0ASet-Cookie" in disposition


def test_bad_form_input_is_422_and_stores_nothing(api, user, other_user, app_url, blob_keys):
    before = blob_keys()
    bob_chat = make_chat(app_url, other_user)
    assert upload(api, user, png(seed=5), category="banana").status_code == 422
    assert upload(api, user, png(seed=5), chat_id="not-a-uuid").status_code == 422
    assert upload(api, user, png(seed=5), chat_id=bob_chat).status_code == 422
    assert upload(api, user, png(seed=5), message_id=uuid.uuid4()).status_code == 422
    assert api.post("/v1/attachments", data={"category": "photo"}, headers=auth(user)).status_code == 422
    assert row_count(app_url, user) == 0
    # The blob was written before the row was refused: only gc's business, never a row without it.
    assert set(blob_keys()) - set(before) <= {content_key(hashlib.sha256(png(seed=5)).hexdigest())}


# --- garbage collection --------------------------------------------------------------------------------


def test_gc_removes_blobs_left_by_a_crash_and_keeps_referenced_and_young_ones(api, user, settings, database_url):
    kept = upload(api, user, png(seed=6), category="photo").json()
    blobs = api.app.state.blobs
    # A crash after the blob was written and before the row: the blob has no row.
    orphan = png(seed=7)
    orphan_key = content_key(hashlib.sha256(orphan).hexdigest())
    import io
    asyncio.run(blobs.put(orphan_key, io.BytesIO(orphan)))
    # In a bucket shared with supabase-js uploads, a user's own file is not OHM's to collect.
    foreign_key = f"{user.id}/circuit.png"
    asyncio.run(blobs.put(foreign_key, io.BytesIO(png(seed=9))))
    # A directory store's temporary file, left by a process killed mid-write, is.
    leftover = None
    if hasattr(blobs, "root"):
        leftover = blobs.root / "tmp" / f"{hashlib.sha256(b'half').hexdigest()}.{'0' * 16}"
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.write_bytes(b"half a file")

    async def collect(grace: timedelta, dry_run: bool = False):
        async with Database(api.app.state.target.app_url, min_size=1, max_size=1) as db:
            return await attachments.gc(db, blobs, grace=grace, dry_run=dry_run)

    young = asyncio.run(collect(timedelta(hours=1)))
    assert young.removed == [] and young.kept_young >= 1
    dry = asyncio.run(collect(timedelta(0), dry_run=True))
    assert orphan_key in dry.removed and asyncio.run(blobs.exists(orphan_key))
    done = asyncio.run(collect(timedelta(0)))
    assert orphan_key in done.removed
    assert not asyncio.run(blobs.exists(orphan_key))
    assert asyncio.run(blobs.exists(content_key(kept["sha256"])))
    assert api.get(kept["content_url"], headers=auth(user)).content == png(seed=6)
    assert content_key(kept["sha256"]) not in done.missing
    assert foreign_key not in done.removed and asyncio.run(blobs.exists(foreign_key))
    if leftover is not None:
        assert not leftover.exists()


def test_gc_command(api, user, settings, database_url, monkeypatch):
    import io
    orphan = png(seed=8)
    key = content_key(hashlib.sha256(orphan).hexdigest())
    asyncio.run(api.app.state.blobs.put(key, io.BytesIO(orphan)))
    env = {"OHM_DATA_DIR": str(settings.data_dir), "OHM_STORAGE_URL": settings.storage_url or "",
           "OHM_S3_ENDPOINT_URL": settings.s3_endpoint_url or "", "OHM_JWT_SECRET": JWT_SECRET}
    for name, value in env.items():
        if value:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    dry = runner.invoke(cli_app, ["gc", "--database-url", database_url, "--grace", "0", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert key in dry.output and "would remove" in dry.output
    assert asyncio.run(api.app.state.blobs.exists(key))
    real = runner.invoke(cli_app, ["gc", "--database-url", database_url, "--grace", "0"])
    assert real.exit_code == 0, real.output
    assert not asyncio.run(api.app.state.blobs.exists(key))


# --- signed URLs -----------------------------------------------------------------------------------------


def test_signed_urls_work_without_a_token_until_they_expire(api, user, other_user):
    data = png(seed=9)
    body = upload(api, user, data, category="photo").json()
    signed = api.get(f"/v1/attachments/{body['id']}/signed-url?ttl=60", headers=auth(user))
    assert signed.status_code == 200
    url = signed.json()["url"]
    fetched = api.get(url)
    assert fetched.status_code == 200 and fetched.content == data
    assert fetched.headers["content-type"] == "image/png"

    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert api.get(tampered).status_code == 403
    other_id = upload(api, user, png(seed=10), category="photo").json()["id"]
    assert api.get(url.replace(body["id"], other_id)).status_code == 403
    longer = url.replace("expires=", "expires=9")
    assert api.get(longer).status_code == 403

    past = int(time.time()) - 1
    signature = attachments.sign(JWT_SECRET, uuid.UUID(body["id"]), past)
    expired = f"/v1/attachments/{body['id']}/blob?expires={past}&signature={signature}"
    response = api.get(expired)
    assert response.status_code == 403 and "expired" in response.json()["detail"]
    assert api.get(f"/v1/attachments/{body['id']}/blob?expires=1").status_code == 422

    assert api.get(f"/v1/attachments/{body['id']}/signed-url", headers=auth(other_user)).status_code == 404
    assert api.get(f"/v1/attachments/{body['id']}/signed-url?ttl=0", headers=auth(user)).status_code == 422
    assert api.get(f"/v1/attachments/{body['id']}/signed-url?ttl=9999999", headers=auth(user)).status_code == 422


# --- who may see and change what ------------------------------------------------------------------------


def test_other_users_and_anon_cannot_see_or_change_an_upload(api, user, other_user, app_url):
    data = png(seed=11)
    body = upload(api, user, data, category="photo").json()
    path = f"/v1/attachments/{body['id']}"
    for headers in (auth(other_user), {}):
        assert api.get(path, headers=headers).status_code == 404
        assert api.get(f"{path}/content", headers=headers).status_code == 404
    assert api.get(f"{path}/signed-url").status_code == 401
    assert api.patch(path, json={"processing_status": "processing"}, headers=auth(other_user)).status_code == 404
    assert api.delete(path, headers=auth(other_user)).status_code == 404
    assert api.delete(path).status_code == 401
    assert upload(api, user, png(seed=12), headers={}).status_code == 401
    assert api.get(path, headers=auth(user)).json()["processing_status"] == "pending"
    assert row_count(app_url, user) == 1


def test_public_chat_uploads_show_metadata_but_not_bytes(api, user, other_user, app_url):
    chat = make_chat(app_url, user, public=True)
    body = upload(api, user, png(seed=13), category="circuit_image", chat_id=chat).json()
    path = f"/v1/attachments/{body['id']}"
    for headers in (auth(other_user), {}):
        assert api.get(path, headers=headers).json()["sha256"] == body["sha256"]
        assert api.get(f"{path}/content", headers=headers).status_code == 404
    assert api.get(f"{path}/signed-url", headers=auth(other_user)).status_code == 404


def test_users_cannot_register_or_rewrite_blob_claims_in_sql(app_url, user, other_user):
    """A copied sha256 must not become a claim on someone else's bytes (see migration 0021)."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with acting(app_url, other_user.identity) as conn:
            conn.execute("""insert into public.attachments (user_id, storage_path, filename, mime_type, size_bytes,
                                                            sha256) values (%s, 'sha256/aa/bb/x', 'x', 'image/png', 1,
                                                            repeat('a', 64))""", (other_user.id,))
    with acting(app_url, Identity.service()) as conn:
        attachment = conn.execute(
            """insert into public.attachments (user_id, storage_path, filename, mime_type, size_bytes, sha256)
               values (%s, 'sha256/aa/bb/y', 'y.png', 'image/png', 10, repeat('b', 64)) returning id""",
            (user.id,)).fetchone()["id"]
    for column, value in (("storage_path", "sha256/cc/dd/z"), ("size_bytes", 0), ("sha256", "c" * 64),
                          ("user_id", other_user.id)):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with acting(app_url, user.identity) as conn:
                conn.execute(f"update public.attachments set {column} = %s where id = %s", (value, attachment))
    with acting(app_url, user.identity) as conn:
        assert conn.execute("update public.attachments set filename = 'renamed.png' where id = %s returning id",
                            (attachment,)).fetchone() is not None


def test_service_role_uploads_for_a_user(api, user, app_url):
    service = {"Authorization": f"Bearer {issue_token(JWT_SECRET, role='service_role')}"}
    assert upload(api, user, png(seed=14), category="photo", headers=service).status_code == 422
    body = upload(api, user, png(seed=14), category="photo", headers=service, user_id=user.id).json()
    assert body["user_id"] == str(user.id)
    assert api.get(body["content_url"], headers=auth(user)).content == png(seed=14)
    assert upload(api, user, png(seed=15), category="photo", user_id=uuid.uuid4()).status_code == 422


# --- processing status ------------------------------------------------------------------------------------


def test_processing_status_moves_forward_only_and_emits_events(api, user, app_url):
    chat = make_chat(app_url, user)
    body = upload(api, user, png(seed=16), category="circuit_image", chat_id=chat).json()
    path = f"/v1/attachments/{body['id']}"
    assert api.patch(path, json={"processing_status": "done"}, headers=auth(user)).status_code == 409
    assert api.patch(path, json={"processing_status": "pending"}, headers=auth(user)).status_code == 422
    service = {"Authorization": f"Bearer {issue_token(JWT_SECRET, role='service_role')}"}
    step = api.patch(path, json={"processing_status": "processing"}, headers=service)
    assert step.status_code == 200 and step.json()["processing_status"] == "processing"
    failed = api.patch(path, json={"processing_status": "failed", "processing_error": "photo too dark"},
                       headers=auth(user)).json()
    assert failed["processing_status"] == "failed" and failed["processing_error"] == "photo too dark"
    retry = api.patch(path, json={"processing_status": "processing"}, headers=auth(user)).json()
    assert retry["processing_error"] is None
    assert api.patch(path, json={"processing_status": "done"}, headers=auth(user)).json()["processing_status"] == "done"
    assert api.patch(path, json={"processing_status": "processing"}, headers=auth(user)).status_code == 409
    with acting(app_url, user.identity) as conn:
        events = conn.execute("select kind, data->>'processing_status' as status from public.realtime_events "
                              "where chat_id = %s and entity_id = %s order by event_seq", (chat, body["id"])).fetchall()
    assert [(e["kind"], e["status"]) for e in events] == [
        ("attachment.created", "pending"), ("attachment.updated", "processing"), ("attachment.updated", "failed"),
        ("attachment.updated", "processing"), ("attachment.updated", "done")]
