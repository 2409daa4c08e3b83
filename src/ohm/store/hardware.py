"""A project's BOM, wiring and code as data: views, stored checks, cross-project part queries, exports.

A project's current BOM (wiring, code) is the current version of its most
recently changed ``bom`` (``wiring``, ``code``) artifact; ``version=`` picks an
older version of that artifact.  Rows come from the normalisation trigger
(migration 0005); the rules are the pure functions of ``ohm.hardware.checks``.
Check runs are stored per (BOM, wiring, code) version combination, computed
the first time anyone asks (or when a version is written through the API).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from ohm.auth import Identity
from ohm.db.session import Conn, Database
from ohm.hardware import checks as rules
from ohm.hardware import exports
from ohm.hardware.model import Finding, Part, SourceFile, Wire
from ohm.models import (
    BomLine,
    BomSummary,
    BomView,
    CatalogueMatch,
    Checks,
    CheckSummary,
    CodeFileOut,
    CodeView,
    DatasheetLink,
    FindingOut,
    PartHit,
    Project,
    SuccessUnit,
    WireEnd,
    WiringLine,
    WiringView,
)
from ohm.offload import off_loop
from ohm.store._common import first
from ohm.store.errors import Invalid, NotAvailable, NotFound

RULES_VERSION = 2  # 2: the part catalogue, pin, bus and ground rules
KINDS = ("bom", "wiring", "code")

PROJECT_SQL = """
select p.id, p.user_id, p.name, p.description, p.goal, p.location, p.budget_amount, p.budget_currency,
       p.requirements, p.workflow_steps, p.success_metrics, p.status::text as status, p.spend_limit_usd,
       p.created_at, p.updated_at
  from public.projects p where p.id = %s
"""
CURRENT_SQL = """
select a.id as artifact_id, a.current_version, v.id as version_id, v.version_number as version
  from public.artifacts a
  join public.artifact_versions v on v.artifact_id = a.id and v.version_number = coalesce(%s, a.current_version)
 where a.id = (select a2.id from public.artifacts a2
                where a2.project_id = %s and a2.type = %s::public.artifact_type
                order by a2.updated_at desc, a2.id desc limit 1)
"""
# The rows of a version come as one JSON array in text: the event loop reads a string and hands it to a worker
# process, which parses it (building 1,000 rows of dictionaries and UUIDs on the loop, and pickling them to
# the worker, was most of a BOM view's time on the loop).  Numerics come as strings, read back as Decimal.
PARTS_SQL = """
select coalesce(json_agg(t order by t.position), '[]')::text from (
select p.id, p.position, p.name, p.mpn, p.manufacturer, p.quantity, p.designators, p.specs,
       p.unit_price::text as unit_price, p.currency, p.supplier, p.supplier_part_number, p.footprint,
       p.datasheet_url, p.alternatives, p.lifecycle::text as lifecycle, p.voltage_min::text as voltage_min,
       p.voltage_max::text as voltage_max, p.compatibility_warnings, d.id as analysis_id,
       d.part_number as analysis_part_number,
       coalesce(d.pinout, lib.pins) as analysis_pinout, d.attachment_id as analysis_attachment_id,
       lib.library || ':' || lib.name as library_symbol
  from public.parts p left join public.datasheet_analyses d on d.id = p.datasheet_analysis_id
  -- no datasheet analysis: the pins of a KiCad symbol of that MPN (or name), if one was imported
  left join lateral (select l.library, l.name, l.pins from public.part_library l
                      where d.id is null
                        and l.match_key = upper(regexp_replace(coalesce(p.mpn, p.name), '[^A-Za-z0-9]', '', 'g'))
                      order by l.library, l.name limit 1) lib on true
 where p.artifact_version_id = %s) t
"""
WIRES_SQL = """
select coalesce(json_agg(t order by t.step_number nulls first, t.position), '[]')::text from (
select c.id, c.position, c.from_part, c.from_pin, c.to_part, c.to_pin, c.from_part_id, c.to_part_id, c.wire_color,
       c.voltage_level::text as voltage_level, c.signal_type, c.step_number, c.instruction, c.warnings
  from public.connections c where c.artifact_version_id = %s) t
