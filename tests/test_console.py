"""The web console: sign-in by one-time link, the chat list, a chat at its URL, branches, artifacts and their
history, restore, the 404 page, escaping, CSP; and the pages in headless Chromium."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from ohm.cli import app

from .conftest import JWT_SECRET
from .helpers import DevTools, headless

XSS = ('<script>document.body.setAttribute("data-pwned","x")</script>'
       '<img src=x onerror="document.body.setAttribute(\'data-pwned\',\'y\')">')


def login_link(database_url: str, base: str, who: str) -> str:
    result = CliRunner().invoke(app, ["login-link", who, "--base-url", base],
                                env={"OHM_DATABASE_URL": database_url, "OHM_JWT_SECRET": JWT_SECRET})
    assert result.exit_code == 0, result.output
    return result.output.strip()


@contextlib.contextmanager
def session(database_url: str, base: str, who: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in through a one-time link (the cookie, nothing else)."""
    link = login_link(database_url, base, who)
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        response = client.get(link)
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        yield client


@pytest.fixture
def story(alice):
    """A chat with agents, a branch (an edited first question), code and BOM artifacts with history."""
    chat = alice.create_chat(title=f"Weather station {XSS}")
    first = alice.post_message(chat.id, "user", "Which sensor for humidity?")
    answer = alice.post_message(chat.id, "assistant", "A **BME280**:\n\n```cpp\n#include <Wire.h>\nvoid setup() {\n"
                                "    Wire.begin();\n}\n```", agent={"name": "bomBot <script>x()</script>", "icon": "📦",
                                                                  "model": "openai/gpt-4o"}, intent="BOM",
                                usage={"input_tokens": 1200, "output_tokens": 300})
    edited = alice.post_message(chat.id, "user", "Which sensor for humidity, outdoors?", parent_id=None)
    alice.post_message(chat.id, "assistant", "An SHT31 in a radiation shield.", parent_id=edited.id,
                       agent={"name": "shieldBot", "icon": "<img src=x onerror=alert(1)>"})
    bom = alice.create_artifact(chat.id, "bom", f"BOM {XSS}", content_json={"parts": [
        {"name": f"BME280 {XSS}", "designators": ["U2"], "unit_price": "3.2", "supplier": "LCSC"}]})
    alice.add_version(bom.id, base_version=1, content_json={"parts": [
        {"name": "BME280", "designators": ["U2"], "quantity": 1, "unit_price": "2.9", "supplier": "LCSC"}]},
        change_summary="cheaper supplier")
    alice.create_artifact(chat.id, "code", "Firmware", content_json={"files": [
        {"filename": f"src/{XSS}.cpp", "content": "void loop() {\n    delay(1000);\n}\n", "success_unit": 1}]})
    return {"chat": chat, "first": first, "answer": answer, "edited": edited, "bom": bom}


def test_a_sign_in_link_works_once_and_leaves_only_a_cookie(database_url, live_server, user):
    link = login_link(database_url, live_server, user.email)
    assert re.fullmatch(rf"{re.escape(live_server)}/sign-in\?code=[A-Za-z0-9_-]{{40,}}", link)
    with httpx.Client(base_url=live_server, follow_redirects=False) as browser:
        first = browser.get(link)
        assert first.status_code == 303 and "code" not in first.headers["location"]
        home = browser.get("/")
        assert home.status_code == 200 and user.email in home.text and "Sign out" in home.text
        assert browser.get("/usage").status_code == 200  # the usage page takes the console's session
        again = httpx.get(link, follow_redirects=False)
        assert again.status_code == 401 and "not valid any more" in again.text
        # The cookie reads; it never writes through the API.
        assert browser.post("/v1/chats", json={"title": "x"}).status_code == 401
        signed_out = browser.post("/sign-out", headers={"origin": live_server})
        assert signed_out.status_code == 303
        browser.cookies.clear()
        assert "Sign in" in browser.get("/").text
    # Someone else's site cannot sign you out, or in.
    assert httpx.post(f"{live_server}/sign-out", headers={"origin": "https://evil.example"}).status_code == 403
    assert httpx.post(f"{live_server}/sign-in/session", data={"access_token": user.token()},
                      headers={"origin": "https://evil.example"}).status_code == 403
    # A Supabase-style session token from this site becomes the cookie.
    swap = httpx.post(f"{live_server}/sign-in/session", data={"access_token": user.token()},
                      headers={"origin": live_server}, follow_redirects=False)
    assert swap.status_code == 303 and "ohm_session=" in swap.headers["set-cookie"]
    # An open redirect is not possible.
    other = login_link(database_url, live_server, user.email)
    assert httpx.get(other + "&next=//evil.example/x", follow_redirects=False).headers["location"] == "/"


