"""Comparing two artifact versions: unified text diffs, structured JSON diffs, part-level BOM diffs."""

from __future__ import annotations

import bisect
import difflib
from collections import Counter
from decimal import Decimal
from typing import Any

MISSING = object()

# difflib aligns two sequences in time that grows with the product of their lengths in bad cases (25,000
# lines with every third one changed: 27 s).  Larger stretches are first cut at their unique common lines
# (patience diff); difflib only sees what lies between, and a stretch still too large is shown as
# removed-then-added, correct if not minimal.
SMALL_PRODUCT = 250_000


def text_diff(old: str | None, new: str | None, old_label: str, new_label: str) -> str:
    """A unified diff (3 lines of context) of two texts, in time about linear in their lines."""
    a, b = (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True)
    matcher = _Aligned(a, b)
    lines: list[Any] = []
    for group in matcher.get_grouped_opcodes(3):
        first, last = group[0], group[-1]
        if not lines:
            lines += [f"--- {old_label}\n", f"+++ {new_label}\n"]
        lines.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + line for line in a[i1:i2]]
                continue
            lines += ["-" + line for line in a[i1:i2]]
            lines += ["+" + line for line in b[j1:j2]]
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines) \
        if any(not line.endswith("\n") for line in lines) else "".join(lines)


def _range(start: int, stop: int) -> str:
    """A hunk's range as unified diffs write it (difflib's _format_range_unified)."""
    beginning, length = start + 1, stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


class _Aligned(difflib.SequenceMatcher):
    """A SequenceMatcher whose opcodes come from ``_align`` (difflib groups them into hunks)."""

    def __init__(self, a: list[str], b: list[str]) -> None:
        super().__init__(None, a, b, autojunk=False)
        ops: list[list[Any]] = []
        _align(a, b, 0, len(a), 0, len(b), ops, 0)
        merged: list[tuple[Any, int, int, int, int]] = []
        for tag, i1, i2, j1, j2 in ops:
            if merged and merged[-1][0] == tag:
                merged[-1] = (tag, merged[-1][1], i2, merged[-1][3], j2)
            else:
                merged.append((tag, i1, i2, j1, j2))
        self.opcodes = merged or [("equal", 0, 0, 0, 0)]

    def set_seq2(self, b: Any) -> None:  # no index of b: the alignment is made above
        self.b = b

    def get_opcodes(self) -> list[tuple[Any, int, int, int, int]]:
        return self.opcodes


def _align(a: list[str], b: list[str], alo: int, ahi: int, blo: int, bhi: int, ops: list[list[Any]],
           depth: int) -> None:
    while alo < ahi and blo < bhi and a[alo] == b[blo]:
        ops.append(["equal", alo, alo + 1, blo, blo + 1])
        alo, blo = alo + 1, blo + 1
    tail = []
    while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
        tail.append(["equal", ahi - 1, ahi, bhi - 1, bhi])
        ahi, bhi = ahi - 1, bhi - 1
    if alo == ahi or blo == bhi:
        if alo < ahi:
            ops.append(["delete", alo, ahi, blo, blo])
        if blo < bhi:
            ops.append(["insert", alo, alo, blo, bhi])
    elif (ahi - alo) * (bhi - blo) <= SMALL_PRODUCT:
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False).get_opcodes():
            ops.append([tag, alo + i1, alo + i2, blo + j1, blo + j2])
    else:
        anchors = _anchors(a, b, alo, ahi, blo, bhi) if depth < 16 else []
        if not anchors:
            ops.append(["delete", alo, ahi, blo, blo])
            ops.append(["insert", ahi, ahi, blo, bhi])
        else:
            i, j = alo, blo
            for ai, bj in anchors:
                _align(a, b, i, ai, j, bj, ops, depth + 1)
                ops.append(["equal", ai, ai + 1, bj, bj + 1])
                i, j = ai + 1, bj + 1
            _align(a, b, i, ahi, j, bhi, ops, depth + 1)
    ops.extend(reversed(tail))


def _anchors(a: list[str], b: list[str], alo: int, ahi: int, blo: int, bhi: int) -> list[tuple[int, int]]:
    """Lines that occur once on each side, in an order both sides agree on (longest increasing run)."""
    count_a, count_b = Counter(a[alo:ahi]), Counter(b[blo:bhi])
    where_b = {line: j for j, line in enumerate(b[blo:bhi], blo) if count_b[line] == 1}
    pairs = [(i, where_b[line]) for i, line in enumerate(a[alo:ahi], alo)
             if count_a[line] == 1 and line in where_b]
    # Longest increasing subsequence of the b positions (patience sorting), with back links.
    tops: list[int] = []
    top_index: list[int] = []
    back = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pile = bisect.bisect_left(tops, j)
        if pile == len(tops):
            tops.append(j)
            top_index.append(k)
        else:
            tops[pile], top_index[pile] = j, k
        back[k] = top_index[pile - 1] if pile else -1
    run, k = [], top_index[-1] if top_index else -1
    while k != -1:
        run.append(pairs[k])
        k = back[k]
    return run[::-1]


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
    # A removed part and an added part in the same designator are a replacement. Matched through an index
    # of the added parts' designators: linear in the parts, not removed x added (6,000 against 6,000 took
    # 7.7 s that way).
    by_spot: dict[str, list[int]] = {}
    for i, new in enumerate(added):
        for spot in new.get("designators") or []:
            by_spot.setdefault(str(spot), []).append(i)
    taken: set[int] = set()
    replaced, still_removed = [], []
    for old in removed:
        spots = {str(spot) for spot in old.get("designators") or []}
        match = min((i for spot in spots for i in by_spot.get(spot, ()) if i not in taken), default=None)
        if match is None:
            still_removed.append(old)
            continue
        taken.add(match)
        replaced.append({"designators": sorted(spots | {str(d) for d in added[match].get("designators") or []}),
                         "old": old, "new": added[match]})
    removed = still_removed
    added = [new for i, new in enumerate(added) if i not in taken]
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