"""
FILES_SQL = """
select coalesce(json_agg(t order by t.success_unit nulls first, t.position), '[]')::text from (
select f.id, f.position, f.filename, f.language, f.platform, f.board, f.framework, f.success_unit, f.libraries,
       f.is_production_ready, f.content
  from public.code_files f where f.artifact_version_id = %s) t
"""
NUMERIC_COLUMNS = ("unit_price", "voltage_min", "voltage_max", "voltage_level")


@dataclass
class Current:
    artifact_id: uuid.UUID
    current_version: int
    version_id: uuid.UUID
    version: int


async def current(conn: Conn, project_id: uuid.UUID, kind: str, version: int | None = None
                  ) -> Current | None:
    cur = await conn.execute(CURRENT_SQL, (version, project_id, kind))
    row = await cur.fetchone()
    return Current(**row) if row else None


async def _require(conn: Conn, project_id: uuid.UUID, kind: str, version: int | None) -> Current:
    found = await current(conn, project_id, kind, version)
    if found is None:
        if version is not None and await current(conn, project_id, kind) is not None:
            raise NotFound(f"the project's {kind} has no version {version}")
        raise NotFound(f"the project has no {kind} yet")
    return found


async def _project(conn: Conn, identity: Identity, project_id: uuid.UUID) -> Project:
    if identity.role == "anon":
        raise NotFound("project not found")
    cur = await conn.execute(PROJECT_SQL, (project_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound("project not found")
    return Project.model_validate(row)


def part_from_row(row: dict[str, Any]) -> Part:
    return Part(
        name=row["name"], position=row["position"], mpn=row["mpn"], manufacturer=row["manufacturer"],
        quantity=row["quantity"], designators=list(row["designators"]), unit_price=row["unit_price"],
        currency=row["currency"], supplier=row["supplier"], supplier_part_number=row["supplier_part_number"],
        footprint=row["footprint"], datasheet_url=row["datasheet_url"], lifecycle=row["lifecycle"],
        specs=row["specs"] or {}, alternatives=row["alternatives"] or [], id=str(row["id"]),
        pinout=row["analysis_pinout"] or None)


def wire_from_row(row: dict[str, Any]) -> Wire:
    return Wire(from_part=row["from_part"], from_pin=row["from_pin"], to_part=row["to_part"], to_pin=row["to_pin"],
                position=row["position"], wire_color=row["wire_color"],
                voltage=float(row["voltage_level"]) if row["voltage_level"] is not None else None,
                signal=row["signal_type"], step=row["step_number"], instruction=row["instruction"], id=str(row["id"]))


def file_from_row(row: dict[str, Any]) -> SourceFile:
    return SourceFile(filename=row["filename"], content=row["content"], language=row["language"],
                      platform=row["platform"], board=row["board"], framework=row["framework"],
                      success_unit=row["success_unit"], libraries=list(row["libraries"]), position=row["position"])


async def _rows(conn: Conn, sql: str, version: Current | None) -> str:
    """A version's parts, connections or files as the JSON text of an array (``[]`` without a version)."""
    if version is None:
        return "[]"
    cur = await conn.execute(sql, (version.version_id,), binary=False)
    row = await first(cur)
    return str(next(iter(row.values())))


def parsed(rows: str) -> list[dict[str, Any]]:
    """``_rows`` as dictionaries (in a worker process): numerics as Decimal, as psycopg would give them."""
    result = json.loads(rows)
    for row in result:
        for column in NUMERIC_COLUMNS:
            if row.get(column) is not None:
                row[column] = Decimal(row[column])
    return result


def parts_of(rows: str) -> list[Part]:
    return [part_from_row(r) for r in parsed(rows)]


def wires_of(rows: str) -> list[Wire]:
    return [wire_from_row(r) for r in parsed(rows)]


def files_of(rows: str) -> list[SourceFile]:
    return [file_from_row(r) for r in parsed(rows)]


def _findings(found: list[Finding], prefixes: tuple[str, ...]) -> list[FindingOut]:
    return [FindingOut(**f.as_dict()) for f in found if f.rule.startswith(prefixes)]


def _run(project: Project, parts: list[Part], wires: list[Wire], files: list[SourceFile]) -> list[Finding]:
    return rules.run_checks(parts, wires, files, budget=project.budget_amount,
                            budget_currency=project.budget_currency)


