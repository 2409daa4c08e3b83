"""Turning stored content into safe HTML: markdown without raw HTML, BOM tables."""

from __future__ import annotations

import time
from datetime import UTC
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from ohm.hardware.diff import bom_totals

# CommonMark with tables; raw HTML in messages is shown as text, and links are
# checked by markdown-it (javascript:, vbscript:, file: and data: other than
# images are refused).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def markdown(text: str | None) -> Markup:
    return Markup(_markdown.render(text or ""))


MARKDOWN_BYTES = 32 * 1024  # a text longer than this is shown as plain text
SHOWN_BYTES = 64 * 1024  # ... and cut here
PAGE_SECONDS = 0.25  # Markdown time per page; what comes after is shown as plain text


class BudgetedMarkdown:
    """Markdown for a page with a bound on its CPU time.

    markdown-it is pure Python: ordinary text renders at ~20 MB/s, but crafted text (a megabyte of
    `[` or of nested list markers) takes ~10 µs per byte.  So a text is rendered as Markdown only when it
    is at most 32 KiB and the page has used less than 0.25 s on Markdown so far; otherwise it is shown as
    escaped plain text (cut at 64 KiB, with how much more there is).  A page then costs at most the
    budget plus one 32 KiB text (~0.35 s on the worst input), off the event loop."""

    def __init__(self, seconds: float = PAGE_SECONDS) -> None:
        self.seconds = seconds
        self.spent = 0.0

    def __call__(self, text: str | None) -> Markup:
        text = text or ""
        if len(text) <= MARKDOWN_BYTES and self.spent < self.seconds:
            started = time.perf_counter()
            try:
                return markdown(text)
            finally:
                self.spent += time.perf_counter() - started
        shown = text[:SHOWN_BYTES]
        more = len(text) - len(shown)
        note = Markup(f'<p class="meta">… {more:,} more characters (the full text is in the share\'s JSON)</p>') \
            if more else Markup("")
        return Markup('<pre class="plain">') + escape(shown) + Markup("</pre>") + note


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def bom_rows(content_json: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Lines of a BOM (with line totals) and its totals per currency."""
    parts = content_json.get("parts", []) if isinstance(content_json, dict) else []
    parts = [p for p in parts if isinstance(p, dict)]
    rows = []
    for p in parts:
        price = _money(p.get("unit_price"))
        quantity = p.get("quantity") or 1
        rows.append({
            "designators": ", ".join(str(d) for d in p.get("designators") or []),
            "name": p.get("name", ""), "mpn": p.get("mpn") or "", "quantity": quantity,
            "unit_price": f"{price:.2f}" if price is not None else "",
            "line_total": f"{price * int(quantity):.2f}" if price is not None and str(quantity).isdigit() else "",
            "currency": p.get("currency") or "USD", "supplier": p.get("supplier") or "",
        })
    return rows, bom_totals(parts)


@cache
def environment() -> jinja2.Environment:
    """The pages' templates, as the app and the worker processes (ohm.offload) both load them."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=jinja2.select_autoescape())
    env.globals.update(render_markdown=markdown, bom_rows=bom_rows)
    env.filters["utc"] = lambda moment: moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return env


def share_html(text: str, attachments: list[dict[str, Any]], signing_secret: str | None, after: int) -> str:
    """The share page from ``read_share_raw``'s parts (run in a worker process: the snapshot parsed there,
    Markdown under its budget, everything else escaped)."""
    from ohm.store.shares import assemble

    snapshot = assemble(text, attachments, signing_secret)
    return environment().get_template("share.html").render(snapshot=snapshot, after=after, md=BudgetedMarkdown())
