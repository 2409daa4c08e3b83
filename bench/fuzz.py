"""schemathesis against OHM's own OpenAPI schema (the test suite runs it small; `python -m bench fuzz` big)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


# One worker: with two, CPython 3.11's ast.parse (used by hypothesis to describe strategies) can fail
# with "AST constructor recursion depth mismatch" when called from two threads at once.
def run_schemathesis(base_url: str, token: str, report: Path, *, examples: int, seed: int = 20261127,
                     workers: int = 1, timeout: int = 3600) -> dict:
    """Every operation with ``examples`` generated cases each; returns cases, failures and the summary."""
    report = report.resolve()
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    command = [
        executable, "run", f"{base_url}/openapi.json", "--url", base_url,
        "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "--max-examples", str(examples),
        "--seed", str(seed), "--workers", str(workers), "--generation-database", "none", "--no-color",
        "--phases", "examples,coverage,fuzzing", "--request-timeout", "30",
        # An event stream never ends: it has its own tests.
        "--exclude-path", "/v1/chats/{chat_id}/events",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]
    # schemathesis keeps a cache in its working directory: the report's, not the project's.
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=report.parent,
                            env={**os.environ, "NO_COLOR": "1"})
    cases, failures, operations = 0, [], set()
    for line in report.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder") or {}
        operations.add(recorder.get("label"))
        cases += len(recorder.get("cases") or {})
        for checks in (recorder.get("checks") or {}).values():
            failures += [c for c in checks if str(c.get("status")).lower() == "failure"]
    return {"returncode": result.returncode, "cases": cases, "operations": len(operations - {None}),
            "failures": failures, "output": result.stdout[-6000:], "stderr": result.stderr[-3000:]}