def _check_rows(project: Project, part_rows: str, wire_rows: str, file_rows: str
                ) -> tuple[str, dict[str, int], str]:
    """In a worker process: the findings of a project's current documents, as JSON text, with their counts, and
    each BOM line's error and warning messages by position (for ``parts.compatibility_warnings``)."""
    parts = parts_of(part_rows)
    found = _run(project, parts, wires_of(wire_rows), files_of(file_rows))
    by_ref = _messages_by([f for f in found if f.severity != "info"], lambda f: f.parts)
    per_line = {str(p.position): messages for p in parts
                if (messages := _first_seen([m for ref in (p.ref, *p.designators) for m in by_ref.get(ref, ())]))}
    return json.dumps([f.as_dict() for f in found]), rules.summary(found), json.dumps(per_line)


# --- stored checks ----------------------------------------------------------------------------------------


@dataclass
class CheckRun:
    findings: str  # the stored JSON array as text: a run can hold thousands of findings, never parsed on the loop
    errors: int
    warnings: int
    infos: int
    checked_at: datetime
    versions: dict[str, int | None]

    def summary(self) -> CheckSummary:
        return CheckSummary(errors=self.errors, warnings=self.warnings, infos=self.infos, checked_at=self.checked_at,
                            bom_version=self.versions["bom"], wiring_version=self.versions["wiring"],
                            code_version=self.versions["code"])


async def ensure_checks(conn: Conn, project: Project) -> CheckRun | None:
    """The stored run for the project's current versions, running the checks first if there is none."""
    versions = {kind: await current(conn, project.id, kind) for kind in KINDS}
    if not any(versions.values()):
        return None
    ids = [v.version_id if (v := versions[k]) else None for k in KINDS]
    numbers = {k: v.version if (v := versions[k]) else None for k in KINDS}
    lookup = """select findings::text as findings, errors, warnings, infos, created_at from public.check_runs
                 where project_id = %s and bom_version_id is not distinct from %s
                   and wiring_version_id is not distinct from %s and code_version_id is not distinct from %s
                   and rules_version = %s"""
    cur = await conn.execute(lookup, (project.id, *ids, RULES_VERSION))
    row = await cur.fetchone()
    if row is None:
        found, counts, per_line = await off_loop(  # CPU work: off the event loop
            _check_rows, project, await _rows(conn, PARTS_SQL, versions["bom"]),
            await _rows(conn, WIRES_SQL, versions["wiring"]), await _rows(conn, FILES_SQL, versions["code"]))
        if versions["bom"] is not None:
            # The BOM rows say what the checks of the current versions found about them.
            await conn.execute(
                """update public.parts p
                      set compatibility_warnings =
                            array(select jsonb_array_elements_text(%s::jsonb -> p.position::text))
                    where p.artifact_version_id = %s""", (per_line, versions["bom"].version_id))
        await conn.execute(
            """insert into public.check_runs
                 (user_id, project_id, bom_version_id, wiring_version_id, code_version_id, rules_version, findings,
                  errors, warnings, infos)
               values (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)
               on conflict do nothing""",
            (project.user_id, project.id, *ids, RULES_VERSION, found,
             counts["errors"], counts["warnings"], counts["infos"]))
        cur = await conn.execute(lookup, (project.id, *ids, RULES_VERSION))
        row = await first(cur)
    return CheckRun(findings=row["findings"], errors=row["errors"], warnings=row["warnings"], infos=row["infos"],
                    checked_at=row["created_at"], versions=numbers)


async def recheck_after_write(conn: Conn, project_id: uuid.UUID | None) -> None:
    """Run and store the checks of a project whose BOM, wiring or code just got a version."""
    if project_id is None:
        return
    cur = await conn.execute(PROJECT_SQL, (project_id,))
    row = await cur.fetchone()
    if row is not None:
        await ensure_checks(conn, Project.model_validate(row))


async def get_checks(db: Database, identity: Identity, project_id: uuid.UUID) -> bytes:
    """The ``Checks`` document as JSON: the summary, then the stored findings spliced in as PostgreSQL wrote them."""
    async with db.acting_as(identity) as conn:
        project = await _project(conn, identity, project_id)
        run = await ensure_checks(conn, project)
    if run is None:
        return Checks(errors=0, warnings=0, infos=0, checked_at=None, bom_version=None, wiring_version=None,
                      code_version=None, findings=[]).model_dump_json().encode()
    summary = run.summary().model_dump_json()
    return f'{summary[:-1]},"findings":{run.findings}}}'.encode()


