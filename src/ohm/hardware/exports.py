"""Maker exports: BOM CSV (JLCPCB assembly or generic), a WireViz harness, a PlatformIO project (pure)."""

from __future__ import annotations

import csv
import io
import posixpath
import re
import zipfile
from collections.abc import Iterable

import yaml

from ohm import install_hint
from ohm.hardware.checks import (
    DEFAULT_BOARDS,
    LIBRARY,
    board_platform,
    bom_platforms,
    bom_totals,
    colour_code,
    platform_of,
)
from ohm.hardware.model import Part, SourceFile, Wire, part_finder

LCSC_NUMBER = re.compile(r"^C\d{3,}$")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv(header: list[str], rows: Iterable[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def lcsc_number(part: Part) -> str:
    for value in (part.specs.get("lcsc"), part.specs.get("lcsc_part"), part.supplier_part_number):
        if isinstance(value, str) and LCSC_NUMBER.match(value.strip()):
            return value.strip()
    return ""


def bom_csv_jlcpcb(parts: list[Part]) -> str:
    """JLCPCB's assembly BOM: Comment, Designator, Footprint, LCSC Part #."""
    return _csv(["Comment", "Designator", "Footprint", "LCSC Part #"], (
        [p.mpn or p.name, ",".join(p.designators), p.footprint or "", lcsc_number(p)] for p in parts))


def bom_csv_generic(parts: list[Part]) -> str:
    """Every line with prices and suppliers, and a total per currency."""
    rows = [[i + 1, " ".join(p.designators), p.name, p.mpn or "", p.manufacturer or "", p.quantity,
             "" if p.unit_price is None else f"{p.unit_price:.4f}",
             "" if p.line_total is None else f"{p.line_total:.2f}", p.currency, p.supplier or "",
             p.supplier_part_number or "", p.footprint or "", p.lifecycle, p.datasheet_url or "",
             "; ".join(str(a.get("mpn") or a.get("name")) if isinstance(a, dict) else str(a) for a in p.alternatives)]
            for i, p in enumerate(parts)]
    for currency, total in sorted(bom_totals(parts).items()):
        rows.append(["", "", "Total", "", "", "", "", f"{total:.2f}", currency, "", "", "", "", "", ""])
    return _csv(["Line", "Designators", "Name", "MPN", "Manufacturer", "Quantity", "Unit price", "Line total",
                 "Currency", "Supplier", "Supplier part number", "Footprint", "Lifecycle", "Datasheet",
                 "Alternatives"], rows)


def wireviz_yaml(parts: list[Part], wires: list[Wire], *, title: str | None = None) -> str:
    """A WireViz harness: one connector per part (the pins used), one single-wire cable per connection."""
    connectors: dict[str, dict] = {}
    find_part = part_finder(parts)

    def connector(ref: str) -> str:
        part = find_part(ref)
        key = part.ref if part else ref.strip()
        if key not in connectors:
            entry: dict = {"pinlabels": []}
            if part is not None:
                entry["type"] = part.name
                if part.mpn:
                    entry["mpn"] = part.mpn
            connectors[key] = entry
        return key

    def pin(key: str, pin_name: str) -> str:
        labels = connectors[key]["pinlabels"]
        label = pin_name.strip()
        if label not in labels:
            labels.append(label)
        return label

    cables: dict[str, dict] = {}
    connections = []
    for i, wire in enumerate(sorted(wires, key=lambda w: (w.step or 0, w.position)), start=1):
        a = connector(wire.from_part)
        b = connector(wire.to_part)
        cable: dict = {"wirecount": 1, "category": "bundle"}
        code = colour_code(wire.wire_color)
        if code is not None and not code.startswith("#"):
            cable["colors"] = [code]
        notes = " ".join(x for x in (f"step {wire.step}" if wire.step else None,
                                     f"{wire.voltage:g} V" if wire.voltage is not None else None,
                                     wire.signal, wire.instruction) if x)
        if notes:
            cable["notes"] = notes
        cables[f"W{i}"] = cable
        connections.append([{a: [pin(a, wire.from_pin)]}, {f"W{i}": [1]}, {b: [pin(b, wire.to_pin)]}])
    document: dict = {}
    if title:
        document["metadata"] = {"title": title}
    document |= {"connectors": connectors, "cables": cables, "connections": connections}
    return yaml.dump(document, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                     allow_unicode=True)


# --- PlatformIO ------------------------------------------------------------------------------------------------------

SOURCE_EXTENSIONS = {".c", ".cpp", ".cc", ".cxx", ".h", ".hpp", ".ino", ".s", ".S"}
# What `pio run` builds without running anything of the project's: sources, headers, tests and data. Not
# exported: lib/ (a library's library.json can name an extraScript that runs at build time), boards/,
# Python files (extra_scripts), and a platformio.ini of the agent's (OHM writes its own).
EXPORTED_DIRS = ("src/", "include/", "test/", "data/")
# Values written into platformio.ini: one line each, nothing that could start another key or section.
PLATFORM_VALUE = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}|https://[\w.\-/~%]+")
BOARD_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+\-]{0,63}")
FRAMEWORK_VALUE = re.compile(r"[a-z0-9][a-z0-9_\-]*(?:, ?[a-z0-9][a-z0-9_\-]*)*")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ExportError(ValueError):
    pass


