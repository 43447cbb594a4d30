"""Operator routes: lifecycle passes an admin (or the shared caller of `none`/`bearer` modes) may trigger."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from novamem.error_messages import OBSERVER_DISABLED
from novamem.http.deps import ContainerDep, OperatorDep
from novamem.services.operations.operator_models import (
    DecayRequest,
    DecayResponse,
    DreamCycleResponse,
    ObserveRequest,
    ObserveResponse,
    ReapResponse,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["operator"])

_ERROR: dict[str, Any] = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_FORBIDDEN: dict[int | str, dict[str, Any]] = {
    401: {"description": "no credential, or not an operator (a non-admin in the user modes)", **_ERROR},
    403: {"description": "an admin's restricted token", **_ERROR},
}


@router.post("/decay", response_model=None, responses={200: {"model": DecayResponse}, **_FORBIDDEN})
async def decay(caller: OperatorDep, c: ContainerDep, body: DecayRequest | None = None) -> dict[str, Any]:
    """Run a decay pass now: demote memories unused past their lifespan to cold, purge expired ones, and
    report the promotions made since the last pass. `effectiveDays` replaces the configured base."""
    return (await c.operator.decay(caller, body.effective_days if body else None)).to_wire()


@router.post("/reap-orphans", response_model=None, responses={200: {"model": ReapResponse}, **_FORBIDDEN})
async def reap_orphans(caller: OperatorDep, c: ContainerDep) -> dict[str, Any]:
    """Retry parked vector work; vectors live beside their rows here, so there is never any."""
    return (await c.operator.reap_orphans(caller)).to_wire()


@router.post("/dream-cycle", response_model=None, responses={200: {"model": DreamCycleResponse}, **_FORBIDDEN})
async def dream_cycle(caller: OperatorDep, c: ContainerDep) -> dict[str, Any]:
    """Run a dream-cycle pass now: merge near-duplicate memories (up to 5000 walked from a persisted cursor)
    and promote `co_inferred` edges. Fact consolidation needs fact extraction: its counts are 0."""
    return (await c.dream.run(caller)).to_wire()


@router.post(
    "/observe",
    response_model=None,
    responses={
        200: {"model": ObserveResponse},
        503: {
            "description": "observer disabled (no `NOVAMEM_OBSERVER_ENABLED`), or observer model unavailable "
            "(the model is down, slow or answered garbage: the log is unchanged; why in `detail`)",
            **_ERROR,
        },
        **_FORBIDDEN,
    },
)
async def observe(caller: OperatorDep, c: ContainerDep, body: ObserveRequest | None = None) -> JSONResponse:
    """Observe your newest memories (namespace `default`) into your log of dated bullets now; the log is
    condensed by the model once it is longer than `NOVAMEM_OBSERVER_REFLECT_THRESHOLD` bullets."""
    if c.observer is None:
        return JSONResponse({"error": OBSERVER_DISABLED}, status_code=503)
    req = body or ObserveRequest()
    return JSONResponse((await c.observer.observe(caller, req.project, req.limit)).to_wire())
