"""schemathesis against the app's own OpenAPI schema: every operation, generated valid and invalid input.

Checks: no 5xx, responses (content type, body) match the schema.  CI makes at least 1,000 cases
(OHM_FUZZ_EXAMPLES per operation, default 25); `python -m bench fuzz` runs the same bigger.
"""

from __future__ import annotations

import os

import pytest

from bench.fuzz import run_schemathesis
from ohm.auth import issue_token

from .conftest import JWT_SECRET

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
def test_schemathesis_finds_no_server_errors_and_no_schema_violations(live_server, user, tmp_path):
    token = issue_token(JWT_SECRET, user_id=user.id, ttl_seconds=3 * 3600)
    examples = int(os.environ.get("OHM_FUZZ_EXAMPLES", "25"))
    result = run_schemathesis(live_server, token, tmp_path / "events.ndjson", examples=examples, timeout=840)
    summary = result["output"]
    assert result["failures"] == [], summary
    assert result["returncode"] == 0, summary + result["stderr"]
    assert result["operations"] >= 55
    assert result["cases"] >= 1000, f"only {result['cases']} cases\n{summary}"