# --- views --------------------------------------------------------------------------------------------------


async def bom_summary(conn: Conn, project: Project) -> BomSummary | None:
    bom = await current(conn, project.id, "bom")
    if bom is None:
        return None
    return await off_loop(_bom_summary, project, bom, await _rows(conn, PARTS_SQL, bom))


def _bom_summary(project: Project, bom: Current, rows: str) -> BomSummary:
    parts = parts_of(rows)
    totals = rules.bom_totals(parts)
    total = totals.get(project.budget_currency)
    over = None if project.budget_amount is None or total is None else total > project.budget_amount
    return BomSummary(artifact_id=bom.artifact_id, version=bom.version, lines=len(parts),
                      quantity=sum(p.quantity for p in parts), totals=_money(totals),
                      budget_amount=project.budget_amount, budget_currency=project.budget_currency, over_budget=over)


def _money(totals: dict[str, Decimal]) -> dict[str, Decimal]:
    return {currency: amount.quantize(Decimal("0.01")) for currency, amount in sorted(totals.items())}


def _dumped(view: Any, *args: Any) -> bytes:
    """In a worker process: build a view and write its JSON there (the loop only sends rows and gets bytes)."""
    built: BaseModel = view(*args)
    return built.model_dump_json().encode()


async def bom_view(db: Database, identity: Identity, project_id: uuid.UUID, version: int | None = None) -> bytes:
    """The ``BomView`` document as JSON."""
    async with db.acting_as(identity) as conn:
        project = await _project(conn, identity, project_id)
        bom = await _require(conn, project_id, "bom", version)
        rows = await _rows(conn, PARTS_SQL, bom)
    return await off_loop(_dumped, _bom_view, project, bom, rows)  # checks of up to 1,000 parts: in a worker


def _bom_view(project: Project, bom: Current, part_rows: str) -> BomView:
    rows = parsed(part_rows)
    parts = [part_from_row(r) for r in rows]
    found = rules.check_bom(parts, project.budget_amount, project.budget_currency)
    by_ref = _messages_by(found, lambda f: f.parts)
    lines = []
    for row, part in zip(rows, parts, strict=True):
        datasheet = None
        if row["analysis_id"] is not None:
            attachment = row["analysis_attachment_id"]
            datasheet = DatasheetLink(analysis_id=row["analysis_id"], part_number=row["analysis_part_number"],
                                      attachment_id=attachment,
                                      content_url=f"/v1/attachments/{attachment}/content" if attachment else None)
        lines.append(BomLine(
            id=row["id"], position=row["position"], designators=part.designators, name=part.name, mpn=part.mpn,
            manufacturer=part.manufacturer, quantity=part.quantity, unit_price=part.unit_price,
            line_total=part.line_total, currency=part.currency, supplier=part.supplier,
            supplier_part_number=part.supplier_part_number, footprint=part.footprint,
            datasheet_url=part.datasheet_url, datasheet=datasheet, specs=part.specs, alternatives=part.alternatives,
            lifecycle=part.lifecycle, voltage_min=row["voltage_min"], voltage_max=row["voltage_max"],
            catalogue=CatalogueMatch(key=part.match.part.key, name=part.match.part.title, kind=part.match.part.kind,
                                     matched=part.match.matched, how=part.match.how,
                                     confidence=part.match.confidence, source=part.match.part.source)
            if part.match else None,
            warnings=_first_seen([m for key in (part.ref, *part.designators) for m in by_ref.get(key, ())]),
            compatibility_warnings=row["compatibility_warnings"] or [], kicad_symbol=row["library_symbol"]))
    return BomView(project_id=project.id, artifact_id=bom.artifact_id, version=bom.version,
                   current_version=bom.current_version, parts=lines, totals=_money(rules.bom_totals(parts)),
                   budget_amount=project.budget_amount, budget_currency=project.budget_currency,
                   findings=_findings(found, ("bom.",)))


