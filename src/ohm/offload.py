"""CPU work off the event loop.

A request that renders Markdown, compares two versions or builds an export
does pure-Python work that can take seconds on the largest inputs the API
accepts; on the loop it would stall every other request (one 1 MiB message
took 15 s to render, and /healthz waited behind it).  ``off_loop`` runs such a
function in a worker thread: the loop goes on serving (a running thread yields
the interpreter every few milliseconds), at most ``CPU_WORKERS`` such jobs run
at once per process, and the inputs are bounded where they are made (message
and document sizes, pages, time budgets in the renderers).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from anyio import to_thread

T = TypeVar("T")

CPU_WORKERS = max(2, os.cpu_count() or 2)
_limiter: anyio.CapacityLimiter | None = None


def _cpu() -> anyio.CapacityLimiter:
    global _limiter
    if _limiter is None:  # made inside the running event loop
        _limiter = anyio.CapacityLimiter(CPU_WORKERS)
    return _limiter


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread, at most ``CPU_WORKERS`` at a time."""
    return await to_thread.run_sync(fn, *args, limiter=_cpu())
