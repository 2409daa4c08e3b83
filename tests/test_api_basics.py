"""The app shell: health, OpenAPI, problem+json errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ohm.api.app import create_app
from ohm.config import Settings
from ohm.db.migrate import load_migrations

from .conftest import JWT_SECRET


@pytest.fixture(scope="module")
def client(database_url):
    app = create_app(Settings(database_url=database_url, jwt_secret=JWT_SECRET))
    with TestClient(app) as c:
        yield c


def test_healthz_runs_a_query_as_anon_through_the_app_role(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok (anon)"
    assert body["schema_version"] == load_migrations()[-1].name
    assert body["embedded"] is False


def test_openapi_and_docs_are_served(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "OHM"
    assert "/healthz" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_unknown_routes_are_problem_json(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {"type": "urn:ohm:problem:not-found", "title": "Not Found", "status": 404,
                               "detail": "no route GET /no/such/thing; the API is described at /docs"}


def test_wrong_method_is_problem_json(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:ohm:problem:method-not-allowed"
    assert response.json()["detail"] == "POST is not allowed on /healthz; the API is described at /docs"


def test_missing_secret_with_external_database_refuses_to_start(database_url):
    app = create_app(Settings(database_url=database_url, jwt_secret=None))
    with pytest.raises(Exception, match="OHM_JWT_SECRET"):
        with TestClient(app):
            pass


def test_short_secret_refuses_to_start(database_url):
    app = create_app(Settings(database_url=database_url, jwt_secret="short"))
    with pytest.raises(Exception, match="at least 32 bytes"):
        with TestClient(app):
            pass


def test_no_route_or_dependency_runs_in_the_thread_pool(client):
    """FastAPI runs plain `def` endpoints and dependencies in a thread pool: a thread hop per request."""
    import inspect

    from fastapi.routing import APIRoute, APIWebSocketRoute

    def is_async(call) -> bool:
        # a coroutine function, or an object whose __call__ is one (such as HTTPBearer)
        return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)

    def calls(dependant):
        for dep in dependant.dependencies:
            yield dep.call
            yield from calls(dep)

    def routes(container):
        for route in container.routes:
            if hasattr(route, "original_router"):  # an included router
                yield from routes(route.original_router)
            elif isinstance(route, APIRoute | APIWebSocketRoute):
                yield route

    checked = 0
    for route in routes(client.app):
        for call in [route.dependant.call, *calls(route.dependant)]:
            checked += 1
            assert is_async(call), f"{route.path}: {getattr(call, '__qualname__', call)} is not async"
    assert checked > 100


def test_the_api_docs_work_offline(http, live_server):
    """/docs and /redoc load Swagger UI and ReDoc from the server itself (no CDN), and say how to get a token."""
    import re

    from .helpers import headless

    for path in ("/docs", "/redoc"):
        page = http.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
        assert assets and all(a.startswith("/") for a in assets), assets
        for asset in assets:
            assert http.get(asset).status_code == 200, asset
    assert "ohm token" in http.get("/openapi.json").json()["info"]["description"]
    # In a browser that can reach nothing but this server, Swagger UI renders every operation.
    dom = headless(f"{live_server}/docs", "--dump-dom", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    assert "opblock-summary" in dom and "/v1/chats" in dom