def _messages_by(found: list[Finding], keys: Any) -> dict[Any, list[str]]:
    """Each finding's message under each thing it names: one pass, not one per line (1,000 parts, 1,000
    findings were a million comparisons on every BOM view)."""
    index: dict[Any, list[str]] = {}
    for finding in found:
        for key in keys(finding):
            index.setdefault(key, []).append(finding.message)
    return index


def _first_seen(messages: list[str]) -> list[str]:
    return list(dict.fromkeys(messages))


async def wiring_view(db: Database, identity: Identity, project_id: uuid.UUID,
                      version: int | None = None) -> bytes:
    """The ``WiringView`` document as JSON."""
    async with db.acting_as(identity) as conn:
        project = await _project(conn, identity, project_id)
        wiring = await _require(conn, project_id, "wiring", version)
        rows = await _rows(conn, WIRES_SQL, wiring)
        part_rows = await _rows(conn, PARTS_SQL, await current(conn, project_id, "bom"))
    return await off_loop(_dumped, _wiring_view, project, wiring, rows, part_rows)


def _wiring_view(project: Project, wiring: Current, wire_rows: str, part_rows: str) -> WiringView:
    rows = parsed(wire_rows)
    found = _run(project, parts_of(part_rows), [wire_from_row(r) for r in rows], [])
    by_position = _messages_by(found, lambda f: f.connections)
    lines = [WiringLine(
        id=row["id"], position=row["position"], step=row["step_number"],
        from_=WireEnd(part=row["from_part"], pin=row["from_pin"], part_id=row["from_part_id"]),
        to=WireEnd(part=row["to_part"], pin=row["to_pin"], part_id=row["to_part_id"]),
        wire_color=row["wire_color"], voltage=row["voltage_level"], signal=row["signal_type"],
        instruction=row["instruction"], warnings=list(row["warnings"]) + by_position.get(row["position"], []))
        for row in rows]
    return WiringView(project_id=project.id, artifact_id=wiring.artifact_id, version=wiring.version,
                      current_version=wiring.current_version, connections=lines,
                      findings=_findings(found, ("wiring.", "voltage.", "power.")))


async def code_view(db: Database, identity: Identity, project_id: uuid.UUID, version: int | None = None) -> bytes:
    """The ``CodeView`` document as JSON."""
    async with db.acting_as(identity) as conn:
        await _project(conn, identity, project_id)
        code = await _require(conn, project_id, "code", version)
        rows = await _rows(conn, FILES_SQL, code)
        part_rows = await _rows(conn, PARTS_SQL, await current(conn, project_id, "bom"))
    return await off_loop(_dumped, _code_view, project_id, code, rows, part_rows)


def _code_view(project_id: uuid.UUID, code: Current, file_rows: str, part_rows: str) -> CodeView:
    rows = parsed(file_rows)
    found = rules.check_code([file_from_row(r) for r in rows], parts_of(part_rows))
    units: dict[int | None, list[CodeFileOut]] = {}
    for row in rows:
        units.setdefault(row["success_unit"], []).append(CodeFileOut(**row))
    return CodeView(project_id=project_id, artifact_id=code.artifact_id, version=code.version,
                    current_version=code.current_version,
                    units=[SuccessUnit(unit=u, files=f) for u, f in units.items()],
                    findings=_findings(found, ("code.",)))


# --- across projects ----------------------------------------------------------------------------------------


async def search_parts(db: Database, identity: Identity, *, q: str | None = None, voltage: float | None = None,
                       project_id: uuid.UUID | None = None, limit: int = 100) -> list[PartHit]:
    """Parts of the current BOMs of the caller's projects (and chats): by name / MPN, by supply voltage."""
    if not 1 <= limit <= 500:
        raise Invalid("limit must be between 1 and 500")
    if identity.role == "anon":
        return []
    where, params = ["v.version_number = a.current_version"], list[Any]()
    if q is not None:
        term = q.strip()
        if not term:
            raise Invalid("q must not be blank")
        where.append("(p.name ilike %s or p.mpn ilike %s or p.manufacturer ilike %s)")
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern, pattern, pattern]
    if voltage is not None:
        where.append("p.voltage_min <= %s and %s <= p.voltage_max")
        params += [voltage, voltage]
    if project_id is not None:
        where.append("a.project_id = %s")
        params.append(project_id)
    async with db.acting_as(identity) as conn:
        cur = await conn.execute(
            f"""select p.id, p.name, p.mpn, p.manufacturer, p.quantity, p.designators, p.voltage_min, p.voltage_max,
                       p.unit_price, p.currency, a.project_id, pr.name as project_name, a.id as artifact_id,
                       v.version_number as version
                  from public.parts p
                  join public.artifact_versions v on v.id = p.artifact_version_id
                  join public.artifacts a on a.id = v.artifact_id
                  left join public.projects pr on pr.id = a.project_id
                 where {' and '.join(where)}
                 order by pr.name nulls last, a.id, p.position limit %s""", (*params, limit))
        return [PartHit(**r) for r in await cur.fetchall()]


