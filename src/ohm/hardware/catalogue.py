"""OHM's part catalogue (``parts.toml``) and how a BOM line is matched to it (pure, no I/O after the load).

Agents name parts the way people do: "HC-SR04 ultrasonic sensor", "ESP32 DevKit V1", an MPN with or
without dashes, pins by their silkscreen names.  The catalogue holds what the datasheets say about
the boards and modules makers use; ``match`` finds the entry a BOM line means and says how sure it
is.  What the agent wrote in the BOM always wins over the catalogue (``ohm.hardware.model``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PinType = Literal["input", "output", "bidirectional", "tri_state", "passive", "free", "unspecified", "power_in",
                  "power_out", "open_collector", "open_emitter", "no_connect"]
Kind = Literal["board", "module", "sensor", "display", "actuator", "driver", "power", "led", "resistor", "passive",
               "ic"]
Volts = float
MilliAmps = float


class CataloguePin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40)
    aliases: tuple[str, ...] = ()
    type: PinType
    level: Volts | None = Field(None, ge=0, le=60, description="The level it drives or expects.")
    follows_supply: bool = False
    supply: tuple[Volts, Volts] | None = Field(None, description="This power pin's own supply range.")
    rail: bool = Field(False, description="A board's USB / 5 V pin: it passes a rail through, either way.")
    max_ma: MilliAmps | None = Field(None, gt=0, description="What the pin sources or sinks at most.")
    draw_ma: MilliAmps | None = Field(None, ge=0, description="What an input draws from its driver.")
    max_voltage: Volts | None = Field(None, gt=0)
    vih: Volts | None = Field(None, gt=0)
    five_volt_tolerant: bool | None = None
    input_only: bool = False
    strapping: bool = Field(False, description="Read at reset: a level pulled on it changes how the chip boots.")
    boot_level: Literal["high", "low", "any"] | None = Field(
        None, description="What a strapping pin must read at reset for a normal boot (any: harmless either way).")
    flash: bool = Field(False, description="Wired to the module's flash or PSRAM.")
    adc: Literal["ADC", "ADC1", "ADC2"] | None = None


class Regulator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Volts | None = None  # None: adjustable
    max_ma: MilliAmps = Field(gt=0)


class CataloguePart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    kind: Kind
    names: tuple[str, ...] = Field(min_length=1)
    mpns: tuple[str, ...] = ()
    manufacturer: str
    source: str = Field(pattern=r"^https?://",
                        description="The datasheet, user guide or schematic it was written from.")
    supply: tuple[Volts, Volts] | None = None
    logic: Volts | None = None
    five_volt_tolerant: bool | None = None
    current_ma: MilliAmps | None = Field(None, ge=0)
    peak_ma: MilliAmps | None = Field(None, ge=0)
    wifi: bool = False
    adc2_shared_with_wifi: bool = Field(False, description="ESP32: ADC2 cannot be read while Wi-Fi runs.")
    platform: str | None = None
    i2c: tuple[int, ...] = ()
    i2c_select: str | None = None
    regulator: Regulator | None = None
    vf: Volts | None = None
    max_ma: MilliAmps | None = None
    load: bool = Field(False, description="A coil or a motor: it is never driven from a signal pin.")
    pins: tuple[CataloguePin, ...] = Field(min_length=1)

    @field_validator("i2c")
    @classmethod
    def _seven_bit(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0x03 <= a <= 0x77 for a in value):
            raise ValueError("I2C addresses are 7-bit, 0x03-0x77")
        return value

    @model_validator(mode="after")
    def _pins_answer_once(self) -> CataloguePart:
        seen: dict[str, str] = {}
        for pin in self.pins:
            for label in (pin.name, *pin.aliases):
                key = label.upper()
                if seen.get(key, pin.name) != pin.name:
                    raise ValueError(f"{self.key}: {label!r} names both {seen[key]} and {pin.name}")
                seen[key] = pin.name
        for low_high in (self.supply, *(p.supply for p in self.pins)):
            if low_high is not None and low_high[0] > low_high[1]:
                raise ValueError(f"{self.key}: a supply range runs from low to high")
        return self

    @property
    def title(self) -> str:
        return self.names[0]

    def pin(self, label: str) -> CataloguePin | None:
        return _pin_index(self).get(label.strip().upper())


@cache
def _pin_index(part: CataloguePart) -> dict[str, CataloguePin]:
    return {label.upper(): pin for pin in part.pins for label in (pin.name, *pin.aliases)}


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    part: tuple[CataloguePart, ...]

    @model_validator(mode="after")
    def _keys_unique(self) -> Catalogue:
        keys = [p.key for p in self.part]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate keys: {', '.join(duplicates)}")
        return self


@cache
def catalogue() -> Catalogue:
    """The catalogue shipped in the package, validated (once per process)."""
    text = resources.files("ohm.hardware").joinpath("parts.toml").read_text(encoding="utf-8")
    return Catalogue.model_validate(tomllib.loads(text))


# --- matching -----------------------------------------------------------------------------------------------------

How = Literal["mpn", "name", "mpn in name", "name contains"]
CONFIDENCE: dict[How, float] = {"mpn": 1.0, "name": 0.95, "mpn in name": 0.85, "name contains": 0.7}

_TOKEN = re.compile(r"[A-Z0-9]+")


def tokens(text: str) -> list[str]:
    """Upper-case alphanumeric runs: "HC-SR04 ultrasonic" -> ["HC", "SR04", "ULTRASONIC"]; Ω reads as OHM."""
    return _TOKEN.findall(text.upper().replace("Ω", " OHM ").replace("µ", "U"))


def squashed(text: str) -> str:
    return "".join(tokens(text))


@dataclass(frozen=True)
class Match:
    part: CataloguePart
    how: How
    matched: str  # the catalogue name or MPN it matched

    @property
    def confidence(self) -> float:
        return CONFIDENCE[self.how]


@dataclass(frozen=True)
class _Index:
    exact_mpn: dict[str, tuple[CataloguePart, str]]
    exact_name: dict[str, tuple[CataloguePart, str]]
    # first token -> [(token sequence, part, label, is an mpn)], longest sequences first
    phrases: dict[str, list[tuple[tuple[str, ...], CataloguePart, str, bool]]]


@cache
def _index() -> _Index:
    exact_mpn: dict[str, tuple[CataloguePart, str]] = {}
    exact_name: dict[str, tuple[CataloguePart, str]] = {}
    phrases: dict[str, list[tuple[tuple[str, ...], CataloguePart, str, bool]]] = {}
    for part in catalogue().part:
        for mpn in part.mpns:
            exact_mpn.setdefault(squashed(mpn), (part, mpn))
        for name in part.names:
            exact_name.setdefault(squashed(name), (part, name))
        for label, is_mpn in [*((m, True) for m in part.mpns), *((n, False) for n in part.names)]:
            split = tuple(tokens(label))
            for sequence in {split, (squashed(label),)}:
                if sequence and sequence[0]:
                    phrases.setdefault(sequence[0], []).append((sequence, part, label, is_mpn))
    for entries in phrases.values():
        entries.sort(key=lambda e: (-sum(len(t) for t in e[0]), not e[3]))
    return _Index(exact_mpn, exact_name, phrases)


def match(name: str, mpn: str | None = None) -> Match | None:
    """The catalogue entry a BOM line means: its MPN, then its name, then a name or MPN inside its name
    (the longest one: "ESP32-S3-DevKitC-1 board" is the S3, not any ESP32)."""
    index = _index()
    if mpn:
        found = index.exact_mpn.get(squashed(mpn)) or index.exact_name.get(squashed(mpn))
        if found:
            return Match(found[0], "mpn", found[1])
    found = index.exact_name.get(squashed(name))
    if found:
        return Match(found[0], "name", found[1])
    found = index.exact_mpn.get(squashed(name))
    if found:
        return Match(found[0], "mpn", found[1])
    best: tuple[int, bool, Match] | None = None
    for words in _readings(name, mpn):
        for i, first in enumerate(words):
            for sequence, part, label, is_mpn in index.phrases.get(first, ()):
                if tuple(words[i:i + len(sequence)]) == sequence:
                    weight = sum(len(t) for t in sequence)
                    candidate = Match(part, "mpn in name" if is_mpn else "name contains", label)
                    if best is None or (weight, is_mpn) > (best[0], best[1]):
                        best = (weight, is_mpn, candidate)
                    break
    return best[2] if best else None


# Words that say how many or how much, not what: "Relay 5V 1 channel module" is a relay module.
_NOISE = re.compile(r"^(\d+(V\d*|MA|A|W|CH|PCS|X\d+)?|V\d+|CHANNELS?|CH|PCS|PACK|KIT|SET|OF|WITH|FOR|AND|THE|A|NEW"
                    r"|ORIGINAL|GENUINE|COMPATIBLE|CLONE)$")


def _readings(name: str, mpn: str | None) -> list[list[str]]:
    words = tokens(name)
    readings = [words, tokens(mpn or "")]
    plain = [w for w in words if not _NOISE.match(w)]
    if plain != words:
        readings.append(plain)
    return readings
