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
from ohm.models import no_key

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

    def render(self, text: str) -> Markup:
        return markdown(text)

    def __call__(self, text: str | None) -> Markup:
        text = text or ""
        if len(text) <= MARKDOWN_BYTES and self.spent < self.seconds:
            started = time.perf_counter()
            try:
                return self.render(text)
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


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def code_files(content_json: Any) -> list[dict[str, Any]]:
    """The files of a code document, in order, each with its name and success unit (shown as monospace)."""
    files = content_json.get("files", []) if isinstance(content_json, dict) else []
    return [{"filename": str(f.get("filename") or "(unnamed)"), "content": str(f.get("content") or ""),
             "unit": f.get("success_unit"), "board": f.get("board"), "platform": f.get("platform")}
            for f in files if isinstance(f, dict)]


# IEC 60757 wire colour codes as swatch colours.
SWATCHES = {"BK": "#000000", "BN": "#8b4513", "RD": "#e00000", "OG": "#ff8c00", "YE": "#ffd700",
            "GN": "#008000", "BU": "#0050c8", "VT": "#8000c0", "GY": "#808080", "WH": "#ffffff",
            "PK": "#ff69b4", "GD": "#d4af37", "TQ": "#40e0d0", "SR": "#c0c0c0"}


def swatch(colour: Any) -> str | None:
    """A CSS background for a wire colour ('RD', 'GNYE' striped, '#rrggbb'), or None if it is not one."""
    from ohm.hardware.checks import colour_code

    code = colour_code(colour) if isinstance(colour, str) else None
    if code is None:
        return None
    if code.startswith("#"):
        return code
    shades = [SWATCHES[code[i:i + 2]] for i in range(0, len(code), 2)]
    return shades[0] if len(shades) == 1 else f"linear-gradient(90deg, {', '.join(shades)})"


def wiring_rows(content_json: Any, bom_json: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """The connections as written (their order and step numbers), each with its swatch and the findings
    about it, and the findings of the wiring against the BOM shown with it."""
    from ohm.hardware.documents import check_documents

    connections = content_json.get("connections", []) if isinstance(content_json, dict) else []
    findings: list[Any] = []
    if isinstance(bom_json, dict):
        try:
            findings = [f for f in check_documents(bom_json, content_json) if not f.rule.startswith(("bom.", "code."))]
        except ValueError:
            findings = []  # a document that does not fit its shape: the wires are still shown
    by_wire: dict[int, list[str]] = {}
    for f in findings:
        for position in f.connections:
            by_wire.setdefault(position, []).append(f.message)
    rows = []
    for i, c in enumerate(connections):
        if not isinstance(c, dict):
            continue
        ends: list[dict[str, Any]] = [end if isinstance(end := c.get(side), dict) else {} for side in ("from", "to")]
        rows.append({"step": c.get("step"), "from": f"{ends[0].get('part', '?')}.{ends[0].get('pin', '?')}",
                     "to": f"{ends[1].get('part', '?')}.{ends[1].get('pin', '?')}", "colour": c.get("wire_color"),
                     "swatch": swatch(c.get("wire_color")), "voltage": c.get("voltage"),
                     "instruction": c.get("instruction"), "findings": by_wire.get(i, [])})
    return rows, [f for f in findings if f.severity in ("error", "warning")]


@cache
def environment() -> jinja2.Environment:
    """The pages' templates, as the app and the worker processes (ohm.offload) both load them."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=jinja2.select_autoescape())
    env.globals.update(render_markdown=markdown, bom_rows=bom_rows, code_files=code_files, wiring_rows=wiring_rows,
                       plural=plural, swatch=swatch, no_key=no_key)
    env.filters["utc"] = lambda moment: moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return env


@cache
def _lexer(language: str) -> Any:
    """A Pygments lexer per language, made once (making one costs more than highlighting a short block)."""
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False)
    except ClassNotFound:
        return None


@cache
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)




@cache
def pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return str(HtmlFormatter(style="friendly").get_style_defs(".body pre code, pre.code code"))


HIGHLIGHT_SECONDS = 0.03  # Pygments time per page; later code blocks are plain monospace


class ConsoleMarkdown(BudgetedMarkdown):
    """The console's Markdown: as the share page's (no raw HTML, a CPU budget per page), and fenced code in
    Pygments' colours while the page's highlighting budget lasts (Pygments takes ~0.35 ms for a short
    block: a page of 100 messages with code in each would spend 35 ms on colour alone)."""

    def __init__(self, seconds: float = PAGE_SECONDS, highlight_seconds: float = HIGHLIGHT_SECONDS) -> None:
        super().__init__(seconds)
        self.highlight_seconds = highlight_seconds
        self.highlight_spent = 0.0
        self._renderer = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                                   "highlight": self._highlight}).enable("table")

    def render(self, text: str) -> Markup:
        return Markup(self._renderer.render(text))

    def _highlight(self, code: str, language: str, _attrs: Any) -> str:
        """Unknown or unnamed languages, code over 64 KiB, and code past the budget: "" (markdown-it then
        writes it escaped, uncoloured)."""
        from pygments import highlight

        if self.highlight_spent >= self.highlight_seconds or not language or len(language) > 40 or len(code) > 65536:
            return ""
        lexer = _lexer(language.strip().lower())
        if lexer is None:
            return ""
        started = time.perf_counter()
        try:
            return str(highlight(code, lexer, _formatter()))
        finally:
            self.highlight_spent += time.perf_counter() - started


def console_html(template: str, context: dict[str, Any]) -> str:
    """A console page (in a worker process: Markdown and highlighting are CPU work)."""
    return environment().get_template(template).render(**context, md=ConsoleMarkdown(), pygments_css=pygments_css())


def share_html(text: str, attachments: list[dict[str, Any]], signing_secret: str | None, after: int,
               fork_token: str | None = None) -> str:
    """The share page from ``read_share_raw``'s parts (run in a worker process: the snapshot parsed there,
    Markdown under its budget, everything else escaped)."""
    from ohm.store.shares import assemble

    snapshot = assemble(text, attachments, signing_secret)
    return environment().get_template("share.html").render(snapshot=snapshot, after=after, md=BudgetedMarkdown(),
                                                           fork_token=fork_token)
