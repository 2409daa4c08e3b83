"""Realtime: live events over WebSocket and SSE, RLS-filtered, resumable, across processes and restarts."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid

import httpx
import psycopg
import pytest
import websockets

from ohm.auth import Identity, issue_token
from ohm.client import OhmClient

from .conftest import JWT_SECRET, acting, free_port
from .helpers import TIMEOUT, nothing_arrives, pg_ctl, receive, serve, server_log, subscribe, ws_url


async def test_every_kind_of_event_arrives_with_its_row(user, live_server, app_url):
    with OhmClient(live_server, token=user.token()) as ohm:
        chat = ohm.create_chat(title="live")
        async with websockets.connect(ws_url(live_server, user.token())) as ws:
            subscribed = await subscribe(ws, chat.id)
            assert subscribed == {"type": "subscribed", "chat_id": str(chat.id), "cursor": 0, "latest": 0}
            message = ohm.post_message(chat.id, "assistant", "hello, live", agent={"name": "orchestrator"})
            event = await receive(ws, until="event")
            assert (event["kind"], event["cursor"], event["id"]) == ("message.created", 1, str(message.id))
            assert event["data"]["content"] == "hello, live" and event["data"]["agent"]["name"] == "orchestrator"
            art = ohm.create_artifact(chat.id, "document", "Notes", content_text="v1")
            event = await receive(ws, until="event")
            assert (event["kind"], event["cursor"], event["data"]["version"]) == ("artifact.created", 2, 1)
            ohm.add_version(art.id, 1, content_text="v2")
            event = await receive(ws, until="event")
            assert (event["kind"], event["data"]["content_text"]) == ("artifact.version_created", "v2")
            ohm.update_chat(chat.id, title="renamed")
            event = await receive(ws, until="event")
            assert (event["kind"], event["data"]["title"]) == ("chat.updated", "renamed")
            with acting(app_url, Identity.service()) as conn:
                conn.execute("update messages set content = 'edited' where id = %s", (message.id,))
            event = await receive(ws, until="event")
            assert (event["kind"], event["data"]["content"]) == ("message.updated", "edited")
            ohm.delete_chat(chat.id)
            event = await receive(ws, until="event")
            assert (event["kind"], event["cursor"]) == ("chat.deleted", 6)


async def test_others_get_nothing_and_anon_only_public_chats(user, other_user, live_server):
    with OhmClient(live_server, token=user.token()) as ohm:
        chat = ohm.create_chat(title="private")
        async with websockets.connect(ws_url(live_server, other_user.token())) as bob, \
                websockets.connect(ws_url(live_server)) as anon:
            for ws in (bob, anon):
                refused = await subscribe(ws, chat.id)
                assert (refused["type"], refused["code"]) == ("error", "not_found")
            ohm.post_message(chat.id, "user", "secret plan")
            await nothing_arrives(bob)
            await nothing_arrives(anon)
            # A public chat is watchable by anyone ...
            ohm.update_chat(chat.id, is_public=True)
            assert (await subscribe(anon, chat.id))["type"] == "subscribed"
            ohm.post_message(chat.id, "user", "open plan")
            event = await receive(anon, until="event")
            assert event["data"]["content"] == "open plan"
            # ... until it is not: the watcher is told, and gets no more data.
            ohm.update_chat(chat.id, is_public=False)
            notice = await receive(anon)
            assert (notice["type"], notice["code"]) == ("error", "not_found")
            ohm.post_message(chat.id, "user", "private again")
            await nothing_arrives(anon)


async def test_resume_after_disconnect_loses_nothing_and_repeats_nothing(user, live_server):
    with OhmClient(live_server, token=user.token()) as ohm:
        chat = ohm.create_chat()
        async with websockets.connect(ws_url(live_server, user.token())) as ws:
            await subscribe(ws, chat.id)
            ohm.post_message(chat.id, "user", "m1")
            last = (await receive(ws, until="event"))["cursor"]
        for i in range(2, 7):  # written while nobody listens
            ohm.post_message(chat.id, "user", f"m{i}")
        async with websockets.connect(ws_url(live_server, user.token())) as ws:
            assert (await subscribe(ws, chat.id, since=last)) == {
                "type": "subscribed", "chat_id": str(chat.id), "cursor": 1, "latest": 6}
            replayed = [await receive(ws, until="event") for _ in range(5)]
            ohm.post_message(chat.id, "user", "m7")
            live = await receive(ws, until="event")
            await nothing_arrives(ws, 0.5)
        contents = [e["data"]["content"] for e in [*replayed, live]]
        assert contents == [f"m{i}" for i in range(2, 8)]
        assert [e["cursor"] for e in [*replayed, live]] == list(range(2, 8))


async def test_sse_with_last_event_id(user, live_server):
    with OhmClient(live_server, token=user.token()) as ohm:
        chat = ohm.create_chat()
        for i in range(3):
            ohm.post_message(chat.id, "user", f"s{i}")
        url = f"{live_server}/v1/chats/{chat.id}/events?token={user.token()}"
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            async with client.stream("GET", url, headers={"Last-Event-ID": "1"}) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                frames: list[dict] = []
                lines = response.aiter_lines()
                frame: dict = {}
                while len(frames) < 4:
                    line = await asyncio.wait_for(lines.__anext__(), TIMEOUT)
                    if line == "":
                        if frame:
                            frames.append(frame)
                            if len(frames) == 3:
                                ohm.post_message(chat.id, "user", "live one")
                        frame = {}
                    elif ":" in line and not line.startswith(":"):
                        key, _, value = line.partition(":")
                        frame[key] = value.strip()
        assert frames[0]["event"] == "subscribed"
        assert [(f["id"], f["event"]) for f in frames[1:]] == [("2", "message.created"), ("3", "message.created"),
                                                               ("4", "message.created")]
        assert json.loads(frames[3]["data"])["data"]["content"] == "live one"
    denied = httpx.get(f"{live_server}/v1/chats/{chat.id}/events")
    assert denied.status_code == 404
    assert httpx.get(f"{live_server}/v1/chats/{chat.id}/events?token=forged.token.x").status_code == 401
    # Not a cursor this server sent: "²" passes str.isdigit(), 5,000 digits overflow bigint (both were 500s).
    for bad in ("²", "9" * 5000, "-1", "1e3", "0x10"):
        refused = httpx.get(f"{live_server}/v1/chats/{chat.id}/events?token={user.token()}",
                            headers={"Last-Event-ID": bad.encode("latin-1")}, timeout=TIMEOUT)
        assert refused.status_code == 422, (bad, refused.status_code)
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_bad_websocket_input(user, live_server):
    async with websockets.connect(ws_url(live_server, "not-a-token")) as ws:
        message = await receive(ws)
        assert message["code"] == "unauthorized"
    async with websockets.connect(ws_url(live_server)) as ws:
        for bad in ({"type": "subscribe", "chat_id": "nope"}, {"type": "dance"}, {"type": "subscribe",
                    "chat_id": str(uuid.uuid4()), "since": -1}, ["not", "an", "object"],
                    ):
            await ws.send(json.dumps(bad))
            assert (await receive(ws))["type"] == "error"
        # JSON true is an int to Python (it reached SQL as a cursor), and 10**30 overflows bigint.
        with OhmClient(live_server, token=user.token()) as ohm:
            public = ohm.create_chat(is_public=True)
        for since in (True, 10**30, 1.5):
            await ws.send(json.dumps({"type": "subscribe", "chat_id": str(public.id), "since": since}))
            assert (await receive(ws))["code"] == "bad_request", since
        await ws.send("{not json")
        assert (await receive(ws))["code"] == "bad_request"
        await ws.send(json.dumps({"type": "auth", "token": user.token()}))
        assert (await receive(ws)) == {"type": "authenticated", "role": "authenticated"}
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws)) == {"type": "pong"}


async def test_a_slow_consumer_is_told_to_resume_and_others_are_not_slowed(user, app_url):
    from ohm.api.realtime import ByteQueue, Hub, Subscriber
    from ohm.db.session import Database

    async with Database(app_url, max_size=2) as db:
        hub = Hub(db, app_url)
        slow = Subscriber(user.identity, queue=ByteQueue(max_items=3))
        fast = Subscriber(user.identity)
        with acting(app_url, user.identity) as conn:
            chat = conn.execute("insert into chats (user_id) values (%s) returning id", (user.id,)).fetchone()["id"]
        assert await hub.subscribe(slow, chat, None) == 0
        assert await hub.subscribe(fast, chat, None) == 0
        for i in range(6):
            with acting(app_url, user.identity) as conn:
                mid = conn.execute("insert into messages (chat_id, user_id, role, content) values (%s, %s, 'user', %s) "
                                   "returning id", (chat, user.id, f"e{i}")).fetchone()["id"]
            await hub.dispatch({"chat_id": str(chat), "user_id": str(user.id), "seq": i + 1,
                                "kind": "message.created", "id": str(mid), "data": {}})
        assert fast.queue.qsize() == 1 + 6  # the acknowledgement, then every event
        assert slow.overflowed
        notice = slow.queue.get_nowait()
        assert (notice["code"], slow.queue.qsize()) == ("overflow", 0)
        assert notice["cursors"] == {str(chat): 2}  # the acknowledgement and two events fitted



async def test_two_processes_both_deliver(user, database_url, live_server):
    port = free_port()
    other = serve(database_url, port)
    try:
        with OhmClient(live_server, token=user.token()) as ohm:
            chat = ohm.create_chat()
            async with websockets.connect(ws_url(f"http://127.0.0.1:{port}", user.token())) as far, \
                    websockets.connect(ws_url(live_server, user.token())) as near:
                await subscribe(far, chat.id)
                await subscribe(near, chat.id)
                ohm.post_message(chat.id, "user", "written through process one")
                with OhmClient(f"http://127.0.0.1:{port}", token=user.token()) as ohm2:
                    ohm2.post_message(chat.id, "user", "written through process two")
                for ws in (far, near):
                    got = [(await receive(ws, until="event"))["data"]["content"] for _ in range(2)]
                    assert got == ["written through process one", "written through process two"]
    finally:
        other.send_signal(signal.SIGINT)
        other.wait(30)


@pytest.mark.embedded
@pytest.mark.slow
async def test_the_listener_recovers_from_a_postgresql_restart(tmp_path):
    """A private embedded server, restarted under a subscriber: nothing written afterwards is lost."""
    from ohm.db.embedded import EmbeddedPostgres
    from ohm.db.migrate import migrate

    server = EmbeddedPostgres(tmp_path / "pg-restart")
    server.start()
    migrate(server.admin_url)
    port = free_port()
    proc = serve(server.admin_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            owner = conn.execute("insert into auth.users (email) values ('restart@example.com') returning id"
                                 ).fetchone()[0]
        token = issue_token(JWT_SECRET, user_id=owner)
        with OhmClient(base, token=token) as ohm:
            chat = ohm.create_chat()
            async with websockets.connect(ws_url(base, token)) as ws:
                await subscribe(ws, chat.id)
                ohm.post_message(chat.id, "user", "before")
                assert (await receive(ws, until="event"))["data"]["content"] == "before"
                pg_ctl(server, "restart")
                written, deadline = [], time.monotonic() + 30
                while len(written) < 3 and time.monotonic() < deadline:  # the API comes back on its own
                    try:
                        written.append(ohm.post_message(chat.id, "user", f"after {len(written)}").content)
                    except Exception:  # noqa: BLE001 - 503 while PostgreSQL restarts
                        await asyncio.sleep(0.2)
                assert written == ["after 0", "after 1", "after 2"]
                got = [(await receive(ws, until="event", timeout=20))["data"]["content"] for _ in range(3)]
                assert got == written
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        pg_ctl(server, "stop")  # the handle still knows the pre-restart process
        server.stop()


async def test_notify_only_for_watched_chats_and_the_sweep_delivers_the_rest(user, live_server, app_url,
                                                                             database_url):
    """NOTIFY is sent only for chats with live subscribers; an unannounced event still arrives."""
    with OhmClient(live_server, token=user.token()) as ohm:
        watched, quiet = ohm.create_chat(), ohm.create_chat()
        async with websockets.connect(ws_url(live_server, user.token())) as ws:
            await subscribe(ws, watched.id)
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listener:
                await listener.execute("listen ohm_events")
                ohm.post_message(quiet.id, "user", "nobody watches")
                ohm.post_message(watched.id, "user", "someone watches")
                payloads = [json.loads(n.payload) async for n in listener.notifies(timeout=2)]
            assert [p["chat_id"] for p in payloads] == [str(watched.id)]
            assert (await receive(ws, until="event"))["data"]["content"] == "someone watches"
            # An event committed without a NOTIFY (the lease gone): the sweep delivers it.
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("delete from ohm.realtime_watch where chat_id = %s", (watched.id,))
            ohm.post_message(watched.id, "user", "unannounced")
            event = await receive(ws, until="event", timeout=10)
            assert (event["data"]["content"], event["cursor"]) == ("unannounced", 2)


async def test_uploads_and_their_processing_status_arrive_live(user, live_server):
    from .helpers import png

    headers = {"Authorization": f"Bearer {user.token()}"}
    with OhmClient(live_server, token=user.token()) as ohm:
        chat = ohm.create_chat(title="photos")
    async with websockets.connect(ws_url(live_server, user.token())) as ws, \
            httpx.AsyncClient(base_url=live_server, headers=headers) as http:
        await subscribe(ws, chat.id)
        uploaded = await http.post("/v1/attachments", files={"file": ("board.png", png(seed=77))},
                                   data={"category": "circuit_image", "chat_id": str(chat.id)})
        assert uploaded.status_code == 201, uploaded.text
        event = await receive(ws, until="event")
        assert (event["kind"], event["id"]) == ("attachment.created", uploaded.json()["id"])
        assert event["data"]["filename"] == "board.png" and "storage_path" not in event["data"]
        await http.patch(f"/v1/attachments/{uploaded.json()['id']}", json={"processing_status": "processing"})
        event = await receive(ws, until="event")
        assert (event["kind"], event["data"]["processing_status"]) == ("attachment.updated", "processing")


@pytest.mark.parametrize("compression", [False, True])
async def test_websocket_compression_is_off_unless_configured(user, database_url, tmp_path, compression):
    """`ohm serve` offers permessage-deflate only with OHM_WS_COMPRESSION; events arrive either way."""
    from ohm.api.app import create_app
    from ohm.cli import uvicorn_config
    from ohm.config import Settings

    from .conftest import serving

    settings = Settings(database_url=database_url, jwt_secret=JWT_SECRET, data_dir=tmp_path,
                        ws_compression=compression)
    with serving(uvicorn_config(settings, app=create_app(settings), log_level="warning")) as base:
        with OhmClient(base, token=user.token()) as ohm:
            chat = ohm.create_chat()
            # The client offers permessage-deflate, as browsers do.
            async with websockets.connect(ws_url(base, user.token()), compression="deflate") as ws:
                extensions = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
                assert ("permessage-deflate" in extensions) is compression
                await subscribe(ws, chat.id)
                ohm.post_message(chat.id, "assistant", "x" * 5000)
                assert (await receive(ws, until="event"))["data"]["content"] == "x" * 5000


def _age_events(database_url: str, chat_id, up_to: int, days: int = 30) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("update realtime_events set created_at = now() - make_interval(days => %s) "
                     "where chat_id = %s and event_seq <= %s", (days, chat_id, up_to))


async def sse_frames(url: str, count: int, headers: dict | None = None) -> list[dict]:
    frames: list[dict] = []
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        async with client.stream("GET", url, headers=headers or {}) as response:
            lines, frame = response.aiter_lines(), {}
            while len(frames) < count:
                line = await asyncio.wait_for(lines.__anext__(), TIMEOUT)
                if line == "" and frame:
                    frames.append(frame)
                    frame = {}
                elif ":" in line and not line.startswith(":"):
                    key, _, value = line.partition(":")
                    frame[key] = value.strip()
    return frames


async def test_pruned_events_become_a_reset_instead_of_a_silent_gap(user, other_user, live_server, database_url):
    from typer.testing import CliRunner

    from ohm.cli import app as cli_app

    with OhmClient(live_server, token=user.token()) as ohm:
        chat, untouched = ohm.create_chat(), ohm.create_chat()
        for i in range(5):
            ohm.post_message(chat.id, "user", f"m{i}")
        ohm.post_message(untouched.id, "user", "recent")
        _age_events(database_url, chat.id, up_to=3)
        env = {"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET}
        runner = CliRunner()

        def prune(*flags: str):  # the CLI runs its own event loop: off this one
            return asyncio.to_thread(runner.invoke, cli_app, ["realtime", "prune", "--older-than", "7d", *flags],
                                     env=env)

        dry = await prune("--dry-run")
        assert dry.exit_code == 0 and "would delete 3 realtime events" in dry.output, dry.output
        real = await prune()
        assert real.exit_code == 0 and "deleted 3 realtime events" in real.output, real.output
        with psycopg.connect(database_url) as conn:
            left = conn.execute("select chat_id, event_seq from realtime_events where chat_id = any(%s) "
                                "order by chat_id = %s desc, event_seq", ([chat.id, untouched.id], chat.id)).fetchall()
        assert left == [(chat.id, 4), (chat.id, 5), (untouched.id, 1)]

        async with websockets.connect(ws_url(live_server, user.token())) as ws:
            # A cursor from before what is kept: reset to 3, then 4 and 5 from the log, then live.
            assert (await subscribe(ws, chat.id, since=1))["type"] == "subscribed"
            reset = await receive(ws)
            assert (reset["type"], reset["chat_id"], reset["cursor"]) == ("reset", str(chat.id), 3)
            assert [(await receive(ws))["cursor"] for _ in range(2)] == [4, 5]
            ohm.post_message(chat.id, "user", "live")
            assert (await receive(ws, until="event"))["cursor"] == 6
            # Up to date: nothing to replay, no reset.
            assert (await subscribe(ws, untouched.id, since=1))["type"] == "subscribed"
            await nothing_arrives(ws, 0.5)

        # Everything after the cursor gone: a reset to the chat's newest event.
        _age_events(database_url, chat.id, up_to=6)
        assert (await prune()).exit_code == 0
        async with websockets.connect(ws_url(live_server, user.token())) as ws:
            await subscribe(ws, chat.id, since=2)
            reset = await receive(ws)
            assert (reset["type"], reset["cursor"]) == ("reset", 6)
            await nothing_arrives(ws, 0.5)

        # SSE: the reset carries the cursor as its id, so Last-Event-ID moves on with it.
        frames = await sse_frames(f"{live_server}/v1/chats/{chat.id}/events?token={user.token()}", 2,
                                  {"Last-Event-ID": "2"})
        assert [(f.get("id"), f["event"]) for f in frames] == [(None, "subscribed"), ("6", "reset")]

    # Someone else resuming with an old cursor learns nothing about the chat.
    async with websockets.connect(ws_url(live_server, other_user.token())) as ws:
        assert (await subscribe(ws, chat.id, since=0))["code"] == "not_found"
        await nothing_arrives(ws, 0.5)


async def test_a_stopping_server_ends_its_streams_and_exits_promptly(user, database_url):
    """SIGTERM with an SSE stream and a WebSocket open: both are ended by the server at once (WebSocket
    close code 1012, service restart), and the process exits long before the graceful-shutdown limit."""
    port = free_port()
    proc = serve(database_url, port, OHM_SHUTDOWN_TIMEOUT="60")
    base = f"http://127.0.0.1:{port}"
    with OhmClient(base, token=user.token()) as ohm:
        chat = ohm.create_chat()
    async with httpx.AsyncClient(timeout=TIMEOUT) as client, \
            websockets.connect(ws_url(base, user.token())) as ws:
        await subscribe(ws, chat.id)
        async with client.stream("GET", f"{base}/v1/chats/{chat.id}/events?token={user.token()}") as response:
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith("retry:")
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rest = [line async for line in lines]  # ends: the server closed the stream
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd.code == 1012
    # uvicorn re-raises the signal once it has shut down cleanly: the process ends "by SIGTERM"
    assert proc.wait(15) == -signal.SIGTERM
    assert time.monotonic() - started < 10
    assert "event: subscribed" in rest
    stderr = server_log(proc)
    assert "ERROR" not in stderr and "Traceback" not in stderr, stderr


@pytest.mark.slow
async def test_the_typed_client_streams_events_and_resumes_across_a_server_restart(user, other_user, database_url):
    """AsyncOhmClient.events(): live events in order; `ohm serve` stops, messages are written meanwhile, a
    new one starts on the same port: the stream resumes from its cursor with exactly what it missed;
    chat.deleted ends it; another user gets 404."""
    from ohm.client import AsyncOhmClient, NotFoundError

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(database_url, port)
    received: list = []
    try:
        async with AsyncOhmClient(base, token=user.token()) as ohm:
            chat = await ohm.create_chat()
            stream = ohm.events(chat.id)

            async def read(n: int) -> list:
                return [await asyncio.wait_for(anext(stream), 30) for _ in range(n)]

            reader = asyncio.create_task(read(2))
            await asyncio.sleep(0.5)  # subscribed
            await ohm.post_message(chat.id, "user", "one")
            await ohm.post_message(chat.id, "user", "two")
            received += await reader
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == -signal.SIGTERM
            with psycopg.connect(database_url, autocommit=True) as conn:
                for text in ("three", "four"):
                    conn.execute("insert into messages (chat_id, user_id, role, content) values (%s, %s, 'user', %s)",
                                 (chat.id, user.id, text))
            reader = asyncio.create_task(read(2))
            await asyncio.sleep(1.0)  # the client retries while nothing listens
            proc = serve(database_url, port)
            received += await reader
            await ohm.post_message(chat.id, "user", "five")
            received += await read(1)
            await ohm.update_chat(chat.id, title="renamed")
            await ohm.delete_chat(chat.id)
            received += await read(2)
            with pytest.raises(StopAsyncIteration):  # chat.deleted ends the stream
                await anext(stream)
        async with AsyncOhmClient(base, token=other_user.token()) as theirs:
            with pytest.raises(NotFoundError):
                await anext(theirs.events(chat.id))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert [(e.cursor, e.kind, (e.data or {}).get("content")) for e in received] == [
        (1, "message.created", "one"), (2, "message.created", "two"), (3, "message.created", "three"),
        (4, "message.created", "four"), (5, "message.created", "five"), (6, "chat.updated", None),
        (7, "chat.deleted", None)]


def test_the_sync_client_passes_a_reset_on(user, live_server, database_url):
    from ohm.client import OhmClient as Client

    with Client(live_server, token=user.token()) as ohm:
        chat = ohm.create_chat()
        for text in ("a", "b", "c"):
            ohm.post_message(chat.id, "user", text)
        with psycopg.connect(database_url, autocommit=True) as conn:  # as the retention job would
            conn.execute("delete from realtime_events where chat_id = %s and event_seq <= 2", (chat.id,))
        stream = ohm.events(chat.id, since=0)
        reset, third = next(stream), next(stream)
        stream.close()
    assert (reset.type, reset.cursor, reset.kind) == ("reset", 2, None)
    assert (third.type, third.cursor, third.data["content"]) == ("event", 3, "c")


@pytest.mark.slow
async def test_streams_end_when_their_token_expires_unless_renewed(user, other_user, live_server):
    """A 5 s token used to keep receiving events for as long as the connection lived."""
    with OhmClient(live_server, token=user.token()) as ohm:
        chat = ohm.create_chat()
        async with websockets.connect(ws_url(live_server, user.token(ttl_seconds=2))) as ws:
            assert (await subscribe(ws, chat.id))["type"] == "subscribed"
            ohm.post_message(chat.id, "user", "while valid")
            assert (await receive(ws, until="event"))["data"]["content"] == "while valid"
            expired = await receive(ws, timeout=6)
            assert expired["code"] == "token_expired"
            ohm.post_message(chat.id, "user", "after expiry")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert closed.value.rcvd.code == 4401
        # A fresh token of the same user, sent before expiry, keeps the stream; another user's is refused.
        async with websockets.connect(ws_url(live_server, user.token(ttl_seconds=2))) as ws:
            await subscribe(ws, chat.id)
            await ws.send(json.dumps({"type": "auth", "token": other_user.token()}))
            assert (await receive(ws))["code"] == "bad_request"
            await ws.send(json.dumps({"type": "auth", "token": user.token(ttl_seconds=60)}))
            assert (await receive(ws))["type"] == "authenticated"
            await asyncio.sleep(3)
            ohm.post_message(chat.id, "user", "renewed")
            assert (await receive(ws, until="event"))["data"]["content"] == "renewed"
        # SSE: a token_expired event, then the stream ends.
        url = f"{live_server}/v1/chats/{chat.id}/events?token={user.token(ttl_seconds=2)}"
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            async with client.stream("GET", url) as response:
                started = time.monotonic()
                body = b"".join([chunk async for chunk in response.aiter_bytes()])
        assert b'"code": "token_expired"' in body and time.monotonic() - started < 6
