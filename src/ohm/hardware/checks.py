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
    pin: Pin | None  # None: the part has no pin data

    @property
    def label(self) -> str:
        return f"{self.part.ref}.{self.pin.name if self.pin else self.pin_name}"


@dataclass
class Net:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    wires: list[Wire] = field(default_factory=list)

    def typed(self) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.pin is not None and e.pin.type is not None]

    @property
    def fully_typed(self) -> bool:
        return all(e.pin is not None and e.pin.type is not None for e in self.endpoints.values())

    @property
    def wire_positions(self) -> list[int]:
        return sorted({w.position for w in self.wires})

    @property
    def is_ground(self) -> bool:
        return any(e.pin is not None and e.pin.is_ground for e in self.endpoints.values()) or (
            bool(self.wires) and all(w.voltage == 0 for w in self.wires))


@dataclass
class Circuit:
    parts: list[Part]
    wires: list[Wire]
    nets: list[Net]
    findings: list[Finding]
    net_of: dict[str, Net]

    def rail_voltage(self, net: Net) -> float | None:
        """The voltage a supply net carries: its power outputs, else what the wires say."""
        sources = [e.pin.voltage for e in net.typed() if e.pin.type == "power_out" and e.pin.voltage is not None]
        if sources:
            return max(sources)
        hints = [w.voltage for w in net.wires if w.voltage is not None]
        return max(hints) if hints else None

    def supply_of(self, part: Part) -> float | None:
        """The voltage a part is powered at (its non-ground power inputs' net)."""
        levels = []
        for net in self.nets:
            for e in net.endpoints.values():
                if e.part is part and e.pin is not None and e.pin.type == "power_in" and not e.pin.is_ground:
                    level = self.rail_voltage(net)
                    if level is not None:
                        levels.append(level)
        return max(levels) if levels else None

    def drive_level(self, e: Endpoint) -> float | None:
        pin = e.pin
        if pin is None or pin.type not in DRIVERS:
            return None
        if pin.follows_supply:
            return self.supply_of(e.part)
        if pin.voltage is not None:
            return pin.voltage
        if pin.type == "power_out":
            return None
        return e.part.logic_voltage


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
        table = pin_tables[id(part)]
        pin = table.get(pin_name.strip().upper()) if table else None
        if table is not None and pin is None:
            findings.append(Finding("wiring.unknown_pin", "error",
                                    f"wire {wire.label}: {part.ref} ({part.name}) has no pin {pin_name}",
                                    parts=[part.ref], pins=[f"{part.ref}.{pin_name}"], connections=[wire.position]))
            return None
        key = f"{part.ref.upper()}.{(pin.name if pin else pin_name).upper()}"
        endpoints.setdefault(key, Endpoint(part, pin_name, pin))
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
    for wire, key in wire_ends:
        if key is not None:
            groups[find(key)].wires.append(wire)
    nets = list(groups.values())
    net_of = {key: net for net in nets for key in net.endpoints}
    return Circuit(parts, wires, nets, findings, net_of)


def _pins(endpoints: Iterable[Endpoint]) -> list[str]:
    return sorted(e.label for e in endpoints)


def _refs(endpoints: Iterable[Endpoint]) -> list[str]:
    return sorted({e.part.ref for e in endpoints})


# --- wiring -------------------------------------------------------------------------------------------------------


def check_wiring(circuit: Circuit) -> list[Finding]:
    findings = list(circuit.findings)
    find_part = part_finder(circuit.parts)
    wired = {id(part) for w in circuit.wires for part in (find_part(w.from_part), find_part(w.to_part)) if part}
    for part in circuit.parts:
        if id(part) in wired and part.pins() is None:
            findings.append(Finding("wiring.pins_unknown", "info",
                                    f"{part.ref} ({part.name}) has no pin data (specs.pins or a datasheet "
                                    "analysis): its pins and levels are not checked", parts=[part.ref]))
    for net in circuit.nets:
        typed = net.typed()
        strong = [e for e in typed if e.pin.type in STRONG_DRIVERS]
        if len(strong) >= 2:
            findings.append(Finding("wiring.multiple_drivers", "error",
                                    f"{' and '.join(_pins(strong))} are outputs driving the same net",
                                    parts=_refs(strong), pins=_pins(strong), connections=net.wire_positions))
        powered = [e for e in typed if e.pin.type == "power_in"]
        if powered and net.fully_typed and not any(e.pin.type == "power_out" for e in typed):
            findings.append(Finding("wiring.power_not_driven", "error",
                                    f"power input(s) {', '.join(_pins(powered))} have no power source on their "
                                    "net", parts=_refs(powered), pins=_pins(powered),
                                    connections=net.wire_positions))
        for i, a in enumerate(typed):
            for b in typed[i + 1:]:
                if a.pin.type in STRONG_DRIVERS and b.pin.type in STRONG_DRIVERS:
                    continue  # reported once per net as multiple_drivers
                level = erc_level(a.pin.type, b.pin.type)
                if level:
                    findings.append(Finding(
                        "wiring.pin_conflict", "error" if level == ERR else "warning",
                        f"{a.label} ({a.pin.type}) and {b.label} ({b.pin.type}) are connected",
                        parts=_refs((a, b)), pins=_pins((a, b)), connections=net.wire_positions))
    return findings


