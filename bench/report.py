"""Results -> goals, markdown tables and a chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def find(results: list[dict], name: str, target: str, **match: Any) -> dict | None:
    for r in results:
        if r["name"] == name and r["target"] == target and all(
            r.get(k, r["extra"].get(k)) == v for k, v in match.items()
        ):
            return r
    return None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def goals(results: list[dict]) -> list[dict[str, Any]]:
    """Each goal of the issue: the measured ratio or figure, the target, met or not."""
    out = []

    def add(label: str, value: float | None, target: str, met: bool | None) -> None:
        out.append({"goal": label, "value": value, "target": target, "met": met})

    for c in (1, 8):
        raw = find(results, "append", "raw psycopg", concurrency=c)
        lib = find(results, "append", "OHM library", concurrency=c)
        http = find(results, "append", "OHM HTTP", concurrency=c)
        lc = find(results, "append", "langchain-postgres", concurrency=c)
        if raw and lib:
            v = ratio(lib["throughput"], raw["throughput"])
            add(f"append, {c} writer(s): library / raw throughput", v, ">= 0.85", v is not None and v >= 0.85)
        if lc and lib:
            v = ratio(lib["throughput"], lc["throughput"])
            add(f"append, {c} writer(s): library / langchain-postgres throughput", v, ">= 1.0",
                v is not None and v >= 1.0)
        ohm_lc = find(results, "append", "OHM LangChain history", concurrency=c)
        if lc and ohm_lc:
            add(f"append, {c} writer(s): OHM's LangChain history / langchain-postgres' throughput",
                ratio(ohm_lc["throughput"], lc["throughput"]), "(reported)", None)
        wrk = find(results, "append", "OHM HTTP (wrk load)", concurrency=c)
        if c == 8 and raw and wrk:
            v = ratio(wrk["throughput"], raw["throughput"])
            add("append, 8 connections: HTTP (wrk) / raw throughput", v, ">= 0.6", v is not None and v >= 0.6)
        wrk2 = find(results, "append", "OHM HTTP, 2 workers (wrk load)", concurrency=c)
        if c == 8 and raw and wrk2:
            v = ratio(wrk2["throughput"], raw["throughput"])
            add("append, 8 connections: HTTP with --workers 2 (wrk) / raw throughput", v, "(reported)", None)
        if c == 8 and raw and http:
            v = ratio(http["throughput"], raw["throughput"])
            add("append, 8 clients: HTTP (Python client) / raw throughput", v, "(reported)", None)
    for op in ("append", "read"):
        jwt_ = find(results, "keys", "OHM HTTP, JWT", op=op)
        key = find(results, "keys", "OHM HTTP, API key", op=op)
        if jwt_ and key:
            v = ratio(jwt_["throughput"], key["throughput"])  # the cost of a request: time per request
            add(f"{op} over HTTP with an API key / with a JWT: cost per request", v, "<= 1.1",
                v is not None and v <= 1.1)
    shapes = {r["extra"]["shape"]: r for r in results if r["name"] == "agents"}
    if "1 user, 8 chats" in shapes and "8 users, 8 chats" in shapes:
        v = ratio(shapes["1 user, 8 chats"]["throughput"], shapes["8 users, 8 chats"]["throughput"])
        add("8 agents of 1 user on 8 chats / 8 users on 8 chats (library throughput)", v, ">= 0.9",
            v is not None and v >= 0.9)
    if "1 user, 1 chat" in shapes and "1 writer, 1 chat" in shapes:
        v = ratio(shapes["1 user, 1 chat"]["throughput"], shapes["1 writer, 1 chat"]["throughput"])
        add("8 agents on 1 chat / 1 writer on 1 chat (library throughput)", v, ">= 1.0", v is not None and v >= 1.0)
    points = sorted({r["extra"]["at_message"] for r in results if r["name"] == "length"})
    if len(points) >= 2:
        first = find(results, "length", "OHM library", at_message=points[0])
        last = find(results, "length", "OHM library", at_message=points[-1])
        v = ratio(last["p50_ms"], first["p50_ms"])
        add(f"append at #{points[-1]:,} / at #{points[0]:,} (p50)", v, "<= 1.25", v is not None and v <= 1.25)
    raw = find(results, "load", "raw psycopg")
    lib = find(results, "load", "OHM library")
    http = find(results, "load", "OHM HTTP")
    if raw and lib:
        v = ratio(lib["p50_ms"], raw["p50_ms"])
        add("load chat: library / raw (p50)", v, "<= 1.5", v is not None and v <= 1.5)
    if http:
        add("load chat over HTTP: p50 ms", http["p50_ms"], "<= 25", http["p50_ms"] <= 25)
    return out


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join("" if c is None else str(c) for c in cells) + " |"


def tables(results: list[dict]) -> str:
    lines: list[str] = []
    sections = [
        ("append", "Append (one message per transaction; each writer on its own chat)",
         ["target", "writers", "ops", "msg/s", "p50 ms", "p95 ms", "p99 ms", "peak RSS MB"],
         lambda r: [r["target"], r["concurrency"], r["ops"], r["throughput"], r["p50_ms"], r["p95_ms"],
                    r["p99_ms"], r["peak_rss_mb"]]),
        ("agents", "Many agents, one user (library; 120 appends per writer and round, 3 rounds)",
         ["writers on", "writers", "ops", "msg/s", "p50 ms", "p95 ms", "p99 ms"],
         lambda r: [r["extra"]["shape"], r["concurrency"], r["ops"], r["throughput"], r["p50_ms"], r["p95_ms"],
                    r["p99_ms"]]),
        ("length", "Append cost vs chat length (one writer)",
         ["target", "at message #", "ops", "p50 ms", "p95 ms", "p99 ms"],
         lambda r: [r["target"], f"{r['extra']['at_message']:,}", r["ops"], r["p50_ms"], r["p95_ms"], r["p99_ms"]]),
        ("load", "Load a chat (messages + artifacts + project)",
         ["target", "messages", "ops", "p50 ms", "p95 ms", "p99 ms", "peak RSS MB"],
         lambda r: [r["target"], f"{r['extra']['messages']:,}", r["ops"], r["p50_ms"], r["p95_ms"], r["p99_ms"],
                    r["peak_rss_mb"]]),
        ("keys", "An API key against a JWT (wrk, 8 connections; p95 is wrk's p90)",
         ["request", "credential", "ops", "per s", "p50 ms", "p95 ms", "p99 ms"],
         lambda r: [r["extra"]["op"], r["target"].split(", ")[1], r["ops"], r["throughput"], r["p50_ms"],
                    r["p95_ms"], r["p99_ms"]]),
        ("list", "List chats (50 per page, keyset)",
         ["target", "page", "user's chats", "ops", "p50 ms", "p95 ms", "p99 ms"],
         lambda r: [r["target"], r["extra"]["page"], f"{r['extra']['chats']:,}", r["ops"], r["p50_ms"],
                    r["p95_ms"], r["p99_ms"]]),
    ]
    for name, title, header, cells in sections:
        rows = [r for r in results if r["name"] == name]
        if not rows:
            continue
        lines += [f"#### {title}", "", _row(header), _row(["---"] * len(header))]
        lines += [_row(cells(r)) for r in rows]
        lines.append("")
    return "\n".join(lines)


def goals_table(results: list[dict]) -> str:
    lines = [_row(["goal", "measured", "target", "met"]), _row(["---"] * 4)]
    for g in goals(results):
        met = "" if g["met"] is None else "yes" if g["met"] else "**no**"
        lines.append(_row([g["goal"], g["value"], g["target"], met]))
    return "\n".join(lines)


def compare_table(small: list[dict], scaled: list[dict]) -> str:
    """Scaled-database figures against the small-database ones (p50 latency ratio)."""
    lines = [_row(["measurement", "target", "detail", "small p50 ms", "scaled p50 ms", "ratio", "<= 1.5"]),
             _row(["---"] * 7)]
    for r in scaled:
        key = {k: r["extra"][k] for k in ("at_message", "page", "shape") if k in r["extra"]}
        base = find(small, r["name"], r["target"], concurrency=r["concurrency"], **key)
        if base is None:
            continue
        v = ratio(r["p50_ms"], base["p50_ms"])
        detail = ", ".join(f"{k}={v2}" for k, v2 in key.items()) or f"{r['concurrency']} writer(s)"
        lines.append(_row([r["name"], r["target"], detail, base["p50_ms"], r["p50_ms"], v,
                           "yes" if v is not None and v <= 1.5 else "**no**"]))
    return "\n".join(lines)


def chart(results: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    append = [r for r in results if r["name"] == "append"]
    targets = list(dict.fromkeys(r["target"] for r in append))
    for offset, c in enumerate((1, 8)):
        values = [next((r["throughput"] for r in append if r["target"] == t and r["concurrency"] == c), 0)
                  for t in targets]
        axes[0].bar([i + offset * 0.4 for i in range(len(targets))], values, width=0.4, label=f"{c} writer(s)")
    axes[0].set_xticks([i + 0.2 for i in range(len(targets))], targets, rotation=20, ha="right")
    axes[0].set_ylabel("messages / s")
    axes[0].set_title("Append throughput")
    axes[0].legend()

    length = [r for r in results if r["name"] == "length"]
    for target in dict.fromkeys(r["target"] for r in length):
        pts = [(r["extra"]["at_message"], r["p50_ms"]) for r in length if r["target"] == target]
        axes[1].plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=target)
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("message # in the chat")
    axes[1].set_ylabel("p50 ms per append")
    axes[1].set_title("Append cost vs chat length")
    axes[1].legend()

    load = [r for r in results if r["name"] == "load"]
    axes[2].bar([r["target"] for r in load], [r["p50_ms"] for r in load])
    axes[2].set_ylabel("p50 ms")
    axes[2].set_title("Load a chat")
    axes[2].tick_params(axis="x", rotation=20)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load_results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def search_table(document: dict[str, Any]) -> str:
    rows = document["results"]
    first = rows[0]["extra"]
    db = document["database"]["rows"]
    lines = [f"Database: {db['messages']:,} messages, {db['chats']:,} chats, {db['profiles']:,} users; "
             f"the searching user has {first['user_messages']:,} messages. Goal for OHM: p50 <= 50 ms, "
             "p99 <= 200 ms.", "",
             _row(["query", "q", "target", "runs", "p50 ms", "p95 ms", "p99 ms", "goal met"]), _row(["---"] * 8)]
    for r in rows:
        met = ""
        if r["target"].startswith("OHM"):
            met = "yes" if r["p50_ms"] <= 50 and r["p99_ms"] <= 200 else "**no**"
        lines.append(_row([r["extra"]["query"], f"`{r['extra']['q']}`", r["target"], r["ops"], r["p50_ms"],
                           r["p95_ms"], r["p99_ms"], met]))
    return "\n".join(lines)


def realtime_table(document: dict[str, Any]) -> str:
    lines = ["Goal: p50 <= 20 ms at 1,000 subscribers. *First* and *last*: the median over events of when "
             "the event's first and its last subscriber had it.", "",
             _row(["subscribers", "events", "deliveries", "p50 ms", "p95 ms", "p99 ms", "first ms", "last ms",
                   "KB per subscriber", "server RSS MB"]), _row(["---"] * 10)]
    for r in document["results"]:
        extra = r["extra"]
        lines.append(_row([f"{extra['subscribers']:,}", extra["events"], f"{r['ops']:,}", r["p50_ms"],
                           r["p95_ms"], r["p99_ms"], extra.get("first_p50_ms", ""), extra.get("last_p50_ms", ""),
                           extra["rss_per_subscriber_kb"], r["peak_rss_mb"]]))
    return "\n".join(lines)
