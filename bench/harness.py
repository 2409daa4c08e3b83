"""Timing primitives: run an operation N times from C concurrent workers, collect latencies."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil


@dataclass
class Stats:
    name: str
    target: str
    ops: int
    concurrency: int
    seconds: float
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    peak_rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = (len(sorted_values) - 1) * q
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarise(name: str, target: str, latencies: list[float], wall: float, concurrency: int,
              **extra: Any) -> Stats:
    values = sorted(latencies)
    ms = [v * 1000 for v in values]
    return Stats(
        name=name, target=target, ops=len(values), concurrency=concurrency, seconds=round(wall, 4),
        throughput=round(len(values) / wall, 1) if wall else float("nan"),
        p50_ms=round(percentile(ms, 0.50), 3), p95_ms=round(percentile(ms, 0.95), 3),
        p99_ms=round(percentile(ms, 0.99), 3), mean_ms=round(statistics.fmean(ms), 3) if ms else float("nan"),
        extra=extra,
    )


Op = Callable[[int], Awaitable[None]]


async def run_workers(workers: list[Op], per_worker: int, warmup: int = 0) -> tuple[list[float], float]:
    """Each worker runs its op ``per_worker`` times (after ``warmup`` untimed runs); all start together."""
    for op in workers:
        for i in range(warmup):
            await op(-1 - i)
    latencies: list[float] = []
    start_gate = asyncio.Event()

    async def drive(op: Op) -> None:
        await start_gate.wait()
        for i in range(per_worker):
            t0 = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - t0)

    tasks = [asyncio.create_task(drive(op)) for op in workers]
    await asyncio.sleep(0)
    began = time.perf_counter()
    start_gate.set()
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - began


class RssSampler:
    """Peak resident memory of a process (a server: with its children; this process: alone, not the
    server it started), sampled every 20 ms in a thread.

    The processes are listed once, on entry (a server's workers are up by then): listing children walks
    every process of the machine, and doing that every 20 ms in the measuring process took the GIL from
    the work being timed (it slowed the library's chat load by ~10%)."""

    def __init__(self, pid: int | None = None) -> None:
        self.process = psutil.Process(pid or os.getpid())
        self.processes = [self.process]
        self.with_children = pid is not None
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = 0
        for proc in self.processes:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RssSampler:
        try:
            children = self.process.children(recursive=True) if self.with_children else []
        except psutil.Error:
            children = []
        self.processes = [self.process, *children]
        self.peak = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop.clear()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


def machine(pg_version: str) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(logical=True),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": pg_version,
    }
