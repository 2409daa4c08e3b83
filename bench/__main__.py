"""python -m bench: OHM's benchmarks and scale generator (see docs/benchmarks.md).

  python -m bench run --out bench/results/small.json
  python -m bench scale --database ohm_scale --messages 10000000
  python -m bench run --database ohm_scale --out bench/results/scaled.json
  python -m bench report bench/results/small.json --scaled bench/results/scaled.json
  python -m bench hardening
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console

from . import report as report_module
from .env import BenchDatabase, ServerProcess, with_dbname
from .harness import machine
from .workloads import Sizes, run

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()

ServerUrl = Annotated[
    str | None,
    typer.Option("--server-url", envvar="OHM_BENCH_SERVER_URL",
                 help="Owner URL of a PostgreSQL server (any database on it). Unset: an embedded server."),
]


@contextlib.contextmanager
def server_url(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from ohm.db.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="ohm-bench-") as tmp:
        embedded = EmbeddedPostgres(Path(tmp))
        embedded.start()
        try:
            yield embedded.conninfo(dbname="postgres")
        finally:
            embedded.stop()


def table_counts(db: BenchDatabase) -> dict[str, int]:
    with psycopg.connect(db.admin_url) as conn:
        return {t: conn.execute(f"select reltuples::bigint from pg_class where oid = 'public.{t}'::regclass")
                .fetchone()[0] for t in ("profiles", "chats", "messages", "artifact_versions", "parts")}


def write_section(doc: Path, name: str, body: str) -> None:
    """Replace what stands between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``doc`` (if it has them)."""
    text = doc.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start in text:
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        doc.write_text(before + start + "\n" + body + "\n" + end + after)


@app.command("run")
def run_command(
    url: ServerUrl = None,
    database: Annotated[str | None, typer.Option(help="Use this existing (e.g. scaled) database.")] = None,
    quick: Annotated[bool, typer.Option(help="Tiny sizes: proves the harness works.")] = False,
    only: Annotated[str, typer.Option(help="Comma-separated: append,agents,keys,length,load,list")] = (
        "append,agents,keys,length,load,list"),
    out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path("bench/results/latest.json"),
    label: Annotated[str, typer.Option(help="A name for this run in the report.")] = "",
) -> None:
    """Run the benchmarks; each figure is measured beside its baselines in the same run."""
    sizes = Sizes.quick() if quick else Sizes()
    with server_url(url) as server:
        db = BenchDatabase.open(server, database)
        try:
            counts = table_counts(db)
            console.print(f"database {db.name}: {counts}")
            srv = ServerProcess(db)
            try:
                results = run(db, srv, sizes, set(only.split(",")))
            finally:
                srv.stop()
            document = {
                "label": label or ("scaled" if database else "small"),
                "machine": machine(db.pg_version()),
                "database": {"name": db.name, "rows": counts},
                "sizes": dataclasses.asdict(sizes),
                "results": [r.as_dict() for r in results],
            }
            document["goals"] = report_module.goals(document["results"])
        finally:
            db.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, default=str))
    console.print(report_module.tables(document["results"]))
    console.print(report_module.goals_table(document["results"]))
    console.print(f"results written to {out}")


@app.command()
def scale(
    url: ServerUrl = None,
    database: Annotated[str, typer.Option(help="Database to create and fill.")] = "ohm_scale",
    users: int = 10_000,
    chats: int = 100_000,
    messages: int = 10_000_000,
    seed: int = 7,
    workers: Annotated[int, typer.Option(help="Parallel COPY streams.")] = max(1, (os.cpu_count() or 2)),
) -> None:
    """Fill a database with realistic data (users, chats, messages, artifacts, parts) through COPY."""
    from .scale import fill

    if not url:
        raise typer.BadParameter("scale needs --server-url (a server with room for the data)")
    fill(url, database, users=users, chats=chats, messages=messages, seed=seed, workers=workers)


@app.command("hardening")
def hardening_command(
    url: ServerUrl = None,
    quick: Annotated[bool, typer.Option(help="Small sizes: proves the harness works.")] = False,
    out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path(
        "bench/results/hardening.json"),
) -> None:
    """How the paths an attack made slow scale: time ratios between two sizes, measured in the same run."""
    from rich.table import Table

    from .hardening_bench import run as run_hardening

    with server_url(url) as server:
        db = BenchDatabase.open(server, None)
        try:
            results = run_hardening(db, quick=quick)
            document = {"machine": machine(db.pg_version()), "results": [r.as_dict() for r in results]}
        finally:
            db.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, default=str))
    table = Table("path", "small", "large", "small s", "large s", "size ratio", "time ratio", "goal", "met")
    for r in document["results"]:
        table.add_row(r["name"], r["small"], r["large"], f"{r['small_s']:.4f}", f"{r['large_s']:.4f}",
                      f"{r['size_ratio']:g}", f"{r['time_ratio']:.2f}", f"<= {r['goal']:g}",
                      "yes" if r["met"] else "NO")
    console.print(table)
    console.print(f"results written to {out}")


@app.command("imports")
def imports_command(
    url: ServerUrl = None,
    conversations: Annotated[int, typer.Option(help="Conversations in the generated export.")] = 10_000,
    messages: Annotated[int, typer.Option(help="Visible messages in the generated export.")] = 500_000,
    out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path("bench/results/imports.json"),
) -> None:
    """Import a generated ChatGPT export through the library: messages per second and peak memory."""
    import tempfile

    from .imports_bench import run as run_imports

    with server_url(url) as server, tempfile.TemporaryDirectory() as workdir:
        db = BenchDatabase.open(server, None)
        try:
            result = run_imports(db, Path(workdir), conversations, messages)
            document = {"machine": machine(db.pg_version()), "result": result}
        finally:
            db.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, default=str))
    console.print(result)
    console.print(f"results written to {out}")


@app.command("search")
def search_command(
    url: ServerUrl = None,
    database: Annotated[str, typer.Option(help="A scaled database (python -m bench scale).")] = "ohm_scale",
    runs: Annotated[int, typer.Option(help="Searches per query and target.")] = 50,
    out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path("bench/results/search.json"),
    doc: Annotated[Path, typer.Option(help="Markdown file whose search section is rewritten.")] = Path(
        "docs/benchmarks.md"),
) -> None:
    """Search latency for a user with ~10,000 messages, beside an unscoped GIN query and an ILIKE scan."""
    from .search_bench import run as run_search

    with server_url(url) as server:
        db = BenchDatabase.open(server, database)
        results = [r.as_dict() for r in run_search(db, runs)]
        document = {"machine": machine(db.pg_version()), "database": {"name": db.name, "rows": table_counts(db)},
                    "results": results}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, default=str))
    table = report_module.search_table(document)
    console.print(table)
    write_section(doc, "search", table)
    console.print(f"results written to {out}")


@app.command("realtime")
def realtime_command(
    url: ServerUrl = None,
    levels: Annotated[str, typer.Option(help="Subscriber counts, comma-separated.")] = "1,100,1000",
    messages: Annotated[int, typer.Option(help="Events per level.")] = 100,
    out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path("bench/results/realtime.json"),
    doc: Annotated[Path, typer.Option(help="Markdown file whose realtime section is rewritten.")] = Path(
        "docs/benchmarks.md"),
) -> None:
    """Commit -> subscriber latency over WebSocket, and memory per subscriber."""
    from .realtime_bench import run as run_realtime

    with server_url(url) as server:
        db = BenchDatabase.open(server, None)
        try:
            results = [r.as_dict() for r in run_realtime(db, tuple(int(n) for n in levels.split(",")), messages)]
            document = {"machine": machine(db.pg_version()), "results": results}
        finally:
            db.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, default=str))
    table = report_module.realtime_table(document)
    console.print(table)
    write_section(doc, "realtime", table)


@app.command("replicas")
def replicas_command(
    rounds: Annotated[int, typer.Option(help="Rounds, alternating which goes first.")] = 3,
    seconds: Annotated[float, typer.Option(help="Seconds per measurement.")] = 5.0,
    out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path("bench/results/replicas.json"),
    doc: Annotated[Path, typer.Option(help="Markdown file whose replicas section is rewritten.")] = Path(
        "docs/benchmarks.md"),
) -> None:
    """Chat loads on a streaming standby vs the primary, and the standby's share of a mixed load."""
    from .replicas_bench import run as run_replicas
    from .replicas_bench import table as replicas_table

    result = run_replicas(rounds, seconds)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    table = replicas_table(result)
    console.print(table)
    write_section(doc, "replicas", table)