# --- voltage levels and power ---------------------------------------------------------------------------------------


def _input_limit(e: Endpoint) -> tuple[float, float] | None:
    """(limit, level): the highest voltage a signal input takes, and its own logic level."""
    pin = e.pin
    level = pin.voltage if pin.voltage is not None else e.part.logic_voltage
    tolerant = pin.five_volt_tolerant if pin.five_volt_tolerant is not None else e.part.five_volt_tolerant
    if pin.max_voltage is not None:
        return pin.max_voltage, level if level is not None else pin.max_voltage
    if tolerant:
        return 5.5, level if level is not None else 5.0
    if level is None:
        return None
    return level + 0.3, level  # the usual absolute maximum: VDD + 0.3 V


def check_voltages(circuit: Circuit) -> list[Finding]:
    findings = []
    for net in circuit.nets:
        typed = net.typed()
        drivers = [(e, circuit.drive_level(e)) for e in typed]
        drivers = [(e, v) for e, v in drivers if v is not None]
        for e in typed:
            if e.pin.type in SIGNAL_INPUTS:
                others = [(d, v) for d, v in drivers if d is not e]
                if not others:
                    continue
                source, drive = max(others, key=lambda dv: dv[1])
                limit = _input_limit(e)
                if limit and drive > limit[0] + 1e-6:
                    findings.append(Finding(
                        "voltage.overvoltage", "error",
                        f"{source.label} drives {_v(drive)} V into {e.label}, a {_v(limit[1])} V pin that is not "
                        f"{_v(drive)} V tolerant (max {_v(limit[0])} V)",
                        parts=_refs((source, e)), pins=_pins((source, e)), connections=net.wire_positions))
                    continue
                vih = e.pin.vih
                level = e.pin.voltage if e.pin.voltage is not None else e.part.logic_voltage
                if vih is None and level is not None and level >= 4.5:
                    vih = 0.7 * level  # CMOS V_IH when the datasheet value is not given
                if vih is not None and drive < vih - 1e-6:
                    findings.append(Finding(
                        "voltage.logic_high", "warning",
                        f"{source.label} drives {_v(drive)} V logic into {e.label}, whose V_IH is {_v(round(vih, 2))} "
                        "V: a high level may not be read as high (use a level shifter)",
                        parts=_refs((source, e)), pins=_pins((source, e)), connections=net.wire_positions))
        rail = circuit.rail_voltage(net)
        if rail is None or net.is_ground:
            continue
        for e in typed:
            if e.pin.type != "power_in" or e.pin.is_ground:
                continue
            allowed = e.pin.supply_range or e.part.supply_range
            if allowed and not (allowed[0] - 1e-6 <= rail <= allowed[1] + 1e-6):
                findings.append(Finding(
                    "voltage.supply_range", "error",
                    f"{e.label} is supplied with {_v(rail)} V; {e.part.name} needs {_range(allowed)}",
                    parts=[e.part.ref], pins=[e.label], connections=net.wire_positions))
    return findings


def _source_rating(e: Endpoint) -> float | None:
    if e.pin.max_current_ma is not None:
        return e.pin.max_current_ma
    for key in ("output_current_ma", "max_output_current_ma"):
        value = number(e.part.specs.get(key))
        if value is not None:
            return value
    return None


def check_power(circuit: Circuit) -> list[Finding]:
    findings = []
    for net in circuit.nets:
        if net.is_ground:
            continue
        typed = net.typed()
        sources = [e for e in typed if e.pin.type == "power_out"]
        if not sources:
            continue
        ratings = [_source_rating(e) for e in sources]
        if any(r is None for r in ratings):
            continue
        capacity = sum(ratings)
        source_parts = {id(e.part) for e in sources}
        consumers: dict[int, tuple[Part, float]] = {}
        for e in typed:
            if e.pin.type == "power_in" and id(e.part) not in source_parts:
                current = number(e.part.specs.get("current_ma"))
                if current is not None:
                    consumers[id(e.part)] = (e.part, current * max(1, e.part.quantity))
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
        if platform or implied:
            platforms[platform or implied].append(f.filename)
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
        findings += check_wiring(circuit) + check_voltages(circuit) + check_power(circuit)
    if files:
        findings += check_code(files, parts)
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.rule))


def summary(findings: list[Finding]) -> dict[str, int]:
    counts = {"errors": 0, "warnings": 0, "infos": 0}
    for f in findings:
        counts[{"error": "errors", "warning": "warnings", "info": "infos"}[f.severity]] += 1
    return counts
