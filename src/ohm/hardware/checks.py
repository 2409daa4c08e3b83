"""Electrical and maker checks over a project's BOM, wiring and firmware (pure functions, no I/O).

Each rule returns findings: a rule code, a severity (error, warning, info), a
message, and the parts / pins / wires involved.  ``run_checks`` runs them all.
The rule codes are stable and documented in docs/hardware.md.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ohm.hardware.model import (
    DRIVERS,
    PIN_TYPES,
    SIGNAL_INPUTS,
    STRONG_DRIVERS,
    Finding,
    Part,
    Pin,
    SourceFile,
    Wire,
    number,
    part_finder,
    voltage_range,
)

# --- KiCad's ERC pin-to-pin matrix (eeschema ERC_SETTINGS default pin map) ----------------------------------

OK, WAR, ERR = 0, 1, 2
_MATRIX = [
    # I    O    Bi   3S   Pas  NIC  UnS  PwrI PwrO OC   OE   NC
    [OK,  OK,  OK,  OK,  OK,  OK,  WAR, OK,  OK,  OK,  OK,  ERR],  # input
    [OK,  ERR, OK,  WAR, OK,  OK,  WAR, OK,  ERR, ERR, ERR, ERR],  # output
    [OK,  OK,  OK,  OK,  OK,  OK,  WAR, OK,  WAR, OK,  WAR, ERR],  # bidirectional
    [OK,  WAR, OK,  OK,  OK,  OK,  WAR, WAR, ERR, WAR, WAR, ERR],  # tri_state
    [OK,  OK,  OK,  OK,  OK,  OK,  WAR, OK,  OK,  OK,  OK,  ERR],  # passive
    [OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK,  ERR],  # free
    [WAR, WAR, WAR, WAR, WAR, OK,  WAR, WAR, WAR, WAR, WAR, ERR],  # unspecified
    [OK,  OK,  OK,  WAR, OK,  OK,  WAR, OK,  OK,  OK,  OK,  ERR],  # power_in
    [OK,  ERR, WAR, ERR, OK,  OK,  WAR, OK,  ERR, ERR, ERR, ERR],  # power_out
    [OK,  ERR, OK,  WAR, OK,  OK,  WAR, OK,  ERR, OK,  OK,  ERR],  # open_collector
    [OK,  ERR, WAR, WAR, OK,  OK,  WAR, OK,  ERR, OK,  OK,  ERR],  # open_emitter
    [ERR, ERR, ERR, ERR, ERR, ERR, ERR, ERR, ERR, ERR, ERR, ERR],  # no_connect
]


def erc_level(a: str, b: str) -> int:
    return _MATRIX[PIN_TYPES.index(a)][PIN_TYPES.index(b)]


# --- wire colours (IEC 60757) --------------------------------------------------------------------------------

IEC_COLOURS = {"BK": "black", "BN": "brown", "RD": "red", "OG": "orange", "YE": "yellow", "GN": "green",
               "BU": "blue", "VT": "violet", "GY": "grey", "WH": "white", "PK": "pink", "GD": "gold",
               "TQ": "turquoise", "SR": "silver"}
COLOUR_NAMES = {name: code for code, name in IEC_COLOURS.items()} | {"gray": "GY", "purple": "VT"}
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def colour_code(value: str | None) -> str | None:
    """The IEC 60757 code(s) of a colour ('RD', 'GNYE' for a striped wire) or '#rrggbb'; None if invalid."""
    if value is None:
        return None
    text = value.strip()
    if HEX_COLOUR.match(text):
        return text.lower()
    upper = text.upper()
    if len(upper) in (2, 4, 6) and all(upper[i:i + 2] in IEC_COLOURS for i in range(0, len(upper), 2)):
        return upper
    return None


# --- BOM ---------------------------------------------------------------------------------------------------------

LIFECYCLE_SEVERITY = {"obsolete": "error", "eol": "warning", "nrnd": "warning"}


def check_bom(parts: list[Part], budget: Decimal | None = None, budget_currency: str = "USD") -> list[Finding]:
    findings: list[Finding] = []
    seen: dict[str, str] = {}
    for part in parts:
        if part.designators and len(part.designators) != part.quantity:
            findings.append(Finding(
                "bom.quantity_designators", "warning",
                f"{part.name}: quantity {part.quantity} but {len(part.designators)} designator(s) "
                f"({', '.join(part.designators)})", parts=[part.ref]))
        for designator in part.designators:
            key = designator.upper()
            if key in seen:
                findings.append(Finding("bom.duplicate_designator", "error",
                                        f"designator {designator} is used by {seen[key]} and {part.name}",
                                        parts=[designator]))
            else:
                seen[key] = part.name
        if part.unit_price is None:
            findings.append(Finding("bom.missing_price", "warning", f"{part.name} has no unit price",
                                    parts=[part.ref]))
        if not part.supplier:
            findings.append(Finding("bom.missing_supplier", "warning", f"{part.name} has no supplier",
                                    parts=[part.ref]))
        severity = LIFECYCLE_SEVERITY.get(part.lifecycle)
        if severity:
            findings.append(Finding("bom.lifecycle", severity,
                                    f"{part.name} is {part.lifecycle.upper()}: find a replacement",
                                    parts=[part.ref]))
        findings.extend(_check_alternatives(part))
    if budget is not None:
        totals = bom_totals(parts)
        total = totals.get(budget_currency)
        others = sorted(c for c in totals if c != budget_currency)
        if total is not None and total > budget:
            findings.append(Finding("bom.over_budget", "error",
                                    f"the BOM costs {total:.2f} {budget_currency}, over the budget of "
                                    f"{budget:.2f} {budget_currency}"))
        if others:
            findings.append(Finding("bom.currency", "info",
                                    f"prices in {', '.join(others)} are not counted against the budget in "
                                    f"{budget_currency}"))
    return findings


def bom_totals(parts: Iterable[Part]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for part in parts:
        if part.line_total is not None:
            totals[part.currency] = totals.get(part.currency, Decimal(0)) + part.line_total
    return totals


def _alt_specs(alternative: dict) -> dict:
    specs = alternative.get("specs")
    return specs if isinstance(specs, dict) else alternative


def _check_alternatives(part: Part) -> list[Finding]:
    findings = []
    main_range = part.supply_range
    main_count = part.pin_count()
    main_names = {str(p.get("name")).upper() for p in part.specs.get("pins", []) if isinstance(p, dict)} \
        if isinstance(part.specs.get("pins"), list) else set()
    for alternative in part.alternatives:
        if not isinstance(alternative, dict):
            continue
        label = alternative.get("mpn") or alternative.get("name") or "an alternative"
        specs = _alt_specs(alternative)
        problems = []
        if alternative.get("compatible") is False:
            problems.append("it is marked not compatible")
        alt_range = voltage_range(specs.get("supply_voltage")) if specs.get("supply_voltage") is not None else None
        if main_range and alt_range and not (alt_range[0] <= main_range[0] and main_range[1] <= alt_range[1]):
            if alt_range[1] < main_range[0] or main_range[1] < alt_range[0]:
                problems.append(f"its supply range {_range(alt_range)} does not overlap {_range(main_range)}")
            else:
                problems.append(f"its supply range {_range(alt_range)} does not cover {_range(main_range)}")
        alt_pins = specs.get("pins")
        alt_count = alt_pins if isinstance(alt_pins, int) and not isinstance(alt_pins, bool) else (
            len(alt_pins) if isinstance(alt_pins, list) else None)
        if main_count is not None and alt_count is not None and alt_count != main_count:
            problems.append(f"it has {alt_count} pins, not {main_count}")
        if main_names and isinstance(alt_pins, list):
            alt_names = {str(p.get("name")).upper() for p in alt_pins if isinstance(p, dict)}
            missing = sorted(main_names - alt_names)
            if missing and alt_count == main_count:
                problems.append(f"pins {', '.join(missing)} are missing or renamed")
        if problems:
            findings.append(Finding("bom.incompatible_alternative", "warning",
                                    f"{label} as an alternative to {part.name}: {'; '.join(problems)}",
                                    parts=[part.ref]))
    return findings


def _range(r: tuple[float, float]) -> str:
    return f"{_v(r[0])}–{_v(r[1])} V" if r[0] != r[1] else f"{_v(r[0])} V"


def _v(value: float) -> str:
    return f"{value:g}"


# --- nets -------------------------------------------------------------------------------------------------------


@dataclass
class Endpoint:
    part: Part
    pin_name: str
    pin: Pin | None  # None: the pin is not known
    ref: str = ""    # the designator the wire used (a BOM line can hold several: D1, D2)

    @property
    def label(self) -> str:
        return f"{self.ref or self.part.ref}.{self.pin.name if self.pin else self.pin_name}"

    @property
    def type(self) -> str | None:
        return self.pin.type if self.pin is not None else None

    @property
    def is_ground(self) -> bool:
        return self.pin is not None and self.pin.is_ground


@dataclass
class Typed:
    """An endpoint whose pin and electrical type are known."""
    end: Endpoint
    pin: Pin
    type: str

    @property
    def part(self) -> Part:
        return self.end.part

    @property
    def label(self) -> str:
        return self.end.label

    @property
    def ref(self) -> str:
        return self.end.ref or self.end.part.ref


@dataclass
class Net:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    wires: list[Wire] = field(default_factory=list)
    _typed: list[Typed] | None = field(default=None, repr=False, compare=False)

    def typed(self) -> list[Typed]:
        """The endpoints with a known pin type (made once: every rule asks; the net is complete by then)."""
        if self._typed is None:
            self._typed = [Typed(e, e.pin, e.pin.type) for e in self.endpoints.values()
                           if e.pin is not None and e.pin.type is not None]
        return self._typed

    @property
    def fully_typed(self) -> bool:
        return all(e.pin is not None and e.pin.type is not None for e in self.endpoints.values())

    @property
    def wire_positions(self) -> list[int]:
        return sorted({w.position for w in self.wires})

    @property
    def is_ground(self) -> bool:
        return any(e.is_ground for e in self.endpoints.values()) or (
            bool(self.wires) and all(w.voltage == 0 for w in self.wires))

    def parts(self) -> set[int]:
        return {id(e.part) for e in self.endpoints.values()}

    @property
    def declared_voltage(self) -> float | None:
        """The highest voltage a wire of this net is marked with (what the agent says it carries)."""
        marked = [w.voltage for w in self.wires if w.voltage is not None]
        return max(marked) if marked else None


def _is_source(t: Typed, others_drive: bool) -> bool:
    """A power output; a board's USB / 5 V rail pin counts as one only where nothing else supplies the net."""
    return t.type == "power_out" and not t.pin.is_ground and (not t.pin.rail or not others_drive)