def test_the_chat_list_and_search(database_url, live_server, user, story):
    with session(database_url, live_server, user.email) as browser:
        home = browser.get("/")
        assert f'href="/chat/{story["chat"].id}"' in home.text
        assert "Weather station &lt;script&gt;" in home.text and "<script>document" not in home.text
        found = browser.get("/", params={"q": "radiation shield"})
        assert "<mark>radiation</mark>" in found.text and "1 result" in found.text


def test_a_chat_at_its_url_for_its_owner(database_url, live_server, user, story):
    chat = story["chat"]
    with session(database_url, live_server, user.email) as browser:
        response = browser.get(f"/chat/{chat.id}")
    page = response.text
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert page.count("<script") == 1 and f'<script nonce="{nonce}">' in page
    # The active branch is the edited question and its answer; the switcher shows 2/2 with a way back.
    assert "outdoors?" in page and "radiation shield" in page and "Which sensor for humidity?" not in page
    assert "2/2" in page and "?leaf=" in page
    # Agent badges, usage, highlighted code, artifacts with their history and restore buttons.
    assert "bomBot" not in page  # the first question's answer is on the other branch
    assert "History (2 versions)" in page and "cheaper supplier" in page and 'aria-label="Restore version 1"' in page
    assert "src/&lt;script&gt;" in page and "    delay(1000);" in page
    assert "<img src=x" not in page


def test_branch_switching_shows_the_other_branch(database_url, live_server, user, story):
    chat = story["chat"]
    with session(database_url, live_server, user.email) as browser:
        page = browser.get(f"/chat/{chat.id}").text
        leaf = re.search(r'href="/chat/[^"?]+\?leaf=([0-9a-f-]+)" aria-label="Previous branch"', page).group(1)
        other = browser.get(f"/chat/{chat.id}", params={"leaf": leaf}).text
    assert "Which sensor for humidity?" in other and "openai/gpt-4o" in other and "1200 in / 300 out" in other
    assert "📦 bomBot &lt;script&gt;x()&lt;/script&gt;" in other
    assert 'class="highlight' in other or '<span class="' in other  # Pygments coloured the C++
    assert "1/2" in other and "outdoors?" not in other


def test_restore_from_the_console(database_url, live_server, user, story, alice):
    chat, bom = story["chat"], story["bom"]
    with session(database_url, live_server, user.email) as browser:
        url = f"/chat/{chat.id}/artifacts/{bom.id}/restore"
        assert browser.post(url, data={"version": "1"}, headers={"origin": "https://evil.example"}).status_code == 404
        done = browser.post(url, data={"version": "1"}, headers={"origin": live_server})
        assert done.status_code == 303
    assert alice.get_artifact(bom.id).current_version == 3
    assert httpx.post(f"{live_server}{url}", data={"version": "1"}, headers={"origin": live_server}).status_code == 404


def test_other_users_and_visitors(database_url, live_server, user, other_user, story, alice):
    chat = story["chat"]
    with session(database_url, live_server, other_user.email) as bob:
        hidden = bob.get(f"/chat/{chat.id}")
        assert hidden.status_code == 404 and "not yours to see" in hidden.text and "radiation" not in hidden.text
        assert bob.get(f"/chat/{chat.id}/m/{story['answer'].id}").status_code == 404
        assert f"/chat/{chat.id}" not in bob.get("/").text
    assert httpx.get(f"{live_server}/chat/{uuid.uuid4()}").status_code == 404
    assert httpx.get(f"{live_server}/chat/not-a-uuid").status_code == 404
    alice.update_chat(chat.id, is_public=True)
    public = httpx.get(f"{live_server}/chat/{chat.id}")
    assert public.status_code == 200 and "read-only" in public.text and "Restore" not in public.text


