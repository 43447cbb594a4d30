"""Admin operations routes: metrics (JSON and Prometheus), deep health, and the read-only inventory
and job status that the admin MCP tools also expose (`/v1/admin/*`, admins only, own tenant only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from novamem.http.deps import AdminDep, ContainerDep, QuietAdminDep
from novamem.services.operations.models import (
    AdminProjectList,
    AdminStats,
    AdminTokenList,
    HealthDeep,
    MetricsSnapshot,
    OpsStatus,
)

__all__ = ["PROMETHEUS_CONTENT_TYPE", "router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "unauthorized", **_ERROR},
    403: {"description": "admin only, or a restricted token", **_ERROR},
}


@router.get("/metrics", response_model=MetricsSnapshot, responses=_REFUSALS)
async def metrics(caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Counters summed over every replica, gauges read now, per-second rates of the last minute.

    A tenant's admin sees their own tenant's numbers; a server admin (`tenant` mode) the deployment's.
    """
    return (await c.metrics.snapshot(caller)).to_wire()


@router.get(
    "/metrics/prom",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format 0.0.4"}, **_REFUSALS},
)
async def metrics_prom(caller: AdminDep, c: ContainerDep) -> PlainTextResponse:
    """The same snapshot as Prometheus text (`NaN` when a gauge is unknown), plus process metrics."""
    return PlainTextResponse(await c.metrics.prometheus(caller), media_type=PROMETHEUS_CONTENT_TYPE)


@router.get("/stats", response_model=AdminStats, responses=_REFUSALS)
async def stats(caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """The metrics snapshot plus the answering replica's own numbers (pid, memory, replica id)."""
    return (await c.metrics.stats(caller)).to_wire()


@router.get(
    "/health/deep",
    response_model=None,
    responses={
        200: {"model": HealthDeep},
        503: {"model": HealthDeep, "description": "warm or cold tier down"},
        **_REFUSALS,
    },
)
async def health_deep(caller: QuietAdminDep, c: ContainerDep) -> JSONResponse:
    """Each dependency's state and the embedding backlog; 503 when the warm or cold tier is down."""
    report = await c.health.deep(caller)
    return JSONResponse(report.to_wire(), status_code=200 if report.ok else 503)


@router.get("/projects", response_model=AdminProjectList, responses=_REFUSALS)
async def list_projects(caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Every project of your tenant with its owner, member and entry counts, newest first."""
    return (await c.admin.list_projects(caller)).to_wire()


@router.get("/tokens", response_model=AdminTokenList, responses=_REFUSALS)
async def list_tokens(caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Metadata of every API token in your tenant (never the token or its hash), newest first."""
    return (await c.admin.list_tokens(caller)).to_wire()


@router.get("/ops-status", response_model=OpsStatus, responses=_REFUSALS)
async def ops_status(caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """The last successful run of each periodic job; null until a job has completed once."""
    return (await c.admin.ops_status(caller)).to_wire()
