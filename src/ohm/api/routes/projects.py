"""/v1/projects and /v1/parts: hardware projects, their BOM / wiring / code views, checks and exports."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response, status

from ohm.api.deps import AnyIdentity, Db, SignedIn
from ohm.api.responses import json_response
from ohm.models import (
    BomView,
    Checks,
    CodeView,
    Page,
    PartHit,
    Project,
    ProjectCreate,
    ProjectDetail,
    ProjectStatus,
    ProjectUpdate,
    WiringView,
)
from ohm.store import hardware
from ohm.store import projects as store

router = APIRouter(prefix="/v1", tags=["projects"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project (or version), or not yours to see."}}
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="An older version (default: current).")]


def download(export: hardware.Export) -> Response:
    return Response(export.body, media_type=export.media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{export.filename}\"; filename*=UTF-8''{quote(export.filename)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"})


@router.post("/projects", status_code=status.HTTP_201_CREATED, response_model=Project, responses={422: {}})
async def create_project(body: ProjectCreate, db: Db, identity: SignedIn) -> Response:
    """A hardware project: goal, location, budget, requirements, workflow steps, success metrics."""
    project = await store.create_project(db, identity, body)
    return Response(project.model_dump_json(), 201, media_type="application/json",
                    headers={"Location": f"/v1/projects/{project.id}"})


@router.get("/projects", response_model=Page[Project])
async def list_projects(
    db: Db, identity: AnyIdentity, limit: Annotated[int, Query(ge=1, le=store.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None, status: ProjectStatus | None = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Service role only: whose projects.")] = None,
) -> Response:
    """Your projects, most recently changed first (keyset pagination)."""
    return json_response(await store.list_projects(db, identity, limit=limit, cursor=cursor, status=status,
                                                   user_id=user_id))


@router.get("/projects/{project_id}", response_model=ProjectDetail, responses=NOT_FOUND)
async def get_project(project_id: uuid.UUID, db: Db, identity: AnyIdentity) -> Response:
    """The project with its chats, current BOM summary (lines, total vs budget), latest verification and
    check status."""
    return json_response(await store.get_project(db, identity, project_id))


@router.patch("/projects/{project_id}", response_model=Project, responses={**NOT_FOUND, 422: {}})
async def update_project(project_id: uuid.UUID, body: ProjectUpdate, db: Db, identity: SignedIn) -> Response:
    """Change the fields present; `null` clears a nullable one."""
    return json_response(await store.update_project(db, identity, project_id, body))


@router.delete("/projects/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_project(project_id: uuid.UUID, db: Db, identity: SignedIn) -> Response:
    """Delete the project. Its chats, artifacts and uploads stay, no longer in a project."""
    await store.delete_project(db, identity, project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/projects/{project_id}/bom", response_model=BomView, responses=NOT_FOUND)
async def get_bom(project_id: uuid.UUID, db: Db, identity: AnyIdentity, version: Version = None) -> Response:
    """The current BOM: parts, quantities, unit and line prices, totals, suppliers, alternatives, warnings."""
    return Response(await hardware.bom_view(db, identity, project_id, version), media_type="application/json")


@router.get("/projects/{project_id}/wiring", response_model=WiringView, responses=NOT_FOUND)
async def get_wiring(project_id: uuid.UUID, db: Db, identity: AnyIdentity, version: Version = None) -> Response:
    """Pin-to-pin connections in step order, resolved against the current BOM, with their findings."""
    return Response(await hardware.wiring_view(db, identity, project_id, version), media_type="application/json")


@router.get("/projects/{project_id}/code", response_model=CodeView, responses=NOT_FOUND)
async def get_code(project_id: uuid.UUID, db: Db, identity: AnyIdentity, version: Version = None) -> Response:
    """Firmware files grouped by success unit."""
    return Response(await hardware.code_view(db, identity, project_id, version), media_type="application/json")


@router.get("/projects/{project_id}/checks", response_model=Checks, responses=NOT_FOUND)
async def get_checks(project_id: uuid.UUID, db: Db, identity: AnyIdentity) -> Response:
    """Electrical and maker checks of the current BOM, wiring and code (stored per version combination)."""
    return Response(await hardware.get_checks(db, identity, project_id), media_type="application/json")


@router.get("/projects/{project_id}/bom.csv", response_class=Response, responses={
    200: {"content": {"text/csv": {}}, "description": "The BOM as CSV."}, **NOT_FOUND})
async def bom_csv(project_id: uuid.UUID, db: Db, identity: AnyIdentity, version: Version = None,
                  format: Literal["jlcpcb", "generic"] = "generic") -> Response:  # noqa: A002
    """`jlcpcb`: Comment, Designator, Footprint, LCSC Part # (JLCPCB assembly). `generic`: every column with
    prices, suppliers and totals."""
    return download(await hardware.export_bom(db, identity, project_id, format, version))


@router.get("/projects/{project_id}/wiring.yaml", response_class=Response, responses={
    200: {"content": {"application/yaml": {}}, "description": "A WireViz harness document."}, **NOT_FOUND})
async def wiring_yaml(project_id: uuid.UUID, db: Db, identity: AnyIdentity, version: Version = None) -> Response:
    """The wiring as a WireViz harness (render it with `wireviz file.yaml`)."""
    return download(await hardware.export_wiring(db, identity, project_id, version))


@router.get("/projects/{project_id}/wiring.svg", response_class=Response, responses={
    200: {"content": {"image/svg+xml": {}}, "description": "The WireViz diagram."},
    501: {"description": "This server has no wireviz / Graphviz."}, **NOT_FOUND})
async def wiring_svg(project_id: uuid.UUID, db: Db, identity: AnyIdentity, version: Version = None) -> Response:
    """The wiring diagram rendered by WireViz (needs the wireviz extra and Graphviz on the server)."""
    return download(await hardware.export_wiring(db, identity, project_id, version, svg=True))


@router.get("/projects/{project_id}/firmware.zip", response_class=Response, responses={
    200: {"content": {"application/zip": {}}, "description": "A PlatformIO project."}, **NOT_FOUND})
async def firmware_zip(
    project_id: uuid.UUID, db: Db, identity: AnyIdentity, version: Version = None,
    unit: Annotated[int | None, Query(ge=1, le=3, description="Success unit (default: the highest).")] = None,
) -> Response:
    """A PlatformIO project (platformio.ini with platform, board, framework, lib_deps; src/) with the files of
    success units up to `unit`."""
    return download(await hardware.export_firmware(db, identity, project_id, unit=unit, version=version))


@router.get("/parts", response_model=list[PartHit], tags=["projects"])
async def search_parts(
    db: Db, identity: AnyIdentity,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="Name, MPN or manufacturer.")] = None,
    voltage: Annotated[float | None, Query(ge=-1000, le=1000, description="Parts whose supply range holds it.")]
    = None,
    project_id: uuid.UUID | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """Parts in the current BOMs of your projects and chats: "which projects use a BME280?" (`q=BME280`),
    "all 5 V parts" (`voltage=5`)."""
    hits = await hardware.search_parts(db, identity, q=q, voltage=voltage, project_id=project_id, limit=limit)
    return Response(b"[" + b",".join(h.model_dump_json().encode() for h in hits) + b"]",
                    media_type="application/json")
