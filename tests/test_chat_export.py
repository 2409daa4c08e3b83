"""GET /v1/chats/{id}/export: one chat as Markdown, HTML or JSON."""

from __future__ import annotations

import json

from ohm.client import NotFoundError, OhmClient


def test_a_chat_exports_as_markdown_html_and_json(user, other_user, live_server, http):
    with OhmClient(live_server, token=user.token()) as ohm:
        chat = ohm.create_chat(title="Rain gauge <script>alert(1)</script> | *v2*")
        q = ohm.post_message(chat.id, "user", "Which sensor? Ü 🔌")
        first = ohm.post_message(chat.id, "assistant", "A tipping bucket.", agent={"name": "bomGenerator",
                                 "model": "openai/o1"}, intent="BOM")
        ohm.post_message(chat.id, "assistant", "<b>A reed switch</b> on GPIO4.\n\n```cpp\nint x;\n```",
                         parent_id=q.id, agent={"name": "wiringExpert"}, intent="WIRING")
        ohm.create_artifact(chat.id, "code", "Firmware", content_text="void setup() {}\n```\nnot a fence end")
        markdown = ohm.export_chat(chat.id, "md").decode()
        html = ohm.export_chat(chat.id, "html").decode()
        document = json.loads(ohm.export_chat(chat.id, "json"))
        response = http.get(f"/v1/chats/{chat.id}/export", params={"format": "md"},
                            headers={"Authorization": f"Bearer {user.token()}"})
    assert response.headers["content-type"].startswith("text/markdown")
    assert "attachment;" in response.headers["content-disposition"] and ".md" in response.headers["content-disposition"]
    # The active branch (the regeneration), not the answer it replaced; agents, models, intents; the artifact.
    assert "Which sensor? Ü 🔌" in markdown and "A reed switch" in markdown and "A tipping bucket" not in markdown
    assert "### wiringExpert · WIRING" in markdown and "2 messages on the active branch of 3" in markdown
    assert "````\nvoid setup() {}\n```\nnot a fence end\n````" in markdown
    # HTML escapes what the chat holds: no markup of its own gets through.
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>A reed switch</b>" not in html
    assert "<pre><code class=\"language-cpp\">int x;" in html
    # JSON has every branch, with parents, and says which is active.
    ids = {m["id"]: m for m in document["messages"]}
    assert len(ids) == 3 and ids[str(first.id)]["parent_id"] == str(q.id)
    assert document["active_branch"][0] == str(q.id) and str(first.id) not in document["active_branch"]
    assert document["chat"]["artifacts"][0]["title"] == "Firmware"
    # Another user: 404, as for any read of a private chat.
    with OhmClient(live_server, token=other_user.token()) as bob:
        try:
            bob.export_chat(chat.id)
            raise AssertionError("bob read alice's chat")
        except NotFoundError:
            pass
    assert http.get(f"/v1/chats/{chat.id}/export", params={"format": "pdf"},
                    headers={"Authorization": f"Bearer {user.token()}"}).status_code == 422