@pytest.mark.slow
def test_the_console_in_a_real_browser(database_url, live_server, user, story, tmp_path):
    chat = story["chat"]
    link = login_link(database_url, live_server, user.email)
    dom = headless(f"{link}&next=/chat/{chat.id}", "--dump-dom", wall_clock_ms=4000)
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0], "no payload ran"
    assert "radiation shield" in dom and "History (2 versions)" in dom
    # The page's own script ran under the CSP (a nonce): the live stream opened.
    assert "Live: new messages appear here." in dom
    shot = tmp_path / "chat.png"
    link = login_link(database_url, live_server, user.email)
    headless(f"{link}&next=/chat/{chat.id}", f"--screenshot={shot}", "--window-size=390,1400", "--hide-scrollbars",
             wall_clock_ms=4000)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_a_message_and_a_version_arrive_live_in_the_browser(database_url, live_server, user, story, alice):
    chat = story["chat"]
    link = login_link(database_url, live_server, user.email)
    page = DevTools(f"{link}&next=/chat/{chat.id}")
    try:
        page.wait_for("document.getElementById('live') && document.getElementById('live').textContent")
        arrived = alice.post_message(chat.id, "assistant", "Arrived while you were watching: **SHT31** it is.",
                                     agent={"name": "liveBot", "icon": "⚡"})
        html = page.wait_for(f"document.getElementById('m-{arrived.id}') && "
                             f"document.getElementById('m-{arrived.id}').outerHTML")
        assert "<strong>SHT31</strong>" in str(html) and "liveBot" in str(html)
        # A new version of an artifact replaces its panel; a new artifact appears.
        alice.add_version(story["bom"].id, base_version=2, content_json={"parts": [
            {"name": "SHT31", "designators": ["U2"], "quantity": 1, "unit_price": "4.1", "supplier": "LCSC"}]},
            change_summary="outdoor sensor")
        panel = f"document.getElementById('artifact-{story['bom'].id}').textContent"
        page.wait_for(f"{panel}.includes('bom v3')")
        assert "outdoor sensor" in str(page.evaluate(panel))
        notes = alice.create_artifact(chat.id, "document", "Assembly notes",
                                      content_text="Solder the **header** first.")
        page.wait_for(f"document.getElementById('artifact-{notes.id}') !== null")
        # Clicking the branch switcher shows the other branch.
        page.evaluate("document.querySelector('a[aria-label=\"Previous branch\"]').click()")
        page.wait_for("document.body.textContent.includes('Which sensor for humidity?')")
        assert page.evaluate("document.body.getAttribute('data-pwned')") is None
        # Every form control has a label (keyboard and screen-reader use).
        assert page.evaluate("[...document.querySelectorAll('input:not([type=hidden]), select')]"
                             ".every(e => e.labels && e.labels.length > 0 || e.getAttribute('aria-label'))")
    finally:
        page.close()


def test_a_project_page_with_its_bom_wiring_code_checks_and_exports(database_url, live_server, user, other_user,
                                                                    alice):
    import json
    from pathlib import Path

    design = json.loads((Path(__file__).parent / "data" / "designs" / "hcsr04-echo-into-esp32.json").read_text())
    project = alice.create_project(f"Sonar <i>{uuid.uuid4().hex[:6]}</i>", budget_amount="5")
    chat = alice.create_chat(title="Sonar chat", project_id=project.id)
    for kind, document in (("bom", design["bom"]), ("wiring", design["wiring"]),
                           ("code", {"files": [{"filename": "src/main.cpp", "success_unit": 1,
                                                "content": "void setup() {\n    pinMode(5, OUTPUT);\n}\n"}]})):
        alice.create_artifact(chat.id, kind, kind, content_json=document)
    with session(database_url, live_server, user.email) as browser:
        page = browser.get(f"/projects/{project.id}").text
        assert "Sonar &lt;i&gt;" in page and "(over budget)" in page  # 7.70 USD against 5
        assert "voltage.overvoltage" in page and "U2.ECHO drives 5 V into U1.GPIO18" in page
        assert "HC-SR04" in page and "(100%)" in page  # matched in the catalogue by MPN, and how sure
        assert "    pinMode(5, OUTPUT);" in page and "Success unit 1" in page
        # The exports are links that work from the browser session.
        for link in re.findall(r'href="(/v1/projects/[^"]+)"', page):
            if not link.endswith(".svg"):
                assert browser.get(link.replace("&amp;", "&")).status_code == 200, link
        assert f'href="/chat/{chat.id}"' in page
    with session(database_url, live_server, other_user.email) as bob:
        assert bob.get(f"/projects/{project.id}").status_code == 404
    assert httpx.get(f"{live_server}/projects/{project.id}").status_code == 404


