"""Comparing two artifact versions: unified text diffs, structured JSON diffs, part-level BOM diffs."""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import Any

MISSING = object()


def text_diff(old: str | None, new: str | None, old_label: str, new_label: str) -> str:
    return "".join(difflib.unified_diff(
        (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
        fromfile=old_label, tofile=new_label,
    ))


def _pointer(path: list[str | int]) -> str:
    """RFC 6901 JSON Pointer."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def json_diff(old: Any, new: Any) -> list[dict[str, Any]]:
    """Added, removed and changed paths (JSON Pointers) with old and new values; arrays by index."""
    changes: list[dict[str, Any]] = []

    def walk(a: Any, b: Any, path: list[str | int]) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in a.keys() | b.keys():
                walk(a.get(key, MISSING), b.get(key, MISSING), [*path, key])
        elif isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                walk(a[i] if i < len(a) else MISSING, b[i] if i < len(b) else MISSING, [*path, i])
        elif a is MISSING:
            changes.append({"op": "added", "path": _pointer(path), "new": b})
        elif b is MISSING:
            changes.append({"op": "removed", "path": _pointer(path), "old": a})
        elif a != b or type(a) is not type(b):
            changes.append({"op": "changed", "path": _pointer(path), "old": a, "new": b})

    walk(old, new, [])
    changes.sort(key=lambda c: c["path"])
    return changes


def _key(part: dict[str, Any]) -> str:
    mpn = (part.get("mpn") or "").strip().upper()
    return mpn or "name:" + str(part.get("name", "")).strip().lower()


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def bom_totals(parts: list[dict[str, Any]]) -> dict[str, str]:
    """Line totals (quantity x unit price) summed per currency; parts without a price count zero."""
    totals: dict[str, Decimal] = {}
    for part in parts:
        price = _money(part.get("unit_price"))
        currency = part.get("currency") or "USD"
        totals[currency] = totals.get(currency, Decimal(0)) + (price or 0) * int(part.get("quantity") or 1)
    return {currency: f"{amount.quantize(Decimal('0.01'))}" for currency, amount in sorted(totals.items())}


def bom_diff(old_parts: list[dict[str, Any]], new_parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Parts added, removed, replaced (another part in the same designator) and changed (quantity, price)."""
    old_by_key = {_key(p): p for p in old_parts}
    new_by_key = {_key(p): p for p in new_parts}
    changed = []
    for key in old_by_key.keys() & new_by_key.keys():
        a, b = old_by_key[key], new_by_key[key]
        fields = {}
        for field in ("quantity", "unit_price", "currency", "supplier", "designators"):
            va, vb = a.get(field), b.get(field)
            if field == "unit_price":
                va, vb = _money(va), _money(vb)
            if va != vb:
                fields[field] = {"old": _plain(va), "new": _plain(vb)}
        if fields:
            changed.append({"part": b.get("name"), "mpn": b.get("mpn"), "changes": fields})
    removed = [old_by_key[k] for k in old_by_key.keys() - new_by_key.keys()]
    added = [new_by_key[k] for k in new_by_key.keys() - old_by_key.keys()]
    replaced = []
    for old in list(removed):
        spots = set(old.get("designators") or [])
        if not spots:
            continue
        match = next((new for new in added if spots & set(new.get("designators") or [])), None)
        if match is not None:
            replaced.append({"designators": sorted(spots | set(match.get("designators") or [])),
                             "old": old, "new": match})
            removed.remove(old)
            added.remove(match)
    order = {k: i for i, k in enumerate([_key(p) for p in old_parts] + [_key(p) for p in new_parts])}
    return {
        "added": sorted(added, key=lambda p: order[_key(p)]),
        "removed": sorted(removed, key=lambda p: order[_key(p)]),
        "replaced": sorted(replaced, key=lambda r: r["designators"]),
        "changed": sorted(changed, key=lambda c: str(c["mpn"] or c["part"])),
        "total_before": bom_totals(old_parts),
        "total_after": bom_totals(new_parts),
    }


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