@app.command("partitions")
def partitions_command(
    url: ServerUrl = None,
    database: Annotated[str, typer.Option(help="The scaled database to sample.")] = "ohm_scale",
    share: Annotated[float, typer.Option(help="Share of the users whose messages are copied.")] = 0.2,
    runs: Annotated[int, typer.Option(help="Queries per access path and layout.")] = 200,
    out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path(
        "bench/results/partitions.json"),
) -> None:
    """Messages flat, hash-partitioned by chat and range-partitioned by month: OHM's access paths on each."""
    from .partition_study import run as run_study
    from .partition_study import table as study_table

    with server_url(url) as server:
        result = run_study(with_dbname(server, database), share=share, runs=runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    console.print(study_table(result))


@app.command("fuzz")
def fuzz_command(
    url: ServerUrl = None,
    examples: Annotated[int, typer.Option(help="Generated cases per operation.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed (vary it between runs).")] = 1,
    out: Annotated[Path, typer.Option(help="Where to write the summary.")] = Path("bench/results/fuzz.json"),
) -> None:
    """schemathesis against a fresh OHM: every operation, many generated cases, as a signed-in user."""
    from .env import ServerProcess, token_for
    from .fuzz import run_schemathesis

    with server_url(url) as server:
        db = BenchDatabase.open(server, None)
        proc = ServerProcess(db)
        try:
            with tempfile.TemporaryDirectory() as scratch:
                result = run_schemathesis(proc.base_url, token_for(db.new_user("fuzz")),
                                          Path(scratch) / "events.ndjson", examples=examples, seed=seed)
        finally:
            proc.stop()
            db.close()
    summary = {k: v for k, v in result.items() if k not in ("output", "stderr")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1, default=str))
    console.print(result["output"][-2500:])
    console.print(f"{result['cases']} cases over {result['operations']} operations, "
                  f"{len(result['failures'])} failures; summary in {out}")
    if result["failures"] or result["returncode"]:
        raise typer.Exit(1)


