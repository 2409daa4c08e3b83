"""The documented shapes of bom, wiring and code artifacts (their ``content_json``).

These names are the contract agents write to; more fields are welcome and
kept.  An artifact of one of these types whose JSON does not fit is refused
with 422 before anything is written.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Open(BaseModel):
    """Extra fields are allowed and kept."""

    model_config = ConfigDict(extra="allow")


class BomPart(Open):
    name: Text
    mpn: Short | None = None
    manufacturer: Annotated[str, StringConstraints(max_length=200)] | None = None
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    designators: list[Short] = Field(default_factory=list)
    unit_price: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=4)] | None = None
    currency: Currency = "USD"
    supplier: Annotated[str, StringConstraints(max_length=200)] | None = None
    supplier_part_number: Short | None = None
    footprint: Annotated[str, StringConstraints(max_length=200)] | None = None
    datasheet_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    specs: dict[str, Any] = Field(default_factory=dict)
    alternatives: list[Any] = Field(default_factory=list)
    lifecycle: Literal["active", "nrnd", "eol", "obsolete", "unknown"] = "unknown"


class BomDocument(Open):
    parts: list[BomPart]


class Endpoint(Open):
    part: Short
    pin: Short


class WireConnection(Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    from_: Endpoint = Field(alias="from")
    to: Endpoint
    wire_color: Annotated[str, StringConstraints(max_length=32)] | None = None
    voltage: float | None = None
    signal: Annotated[str, StringConstraints(max_length=50)] | None = None
    step: Annotated[int, Field(ge=1)] | None = None
    instruction: Annotated[str, StringConstraints(max_length=5000)] | None = None
    warnings: list[str] = Field(default_factory=list)


class WiringDocument(Open):
    connections: list[WireConnection]


class CodeFile(Open):
    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    language: Short | None = None
    platform: Short | None = None
    board: Short | None = None
    framework: Short | None = None
    success_unit: Annotated[int, Field(ge=1, le=3)] | None = None
    content: str = ""
    libraries: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(default_factory=list)
    is_production_ready: bool = False


class CodeDocument(Open):
    files: list[CodeFile]


SHAPES: dict[str, TypeAdapter[Any]] = {
    "bom": TypeAdapter(BomDocument),
    "wiring": TypeAdapter(WiringDocument),
    "code": TypeAdapter(CodeDocument),
}


class ShapeError(ValueError):
    """The JSON does not fit its artifact type's shape; ``errors`` says where."""

    def __init__(self, kind: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"content_json is not a valid {kind} document")
        self.kind = kind
        self.errors = errors


def check_shape(kind: str, content_json: Any) -> Any:
    """Validate ``content_json`` for bom/wiring/code artifacts; other types take any JSON."""
    adapter = SHAPES.get(kind)
    if adapter is None or content_json is None:
        return content_json
    try:
        return adapter.validate_python(content_json)
    except ValidationError as exc:
        raise ShapeError(kind, [
            {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]) from None


def check_documents(bom: Any, wiring: Any = None, code: Any = None, **budget: Any) -> list[Any]:
    """The findings for documents as agents write them, without a database: parts, wires and files as the
    normalisation trigger would store them (used by the test corpus and the benchmark)."""
    from ohm.hardware import checks
    from ohm.hardware.model import Part, SourceFile, Wire

    parts = [Part(name=p.name, position=i, mpn=p.mpn, manufacturer=p.manufacturer, quantity=p.quantity,
                  designators=list(p.designators), unit_price=p.unit_price, currency=p.currency, supplier=p.supplier,
                  supplier_part_number=p.supplier_part_number, footprint=p.footprint, datasheet_url=p.datasheet_url,
                  lifecycle=p.lifecycle, specs=p.specs, alternatives=p.alternatives)
             for i, p in enumerate(SHAPES["bom"].validate_python(bom).parts)]
    wires = [Wire(c.from_.part, c.from_.pin, c.to.part, c.to.pin, position=i, wire_color=c.wire_color,
                  voltage=c.voltage, signal=c.signal, step=c.step, instruction=c.instruction)
             for i, c in enumerate(SHAPES["wiring"].validate_python(wiring).connections)] if wiring else []
    files = [SourceFile(filename=f.filename, content=f.content, language=f.language, platform=f.platform,
                        board=f.board, framework=f.framework, success_unit=f.success_unit, libraries=f.libraries,
                        position=i)
             for i, f in enumerate(SHAPES["code"].validate_python(code).files)] if code else []
    return checks.run_checks(parts, wires, files, **budget)
