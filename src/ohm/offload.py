"""CPU work away from the event loop: in worker processes, with a time cap.

A request that renders Markdown, compares two versions, checks a project or
builds an export does pure-Python work that can take seconds on the largest
inputs the API accepts.  On the loop it stalls every other request (one 1 MiB
message took 15 s to render, and /healthz waited behind it); in a thread of
the same process it still competes for the interpreter lock (measured: /healthz
at a 170 ms median behind two such threads).  So ``off_loop`` runs the function
in a small pool of worker processes (``CPU_WORKERS``; started on first use, or
by ``warm_up``): the loop only pickles arguments and results.  A job that runs
past ``JOB_SECONDS`` is abandoned: its workers are terminated, the pool
replaced, and the request gets a 503.  The functions sent are plain module-level
functions over plain data, and inputs are bounded where they are made (sizes,
pages, the Markdown budget).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ohm.store.errors import StoreError

T = TypeVar("T")
log = logging.getLogger(__name__)

CPU_WORKERS = min(4, max(2, os.cpu_count() or 2))
JOB_SECONDS = 30.0
PARENT_POLL_SECONDS = 1.0


class TooSlow(StoreError):
    status = 503
    title = "Service unavailable"


_pool: concurrent.futures.ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _watch_parent(parent: int) -> None:
    """In a worker: exit as soon as the server that started it is gone, however it went (a worker holds
    both ends of its job queue, so it would never see the server's end close and would wait for ever)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="ohm-parent-watch", daemon=True).start()


def _get_pool() -> concurrent.futures.ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            # spawn: a fresh interpreter, nothing inherited from a process full of threads and sockets
            _pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=CPU_WORKERS, mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent, initargs=(os.getpid(),))
        return _pool


def _terminate(pool: concurrent.futures.ProcessPoolExecutor, wait: bool = False) -> None:
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=wait, cancel_futures=True)


def _replace(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Terminate a pool's workers (a job overran, or a worker died) so the next job gets a fresh pool."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    _terminate(pool)


def shutdown(wait: bool = False) -> None:
    """Stop the workers (at exit, and when a signal ends the server): jobs under way are abandoned.  With
    ``wait``, also until the pool has closed its queues: a process about to end by a signal runs no exit
    handlers, and queues left open are reported as leaked semaphores by multiprocessing's tracker."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        _terminate(pool, wait)


atexit.register(shutdown)


def _ready() -> int:
    return os.getpid()


async def warm_up() -> None:
    """Start the workers now rather than on the first heavy request (they import OHM: about a second)."""
    pool = _get_pool()
    await asyncio.gather(*(asyncio.wrap_future(pool.submit(_ready)) for _ in range(CPU_WORKERS)))


async def off_loop(fn: Callable[..., T], *args: Any, timeout: float = JOB_SECONDS) -> T:
    """``fn(*args)`` in a worker process; TooSlow (503) past ``timeout`` seconds."""
    pool = _get_pool()
    try:
        future = pool.submit(fn, *args)
    except (concurrent.futures.process.BrokenProcessPool, RuntimeError):
        _replace(pool)
        pool = _get_pool()
        future = pool.submit(fn, *args)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except TimeoutError:
        log.warning("%s ran past %.0f s: its workers are replaced", getattr(fn, "__name__", fn), timeout)
        _replace(pool)
        raise TooSlow(f"the request took longer than {timeout:.0f} s of computing; narrow it") from None
    except concurrent.futures.process.BrokenProcessPool:
        _replace(pool)
        raise TooSlow("a worker process died while computing; retry") from None
