"""Admin telemetry: aggregate counts over the admin's tenant (`GET /v1/admin/telemetry`, admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from novamem.http.deps import AdminDep, ContainerDep
from novamem.services.operations.telemetry_models import Telemetry

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])

_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@router.get(
    "/telemetry",
    response_model=Telemetry,
    responses={
        401: {"description": "unauthorized", **_ERROR},
        403: {"description": "admin only, or a restricted token", **_ERROR},
    },
)
async def telemetry(caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Aggregate counts only (no content, no user ids): totals, backlogs, the largest namespaces and projects,
    sensitivity over the last 30 days, tiers, entries created per day, the busiest agents, the last decay and
    each dependency's state. Confined to your own tenant."""
    return (await c.telemetry.snapshot(caller)).to_wire()
