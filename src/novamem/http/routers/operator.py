"""Operator routes: lifecycle passes an admin (or the shared caller of `none`/`bearer` modes) may trigger."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from novamem.errors import Unavailable
from novamem.http.deps import ContainerDep, OperatorDep
from novamem.services.schemas_selfservice import (
    DecayRequest,
    DecayResponse,
    DreamCycleResponse,
    ObserveRequest,
    ObserveResponse,
    ReapResponse,
)

router = APIRouter(prefix="/v1", tags=["operator"])

_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_FORBIDDEN = {403: {"description": "admin only, or a restricted token", **_ERROR}}


@router.post("/decay", response_model=None, responses={200: {"model": DecayResponse}, **_FORBIDDEN})
async def decay(caller: OperatorDep, c: ContainerDep, body: DecayRequest | None = None) -> dict[str, Any]:
    """Run a decay pass now: purge expired memories and record the run."""
    return await c.operator.decay(body.effective_days if body else None)


@router.post("/reap-orphans", response_model=None, responses={200: {"model": ReapResponse}, **_FORBIDDEN})
async def reap_orphans(caller: OperatorDep, c: ContainerDep) -> dict[str, Any]:
    """Retry parked vector work; vectors live beside their rows here, so there is never any."""
    return await c.operator.reap_orphans()


@router.post(
    "/dream-cycle",
    response_model=None,
    responses={
        200: {"model": DreamCycleResponse, "description": "the contract's result (not returned by this version)"},
        501: {"description": "dream cycle is not available in this version", **_ERROR},
        **_FORBIDDEN,
    },
)
async def dream_cycle(caller: OperatorDep) -> JSONResponse:
    """Daily compaction (dedup-merge, edge promotion): not available in this version."""
    return JSONResponse({"error": "dream cycle is not available in this version"}, status_code=501)


@router.post(
    "/observe",
    response_model=None,
    responses={
        200: {"model": ObserveResponse, "description": "the contract's result (not returned by this version)"},
        **_FORBIDDEN,
    },
)
async def observe(caller: OperatorDep, body: ObserveRequest | None = None) -> None:
    """Run the observer over recent memories: the observer is disabled in this version (503)."""
    raise Unavailable("observer disabled")
