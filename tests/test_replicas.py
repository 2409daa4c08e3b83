"""Read replicas against real streaming replication: a primary and a standby of the suite's own
(initdb + pg_basebackup -R), OHM's API in front with OHM_READ_REPLICA_URLS set."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from bench.pgpair import PgPair, server_binaries
from ohm.api.app import create_app
from ohm.auth import issue_token
from ohm.client import OhmClient
from ohm.config import Settings
from ohm.lsn import parse_lsn

from .conftest import JWT_SECRET, auth, serving

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(server_binaries() is None, reason="needs PostgreSQL's server binaries (initdb)")]


@pytest.fixture(scope="module")
def pair() -> Iterator[PgPair]:
    with PgPair() as started:  # its own temporary directory, which the postgres OS user can enter
        yield started


@pytest.fixture(scope="module")
def api(pair, tmp_path_factory) -> Iterator[str]:
    settings = Settings(database_url=pair.primary_url, jwt_secret=JWT_SECRET, read_replica_urls=pair.standby_url,
                        replica_check_interval=0.2, data_dir=tmp_path_factory.mktemp("replica-data"),
                        rate_limit_writes="off", rate_limit_public_reads="off")
    with serving(uvicorn.Config(create_app(settings), log_level="warning")) as url:
        wait_for(url, lambda h: h["replicas"][0]["state"] == "ok")
        yield url


def health(url: str) -> dict:
    return httpx.get(f"{url}/healthz", timeout=10).json()


def wait_for(url: str, condition, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = health(url)
        if condition(state):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


@pytest.fixture(scope="module")
def maker(api, pair) -> dict[str, str]:
    import psycopg

    with psycopg.connect(pair.primary_url, autocommit=True) as conn:
        user_id = conn.execute("insert into auth.users (email) values (%s) returning id",
                               (f"replica-{uuid.uuid4().hex[:8]}@example.com",)).fetchone()[0]
    return {"Authorization": f"Bearer {issue_token(JWT_SECRET, user_id=user_id)}"}


def test_reads_land_on_the_standby_and_writes_carry_their_position(api, pair, maker):
    chat = httpx.post(f"{api}/v1/chats", json={"title": "Replicated"}, headers=maker).json()
    posted = httpx.post(f"{api}/v1/chats/{chat['id']}/messages", json={"role": "user", "content": "hello"},
                        headers=maker)
    assert posted.status_code == 201
    lsn = posted.headers["OHM-LSN"]
    assert parse_lsn(lsn) > 0 and f"ohm_lsn={lsn}" in posted.headers["set-cookie"]
    pair.wait_replayed()

    before = health(api)
    for _ in range(10):
        loaded = httpx.get(f"{api}/v1/chats/{chat['id']}", headers=maker)
        assert loaded.status_code == 200 and loaded.json()["messages"][0]["content"] == "hello"
        assert httpx.get(f"{api}/v1/chats", headers=maker).status_code == 200
        assert httpx.get(f"{api}/v1/search", params={"q": "hello"}, headers=maker).status_code == 200
    after = health(api)
    assert after["replicas"][0]["reads"] - before["replicas"][0]["reads"] == 30
    assert after["reads_on_primary"] == before["reads_on_primary"]
    assert after["replicas"][0]["lag_seconds"] is not None

    # a malformed position is refused, not guessed at
    bad = httpx.get(f"{api}/v1/chats", headers={**maker, "OHM-LSN": "yesterday"})
    assert bad.status_code == 400 and bad.json()["type"] == "urn:ohm:problem:bad-request"


def test_a_read_after_a_write_always_sees_it_even_from_a_slow_standby(api, pair, maker):
    """1,000 writes, each followed by a read with its OHM-LSN, while the standby applies every transaction
    30 ms late; and reads without the position (the standby 300 ms late, so that a loaded machine cannot
    hide it), to show the standby really is behind."""
    chat = httpx.post(f"{api}/v1/chats", json={}, headers=maker).json()
    url = f"{api}/v1/chats/{chat['id']}/messages"
    pair.wait_replayed()  # the chat itself is on the standby: only the messages below can be behind
    pair.set_apply_delay(300)
    try:
        stale = 0
        with httpx.Client(headers=maker, timeout=30) as http:
            for i in range(20):
                sent = http.post(url, json={"role": "user", "content": f"unseen {i}"}).json()
                http.cookies.clear()  # no position at all: neither the header nor the cookie
                seen = [m["id"] for m in http.get(url, params={"limit": 200}).json()["items"]]
                stale += sent["id"] not in seen
            assert stale > 0, "the standby kept up without the position: this test would prove nothing"
            pair.set_apply_delay(30)
            for i in range(1000):
                written = http.post(url, json={"role": "assistant", "content": f"reply {i}"})
                assert written.status_code == 201
                http.cookies.clear()  # the header alone
                after_sequence = max(0, written.json()["sequence_number"] - 5)
                page = http.get(url, params={"after_sequence": after_sequence},
                                headers={"OHM-LSN": written.headers["OHM-LSN"]})
                assert page.status_code == 200
                assert written.json()["id"] in [m["id"] for m in page.json()["items"]], i
            # a browser page: the cookie the write set is enough
            for i in range(50):
                sent = http.post(url, json={"role": "user", "content": f"page {i}"}).json()
                assert "ohm_lsn" in http.cookies
                seen = [m["id"] for m in http.get(url, params={"after_sequence": sent["sequence_number"] - 1}
                                                  ).json()["items"]]
                assert seen == [sent["id"]]
        # the typed client carries the position by itself
        with OhmClient(api, token=maker["Authorization"].split()[1]) as client:
            for i in range(50):
                sent = client.post_message(chat["id"], "user", f"client {i}")
                assert client.get_message(sent.id).id == sent.id
                page = client.list_messages(chat["id"], after_sequence=sent.sequence_number - 1)
                assert [m.id for m in page.items] == [sent.id]
    finally:
        pair.set_apply_delay(0)
    assert health(api)["replicas"][0]["reads"] > 0


def test_a_standby_that_stops_mid_run_is_skipped_and_used_again_when_back(api, pair, maker):
    chat = httpx.post(f"{api}/v1/chats", json={"title": "Failover"}, headers=maker).json()
    httpx.post(f"{api}/v1/chats/{chat['id']}/messages", json={"role": "user", "content": "still here"},
               headers=maker)
    pair.wait_replayed()
    statuses: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        with httpx.Client(headers=maker, timeout=30) as http:
            while not stop.is_set():
                response = http.get(f"{api}/v1/chats/{chat['id']}")
                statuses.append(response.status_code)
                assert response.status_code != 200 or response.json()["messages"][0]["content"] == "still here"

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        pair.stop_standby("immediate")
        down = wait_for(api, lambda h: h["replicas"][0]["state"] == "down", timeout=20)
        assert down["replicas"][0]["error"]
        time.sleep(1.0)
        primary_reads = health(api)["reads_on_primary"]
        time.sleep(1.0)
        assert health(api)["reads_on_primary"] > primary_reads  # the primary answers meanwhile
        pair.start_standby()
        back = wait_for(api, lambda h: h["replicas"][0]["state"] == "ok", timeout=60)
        time.sleep(1.0)
        assert health(api)["replicas"][0]["reads"] > back["replicas"][0]["reads"]  # used again
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}


def test_without_replicas_nothing_changes(http, user):
    body = http.get("/healthz").json()
    assert body["replicas"] == [] and body["reads_on_primary"] is None
    written = http.post("/v1/chats", json={}, headers=auth(user))
    assert written.status_code == 201 and "OHM-LSN" not in written.headers


def test_the_replica_benchmark_routes_reads_and_keeps_read_your_writes():
    from bench.replicas_bench import run

    result = run(rounds=1, seconds=0.5, readers=2, chats=3, messages=10)
    assert set(result["chat_loads_per_s"]) == {"primary", "standby"}
    assert all(v > 0 for v in result["chat_loads_per_s"].values())
    mixed = result["mixed"]
    assert mixed["read_backs"] > 0 and mixed["read_backs_that_saw_their_write"] == mixed["read_backs"]
    assert mixed["standby_share"] > 0
