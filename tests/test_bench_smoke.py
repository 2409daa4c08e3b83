"""The benchmark harness and the scale generator work (tiny sizes; no figure is judged here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_run_produces_every_measurement(pg_server, tmp_path):
    out = tmp_path / "quick.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--quick", "--out", str(out), "--server-url", pg_server],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())
    names = {(r["name"], r["target"]) for r in document["results"]}
    for expected in [("append", "raw psycopg"), ("append", "OHM library"), ("append", "OHM HTTP"),
                     ("append", "langchain-postgres"), ("append", "OHM LangChain history"),
                     ("length", "OHM library"), ("length", "blob-per-chat JSONB"),
                     ("load", "OHM library"), ("load", "raw psycopg"), ("load", "OHM HTTP"), ("list", "OHM HTTP"),
                     ("agents", "OHM library")]:
        assert expected in names
    shapes = {r["extra"]["shape"] for r in document["results"] if r["name"] == "agents"}
    assert shapes == {"8 users, 8 chats", "1 user, 8 chats", "1 user, 1 chat", "1 writer, 1 chat"}
    for r in document["results"]:
        assert r["ops"] > 0 and r["p50_ms"] > 0
    if shutil.which("wrk"):  # the key benchmark drives the server with wrk
        assert {("keys", "OHM HTTP, JWT"), ("keys", "OHM HTTP, API key")} <= names
        assert "append over HTTP with an API key / with a JWT: cost per request" in {g["goal"] for g in
                                                                                      document["goals"]}
    assert {g["goal"] for g in document["goals"]} >= {
        "load chat: library / raw (p50)", "8 agents of 1 user on 8 chats / 8 users on 8 chats (library throughput)",
        "8 agents on 1 chat / 1 writer on 1 chat (library throughput)"}
    assert document["machine"]["cores"] >= 1
    # The report renders from it.
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# B\n<!-- results:start -->\n<!-- results:end -->\n")
    rendered = subprocess.run([sys.executable, "-m", "bench", "report", str(out), "--doc", str(doc)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rendered.returncode == 0, rendered.stderr
    assert "| goal | measured | target | met |" in doc.read_text()
    assert (tmp_path / "benchmarks.png").stat().st_size > 10_000


def test_scale_generator_fills_a_consistent_database(pg_server):
    name = "ohm_scale_smoke"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bench", "scale", "--server-url", pg_server, "--database", name, "--users", "7",
             "--chats", "40", "--messages", "2000", "--workers", "2"],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        params = psycopg.conninfo.conninfo_to_dict(pg_server)
        params["dbname"] = name
        with psycopg.connect(**params) as conn:
            counts = conn.execute(
                "select (select count(*) from profiles), (select count(*) from chats), (select count(*) from messages)"
            ).fetchone()
            assert counts == (7, 40, 2000)
            # What the triggers would have kept is right after the bulk load.
            wrong = conn.execute(
                """select count(*) from chats c
                    where c.message_count <> (select count(*) from messages m where m.chat_id = c.id)
                       or c.last_sequence <> (select max(sequence_number) from messages m where m.chat_id = c.id)
                       or c.current_leaf_id <> (select m.id from messages m where m.chat_id = c.id
                                                 order by sequence_number desc limit 1)"""
            ).fetchone()[0]
            assert wrong == 0
            assert conn.execute("select sum(message_count) from profile_totals").fetchone()[0] == 2000
            gaps = conn.execute(
                """select count(*) from (select chat_id, count(*) n, max(sequence_number) mx
                                           from messages group by chat_id) s where n <> mx"""
            ).fetchone()[0]
            assert gaps == 0
            # The search vector's trigger fires during the COPY too (ENABLE ALWAYS).
            unsearchable = conn.execute(
                "select count(*) from messages where content_search is distinct from ohm.search_vector(content)"
            ).fetchone()[0]
            assert unsearchable == 0
        # The search benchmark runs on it.
        doc = Path(tempfile.mkdtemp()) / "b.md"
        doc.write_text("<!-- search:start -->\n<!-- search:end -->\n")
        searched = subprocess.run(
            [sys.executable, "-m", "bench", "search", "--server-url", pg_server, "--database", name, "--runs", "2",
             "--out", str(doc.with_suffix(".json")), "--doc", str(doc)],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
        assert searched.returncode == 0, searched.stdout[-3000:] + searched.stderr[-3000:]
        assert "OHM library (scoped)" in doc.read_text()
        # So does the partitioning study (and leaves nothing behind).
        studied = subprocess.run(
            [sys.executable, "-m", "bench", "partitions", "--server-url", pg_server, "--database", name,
             "--share", "1", "--runs", "5", "--out", str(doc.with_suffix(".partitions.json"))],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
        assert studied.returncode == 0, studied.stdout[-3000:] + studied.stderr[-3000:]
        study = json.loads(doc.with_suffix(".partitions.json").read_text())
        assert study["built"]["messages"] == 2000
        assert set(study["p50_ms"]["message by id"]) == {"flat", "by_chat", "by_month"}
        with psycopg.connect(**params) as conn:
            assert conn.execute("select count(*) from pg_namespace where nspname = 'partition_study'"
                                ).fetchone()[0] == 0
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def test_bench_hardening_measures_each_scaling_path(pg_server, tmp_path):
    out = tmp_path / "hardening.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "hardening", "--quick", "--out", str(out), "--server-url", pg_server],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    assert [r["name"].split(":")[0] for r in results] == ["wiring trigger", "BOM compare", "text compare",
                                                          "project checks", "chat page", "JSON value check"]
    for r in results:
        assert r["small_s"] > 0 and r["large_s"] > 0
        assert abs(r["time_ratio"] - r["large_s"] / r["small_s"]) < 0.05 * r["time_ratio"] + 0.05