@dataclass
class Circuit:
    parts: list[Part]
    wires: list[Wire]
    nets: list[Net]
    findings: list[Finding]
    net_of: dict[str, Net]
    ends: dict[int, list[tuple[Endpoint, Net]]] = field(default_factory=dict)  # part id -> its wired ends
    _sources: dict[int, list[Typed]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for net in self.nets:
            for e in net.endpoints.values():
                self.ends.setdefault(id(e.part), []).append((e, net))

    def sources(self, net: Net) -> list[Typed]:
        """The net's power sources (worked out once per net: several rules ask)."""
        found = self._sources.get(id(net))
        if found is None:
            typed = net.typed()
            fixed = any(t.type == "power_out" and not t.pin.rail and not t.pin.is_ground for t in typed)
            found = self._sources[id(net)] = [t for t in typed if _is_source(t, fixed)]
        return found

    def rail_voltage(self, net: Net) -> float | None:
        """The voltage a supply net carries: its power outputs, else what the wires say."""
        levels = [t.pin.voltage for t in self.sources(net) if t.pin.voltage is not None]
        if levels:
            return max(levels)
        return net.declared_voltage

    def supply_of(self, part: Part) -> float | None:
        """The voltage a part is powered at (its non-ground power inputs' net)."""
        levels = []
        for e, net in self.ends.get(id(part), ()):
            if e.pin is not None and e.pin.type == "power_in" and not e.pin.is_ground:
                level = self.rail_voltage(net)
                if level is not None:
                    levels.append(level)
        return max(levels) if levels else None

    def drive_level(self, t: Typed) -> float | None:
        pin = t.pin
        if t.type not in DRIVERS or pin.is_ground:
            return None
        if pin.follows_supply:
            return self.supply_of(t.part)
        if pin.voltage is not None:
            return pin.voltage
        if t.type == "power_out":
            return None
        return t.part.logic_voltage

    def used_pins(self, part: Part) -> set[str]:
        return {e.pin.name.upper() for e, _ in self.ends.get(id(part), ()) if e.pin is not None}


def build_circuit(parts: list[Part], wires: list[Wire]) -> Circuit:
    """Resolve each wire's ends to BOM parts and pins and join them into nets."""
    findings: list[Finding] = []
    parent: dict[str, str] = {}
    endpoints: dict[str, Endpoint] = {}
    pin_tables = {id(p): p.pins() for p in parts}
    find_part = part_finder(parts)

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def endpoint(wire: Wire, part_ref: str, pin_name: str) -> str | None:
        part = find_part(part_ref)
        if part is None:
            findings.append(Finding("wiring.unknown_part", "error",
                                    f"wire {wire.label}: {part_ref} is not a part of the BOM",
                                    parts=[part_ref], connections=[wire.position]))
            return None
        used = part_ref.strip()
        ref = next((d for d in part.designators if d.upper() == used.upper()), part.ref)
        table = pin_tables[id(part)]
        pin = table.get(pin_name.strip().upper()) if table else None
        if table is not None and pin is None:
            agent_said = bool(part.specs.get("pins")) or bool(part.pinout)
            known = part.known.title if part.known else part.name
            findings.append(Finding(
                "wiring.unknown_pin", "error" if agent_said else "warning",
                f"wire {wire.label}: {ref} ({part.name}) has no pin {pin_name}"
                + ("" if agent_said else f" (not one OHM knows for {known}: check the name)"),
                parts=[ref], pins=[f"{ref}.{pin_name}"], connections=[wire.position]))
            if agent_said:
                return None
        key = f"{ref.upper()}.{(pin.name if pin else pin_name.strip()).upper()}"
        endpoints.setdefault(key, Endpoint(part, pin_name, pin, ref))
        parent.setdefault(key, key)
        return key

    wire_ends: list[tuple[Wire, str | None]] = []
    for wire in wires:
        code = colour_code(wire.wire_color)
        if wire.wire_color is not None and code is None:
            hint = COLOUR_NAMES.get(wire.wire_color.strip().lower())
            findings.append(Finding(
                "wiring.wire_colour", "warning",
                f"wire {wire.label}: colour {wire.wire_color!r} is not an IEC 60757 code or #rrggbb"
                + (f" (use {hint})" if hint else ""), connections=[wire.position]))
        a = endpoint(wire, wire.from_part, wire.from_pin)
        b = endpoint(wire, wire.to_part, wire.to_pin)
        if a and b:
            parent[find(a)] = find(b)
        wire_ends.append((wire, a or b))
    groups: dict[str, Net] = defaultdict(Net)
    for key, e in endpoints.items():
        groups[find(key)].endpoints[key] = e
    for wire, end in wire_ends:
        if end is not None:
            groups[find(end)].wires.append(wire)
    nets = list(groups.values())
    net_of = {key: net for net in nets for key in net.endpoints}
    return Circuit(parts, wires, nets, findings, net_of)


def _pins(endpoints: Iterable[Typed | Endpoint]) -> list[str]:
    return sorted(e.label for e in endpoints)


def _refs(endpoints: Iterable[Typed | Endpoint]) -> list[str]:
    return sorted({(e.ref if isinstance(e, Typed) else e.ref or e.part.ref) for e in endpoints})


def _ref(e: Typed | Endpoint) -> str:
    return e.ref if isinstance(e, Typed) else (e.ref or e.part.ref)


def _title(part: Part) -> str:
    return part.known.title if part.known else part.name


def _what(e: Typed | Endpoint) -> str:
    part = e.part
    return f"{_ref(e)} ({part.known.title if part.known else part.name})"


# --- wiring -------------------------------------------------------------------------------------------------------


def check_wiring(circuit: Circuit) -> list[Finding]:
    findings = list(circuit.findings)
    find_part = part_finder(circuit.parts)
    wired = {id(part) for w in circuit.wires for part in (find_part(w.from_part), find_part(w.to_part)) if part}
    for part in circuit.parts:
        if id(part) in wired and part.pins() is None:
            findings.append(Finding("wiring.pins_unknown", "info",
                                    f"{part.ref} ({part.name}) has no pin data (specs.pins, a datasheet analysis "
                                    "or OHM's part catalogue): its pins and levels are not checked", parts=[part.ref]))
    for net in circuit.nets:
        typed = net.typed()
        sources = circuit.sources(net)
        strong = [t for t in typed if t.type == "output"] + sources
        if len(strong) >= 2 and not net.is_ground:
            findings.append(Finding("wiring.multiple_drivers", "error",
                                    f"{' and '.join(_pins(strong))} are outputs driving the same net",
                                    parts=_refs(strong), pins=_pins(strong), connections=net.wire_positions))
        powered = [t for t in typed if t.type == "power_in" and not t.pin.is_ground]
        signal_driven = any(t.type in DRIVERS - {"power_out"} for t in typed)
        if powered and net.fully_typed and not net.is_ground and not sources and not signal_driven \
                and not any(t.pin.rail for t in typed):
            findings.append(Finding("wiring.power_not_driven", "error",
                                    f"power input(s) {', '.join(_pins(powered))} have no power source on their "
                                    "net", parts=_refs(powered), pins=_pins(powered),
                                    connections=net.wire_positions))
        if net.is_ground:
            continue
        for i, a in enumerate(typed):
            for b in typed[i + 1:]:
                if a.type in STRONG_DRIVERS and b.type in STRONG_DRIVERS:
                    continue  # reported once per net as multiple_drivers
                if a.pin.rail or b.pin.rail:
                    continue  # a board's USB / 5 V pin takes or gives the rail
                level = erc_level(a.type, b.type)
                if level:
                    findings.append(Finding(
                        "wiring.pin_conflict", "error" if level == ERR else "warning",
                        f"{a.label} ({a.type}) and {b.label} ({b.type}) are connected",
                        parts=_refs((a, b)), pins=_pins((a, b)), connections=net.wire_positions))
    return findings


# --- voltage levels and power ---------------------------------------------------------------------------------------


def _input_limit(t: Typed) -> tuple[float, float] | None:
    """(limit, level): the highest voltage a signal input takes, and its own logic level."""
    pin = t.pin
    level = pin.voltage if pin.voltage is not None else t.part.logic_voltage
    tolerant = pin.five_volt_tolerant if pin.five_volt_tolerant is not None else t.part.five_volt_tolerant
    if pin.max_voltage is not None:
        return pin.max_voltage, level if level is not None else pin.max_voltage
    if tolerant:
        return 5.5, level if level is not None else 5.0
    if level is None:
        return None
    return level + 0.3, level  # the usual absolute maximum: VDD + 0.3 V


DIVIDER = "add a voltage divider (1 kΩ from the signal, 2 kΩ to GND) or a level shifter"


def check_voltages(circuit: Circuit) -> list[Finding]:
    findings = []
    for net in circuit.nets:
        if net.is_ground:
            continue
        typed = net.typed()
        drivers = [(t, circuit.drive_level(t)) for t in typed]
        levels = [(t, v) for t, v in drivers if v is not None]
        declared = net.declared_voltage
        for t in typed:
            if t.type not in SIGNAL_INPUTS:
                continue
            limit = _input_limit(t)
            others = [(d, v) for d, v in levels if d.end is not t.end]
            if others:
                source, drive = max(others, key=lambda dv: dv[1])
                if limit and drive > limit[0] + 1e-6:
                    findings.append(Finding(
                        "voltage.overvoltage", "error",
                        f"{source.label} drives {_v(drive)} V into {t.label}, a {_v(limit[1])} V pin that is not "
                        f"{_v(drive)} V tolerant (max {_v(limit[0])} V): {DIVIDER}",
                        parts=_refs((source, t)), pins=_pins((source, t)), connections=net.wire_positions))
                    continue
                vih = t.pin.vih
                level = t.pin.voltage if t.pin.voltage is not None else t.part.logic_voltage
                if vih is None and level is not None and level >= 4.5:
                    vih = 0.7 * level  # CMOS V_IH when the datasheet value is not given
                if vih is not None and drive < vih - 1e-6:
                    findings.append(Finding(
                        "voltage.logic_high", "warning",
                        f"{source.label} drives {_v(drive)} V logic into {t.label}, whose V_IH is {_v(round(vih, 2))} "
                        "V: a high level may not be read as high (use a level shifter)",
                        parts=_refs((source, t)), pins=_pins((source, t)), connections=net.wire_positions))
            elif declared is not None and limit and declared > limit[0] + 1e-6 and not circuit.sources(net):
                # The other end is unknown, but the agent marked the wire with its voltage.
                wire = max((w for w in net.wires if w.voltage is not None), key=lambda w: w.voltage or 0)
                findings.append(Finding(
                    "voltage.overvoltage", "error",
                    f"wire {wire.label} is marked {_v(declared)} V, into {t.label}, a {_v(limit[1])} V pin that is "
                    f"not {_v(declared)} V tolerant (max {_v(limit[0])} V): {DIVIDER}",
                    parts=_refs((t,)), pins=_pins((t,)), connections=net.wire_positions))
        rail = circuit.rail_voltage(net)
        if rail is None:
            continue
        source_ends = {id(t.end) for t in circuit.sources(net)}
        for t in typed:
            if t.pin.is_ground or id(t.end) in source_ends or not (t.type == "power_in" or t.pin.rail):
                continue
            allowed = t.pin.supply_range or (t.part.supply_range if t.type == "power_in" else None)
            if allowed and not (allowed[0] - 1e-6 <= rail <= allowed[1] + 1e-6):
                findings.append(Finding(
                    "voltage.supply_range", "error",
                    f"{t.label} is supplied with {_v(rail)} V; {t.part.name} needs {_range(allowed)}"
                    + _supply_hint(t, rail, allowed),
                    parts=[t.ref], pins=[t.label], connections=net.wire_positions))
    return findings


def _supply_hint(t: Typed, rail: float, allowed: tuple[float, float]) -> str:
    if rail < allowed[0]:
        return f": power it from a {_v(allowed[0])}–{_v(allowed[1])} V rail (5V/VIN, or its own supply)"
    return f": bring the supply down to {_range(allowed)} (a regulator) or use another input"


def _source_rating(t: Typed) -> float | None:
    if t.pin.max_current_ma is not None:
        return t.pin.max_current_ma
    for key in ("output_current_ma", "max_output_current_ma"):
        value = number(t.part.specs.get(key))
        if value is not None:
            return value
    return None


def check_power(circuit: Circuit) -> list[Finding]:
    findings = []
    for net in circuit.nets:
        if net.is_ground:
            continue
        typed = net.typed()
        sources = circuit.sources(net)
        if not sources:
            continue
        ratings = [_source_rating(t) for t in sources]
        if any(r is None for r in ratings):
            continue
        capacity = sum(r for r in ratings if r is not None)
        source_parts = {id(t.part) for t in sources}
        consumers: dict[int, tuple[Part, float]] = {}
        for t in typed:
            if t.type == "power_in" and not t.pin.is_ground and id(t.part) not in source_parts:
                current = t.part.current_ma
                if current is not None:
                    consumers[id(t.part)] = (t.part, current * max(1, t.part.quantity))
        if not consumers or capacity <= 0:
            continue
        load = sum(c for _, c in consumers.values())
        share = load / capacity
        rail = circuit.rail_voltage(net)
        where = f"the {_v(rail)} V rail" if rail is not None else "a supply rail"
        detail = (f"{where} from {', '.join(_pins(sources))} supplies {_v(round(load, 3))} mA of "
                  f"{_v(capacity)} mA ({share:.0%})")
        if share > 1:
            findings.append(Finding("power.budget", "error", detail + ": over its rating",
                                    parts=sorted({p.ref for p, _ in consumers.values()}), pins=_pins(sources),
                                    connections=net.wire_positions))
        elif share > 0.8:
            findings.append(Finding("power.budget", "warning", detail + ": above 80% of its rating",
                                    parts=sorted({p.ref for p, _ in consumers.values()}), pins=_pins(sources),
                                    connections=net.wire_positions))
    findings += _pin_current(circuit) + _led_resistors(circuit) + _common_ground(circuit)
    return findings


SIGNAL_DRIVERS = {"output", "bidirectional", "tri_state"}


def _pin_current(circuit: Circuit) -> list[Finding]:
    """A coil, motor or buzzer hung straight on a signal pin."""
    findings = []
    for net in circuit.nets:
        if net.is_ground or circuit.sources(net):
            continue
        typed = net.typed()
        pins = [t for t in typed if t.type in SIGNAL_DRIVERS and t.pin.max_current_ma is not None]
        for driver in pins:
            for load in typed:
                if load.part is driver.part or load.pin.is_ground:
                    continue
                if load.type != "power_in":
                    continue  # a servo's or relay module's signal input is not its load
                need = load.part.current_ma
                rating = driver.pin.max_current_ma
                if need is None or rating is None or need <= rating:
                    continue
                findings.append(Finding(
                    "power.pin_current", "error",
                    f"{driver.label} drives {_what(load)} directly: it draws {_v(need)} mA, the pin gives at most "
                    f"{_v(rating)} mA; switch it with a transistor or MOSFET (and a flyback diode for a coil or "
                    "motor), or use a driver or relay module",
                    parts=_refs((driver, load)), pins=_pins((driver, load)), connections=net.wire_positions))
    return findings


def _has_resistor(net: Net, led: Part) -> bool:
    return any(e.part is not led and e.part.kind in ("resistor", "passive", "driver", "module")
               for e in net.endpoints.values())


def _led_resistors(circuit: Circuit) -> list[Finding]:
    findings = []
    for part in circuit.parts:
        if part.kind != "led" or part.specs.get("resistor") or "RESISTOR" in part.name.upper():
            continue
        by_ref: dict[str, dict[str, Net]] = defaultdict(dict)
        for e, net in circuit.ends.get(id(part), ()):
            if e.pin is not None:
                by_ref[e.ref or part.ref][e.pin.name.upper()] = net
        for ref, nets in by_ref.items():
            anode, cathode = nets.get("A"), nets.get("K")
            if anode is None or cathode is None:
                continue
            for high, low in ((anode, cathode),):
                drivers = [t for t in high.typed() if t.part is not part and t.type in DRIVERS and not t.pin.is_ground]
                if not drivers or not low.is_ground or _has_resistor(high, part) or _has_resistor(low, part):
                    continue
                level = max((circuit.drive_level(t) or 0.0 for t in drivers), default=0.0)
                vf = part.known.vf if part.known and part.known.vf else 2.0
                ohms = max(68, round((level - vf) / 0.010 / 10) * 10) if level > vf else 220
                findings.append(Finding(
                    "power.led_resistor", "error",
                    f"{ref} ({part.name}) sits between {', '.join(_pins(drivers))} and GND with no series resistor: "
                    f"add about {ohms} Ω ((V − {_v(vf)} V) / 10 mA) in series",
                    parts=sorted({ref, *_refs(drivers)}), pins=_pins(drivers),
                    connections=sorted({*high.wire_positions, *low.wire_positions})))
    return findings


def _common_ground(circuit: Circuit) -> list[Finding]:
    """Two parts that share a signal are powered from different supplies, and their grounds never meet."""
    supply_nets: dict[int, set[int]] = {}
    ground_nets: dict[int, set[int]] = {}
    by_id = {id(p): p for p in circuit.parts}
    for index, net in enumerate(circuit.nets):
        for e in net.endpoints.values():
            if e.pin is None:
                continue
            if e.pin.is_ground:
                ground_nets.setdefault(id(e.part), set()).add(index)
            elif e.pin.type in ("power_in", "power_out") or e.pin.rail:
                supply_nets.setdefault(id(e.part), set()).add(index)
    # A board runs from its USB port when none of its supply pins is wired.
    powered = set(supply_nets) | {id(p) for p in circuit.parts if p.known and p.known.kind == "board"}
    findings = []
    reported: set[tuple[int, int]] = set()
    for net in circuit.nets:
        if net.is_ground or circuit.sources(net) or any(t.type == "power_in" for t in net.typed()):
            continue
        members = sorted(net.parts())
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if (a, b) in reported or a not in powered or b not in powered:
                    continue
                if supply_nets.get(a, set()) & supply_nets.get(b, set()) \
                        or ground_nets.get(a, set()) & ground_nets.get(b, set()):
                    continue
                reported.add((a, b))
                pa, pb = by_id[a], by_id[b]
                findings.append(Finding(
                    "power.common_ground", "error",
                    f"{pa.ref} ({pa.name}) and {pb.ref} ({pb.name}) share a signal but are powered separately "
                    "and their grounds are not connected: wire GND to GND",
                    parts=sorted({pa.ref, pb.ref}), connections=net.wire_positions))
    return findings


# --- pins of microcontrollers ---------------------------------------------------------------------------------------

ANALOG_OUTPUT_NAMES = {"AO", "AOUT", "A0", "ANALOG", "WIPER", "VOUT_ANALOG"}
CODE_PIN = r"((?:GPIO_NUM_|GPIO|D|A)?\d+)"  # 34, GPIO_NUM_34, A0, D5: looked up among the board's pin names
ANALOG_READ = re.compile(r"analogRead(?:MilliVolts)?\s*\(\s*" + CODE_PIN + r"\s*\)")
OUTPUT_MODE = re.compile(r"pinMode\s*\(\s*" + CODE_PIN + r"\s*,\s*OUTPUT\s*\)")
PIN_DEFINE = re.compile(r"(?:#define\s+(\w+)\s+|(?:const\s+)?(?:int|uint8_t|byte|gpio_num_t)\s+(\w+)\s*=\s*)"
                        + CODE_PIN + r"\b")
WIFI = re.compile(r"#include\s*[<\"](?:WiFi|WiFiClient|WiFiClientSecure|esp_wifi|WiFiManager|ESPAsyncWebServer"
                  r"|PubSubClient|HTTPClient|WebServer|ArduinoOTA|esp_now)\.h[>\"]|\bWiFi\.(?:begin|mode|softAP)\b")


def _free_pins(part: Part, circuit: Circuit, *, analog: str | None = None, limit: int = 2) -> list[str]:
    """Pins of the part a signal could move to: general-purpose, not read at boot, not used yet."""
    table = part.pins() or {}
    used = circuit.used_pins(part)
    out = []
    for pin in {id(p): p for p in table.values()}.values():
        if pin.type != "bidirectional" or pin.strapping or pin.flash or pin.input_only or pin.name.upper() in used:
            continue
        if analog and pin.adc != analog:
            continue
        if pin.name.upper() in ("GPIO1", "GPIO3", "TX", "RX", "D0", "D1") and part.known and part.known.kind == "board":
            continue  # the serial console
        out.append(pin.name)
        if len(out) == limit:
            break
    return out


def _move_to(part: Part, circuit: Circuit, **kw: Any) -> str:
    free = _free_pins(part, circuit, **kw)
    return f"move it to {' or '.join(free)}" if free else "move it to a general-purpose pin"


def _code_pins(files: list[SourceFile], pattern: re.Pattern[str]) -> set[str]:
    """The pins a pattern finds in the code (as the board names them: "34", "A0", "GPIO34"), following
    `#define NAME 34` / `const int NAME = A0`."""
    found: set[str] = set()
    for f in files:
        names = {m.group(1) or m.group(2): m.group(3) for m in PIN_DEFINE.finditer(f.content)}
        text = f.content
        for name, value in names.items():
            text = re.sub(rf"\b{re.escape(name)}\b", value, text)
        found |= {m.group(1).upper().replace("GPIO_NUM_", "GPIO") for m in pattern.finditer(text)}
    return found


def check_pins(circuit: Circuit, files: list[SourceFile]) -> list[Finding]:
    findings = []
    uses_wifi = any(WIFI.search(f.content) for f in files)
    analog_in_code = _code_pins(files, ANALOG_READ)
    output_in_code = _code_pins(files, OUTPUT_MODE)
    for net in circuit.nets:
        typed = net.typed()
        for t in typed:
            pin, part = t.pin, t.part
            others = [o for o in net.endpoints.values() if o is not t.end]
            if pin.flash and others:
                findings.append(Finding(
                    "pins.flash", "error",
                    f"{t.label} is wired to the module's flash: anything on it stops {_title(part)} from running; "
                    f"{_move_to(part, circuit)}",
                    parts=_refs((t,)), pins=_pins((t,)), connections=net.wire_positions))
            if pin.input_only:
                other_types = [o.pin.type for o in others if o.pin is not None and o.pin.type is not None]
                needs_drive = any(k in ("input", "power_in", "passive") for k in other_types)
                driven = any(k in DRIVERS for k in other_types)
                if needs_drive and not driven:
                    findings.append(Finding(
                        "pins.input_only", "error",
                        f"{t.label} is input-only, but nothing else drives its net ({', '.join(_pins(others))}): "
                        f"{_move_to(part, circuit)}",
                        parts=_refs((t, *others)), pins=_pins((t, *others)), connections=net.wire_positions))
            if pin.strapping and others and pin.boot_level != "any":
                pulls = [o for o in others if _pull(o, circuit) not in (None, pin.boot_level)]
                if pulls:
                    findings.append(Finding(
                        "pins.strapping", "warning",
                        f"{t.label} is a strapping pin, read at reset: {', '.join(_pins(pulls))} on it can change how "
                        f"the chip boots (or stop it booting); {_move_to(part, circuit)}",
                        parts=_refs((t, *pulls)), pins=_pins((t, *pulls)), connections=net.wire_positions))
            if pin.adc == "ADC2" and part.known and part.known.adc2_shared_with_wifi and uses_wifi:
                analog_wired = any(o.pin is not None and o.part is not part and (
                    {o.pin.name.upper(), *(a.upper() for a in o.pin.aliases)} & ANALOG_OUTPUT_NAMES)
                    for o in others)
                table = part.pins() or {}
                if analog_wired or any(table.get(token) is pin for token in analog_in_code):
                    findings.append(Finding(
                        "pins.adc2_wifi", "error",
                        f"{t.label} is on ADC2, which Wi-Fi uses: analogRead() on it fails while the code uses "
                        f"Wi-Fi; {_move_to(part, circuit, analog='ADC1')} (ADC1)",
                        parts=_refs((t,)), pins=_pins((t,)), connections=net.wire_positions))
    findings += _input_only_in_code(circuit, output_in_code)
    findings += _i2c_addresses(circuit)
    return findings


I2C_LINES = {"SDA", "SCL"}


def _pull(e: Endpoint, circuit: Circuit) -> str | None:
    """Which way an endpoint holds a net at reset: "high", "low", None (it does not), "unknown" (it may drive)."""
    pin = e.pin
    if pin is None:
        return "unknown"
    if pin.is_ground:
        return "low"
    if pin.type in ("power_out", "power_in") or pin.rail:
        return "high"
    names = {pin.name.upper(), *(a.upper() for a in pin.aliases)}
    if names & I2C_LINES or pin.follows_supply or pin.type == "open_collector":
        return "high"  # modules pull their I2C and open-drain lines up
    if pin.type == "input":
        return None
    if pin.type == "passive" and e.part.kind == "resistor":
        for other, net in circuit.ends.get(id(e.part), ()):
            ends = net.endpoints.values()
            if other is not e and not any(x is e for x in ends):
                if net.is_ground:
                    return "low"
                if any(x.pin is not None and (x.pin.type in ("power_out", "power_in") or x.pin.rail) for x in ends):
                    return "high"
        return "unknown"
    return "unknown"


def _input_only_in_code(circuit: Circuit, numbers: set[str]) -> list[Finding]:
    findings = []
    for part in circuit.parts:
        if not part.known or part.known.kind not in ("board", "module"):
            continue
        table = part.pins() or {}
        for token in sorted(numbers):
            pin = table.get(token)
            if pin is not None and pin.input_only:
                findings.append(Finding(
                    "pins.input_only", "error",
                    f"the firmware sets {pin.name} of {part.ref} as an OUTPUT, but it is input-only: "
                    f"{_move_to(part, circuit)}", parts=[part.ref], pins=[f"{part.ref}.{pin.name}"]))
    return findings


def _i2c_addresses(circuit: Circuit) -> list[Finding]:
    findings = []
    for net in circuit.nets:
        on_bus: dict[str, tuple[Typed, int]] = {}
        for t in net.typed():
            names = {t.pin.name.upper(), *(a.upper() for a in t.pin.aliases)}
            address = t.part.i2c_address
            if "SDA" in names and address is not None:
                on_bus.setdefault(t.ref, (t, address))
        by_address: dict[int, list[Typed]] = defaultdict(list)
        for t, address in on_bus.values():
            by_address[address].append(t)
        for address, clash in sorted(by_address.items()):
            if len(clash) < 2:
                continue
            hint = next((t.part.known.i2c_select for t in clash[1:] if t.part.known and t.part.known.i2c_select), None)
            findings.append(Finding(
                "bus.i2c_address", "error",
                f"{' and '.join(_what(t) for t in clash)} answer at the same I2C address 0x{address:02X} on one bus: "
                + (f"change one ({hint})" if hint else "give one another address, or put it on a second bus"),
                parts=_refs(clash), pins=_pins(clash), connections=net.wire_positions))
    return findings


# --- firmware --------------------------------------------------------------------------------------------------------

# BOM part name/MPN patterns -> PlatformIO platform
MCU_PLATFORMS = [
    (re.compile(r"ESP8266|ESP-12|NODEMCU|WEMOS\s*D1", re.I), "espressif8266"),
    (re.compile(r"ESP32", re.I), "espressif32"),
    (re.compile(r"RP2040|RP2350|RASPBERRY\s*PI\s*PICO|\bPICO\b", re.I), "raspberrypi"),
    (re.compile(r"ATMEGA|ARDUINO\s*(UNO|NANO|MEGA|PRO\s*MINI)|ATTINY", re.I), "atmelavr"),
    (re.compile(r"STM32|BLUE\s*PILL", re.I), "ststm32"),
    (re.compile(r"NRF52", re.I), "nordicnrf52"),
    (re.compile(r"SAMD21|SAMD51|ATSAMD", re.I), "atmelsam"),
]
PLATFORM_ALIASES = {"esp32": "espressif32", "esp8266": "espressif8266", "avr": "atmelavr", "arduino": "atmelavr",
                    "rp2040": "raspberrypi", "pico": "raspberrypi", "stm32": "ststm32", "nrf52": "nordicnrf52",
                    "samd": "atmelsam"}
BOARD_PLATFORMS = [
    (re.compile(r"^(esp32|lolin32|lolin_d32|featheresp32|m5stack|ttgo|heltec_wifi|az-delivery-devkit)", re.I),
     "espressif32"),
    (re.compile(r"^(nodemcu|d1|esp01|esp12e|huzzah|esp8285)", re.I), "espressif8266"),
    (re.compile(r"^(uno|nano|mega|leonardo|micro|pro8|pro16|attiny|diecimila|atmega)", re.I), "atmelavr"),
    (re.compile(r"^(pico|rpipico|nanorp2040|adafruit_feather_rp2040)", re.I), "raspberrypi"),
    (re.compile(r"^(bluepill|blackpill|nucleo|genericSTM32|disco_)", re.I), "ststm32"),
]
DEFAULT_BOARDS = {"espressif32": "esp32dev", "espressif8266": "nodemcuv2", "atmelavr": "uno",
                  "raspberrypi": "pico", "ststm32": "bluepill_f103c8", "nordicnrf52": "nrf52840_dk",
                  "atmelsam": "zeroUSB"}
LIBRARY = re.compile(
    r"^(?:(?:https?|git|ssh)://\S+|file://\S+|symlink://\S+"
    r"|(?:[A-Za-z0-9][\w.\-]*/)?[A-Za-z0-9][\w .+\-]*?(?:\s*@\s*[~^<>=!]*\s*[0-9][\w.\-+*]*)?"
    r"|(?:[A-Za-z0-9][\w.\-]*/)?[A-Za-z0-9][\w .+\-]*?\s*@\s*(?:https?|git)://\S+)$")


def platform_of(value: str | None) -> str | None:
    if not value:
        return None
    key = value.strip().lower()
    return PLATFORM_ALIASES.get(key, key)


def board_platform(board: str | None) -> str | None:
    if not board:
        return None
    for pattern, platform in BOARD_PLATFORMS:
        if pattern.match(board.strip()):
            return platform
    return None


def bom_platforms(parts: Iterable[Part]) -> dict[str, str]:
    """PlatformIO platforms of the BOM's microcontrollers -> the part that implies it."""
    found: dict[str, str] = {}
    for part in parts:
        text = f"{part.name} {part.mpn or ''}"
        for pattern, platform in MCU_PLATFORMS:
            if pattern.search(text):
                found.setdefault(platform, part.ref)
                break
    return found


def check_code(files: list[SourceFile], parts: list[Part]) -> list[Finding]:
    findings = []
    mcus = bom_platforms(parts)
    platforms: dict[str, list[str]] = defaultdict(list)
    for f in files:
        platform = platform_of(f.platform)
        implied = board_platform(f.board)
        if platform and implied and platform != implied:
            findings.append(Finding("code.board_platform", "error",
                                    f"{f.filename}: board {f.board} is a {implied} board, not {platform}"))
        target = platform or implied
        if target:
            platforms[target].append(f.filename)
        for library in f.libraries:
            if not LIBRARY.match(library.strip()) or library != library.strip():
                findings.append(Finding("code.library", "warning",
                                        f"{f.filename}: {library!r} is not a PlatformIO library spec "
                                        "(owner/name@version, name, or a URL)"))
    if len(platforms) > 1:
        findings.append(Finding("code.mixed_platforms", "error",
                                "the files target different platforms: " + "; ".join(
                                    f"{p} ({', '.join(sorted(names))})" for p, names in sorted(platforms.items()))))
    if mcus:
        for platform, names in sorted(platforms.items()):
            if platform not in mcus:
                findings.append(Finding(
                    "code.platform_mismatch", "error",
                    f"{', '.join(sorted(names))} target {platform}, but the BOM's microcontroller is "
                    f"{' / '.join(f'{p} ({ref})' for p, ref in sorted(mcus.items()))}",
                    parts=sorted(mcus.values())))
    elif files and platforms:
        findings.append(Finding("code.no_microcontroller", "info",
                                "no microcontroller recognised in the BOM: the firmware's platform is not checked"))
    units = sorted({f.success_unit for f in files if f.success_unit is not None})
    if units and units != list(range(1, units[-1] + 1)):
        missing = sorted(set(range(1, units[-1] + 1)) - set(units))
        findings.append(Finding("code.success_units", "error", "success units must run 1, 2, 3 without gaps; "
                                f"missing {', '.join(map(str, missing))}"))
    return findings


# --- all together ----------------------------------------------------------------------------------------------------

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def run_checks(parts: list[Part], wires: list[Wire], files: list[SourceFile], *, budget: Decimal | None = None,
               budget_currency: str = "USD") -> list[Finding]:
    findings = check_bom(parts, budget, budget_currency)
    if wires:
        circuit = build_circuit(parts, wires)
        findings += check_wiring(circuit) + check_voltages(circuit) + check_power(circuit) + check_pins(circuit, files)
    if files:
        findings += check_code(files, parts)
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.rule))


def summary(findings: list[Finding]) -> dict[str, int]:
    counts = {"errors": 0, "warnings": 0, "infos": 0}
    for f in findings:
        counts[{"error": "errors", "warning": "warnings", "info": "infos"}[f.severity]] += 1
    return counts
