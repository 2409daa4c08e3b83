"""What the checks and exports read: parts with their pins, wires, firmware files (pure data, no I/O).

The store builds these from the normalised rows (parts, connections,
code_files) and, for parts without pin data in their specs, from the
datasheet analysis a part points at.  Pin electrical types are KiCad's
(input, output, bidirectional, tri_state, passive, free, unspecified,
power_in, power_out, open_collector, open_emitter, no_connect); common
aliases are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from ohm.hardware.catalogue import CataloguePart, CataloguePin, Match, match

PIN_TYPES = ("input", "output", "bidirectional", "tri_state", "passive", "free", "unspecified", "power_in",
             "power_out", "open_collector", "open_emitter", "no_connect")

PIN_TYPE_ALIASES = {
    "in": "input", "out": "output", "io": "bidirectional", "inout": "bidirectional", "bidir": "bidirectional",
    "tristate": "tri_state", "tri-state": "tri_state", "3state": "tri_state", "power": "power_in",
    "pwr_in": "power_in", "power_input": "power_in", "ground": "power_in", "gnd": "power_in",
    "pwr_out": "power_out", "power_output": "power_out", "supply": "power_out", "nc": "no_connect",
    "no-connect": "no_connect", "not_connected": "no_connect", "analog": "passive", "oc": "open_collector",
    "open_drain": "open_collector", "od": "open_collector", "oe": "open_emitter", "nic": "free",
}

# Types that put a level on a net, and types that read one.
DRIVERS = {"output", "power_out", "bidirectional", "tri_state", "open_collector", "open_emitter"}
STRONG_DRIVERS = {"output", "power_out"}
SIGNAL_INPUTS = {"input", "bidirectional", "tri_state"}
GROUND_NAMES = {"GND", "VSS", "AGND", "DGND", "GROUND", "0V", "V-", "VEE"}


def pin_type(value: Any) -> str | None:
    """A KiCad pin type, or None when the type is not known (not the same as 'unspecified')."""
    if not isinstance(value, str) or not value.strip():
        return None
    key = value.strip().lower().replace(" ", "_")
    key = PIN_TYPE_ALIASES.get(key, key)
    if key == "other":
        return None
    return key if key in PIN_TYPES else None


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        text = re.sub(r"\s*(v\s*dc|v|ma)$", "", value.strip().lower())
        try:
            return float(text)
        except ValueError:
            return None
    return None


def flag(value: Any) -> bool | None:
    """true / "yes" / 1 as True, false / "no" / 0 as False, anything else as unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "y", "1", "false", "no", "n", "0"):
        return value.strip().lower() in ("true", "yes", "y", "1")
    return None


# The keys agents use for the same thing, first the documented one.
SUPPLY_KEYS = ("supply_voltage", "voltage", "vcc", "vdd", "vin", "supply", "operating_voltage", "input_voltage",
               "power_supply", "voltage_range")
LOGIC_KEYS = ("logic_voltage", "logic_level", "io_voltage", "logic")
TOLERANT_KEYS = ("five_volt_tolerant", "five_v_tolerant", "5v_tolerant", "tolerant_5v", "five_volt_tolerant_inputs")
CURRENT_KEYS = ("current_ma", "current", "current_draw_ma", "current_draw", "supply_current_ma", "operating_current_ma",
                "typical_current_ma")
I2C_KEYS = ("i2c_address", "address", "i2c_addr", "i2c")


