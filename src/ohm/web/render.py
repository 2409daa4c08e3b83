"""Turning stored content into safe HTML: markdown without raw HTML, BOM tables."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from ohm.hardware.diff import bom_totals

# CommonMark with tables; raw HTML in messages is shown as text, and links are
# checked by markdown-it (javascript:, vbscript:, file: and data: other than
# images are refused).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def markdown(text: str | None) -> Markup:
    return Markup(_markdown.render(text or ""))


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
