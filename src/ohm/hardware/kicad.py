"""KiCad symbol libraries (``.kicad_sym``, KiCad 6 and later) read into pin tables (pure, no I/O).

A ``.kicad_sym`` file is one S-expression: ``(kicad_symbol_lib (symbol "NAME" (property "Reference" "U")
... (symbol "NAME_1_1" (pin input line (at ...) (length ...) (name "SDA" ...) (number "3" ...)) ...)))``.
A symbol may ``(extends "PARENT")``: it has its parent's pins under its own name (KiCad's libraries
describe AMS1117-3.3 as an AP1117-15 with another value).  Pin types are KiCad's electrical types, the
same the checks use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ohm.hardware.model import PIN_TYPES

Sexpr = list[Any]


class KicadError(ValueError):
    pass


def parse(text: str) -> Sexpr:
    """The S-expression of a file: lists of symbols (str) and quoted strings (``Quoted``)."""
    stack: list[Sexpr] = [[]]
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == "(":
            stack.append([])
            i += 1
        elif ch == ")":
            if len(stack) == 1:
                raise KicadError(f"unbalanced ')' at offset {i}")
            done = stack.pop()
            stack[-1].append(done)
            i += 1
        elif ch == '"':
            j, out = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    out.append({"n": "\n", "t": "\t"}.get(text[j + 1], text[j + 1]))
                    j += 2
                else:
                    out.append(text[j])
                    j += 1
            if j >= n:
                raise KicadError(f"unterminated string at offset {i}")
            stack[-1].append(Quoted("".join(out)))
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in ' \t\r\n()"':
                j += 1
            stack[-1].append(text[i:j])
            i = j
    if len(stack) != 1:
        raise KicadError("unbalanced '(': the file ends inside an expression")
    return stack[0]


class Quoted(str):
    """A string that was quoted in the file (a name, a value), not a keyword."""


def _head(node: Any) -> str | None:
    return node[0] if isinstance(node, list) and node and isinstance(node[0], str) else None


def _children(node: Sexpr, head: str) -> list[Sexpr]:
    return [c for c in node[1:] if _head(c) == head]


def _text(node: Sexpr | None, index: int = 1) -> str | None:
    if node is None or len(node) <= index:
        return None
    value = node[index]
    return str(value) if isinstance(value, str) else None


@dataclass
class LibrarySymbol:
    library: str
    name: str
    reference: str | None = None
    description: str | None = None
    keywords: str | None = None
    datasheet: str | None = None
    extends: str | None = None
    pins: list[dict[str, str]] = field(default_factory=list)  # {number, name, type}


def symbols(text: str, library: str) -> list[LibrarySymbol]:
    """The symbols of one ``.kicad_sym`` file, derived ones with their parent's pins."""
    tree = parse(text)
    root = next((node for node in tree if _head(node) == "kicad_symbol_lib"), None)
    if root is None:
        raise KicadError("not a KiCad symbol library (no kicad_symbol_lib)")
    found: dict[str, LibrarySymbol] = {}
    for node in _children(root, "symbol"):
        name = _text(node)
        if not name:
            continue
        properties = {str(p[1]): str(p[2]) for p in _children(node, "property") if len(p) > 2}
        extends = next((_text(e) for e in _children(node, "extends")), None)
        symbol = LibrarySymbol(
            library=library, name=name, reference=properties.get("Reference"),
            description=properties.get("Description") or properties.get("ki_description"),
            keywords=properties.get("ki_keywords"), datasheet=_clean(properties.get("Datasheet")), extends=extends)
        seen: set[tuple[str, str]] = set()
        for unit in [node, *_children(node, "symbol")]:
            for pin in _children(unit, "pin"):
                kind = _text(pin)
                pin_name = next((_text(x) for x in _children(pin, "name")), None) or ""
                number = next((_text(x) for x in _children(pin, "number")), None) or ""
                if kind not in PIN_TYPES or (number, pin_name) in seen:
                    continue
                seen.add((number, pin_name))
                symbol.pins.append({"number": number, "name": pin_name if pin_name != "~" else number,
                                    "type": kind})
        found[name] = symbol
    for symbol in found.values():
        parent, hops = symbol, 0
        while not symbol.pins and parent.extends and parent.extends in found and hops < 10:
            parent = found[parent.extends]
            symbol.pins = list(parent.pins)
            symbol.reference = symbol.reference or parent.reference
            hops += 1
    return [s for s in found.values() if s.pins]


def _clean(url: str | None) -> str | None:
    return url if url and url not in ("~", "") else None