def test_comparing_two_versions_of_a_bom(database_url, live_server, user, other_user, story):
    chat, bom = story["chat"], story["bom"]
    with session(database_url, live_server, user.email) as browser:
        page = browser.get(f"/chat/{chat.id}").text
        assert f'action="/chat/{chat.id}/artifacts/{bom.id}/diff"' in page
        diff = browser.get(f"/chat/{chat.id}/artifacts/{bom.id}/diff", params={"from": 1, "to": 2})
        assert diff.status_code == 200
        # The name changed too, so U2 was replaced: the old name escaped, and the totals before and after.
        assert "<td>replaced</td>" in diff.text and "BME280 &lt;script&gt;" in diff.text
        assert "3.20 USD → 2.90 USD" in diff.text and "<script>document" not in diff.text
        assert browser.get(f"/chat/{chat.id}/artifacts/{bom.id}/diff", params={"from": 1, "to": 9}).status_code == 422
        assert browser.get(f"/chat/{uuid.uuid4()}/artifacts/{bom.id}/diff", params={"from": 1, "to": 2}
                           ).status_code == 404
    with session(database_url, live_server, other_user.email) as bob:
        assert bob.get(f"/chat/{chat.id}/artifacts/{bom.id}/diff", params={"from": 1, "to": 2}).status_code == 404


def test_a_signed_in_visitor_forks_from_the_share_page(database_url, live_server, other_user, story, alice):
    share = alice._http.post(f"/v1/chats/{story['chat'].id}/shares", json={}).json()
    url = f"/share/{share['token']}"
    assert "Fork this chat" not in httpx.get(f"{live_server}{url}").text  # a visitor without a session
    with session(database_url, live_server, other_user.email) as bob:
        page = bob.get(url)
        assert "Fork this chat" in page.text and "form-action 'self'" in page.headers["content-security-policy"]
        assert bob.post(f"{url}/fork", headers={"origin": "https://evil.example"}).status_code == 403
        forked = bob.post(f"{url}/fork", headers={"origin": live_server})
        assert forked.status_code == 303 and forked.headers["location"].startswith("/chat/")
        mine = bob.get(forked.headers["location"])
        assert mine.status_code == 200 and "radiation shield" in mine.text


def test_sign_in_codes_and_tokens_never_reach_the_access_log():
    import logging

    from ohm.api.app import RedactTokens

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/sign-in?code=Secret123&next=/chat/x", "1.1", 303), None)
    RedactTokens().filter(record)
    line = record.getMessage()
    assert "Secret123" not in line and "code=[redacted]&next=/chat/x" in line


@pytest.mark.slow
def test_every_console_page_in_a_browser_runs_no_payload_and_works_from_the_keyboard(database_url, live_server,
                                                                                    user, story, alice):
    chat, bom = story["chat"], story["bom"]
    project = alice.create_project(f"Project {XSS}"[:200])
    alice.update_chat(chat.id, project_id=project.id)
    link = login_link(database_url, live_server, user.email)
    page = DevTools(link)
    try:
        page.wait_for("document.readyState === 'complete' && location.pathname === '/'")
        for path in ("/", "/?q=humidity", f"/chat/{chat.id}", f"/projects/{project.id}",
                     f"/chat/{chat.id}/artifacts/{bom.id}/diff?from=1&to=2", f"/chat/{uuid.uuid4()}", "/sign-in"):
            page.open(f"{live_server}{path}")
            assert page.evaluate("document.body.getAttribute('data-pwned')") is None, path
            assert page.evaluate("document.querySelectorAll('script:not([nonce])').length") == 0, path
            assert page.evaluate("[...document.querySelectorAll('input:not([type=hidden]), select')]"
                                 ".every(e => (e.labels && e.labels.length > 0) || e.getAttribute('aria-label'))"), path
            # The keyboard reaches the navigation first, then the page.
            assert page.press_tab() == "A OHM", path
            assert page.press_tab() == "A Chats", path
        page.open(f"{live_server}/chat/{chat.id}")
        focus = [page.press_tab() for _ in range(12)]
        assert any(f.startswith("A") and "branch" in f.lower() for f in focus) or any("‹" in f for f in focus), focus
    finally:
        page.close()


@pytest.mark.slow
def test_another_users_chat_is_the_404_page_in_a_browser(database_url, live_server, other_user, story):
    link = login_link(database_url, live_server, other_user.email)
    dom = headless(f"{link}&next=/chat/{story['chat'].id}", "--dump-dom")
    assert "<h1>Not found</h1>" in dom and "radiation" not in dom and "Weather station" not in dom
