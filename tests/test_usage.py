"""Costs at the day's price, analytics on a fixed data set, the activity log, the usage page and CLI."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import uuid
from decimal import Decimal

import psycopg
import pytest
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from ohm.auth import Identity, issue_token
from ohm.cli import app as cli_app

from .conftest import JWT_SECRET, acting, auth

SERVICE = {"Authorization": f"Bearer {issue_token(JWT_SECRET, role='service_role')}"}
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def post(http, user, chat_id, **body):
    return ok(http.post(f"/v1/chats/{chat_id}/messages", headers=auth(user), json={"role": "assistant",
                                                                                    "content": "x", **body}), 201)


def new_chat(http, user, **body):
    return ok(http.post("/v1/chats", headers=auth(user), json=body), 201)["id"]


def set_price(app_url, model, valid_from, input_price, output_price):
    with acting(app_url, Identity.service()) as conn:
        conn.execute("""insert into model_prices (model_id, provider, input_per_mtok, output_per_mtok, valid_from)
                        values (%s, 'test', %s, %s, %s)""", (model, input_price, output_price, valid_from))


def insert_message(app_url, user_id, chat_id, at, **fields):
    columns = {"chat_id": chat_id, "user_id": user_id, "role": "assistant", "content": "m", "created_at": at,
               **fields}
    with acting(app_url, Identity.service()) as conn:
        return conn.execute(
            f"insert into messages ({', '.join(columns)}) values ({', '.join(['%s'] * len(columns))}) "
            "returning id, cost_usd", list(columns.values())).fetchone()


# --- cost --------------------------------------------------------------------------------------------------


def test_cost_is_computed_at_the_price_valid_when_the_message_is_written(http, user, app_url):
    model = f"bench-model-{uuid.uuid4().hex[:6]}"
    set_price(app_url, model, T0, Decimal("1"), Decimal("2"))
    set_price(app_url, model, T0 + dt.timedelta(days=10), Decimal("10"), Decimal("20"))
    chat = new_chat(http, user)
    before = insert_message(app_url, user.id, chat, T0 - dt.timedelta(seconds=1), agent_name="a", agent_model=model,
                            input_tokens=1000, output_tokens=1000)
    first = insert_message(app_url, user.id, chat, T0, agent_name="a", agent_model=model,
                           input_tokens=1_000_000, output_tokens=500_000)
    last_old = insert_message(app_url, user.id, chat, T0 + dt.timedelta(days=10, microseconds=-1), agent_name="a",
                              agent_model=f"someprovider/{model}", input_tokens=1000, output_tokens=1000)
    boundary = insert_message(app_url, user.id, chat, T0 + dt.timedelta(days=10), agent_name="a",
                              agent_model=model.upper(), input_tokens=1000, output_tokens=1000)
    assert before["cost_usd"] is None, "no price before the first valid_from"
    assert first["cost_usd"] == Decimal("2.000000")
    assert last_old["cost_usd"] == Decimal("0.003000")
    assert boundary["cost_usd"] == Decimal("0.030000")
    # A later price never rewrites a stored cost.
    set_price(app_url, model, T0 + dt.timedelta(days=5), Decimal("99"), Decimal("99"))
    with acting(app_url, Identity.service()) as conn:
        assert conn.execute("select cost_usd from messages where id = %s", (first["id"],)).fetchone()["cost_usd"] \
            == Decimal("2.000000")


@pytest.mark.parametrize(("model", "expected"), [
    ("openai/o1", "0.145500"), ("o1", "0.145500"), ("O1", "0.145500"),
    ("anthropic/claude-sonnet-4-20250514", "0.034500"), ("claude-sonnet-4", "0.034500"),
    ("gpt-4o-2024-08-06", "0.024250"),
])
def test_model_ids_match_with_or_without_provider_and_date(http, user, model, expected):
    chat = new_chat(http, user)
    message = post(http, user, chat, agent={"name": "bomGenerator", "model": model},
                   usage={"input_tokens": 2500, "output_tokens": 1800})
    assert message["usage"]["cost_usd"] == expected
    assert "warnings" not in message


def test_unknown_models_get_a_null_cost_and_a_warning_and_sent_costs_count_only_without_a_price(http, user):
    chat = new_chat(http, user)
    unknown = post(http, user, chat, agent={"name": "x", "model": "acme/unheard-of-9"},
                   usage={"input_tokens": 100, "output_tokens": 100})
    assert unknown["usage"]["cost_usd"] is None
    assert "no price is known for model 'acme/unheard-of-9'" in unknown["warnings"][0]
    # A model with a price: the database's cost, whatever the writer sends (o1: $15 / $60 per Mtok).
    priced = post(http, user, chat, agent={"name": "x", "model": "openai/o1"},
                  usage={"input_tokens": 2500, "output_tokens": 1800, "cost_usd": "0.5"})
    assert priced["usage"]["cost_usd"] == "0.145500" and "warnings" not in priced
    # A model without one: the sent cost is all there is.
    sent = post(http, user, chat, agent={"name": "x", "model": "acme/unheard-of-9"},
                usage={"input_tokens": 2500, "output_tokens": 1800, "cost_usd": "0.5"})
    assert sent["usage"]["cost_usd"] == "0.500000" and "warnings" not in sent
    no_model = post(http, user, chat, agent={"name": "x"}, usage={"input_tokens": 5})
    assert no_model["usage"]["cost_usd"] is None and "warnings" not in no_model
    chat_row = ok(http.get(f"/v1/chats/{chat}", headers=auth(user)))
    assert Decimal(chat_row["total_cost_usd"]) == Decimal("0.6455")


def test_counters_stay_exact_under_concurrency_and_deletes(http, user, app_url, live_server):
    from ohm.client import OhmClient

    chats = [new_chat(http, user) for _ in range(4)]

    def write(i: int) -> None:
        with OhmClient(live_server, token=user.token()) as ohm:
            for j in range(12):
                ohm.post_message(chats[(i + j) % 4], "assistant", f"m{i}-{j}", agent={"name": "a", "model": "o1"},
                                 usage={"input_tokens": 100 + i, "output_tokens": 10 + j})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    with acting(app_url, Identity.service()) as conn:
        truth = conn.execute("""select count(*) as n, sum(input_tokens) as i, sum(output_tokens) as o,
                                       sum(cost_usd) as c from messages where user_id = %s""", (user.id,)).fetchone()
        profile = conn.execute("""select message_count, total_input_tokens, total_output_tokens, total_cost_usd
                                    from profile_totals where user_id = %s""", (user.id,)).fetchone()
        per_chat = conn.execute(
            """select bool_and(c.message_count = s.n and c.total_cost_usd = s.cost) as exact from chats c
                 join (select chat_id, count(*) as n, sum(cost_usd) as cost from messages group by chat_id) s
                   on s.chat_id = c.id where c.user_id = %s""", (user.id,)).fetchone()
    assert truth["n"] == 96
    assert (profile["message_count"], profile["total_input_tokens"], profile["total_output_tokens"],
            profile["total_cost_usd"]) == (truth["n"], truth["i"], truth["o"], truth["c"])
    assert per_chat["exact"] is True
    assert http.delete(f"/v1/chats/{chats[0]}", headers=auth(user)).status_code == 204
    with acting(app_url, Identity.service()) as conn:
        left = conn.execute("select count(*) as n, sum(cost_usd) as c from messages where user_id = %s",
                            (user.id,)).fetchone()
        profile = conn.execute("select message_count, total_cost_usd from profile_totals where user_id = %s",
                               (user.id,)).fetchone()
    assert (profile["message_count"], profile["total_cost_usd"]) == (left["n"], left["c"]) and left["n"] == 72


# --- analytics -------------------------------------------------------------------------------------------------


@pytest.fixture
def dataset(http, user, app_url):
    """A fixed data set: two chats (one in a project), three agents, two days, explicit costs."""
    project = ok(http.post("/v1/projects", headers=auth(user), json={"name": "Station", "spend_limit_usd": "1.00"}),
                 201)["id"]
    a = new_chat(http, user, title="Chat A", project_id=project)
    b = new_chat(http, user, title="Chat B")
    day1, day2 = T0, T0 + dt.timedelta(days=1)
    rows = [  # chat, day, role, agent, model, intent, in, out, cost, latency
        (a, day1, "user", None, None, None, 0, 0, None, None),
        (a, day1, "assistant", "bomGenerator", "openai/o1", "BOM", 2000, 1000, "0.090000", 9000),
        (a, day2, "assistant", "bomGenerator", "o1", "BOM", 1000, 500, "0.045000", 7000),
        (a, day2, "assistant", "wiringExpert", "anthropic/claude-opus-4", "WIRING", 3000, 1000, "0.120000", 12000),
        (b, day1, "user", None, None, None, 0, 0, None, None),
        (b, day1, "assistant", "codeGenerator", "gpt-4o", "CODE", 4000, 2000, "0.030000", 5000),
        (b, day2, "assistant", "codeGenerator", "mystery-llm", "CODE", 100, 100, None, 1000),
    ]
    for chat, at, role, agent, model, intent, tin, tout, cost, latency in rows:
        insert_message(app_url, user.id, chat, at, role=role, agent_name=agent, agent_model=model, intent=intent,
                       input_tokens=tin, output_tokens=tout, cost_usd=Decimal(cost) if cost else None,
                       latency_ms=latency)
    return {"project": project, "a": a, "b": b}


def usage(http, user, **params):
    return ok(http.get("/v1/analytics/usage", headers=auth(user), params=params))


def test_usage_by_agent_with_exact_numbers(http, user, dataset):
    report = usage(http, user, group_by="agent")
    rows = {r["key"]: r for r in report["items"]}
    assert [r["key"] for r in report["items"]] == ["bomGenerator", "codeGenerator", None, "wiringExpert"]
    assert rows["bomGenerator"] | {"label": None} == {
        "key": "bomGenerator", "label": None, "messages": 2, "input_tokens": 3000, "output_tokens": 1500,
        "cost_usd": "0.135000", "avg_input_tokens": 1500.0, "avg_output_tokens": 750.0, "avg_latency_ms": 8000.0,
        "unpriced": 0}
    assert rows["codeGenerator"]["unpriced"] == 1 and rows["codeGenerator"]["cost_usd"] == "0.030000"
    assert rows[None]["messages"] == 2 and rows[None]["avg_latency_ms"] is None
    assert report["totals"]["messages"] == 7 and report["totals"]["cost_usd"] == "0.285000"
    assert report["totals"]["input_tokens"] == 10100


def test_usage_by_model_intent_day_chat_project_and_role(http, user, dataset):
    by_model = {r["key"]: r["messages"] for r in usage(http, user, group_by="model")["items"]}
    assert by_model == {"o1": 2, "claude-opus-4": 1, "gpt-4o": 1, "mystery-llm": 1, None: 2}
    by_intent = {r["key"]: r["cost_usd"] for r in usage(http, user, group_by="intent")["items"]}
    assert by_intent == {"BOM": "0.135000", "WIRING": "0.120000", "CODE": "0.030000", None: "0.000000"}
    days = usage(http, user, group_by="day")["items"]
    assert [(r["key"], r["messages"], r["cost_usd"]) for r in days] == [
        ("2026-03-01", 4, "0.120000"), ("2026-03-02", 3, "0.165000")]
    chats = usage(http, user, group_by="chat")["items"]
    assert [(r["label"], r["cost_usd"]) for r in chats] == [("Chat A", "0.255000"), ("Chat B", "0.030000")]
    projects = usage(http, user, group_by="project")["items"]
    assert [(r["label"], r["messages"]) for r in projects] == [("Station", 4), (None, 3)]
    roles = {r["key"]: r["messages"] for r in usage(http, user, group_by="role")["items"]}
    assert roles == {"assistant": 5, "user": 2}
    # One call each for the design's questions.
    most_used = usage(http, user, group_by="agent", role="assistant")["items"][0]
    assert (most_used["key"], most_used["messages"]) == ("bomGenerator", 2)
    assert usage(http, user, chat_id=dataset["b"])["totals"]["cost_usd"] == "0.030000"
    window = usage(http, user, group_by="agent", **{"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"})
    assert window["totals"]["messages"] == 3
    assert usage(http, user, project_id=dataset["project"])["totals"]["messages"] == 4


def test_project_spend_against_its_limit(http, user, dataset):
    project = ok(http.get(f"/v1/projects/{dataset['project']}", headers=auth(user)))
    assert project["spend"] == {"messages": 4, "input_tokens": 6000, "output_tokens": 2500, "cost_usd": "0.255000",
                                "spend_limit_usd": "1.00", "over_limit": False}
    ok(http.patch(f"/v1/projects/{dataset['project']}", headers=auth(user), json={"spend_limit_usd": "0.20"}))
    assert ok(http.get(f"/v1/projects/{dataset['project']}", headers=auth(user)))["spend"]["over_limit"] is True


def test_analytics_are_scoped_to_the_caller(http, user, other_user, dataset):
    assert usage(http, other_user)["totals"]["messages"] == 0
    assert http.get("/v1/analytics/usage").status_code == 401
    assert http.get("/v1/analytics/usage", headers=auth(other_user),
                    params={"user_id": str(user.id)}).status_code == 422
    assert http.get("/v1/analytics/usage", headers=auth(user), params={"group_by": "colour"}).status_code == 422
    assert http.get("/v1/analytics/usage", headers=auth(user),
                    params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}).status_code == 422
    service = ok(http.get("/v1/analytics/usage", headers=SERVICE, params={"user_id": str(user.id)}))
    assert service["totals"]["messages"] == 7
    # A public chat of someone else is readable, but it is not the reader's usage.
    ok(http.patch(f"/v1/chats/{dataset['a']}", headers=auth(user), json={"is_public": True}))
    assert usage(http, other_user)["totals"]["messages"] == 0


# --- activity log ------------------------------------------------------------------------------------------------


def actions(http, user, **params):
    page = ok(http.get("/v1/activity", headers=auth(user), params={"limit": 200, **params}))
    return [e["action"] for e in reversed(page["items"])]


def test_every_action_writes_one_activity_row(http, user, other_user, app_url, live_server):
    from .helpers import png

    project = ok(http.post("/v1/projects", headers=auth(user), json={"name": "Logged"}), 201)["id"]
    ok(http.patch(f"/v1/projects/{project}", headers=auth(user), json={"goal": "log it"}))
    chat = new_chat(http, user, project_id=project)
    post(http, user, chat, agent={"name": "bomGenerator", "model": "o1"}, usage={"input_tokens": 10})
    ok(http.patch(f"/v1/chats/{chat}", headers=auth(user), json={"title": "First"}))
    ok(http.patch(f"/v1/chats/{chat}", headers=auth(user), json={"title": "Renamed"}))
    art = ok(http.post(f"/v1/chats/{chat}/artifacts", headers=auth(user),
                       json={"type": "document", "title": "Notes", "content_text": "v1"}), 201)
    ok(http.post(f"/v1/artifacts/{art['id']}/versions", headers=auth(user),
                 json={"base_version": 1, "content_text": "v2"}), 201)
    ok(http.post(f"/v1/artifacts/{art['id']}/restore", headers=auth(user), json={"version": 1}), 201)
    share = ok(http.post(f"/v1/chats/{chat}/shares", headers=auth(user), json={}), 201)
    ok(http.get(f"/v1/shares/{share['token']}"))
    ok(http.post(f"/v1/shares/{share['token']}/fork", headers=auth(other_user), json={}), 201)
    ok(http.delete(f"/v1/shares/{share['token']}", headers=auth(user)))
    upload = ok(http.post("/v1/attachments", headers=auth(user), files={"file": ("c.png", png(seed=500))},
                          data={"category": "circuit_image", "chat_id": chat}), 201)
    ok(http.post(f"/v1/projects/{project}/verifications", headers=auth(user),
                 json={"status": "pass", "attachment_id": upload["id"]}), 201)
    ok(http.post("/v1/datasheet-analyses", headers=auth(user), json={"part_number": "BME280"}), 201)
    assert http.delete(f"/v1/chats/{chat}", headers=auth(user)).status_code == 204
    assert http.delete(f"/v1/projects/{project}", headers=auth(user)).status_code == 204
    assert actions(http, user) == [
        "project.created", "project.updated", "chat.created", "message.created", "chat.renamed",
        "artifact.created", "artifact.version_created", "artifact.restored", "share.created", "share.viewed",
        "share.revoked", "attachment.uploaded", "verification.created", "datasheet_analysis.created",
        "chat.deleted", "project.deleted"]
    mine = ok(http.get("/v1/activity", headers=auth(user), params={"action": "artifact.", "limit": 200}))["items"]
    assert [e["metadata"].get("version") for e in reversed(mine)] == [1, 2, 3]
    assert mine[0]["metadata"]["restored_from"] == 1 and mine[0]["actor_id"] == str(user.id)
    viewed = ok(http.get("/v1/activity", headers=auth(user), params={"action": "share.viewed"}))["items"][0]
    assert viewed["actor_id"] is None and viewed["actor_role"] == "anon"
    updated = ok(http.get("/v1/activity", headers=auth(user), params={"action": "project.updated"}))["items"][0]
    assert updated["metadata"] == {"fields": ["goal"]}
    # The forker's log has the fork once, not a row per copied message.
    assert actions(http, other_user) == ["chat.forked"]


def test_activity_is_private_paged_and_append_only(http, user, other_user, app_url):
    chats = [new_chat(http, user) for _ in range(5)]
    page = ok(http.get("/v1/activity", headers=auth(user), params={"limit": 2, "action": "chat.created"}))
    assert len(page["items"]) == 2 and page["next_cursor"]
    seen = [e["entity_id"] for e in page["items"]]
    while page["next_cursor"]:
        page = ok(http.get("/v1/activity", headers=auth(user), params={"limit": 2, "action": "chat.created",
                                                                         "cursor": page["next_cursor"]}))
        seen += [e["entity_id"] for e in page["items"]]
    assert seen == list(reversed(chats))
    assert ok(http.get("/v1/activity", headers=auth(other_user)))["items"] == []
    assert http.get("/v1/activity").status_code == 401
    everyone = ok(http.get("/v1/activity", headers=SERVICE, params={"user_id": str(user.id), "limit": 200}))
    assert len(everyone["items"]) == 5
    for identity in (user.identity, Identity.service()):
        for statement in ("update activity_log set action = 'x.y' where user_id = %s",
                          "delete from activity_log where user_id = %s"):
            with pytest.raises((psycopg.errors.RestrictViolation, psycopg.errors.InsufficientPrivilege)):
                with acting(app_url, identity) as conn:
                    conn.execute(statement, (user.id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with acting(app_url, user.identity) as conn:
            conn.execute("insert into activity_log (user_id, action, entity_type) values (%s, 'chat.created', "
                         "'chat')", (user.id,))


def test_prune_deletes_only_old_rows(user, app_url, database_url):
    with acting(app_url, Identity.service()) as conn:
        for days in (400, 200, 10):
            conn.execute("""insert into activity_log (user_id, action, entity_type, created_at, metadata)
                            values (%s, 'test.old', 'test', now() - make_interval(days => %s), %s)""",
                         (user.id, days, Jsonb({"days": days})))
    env = {"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET}
    runner = CliRunner()
    dry = runner.invoke(cli_app, ["activity", "prune", "--older-than", "180d", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "would delete" in dry.output
    real = runner.invoke(cli_app, ["activity", "prune", "--older-than", "180d"], env=env)
    assert real.exit_code == 0, real.output
    with acting(app_url, Identity.service()) as conn:
        left = conn.execute("select metadata->>'days' as d from activity_log where user_id = %s and action = "
                            "'test.old'", (user.id,)).fetchall()
    assert [r["d"] for r in left] == ["10"]


# --- prices, the CLI and the usage page -----------------------------------------------------------------------------


def test_prices_cli_and_api(http, database_url):
    env = {"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET, "COLUMNS": "200"}
    runner = CliRunner()
    model = f"cli-model-{uuid.uuid4().hex[:6]}"
    made = runner.invoke(cli_app, ["prices", "set", f"acme/{model}", "--input", "1.5", "--output", "6",
                                   "--from", "2026-01-01"], env=env)
    assert made.exit_code == 0, made.output
    listed = runner.invoke(cli_app, ["prices", "list"], env=env)
    assert model in listed.output and "claude-sonnet-4" in listed.output
    prices = {p["model_id"]: p for p in ok(http.get("/v1/prices", params={"current": "true"}))}
    assert prices[model]["provider"] == "acme" and prices[model]["input_per_mtok"] == "1.500000"
    assert prices["gpt-4o"]["input_per_mtok"] == "2.500000"
    history = [p for p in ok(http.get("/v1/prices")) if p["model_id"] == "gpt-4o"]
    assert len(history) == 2
    bad = runner.invoke(cli_app, ["prices", "set", "x", "--input", "-1", "--output", "1"], env=env)
    assert bad.exit_code != 0


def test_usage_command_prints_a_table(http, user, dataset, database_url):
    env = {"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET, "COLUMNS": "160"}
    result = CliRunner().invoke(cli_app, ["usage", user.email, "--days", "3650"], env=env)
    assert result.exit_code == 0, result.output
    assert "bomGenerator" in result.output and "0.1350" in result.output and "0.2850" in result.output
    by_day = CliRunner().invoke(cli_app, ["usage", user.email, "--days", "3650", "--group-by", "day"], env=env)
    assert "2026-03-02" in by_day.output
    assert CliRunner().invoke(cli_app, ["usage", "nobody@example.com"], env=env).exit_code != 0


def test_usage_page_token_cookie_and_chart(http, user, app_url, live_server):
    chat = new_chat(http, user)
    now = dt.datetime.now(dt.UTC)
    for days, agent, cost in ((0, "bomGenerator", "0.40"), (0, "wiringExpert", "0.10"), (2, "bomGenerator", "0.25")):
        insert_message(app_url, user.id, chat, now - dt.timedelta(days=days), agent_name=agent,
                       agent_model="acme/local-llm", input_tokens=10, output_tokens=10, cost_usd=Decimal(cost))
    anonymous = http.get("/usage")
    assert anonymous.status_code == 401 and "needs a token" in anonymous.text
    redirect = http.get("/usage", params={"token": user.token(), "days": 7}, follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == "/usage?days=7"
    cookie = redirect.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/usage" in cookie
    http.cookies.set("ohm_usage_token", user.token())
    page = http.get("/usage?days=7")
    assert page.status_code == 200 and "script-src" not in page.headers["content-security-policy"]
    assert page.text.count('class="bar"') == 3 and "$0.7500" in page.text
    http.cookies.clear()
    assert http.get("/usage", params={"token": "not-a-token"}).status_code == 401


@pytest.mark.slow
def test_usage_page_in_a_real_browser(http, user, app_url, live_server):
    from pathlib import Path

    from .helpers import headless

    chat = new_chat(http, user)
    now = dt.datetime.now(dt.UTC)
    for days in range(6):
        for agent, cost in (("bomGenerator", "0.12"), ("codeGenerator", "0.05")):
            insert_message(app_url, user.id, chat, now - dt.timedelta(days=days), agent_name=agent,
                           agent_model="acme/local-llm", input_tokens=1000, output_tokens=200, cost_usd=Decimal(cost),
                           latency_ms=3000)
    url = f"{live_server}/usage?days=14&token={user.token()}"
    dom = headless(url, "--dump-dom")
    assert dom.count('class="bar"') == 12, "the token was taken, the cookie set, the chart drawn"
    assert "bomGenerator" in dom and "$1.0200" in dom
    shots = Path(__file__).resolve().parents[1] / "test-artifacts"
    shots.mkdir(exist_ok=True)
    shot = shots / "usage-page.png"
    shot.unlink(missing_ok=True)
    headless(url, f"--screenshot={shot}", "--window-size=900,900", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