@app.command("report")
def report_command(
    small: Path,
    scaled: Annotated[Path | None, typer.Option(help="Results of the same run on the scaled database.")] = None,
    doc: Annotated[Path, typer.Option(help="Markdown file whose results section is rewritten.")] = Path(
        "docs/benchmarks.md"),
) -> None:
    """Write the results (tables, goals, chart) into docs/benchmarks.md."""
    first = report_module.load_results(small)
    parts = [f"Machine: {first['machine']['cpu']}, {first['machine']['cores']} cores, "
             f"{first['machine']['ram_gb']} GB RAM, {first['machine']['os']}, Python {first['machine']['python']}, "
             f"PostgreSQL {first['machine']['postgresql']}.", ""]
    chart_path = doc.parent / "benchmarks.png"
    report_module.chart(first["results"], chart_path, f"OHM benchmarks ({first['label']} database)")
    parts += [f"![benchmarks]({chart_path.name})", "", f"### Small database ({small.name})", "",
              "#### Goals", "", report_module.goals_table(first["results"]), "",
              report_module.tables(first["results"])]
    if scaled is not None:
        second = report_module.load_results(scaled)
        rows = second["database"]["rows"]
        parts += [f"### Scaled database ({scaled.name}: {rows['messages']:,} messages, {rows['chats']:,} chats, "
                  f"{rows['profiles']:,} users)", "", "#### Goals", "", report_module.goals_table(second["results"]),
                  "", "#### Scaled vs small (p50)", "", report_module.compare_table(first["results"],
                                                                                    second["results"]), "",
                  report_module.tables(second["results"])]
    write_section(doc, "results", "\n".join(parts))
    console.print(f"wrote {doc} and {chart_path}")


if __name__ == "__main__":
    app()
