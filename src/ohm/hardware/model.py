"""What the checks and exports read: parts with their pins, wires, firmware files (pure data, no I/O).

The store builds these from the normalised rows (parts, connections,
code_files) and, for parts without pin data in their specs, from the
datasheet analysis a part points at.  Pin electrical types are KiCad's
(input, output, bidirectional, tri_state, passive, free, unspecified,
power_in, power_out, open_collector, open_emitter, no_connect); common
aliases are accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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
        text = value.strip().lower().removesuffix("v").removesuffix("ma").strip()
        try:
            return float(text)
        except ValueError:
            return None
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
    max_current_ma: float | None = None      # what a power output can source
    number: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def is_ground(self) -> bool:
        return self.name.upper() in GROUND_NAMES or (self.type in ("power_in", "power_out") and self.voltage == 0)


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
    voltage_value = spec.get("voltage")
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
        five_volt_tolerant=spec.get("five_volt_tolerant") if isinstance(spec.get("five_volt_tolerant"), bool)
        else None,
        vih=number(spec.get("vih")),
        supply_range=voltage_range(spec.get("supply_voltage")) if spec.get("supply_voltage") is not None else None,
        max_current_ma=number(spec.get("max_current_ma")),
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

    def pins(self) -> dict[str, Pin] | None:
        """Known pins by upper-case name, number and alias; None when the part has no pin data."""
        specs_pins = self.specs.get("pins")
        source = specs_pins if isinstance(specs_pins, list) and specs_pins else self.pinout
        if not source:
            return None
        out: dict[str, Pin] = {}
        for entry in source:
            pin = pin_from_spec(entry)
            if pin is None:
                continue
            for key in (pin.name, pin.number, *pin.aliases):
                if key:
                    out.setdefault(key.upper(), pin)
        return out or None

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
        value = self.specs.get("supply_voltage", self.specs.get("voltage"))
        return voltage_range(value) if value is not None else None

    @property
    def logic_voltage(self) -> float | None:
        return number(self.specs.get("logic_voltage"))

    @property
    def five_volt_tolerant(self) -> bool | None:
        value = self.specs.get("five_volt_tolerant")
        return value if isinstance(value, bool) else None

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
