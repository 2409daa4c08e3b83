"""Drive the HTTP server with wrk (a C load generator) and read its latency distribution."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

SCRIPT = """
local chats = %(chats)s
local bodies = %(bodies)s
local token = %(token)s
local n = 0
request = function()
  n = n + 1
  local chat = chats[(n %% #chats) + 1]
  local body = bodies[(n %% #bodies) + 1]
  return wrk.format("POST", "/v1/chats/" .. chat .. "/messages",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("OHMJSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"errors\\": %%d, " ..
    "\\"non2xx\\": %%d, \\"mean_us\\": %%f, \\"p50_us\\": %%d, \\"p90_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
"""


GET_SCRIPT = """
local paths = %(paths)s
local token = %(token)s
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1], {["Authorization"] = "Bearer " .. token})
end
""" + SCRIPT[SCRIPT.index("done = function"):]


def _lua(value: object) -> str:
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    return json.dumps(str(value))


def run_wrk(base_url: str, token: str, chats: list, bodies: list[str], connections: int, seconds: int,
            paths: list[str] | None = None) -> dict:
    """POST ``bodies`` as messages to ``chats``; or, with ``paths``, GET those paths."""
    if paths is not None:
        script = GET_SCRIPT % {"paths": _lua(paths), "token": _lua(token)}
    else:
        script = SCRIPT % {"chats": _lua([str(c) for c in chats]), "bodies": _lua(bodies), "token": _lua(token)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "post.lua"
        path.write_text(script)
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(path), base_url],
                             capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    match = re.search(r"OHMJSON (\{.*\})", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output: {out}")
    raw = json.loads(match.group(1))
    if raw["non2xx"]:
        raise RuntimeError(f"wrk saw {raw['non2xx']} non-2xx responses")
    return {"requests": raw["requests"], "seconds": raw["seconds"], "errors": raw["errors"],
            "mean_ms": round(raw["mean_us"] / 1000, 3), "p50_ms": round(raw["p50_us"] / 1000, 3),
            "p90_ms": round(raw["p90_us"] / 1000, 3), "p99_ms": round(raw["p99_us"] / 1000, 3)}
