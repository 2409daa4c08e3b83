from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request

from ohm import __version__
from ohm.auth import Identity
from ohm.models import Health, ReplicaHealth

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness and database check")
async def healthz(request: Request) -> Health:
    """Runs one query as ``anon`` through the application role: if this
    answers, connections, role switching and the schema are in place."""
    db = request.app.state.db
    async with db.acting_as(Identity.anon()) as conn:
        cur = await conn.execute("select current_user as role")
        row = await cur.fetchone()
    report = request.app.state.target.migration_report
    names = (report.applied + report.already_applied) if report else []
    replicas = db.replicas
    return Health(
        status="ok",
        version=__version__,
        database=f"ok ({row['role']})",
        schema_version=max(names) if names else None,
        embedded=request.app.state.target.embedded is not None,
        replicas=[ReplicaHealth.model_validate(dataclasses.asdict(r)) for r in replicas.report()] if replicas else [],
        reads_on_primary=replicas.reads_on_primary if replicas else None,
    )