def first_of(mapping: dict[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    for key in keys:
        if lowered.get(key) is not None:
            return lowered[key]
    return None


def i2c_address(value: Any) -> int | None:
    """0x76, 118 or "0x76" as 118; anything else as unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0x03 <= value <= 0x77 else None
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            number_ = int(text, 16) if text.startswith("0x") else int(text)
        except ValueError:
            return None
        return number_ if 0x03 <= number_ <= 0x77 else None
    if isinstance(value, list) and value:
        return i2c_address(value[0])
    return None


def voltage_range(value: Any) -> tuple[float, float] | None:
    """``3.3``, ``{"min": 3.0, "max": 3.6}`` or ``[3.0, 3.6]`` as (min, max)."""
    if isinstance(value, dict):
        low, high = number(value.get("min")), number(value.get("max"))
        if low is None and high is None:
            nominal = number(value.get("nominal") or value.get("typ"))
            return (nominal, nominal) if nominal is not None else None
        return (low if low is not None else float("-inf"), high if high is not None else float("inf"))
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = number(value[0]), number(value[1])
        if low is not None and high is not None:
            return (low, high)
        return None
    if isinstance(value, str):
        # "3.3-5V", "3.3V ~ 5V", "3.3 to 5 V", "1.8V–3.6V"
        bounds = re.split(r"\s*(?:-|–|~|to|\.\.)\s*", value.strip().lower().removesuffix("dc").strip(), maxsplit=1)
        if len(bounds) == 2 and bounds[0] and bounds[1]:
            low, high = number(bounds[0]), number(bounds[1])
            if low is not None and high is not None and low <= high:
                return (low, high)
    single = number(value)
    return (single, single) if single is not None else None


@dataclass
class Pin:
    name: str
    type: str | None = None                  # KiCad electrical type; None = not known
    voltage: float | None = None             # the level it drives or expects
    follows_supply: bool = False             # an output whose high level is the part's supply
    max_voltage: float | None = None         # absolute maximum on this pin
    five_volt_tolerant: bool | None = None
    vih: float | None = None                 # minimum input-high voltage
    supply_range: tuple[float, float] | None = None
    max_current_ma: float | None = None      # what the pin can source or sink at most
    number: str | None = None
    aliases: tuple[str, ...] = ()
    input_only: bool = False
    strapping: bool = False                  # read at reset
    boot_level: str | None = None            # what it must read at reset: high, low, any (None: unknown)
    flash: bool = False                      # wired to the module's flash
    adc: str | None = None                   # ADC, ADC1, ADC2
    rail: bool = False                       # a board's USB / 5 V pin: passes a rail either way
    draw_ma: float | None = None             # what an input draws from its driver

    @property
    def is_ground(self) -> bool:
        return self.name.upper() in GROUND_NAMES or (self.type in ("power_in", "power_out") and self.voltage == 0)


def pin_from_catalogue(pin: CataloguePin) -> Pin:
    return Pin(name=pin.name, type=pin.type, voltage=pin.level, follows_supply=pin.follows_supply,
               max_voltage=pin.max_voltage, five_volt_tolerant=pin.five_volt_tolerant, vih=pin.vih,
               supply_range=pin.supply, max_current_ma=pin.max_ma, aliases=pin.aliases, input_only=pin.input_only,
               strapping=pin.strapping, boot_level=pin.boot_level, flash=pin.flash, adc=pin.adc, rail=pin.rail,
               draw_ma=pin.draw_ma)


def completed(pin: Pin, known: Pin) -> Pin:
    """What the agent wrote about a pin, with the gaps filled from the catalogue's pin of that name."""
    return Pin(
        name=pin.name, type=pin.type if pin.type is not None else known.type,
        voltage=pin.voltage if pin.voltage is not None or pin.follows_supply else known.voltage,
        follows_supply=pin.follows_supply or (pin.voltage is None and known.follows_supply),
        max_voltage=pin.max_voltage if pin.max_voltage is not None else known.max_voltage,
        five_volt_tolerant=pin.five_volt_tolerant if pin.five_volt_tolerant is not None else known.five_volt_tolerant,
        vih=pin.vih if pin.vih is not None else known.vih,
        supply_range=pin.supply_range or known.supply_range,
        max_current_ma=pin.max_current_ma if pin.max_current_ma is not None else known.max_current_ma,
        number=pin.number or known.number, aliases=tuple(dict.fromkeys((*pin.aliases, known.name, *known.aliases))),
        input_only=pin.input_only or known.input_only, strapping=pin.strapping or known.strapping,
        boot_level=pin.boot_level or known.boot_level,
        flash=pin.flash or known.flash, adc=pin.adc or known.adc, rail=pin.rail or known.rail,
        draw_ma=pin.draw_ma if pin.draw_ma is not None else known.draw_ma)


def pin_from_spec(spec: Any) -> Pin | None:
    """One entry of ``specs.pins`` (or of a datasheet analysis pinout)."""
    if isinstance(spec, str) and spec.strip():
        return Pin(name=spec.strip())
    if not isinstance(spec, dict):
        return None
    name = spec.get("name") or spec.get("pin")
    if not isinstance(name, str | int) or not str(name).strip():
        return None
    raw_type = spec.get("type")
    kind = pin_type(raw_type)
    voltage_value = spec.get("voltage", spec.get("level"))
    follows = isinstance(voltage_value, str) and voltage_value.strip().lower() in ("supply", "vcc", "vdd")
    voltage = None if follows else number(voltage_value)
    if raw_type in ("ground", "gnd"):
        voltage = 0.0
    # {"pin": "3", "name": "SDA"} (a datasheet pinout): the pin is its number, the name its label.
    number_value = spec.get("number") if spec.get("number") is not None else (
        spec.get("pin") if spec.get("name") else None)
    aliases = spec.get("aliases") or []
    return Pin(
        name=str(name).strip(), type=kind, voltage=voltage, follows_supply=follows,
        max_voltage=number(spec.get("max_voltage")),
        five_volt_tolerant=flag(first_of(spec, TOLERANT_KEYS)),
        vih=number(spec.get("vih")),
        supply_range=voltage_range(spec.get("supply_voltage")) if spec.get("supply_voltage") is not None else None,
        max_current_ma=number(first_of(spec, ("max_current_ma", "max_ma", "current_ma"))),
        input_only=flag(spec.get("input_only")) is True,
        number=str(number_value).strip() if number_value is not None else None,
        aliases=tuple(str(a).strip() for a in aliases if isinstance(a, str | int)) if isinstance(aliases, list)
        else (),
    )


@dataclass
class Part:
    name: str
    position: int = 0
    mpn: str | None = None
    manufacturer: str | None = None
    quantity: int = 1
    designators: list[str] = field(default_factory=list)
    unit_price: Decimal | None = None
    currency: str = "USD"
    supplier: str | None = None
    supplier_part_number: str | None = None
    footprint: str | None = None
    datasheet_url: str | None = None
    lifecycle: str = "unknown"
    specs: dict[str, Any] = field(default_factory=dict)
    alternatives: list[Any] = field(default_factory=list)
    id: str | None = None
    pinout: list[dict[str, Any]] | None = None  # from a datasheet analysis, when specs has no pins

    @property
    def ref(self) -> str:
        return self.designators[0] if self.designators else self.name

    @property
    def line_total(self) -> Decimal | None:
        return None if self.unit_price is None else self.unit_price * self.quantity

    @cached_property
    def match(self) -> Match | None:
        """The catalogue entry this line means (by MPN, name or alias), if any."""
        return match(self.name, self.mpn)

    @property
    def known(self) -> CataloguePart | None:
        return self.match.part if self.match else None

    def pins(self) -> dict[str, Pin] | None:
        """Known pins by upper-case name, number and alias; None when the part has no pin data.  The
        agent's pins (``specs.pins``, else the datasheet analysis) first, their gaps filled from the
        catalogue's pin of the same name; then the catalogue's other pins."""
        return self._pin_table

    @cached_property
    def _pin_table(self) -> dict[str, Pin] | None:
        specs_pins = self.specs.get("pins")
        source = specs_pins if isinstance(specs_pins, list) and specs_pins else self.pinout
        known = self.known
        out: dict[str, Pin] = {}
        for entry in source or ():
            pin = pin_from_spec(entry)
            if pin is None:
                continue
            catalogue_pin = known.pin(pin.name) if known else None
            if catalogue_pin is None and known and pin.number:
                catalogue_pin = known.pin(pin.number)
            if catalogue_pin is not None:
                pin = completed(pin, pin_from_catalogue(catalogue_pin))
            for key in (pin.name, pin.number, *pin.aliases):
                if key:
                    out.setdefault(key.upper(), pin)
        if known:
            for catalogue_pin in known.pins:
                if catalogue_pin.name.upper() in out:
                    continue
                pin = pin_from_catalogue(catalogue_pin)
                for key in (pin.name, *pin.aliases):
                    out.setdefault(key.upper(), pin)
        return out or None

    @property
    def kind(self) -> str | None:
        if self.known:
            return self.known.kind
        ref = self.ref.upper()
        if ref[:1] == "R" and ref[1:].isdigit() or "RESISTOR" in self.name.upper():
            return "resistor"
        if ref.startswith(("LED", "D")) and ref.lstrip("LED").isdigit() and "LED" in self.name.upper():
            return "led"
        return None

    @property
    def current_ma(self) -> float | None:
        """What it draws from its supply: the BOM's figure, else the catalogue's typical one."""
        value = number(first_of(self.specs, CURRENT_KEYS))
        if value is None and self.known:
            value = self.known.current_ma
        return value

    @property
    def i2c_address(self) -> int | None:
        value = i2c_address(first_of(self.specs, I2C_KEYS))
        if value is None and self.known and self.known.i2c:
            value = self.known.i2c[0]
        return value

    def pin_count(self) -> int | None:
        value = self.specs.get("pins")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, list):
            return len(value)
        if self.pinout:
            return len(self.pinout)
        return None

    @property
    def supply_range(self) -> tuple[float, float] | None:
        value = first_of(self.specs, SUPPLY_KEYS)
        found = voltage_range(value) if value is not None else None
        if found is None and self.known:
            found = self.known.supply
        return found

    @property
    def logic_voltage(self) -> float | None:
        value = number(first_of(self.specs, LOGIC_KEYS))
        if value is None and self.known:
            value = self.known.logic
        return value

    @property
    def five_volt_tolerant(self) -> bool | None:
        value = flag(first_of(self.specs, TOLERANT_KEYS))
        if value is None and self.known:
            value = self.known.five_volt_tolerant
        return value

    def matches(self, reference: str) -> bool:
        key = reference.strip().upper()
        return (key in (d.upper() for d in self.designators) or (self.mpn or "").upper() == key
                or self.name.upper() == key)


def part_finder(parts: list[Part]) -> Callable[[str], Part | None]:
    """``find(reference)``: the first part that ``matches`` it, by one dictionary lookup (a wiring of 2,000
    connections over a BOM of 1,000 parts would otherwise compare every end with every part)."""
    index: dict[str, Part] = {}
    for part in parts:
        for key in (*part.designators, part.mpn or "", part.name):
            if key:
                index.setdefault(key.upper(), part)

    def find(reference: str) -> Part | None:
        return index.get(reference.strip().upper())

    return find


@dataclass
class Wire:
    from_part: str
    from_pin: str
    to_part: str
    to_pin: str
    position: int = 0
    wire_color: str | None = None
    voltage: float | None = None
    signal: str | None = None
    step: int | None = None
    instruction: str | None = None
    id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.from_part}.{self.from_pin} → {self.to_part}.{self.to_pin}"


@dataclass
class SourceFile:
    filename: str
    content: str = ""
    language: str | None = None
    platform: str | None = None
    board: str | None = None
    framework: str | None = None
    success_unit: int | None = None
    libraries: list[str] = field(default_factory=list)
    position: int = 0


@dataclass
class Finding:
    rule: str
    severity: str  # error | warning | info
    message: str
    parts: list[str] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)  # wire positions (0-based, in the wiring document)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "message": self.message, "parts": self.parts,
                "pins": self.pins, "connections": self.connections}
