"""The realtime hub: one LISTEN connection per process, fanned out to subscribers.

PostgreSQL announces each committed change on channel ``ohm_events`` (ids
only).  The hub reads the changed row once per distinct identity among the
chat's subscribers (as that identity: RLS decides), and hands it to each of
them in cursor order.  A subscriber that misses events — because it
reconnected, or because the hub lost its connection while PostgreSQL
restarted — is caught up from ``realtime_events`` first, so it sees every
event once, in order.

Memory per connection is bounded in bytes, not only in items: a queue holds
at most ``QUEUE_BYTES`` of frames.  A live event that does not fit tells the
subscriber to resume from its cursor (instead of slowing the others); a
replay stops when the queue is full and goes on as the connection drains it,
in that connection's own task.  Frames are shared: the JSON of an event is
made once per identity and handed to every subscriber of that identity, live
or replayed (a cache: a frame lives as long as some queue holds it, and the
newest ``FRAME_CACHE_BYTES`` of them stay for readers that come later), and
at most ``REPLAY_CONCURRENCY`` replays read rows at a time.  A stream ends
when its token expires (a WebSocket client may send a fresh token first).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.store import realtime as store
from ohm.store.errors import Unauthenticated

log = logging.getLogger(__name__)

CHANNEL = "ohm_events"
QUEUE_SIZE = 1000
QUEUE_BYTES = 4 * 1024 * 1024  # one 1 MiB message's frame fits several times
FRAME_CACHE_BYTES = 64 * 1024 * 1024  # recent frames kept for sharing between replays, per process
REPLAY_CHUNK = 8  # events whose rows are read at once during a replay
REPLAY_CONCURRENCY = 4  # replays reading rows at the same time, per process
SWEEP_SECONDS = 2.0  # how late an event can be if its NOTIFY was never sent
LEASE_SECONDS = 60  # renewed every LEASE_SECONDS / 3
FANOUT_BATCH = 50  # subscribers handed an event between two turns of the event loop
CLOSING = {"type": "closing"}  # queued when the server stops: the stream ends, the client resumes


class ByteQueue:
    """A FIFO bounded in items and in bytes (an item's size: its JSON text, made once)."""

    def __init__(self, max_items: int = QUEUE_SIZE, max_bytes: int = QUEUE_BYTES) -> None:
        self.max_items, self.max_bytes = max_items, max_bytes
        self.items: collections.deque[tuple[Any, int]] = collections.deque()
        self.bytes = 0
        self._ready = asyncio.Event()

    def fits(self, size: int) -> bool:
        return not self.items or (len(self.items) < self.max_items and self.bytes + size <= self.max_bytes)

    def put_nowait(self, item: Any, size: int = 0) -> None:
        self.items.append((item, size))
        self.bytes += size
        self._ready.set()

    def get_nowait(self) -> Any:
        item, size = self.items.popleft()
        self.bytes -= size
        if not self.items:
            self._ready.clear()
        return item

    def clear(self) -> None:
        self.items.clear()
        self.bytes = 0
        self._ready.clear()

    def empty(self) -> bool:
        return not self.items

    def qsize(self) -> int:
        return len(self.items)

    async def get(self, timeout: float | None = None) -> Any:
        """The next item; ``None`` when ``timeout`` seconds pass first."""
        if not self.items:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        return self.get_nowait()


def size_of(item: Any) -> int:
    return len(item.text) if isinstance(item, Frame) else 256


@dataclass(eq=False)
class Subscriber:
    identity: Identity
    queue: ByteQueue = field(default_factory=ByteQueue)
    cursors: dict[uuid.UUID, int] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    overflowed: bool = False
    replay_pending: set[uuid.UUID] = field(default_factory=set)  # chats whose replay waits for room

    @property
    def key(self) -> Reader:
        return reader(self.identity)

    @property
    def expires_at(self) -> float | None:
        exp = self.identity.claims.get("exp")
        return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None

    def seconds_left(self) -> float | None:
        """Until the token expires (None: it does not)."""
        return None if self.expires_at is None else self.expires_at - time.time()

    def put(self, item: dict[str, Any]) -> bool:
        """Queue one item; when it does not fit, replace the backlog with one resume instruction."""
        if self.overflowed:
            return False
        size = size_of(item)
        if self.queue.fits(size):
            self.queue.put_nowait(item, size)
            return True
        self.overflowed = True
        self.queue.clear()
        self.replay_pending.clear()
        self.queue.put_nowait({"type": "error", "code": "overflow",
                               "detail": "too far behind: reconnect and resume from your cursors",
                               "cursors": {str(k): v for k, v in self.cursors.items()}}, 256)
        return False

    def has_room_for_replay(self) -> bool:
        """Replays fill at most half the queue: live events keep room."""
        return self.queue.bytes < self.queue.max_bytes // 2 and self.queue.qsize() < self.queue.max_items // 2


class Frame(dict[str, Any]):
    """A queued message whose JSON text is made once and shared by every subscriber it goes to.  The
    dictionary keeps what routing needs (type, chat, cursor, kind), not the row: the text is the payload."""

    text: str
    sse: bytes | None = None  # its Server-Sent Events frame, made by the first stream that sends it


def frame(message: dict[str, Any]) -> Frame:
    out = Frame({k: v for k, v in message.items() if k != "data"})
    out.text = json.dumps(message, default=str)
    return out


Reader = tuple[str, uuid.UUID | None, uuid.UUID | None]


def reader(identity: Identity) -> Reader:
    """Who reads rows for a subscriber: subscribers with the same reader see the same rows.  An API key is its
    own reader (its limits, and its liveness checked as each new event is read)."""
    return (identity.role, identity.user_id, identity.key.id if identity.key else None)


REVOKED = frame({"type": "revoked"})  # never sent: a loaded frame's place when the reader's API key was refused


class FrameCache:
    """The frames made recently, by (chat, cursor, identity): weakly, as long as some queue holds one, and
    strongly, the newest up to ``max_bytes``, so that readers replaying the same chat at different paces
    still share one frame per event instead of reading and writing their own."""

    def __init__(self, max_bytes: int = FRAME_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.weak: weakref.WeakValueDictionary[tuple[Any, ...], Frame] = weakref.WeakValueDictionary()
        self.recent: collections.OrderedDict[tuple[Any, ...], Frame] = collections.OrderedDict()
        self.bytes = 0

    def get(self, key: tuple[Any, ...]) -> Frame | None:
        found = self.weak.get(key)
        if found is not None:
            self._keep(key, found)
        return found

    def __setitem__(self, key: tuple[Any, ...], value: Frame) -> None:
        self.weak[key] = value
        self._keep(key, value)

    def _keep(self, key: tuple[Any, ...], value: Frame) -> None:
        if key in self.recent:
            self.recent.move_to_end(key)
            return
        self.recent[key] = value
        self.bytes += len(value.text)
        while self.bytes > self.max_bytes and len(self.recent) > 1:
            _, old = self.recent.popitem(last=False)
            self.bytes -= len(old.text)


def as_text(item: dict[str, Any]) -> str:
    return item.text if isinstance(item, Frame) else json.dumps(item, default=str)


def sse_bytes(item: dict[str, Any]) -> bytes:
    """The Server-Sent Events frame of a queued message; a shared frame's is made once and kept with it."""
    cached = getattr(item, "sse", None)
    if cached is not None:
        return cached
    if item["type"] == "event":
        head = f"id: {item['cursor']}\nevent: {item['kind']}\n"
    elif item["type"] == "reset":  # Last-Event-ID moves on with it
        head = f"id: {item['cursor']}\nevent: reset\n"
    else:
        head = f"event: {item['type']}\n"
    out = b"".join((head.encode(), b"data: ", as_text(item).encode(), b"\n\n"))
    if isinstance(item, Frame):
        item.sse = out
    return out


def event_message(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "chat_id": str(event["chat_id"]), "cursor": event["seq"], "kind": event["kind"],
            "id": str(event["id"]), "data": event["data"],
            "created_at": event["created_at"].isoformat() if hasattr(event.get("created_at"), "isoformat")
            else event.get("created_at")}


class Hub:
    def __init__(self, db: Database, listen_url: str, tokens: Any = None) -> None:
        self.db = db
        self.listen_url = listen_url
        self.tokens = tokens
        self.subscriptions: dict[uuid.UUID, set[Subscriber]] = {}
        # (chat, event number, identity) -> the event's frame, while some queue holds it.
        self.frames = FrameCache()
        self.replays = asyncio.Semaphore(REPLAY_CONCURRENCY)
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen_forever(), name="ohm-realtime-listener"),
                       asyncio.create_task(self._sweep_forever(), name="ohm-realtime-sweep")]

    async def stop(self) -> None:
        for task in getattr(self, "_tasks", []):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- subscriptions ---------------------------------------------------------------------------

    async def subscribe(self, sub: Subscriber, chat_id: uuid.UUID, since: int | None) -> int | None:
        """Start delivering a chat's events after ``since`` (default: from now).

        Queues a ``subscribed`` acknowledgement, then what was missed since
        ``since``, then live events.  Returns the starting cursor; None when
        the chat is not visible to the subscriber (nothing is queued then).
        """
        current = await store.chat_cursor(self.db, sub.identity, chat_id)
        if current is None:
            return None
        # The lease first: events committed from now on are announced for this chat.
        await store.watch(self.db, [chat_id], LEASE_SECONDS)
        async with sub.lock:
            start = min(since, current) if since is not None else current
            sub.cursors[chat_id] = start
            self.subscriptions.setdefault(chat_id, set()).add(sub)
            sub.put({"type": "subscribed", "chat_id": str(chat_id), "cursor": start, "latest": current})
            await self._catch_up(sub, chat_id, head=current)
        return start

    def close_streams(self) -> None:
        """The server is stopping: tell every subscriber's stream to end (clients resume elsewhere)."""
        for sub in {sub for watchers in self.subscriptions.values() for sub in watchers}:
            sub.queue.put_nowait(CLOSING)

    def unsubscribe(self, sub: Subscriber, chat_id: uuid.UUID | None = None) -> None:
        for chat in [chat_id] if chat_id else list(sub.cursors):
            sub.cursors.pop(chat, None)
            watchers = self.subscriptions.get(chat)
            if watchers is not None:
                watchers.discard(sub)
                if not watchers:
                    del self.subscriptions[chat]

    async def _catch_up(self, sub: Subscriber, chat_id: uuid.UUID, head: int | None = None) -> None:
        """Replay from the database everything after the subscriber's cursor (lock held).

        Stops when the queue is half full (``replay_pending``): the connection calls ``refill`` once it
        has sent what it holds.  Events a retention job has deleted cannot be replayed: the subscriber
        gets a ``reset`` to the cursor after which the log is whole again (``head``: the chat's newest
        event when the log ends before it), and should reload the chat.
        """
        sub.replay_pending.discard(chat_id)
        while chat_id in sub.cursors and not sub.overflowed:
            events = await store.events_after(self.db, sub.identity, chat_id, sub.cursors[chat_id])
            for start in range(0, len(events), REPLAY_CHUNK):
                if not sub.has_room_for_replay():
                    sub.replay_pending.add(chat_id)
                    return
                for frame_ in await self._frames(sub, events[start:start + REPLAY_CHUNK]):
                    if not sub.has_room_for_replay():  # the rest of this chunk comes with the next refill
                        sub.replay_pending.add(chat_id)
                        return
                    seq = frame_["cursor"]
                    if seq > sub.cursors[chat_id] + 1 and not self._reset(sub, chat_id, seq - 1):
                        return
                    if not sub.put(frame_):
                        return
                    sub.cursors[chat_id] = seq
            if len(events) < store.REPLAY_PAGE:
                break
        if head is not None and sub.cursors.get(chat_id, head) < head and not sub.overflowed:
            if await store.chat_cursor(self.db, sub.identity, chat_id) is None:
                self._gone(sub, chat_id)  # not pruned: no longer theirs to see
            else:
                self._reset(sub, chat_id, head)

    async def _frames(self, sub: Subscriber, events: list[dict[str, Any]]) -> list[Frame]:
        """The frames of these events as ``sub`` may see them: from the shared cache, or read (as ``sub``,
        a few replays at a time) and cached."""
        keys = [(e["chat_id"], e["seq"], sub.key) for e in events]
        frames: dict[tuple[Any, ...], Frame] = {k: f for k in keys if (f := self.frames.get(k)) is not None}
        missing = [e for e, k in zip(events, keys, strict=True) if k not in frames]
        if missing:
            async with self.replays:
                # Another replay may have made them while this one waited for its turn.
                frames |= {k: f for e in missing if (f := self.frames.get(k := (e["chat_id"], e["seq"], sub.key)))}
                missing = [e for e in missing if (e["chat_id"], e["seq"], sub.key) not in frames]
                if missing:
                    await store.attach_rows(self.db, sub.identity, missing)
                    for event in missing:
                        key = (event["chat_id"], event["seq"], sub.key)
                        frames[key] = self.frames[key] = frame(event_message(event))
        return [frames[k] for k in keys]

    async def refill(self, sub: Subscriber) -> None:
        """Go on with replays that stopped for room (called by the connection as it drains its queue)."""
        for chat_id in list(sub.replay_pending):
            if not sub.has_room_for_replay():
                return
            async with sub.lock:
                if chat_id in sub.replay_pending:
                    await self._catch_up(sub, chat_id)

    def revoked(self, sub: Subscriber) -> None:
        """The subscriber's API key was revoked or has expired: every subscription ends."""
        sub.put({"type": "error", "code": "unauthorized", "detail": "API key revoked or expired"})
        self.unsubscribe(sub)

    def _gone(self, sub: Subscriber, chat_id: uuid.UUID) -> None:
        sub.put({"type": "error", "code": "not_found", "chat_id": str(chat_id),
                 "detail": "the chat is not visible any more"})
        self.unsubscribe(sub, chat_id)

    @staticmethod
    def _reset(sub: Subscriber, chat_id: uuid.UUID, cursor: int) -> bool:
        if not sub.put({"type": "reset", "chat_id": str(chat_id), "cursor": cursor,
                        "detail": f"events up to {cursor} are no longer kept: reload the chat, "
                                  "then continue from this cursor"}):
            return False
        sub.cursors[chat_id] = cursor
        return True

    # --- live events -------------------------------------------------------------------------------

    async def dispatch(self, event: dict[str, Any]) -> None:
        chat_id = uuid.UUID(event["chat_id"])
        watchers = list(self.subscriptions.get(chat_id, ()))
        if not watchers:
            return
        event = {**event, "chat_id": chat_id, "id": uuid.UUID(event["id"])}
        # The row once per identity among the watchers (as that identity: RLS decides), read
        # before the fan-out so that handing the frame to each subscriber never waits.
        loaded: dict[Reader, Frame | None] = {}
        for sub in watchers:
            if sub.key not in loaded and self._due(sub, chat_id, event["seq"]):
                cached = self.frames.get((chat_id, event["seq"], sub.key))
                if cached is not None:
                    loaded[sub.key] = cached
                    continue
                try:
                    row = await store.load_event(self.db, sub.identity, event)
                except Unauthenticated:  # its API key was revoked or has expired
                    loaded[sub.key] = REVOKED
                    continue
                made = frame(event_message(row)) if row is not None else None
                loaded[sub.key] = made
                if made is not None:
                    self.frames[(chat_id, event["seq"], sub.key)] = made
        behind: list[Subscriber] = []
        for n, sub in enumerate(watchers, 1):
            if n % FANOUT_BATCH == 0:
                await asyncio.sleep(0)  # let the first ones' writers send while the rest are queued
            due = self._due(sub, chat_id, event["seq"])
            if due is False or chat_id in sub.replay_pending:  # a paced replay will bring it
                continue
            if due is None or sub.lock.locked() or sub.key not in loaded:
                # a gap, a catch-up under way, or a cursor that moved while the row was read:
                # served from the log, which has this event too, once the others have it
                behind.append(sub)
                continue
            # No await from here on: nothing else runs between the check above and the put.
            message = loaded[sub.key]
            if message is REVOKED:
                self.revoked(sub)
                continue
            if message is None:  # no longer visible to this subscriber
                self._gone(sub, chat_id)
                continue
            if sub.put(message):
                sub.cursors[chat_id] = event["seq"]
            if event["kind"] == "chat.deleted":
                self.unsubscribe(sub, chat_id)
        for sub in behind:
            async with sub.lock:
                if self._due(sub, chat_id, event["seq"]) is not False:
                    await self._catch_up(sub, chat_id)

    @staticmethod
    def _due(sub: Subscriber, chat_id: uuid.UUID, seq: int) -> bool | None:
        """Is event ``seq`` the subscriber's next one? False: not wanted (or had); None: there is a gap."""
        cursor = sub.cursors.get(chat_id)
        if cursor is None or seq <= cursor or sub.overflowed:
            return False
        return True if seq == cursor + 1 else None

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.listen_url, autocommit=True) as conn:
                    await conn.execute(f"listen {CHANNEL}")
                    self.connected.set()
                    delay = 0.1
                    await self._resync_all()
                    async for notice in conn.notifies():
                        try:
                            await self.dispatch(json.loads(notice.payload))
                        except (psycopg.OperationalError, OSError):
                            raise
                        except Exception:  # one bad event must not stop the listener
                            log.exception("realtime: could not deliver %s", notice.payload)
            except asyncio.CancelledError:
                raise
            except (psycopg.OperationalError, OSError) as exc:
                self.connected.clear()
                self.reconnects += 1
                log.warning("realtime: listener lost its connection (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _sweep_forever(self) -> None:
        """Every few seconds: deliver anything that was committed but not announced, renew leases."""
        renewed = 0.0
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            chats = list(self.subscriptions)
            if not chats:
                continue
            try:
                loop = asyncio.get_running_loop()
                if loop.time() - renewed > LEASE_SECONDS / 3:
                    await store.watch(self.db, chats, LEASE_SECONDS)
                    renewed = loop.time()
                heads = await store.event_heads(self.db, chats)
                for chat_id, head in heads.items():
                    for sub in list(self.subscriptions.get(chat_id, ())):
                        if sub.cursors.get(chat_id, head) < head and chat_id not in sub.replay_pending:
                            async with sub.lock:
                                await self._catch_up(sub, chat_id, head=head)
            except (psycopg.Error, OSError) as exc:
                log.warning("realtime: sweep failed (%s)", exc)

    async def _resync_all(self) -> None:
        """After (re)connecting: catch every subscriber up on what was announced while we were away."""
        for chat_id, watchers in list(self.subscriptions.items()):
            for sub in list(watchers):
                async with sub.lock:
                    with contextlib.suppress(psycopg.Error):
                        await self._catch_up(sub, chat_id)