# --- exports ---------------------------------------------------------------------------------------------------


@dataclass
class Export:
    filename: str
    media_type: str
    body: bytes


def _slug(name: str) -> str:
    slug = "".join(ch.lower() if ch.isascii() and ch.isalnum() else "-" for ch in name).strip("-")
    return "-".join(part for part in slug.split("-") if part)[:60] or "project"


# The exports run in a worker process from the rows as read: parsing them into parts is part of the work.


def _bom_csv(fmt: str, rows: str) -> str:
    parts = parts_of(rows)
    return exports.bom_csv_jlcpcb(parts) if fmt == "jlcpcb" else exports.bom_csv_generic(parts)


def _wireviz_yaml(part_rows: str, wire_rows: str, title: str) -> str:
    return exports.wireviz_yaml(parts_of(part_rows), wires_of(wire_rows), title=title)


def _firmware_zip(file_rows: str, part_rows: str, name: str, unit: int | None) -> bytes:
    return exports.platformio_zip(files_of(file_rows), parts_of(part_rows), name=name, unit=unit)


async def export_bom(db: Database, identity: Identity, project_id: uuid.UUID, fmt: str,
                     version: int | None = None) -> Export:
    async with db.acting_as(identity) as conn:
        project = await _project(conn, identity, project_id)
        bom = await _require(conn, project_id, "bom", version)
        rows = await _rows(conn, PARTS_SQL, bom)
    text = await off_loop(_bom_csv, fmt, rows)
    return Export(f"{_slug(project.name)}-bom-v{bom.version}-{fmt}.csv", "text/csv; charset=utf-8", text.encode())


async def export_wiring(db: Database, identity: Identity, project_id: uuid.UUID, version: int | None = None,
                        *, svg: bool = False) -> Export:
    async with db.acting_as(identity) as conn:
        project = await _project(conn, identity, project_id)
        wiring = await _require(conn, project_id, "wiring", version)
        wire_rows = await _rows(conn, WIRES_SQL, wiring)
        part_rows = await _rows(conn, PARTS_SQL, await current(conn, project_id, "bom"))
    document = await off_loop(_wireviz_yaml, part_rows, wire_rows, f"{project.name} — wiring v{wiring.version}")
    name = f"{_slug(project.name)}-wiring-v{wiring.version}"
    if not svg:
        return Export(f"{name}.yaml", "application/yaml", document.encode())
    try:
        # Graphviz runs as a subprocess; waiting for it (and parsing) happens in a worker process.
        return Export(f"{name}.svg", "image/svg+xml", (await off_loop(exports.render_wireviz_svg, document)).encode())
    except exports.RendererMissing as exc:
        raise NotAvailable(str(exc)) from None


async def export_firmware(db: Database, identity: Identity, project_id: uuid.UUID, *, unit: int | None = None,
                          version: int | None = None) -> Export:
    async with db.acting_as(identity) as conn:
        project = await _project(conn, identity, project_id)
        code = await _require(conn, project_id, "code", version)
        file_rows = await _rows(conn, FILES_SQL, code)
        part_rows = await _rows(conn, PARTS_SQL, await current(conn, project_id, "bom"))
    try:
        body = await off_loop(_firmware_zip, file_rows, part_rows, project.name, unit)
    except exports.ExportError as exc:
        raise Invalid(str(exc)) from None
    suffix = f"-unit{unit}" if unit else ""
    return Export(f"{_slug(project.name)}-firmware-v{code.version}{suffix}.zip", "application/zip", body)
