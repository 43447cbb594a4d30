"""Probes: liveness, readiness and health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from novamem.http.deps import ContainerDep
from novamem.services.memory.models import Probe

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/live", response_model=Probe)
async def live() -> dict[str, Any]:
    """The process is up (no dependency checks)."""
    return Probe(ok=True).to_wire()


async def _ready(c: ContainerDep) -> JSONResponse:
    ok = await c.health.ready()
    return JSONResponse(Probe(ok=ok).to_wire(), status_code=200 if ok else 503)


@router.get("/ready", response_model=None, responses={200: {"model": Probe}, 503: {"model": Probe}})
async def ready(c: ContainerDep) -> JSONResponse:
    """The warm tier (PostgreSQL) and the cold tier (its vector index) each answer within five seconds."""
    return await _ready(c)


@router.get("/health", response_model=None, responses={200: {"model": Probe}, 503: {"model": Probe}})
async def health(c: ContainerDep) -> JSONResponse:
    """Same as /ready: a boolean only, no dependency detail for anonymous callers."""
    return await _ready(c)


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    """No icon: an empty answer keeps browsers from logging a 404."""
    return Response(status_code=204)
