"""The typed client against the API it calls: written once (async), complete, typed as the routes answer.

The sync client is generated from the async one (scripts/make_sync_client.py); these tests fail when the
generated file is stale, when an operation of the OpenAPI schema has no client method (or a method names
an operation that does not exist), when the two clients' signatures differ, when a method's return type is
not the route's response model, and when a documented error status has no exception class.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ohm.client import ERRORS, AsyncOhmClient, OhmClient, OhmError, RateLimitedError
from ohm.client._base import NotFoundError

from .helpers import make_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def spec() -> dict:
    from ohm.api.app import create_app
    from ohm.config import Settings

    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none", jwt_secret="s" * 40))
    return app.openapi()


def operations(spec: dict) -> dict[tuple[str, str], dict]:
    return {(method.upper(), path): op for path, ops in spec["paths"].items() for method, op in ops.items()}


def client_methods(cls: type) -> dict[str, object]:
    return {name: fn for name, fn in vars(cls).items() if not name.startswith("_") and callable(fn)}


def routes(cls: type) -> dict[tuple[str, str], str]:
    out = {}
    for name, fn in client_methods(cls).items():
        method, paths = getattr(fn, "__ohm_route__", (None, ()))
        for path in paths:
            assert (method, path) not in out, f"{name} and {out[(method, path)]} both claim {method} {path}"
            out[(method, path)] = name
    return out


def test_the_sync_client_is_generated_from_the_async_one():
    result = subprocess.run([sys.executable, "scripts/make_sync_client.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_every_operation_has_a_method_and_every_method_an_operation(spec):
    api = set(operations(spec))
    for cls in (AsyncOhmClient, OhmClient):
        claimed = routes(cls)
        assert api - set(claimed) == set(), f"operations without a {cls.__name__} method"
        assert set(claimed) - api == set(), f"{cls.__name__} methods naming operations the API does not have"
    helpers = {"iter_chats"}  # built on other methods
    unrouted = {n for n, fn in client_methods(AsyncOhmClient).items() if not hasattr(fn, "__ohm_route__")}
    assert unrouted == helpers | {"aclose"}


def normalise(annotation: str) -> str:
    return annotation.replace("AsyncIterator", "Iterator")


def test_sync_and_async_signatures_are_identical():
    sync, async_ = client_methods(OhmClient), client_methods(AsyncOhmClient)
    assert set(sync) - {"close"} == set(async_) - {"aclose"}
    for name, fn in async_.items():
        if name == "aclose":
            continue
        assert inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn), name
        assert not (inspect.iscoroutinefunction(sync[name]) or inspect.isasyncgenfunction(sync[name])), name
        a, s = inspect.signature(fn), inspect.signature(sync[name])
        assert [(p.name, p.kind, p.default, normalise(str(p.annotation))) for p in a.parameters.values()] == \
               [(p.name, p.kind, p.default, str(p.annotation)) for p in s.parameters.values()], name
        assert normalise(str(a.return_annotation)) == str(s.return_annotation), name


def response_type(op: dict) -> str:
    """The Python type a client should return for an operation's success answer."""
    success = next(code for code in op["responses"] if code.startswith("2"))
    content = op["responses"][success].get("content")
    if success == "204" or content is None:
        return "None"
    if "application/json" not in content:
        return "bytes"
    schema = content["application/json"]["schema"]

    def name(ref: str) -> str:
        model = ref.rsplit("/", 1)[1]
        generic = re.fullmatch(r"(\w+?)_(\w+)_", model)
        return f"{generic[1]}[{generic[2]}]" if generic else model

    if "$ref" in schema:
        return name(schema["$ref"])
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return f"list[{name(schema['items']['$ref'])}]"
    return "bytes"  # a download documented with its bytes' schema


def test_each_method_returns_its_routes_response_model(spec):
    ops = operations(spec)
    for (method, path), name in routes(AsyncOhmClient).items():
        annotation = str(inspect.signature(client_methods(AsyncOhmClient)[name]).return_annotation)
        if path.endswith("/events"):
            assert annotation == "AsyncIterator[RealtimeEvent]"
            continue
        assert annotation == response_type(ops[(method, path)]), (name, method, path)


def test_every_documented_error_status_has_its_exception(spec):
    documented = {int(code) for op in operations(spec).values() for code in op["responses"] if code[0] in "45"}
    api_doc = (ROOT / "docs" / "api.md").read_text()
    documented |= {int(code) for code in re.findall(r"^\| (\d{3}) \|", api_doc, re.M) if code[0] in "45"}
    assert documented - set(ERRORS) == set(), "statuses without an exception class"
    assert all(issubclass(cls, OhmError) and cls is not OhmError for cls in ERRORS.values())
    assert len(set(ERRORS.values())) == len(ERRORS), "one class per status"


# --- the methods the client gained, against a running server -------------------------------------------------


def test_the_new_methods_work_against_the_server(user, live_server):
    with OhmClient(live_server, token=user.token()) as ohm:
        chat = ohm.create_chat(title="contract")
        first = ohm.post_message(chat.id, "user", "which BME280 library?")
        reply = ohm.post_message(chat.id, "assistant", "Adafruit's.", agent={"name": "coder", "model": "acme/x-9"},
                                 usage={"input_tokens": 5, "output_tokens": 7})
        assert reply.warnings and "acme/x-9" in reply.warnings[0], "post_message keeps the server's warnings"
        assert ohm.search("BME280").items, "search"
        assert ohm.usage("agent").totals.messages >= 1 and ohm.prices(current=True), "usage and prices"
        assert ohm.activity(action="chat.").items, "activity"
        ohm.delete_message(first.id)
        with pytest.raises(NotFoundError):
            ohm.get_message(reply.id)  # a reply goes with its message
        attachment = ohm.upload(b"%PDF-1.4\n%%EOF\n", "d.pdf", category="datasheet")
        url = ohm.signed_url(attachment.id, ttl=60).url
        with OhmClient(live_server) as anon:
            assert anon.download_signed(url) == b"%PDF-1.4\n%%EOF\n"
        analysis = ohm.add_datasheet_analysis({"part_number": "BME280", "attachment_id": attachment.id})
        assert ohm.get_datasheet_analysis(analysis.id).part_number == "BME280"
        project = ohm.create_project("Station")
        verification = ohm.add_verification(project.id, {"status": "pass"})
        assert ohm.get_verification(verification.id).id == verification.id
        assert ohm.health().status == "ok"


def test_a_429_is_a_rate_limited_error_with_its_retry_after(user, database_url, tmp_path):
    with make_app(database_url, tmp_path, rate_limit_writes="60/min", rate_limit_burst=1) as app:
        ohm = OhmClient("http://testserver", token=user.token())
        ohm._http = app  # the app in-process: Starlette's TestClient is an httpx.Client
        app.headers["Authorization"] = f"Bearer {user.token()}"
        ohm.create_chat()
        with pytest.raises(RateLimitedError) as refused:
            ohm.create_chat()
        assert refused.value.status == 429 and refused.value.retry_after >= 1
        assert refused.value.problem["status"] == 429 and "retry" in refused.value.detail