def _safe_path(filename: str) -> str | None:
    """Where a file goes in the exported project, or None when it is not exported (see EXPORTED_DIRS)."""
    path = posixpath.normpath(filename.replace("\\", "/")).lstrip("/")
    if path.startswith("..") or path in (".", "") or CONTROL.search(path):
        raise ExportError(f"file name {filename!r} leaves the project")
    if path.endswith(".py") or posixpath.basename(path) in ("platformio.ini", "library.json", "library.properties"):
        return None
    if path.startswith(EXPORTED_DIRS) or path == "README.md":
        return path
    if "/" not in path and posixpath.splitext(path)[1] in SOURCE_EXTENSIONS:
        return f"src/{path}"
    return None


def _ini_value(kind: str, value: str, pattern: re.Pattern[str]) -> str:
    if not pattern.fullmatch(value):
        raise ExportError(f"{kind} {value!r} is not a value platformio.ini can hold (one line of "
                          f"{pattern.pattern})")
    return value


def platformio_target(files: list[SourceFile], parts: list[Part]) -> tuple[str, str, str]:
    """(platform, board, framework) from the files, else the BOM's microcontroller."""
    platform = next((platform_of(f.platform) for f in files if f.platform), None)
    board = next((f.board.strip() for f in files if f.board), None)
    framework = next((f.framework.strip() for f in files if f.framework), None) or "arduino"
    if platform is None and board is not None:
        platform = board_platform(board)
    if platform is None:
        platform = next(iter(bom_platforms(parts)), None)
    if platform is None:
        raise ExportError("no platform: give the code files a platform or board, or put a microcontroller in "
                          "the BOM")
    return platform, board or DEFAULT_BOARDS.get(platform, platform), framework


def platformio_zip(files: list[SourceFile], parts: list[Part], *, name: str, unit: int | None = None) -> bytes:
    """A PlatformIO project for success unit ``unit`` (default: the highest): files of units up to it."""
    if not files:
        raise ExportError("the project has no code files")
    units = sorted({f.success_unit for f in files if f.success_unit is not None})
    target = unit if unit is not None else (units[-1] if units else None)
    chosen = [f for f in files if f.success_unit is None or target is None or f.success_unit <= target]
    if not chosen:
        raise ExportError(f"no files in success unit {unit}")
    platform, board, framework = platformio_target(chosen, parts)
    platform = _ini_value("platform", platform, PLATFORM_VALUE)
    board = _ini_value("board", board, BOARD_VALUE)
    framework = _ini_value("framework", framework, FRAMEWORK_VALUE)
    libraries: list[str] = []
    for f in chosen:
        for library in f.libraries:
            if library.strip() and library.strip() not in libraries:
                libraries.append(_ini_value("library", library.strip(), LIBRARY))
    env = re.sub(r"[^A-Za-z0-9_-]", "_", board)
    title = CONTROL.sub(" ", name)
    ini = ["; PlatformIO project exported from OHM", f"; {title}" + (f", success unit {target}" if target else ""), "",
           "[platformio]", f"default_envs = {env}", "", f"[env:{env}]", f"platform = {platform}", f"board = {board}",
           f"framework = {framework}", "monitor_speed = 115200"]
    if libraries:
        ini.append("lib_deps =")
        ini += [f"    {library}" for library in libraries]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("platformio.ini", "\n".join(ini) + "\n")
        written = {"platformio.ini"}
        skipped = []
        for f in sorted(chosen, key=lambda f: (f.success_unit or 0, f.position)):
            path = _safe_path(f.filename)
            if path is None:
                skipped.append(CONTROL.sub(" ", f.filename))
                continue
            if path in written:
                raise ExportError(f"two files would be written to {path}")
            written.add(path)
            archive.writestr(path, f.content)
        if "README.md" not in written:
            lines = [f"# {name}", "", f"Board `{board}` ({platform}, {framework}).", "",
                     "Build and upload: `pio run -t upload`; serial monitor: `pio device monitor`.", ""]
            if units:
                lines += ["Success units: " + ", ".join(
                    f"{u}: " + ", ".join(f.filename for f in files if f.success_unit == u) for u in units),
                    f"This export contains units up to {target}.", ""]
            if skipped:
                lines += ["Not exported (only src/, include/, test/ and data/ are; nothing that runs at build "
                          "time): " + ", ".join(skipped), ""]
            archive.writestr("README.md", "\n".join(lines))
    return buffer.getvalue()


class RendererMissing(RuntimeError):
    """Rendering needs the optional ``wireviz`` package and Graphviz's ``dot``."""


def render_wireviz_svg(document: str) -> str:
    import shutil

    try:
        from wireviz import wireviz
    except ImportError:
        raise RendererMissing(f"rendering needs the wireviz package ({install_hint('wireviz')})") from None
    if shutil.which("dot") is None:
        raise RendererMissing("rendering needs Graphviz's dot (Debian: apt-get install graphviz)")
    return str(wireviz.parse(document, return_types="svg"))


def can_render() -> bool:
    """Whether this server can draw wiring diagrams (the wireviz package and Graphviz's dot)."""
    import importlib.util
    import shutil

    return importlib.util.find_spec("wireviz") is not None and shutil.which("dot") is not None
